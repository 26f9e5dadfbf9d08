use super::*;
use crate::error::AuthErrorKind;
use crate::random::SeededRandom;
use std::time::SystemTime;

fn config() -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder("https://ehr.example/fhir")
            .client_id("my-app")
            .redirect_uri("https://app.example/cb")
            .scopes(["launch/patient", "patient/*.rs", "openid", "fhirUser"])
            .authorization_endpoint("https://ehr.example/authorize?tenant=7")
            .build()
            .unwrap(),
    )
}

fn start(flow: AuthorizeFlow, seed: u64) -> AuthorizationRequest {
    let mut random = SeededRandom::new(seed);
    let mut flow = flow;
    match flow
        .start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random))
        .unwrap()
    {
        Step::Done(request) => request,
        Step::Send(_) => panic!("no discovery expected"),
    }
}

fn query(url: &Url) -> std::collections::HashMap<String, String> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[test]
fn get_request_has_every_parameter() {
    let request = start(AuthorizeFlow::new(config(), AuthorizeParams::default()), 1);
    let q = query(&request.url);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "my-app");
    assert_eq!(q["redirect_uri"], "https://app.example/cb");
    assert_eq!(q["scope"], "launch/patient patient/*.rs openid fhirUser");
    assert_eq!(q["aud"], "https://ehr.example/fhir");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["tenant"], "7", "existing endpoint query is kept");
    assert_eq!(q["state"], request.pending.state());
    assert_eq!(q["state"].len(), 32);
    assert_eq!(
        q["code_challenge"],
        crate::pkce::s256_challenge(request.pending.code_verifier().expose())
    );
    assert!(!q.contains_key("launch"));
}

#[test]
fn ehr_launch_and_post() {
    let flow = AuthorizeFlow::new(config(), AuthorizeParams::ehr_launch("L-1").post());
    let mut flow = flow;
    flow.provide_metadata(Arc::new(SmartMetadata::from_json_object(
        serde_json::json!({"capabilities": ["authorize-post"]})
            .as_object()
            .unwrap()
            .clone(),
    )));
    let request = start(flow, 2);
    assert_eq!(request.method, AuthorizationMethod::Post);
    assert_eq!(request.url.query(), Some("tenant=7"));
    assert!(request.params().contains(&("launch".into(), "L-1".into())));
    let html = request.auto_submit_html();
    assert!(html.contains("name=\"launch\" value=\"L-1\""));
}

#[test]
fn extra_parameters() {
    let request = start(
        AuthorizeFlow::new(
            config(),
            AuthorizeParams::default().param("prompt", "consent"),
        ),
        3,
    );
    assert_eq!(query(&request.url)["prompt"], "consent");
    let mut flow = AuthorizeFlow::new(config(), AuthorizeParams::default().param("state", "x"));
    let mut random = SeededRandom::new(1);
    assert!(
        flow.start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random))
            .is_err()
    );
}

#[test]
fn post_refused_when_not_advertised() {
    let mut flow = AuthorizeFlow::new(config(), AuthorizeParams::default().post());
    flow.provide_metadata(Arc::new(SmartMetadata::from_json_object(
        serde_json::json!({"capabilities": ["launch-standalone"]})
            .as_object()
            .unwrap()
            .clone(),
    )));
    let mut random = SeededRandom::new(1);
    let err = flow
        .start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random))
        .unwrap_err();
    assert!(err.to_string().contains("authorize-post"), "{err}");
}

#[test]
fn missing_configuration_is_listed_at_once() {
    let config = Arc::new(
        ClientConfig::builder("https://ehr.example/fhir")
            .build()
            .unwrap(),
    );
    let mut flow = AuthorizeFlow::new(config, AuthorizeParams::default());
    let mut random = SeededRandom::new(1);
    let err = flow
        .start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Configuration missing: client_id, scopes, redirect_uri"
    );
}

