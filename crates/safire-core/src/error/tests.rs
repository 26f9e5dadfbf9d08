use super::*;

#[test]
fn configuration_messages() {
    assert_eq!(
        ConfigurationError::missing(["private_key", "kid"]).to_string(),
        "Configuration missing: private_key, kid"
    );
    let uris = ConfigurationError::Uris {
        invalid: vec!["redirect_uri".into()],
        non_https: vec!["base_url".into(), "issuer".into()],
    };
    let text = uris.to_string();
    assert!(text.starts_with("Configuration has invalid URIs: redirect_uri. "));
    assert!(text.contains("Configuration requires HTTPS for: base_url, issuer ("));
}

#[test]
fn oauth_messages_follow_the_seeds() {
    let err = RegistrationError {
        oauth: OAuthErrorFields {
            status: Some(400),
            error_code: Some("invalid_redirect_uri".into()),
            error_description: Some("Redirect URI must use HTTPS".into()),
            error_uri: None,
        },
        received_fields: vec![],
        detail: None,
    };
    assert_eq!(
        err.to_string(),
        "Client registration failed — HTTP 400 — invalid_redirect_uri — Redirect URI must use HTTPS"
    );
    let missing = TokenError {
        oauth: OAuthErrorFields {
            status: Some(200),
            ..Default::default()
        },
        received_fields: vec!["token_type".into(), "expires_in".into()],
        detail: None,
    };
    assert_eq!(
        missing.to_string(),
        "Missing access token in response; received fields: token_type, expires_in"
    );
}

#[test]
fn discovery_message() {
    let err = DiscoveryError::new(
        "https://ehr.example/.well-known/smart-configuration?x=1",
        Some(404),
        None,
    );
    assert_eq!(
        err.to_string(),
        "Failed to discover SMART configuration from https://ehr.example/.well-known/smart-configuration (HTTP 404)"
    );
}

#[test]
fn server_text_is_cleaned_and_bounded() {
    assert_eq!(server_text("a\nb\u{7}c"), "a b c");
    let long = "x".repeat(10_000);
    assert!(server_text(&long).chars().count() <= MAX_SERVER_TEXT + 1);
    assert_eq!(
        url_for_message("https://a.example/cb?code=SECRET#frag"),
        "https://a.example/cb"
    );
    assert_eq!(
        url_for_message("http://u:SECRETPW@evil.example/x?y"),
        "http://[REDACTED]@evil.example/x"
    );
    assert_eq!(
        url_for_message("https://a.example/p@th"),
        "https://a.example/p@th"
    );
}

#[test]
fn error_stays_small() {
    // Keeps `Result<T, Error>` cheap and clippy's `result_large_err` quiet for users.
    assert!(
        std::mem::size_of::<Error>() <= 64,
        "{}",
        std::mem::size_of::<Error>()
    );
}

#[test]
fn network_message() {
    let err = NetworkError::new(NetworkErrorKind::Connect, "Connection refused");
    assert_eq!(err.to_string(), "HTTP request failed: Connection refused");
}
