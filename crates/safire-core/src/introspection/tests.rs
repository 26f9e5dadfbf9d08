use super::*;
use crate::assertion::PrivateKey;
use crate::config::ClientAuth;
use crate::config::{CallOptions, ClientConfig};
use crate::flow::{Driver, Limits};
use crate::random::SeededRandom;
use crate::requests::HttpRequest;
use crate::requests::Operation;
use crate::token_hint::TokenTypeHint;
use std::collections::HashMap;
use std::sync::Arc;

const TOKEN: &str = "canary-introspected-token-51f0";

/// Runs `flow` through a [`Driver`], answering each request with the next response.
pub(crate) fn drive<F: Flow>(
    flow: F,
    responses: Vec<HttpResponse>,
) -> (Vec<HttpRequest>, Result<F::Output, Error>) {
    let mut random = SeededRandom::new(7);
    let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
    let limits = Limits::default().allow_insecure_localhost(true);
    let mut driver = Driver::new(flow, limits);
    let mut sent = Vec::new();
    let mut responses = responses.into_iter();
    let mut step = driver.start(&mut env);
    loop {
        match step {
            Err(e) => return (sent, Err(e)),
            Ok(Step::Done(output)) => return (sent, Ok(output)),
            Ok(Step::Send(request)) => {
                sent.push(request);
                let response = responses
                    .next()
                    .expect("the test supplies enough responses");
                step = driver.on_response(response, &mut env);
            }
        }
    }
}

pub(crate) fn json(status: u16, body: &str) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.as_bytes().to_vec())
        .unwrap()
}

pub(crate) fn form(request: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(request.body())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn builder() -> crate::config::ClientConfigBuilder {
    ClientConfig::builder("https://ehr.example/fhir")
        .client_id("rs")
        .introspection_endpoint("https://ehr.example/introspect")
}

fn flow(config: ClientConfig) -> IntrospectionFlow {
    IntrospectionFlow::new(Arc::new(config), TOKEN)
}

const ACTIVE: &str = r#"{"active":true}"#;

#[test]
fn each_client_authentication() {
    // client_secret_basic: id in the header only.
    let config = builder()
        .client_auth(ClientAuth::client_secret_basic("s3cr3t"))
        .build()
        .unwrap();
    let (sent, result) = drive(
        flow(config).token_type_hint(TokenTypeHint::AccessToken),
        vec![json(200, ACTIVE)],
    );
    assert!(result.unwrap().active);
    let request = &sent[0];
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri(), "https://ehr.example/introspect");
    assert_eq!(
        request.extensions().get::<Operation>(),
        Some(&Operation::Introspection)
    );
    assert!(request.headers()["authorization"].is_sensitive());
    let f = form(request);
    assert_eq!(f["token"], TOKEN);
    assert_eq!(f["token_type_hint"], "access_token");
    assert!(!f.contains_key("client_id"));

    // Public: the id in the body, no hint when none is given.
    let (sent, _) = drive(flow(builder().build().unwrap()), vec![json(200, ACTIVE)]);
    let f = form(&sent[0]);
    assert_eq!(f["client_id"], "rs");
    assert!(!f.contains_key("token_type_hint"));
    assert!(sent[0].headers().get("authorization").is_none());

    // client_secret_post.
    let config = builder()
        .client_auth(ClientAuth::client_secret_post("s3cr3t"))
        .build()
        .unwrap();
    let (sent, _) = drive(flow(config), vec![json(200, ACTIVE)]);
    let f = form(&sent[0]);
    assert_eq!(
        (f["client_id"].as_str(), f["client_secret"].as_str()),
        ("rs", "s3cr3t")
    );

    // private_key_jwt: an assertion whose `aud` is the token endpoint (SMART's token URL),
    // sent to the introspection endpoint.
    let key = PrivateKey::generate_es384(&mut SeededRandom::new(3)).unwrap();
    let config = builder()
        .token_endpoint("https://ehr.example/token")
        .client_auth(ClientAuth::private_key_jwt(key, "k1"))
        .build()
        .unwrap();
    let (sent, _) = drive(flow(config), vec![json(200, ACTIVE)]);
    assert_eq!(sent.len(), 1, "both endpoints configured: no discovery");
    assert_eq!(sent[0].uri(), "https://ehr.example/introspect");
    let f = form(&sent[0]);
    assert_eq!(f["client_assertion_type"], crate::JWT_BEARER_ASSERTION_TYPE);
    assert_eq!(assertion_claims(&f)["aud"], "https://ehr.example/token");
}

/// The claims of the form's `client_assertion`.
pub(crate) fn assertion_claims(form: &HashMap<String, String>) -> Value {
    let claims = form["client_assertion"]
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    serde_json::from_slice(&base64ct::Base64UrlUnpadded::decode_vec(&claims).unwrap()).unwrap()
}