#[test]
fn discovery_first_when_endpoint_unknown() {
    let config = Arc::new(
        ClientConfig::builder("https://ehr.example/fhir")
            .client_id("a")
            .redirect_uri("https://app.example/cb")
            .scopes(["openid"])
            .build()
            .unwrap(),
    );
    let mut flow = crate::flow::Driver::new(
        AuthorizeFlow::new(config, AuthorizeParams::default()),
        crate::flow::Limits::default(),
    );
    let mut random = SeededRandom::new(1);
    let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
    let Step::Send(request) = flow.start(&mut env).unwrap() else {
        panic!()
    };
    assert_eq!(
        request.uri(),
        "https://ehr.example/fhir/.well-known/smart-configuration"
    );
    let body = br#"{"authorization_endpoint":"http://ehr.example/auth","token_endpoint":"https://ehr.example/token"}"#;
    let response = http::Response::builder()
        .status(200)
        .body(body.to_vec())
        .unwrap();
    let err = flow.on_response(response, &mut env).unwrap_err();
    crate::discovery::assert_advertised_http_refused(
        &err,
        "authorization_endpoint",
        "http://ehr.example/auth",
    );
}

fn pending() -> PendingAuthorization {
    start(AuthorizeFlow::new(config(), AuthorizeParams::default()), 5).pending
}

#[test]
fn callback_happy_path_and_iss() {
    let p = pending();
    let cb = format!(
        "https://app.example/cb?code=abc&state={}&iss=https%3A%2F%2Fehr.example%2Ffhir",
        p.state()
    );
    let code = p.complete(&cb).unwrap();
    assert_eq!(code.code.expose(), "abc");
    assert_eq!(code.code_verifier, *p.code_verifier());
    let bare = format!("code=abc&state={}", p.state());
    assert!(p.complete(&bare).is_ok());
}

#[test]
fn callback_rejections() {
    let p = pending();
    let wrong_state = p.complete("?code=abc&state=0123").unwrap_err();
    assert_eq!(wrong_state.kind, AuthErrorKind::StateMismatch);
    assert_eq!(
        p.complete("?code=abc").unwrap_err().kind,
        AuthErrorKind::MissingState
    );
    // No authorization server issuer is known here (none configured, none discovered): an
    // `iss` cannot be checked, so it is accepted with a finding (issue 11.7).
    let unverified = p
        .complete(&format!(
            "?code=abc&state={}&iss=https://evil.example",
            p.state()
        ))
        .unwrap();
    assert!(
        unverified.findings[0].message.contains("was not verified"),
        "{:?}",
        unverified.findings
    );
    let denied = p
        .complete(&format!(
            "?error=access_denied&error_description=User+said+no&state={}",
            p.state()
        ))
        .unwrap_err();
    assert_eq!(denied.kind, AuthErrorKind::Denied);
    assert_eq!(
        denied.to_string(),
        "Authorization request failed — access_denied — User said no"
    );
    let no_code = p.complete(&format!("?state={}", p.state())).unwrap_err();
    assert_eq!(no_code.kind, AuthErrorKind::MissingCode);
    let repeated = p
        .complete(&format!("?state={0}&state={0}&code=a", p.state()))
        .unwrap_err();
    assert_eq!(repeated.kind, AuthErrorKind::MalformedUrl);
}

#[test]
fn pending_round_trips_and_redacts() {
    let p = pending();
    let json = serde_json::to_string(&p).unwrap();
    let back: PendingAuthorization = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    let debug = format!("{p:?}");
    assert!(!debug.contains(p.code_verifier().expose()));
    assert!(!debug.contains(p.state()));
}

#[test]
fn bare_queries_with_urls_in_values_are_queries() {
    let p = pending();
    let bare = format!("iss=https://ehr.example/fhir&code=abc&state={}", p.state());
    assert!(p.complete(&bare).is_ok());
    let launch = EhrLaunch::from_url(
        "iss=https://ehr.example/fhir&launch=abc",
        &["https://ehr.example/fhir"],
    )
    .unwrap();
    assert_eq!(launch.launch, "abc");
    let upper = format!("HTTPS://app.example/cb?code=abc&state={}", p.state());
    assert!(p.complete(&upper).is_ok());
}

#[test]
fn configured_server_issuer_is_what_iss_must_name() {
    let config = Arc::new(
        ClientConfig::builder("https://ehr.example/fhir")
            .client_id("my-app")
            .redirect_uri("https://app.example/cb")
            .scopes(["openid"])
            .authorization_endpoint("https://auth.ehr.example/authorize")
            .authorization_server_issuer("https://auth.ehr.example")
            .build()
            .unwrap(),
    );
    let p = start(AuthorizeFlow::new(config, AuthorizeParams::default()), 8).pending;
    assert_eq!(p.aud(), "https://ehr.example/fhir");
    assert_eq!(p.client_id(), "my-app");
    let ok = format!(
        "?code=c&state={}&iss=https%3A%2F%2Fauth.ehr.example",
        p.state()
    );
    assert!(p.complete(&ok).is_ok());
    let other = format!(
        "?code=c&state={}&iss=https%3A%2F%2Fother.example",
        p.state()
    );
    assert_eq!(
        p.complete(&other).unwrap_err().kind,
        AuthErrorKind::IssuerMismatch
    );
}

