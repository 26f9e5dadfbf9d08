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
    assert!(request.params.contains(&("launch".into(), "L-1".into())));
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
    assert!(
        err.to_string()
            .contains("requires HTTPS for: authorization_endpoint"),
        "{err}"
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
    let mixup = p
        .complete(&format!(
            "?code=abc&state={}&iss=https://evil.example",
            p.state()
        ))
        .unwrap_err();
    assert_eq!(mixup.kind, AuthErrorKind::IssuerMismatch);
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
