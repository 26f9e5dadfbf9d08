use super::*;
use crate::assertion::Signer;
use crate::authorize::AuthorizationCode;
use crate::config::{BasicAuthEncoding, ClientAuth};
use crate::endpoint::basic_authorization;
use crate::random::SeededRandom;
use base64ct::{Base64, Encoding};
use http::{HeaderValue, Method};
use std::collections::HashMap;
use std::time::SystemTime;

fn builder() -> crate::config::ClientConfigBuilder {
    ClientConfig::builder("https://ehr.example/fhir")
        .client_id("my-app")
        .token_endpoint("https://ehr.example/token")
}

fn first_request(flow: &mut TokenFlow) -> Result<HttpRequest, Error> {
    let mut random = SeededRandom::new(1);
    match flow.start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random))? {
        Step::Send(request) => Ok(request),
        Step::Done(_) => panic!("a token flow always sends"),
    }
}

fn form(request: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(request.body())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Starts `flow` and answers its request with `status` and `body`: the request sent, and
/// the token or error the flow made of the answer.
fn exchange(
    mut flow: TokenFlow,
    status: u16,
    body: &[u8],
) -> (HttpRequest, Result<TokenResponse, Error>) {
    let mut random = SeededRandom::new(1);
    let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
    let Step::Send(request) = flow.start(&mut env).unwrap() else {
        panic!("a token flow always sends")
    };
    let response = http::Response::builder()
        .status(status)
        .body(body.to_vec())
        .unwrap();
    let result = flow.on_response(response, &mut env).map(|step| match step {
        Step::Done(token) => token,
        Step::Send(_) => panic!("one request"),
    });
    (request, result)
}

fn code() -> AuthorizationCode {
    AuthorizationCode::new("code-canary", "v".repeat(64), "https://app.example/cb")
}

#[test]
fn public_code_exchange() {
    let config = Arc::new(builder().build().unwrap());
    let request = first_request(&mut TokenFlow::authorization_code(config, code())).unwrap();
    assert_eq!(request.method(), Method::POST);
    assert_eq!(request.uri(), "https://ehr.example/token");
    assert_eq!(
        request.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert!(request.headers().get("authorization").is_none());
    let f = form(&request);
    assert_eq!(f["grant_type"], "authorization_code");
    assert_eq!(f["code"], "code-canary");
    assert_eq!(f["redirect_uri"], "https://app.example/cb");
    assert_eq!(f["code_verifier"], "v".repeat(64));
    assert_eq!(f["client_id"], "my-app");
}

#[test]
fn basic_auth_both_encodings() {
    let secret = SecretString::new("p@ss w:rd");
    let rfc = basic_authorization("my app", &secret, BasicAuthEncoding::FormUrlEncoded).unwrap();
    let raw = basic_authorization("my app", &secret, BasicAuthEncoding::Raw).unwrap();
    let decode = |v: &HeaderValue| {
        let b64 = v
            .to_str()
            .unwrap()
            .strip_prefix("Basic ")
            .unwrap()
            .to_owned();
        String::from_utf8(Base64::decode_vec(&b64).unwrap()).unwrap()
    };
    assert_eq!(decode(&rfc), "my+app:p%40ss+w%3Ard");
    assert_eq!(decode(&raw), "my app:p@ss w:rd");
    assert!(rfc.is_sensitive());
    let plain = SecretString::new("abc-123_~.");
    assert_eq!(
        basic_authorization("id", &plain, BasicAuthEncoding::FormUrlEncoded).unwrap(),
        basic_authorization("id", &plain, BasicAuthEncoding::Raw).unwrap()
    );
}

#[test]
fn symmetric_client_sends_basic_and_no_client_id() {
    let config = Arc::new(
        builder()
            .client_auth(ClientAuth::client_secret_basic("secret-canary"))
            .build()
            .unwrap(),
    );
    let request = first_request(&mut TokenFlow::refresh(config.clone(), "rt")).unwrap();
    assert!(
        request.headers()["authorization"]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
    assert!(!form(&request).contains_key("client_id"));
    // Per-call secret override wins.
    let overridden = first_request(
        &mut TokenFlow::refresh(config, "rt")
            .with_options(CallOptions::new().client_secret("rotated")),
    )
    .unwrap();
    assert_ne!(
        overridden.headers()["authorization"],
        request.headers()["authorization"]
    );
}

#[test]
fn missing_credentials_fail_before_any_request() {
    let no_secret = Arc::new(
        builder()
            .client_auth(ClientAuth::ClientSecretBasic {
                secret: None,
                encoding: BasicAuthEncoding::Raw,
            })
            .build()
            .unwrap(),
    );
    let err = first_request(&mut TokenFlow::refresh(no_secret, "rt")).unwrap_err();
    assert_eq!(err.to_string(), "Configuration missing: client_secret");

    let no_key = Arc::new(
        ClientConfig::builder("https://ehr.example/fhir")
            .client_id("svc")
            .client_auth(ClientAuth::PrivateKeyJwt {
                signer: None,
                kid: None,
            })
            .build()
            .unwrap(),
    );
    // No token endpoint configured either: the credential error still comes first.
    let err = first_request(&mut TokenFlow::backend_services(no_key)).unwrap_err();
    assert_eq!(err.to_string(), "Configuration missing: private_key, kid");

    let no_client = Arc::new(
        ClientConfig::builder("https://ehr.example/fhir")
            .build()
            .unwrap(),
    );
    let err = first_request(&mut TokenFlow::refresh(no_client, "rt")).unwrap_err();
    assert_eq!(err.to_string(), "Configuration missing: client_id");
}

#[test]
fn refresh_with_narrower_scopes() {
    let config = Arc::new(builder().build().unwrap());
    let request = first_request(
        &mut TokenFlow::refresh(config, "rt-canary")
            .with_options(CallOptions::new().scopes(["patient/Observation.rs"])),
    )
    .unwrap();
    let f = form(&request);
    assert_eq!(f["grant_type"], "refresh_token");
    assert_eq!(f["refresh_token"], "rt-canary");
    assert_eq!(f["scope"], "patient/Observation.rs");
}

#[test]
fn extra_params_are_sent_but_cannot_override() {
    let config = Arc::new(builder().build().unwrap());
    let request = first_request(
        &mut TokenFlow::refresh(config.clone(), "rt")
            .with_options(CallOptions::new().extra_param("resource", "https://other.example/fhir")),
    )
    .unwrap();
    assert_eq!(form(&request)["resource"], "https://other.example/fhir");
    let err = first_request(
        &mut TokenFlow::refresh(config, "rt")
            .with_options(CallOptions::new().extra_param("client_id", "evil")),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("'client_id' is set by Safire"),
        "{err}"
    );
}

#[test]
fn overrides_that_do_not_fit_the_auth_method_are_refused() {
    let public = Arc::new(builder().build().unwrap());
    let err = first_request(
        &mut TokenFlow::refresh(public, "rt").with_options(CallOptions::new().client_secret("s")),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("Invalid client_secret: given per call"),
        "{err}"
    );
    let symmetric = Arc::new(
        builder()
            .client_auth(ClientAuth::client_secret_basic("s"))
            .build()
            .unwrap(),
    );
    let key: Arc<dyn Signer> =
        Arc::new(crate::assertion::PrivateKey::generate_es384(&mut SeededRandom::new(1)).unwrap());
    let err = first_request(
        &mut TokenFlow::refresh(symmetric, "rt")
            .with_options(CallOptions::new().private_key(key.clone(), "k")),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("Invalid private_key: given per call"),
        "{err}"
    );
    // Backend services always use an assertion: a per-call key is what it needs.
    let backend = Arc::new(builder().build().unwrap());
    let request = first_request(
        &mut TokenFlow::backend_services(backend)
            .with_options(CallOptions::new().private_key(key, "k")),
    )
    .unwrap();
    assert!(form(&request).contains_key("client_assertion"));
    assert!(!form(&request).contains_key("client_id"));
}

#[test]
fn non_bearer_tokens_are_refused() {
    let config = Arc::new(builder().build().unwrap());
    let body = br#"{"access_token":"at-canary","token_type":"DPoP","scope":"x"}"#;
    let err = exchange(TokenFlow::refresh(config, "rt"), 200, body)
        .1
        .unwrap_err();
    assert!(
        err.to_string().contains("unsupported token_type 'DPoP'"),
        "{err}"
    );
    assert!(!format!("{err:?}").contains("at-canary"));
}

#[test]
fn oauth_errors_become_token_errors() {
    let config = Arc::new(builder().build().unwrap());
    let body = br#"{"error":"invalid_grant","error_description":"Refresh token expired"}"#;
    let err = exchange(TokenFlow::refresh(config, "rt"), 400, body)
        .1
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.error_code(), Some("invalid_grant"));
    assert_eq!(
        err.to_string(),
        "Token request failed — HTTP 400 — invalid_grant — Refresh token expired"
    );
}

/// The error a 401 `invalid_client` becomes for a client authenticating with `auth`.
fn invalid_client_with(auth: ClientAuth, options: CallOptions) -> Error {
    let config = Arc::new(builder().client_auth(auth).build().unwrap());
    let flow = TokenFlow::refresh(config, "rt").with_options(options);
    exchange(flow, 401, br#"{"error":"invalid_client"}"#)
        .1
        .unwrap_err()
}

#[test]
fn invalid_client_for_encoded_basic_credentials_names_the_raw_encoding() {
    let hint = "ClientAuth::client_secret_basic_raw";
    // The encoding changed the secret: the likely cause is named, the secret is not.
    let err = invalid_client_with(
        ClientAuth::client_secret_basic("s3cr+t/canary"),
        CallOptions::new(),
    );
    assert_eq!(err.error_code(), Some("invalid_client"));
    assert!(err.to_string().contains(hint), "{err}");
    assert!(!format!("{err}{err:?}").contains("canary"));
    // Likewise for a per-call secret.
    let err = invalid_client_with(
        ClientAuth::ClientSecretBasic {
            secret: None,
            encoding: BasicAuthEncoding::FormUrlEncoded,
        },
        CallOptions::new().client_secret("a:b"),
    );
    assert!(err.to_string().contains(hint), "{err}");
    // Nothing to suggest when the encoding changed nothing, or the raw encoding was used.
    for auth in [
        ClientAuth::client_secret_basic("plain-secret_1.~"),
        ClientAuth::client_secret_basic_raw("s3cr+t"),
        ClientAuth::client_secret_post("s3cr+t"),
    ] {
        let err = invalid_client_with(auth, CallOptions::new());
        assert_eq!(
            err.to_string(),
            "Token request failed — HTTP 401 — invalid_client"
        );
    }
}

#[test]
fn a_pending_authorization_older_than_the_maximum_age_is_not_redeemed() {
    let config = Arc::new(
        builder()
            .max_pending_age(std::time::Duration::from_secs(600))
            .build()
            .unwrap(),
    );
    let mut code = code();
    code.started_at = Some(1_000);
    let at = |secs: u64| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    let mut random = SeededRandom::new(1);
    let mut fresh = TokenFlow::authorization_code(config.clone(), code.clone());
    assert!(fresh.start(&mut Env::new(at(1_600), &mut random)).is_ok());
    let mut stale = TokenFlow::authorization_code(config, code);
    let Err(err) = stale.start(&mut Env::new(at(1_601), &mut random)) else {
        panic!("too old")
    };
    assert!(
        matches!(&err, Error::Authorization(e) if e.kind == crate::error::AuthErrorKind::PendingExpired),
        "{err:?}"
    );
    assert!(err.to_string().contains("max_pending_age"), "{err}");
}

#[test]
fn backend_services_with_a_client_secret_is_supported_with_a_finding() {
    let config = Arc::new(
        builder()
            .client_auth(ClientAuth::client_secret_post("system-secret"))
            .build()
            .unwrap(),
    );
    let body =
        br#"{"access_token":"at","token_type":"Bearer","expires_in":300,"scope":"system/*.rs"}"#;
    let (request, token) = exchange(TokenFlow::backend_services(config), 200, body);
    let f = form(&request);
    assert_eq!(f["grant_type"], "client_credentials");
    assert_eq!(f["client_secret"], "system-secret");
    assert_eq!(f["client_id"], "my-app");
    assert!(!f.contains_key("client_assertion"));
    let token = token.unwrap();
    assert!(
        token
            .findings
            .iter()
            .any(|f| f.message.contains("asymmetric")),
        "{:?}",
        token.findings
    );
}

#[test]
fn an_absent_scope_means_the_requested_scope_with_a_finding() {
    let config = Arc::new(builder().build().unwrap());
    let mut code = code();
    code.requested_scopes = vec!["openid".into(), "patient/*.rs".into()];
    let body = br#"{"access_token":"at","token_type":"Bearer","expires_in":300}"#;
    let token = exchange(TokenFlow::authorization_code(config, code), 200, body)
        .1
        .unwrap();
    assert_eq!(token.scope.as_deref(), Some("openid patient/*.rs"));
    assert!(
        token
            .findings
            .iter()
            .any(|f| f.message.contains("RFC 6749")),
        "{:?}",
        token.findings
    );
}

/// A signer that reports `alg` and signs nothing real: only the key choice matters here.
#[derive(Debug)]
struct FakeKey(crate::assertion::JwsAlgorithm);

impl Signer for FakeKey {
    fn algorithm(&self) -> crate::assertion::JwsAlgorithm {
        self.0
    }
    fn sign(&self, _: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(vec![7; 8])
    }
    fn public_jwk(&self) -> Option<crate::assertion::Jwk> {
        None
    }
}

fn jwt_part(form: &HashMap<String, String>, index: usize) -> serde_json::Value {
    let part = form["client_assertion"].split('.').nth(index).unwrap();
    serde_json::from_slice(&base64ct::Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
}

fn metadata_with_algs(algs: &[&str]) -> Arc<SmartMetadata> {
    Arc::new(SmartMetadata::from_json_object(
        serde_json::json!({
            "token_endpoint": "https://ehr.example/token",
            "token_endpoint_auth_signing_alg_values_supported": algs,
        })
        .as_object()
        .unwrap()
        .clone(),
    ))
}

fn two_keys() -> Arc<ClientConfig> {
    use crate::assertion::JwsAlgorithm::{ES384, RS384};
    Arc::new(
        builder()
            .client_auth(ClientAuth::private_key_jwt_keys([
                (Arc::new(FakeKey(ES384)) as Arc<dyn Signer>, "es-kid"),
                (Arc::new(FakeKey(RS384)) as Arc<dyn Signer>, "rs-kid"),
            ]))
            .build()
            .unwrap(),
    )
}

#[test]
fn the_assertion_is_signed_with_a_key_the_server_lists() {
    // Several keys: the token endpoint is configured, but the choice needs the metadata.
    let flow = TokenFlow::backend_services(two_keys());
    assert!(crate::flow::needs_discovery(&flow));
    // A key given per call leaves nothing to choose.
    let flow =
        TokenFlow::backend_services(two_keys()).with_options(CallOptions::new().private_key(
            Arc::new(FakeKey(crate::assertion::JwsAlgorithm::ES384)),
            "call-kid",
        ));
    assert!(!crate::flow::needs_discovery(&flow));

    for (algs, alg, kid) in [
        (&["RS384"][..], "RS384", "rs-kid"),
        (&["ES384", "RS384"][..], "ES384", "es-kid"),
        (&["RS256", "ES384"][..], "ES384", "es-kid"),
        (&[][..], "ES384", "es-kid"), // no list: the first (preferred) key
    ] {
        let mut flow = TokenFlow::backend_services(two_keys());
        flow.provide_metadata(metadata_with_algs(algs));
        let request = first_request(&mut flow).unwrap();
        let header = jwt_part(&form(&request), 0);
        assert_eq!(header["alg"], alg, "server lists {algs:?}");
        assert_eq!(header["kid"], kid, "server lists {algs:?}");
    }
}

#[test]
fn no_key_the_server_accepts_fails_before_sending_naming_both_lists() {
    let mut flow = TokenFlow::backend_services(two_keys());
    flow.provide_metadata(metadata_with_algs(&["RS256", "PS256"]));
    let err = first_request(&mut flow).unwrap_err();
    assert!(matches!(err, Error::Configuration(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("(ES384, RS384)"), "{text}");
    assert!(text.contains("(RS256, PS256)"), "{text}");
    assert!(
        text.contains("token_endpoint_auth_signing_alg_values_supported"),
        "{text}"
    );

    // A single key is checked the same way.
    let one_key = Arc::new(
        builder()
            .client_auth(ClientAuth::private_key_jwt(
                FakeKey(crate::assertion::JwsAlgorithm::ES384),
                "es-kid",
            ))
            .build()
            .unwrap(),
    );
    let mut flow = TokenFlow::backend_services(one_key);
    flow.provide_metadata(metadata_with_algs(&["RS384"]));
    let text = first_request(&mut flow).unwrap_err().to_string();
    assert!(
        text.contains("(ES384)") && text.contains("(RS384)"),
        "{text}"
    );
}

#[test]
fn the_default_assertion_lifetime_leaves_room_for_clock_skew() {
    assert_eq!(
        crate::assertion::DEFAULT_ASSERTION_LIFETIME,
        std::time::Duration::from_secs(240)
    );
    let mut flow = TokenFlow::backend_services(two_keys());
    flow.provide_metadata(metadata_with_algs(&["ES384"]));
    let claims = jwt_part(&form(&first_request(&mut flow).unwrap()), 1);
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 240, "a minute under SMART's five-minute cap");
}