#[test]
fn staleness() {
    let p = pending();
    let minute = std::time::Duration::from_secs(60);
    assert!(!p.is_older_than(SystemTime::UNIX_EPOCH + minute, 10 * minute));
    assert!(p.is_older_than(SystemTime::UNIX_EPOCH + 11 * minute, 10 * minute));
}

#[test]
fn ehr_launch_allow_list() {
    let ok = EhrLaunch::from_url(
        "https://app.example/launch?launch=abc&iss=https://ehr.example/fhir/",
        &["https://ehr.example/fhir"],
    )
    .unwrap();
    assert_eq!(ok.launch, "abc");
    let err = EhrLaunch::from_url(
        "?launch=abc&iss=https://evil.example",
        &["https://ehr.example/fhir"],
    )
    .unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::LaunchIssuerNotAllowed);
    let err = EhrLaunch::from_url("?launch=abc", &["https://ehr.example/fhir"]).unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::MalformedLaunch);
    let empty = EhrLaunch::from_url(
        "?launch=&iss=https://ehr.example/fhir",
        &["https://ehr.example/fhir"],
    );
    assert_eq!(empty.unwrap_err().kind, AuthErrorKind::MalformedLaunch);
}

fn config_with(
    edit: impl FnOnce(crate::config::ClientConfigBuilder) -> crate::config::ClientConfigBuilder,
) -> Arc<ClientConfig> {
    Arc::new(
        edit(
            ClientConfig::builder("https://ehr.example/fhir")
                .client_id("my-app")
                .redirect_uri("https://app.example/cb")
                .scopes(["openid"])
                .authorization_endpoint("https://ehr.example/authorize"),
        )
        .build()
        .unwrap(),
    )
}

#[test]
fn iss_is_compared_exactly_against_authorization_server_issuers_only() {
    let p = start(
        AuthorizeFlow::new(
            config_with(|b| b.authorization_server_issuer("https://auth.example/")),
            AuthorizeParams::default(),
        ),
        11,
    )
    .pending;
    let with_iss = |iss: &str| {
        format!(
            "?code=c&state={}&iss={}",
            p.state(),
            url::form_urlencoded::byte_serialize(iss.as_bytes()).collect::<String>()
        )
    };
    assert!(p.complete(&with_iss("https://auth.example/")).is_ok());
    // No trailing-slash folding, and the FHIR base is not an authorization server issuer.
    for other in ["https://auth.example", "https://ehr.example/fhir"] {
        assert_eq!(
            p.complete(&with_iss(other)).unwrap_err().kind,
            AuthErrorKind::IssuerMismatch,
            "{other}"
        );
    }
}

#[test]
fn an_unverifiable_iss_is_refused_when_strict_and_names_the_setting() {
    let p = start(
        AuthorizeFlow::new(
            config_with(|b| b.strict_issuer_check(true)),
            AuthorizeParams::default(),
        ),
        12,
    )
    .pending;
    let err = p
        .complete(&format!(
            "?code=c&state={}&iss=https%3A%2F%2Fas.example",
            p.state()
        ))
        .unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::IssuerUnknown);
    assert!(
        err.to_string().contains("authorization_server_issuer"),
        "{err}"
    );
    assert_eq!(
        crate::Error::from(err).source_of_fault(),
        crate::ErrorSource::Caller,
        "no issuer configured is the app's setting, not the server's fault"
    );
    // Without iss, a non-strict check has nothing to verify.
    assert!(p.complete(&format!("?code=c&state={}", p.state())).is_ok());
}

#[test]
fn a_declared_iss_must_be_present() {
    let p = start(
        AuthorizeFlow::new(
            config_with(|b| {
                b.authorization_server_issuer("https://ehr.example")
                    .server_sends_iss(true)
            }),
            AuthorizeParams::default(),
        ),
        13,
    )
    .pending;
    let err = p
        .complete(&format!("?code=c&state={}", p.state()))
        .unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::IssuerMismatch);
}

