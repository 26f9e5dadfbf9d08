//! Error bodies: server-advertised endpoints resolved or blamed on the server, an HTML 500
//! from discovery, OAuth errors from the token endpoint and a registration error sent with
//! status 200.

use safire_core::{CallOptions, ClientAuth, ClientMetadata, Error, SecretString};
use serde_json::json;

use super::super::TestClient;
use super::super::servers::{Reply, TestServer};
use super::{DISCOVERY, client, config_for, smart_configuration, smart_server, token_json};

pub fn server_advertised_endpoints_are_resolved_or_blamed_on_the_server<C: TestClient>() {
    // A relative token endpoint is resolved against the FHIR base (SMART: clients SHOULD).
    let server = TestServer::http(|request, base| match request.path() {
        DISCOVERY => {
            let mut metadata = smart_configuration(base);
            metadata["token_endpoint"] = json!("/token");
            Reply::json(200, metadata)
        }
        "/token" => Reply::json(200, token_json("at-relative", None)),
        _ => Reply::text(404, "text/plain", "not found"),
    });
    let smart: C = client(config_for(&server));
    let token = smart.refresh_token("rt-1", CallOptions::new()).unwrap();
    assert_eq!(token.access_token.expose(), "at-relative");
    assert_eq!(server.requests_to("/token").len(), 1);
    let metadata = smart.server_metadata().unwrap();
    assert!(
        metadata
            .compliance_findings()
            .iter()
            .any(|f| f.field.as_deref() == Some("token_endpoint") && f.message.contains("relative")),
        "the relative URL is reported"
    );

    // An http endpoint the server advertises is the server's fault, named with its field.
    let server = TestServer::http(|request, base| match request.path() {
        DISCOVERY => {
            let mut metadata = smart_configuration(base);
            metadata["token_endpoint"] = json!("http://ehr.example/token");
            Reply::json(200, metadata)
        }
        _ => Reply::text(404, "text/plain", "not found"),
    });
    let smart: C = client(config_for(&server));
    let err = smart.refresh_token("rt-1", CallOptions::new()).unwrap_err();
    assert!(matches!(err, Error::Discovery(_)), "{err:?}");
    assert_eq!(err.source_of_fault(), safire_core::ErrorSource::Server);
    let text = err.to_string();
    assert!(
        text.contains("token_endpoint http://ehr.example/token") && text.contains("not https"),
        "{text}"
    );
    assert_eq!(server.requests().len(), 1, "only the discovery was sent");

    // No SMART configuration at all: the error names the explicit-endpoint options.
    let server = TestServer::http(|_, _| Reply::text(404, "text/plain", "not found"));
    let smart: C = client(config_for(&server));
    let text = smart
        .refresh_token("rt-1", CallOptions::new())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("ClientConfigBuilder::token_endpoint")
            && text.contains("authorization_server_issuer"),
        "{text}"
    );
}

pub fn html_500_from_discovery<C: TestClient>() {
    let server = TestServer::http(|_, _| {
        Reply::text(500, "text/html", "<html><body>Internal error</body></html>")
    });
    let client: C = client(config_for(&server));
    let err = client.server_metadata().unwrap_err();
    let Error::Discovery(discovery) = &err else {
        panic!("expected a discovery error, got {err:?}");
    };
    assert_eq!(discovery.status, Some(500));
    assert_eq!(err.status(), Some(500));
    assert!(
        err.to_string().starts_with(&format!(
            "Failed to discover SMART configuration from {}",
            server.url(DISCOVERY)
        )),
        "{err}"
    );
}

pub fn oauth_errors_from_the_token_endpoint<C: TestClient>() {
    let server = smart_server(
        |request| match request.form()["refresh_token"].as_str() {
            "rt-expired-0001" => Reply::json(
                400,
                json!({"error": "invalid_grant", "error_description": "Refresh token expired"}),
            ),
            _ => Reply::Full {
                status: 401,
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("www-authenticate".into(), "Basic realm=\"ehr\"".into()),
                ],
                body: br#"{"error":"invalid_client"}"#.to_vec(),
            },
        },
        |_| Reply::json(500, json!({})),
    );
    let client: C =
        client(config_for(&server).client_auth(ClientAuth::client_secret_basic("wrong-secret")));

    let err = client
        .refresh_token(SecretString::new("rt-expired-0001"), CallOptions::new())
        .unwrap_err();
    assert!(matches!(err, Error::Token(_)), "{err:?}");
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.error_code(), Some("invalid_grant"));
    assert!(err.to_string().contains("Refresh token expired"), "{err}");

    let err = client
        .refresh_token(SecretString::new("other"), CallOptions::new())
        .unwrap_err();
    assert!(matches!(err, Error::Token(_)), "{err:?}");
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.error_code(), Some("invalid_client"));
}

pub fn registration_error_with_status_200<C: TestClient>() {
    let server = smart_server(
        |_| Reply::json(500, json!({})),
        |request| {
            // An echoing server: the description quotes the initial access token.
            let echoed = request
                .header("authorization")
                .unwrap_or_default()
                .to_owned();
            Reply::json(
                200,
                json!({"error": "invalid_client_metadata",
                       "error_description": format!("redirect_uris required ({echoed})")}),
            )
        },
    );
    let client: C = client(config_for(&server));
    let err = client
        .register_client(&ClientMetadata::new("App"), None, None)
        .unwrap_err();
    assert!(matches!(err, Error::Registration(_)), "{err:?}");
    assert_eq!(err.error_code(), Some("invalid_client_metadata"));
    // The server's error and its description, not "missing client_id".
    let text = err.to_string();
    assert!(text.contains("redirect_uris required"), "{text}");
    assert!(!text.contains("missing client_id"), "{text}");
    let err = client
        .register_client(
            &ClientMetadata::new("App"),
            None,
            Some(SecretString::new("canary-iat-7c1e")),
        )
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("redirect_uris required"), "{text}");
    assert!(
        !text.contains("canary-iat-7c1e"),
        "the description is scrubbed: {text}"
    );
    assert!(
        server.requests_to("/register")[0]
            .header("authorization")
            .is_none()
    );
}
