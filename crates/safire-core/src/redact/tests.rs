use std::sync::Arc;
use std::time::SystemTime;

use base64ct::{Base64, Encoding};

use crate::config::{ClientAuth, ClientConfig};
use crate::flow::{Driver, Env, Limits, Step};
use crate::random::SeededRandom;
use crate::registration::{ClientMetadata, RegistrationFlow};
use crate::requests::HttpRequest;
use crate::token::TokenFlow;

/// A secret with characters RFC 6749 form-encoding changes, so raw and encoded forms differ.
const SECRET: &str = "s3cr+t/canary:42 x";
const REFRESH: &str = "rt-canary-0123456789";

fn config(auth: ClientAuth) -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder("https://ehr.example/fhir")
            .client_id("app")
            .token_endpoint("https://ehr.example/token")
            .client_auth(auth)
            .build()
            .unwrap(),
    )
}

/// Every form of the secrets a request carried that must never come back.
fn forms_of(request: &HttpRequest) -> Vec<String> {
    let mut forms = vec![SECRET.to_owned(), REFRESH.to_owned()];
    if let Some(header) = request.headers().get("authorization") {
        let header = header.to_str().unwrap().to_owned();
        let b64 = header.strip_prefix("Basic ").unwrap().to_owned();
        let decoded = String::from_utf8(Base64::decode_vec(&b64).unwrap()).unwrap();
        forms.extend([header, b64, decoded]);
    }
    forms.push(crate::endpoint::form_urlencode(SECRET));
    forms
}

/// Runs a refresh whose server answers with `body(request)` at `status`; the error text.
fn refused(
    auth: ClientAuth,
    status: u16,
    body: impl Fn(&HttpRequest) -> String,
) -> (String, Vec<String>) {
    let mut driver = Driver::new(TokenFlow::refresh(config(auth), REFRESH), Limits::default());
    let mut random = SeededRandom::new(1);
    let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
    let Step::Send(request) = driver.start(&mut env).unwrap() else {
        panic!("a token request")
    };
    let response = http::Response::builder()
        .status(status)
        .body(body(&request).into_bytes())
        .unwrap();
    let err = driver.on_response(response, &mut env).unwrap_err();
    (format!("{err} {err:?}"), forms_of(&request))
}

fn assert_clean(text: &str, forms: &[String]) {
    for form in forms {
        assert!(!text.contains(form.as_str()), "'{form}' leaked in: {text}");
    }
}

#[test]
fn echoes_in_each_oauth_field_are_scrubbed_in_every_wire_form() {
    for auth in [
        ClientAuth::client_secret_basic(SECRET),
        ClientAuth::client_secret_basic_raw(SECRET),
        ClientAuth::client_secret_post(SECRET),
    ] {
        for field in ["error", "error_description", "error_uri"] {
            let (text, forms) = refused(auth.clone(), 401, |request| {
                let mut echo = forms_of(request).join(" | ");
                echo.push_str(&format!(
                    " body: {}",
                    String::from_utf8_lossy(request.body())
                ));
                serde_json::json!({ field: echo, "error": if field == "error" { echo.clone() } else { "invalid_client".into() } }).to_string()
            });
            assert_clean(&text, &forms);
            assert!(text.contains("[REDACTED]"), "{text}");
        }
    }
}

#[test]
fn an_assertion_and_its_parts_are_scrubbed() {
    let key = crate::assertion::PrivateKey::generate_es384(&mut SeededRandom::new(3)).unwrap();
    let auth = ClientAuth::private_key_jwt(key, "kid-1");
    let mut driver = Driver::new(TokenFlow::backend_services(config(auth)), Limits::default());
    let mut random = SeededRandom::new(1);
    let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
    let Step::Send(request) = driver.start(&mut env).unwrap() else {
        panic!()
    };
    let assertion: String = url::form_urlencoded::parse(request.body())
        .find(|(k, _)| k == "client_assertion")
        .unwrap()
        .1
        .into_owned();
    let signature = assertion.rsplit('.').next().unwrap().to_owned();
    let body = serde_json::json!({
        "error": "invalid_client",
        "error_description": format!("bad assertion {assertion}"),
        "error_uri": format!("https://ehr.example/why?sig={signature}"),
    });
    let response = http::Response::builder()
        .status(400)
        .body(body.to_string().into_bytes())
        .unwrap();
    let err = driver.on_response(response, &mut env).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(&assertion), "{text}");
    assert!(!text.contains(&signature), "{text}");
}

#[test]
fn field_names_of_a_body_without_a_token_are_scrubbed() {
    let (text, forms) = refused(ClientAuth::client_secret_basic(SECRET), 200, |_| {
        serde_json::json!({ REFRESH: 1, "note": "no token here" }).to_string()
    });
    assert_clean(&text, &forms);
}

#[test]
fn an_initial_access_token_echoed_by_registration_is_scrubbed() {
    let config = Arc::new(
        ClientConfig::builder("https://ehr.example/fhir")
            .build()
            .unwrap(),
    );
    let flow = RegistrationFlow::new(config, &ClientMetadata::new("App"))
        .endpoint("https://ehr.example/register")
        .initial_access_token("iat-canary-987654");
    let mut driver = Driver::new(flow, Limits::default());
    let mut random = SeededRandom::new(1);
    let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
    let _ = driver.start(&mut env).unwrap();
    let response = http::Response::builder()
        .status(401)
        .body(br#"{"error":"invalid_token","error_description":"token Bearer iat-canary-987654 unknown"}"#.to_vec())
        .unwrap();
    let err = driver.on_response(response, &mut env).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("iat-canary-987654"), "{text}");
    assert!(text.contains("invalid_token"), "{text}");
}
