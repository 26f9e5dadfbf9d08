use super::*;
use crate::config::ClientConfig;
use crate::discovery::DiscoveryFlow;
use crate::error::{NetworkError, NetworkErrorKind};
use crate::random::SeededRandom;
use crate::requests::Operation;
use crate::token::TokenFlow;

#[test]
fn only_https_or_opted_in_loopback_http_leaves() {
    let req = |url: &str| http::Request::get(url).body(Vec::new()).unwrap();
    assert!(check_transport_security(&req("https://ehr.example/x"), false).is_ok());
    assert!(check_transport_security(&req("http://ehr.example/x"), true).is_err());
    assert!(check_transport_security(&req("http://127.0.0.1:8080/x"), false).is_err());
    assert!(check_transport_security(&req("http://127.0.0.1:8080/x"), true).is_ok());
    assert!(check_transport_security(&req("http://[::1]/x"), true).is_ok());
    assert!(check_transport_security(&req("/relative"), true).is_err());
    // The loopback fast path accepts only what the full check accepts.
    assert!(check_transport_security(&req("http://LocalHost:1/x"), true).is_ok());
    assert!(check_transport_security(&req("http://127.9.9.9/x"), true).is_ok());
    assert!(check_transport_security(&req("http://127.1/x"), true).is_ok());
    assert!(check_transport_security(&req("http://[::1]:80/x"), false).is_err());
    assert!(check_transport_security(&req("http://user:pw@127.0.0.1/x"), true).is_err());
    assert!(check_transport_security(&req("http://127.0.0.1.evil.example/x"), true).is_err());
    assert!(check_transport_security(&req("http://[::2]/x"), true).is_err());
    assert!(check_transport_security(&req("ftp://127.0.0.1/x"), true).is_err());
    assert!(check_transport_security(&req("http://[::1]:8080/x"), true).is_ok());
    assert!(check_transport_security(&req("http://localhost:8080/x"), true).is_ok());
    assert!(check_transport_security(&req("http://127.0.0.1:8080@evil.example/x"), true).is_err());
    assert!(check_transport_security(&req("https://user@ehr.example:8443/x"), false).is_ok());
}

/// The fast path's host is what `http`'s own `Authority::host` gives for authorities without
/// user info (which the fast path never reads).
#[test]
fn host_of_matches_http_authority_host() {
    for authority in [
        "127.0.0.1",
        "127.0.0.1:8080",
        "localhost",
        "LocalHost:1",
        "[::1]",
        "[::1]:80",
        "ehr.example:443",
        "127.0.0.1.evil.example",
    ] {
        let parsed: http::uri::Authority = authority.parse().unwrap();
        assert_eq!(
            super::driver::host_of(authority),
            Some(parsed.host()),
            "{authority}"
        );
    }
}

#[test]
fn step_debug_never_shows_the_body_or_query() {
    let mut request = http::Request::post("https://ehr.example/token?x=query-canary")
        .body(b"refresh_token=body-canary".to_vec())
        .unwrap();
    request.extensions_mut().insert(Operation::Token);
    let text = format!("{:?}", Step::<()>::Send(request));
    assert!(!text.contains("canary"), "{text}");
    assert!(text.contains("https://ehr.example/token"), "{text}");
    assert!(text.contains("body_bytes: 25"), "{text}");
}

/// A public client of `https://ehr.example/fhir` with nothing but its id configured.
fn public_client() -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder("https://ehr.example/fhir")
            .client_id("a")
            .build()
            .unwrap(),
    )
}

fn json(status: u16, body: &str) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

