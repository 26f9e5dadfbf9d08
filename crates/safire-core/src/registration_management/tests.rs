use super::*;
use crate::introspection::tests::{drive, json};

const RAT: &str = "canary-registration-access-token-9a9a";
const URI: &str = "https://ehr.example/reg/c-1";

fn config() -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder("https://ehr.example/fhir")
            .build()
            .unwrap(),
    )
}

fn registered(uri: Option<&str>, token: Option<&str>) -> RegisteredClient {
    let mut body = serde_json::json!({"client_id": "c-1", "client_secret": "canary-client-secret-1",
        "client_id_issued_at": 1_700_000_000u64, "client_secret_expires_at": 0,
        "redirect_uris": ["https://app.example/cb"]});
    if let Some(uri) = uri {
        body["registration_client_uri"] = uri.into();
    }
    if let Some(token) = token {
        body["registration_access_token"] = token.into();
    }
    RegisteredClient::parse(201, body.to_string().as_bytes()).unwrap()
}

fn client() -> RegisteredClient {
    registered(Some(URI), Some(RAT))
}

#[test]
fn read_sends_a_bearer_get_and_keeps_what_the_response_lacks() {
    let (sent, result) = drive(
        RegistrationManagementFlow::read(config(), &client()),
        vec![json(200, r#"{"client_id":"c-1","client_name":"Renamed"}"#)],
    );
    let read = result.unwrap();
    assert_eq!(read.client_name.as_deref(), Some("Renamed"));
    assert_eq!(read.registration_client_uri.as_deref(), Some(URI));
    assert_eq!(
        read.registration_access_token
            .as_ref()
            .map(SecretString::expose),
        Some(RAT)
    );
    let request = &sent[0];
    assert_eq!(request.method(), Method::GET);
    assert_eq!(request.uri(), URI);
    assert_eq!(
        request.headers()["authorization"],
        format!("Bearer {RAT}").as_str()
    );
    assert!(request.headers()["authorization"].is_sensitive());
    assert!(request.body().is_empty());
    assert_eq!(
        request.extensions().get::<Operation>(),
        Some(&Operation::RegistrationManagement)
    );

    // A rotated token in the response wins.
    let (_, result) = drive(
        RegistrationManagementFlow::read(config(), &client()),
        vec![json(
            200,
            r#"{"client_id":"c-1","registration_access_token":"rotated"}"#,
        )],
    );
    assert_eq!(
        result.unwrap().registration_access_token.unwrap().expose(),
        "rotated"
    );
}

#[test]
fn update_puts_the_full_metadata_with_the_client_id() {
    let metadata = ClientMetadata::new("Renamed")
        .redirect_uris(["https://app.example/cb2"])
        .field("registration_access_token", "must-not-be-sent".into())
        .field("client_id_issued_at", 1.into());
    let (sent, result) = drive(
        RegistrationManagementFlow::update(config(), &client(), &metadata),
        vec![json(200, r#"{"client_id":"c-1","client_name":"Renamed"}"#)],
    );
    assert_eq!(result.unwrap().client_name.as_deref(), Some("Renamed"));
    let request = &sent[0];
    assert_eq!(request.method(), Method::PUT);
    assert_eq!(request.headers()["content-type"], "application/json");
    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(body["client_id"], "c-1");
    assert_eq!(body["client_name"], "Renamed");
    assert_eq!(
        body["redirect_uris"],
        serde_json::json!(["https://app.example/cb2"])
    );
    assert_eq!(body["client_secret"], "canary-client-secret-1");
    for absent in NOT_IN_UPDATE {
        assert!(body.get(absent).is_none(), "{absent} sent");
    }
}

#[test]
fn delete_accepts_204_and_reports_refusals() {
    let (sent, result) = drive(
        RegistrationManagementFlow::delete(config(), &client()),
        vec![json(204, "")],
    );
    result.unwrap();
    assert_eq!(sent[0].method(), Method::DELETE);

    let (_, result) = drive(
        RegistrationManagementFlow::delete(config(), &client()),
        vec![json(401, r#"{"error":"invalid_token"}"#)],
    );
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Registration(_)), "{err:?}");
    assert_eq!(err.error_code(), Some("invalid_token"));
    assert_eq!(
        err.to_string(),
        "Client registration failed — HTTP 401 — invalid_token — deleting the registration (RFC 7592)"
    );
}

#[test]
fn read_and_update_errors() {
    let (_, result) = drive(
        RegistrationManagementFlow::read(config(), &client()),
        vec![json(401, r#"{"error":"invalid_token"}"#)],
    );
    assert_eq!(
        result.unwrap_err().to_string(),
        "Client registration failed — HTTP 401 — invalid_token — reading the registration (RFC 7592)"
    );
    let (_, result) = drive(
        RegistrationManagementFlow::update(config(), &client(), &ClientMetadata::new("x")),
        vec![json(200, r#"{"client_name":"x"}"#)],
    );
    let err = result.unwrap_err();
    assert!(err.to_string().contains("client_name"), "{err}");
    let (_, result) = drive(
        RegistrationManagementFlow::update(config(), &client(), &ClientMetadata::new("x")),
        vec![json(
            400,
            r#"{"error":"invalid_client_metadata","error_description":"bad"}"#,
        )],
    );
    assert_eq!(
        result.unwrap_err().error_code(),
        Some("invalid_client_metadata")
    );
}

#[test]
fn the_uri_and_token_are_checked_before_sending() {
    for (client, expected) in [
        (
            registered(None, None),
            "Configuration missing: registration_client_uri, registration_access_token",
        ),
        (
            registered(Some(URI), None),
            "Configuration missing: registration_access_token",
        ),
        (
            registered(Some(URI), Some("  ")),
            "Configuration missing: registration_access_token",
        ),
    ] {
        let (sent, result) = drive(RegistrationManagementFlow::read(config(), &client), vec![]);
        assert!(sent.is_empty());
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Configuration(_)), "{err:?}");
        assert_eq!(err.source_of_fault(), crate::ErrorSource::Caller);
        assert!(err.to_string().contains(expected), "{err}");
    }
    // The server handed out the URI: a URI that cannot be used is its fault, not the caller's
    // configuration, and the message names the URI without its credentials.
    for (uri, expected) in [
        (
            "http://ehr.example/reg/c-1",
            "registration_client_uri http://ehr.example/reg/c-1 cannot be used, which is not \
             https",
        ),
        (
            "https://user:pw@ehr.example/reg/c-1",
            "which carries user credentials",
        ),
        ("not a uri", "which is not a usable URL"),
    ] {
        let client = registered(Some(uri), Some(RAT));
        let (sent, result) = drive(RegistrationManagementFlow::read(config(), &client), vec![]);
        assert!(sent.is_empty());
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Registration(_)), "{err:?}");
        assert_eq!(err.source_of_fault(), crate::ErrorSource::Server);
        assert!(err.to_string().contains(expected), "{err}");
        assert!(!err.to_string().contains("pw"), "{err}");
    }
    // http loopback with the opt-in is fine.
    let loopback = Arc::new(
        ClientConfig::builder("http://127.0.0.1:9/fhir")
            .allow_insecure_localhost(true)
            .build()
            .unwrap(),
    );
    let client = registered(Some("http://127.0.0.1:9/reg/c-1"), Some(RAT));
    let (_, result) = drive(
        RegistrationManagementFlow::delete(loopback, &client),
        vec![json(204, "")],
    );
    assert!(result.is_ok());
}

#[test]
fn redirects_are_never_followed() {
    let moved = http::Response::builder()
        .status(307)
        .header("location", "https://ehr.example/elsewhere")
        .body(Vec::new())
        .unwrap();
    let (sent, result) = drive(
        RegistrationManagementFlow::read(config(), &client()),
        vec![moved],
    );
    assert_eq!(sent.len(), 1);
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert!(
        err.to_string().contains("client configuration endpoint"),
        "{err}"
    );
}

#[test]
fn the_token_and_secret_never_reach_an_error() {
    let echo = format!(
        r#"{{"error":"invalid_token","error_description":"{RAT} / canary-client-secret-1 rejected"}}"#
    );
    let nameless = format!(r#"{{"{RAT}":1}}"#);
    let read = |status: u16, body: &str| {
        drive(
            RegistrationManagementFlow::read(config(), &client()),
            vec![json(status, body)],
        )
        .1
        .map(|_| ())
    };
    let delete = drive(
        RegistrationManagementFlow::delete(config(), &client()),
        vec![json(400, &echo)],
    )
    .1;
    let flows: Vec<(Result<(), Error>, &str)> = vec![
        (read(401, &echo), "read 401"),
        (read(200, &echo), "read 200 error"),
        (read(200, &nameless), "read no client_id"),
        (delete, "delete"),
    ];
    for (result, what) in flows {
        let err = result.unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(RAT), "{what}: {shown}");
        assert!(!shown.contains("canary-client-secret-1"), "{what}: {shown}");
        assert!(shown.contains("[REDACTED]"), "{what}: {shown}");
    }
    let flow = RegistrationManagementFlow::read(config(), &client());
    assert!(!format!("{flow:?}").contains(RAT));
}