#[test]
fn an_error_redirect_without_state_reports_the_servers_error() {
    let p = pending();
    let err = p
        .complete("?error=invalid_scope&error_description=Bad+scope")
        .unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::Denied);
    assert_eq!(err.oauth.error_code.as_deref(), Some("invalid_scope"));
    let text = err.to_string();
    assert!(
        text.contains("invalid_scope") && text.contains("Bad scope"),
        "{text}"
    );
    assert!(text.contains("no 'state'"), "{text}");
}

#[test]
fn a_configured_query_is_kept_and_no_parameter_is_sent_twice() {
    let config = config_with(|b| {
        b.authorization_endpoint("https://ehr.example/authorize?tenant=7&scope=junk&aud=x")
    });
    let request = start(AuthorizeFlow::new(config, AuthorizeParams::default()), 14);
    let pairs: Vec<(String, String)> = request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    for name in ["tenant", "scope", "aud", "state", "client_id"] {
        assert_eq!(
            pairs.iter().filter(|(k, _)| k == name).count(),
            1,
            "{name} in {pairs:?}"
        );
    }
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).unwrap().1.clone();
    assert_eq!(get("tenant"), "7");
    assert_eq!(get("scope"), "openid");
    assert_eq!(get("aud"), "https://ehr.example/fhir");
}

#[test]
fn post_with_a_declared_capability_needs_no_discovery() {
    let flow = AuthorizeFlow::new(
        config_with(|b| b.authorize_post_supported(true)),
        AuthorizeParams::default().post(),
    );
    assert!(!crate::flow::needs_discovery(&flow));
    let request = start(flow, 15);
    assert_eq!(request.method, AuthorizationMethod::Post);
}

#[test]
fn ehr_launch_accepts_full_urls_paths_with_queries_and_bare_queries() {
    let allowed = ["https://ehr.example/fhir"];
    for url in [
        "https://app.example/launch?iss=https%3A%2F%2Fehr.example%2Ffhir&launch=L1",
        "/launch?iss=https%3A%2F%2Fehr.example%2Ffhir&launch=L1",
        "/launch?iss=https://ehr.example/fhir&launch=L1#fragment",
        "launch?iss=https://ehr.example/fhir&launch=L1",
        "?iss=https://ehr.example/fhir&launch=L1",
        "iss=https://ehr.example/fhir&launch=L1",
        // A bare query whose value holds a '?' is still a bare query.
        "launch=L1&iss=https://ehr.example/fhir&note=a?b",
    ] {
        let launch = EhrLaunch::from_url(url, &allowed).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(launch.iss, "https://ehr.example/fhir", "{url}");
        assert_eq!(launch.launch, "L1", "{url}");
    }
    // A path plus query from another server is refused, not misread.
    let err = EhrLaunch::from_url("/launch?iss=https://evil.example/fhir&launch=L1", &allowed)
        .unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::LaunchIssuerNotAllowed);
}

#[test]
fn an_ehr_launch_from_another_server_is_refused_by_the_client_operation() {
    let config = config_with(|b| b.launch_issuer("https://ehr-alias.example/r4"));
    let flows = crate::FlowFactory::new(config);
    let err = match flows.ehr_launch(
        "/launch?iss=https://other.example/fhir&launch=L1",
        AuthorizeParams::default(),
    ) {
        Err(crate::Error::Authorization(err)) => err,
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    };
    assert_eq!(err.kind, AuthErrorKind::LaunchIssuerNotAllowed);
    let text = err.to_string();
    assert!(text.contains("https://other.example/fhir"), "{text}");
    assert!(text.contains("https://ehr.example/fhir"), "{text}");
    assert!(text.contains("launch_issuer"), "{text}");

    // The client's base and a declared launch issuer are accepted; the launch value is sent.
    for iss in ["https://ehr.example/fhir", "https://ehr-alias.example/r4"] {
        let mut flow = flows
            .ehr_launch(
                &format!("https://app.example/launch?launch=L-42&iss={iss}"),
                AuthorizeParams::ehr_launch("ignored"),
            )
            .unwrap();
        let mut random = crate::random::SeededRandom::new(3);
        let Step::Done(request) = flow
            .start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random))
            .unwrap()
        else {
            panic!("the authorization flow sends nothing");
        };
        let url = request.url;
        let launch: Vec<_> = url.query_pairs().filter(|(k, _)| k == "launch").collect();
        assert_eq!(launch.len(), 1, "{url}");
        assert_eq!(launch[0].1, "L-42");
    }
}