#[test]
fn the_driver_discovers_once_then_starts_the_flow() {
    let config = public_client();
    let mut driver = Driver::new(TokenFlow::refresh(config, "rt"), Limits::default());
    assert!(driver.will_discover());
    let mut random = SeededRandom::new(1);
    let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
    let Step::Send(discovery) = driver.start(&mut env).unwrap() else {
        panic!("discovery expected")
    };
    assert_eq!(
        discovery.extensions().get::<Operation>(),
        Some(&Operation::Discovery)
    );
    let Step::Send(token) = driver
        .on_response(
            json(200, r#"{"token_endpoint":"https://ehr.example/t"}"#),
            &mut env,
        )
        .unwrap()
    else {
        panic!("token request expected")
    };
    assert_eq!(token.uri(), "https://ehr.example/t");
    assert!(driver.discovered_metadata().is_some());
}

#[test]
fn supplied_metadata_means_no_discovery() {
    let config = public_client();
    let metadata = Arc::new(SmartMetadata::from_json_object(
        serde_json::json!({"token_endpoint": "https://ehr.example/t"})
            .as_object()
            .unwrap()
            .clone(),
    ));
    let mut driver = Driver::new(TokenFlow::refresh(config, "rt"), Limits::default())
        .with_metadata(Some(metadata));
    assert!(!driver.will_discover());
    let mut random = SeededRandom::new(1);
    let Step::Send(token) = driver
        .start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(token.uri(), "https://ehr.example/t");
    assert!(driver.discovered_metadata().is_none());
}

#[test]
fn discovered_endpoints_are_checked_and_a_missing_one_is_named() {
    let config = public_client();
    let mut random = SeededRandom::new(1);
    let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
    let mut driver = Driver::new(TokenFlow::refresh(config.clone(), "rt"), Limits::default());
    let _ = driver.start(&mut env).unwrap();
    let err = driver
        .on_response(
            json(200, r#"{"token_endpoint":"http://ehr.example/t"}"#),
            &mut env,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the server advertises token_endpoint http://ehr.example/t"),
        "{err}"
    );
    assert_eq!(err.source_of_fault(), crate::ErrorSource::Server);
    let mut driver = Driver::new(TokenFlow::refresh(config, "rt"), Limits::default());
    let _ = driver.start(&mut env).unwrap();
    let err = driver.on_response(json(200, "{}"), &mut env).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("response missing required field 'token_endpoint'"),
        "{err}"
    );
}

#[test]
fn the_call_contract_is_enforced() {
    let config = ClientConfig::builder("https://ehr.example/fhir")
        .build()
        .unwrap();
    let mut random = SeededRandom::new(1);
    let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
    let mut driver = Driver::new(DiscoveryFlow::new(&config), Limits::default());
    let early = driver.on_response(json(200, "{}"), &mut env);
    assert!(
        matches!(early, Err(Error::Usage(m)) if m.contains("before Driver::start")),
        "{early:?}"
    );
    let _ = driver.start(&mut env).unwrap();
    assert!(matches!(driver.start(&mut env), Err(Error::Usage(_))));
    let Step::Done(_) = driver.on_response(json(200, "{}"), &mut env).unwrap() else {
        panic!("discovery finishes on its response")
    };
    // A repeated response is refused, never parsed a second time.
    let again = driver.on_response(json(200, "{}"), &mut env);
    assert!(matches!(again, Err(Error::Usage(_))), "{again:?}");
    // An error finishes the driver too.
    let mut driver = Driver::new(DiscoveryFlow::new(&config), Limits::default());
    let _ = driver.start(&mut env).unwrap();
    assert!(driver.on_response(json(500, ""), &mut env).is_err());
    assert!(matches!(
        driver.on_response(json(200, "{}"), &mut env),
        Err(Error::Usage(_))
    ));
}

#[test]
fn run_blocking_accepts_a_foreign_error_and_keeps_it_as_source() {
    #[derive(Debug)]
    struct Refused;
    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("refused by test")
        }
    }
    impl std::error::Error for Refused {}
    let config = ClientConfig::builder("https://ehr.example/fhir")
        .build()
        .unwrap();
    let err = run_blocking(
        DiscoveryFlow::new(&config),
        &Limits::default(),
        &mut SeededRandom::new(1),
        || SystemTime::UNIX_EPOCH,
        |_| Err(NetworkError::other(NetworkErrorKind::Connect, Refused)),
    )
    .unwrap_err();
    // `Error::Network` is transparent: its source is the transport's own error.
    let source = std::error::Error::source(&err).expect("the foreign error is kept");
    assert_eq!(source.to_string(), "refused by test");
    assert_eq!(err.to_string(), "HTTP request failed: refused by test");
}

#[test]
fn userinfo_is_refused_in_configured_and_discovered_endpoints_without_printing_it() {
    let err = ClientConfig::builder("https://ehr.example/fhir")
        .token_endpoint("https://user:configured-canary@ehr.example/token")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("token_endpoint"), "{err}");
    assert!(!format!("{err} {err:?}").contains("configured-canary"));

    let config = public_client();
    let mut random = SeededRandom::new(1);
    let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
    let mut driver = Driver::new(TokenFlow::refresh(config, "rt"), Limits::default());
    let _ = driver.start(&mut env).unwrap();
    let err = driver
        .on_response(
            json(
                200,
                r#"{"token_endpoint":"https://mallory:discovered-canary@evil.example/t"}"#,
            ),
            &mut env,
        )
        .unwrap_err();
    assert!(err.to_string().contains("user credentials"), "{err}");
    assert!(!format!("{err} {err:?}").contains("discovered-canary"));
}

#[test]
fn run_async_is_send_when_its_client_is() {
    fn assert_send<T: Send>(_: &T) {}
    let config = public_client();
    let mut random = crate::random::OsRandom;
    let limits = Limits::default();
    let run = run_async(
        TokenFlow::refresh(config, "rt"),
        &limits,
        &mut random,
        SystemTime::now,
        |_request| async { Ok::<_, Error>(json(200, "{}")) },
    );
    assert_send(&run);
}