use base64ct::Encoding as _;

#[test]
fn bearer_token_instead_of_client_credentials() {
    // No client id needed: the bearer token is the credential.
    let config = ClientConfig::builder("https://ehr.example/fhir")
        .introspection_endpoint("https://ehr.example/introspect")
        .build()
        .unwrap();
    let options = CallOptions::new().bearer_token("canary-rs-bearer");
    let (sent, result) = drive(
        flow(config.clone()).with_options(options.clone()),
        vec![json(200, ACTIVE)],
    );
    assert!(result.is_ok());
    assert_eq!(
        sent[0].headers()["authorization"],
        "Bearer canary-rs-bearer"
    );
    assert!(!form(&sent[0]).contains_key("client_id"));

    // Together with a client credential: refused before anything is sent.
    let both = options.clone().client_secret("s");
    let (sent, result) = drive(flow(config.clone()).with_options(both), vec![]);
    assert!(sent.is_empty());
    assert!(matches!(result, Err(Error::Configuration(_))));

    // Other operations refuse it.
    let config = config.with_client_id("app");
    let revoke =
        crate::revocation::RevocationFlow::new(Arc::new(config), "t").with_options(options.clone());
    let (sent, result) = drive(revoke, vec![]);
    assert!(sent.is_empty());
    let err = result.unwrap_err();
    assert!(err.to_string().contains("bearer_token"), "{err}");
    assert!(!err.to_string().contains("canary-rs-bearer"));
}

#[test]
fn preflight_and_reserved_parameters() {
    let (sent, result) = drive(
        IntrospectionFlow::new(Arc::new(builder().build().unwrap()), "  "),
        vec![],
    );
    assert!(sent.is_empty());
    assert_eq!(
        result.unwrap_err().to_string(),
        "Configuration missing: token"
    );

    for name in ["token", "token_type_hint", "client_id"] {
        let options = CallOptions::new().extra_param(name, "x");
        let (sent, result) = drive(
            flow(builder().build().unwrap()).with_options(options),
            vec![],
        );
        assert!(sent.is_empty());
        assert!(matches!(result, Err(Error::Configuration(_))), "{name}");
    }
    let options = CallOptions::new().extra_param("resource", "https://ehr.example/fhir");
    let (sent, _) = drive(
        flow(builder().build().unwrap()).with_options(options),
        vec![json(200, ACTIVE)],
    );
    assert_eq!(form(&sent[0])["resource"], "https://ehr.example/fhir");
}

#[test]
fn discovered_endpoint_its_absence_and_https() {
    let config = ClientConfig::builder("https://ehr.example/fhir")
        .client_id("rs")
        .build()
        .unwrap();
    let (sent, result) = drive(
        flow(config.clone()),
        vec![
            json(200, r#"{"introspection_endpoint":"https://ehr.example/i"}"#),
            json(200, r#"{"active":false}"#),
        ],
    );
    assert!(!result.unwrap().active);
    assert_eq!(sent[1].uri(), "https://ehr.example/i");

    let (_, result) = drive(
        flow(config.clone()),
        vec![json(200, r#"{"token_endpoint":"https://ehr.example/t"}"#)],
    );
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Discovery(_)));
    assert!(
        err.to_string()
            .contains("does not advertise a 'introspection_endpoint'"),
        "{err}"
    );

    let (sent, result) = drive(
        flow(config),
        vec![json(
            200,
            r#"{"introspection_endpoint":"http://ehr.example/i"}"#,
        )],
    );
    assert_eq!(sent.len(), 1, "nothing sent to the http endpoint");
    // The server advertised it: a discovery error, the server's fault.
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Discovery(_)), "{err:?}");
    assert_eq!(err.source_of_fault(), crate::ErrorSource::Server);

    let err = ClientConfig::builder("https://ehr.example/fhir")
        .introspection_endpoint("http://ehr.example/i")
        .revocation_endpoint("ftp://ehr.example/r")
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("introspection_endpoint, revocation_endpoint"),
        "{err}"
    );
}

