use super::*;

fn base() -> ClientConfigBuilder {
    ClientConfig::builder("https://ehr.example/fhir/")
}

#[test]
fn issuer_defaults_to_base_url_and_discovery_url_is_slash_safe() {
    let config = base().build().unwrap();
    assert_eq!(config.audience(), "https://ehr.example/fhir/");
    assert_eq!(
        config.discovery_url(),
        "https://ehr.example/fhir/.well-known/smart-configuration"
    );
    let config = ClientConfig::builder("https://ehr.example/fhir")
        .build()
        .unwrap();
    assert_eq!(
        config.discovery_url(),
        "https://ehr.example/fhir/.well-known/smart-configuration"
    );
}

#[test]
fn every_bad_uri_is_reported_at_once() {
    let err = ClientConfig::builder("http://ehr.example")
        .redirect_uri("not a url")
        .token_endpoint("ftp://ehr.example/token")
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        ConfigurationError::Uris {
            invalid: vec!["redirect_uri".into()],
            non_https: vec![
                "base_url".into(),
                "audience".into(),
                "token_endpoint".into()
            ],
        }
    );
}

#[test]
fn loopback_http_needs_the_opt_in() {
    for url in [
        "http://localhost:8080/fhir",
        "http://127.0.0.1/fhir",
        "http://127.9.9.9/fhir",
        "http://[::1]:9000/fhir",
    ] {
        assert!(ClientConfig::builder(url).build().is_err(), "{url}");
        assert!(
            ClientConfig::builder(url)
                .allow_insecure_localhost(true)
                .build()
                .is_ok(),
            "{url}"
        );
    }
    let remote = ClientConfig::builder("http://ehr.example")
        .allow_insecure_localhost(true)
        .build();
    assert!(remote.is_err());
    let lookalike = ClientConfig::builder("http://localhost.evil.example")
        .allow_insecure_localhost(true)
        .build();
    assert!(lookalike.is_err());
}

#[test]
fn missing_base_url() {
    let err = ClientConfig::builder(" ").build().unwrap_err();
    assert_eq!(err.to_string(), "Configuration missing: base_url");
}

#[test]
fn client_id_is_optional_until_needed() {
    let config = base().build().unwrap();
    assert_eq!(
        config.require_client_id().unwrap_err().to_string(),
        "Configuration missing: client_id"
    );
    assert_eq!(
        config.with_client_id("abc").require_client_id().unwrap(),
        "abc"
    );
}

#[test]
fn debug_redacts_the_secret() {
    let config = base()
        .client_auth(ClientAuth::client_secret_basic("canary-secret-1"))
        .build()
        .unwrap();
    let text = format!("{config:?}");
    assert!(!text.contains("canary-secret-1"));
    assert!(text.contains("[REDACTED]"));
}

#[test]
fn discovered_endpoints_are_checked_with_the_same_rule() {
    let config = base().build().unwrap();
    assert!(
        config
            .check_endpoint("token_endpoint", "https://a.example/t")
            .is_ok()
    );
    let err = config
        .check_endpoint("registration_endpoint", "http://a.example/r?x=secret")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("registration_endpoint (http://a.example/r)")
    );
    assert!(!err.to_string().contains("secret"));
}
