use super::*;
use crate::assertion::PrivateKey;
use crate::config::ClientAuth;
use crate::config::ClientConfig;
use crate::error::RevocationErrorKind;
use crate::introspection::tests::{assertion_claims, drive, form, json};
use crate::random::SeededRandom;
use crate::requests::Operation;
use crate::token_hint::TokenTypeHint;
use std::sync::Arc;

const TOKEN: &str = "canary-revoked-token-c0de";

fn config(auth: ClientAuth) -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder("https://ehr.example/fhir")
            .client_id("app")
            .revocation_endpoint("https://ehr.example/revoke")
            .client_auth(auth)
            .build()
            .unwrap(),
    )
}

#[test]
fn request_per_token_kind_and_authentication() {
    for hint in [TokenTypeHint::AccessToken, TokenTypeHint::RefreshToken] {
        let flow = RevocationFlow::new(config(ClientAuth::Public), TOKEN).token_type_hint(hint);
        let (sent, result) = drive(flow, vec![json(200, "")]);
        result.unwrap();
        let request = &sent[0];
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri(), "https://ehr.example/revoke");
        assert_eq!(
            request.extensions().get::<Operation>(),
            Some(&Operation::Revocation)
        );
        let f = form(request);
        assert_eq!(f["token"], TOKEN);
        assert_eq!(f["token_type_hint"], hint.as_str());
        assert_eq!(f["client_id"], "app");
    }
    let flow = RevocationFlow::new(config(ClientAuth::client_secret_basic("s")), TOKEN);
    let (sent, _) = drive(flow, vec![json(200, "")]);
    assert!(
        sent[0].headers()["authorization"]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
    assert!(!form(&sent[0]).contains_key("token_type_hint"));
    assert!(!form(&sent[0]).contains_key("client_id"));

    // A credential problem surfaces before anything is sent.
    let flow = RevocationFlow::new(
        config(ClientAuth::ClientSecretBasic {
            secret: None,
            encoding: Default::default(),
        }),
        TOKEN,
    );
    let (sent, result) = drive(flow, vec![]);
    assert!(sent.is_empty());
    assert_eq!(
        result.unwrap_err().to_string(),
        "Configuration missing: client_secret"
    );
}

#[test]
fn any_2xx_is_success_whatever_the_body() {
    for (status, body) in [
        (200, ""),
        (200, "<html>ok</html>"),
        (204, ""),
        (200, "{\"x\":1"),
    ] {
        let flow = RevocationFlow::new(config(ClientAuth::Public), TOKEN);
        let (_, result) = drive(flow, vec![json(status, body)]);
        assert!(result.is_ok(), "{status} {body}");
    }
}

#[test]
fn unsupported_token_type_is_typed() {
    let flow = RevocationFlow::new(config(ClientAuth::Public), TOKEN)
        .token_type_hint(TokenTypeHint::AccessToken);
    let (_, result) = drive(
        flow,
        vec![json(
            400,
            r#"{"error":"unsupported_token_type","error_description":"only refresh tokens"}"#,
        )],
    );
    let err = result.unwrap_err();
    let Error::Revocation(revocation) = &err else {
        panic!("expected a revocation error, got {err:?}");
    };
    assert_eq!(revocation.kind, RevocationErrorKind::UnsupportedTokenType);
    assert_eq!(err.error_code(), Some("unsupported_token_type"));
    assert_eq!(err.source_of_fault(), crate::ErrorSource::Server);
    assert_eq!(
        err.to_string(),
        "Token revocation failed — HTTP 400 — unsupported_token_type — only refresh tokens — \
         the server does not revoke this type of token"
    );

    for (status, body, code) in [
        (401, r#"{"error":"invalid_client"}"#, Some("invalid_client")),
        (503, "<html>down</html>", None),
    ] {
        let flow = RevocationFlow::new(config(ClientAuth::Public), TOKEN);
        let (_, result) = drive(flow, vec![json(status, body)]);
        let err = result.unwrap_err();
        let Error::Revocation(revocation) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(revocation.kind, RevocationErrorKind::Refused);
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.error_code(), code);
    }
}

#[test]
fn an_echoed_token_never_reaches_the_error() {
    let flow = RevocationFlow::new(
        config(ClientAuth::client_secret_post("canary-sec-1")),
        TOKEN,
    );
    assert!(!format!("{flow:?}").contains(TOKEN));
    let body = format!(
        r#"{{"error":"invalid_request","error_description":"cannot revoke {TOKEN} for canary-sec-1","error_uri":"https://as.example/e?{TOKEN}"}}"#
    );
    let (_, result) = drive(flow, vec![json(400, &body)]);
    let err = result.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains(TOKEN) && !shown.contains("canary-sec-1"),
        "{shown}"
    );
    assert!(shown.contains("cannot revoke [REDACTED]"), "{shown}");
}

#[test]
fn discovered_endpoint_and_its_absence() {
    let config = Arc::new(
        ClientConfig::builder("https://ehr.example/fhir")
            .client_id("app")
            .build()
            .unwrap(),
    );
    let (sent, result) = drive(
        RevocationFlow::new(config.clone(), TOKEN),
        vec![
            json(200, r#"{"revocation_endpoint":"https://ehr.example/r"}"#),
            json(200, ""),
        ],
    );
    result.unwrap();
    assert_eq!(sent[1].uri(), "https://ehr.example/r");
    let (_, result) = drive(RevocationFlow::new(config, TOKEN), vec![json(200, "{}")]);
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("ClientConfigBuilder::revocation_endpoint")
    );
}

#[test]
fn an_assertion_is_for_the_token_endpoint_discovered_when_not_configured() {
    let key = PrivateKey::generate_es384(&mut SeededRandom::new(5)).unwrap();
    // Only the revocation endpoint is configured: the token endpoint (the assertion's `aud`)
    // is discovered first.
    let flow = RevocationFlow::new(config(ClientAuth::private_key_jwt(key, "k1")), TOKEN);
    let discovery = r#"{"authorization_endpoint":"https://ehr.example/authorize",
        "token_endpoint":"https://ehr.example/token",
        "revocation_endpoint":"https://ehr.example/other-revoke"}"#;
    let (sent, result) = drive(flow, vec![json(200, discovery), json(200, "")]);
    result.unwrap();
    assert_eq!(sent.len(), 2);
    assert!(
        sent[0]
            .uri()
            .to_string()
            .ends_with("/.well-known/smart-configuration")
    );
    assert_eq!(
        sent[1].uri(),
        "https://ehr.example/revoke",
        "the configured one"
    );
    let f = form(&sent[1]);
    assert_eq!(f["client_assertion_type"], crate::JWT_BEARER_ASSERTION_TYPE);
    assert_eq!(assertion_claims(&f)["aud"], "https://ehr.example/token");

    // Other client authentication needs no discovery.
    let flow = RevocationFlow::new(config(ClientAuth::client_secret_basic("s")), TOKEN);
    let (sent, _) = drive(flow, vec![json(200, "")]);
    assert_eq!(sent.len(), 1);
}