#[test]
fn smart_profile_is_typed() {
    let body = r#"{"active":true,"scope":"launch/patient patient/*.rs","client_id":"app",
        "exp":1700003600,"iat":1700000000,"sub":"user-1","aud":"https://ehr.example/fhir",
        "iss":"https://ehr.example","token_type":"Bearer","patient":"pat-1","encounter":"enc-1",
        "fhirUser":"https://ehr.example/fhir/Practitioner/p1",
        "fhirContext":[{"reference":"Appointment/a1","role":"launch"}],"username":"jdoe"}"#;
    let token = Introspection::parse(200, body.as_bytes()).unwrap();
    assert!(token.active);
    assert_eq!(
        token.scopes().collect::<Vec<_>>(),
        ["launch/patient", "patient/*.rs"]
    );
    assert_eq!(token.client_id.as_deref(), Some("app"));
    assert_eq!(
        (token.exp, token.iat),
        (Some(1_700_003_600), Some(1_700_000_000))
    );
    assert_eq!(token.aud, ["https://ehr.example/fhir"]);
    assert_eq!(token.iss.as_deref(), Some("https://ehr.example"));
    assert_eq!(token.token_type.as_deref(), Some("Bearer"));
    assert_eq!(token.launch.patient.as_deref(), Some("pat-1"));
    assert_eq!(token.launch.encounter.as_deref(), Some("enc-1"));
    assert_eq!(token.sub.as_deref(), Some("user-1"));
    assert_eq!(
        token.fhir_user.as_deref(),
        Some("https://ehr.example/fhir/Practitioner/p1")
    );
    assert_eq!(
        token.launch.fhir_context[0].reference.as_deref(),
        Some("Appointment/a1")
    );
    assert_eq!(token.extra["username"], "jdoe");
    assert!(token.findings.is_empty(), "{:?}", token.findings);
    let shown = format!("{token:?}");
    for identifier in [
        "pat-1",
        "enc-1",
        "user-1",
        "Practitioner/p1",
        "Appointment/a1",
        "jdoe",
    ] {
        assert!(
            !shown.contains(identifier),
            "Debug shows {identifier}: {shown}"
        );
    }
    assert!(
        shown.contains("app") && shown.contains("username"),
        "{shown}"
    );
}

#[test]
fn leniency_and_findings() {
    let body = r#"{"active":"true","scope":["a","b"],"aud":["x","y"],"exp":"1700003600",
        "iat":-5,"client_id":7,"patient":{"id":1},"fhirContext":["Patient/1",{"reference":3},42]}"#;
    let token = Introspection::parse(200, body.as_bytes()).unwrap();
    assert!(token.active);
    assert_eq!(token.scope.as_deref(), Some("a b"));
    assert_eq!(token.aud, ["x", "y"]);
    assert_eq!(token.exp, Some(1_700_003_600));
    assert_eq!(token.iat, None);
    assert_eq!(token.client_id, None);
    assert_eq!(token.launch.patient, None);
    assert_eq!(token.extra["client_id"], 7);
    assert_eq!(token.extra["iat"], -5);
    assert!(token.extra["patient"].is_object());
    assert_eq!(token.launch.fhir_context.len(), 1);
    let fields: Vec<(&str, bool)> = token
        .findings
        .iter()
        .map(|f| (f.field.as_deref().unwrap_or(""), f.is_error()))
        .collect();
    for expected in [
        ("active", false),
        ("scope", false),
        ("exp", false),
        ("iat", true),
        ("client_id", true),
        ("patient", true),
        ("fhirContext[0]", false),
        ("fhirContext[1]", true),
        ("fhirContext[2]", true),
    ] {
        assert!(fields.contains(&expected), "{expected:?} in {fields:?}");
    }
    for finding in &token.findings {
        assert!(!finding.message.contains("Patient/1"), "{finding}");
    }
}

#[test]
fn inactive_is_a_result_and_expiry_is_checked() {
    let token = Introspection::parse(200, br#"{"active":false}"#).unwrap();
    assert!(!token.active);
    assert!(!token.is_active_at(SystemTime::UNIX_EPOCH));
    let token = Introspection::parse(200, br#"{"active":true}"#).unwrap();
    assert!(token.is_active_at(SystemTime::now()));
}

#[test]
fn unusable_bodies_and_errors() {
    for (status, body, expected) in [
        (
            400,
            r#"{"error":"invalid_request","error_description":"missing token"}"#,
            "Token introspection failed — HTTP 400 — invalid_request — missing token",
        ),
        (
            200,
            r#"{"error":"invalid_client"}"#,
            "Token introspection failed — HTTP 200 — invalid_client",
        ),
        (
            200,
            "<html>",
            "Token introspection failed — HTTP 200 — response is not a JSON object",
        ),
        (
            200,
            r#"{"scope":"a","exp":1}"#,
            "Token introspection failed — HTTP 200 — response has no 'active' member; received fields: exp, scope",
        ),
        (
            200,
            r#"{"active":1}"#,
            "Token introspection failed — HTTP 200 — response 'active' must be a boolean; received fields: active",
        ),
        (503, "", "Token introspection failed — HTTP 503"),
    ] {
        let err = Introspection::parse(status, body.as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), expected);
        let err = Error::from(err);
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.source_of_fault(), crate::ErrorSource::Server);
    }
}

#[test]
fn an_echoed_token_never_reaches_the_error() {
    let config = builder()
        .client_auth(ClientAuth::client_secret_basic("canary-secret-77"))
        .build()
        .unwrap();
    for (status, body) in [
        (
            400,
            format!(
                r#"{{"error":"invalid_request","error_description":"token {TOKEN} and canary-secret-77 unknown"}}"#
            ),
        ),
        (200, format!(r#"{{"error":"bad {TOKEN}"}}"#)),
        (200, format!(r#"{{"{TOKEN}":true}}"#)),
    ] {
        let (_, result) = drive(flow(config.clone()), vec![json(status, &body)]);
        let err = result.unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(!shown.contains("canary-secret-77"), "{shown}");
        assert!(shown.contains("[REDACTED]"), "{shown}");
    }
    assert!(!format!("{:?}", flow(config.clone())).contains(TOKEN));

    // Echoed into members Debug shows: redacted, with a finding.
    let body = format!(
        r#"{{"active":true,"client_id":"{TOKEN}","aud":["x","{TOKEN}"],"{TOKEN}":1,"iss":"canary-secret-77"}}"#
    );
    let (_, result) = drive(flow(config), vec![json(200, &body)]);
    let token = result.unwrap();
    let shown = format!("{token:?}");
    assert!(
        !shown.contains(TOKEN) && !shown.contains("canary-secret-77"),
        "{shown}"
    );
    assert_eq!(token.client_id.as_deref(), Some("[REDACTED]"));
    assert_eq!(token.aud, ["x", "[REDACTED]"]);
    assert_eq!(token.extra["[REDACTED]"], 1);
    assert_eq!(token.findings.len(), 4, "{:?}", token.findings);
}

#[test]
fn the_whole_launch_context_is_read_and_echoed_secrets_in_it_are_redacted() {
    let body = r#"{"active":true,"patient":"pat-1","need_patient_banner":"false",
        "smart_style_url":"https://ehr.example/style.json","intent":"reconcile",
        "tenant":"t-1","fhirContext":[{"reference":"Appointment/a1","type":"Appointment"}]}"#;
    let token = Introspection::parse(200, body.as_bytes()).unwrap();
    assert_eq!(token.launch.need_patient_banner, Some(false));
    assert_eq!(
        token.launch.smart_style_url.as_deref(),
        Some("https://ehr.example/style.json")
    );
    assert_eq!(token.launch.intent.as_deref(), Some("reconcile"));
    assert_eq!(token.launch.tenant.as_deref(), Some("t-1"));
    assert!(token.extra.is_empty(), "{:?}", token.extra);
    let fields: Vec<&str> = token
        .findings
        .iter()
        .filter_map(|f| f.field.as_deref())
        .collect();
    assert_eq!(fields, ["need_patient_banner"]);
    // No string of fhirContext shows, as before (only how many entries there are).
    let shown = format!("{token:?}");
    assert!(
        !shown.contains("pat-1") && !shown.contains("Appointment"),
        "{shown}"
    );
    assert!(shown.contains("fhir_context: 1"), "{shown}");

    // A wrong-typed member stays in extra; a secret echoed into one Debug shows is redacted.
    let body = r#"{"active":true,"need_patient_banner":1,"tenant":"tok-secret-9"}"#;
    let token = parse_introspection_response(200, body.as_bytes(), &["tok-secret-9"]).unwrap();
    assert_eq!(token.launch.need_patient_banner, None);
    assert_eq!(token.extra["need_patient_banner"], 1);
    assert_eq!(token.launch.tenant.as_deref(), Some("[REDACTED]"));
    assert!(!format!("{token:?}").contains("tok-secret-9"));
    assert_eq!(token.findings.len(), 2, "{:?}", token.findings);
}

/// Fuzz finding (introspection target, `findings.len() <= 65`): the redaction findings were
/// added after the capped collector had closed, one per echoed `aud` entry.
#[test]
fn findings_stay_capped_when_a_server_echoes_the_token_everywhere() {
    let secret = "tok-secret-echoed";
    let contexts = vec![r#""Patient/1""#; 80].join(",");
    let auds = vec![format!(r#""{secret}""#); 100].join(",");
    let body = format!(
        r#"{{"active":true,"fhirContext":[{contexts}],"aud":[{auds}],"client_id":"{secret}","iss":"{secret}"}}"#
    );
    let token = parse_introspection_response(200, body.as_bytes(), &[secret]).unwrap();
    assert_eq!(
        token.findings.len(),
        crate::finding::MAX_FINDINGS + 1,
        "capped, plus the note that more were dropped"
    );
    assert!(!format!("{token:?}").contains(secret));
    assert!(token.aud.iter().all(|aud| aud == "[REDACTED]"));

    // Below the cap, an `aud` echoed a hundred times is one finding.
    let body = format!(r#"{{"active":true,"aud":[{auds}]}}"#);
    let token = parse_introspection_response(200, body.as_bytes(), &[secret]).unwrap();
    assert_eq!(token.findings.len(), 1, "{:?}", token.findings);
}
