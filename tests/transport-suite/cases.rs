//! The scenarios, each generic over the transport's [`TestClient`]. Every one asserts what the
//! server received as well as what the client returned.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use p384::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use safire_core::http::{self, HeaderValue, header};
use safire_core::{
    AuthorizeParams, CallOptions, ClientAuth, ClientConfig, ClientConfigBuilder, ClientMetadata,
    Env, Error, Flow, HttpRequest, HttpResponse, Jwk, JwsAlgorithm, Limits, NetworkError,
    NetworkErrorKind, Operation, PrivateKey, SecretString, Signer, Step, USER_AGENT,
};
use serde_json::{Value, json};

use super::servers::{Recorded, Reply, SaturatedListener, TestCa, TestServer, refused_url};
use super::{TestClient, tracing_text};

// The companion endpoints (introspection, revocation, registration management).
#[path = "companion.rs"]
mod companion;
pub use companion::*;

// ----------------------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------------------

const REDIRECT_URI: &str = "https://app.example/callback";
const DISCOVERY: &str = "/fhir/.well-known/smart-configuration";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Short timeouts so failure scenarios finish fast.
fn fast_limits() -> Limits {
    Limits::default()
        .connect_timeout(Duration::from_secs(2))
        .call_timeout(Duration::from_secs(2))
}

/// A configuration for the FHIR server under `server`'s `/fhir` (http needs the loopback opt-in).
fn config_for(server: &TestServer) -> ClientConfigBuilder {
    let base = server.url("/fhir");
    let insecure = base.starts_with("http:");
    ClientConfig::builder(base)
        .client_id("app")
        .redirect_uri(REDIRECT_URI)
        .scopes(["openid", "fhirUser", "launch/patient", "patient/*.rs"])
        .allow_insecure_localhost(insecure)
}

fn client<C: TestClient>(config: ClientConfigBuilder) -> C {
    build::<C>(config, fast_limits(), None)
}

fn build<C: TestClient>(config: ClientConfigBuilder, limits: Limits, ca: Option<&TestCa>) -> C {
    C::build(config.build().unwrap(), limits, ca.map(TestCa::ca_pem)).unwrap()
}

/// A realistic `.well-known/smart-configuration` for a server at `base`.
fn smart_configuration(base: &str) -> Value {
    json!({
        "issuer": format!("{base}/fhir"),
        "jwks_uri": format!("{base}/jwks"),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "scopes_supported": ["openid", "fhirUser", "launch/patient", "patient/*.rs", "system/*.rs", "offline_access"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": [
            "launch-standalone", "launch-ehr", "client-public", "client-confidential-symmetric",
            "client-confidential-asymmetric", "context-standalone-patient", "permission-v2",
            "authorize-post"
        ]
    })
}

fn token_json(access: &str, refresh: Option<&str>) -> Value {
    let mut token = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "openid fhirUser launch/patient patient/*.rs",
        "patient": "pat-123",
        "need_patient_banner": true
    });
    if let Some(refresh) = refresh {
        token["refresh_token"] = json!(refresh);
    }
    token
}

/// The server every flow talks to: discovery, token and registration, with scripted replies.
fn smart_server(
    token: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    register: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
) -> TestServer {
    TestServer::http(move |request, base| match request.path() {
        DISCOVERY => Reply::json(200, smart_configuration(base)),
        "/token" => token(request),
        "/register" => register(request),
        _ => Reply::text(404, "text/plain", "not found"),
    })
}

fn network(err: &Error) -> &NetworkError {
    match err {
        Error::Network(network) => network,
        other => panic!("expected a network error, got {other:?} ({other})"),
    }
}

/// Asserts that the transport sent the headers every request must carry.
fn assert_common_headers(request: &Recorded) {
    assert_eq!(
        request.header("user-agent"),
        Some(USER_AGENT),
        "{request:?}"
    );
    assert_eq!(
        request.header("accept"),
        Some("application/json"),
        "{request:?}"
    );
}

/// An ES384 key for `private_key_jwt`, built directly on p384 (independent of the core's
/// key loading): signs JWS ES384 (`r || s`, 96 bytes).
#[derive(Debug)]
pub struct TestEs384(p384::ecdsa::SigningKey);

impl TestEs384 {
    /// A fixed test key, and its PKCS#8 PEM (which must never leak).
    pub fn fixed() -> (Self, String) {
        let key = p384::ecdsa::SigningKey::from_slice(&[0x5a; 48]).unwrap();
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let parsed = p384::ecdsa::SigningKey::from_pkcs8_pem(&pem).unwrap();
        (Self(parsed), pem)
    }

    fn verifying_key(&self) -> p384::ecdsa::VerifyingKey {
        *self.0.verifying_key()
    }
}

impl Signer for TestEs384 {
    fn algorithm(&self) -> JwsAlgorithm {
        JwsAlgorithm::ES384
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, Error> {
        let signature: p384::ecdsa::Signature = signature::Signer::sign(&self.0, signing_input);
        Ok(signature.to_bytes().to_vec())
    }

    fn public_jwk(&self) -> Option<Jwk> {
        None
    }
}

/// A GET with an `Authorization` header, run through `TestClient::run`: the redirect policy's
/// cross-origin rule can only be seen on a request that carries credentials.
pub struct GetWithAuthorization {
    url: String,
    authorization: String,
}

impl Flow for GetWithAuthorization {
    type Output = (u16, Vec<u8>);

    fn start(&mut self, _env: &mut Env<'_>) -> Result<Step<Self::Output>, Error> {
        let mut request: HttpRequest = http::Request::get(self.url.as_str())
            .header(header::ACCEPT, "application/json")
            .body(Vec::new())
            .unwrap();
        let mut value = HeaderValue::from_str(&self.authorization).unwrap();
        value.set_sensitive(true);
        request.headers_mut().insert(header::AUTHORIZATION, value);
        request.extensions_mut().insert(Operation::Discovery);
        Ok(Step::Send(request))
    }

    fn on_response(
        &mut self,
        response: HttpResponse,
        _env: &mut Env<'_>,
    ) -> Result<Step<Self::Output>, Error> {
        Ok(Step::Done((
            response.status().as_u16(),
            response.into_body(),
        )))
    }
}

fn get_with_authorization(url: String, authorization: &str) -> GetWithAuthorization {
    GetWithAuthorization {
        url,
        authorization: authorization.to_owned(),
    }
}

/// A callback URL for `state` with `code`.
fn callback(state: &str, code: &str) -> String {
    format!("{REDIRECT_URI}?code={code}&state={state}")
}

// ----------------------------------------------------------------------------------------------
// Flows end to end
// ----------------------------------------------------------------------------------------------

pub fn discovery_end_to_end<C: TestClient>() {
    let server = smart_server(
        |_| Reply::json(500, json!({})),
        |_| Reply::json(500, json!({})),
    );
    let client: C = client(config_for(&server));

    let metadata = client.server_metadata().unwrap();
    assert_eq!(
        metadata.token_endpoint.as_deref(),
        Some(server.url("/token").as_str())
    );
    assert_eq!(
        metadata.registration_endpoint.as_deref(),
        Some(server.url("/register").as_str())
    );
    let again = client.server_metadata().unwrap();
    assert!(Arc::ptr_eq(&metadata, &again), "metadata is cached");

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "one discovery request: {requests:?}");
    let request = &requests[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.target, DISCOVERY);
    assert_common_headers(request);
    assert_eq!(request.header("authorization"), None);
    assert!(request.body.is_empty());
}

pub fn discovery_failure_is_not_cached<C: TestClient>() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = TestServer::http(move |_, base| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::text(503, "text/html", "<html>maintenance</html>")
        } else {
            Reply::json(200, smart_configuration(base))
        }
    });
    let client: C = client(config_for(&server));
    let err = client.server_metadata().unwrap_err();
    assert!(matches!(err, Error::Discovery(_)), "{err:?}");
    assert_eq!(err.status(), Some(503));
    client.server_metadata().unwrap();
    client.server_metadata().unwrap();
    assert_eq!(
        server.requests().len(),
        2,
        "failure not cached, success cached"
    );
}

pub fn concurrent_first_discovery_sends_one_request<C: TestClient>() {
    let server = TestServer::http(|_, base| {
        std::thread::sleep(Duration::from_millis(300));
        Reply::json(200, smart_configuration(base))
    });
    let client: C = client(config_for(&server));
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| client.server_metadata()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let first = results[0].as_ref().unwrap().clone();
    for result in &results {
        assert!(Arc::ptr_eq(&first, result.as_ref().unwrap()));
    }
    assert_eq!(
        server.requests_to(DISCOVERY).len(),
        1,
        "eight concurrent first calls, one request"
    );
}

pub fn standalone_launch_end_to_end<C: TestClient>() {
    let server = smart_server(
        |_| Reply::json(200, token_json("at-launch-1", Some("rt-launch-1"))),
        |_| Reply::json(500, json!({})),
    );
    let client: C = client(config_for(&server));

    let request = client
        .authorization_url(AuthorizeParams::default())
        .unwrap();
    assert!(
        request
            .url
            .as_str()
            .starts_with(&format!("{}?", server.url("/authorize"))),
        "{}",
        request.url
    );
    let query: std::collections::BTreeMap<String, String> = request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], "app");
    assert_eq!(query["redirect_uri"], REDIRECT_URI);
    assert_eq!(query["aud"], server.url("/fhir"));
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["state"], request.pending.state());
    assert!(!query.contains_key("code_verifier"));

    let pending = request.pending;
    let token = client
        .request_access_token(
            pending.clone(),
            &callback(pending.state(), "code-abc"),
            CallOptions::new(),
        )
        .unwrap();
    assert_eq!(token.access_token.expose(), "at-launch-1");
    assert_eq!(
        token.refresh_token.as_ref().map(SecretString::expose),
        Some("rt-launch-1")
    );
    assert_eq!(token.launch.patient.as_deref(), Some("pat-123"));
    assert_eq!(token.expires_in, Some(3600));

    assert_eq!(server.requests_to(DISCOVERY).len(), 1, "discovered once");
    let posts = server.requests_to("/token");
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.method, "POST");
    assert_common_headers(post);
    assert_eq!(
        post.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(post.header("authorization"), None, "public client");
    let form = post.form();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "code-abc");
    assert_eq!(form["redirect_uri"], REDIRECT_URI);
    assert_eq!(form["code_verifier"], pending.code_verifier().expose());
    assert_eq!(form["client_id"], "app");
}

pub fn ehr_launch_in_one_call<C: TestClient>() {
    let server = smart_server(
        |_| Reply::json(200, token_json("at-ehr", None)),
        |_| Reply::json(500, json!({})),
    );
    let client: C = client(config_for(&server));

    // A launch from another server is refused before anything is sent.
    let err = client
        .ehr_launch_authorization(
            "/launch?iss=https%3A%2F%2Fother.example%2Ffhir&launch=L-evil",
            AuthorizeParams::default(),
        )
        .unwrap_err();
    match &err {
        Error::Authorization(auth) => {
            assert_eq!(
                auth.kind,
                safire_core::AuthErrorKind::LaunchIssuerNotAllowed
            )
        }
        other => panic!("expected a launch refusal, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("https://other.example/fhir"), "{text}");
    assert!(text.contains(&server.url("/fhir")), "{text}");
    assert!(
        server.requests().is_empty(),
        "nothing sent for a foreign launch"
    );

    // The client's own server: discovery, then the authorization URL with the launch value.
    let launch_url = format!(
        "/launch?iss={}&launch=L-42",
        url_encode(&server.url("/fhir"))
    );
    let request = client
        .ehr_launch_authorization(&launch_url, AuthorizeParams::default())
        .unwrap();
    let query: std::collections::BTreeMap<String, String> = request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(query["launch"], "L-42");
    assert_eq!(query["aud"], server.url("/fhir"));
    assert_eq!(server.requests_to(DISCOVERY).len(), 1);
}

/// Percent-encodes everything but unreserved characters.
fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub fn refresh_with_client_secret_basic<C: TestClient>() {
    let server = smart_server(
        |request| {
            let refresh = request.form()["refresh_token"].clone();
            Reply::json(200, token_json(&format!("at-for-{refresh}"), Some("rt-2")))
        },
        |_| Reply::json(500, json!({})),
    );
    let client: C = client(
        config_for(&server)
            .token_endpoint(server.url("/token"))
            .client_auth(ClientAuth::client_secret_basic("s3cr3t")),
    );

    let token = client
        .refresh_token(
            SecretString::new("rt-1"),
            CallOptions::new().scopes(["patient/Observation.rs"]),
        )
        .unwrap();
    assert_eq!(token.access_token.expose(), "at-for-rt-1");
    // Four more refreshes: a pooled client reuses connections. (hyper-util returns a
    // connection to its pool on a spawned task, so one request may race it and open a new
    // one; reuse is asserted over the series, not for one pair.)
    for _ in 0..4 {
        client
            .refresh_token(SecretString::new("rt-2"), CallOptions::new())
            .unwrap();
    }

    let requests = server.requests();
    assert_eq!(requests.len(), 5, "configured endpoint: no discovery");
    let post = &requests[0];
    assert_eq!(post.method, "POST");
    assert_eq!(post.target, "/token");
    assert_common_headers(post);
    assert_eq!(
        post.header("authorization"),
        Some(format!("Basic {}", Base64::encode_string(b"app:s3cr3t")).as_str())
    );
    let form = post.form();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "rt-1");
    assert_eq!(form["scope"], "patient/Observation.rs");
    assert!(!form.contains_key("client_id"), "the id travels in Basic");
    assert!(!form.contains_key("client_secret"));
    let connections: std::collections::HashSet<_> = requests.iter().map(|r| r.connection).collect();
    assert!(
        connections.len() <= 2,
        "five requests over {} connections: the pool is not reused",
        connections.len()
    );
}

pub fn backend_services_with_es384<C: TestClient>() {
    let server = smart_server(
        |_| {
            Reply::json(
                200,
                json!({"access_token": "at-backend", "token_type": "bearer", "expires_in": 300,
                       "scope": "system/Patient.rs system/Observation.rs"}),
            )
        },
        |_| Reply::json(500, json!({})),
    );
    let (key, _pem) = TestEs384::fixed();
    let verifying_key = key.verifying_key();
    let client: C = client(
        ClientConfig::builder(server.url("/fhir"))
            .allow_insecure_localhost(true)
            .client_id("bulk-client")
            .scopes(["system/Patient.rs", "system/Observation.rs"])
            .client_auth(ClientAuth::private_key_jwt(key, "es384-kid")),
    );

    let token = client.request_backend_token(CallOptions::new()).unwrap();
    assert_eq!(token.access_token.expose(), "at-backend");
    assert_eq!(token.expires_in, Some(300));

    assert_eq!(server.requests_to(DISCOVERY).len(), 1);
    let posts = server.requests_to("/token");
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_common_headers(post);
    assert_eq!(post.header("authorization"), None);
    let form = post.form();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "system/Patient.rs system/Observation.rs");
    assert_eq!(form["client_assertion_type"], JWT_BEARER);
    let assertion = &form["client_assertion"];
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS");
    {
        let decode = |part: &str| -> Value {
            serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
        };
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "ES384");
        assert_eq!(header["kid"], "es384-kid");
        let claims = decode(parts[1]);
        assert_eq!(claims["iss"], "bulk-client");
        assert_eq!(claims["sub"], "bulk-client");
        assert_eq!(claims["aud"], server.url("/token"));
        assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
        let lifetime = claims["exp"].as_u64().unwrap() as i64
            - std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
        assert!((0..=300).contains(&lifetime), "exp within five minutes");
        let signature =
            p384::ecdsa::Signature::from_slice(&Base64UrlUnpadded::decode_vec(parts[2]).unwrap())
                .unwrap();
        signature::Verifier::verify(
            &verifying_key,
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &signature,
        )
        .expect("the assertion verifies with the client's public key");
    }
}

/// An RS384 test key (the sandbox's committed vector).
const RS384_PEM: &str = include_str!("../../crates/safire-sandbox/testdata/vectors/rs384.pem");

/// A server whose metadata lists `algs` as its signing algorithms, with a token endpoint.
fn server_signing_with(algs: &'static [&'static str]) -> TestServer {
    TestServer::http(move |request, base| match request.path() {
        DISCOVERY => {
            let mut metadata = smart_configuration(base);
            metadata["token_endpoint_auth_signing_alg_values_supported"] = json!(algs);
            Reply::json(200, metadata)
        }
        "/token" => Reply::json(
            200,
            json!({"access_token": "at-two-keys", "token_type": "Bearer", "expires_in": 300,
                   "scope": "system/*.rs"}),
        ),
        _ => Reply::text(404, "text/plain", "not found"),
    })
}

fn two_key_client<C: TestClient>(server: &TestServer) -> C {
    let (es, _pem) = TestEs384::fixed();
    let rs = PrivateKey::from_pem(RS384_PEM).unwrap();
    client(
        ClientConfig::builder(server.url("/fhir"))
            .allow_insecure_localhost(true)
            .client_id("bulk-client")
            // Configured: only the key choice makes the client read the metadata.
            .token_endpoint(server.url("/token"))
            .client_auth(ClientAuth::private_key_jwt_keys([
                (Arc::new(es) as Arc<dyn Signer>, "es-kid"),
                (Arc::new(rs) as Arc<dyn Signer>, "rs-kid"),
            ])),
    )
}

pub fn assertion_key_follows_the_servers_algorithms<C: TestClient>() {
    let server = server_signing_with(&["RS384"]);
    let client: C = two_key_client(&server);
    let token = client.request_backend_token(CallOptions::new()).unwrap();
    assert_eq!(token.access_token.expose(), "at-two-keys");
    assert_eq!(
        server.requests_to(DISCOVERY).len(),
        1,
        "the choice needs the metadata"
    );
    let posts = server.requests_to("/token");
    assert_eq!(posts.len(), 1);
    let form = posts[0].form();
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
    };
    let parts: Vec<&str> = form["client_assertion"].split('.').collect();
    let header = decode(parts[0]);
    assert_eq!(
        header["alg"], "RS384",
        "the ES384 key is not one the server lists"
    );
    assert_eq!(header["kid"], "rs-kid");
    let claims = decode(parts[1]);
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(
        lifetime, 240,
        "room under SMART's 300 s for a server clock ahead"
    );

    // No key the server lists: nothing is posted, and the error names both lists.
    let server = server_signing_with(&["RS256", "PS256"]);
    let client: C = two_key_client(&server);
    let err = client
        .request_backend_token(CallOptions::new())
        .unwrap_err();
    assert!(matches!(err, Error::Configuration(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("(ES384, RS384)") && text.contains("(RS256, PS256)"),
        "{text}"
    );
    assert!(
        server.requests_to("/token").is_empty(),
        "failed before sending"
    );
}

pub fn registration_with_initial_access_token<C: TestClient>() {
    let server = smart_server(
        |_| Reply::json(500, json!({})),
        |request| {
            let sent = request.json();
            Reply::json(
                201,
                json!({
                    "client_id": "registered-42",
                    "client_secret": "issued-secret",
                    "client_id_issued_at": 1_700_000_000u64,
                    "client_secret_expires_at": 0,
                    "client_name": sent["client_name"],
                    "redirect_uris": sent["redirect_uris"],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "token_endpoint_auth_method": "client_secret_basic"
                }),
            )
        },
    );
    let client: C =
        client(ClientConfig::builder(server.url("/fhir")).allow_insecure_localhost(true));
    let metadata = ClientMetadata::new("Suite App")
        .redirect_uris([REDIRECT_URI])
        .grant_types(["authorization_code", "refresh_token"])
        .response_types(["code"])
        .token_endpoint_auth_method("client_secret_basic")
        .scope("openid launch/patient patient/*.rs");

    let registered = client
        .register_client(&metadata, None, Some(SecretString::new("iat-123")))
        .unwrap();
    assert_eq!(registered.client_id, "registered-42");
    assert_eq!(
        registered.client_secret.as_ref().map(SecretString::expose),
        Some("issued-secret")
    );

    assert_eq!(
        server.requests_to(DISCOVERY).len(),
        1,
        "endpoint discovered"
    );
    let posts = server.requests_to("/register");
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.method, "POST");
    assert_common_headers(post);
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(post.header("authorization"), Some("Bearer iat-123"));
    let body = post.json();
    assert_eq!(body["client_name"], "Suite App");
    assert_eq!(body["redirect_uris"], json!([REDIRECT_URI]));
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
}

pub fn run_custom_flow<C: TestClient>() {
    let server = TestServer::http(|request, _| {
        Reply::text(
            200,
            "text/plain",
            format!("hello {}", request.header("authorization").unwrap_or("-")),
        )
    });
    let client: C = client(config_for(&server));
    let (status, body) = client
        .run(get_with_authorization(server.url("/echo"), "Bearer abc"))
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, b"hello Bearer abc");
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        1,
        "run() does not discover for a flow that does not want it"
    );
    assert_common_headers(&requests[0]);
}

// ----------------------------------------------------------------------------------------------
// Redirects
// ----------------------------------------------------------------------------------------------

pub fn redirect_https_to_http_is_blocked<C: TestClient>() {
    let ca = TestCa::new();
    let plain = TestServer::http(|_, base| Reply::json(200, smart_configuration(base)));
    let target = plain.url(DISCOVERY);
    let server = TestServer::https(&ca, move |_, _| {
        Reply::redirect(302, &format!("{target}?sig=secret-in-query"))
    });
    let client: C = build(config_for(&server), fast_limits(), Some(&ca));

    let err = client.server_metadata().unwrap_err();
    let network = network(&err);
    assert_eq!(network.kind, NetworkErrorKind::RedirectRefused);
    assert_eq!(
        err.to_string(),
        format!(
            "HTTP request failed: Blocked redirect to non-HTTPS URL: {}",
            plain.url(DISCOVERY)
        )
    );
    assert_eq!(server.requests().len(), 1);
    assert!(
        plain.requests().is_empty(),
        "the http target is never contacted"
    );
}

pub fn redirect_https_to_https_is_followed<C: TestClient>() {
    let ca = TestCa::new();
    let real = TestServer::https(&ca, |_, base| Reply::json(200, smart_configuration(base)));
    let target = real.url("/fhir/.well-known/smart-configuration");
    let moved = TestServer::https(&ca, move |_, _| Reply::redirect(301, &target));
    // Another origin: followed only with the explicit opt-in.
    let limits = fast_limits().allow_cross_origin_discovery_redirects(true);
    let client: C = build(config_for(&moved), limits, Some(&ca));

    let metadata = client.server_metadata().unwrap();
    assert_eq!(
        metadata.token_endpoint.as_deref(),
        Some(real.url("/token").as_str())
    );
    assert_eq!(moved.requests().len(), 1);
    let followed = real.requests();
    assert_eq!(followed.len(), 1);
    assert_eq!(followed[0].method, "GET");
    assert_common_headers(&followed[0]);
}

/// Issue 11.3: discovery may not hand the client another origin's metadata by default.
pub fn discovery_redirect_to_another_origin_is_refused<C: TestClient>() {
    let evil = TestServer::http(|_, base| Reply::json(200, smart_configuration(base)));
    let target = evil.url(DISCOVERY);
    let server = TestServer::http(move |_, _| Reply::redirect(302, &target));
    let client: C = client(config_for(&server));

    let err = client.server_metadata().unwrap_err();
    assert_eq!(
        network(&err).kind,
        NetworkErrorKind::RedirectRefused,
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&evil.base_url()),
        "names the target origin: {text}"
    );
    assert!(
        text.contains("allow_cross_origin_discovery_redirects"),
        "names the opt-in: {text}"
    );
    assert!(
        evil.requests().is_empty(),
        "the other origin is never contacted"
    );
}

/// Issue 11.2: a redirect target with `user:password@` is refused before anything is sent,
/// and the credentials never appear in the error.
pub fn redirect_target_with_userinfo_is_refused<C: TestClient>() {
    let other = TestServer::http(|_, base| Reply::json(200, smart_configuration(base)));
    let target = other
        .url(DISCOVERY)
        .replacen("http://", "http://mallory:userinfo-canary@", 1);
    let server = TestServer::http(move |_, _| Reply::redirect(302, &target));
    let limits = fast_limits().allow_cross_origin_discovery_redirects(true);
    let client: C = build(config_for(&server), limits, None);

    let err = client.server_metadata().unwrap_err();
    assert_eq!(
        network(&err).kind,
        NetworkErrorKind::RedirectRefused,
        "{err}"
    );
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("userinfo-canary"), "{text}");
        assert!(!text.contains("mallory"), "{text}");
    }
    assert!(other.requests().is_empty(), "nothing reaches the target");
}

/// Issue 11.1: a server that echoes what it received (the Basic header, its decoding, the
/// form body with the refresh token) in every OAuth field and in a 200 without a token gets
/// none of it into the error's Display or Debug, nor into the transport's tracing output.
pub fn echoed_secrets_are_scrubbed_from_errors<C: TestClient>() {
    const SECRET: &str = "echo+secret/canary:1 x";
    const REFRESH: &str = "echo-refresh-canary-42";
    super::captured_tracing();
    let echo = |request: &Recorded| {
        let header = request
            .header("authorization")
            .unwrap_or_default()
            .to_owned();
        let decoded = header
            .strip_prefix("Basic ")
            .and_then(|b| Base64::decode_vec(b).ok())
            .map(|d| String::from_utf8_lossy(&d).into_owned())
            .unwrap_or_default();
        let body = String::from_utf8_lossy(&request.body).into_owned();
        format!("{header} | {decoded} | {body} | {SECRET} | {REFRESH}")
    };
    let server = smart_server(
        move |request| {
            let echoed = echo(request);
            if request.form().contains_key("scope") {
                // A 200 without an access token whose member names repeat the request.
                Reply::json(200, json!({ echoed.clone(): 1, REFRESH: 2 }))
            } else {
                Reply::json(
                    401,
                    json!({
                        "error": format!("invalid_client {echoed}"),
                        "error_description": echoed.clone(),
                        "error_uri": format!("https://ehr.example/e?{echoed}"),
                    }),
                )
            }
        },
        |_| Reply::json(500, json!({})),
    );
    for auth in [
        ClientAuth::client_secret_basic(SECRET),
        ClientAuth::client_secret_basic_raw(SECRET),
        ClientAuth::client_secret_post(SECRET),
    ] {
        let client: C = client(
            config_for(&server)
                .token_endpoint(server.url("/token"))
                .client_auth(auth),
        );
        for options in [CallOptions::new(), CallOptions::new().scopes(["openid"])] {
            let err = client
                .refresh_token(SecretString::new(REFRESH), options)
                .unwrap_err();
            let text = format!("{err} {err:?}");
            let sent = server.requests().last().unwrap().clone();
            let mut forms = vec![SECRET.to_owned(), REFRESH.to_owned()];
            if let Some(header) = sent.header("authorization") {
                forms.push(header.to_owned());
                forms.push(header.trim_start_matches("Basic ").to_owned());
            }
            forms.push("echo%2Bsecret%2Fcanary%3A1".to_owned());
            for form in &forms {
                assert!(!text.contains(form.as_str()), "'{form}' leaked: {text}");
            }
        }
    }
    let logged = tracing_text();
    for canary in ["echo+secret", "echo-refresh-canary"] {
        assert!(!logged.contains(canary), "{canary} in tracing output");
    }
}

/// The `hop=N` counter of a redirect-loop request (0 on the first).
fn hop(request: &Recorded) -> u32 {
    request
        .target
        .split("hop=")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

pub fn redirect_loop_stops_at_the_limit<C: TestClient>() {
    let server = TestServer::http(|request, _| {
        Reply::redirect(302, &format!("{DISCOVERY}?hop={}", hop(request) + 1))
    });
    let client: C = client(config_for(&server));
    let err = client.server_metadata().unwrap_err();
    assert_eq!(network(&err).kind, NetworkErrorKind::TooManyRedirects);
    assert!(err.to_string().contains("Too many redirects"), "{err}");
    let max_hops = Limits::default().redirects.max_hops;
    assert_eq!(
        server.requests().len(),
        max_hops + 1,
        "the first request and {max_hops} hops"
    );
}

pub fn cross_origin_redirect_drops_authorization<C: TestClient>() {
    let other = TestServer::http(|_, _| Reply::text(200, "text/plain", "landed"));
    let landing = other.url("/landing");
    let server = TestServer::http(move |request, _| match request.path() {
        "/start" => Reply::redirect(302, "/same-origin"),
        _ => Reply::redirect(307, &landing),
    });
    let limits = fast_limits().allow_cross_origin_discovery_redirects(true);
    let client: C = build(config_for(&server), limits, None);
    let (status, body) = client
        .run(get_with_authorization(
            server.url("/start"),
            "Bearer xorigin-token",
        ))
        .unwrap();
    assert_eq!((status, body.as_slice()), (200, &b"landed"[..]));

    let first = server.requests();
    assert_eq!(first.len(), 2);
    assert_eq!(
        first[0].header("authorization"),
        Some("Bearer xorigin-token")
    );
    assert_eq!(
        first[1].header("authorization"),
        Some("Bearer xorigin-token"),
        "a same-origin hop keeps Authorization"
    );
    let landed = other.requests();
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].method, "GET");
    assert_eq!(
        landed[0].header("authorization"),
        None,
        "a cross-origin hop drops Authorization"
    );
}

pub fn token_endpoint_redirects_are_refused<C: TestClient>() {
    for status in [307, 308] {
        let target = TestServer::http(|_, _| Reply::json(200, token_json("stolen", None)));
        let location = target.url("/token");
        let server = smart_server(
            move |_| Reply::redirect(status, &location),
            |_| Reply::json(500, json!({})),
        );
        let client: C = client(
            config_for(&server)
                .token_endpoint(server.url("/token"))
                .client_auth(ClientAuth::client_secret_basic("never-replayed")),
        );
        let err = client
            .refresh_token(SecretString::new("rt-1"), CallOptions::new())
            .unwrap_err();
        assert_eq!(
            network(&err).kind,
            NetworkErrorKind::RedirectRefused,
            "{status}"
        );
        assert!(
            err.to_string().contains(&format!(
                "Refused to follow HTTP {status} redirect from the token endpoint"
            )),
            "{err}"
        );
        assert_eq!(server.requests_to("/token").len(), 1);
        assert!(
            target.requests().is_empty(),
            "HTTP {status}: target got a request"
        );
    }
}

pub fn registration_endpoint_redirects_are_refused<C: TestClient>() {
    for status in [307, 308] {
        let target = TestServer::http(|_, _| Reply::json(201, json!({"client_id": "x"})));
        let location = target.url("/register");
        let server = smart_server(
            |_| Reply::json(500, json!({})),
            move |_| Reply::redirect(status, &location),
        );
        let client: C = client(config_for(&server));
        let err = client
            .register_client(
                &ClientMetadata::new("App").redirect_uris([REDIRECT_URI]),
                Some(&server.url("/register")),
                Some(SecretString::new("iat-never-replayed")),
            )
            .unwrap_err();
        assert_eq!(
            network(&err).kind,
            NetworkErrorKind::RedirectRefused,
            "{status}"
        );
        assert!(err.to_string().contains("registration endpoint"), "{err}");
        assert_eq!(server.requests_to("/register").len(), 1);
        assert!(
            target.requests().is_empty(),
            "HTTP {status}: target got a request"
        );
    }
}

// ----------------------------------------------------------------------------------------------
// Timeouts, size cap, connection and TLS failures
// ----------------------------------------------------------------------------------------------

fn one_second_limits() -> Limits {
    Limits::default()
        .connect_timeout(Duration::from_secs(1))
        .call_timeout(Duration::from_secs(1))
}

fn assert_times_out<C: TestClient>(server: &TestServer) {
    let limits = one_second_limits();
    let budget = limits.call_timeout + Duration::from_secs(1);
    let client: C = build(config_for(server), limits, None);
    let started = Instant::now();
    let err = client.server_metadata().unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(network(&err).kind, NetworkErrorKind::Timeout, "{err}");
    assert!(elapsed < budget, "took {elapsed:?}, budget {budget:?}");
    assert!(
        elapsed >= Duration::from_millis(900),
        "gave up after {elapsed:?}, before the timeout"
    );
}

/// Issue 11.5: one deadline covers the whole call. Five redirects that each take ~0.5 s
/// (trickled) would pass a per-request timeout of 1.5 s one by one; the call gives up at
/// 1.5 s instead of after them all.
pub fn one_deadline_covers_discovery_redirects_and_the_request<C: TestClient>() {
    let server = TestServer::http(|request, _| {
        let location = format!("{DISCOVERY}?hop={}", hop(request) + 1);
        let raw = format!(
            "HTTP/1.1 302 Found\r\nlocation: {location}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
        );
        let interval = Duration::from_millis(500) / raw.len() as u32;
        Reply::Trickle {
            raw: raw.into_bytes(),
            interval,
        }
    });
    let call_timeout = Duration::from_millis(1500);
    let limits = Limits::default()
        .connect_timeout(Duration::from_secs(1))
        .call_timeout(call_timeout);
    let client: C = build(config_for(&server), limits, None);
    let started = Instant::now();
    let err = client.server_metadata().unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(network(&err).kind, NetworkErrorKind::Timeout, "{err}");
    assert!(
        err.to_string().contains("call_timeout"),
        "names the setting: {err}"
    );
    assert!(
        elapsed >= call_timeout - Duration::from_millis(50),
        "gave up after {elapsed:?}, before the deadline"
    );
    // The issue asks for 100 ms; the margin here absorbs a loaded 2-core CI machine.
    assert!(
        elapsed < call_timeout + Duration::from_millis(400),
        "took {elapsed:?} for a {call_timeout:?} deadline"
    );
    assert!(
        server.requests().len() >= 2,
        "the redirects were being followed"
    );
}

pub fn silent_server_times_out<C: TestClient>() {
    let server = TestServer::http(|_, _| Reply::Hang);
    assert_times_out::<C>(&server);
    assert_eq!(server.requests().len(), 1);
}

/// Callers queued behind a failing first discovery get its failure: they do not retry one
/// after another, each waiting a whole timeout.
pub fn concurrent_callers_share_a_failed_discovery<C: TestClient>() {
    let server = TestServer::http(|_, _| Reply::Hang);
    let limits = one_second_limits();
    let budget = limits.call_timeout + Duration::from_secs(1);
    let client: C = build(config_for(&server), limits, None);
    let started = Instant::now();
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| client.server_metadata()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    for result in &results {
        let err = result.as_ref().unwrap_err();
        assert_eq!(network(err).kind, NetworkErrorKind::Timeout, "{err}");
    }
    assert!(
        elapsed < budget,
        "four callers took {elapsed:?}, budget {budget:?}"
    );
    assert_eq!(server.requests().len(), 1, "one discovery for all four");
}

pub fn trickling_server_times_out<C: TestClient>() {
    let body = smart_configuration("https://ehr.example").to_string();
    let raw = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let server = TestServer::http(move |_, _| Reply::Trickle {
        raw: raw.clone().into_bytes(),
        interval: Duration::from_secs(1),
    });
    assert_times_out::<C>(&server);
}

pub fn huge_body_is_cut_off_at_the_cap<C: TestClient>() {
    const FIFTY_MIB: u64 = 50 * 1024 * 1024;
    let server = TestServer::http(|_, _| Reply::Stream { len: FIFTY_MIB });
    let limits = Limits::default().call_timeout(Duration::from_secs(10));
    let cap = limits.max_response_bytes;
    let client: C = build(config_for(&server), limits, None);
    let err = client.server_metadata().unwrap_err();
    let network = network(&err);
    assert_eq!(network.kind, NetworkErrorKind::BodyTooLarge, "{err}");
    assert_eq!(*network, safire_core::transport::body_too_large(cap));
    // The client stopped reading near the cap: the server could only push what socket buffers
    // hold beyond it, nowhere near 50 MiB.
    // Not a race fix: a correct client has already stopped, so there is no event to wait for,
    // and reading the counter sooner could only make it smaller (the assertion easier). The
    // 200 ms is an observation window in which a client that went on draining the body in
    // the background (e.g. a pooled connection task) would push the count past the bound.
    std::thread::sleep(Duration::from_millis(200));
    let streamed = server.streamed();
    assert!(
        streamed < 16 * 1024 * 1024,
        "the server wrote {streamed} bytes: the body was read far past the {cap}-byte cap"
    );
}

pub fn body_at_the_cap_is_accepted<C: TestClient>() {
    const CAP: usize = 64 * 1024;
    let padded = |extra: usize| {
        move |_: &Recorded, base: &str| {
            let mut body = smart_configuration(base).to_string().into_bytes();
            body.resize(CAP + extra, b' ');
            Reply::text(200, "application/json", body)
        }
    };
    let limits = fast_limits().max_response_bytes(CAP);
    let exact = TestServer::http(padded(0));
    let client: C = build(config_for(&exact), limits.clone(), None);
    client
        .server_metadata()
        .expect("a body of exactly the cap is accepted");

    let over = TestServer::http(padded(1));
    let client: C = build(config_for(&over), limits, None);
    let err = client.server_metadata().unwrap_err();
    assert_eq!(network(&err).kind, NetworkErrorKind::BodyTooLarge, "{err}");
}

pub fn connection_refused<C: TestClient>() {
    let base = refused_url();
    let client: C = client(
        ClientConfig::builder(format!("{base}/fhir"))
            .allow_insecure_localhost(true)
            .client_id("app"),
    );
    let err = client.server_metadata().unwrap_err();
    let network = network(&err);
    assert_eq!(network.kind, NetworkErrorKind::Connect, "{err}");
    assert!(
        err.to_string()
            .starts_with("HTTP request failed: Connection refused"),
        "{err}"
    );
}

pub fn connect_timeout_applies_to_opening_the_connection<C: TestClient>() {
    let listener = SaturatedListener::new();
    let limits = Limits::default()
        .connect_timeout(Duration::from_millis(300))
        .call_timeout(Duration::from_secs(5));
    let client: C = build(
        ClientConfig::builder(format!("{}/fhir", listener.base_url()))
            .allow_insecure_localhost(true),
        limits,
        None,
    );
    let started = Instant::now();
    let err = client.server_metadata().unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(network(&err).kind, NetworkErrorKind::Timeout, "{err}");
    assert_eq!(
        err.to_string(),
        "HTTP request failed: Connecting timed out after 300ms"
    );
    assert!(
        elapsed < Duration::from_millis(1300),
        "the connect timeout, not the request timeout, applied: {elapsed:?}"
    );
}

pub fn untrusted_certificate_is_a_tls_error<C: TestClient>() {
    let ca = TestCa::new();
    let server = TestServer::https(&ca, |_, base| Reply::json(200, smart_configuration(base)));
    let client: C = client(config_for(&server)); // the test CA is not trusted
    let err = client.server_metadata().unwrap_err();
    assert_eq!(network(&err).kind, NetworkErrorKind::Tls, "{err}");
    assert!(server.requests().is_empty(), "no request got through");

    let other_ca = TestCa::new();
    let client: C = build(config_for(&server), fast_limits(), Some(&other_ca));
    let err = client.server_metadata().unwrap_err();
    assert_eq!(
        network(&err).kind,
        NetworkErrorKind::Tls,
        "another CA: {err}"
    );
}

// ----------------------------------------------------------------------------------------------
// Error bodies
// ----------------------------------------------------------------------------------------------

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

// ----------------------------------------------------------------------------------------------
// Secrets
// ----------------------------------------------------------------------------------------------

pub fn canaries_never_leak<C: TestClient>() {
    super::captured_tracing();
    const SECRET: &str = "canary-client-secret-9f1c";
    const CODE: &str = "canary-code-41d2";
    const ACCESS: &str = "canary-access-token-77ab";
    const REFRESH: &str = "canary-refresh-token-0c3e";
    const IAT: &str = "canary-initial-access-5b5b";
    const QUERY: &str = "canary-query-e0e0";

    let server = TestServer::http(|request, base| match request.path() {
        DISCOVERY => Reply::redirect(302, &format!("/moved/config?sig={QUERY}")),
        "/moved/config" => Reply::json(200, smart_configuration(base)),
        "/token" => match request.form()["grant_type"].as_str() {
            "authorization_code" => Reply::json(200, token_json(ACCESS, Some(REFRESH))),
            "refresh_token" => Reply::json(
                400,
                json!({"error": "invalid_grant", "error_description": "refresh token revoked"}),
            ),
            _ => Reply::json(401, json!({"error": "invalid_client"})),
        },
        "/register" => Reply::json(400, json!({"error": "invalid_client_metadata"})),
        // `openid` is requested: the code exchange fetches the advertised key set first.
        "/jwks" => Reply::json(200, json!({"keys": []})),
        _ => Reply::Hang,
    });
    let (_, pem) = TestEs384::fixed();
    let key: Arc<dyn Signer> = Arc::new(PrivateKey::from_pem(&pem).unwrap());
    let client: C = build(
        config_for(&server).client_auth(ClientAuth::client_secret_basic(SECRET)),
        one_second_limits(),
        None,
    );

    let mut texts = Vec::new();
    let mut record = |what: &str, text: String| texts.push((what.to_owned(), text));

    let request = client
        .authorization_url(AuthorizeParams::default())
        .unwrap();
    let verifier = request.pending.code_verifier().expose().to_owned();
    record("pending", format!("{:?}", request.pending));
    let token = client
        .request_access_token(
            request.pending.clone(),
            &callback(request.pending.state(), CODE),
            CallOptions::new(),
        )
        .unwrap();
    assert_eq!(token.access_token.expose(), ACCESS);
    record("token response", format!("{token:?}"));

    let mut errors = vec![
        client
            .refresh_token(SecretString::new(REFRESH), CallOptions::new())
            .unwrap_err(),
        client
            .request_backend_token(
                CallOptions::new()
                    .client_secret(SECRET)
                    .private_key(key, "kid-1"),
            )
            .unwrap_err(),
        client
            .register_client(
                &ClientMetadata::new("App").redirect_uris([REDIRECT_URI]),
                None,
                Some(SecretString::new(IAT)),
            )
            .unwrap_err(),
        // A callback carrying the code but the wrong state.
        client
            .request_access_token(
                request.pending.clone(),
                &callback("wrong-state", CODE),
                CallOptions::new(),
            )
            .unwrap_err(),
        // A transport timeout and a refused connection on URLs with secrets in the query.
        client
            .run(get_with_authorization(
                server.url(&format!("/hang?token={QUERY}")),
                &format!("Bearer {ACCESS}"),
            ))
            .unwrap_err(),
        client
            .run(get_with_authorization(
                format!("{}/x?code={CODE}", refused_url()),
                &format!("Bearer {ACCESS}"),
            ))
            .unwrap_err(),
    ];
    assert_eq!(network(&errors[4]).kind, NetworkErrorKind::Timeout);
    assert_eq!(network(&errors[5]).kind, NetworkErrorKind::Connect);
    for err in errors.drain(..) {
        record("error Display", err.to_string());
        record("error Debug", format!("{err:?}"));
    }
    record("tracing output", tracing_text());

    let canaries = [
        SECRET,
        CODE,
        ACCESS,
        REFRESH,
        IAT,
        QUERY,
        verifier.as_str(),
        pem.as_str(),
        // The PEM's base64 body, in case only the key material were printed.
        pem.lines().nth(1).unwrap(),
    ];
    for (what, text) in &texts {
        for canary in canaries {
            assert!(!text.contains(canary), "{what} leaks {canary:?}: {text}");
        }
    }

    // The capture works and the transport logs each request: method, URL without query.
    let traced = tracing_text();
    assert!(
        traced.contains(&server.url("/token")),
        "no event for /token: {traced}"
    );
    assert!(traced.contains(&server.url("/moved/config")), "{traced}");
    assert!(traced.contains("POST"), "{traced}");
}

// ----------------------------------------------------------------------------------------------
// Identity: the id_token verified with the server's JWK Set
// ----------------------------------------------------------------------------------------------

/// An OpenID Connect server: SMART discovery (issuer `{base}/fhir`, `jwks_uri` `{base}/jwks`),
/// a JWK Set of ES384 keys it can rotate, and a token endpoint that signs an id_token with the
/// nonce the test hands it and the kid it is told.
struct OidcServer {
    server: TestServer,
    state: Arc<std::sync::Mutex<OidcState>>,
}

struct OidcState {
    keys: Vec<(String, PrivateKey)>,
    nonce: Option<String>,
    /// The nonce for each code, for launches running side by side.
    nonces: std::collections::HashMap<String, String>,
    kid_override: Option<String>,
    /// How long the JWK Set takes to come back (so that concurrent fetches would overlap).
    jwks_delay: Duration,
}

impl OidcServer {
    fn start() -> Self {
        let key = PrivateKey::generate_es384(&mut safire_core::OsRandom).unwrap();
        let state = Arc::new(std::sync::Mutex::new(OidcState {
            keys: vec![("key-1".into(), key)],
            nonce: None,
            nonces: Default::default(),
            kid_override: None,
            jwks_delay: Duration::ZERO,
        }));
        let shared = state.clone();
        let server = TestServer::http(move |request, base| {
            let state = shared.lock().unwrap();
            match request.path() {
                DISCOVERY => Reply::json(200, smart_configuration(base)),
                "/jwks" => {
                    let keys: Vec<Value> = state
                        .keys
                        .iter()
                        .map(|(kid, key)| json!(key.public_jwk().unwrap().with_kid(kid)))
                        .collect();
                    let delay = state.jwks_delay;
                    drop(state);
                    std::thread::sleep(delay);
                    Reply::json(200, json!({ "keys": keys }))
                }
                "/token" => {
                    let (kid, key) = state.keys.last().unwrap();
                    let kid = state.kid_override.as_deref().unwrap_or(kid);
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs();
                    let mut claims = json!({
                        "iss": format!("{base}/fhir"), "aud": "app", "sub": "user-7",
                        "iat": now, "exp": now + 300, "fhirUser": "Practitioner/dr-7",
                    });
                    let code = request.form().get("code").cloned().unwrap_or_default();
                    if let Some(nonce) = state.nonces.get(&code).or(state.nonce.as_ref()) {
                        claims["nonce"] = json!(nonce);
                    }
                    let input = format!(
                        "{}.{}",
                        Base64UrlUnpadded::encode_string(
                            json!({"alg": "ES384", "kid": kid}).to_string().as_bytes()
                        ),
                        Base64UrlUnpadded::encode_string(claims.to_string().as_bytes())
                    );
                    let signature = key.sign(input.as_bytes()).unwrap();
                    let mut token = token_json("at-oidc", None);
                    token["id_token"] = json!(format!(
                        "{input}.{}",
                        Base64UrlUnpadded::encode_string(&signature)
                    ));
                    Reply::json(200, token)
                }
                _ => Reply::text(404, "text/plain", "not found"),
            }
        });
        Self { server, state }
    }

    fn rotate(&self) {
        let key = PrivateKey::generate_es384(&mut safire_core::OsRandom).unwrap();
        let mut state = self.state.lock().unwrap();
        let kid = format!("key-{}", state.keys.len() + 1);
        state.keys.push((kid, key));
    }

    /// Authorize, hand the nonce sent to the server (or another), exchange the code.
    fn launch<C: TestClient>(
        &self,
        client: &C,
        nonce: Option<&str>,
    ) -> Result<safire_core::TokenResponse, Error> {
        self.launch_with_code(client, nonce, "code-oidc")
    }

    /// [`launch`](Self::launch) with `code`: the server answers it with this launch's nonce.
    fn launch_with_code<C: TestClient>(
        &self,
        client: &C,
        nonce: Option<&str>,
        code: &str,
    ) -> Result<safire_core::TokenResponse, Error> {
        let request = client
            .authorization_url(AuthorizeParams::default())
            .unwrap();
        let sent: Option<String> = request
            .url
            .query_pairs()
            .find(|(name, _)| name == "nonce")
            .map(|(_, value)| value.into_owned());
        assert_eq!(
            sent.as_deref(),
            request.pending.nonce().map(SecretString::expose),
            "openid requested: a nonce is sent and kept"
        );
        let nonce = nonce.map(str::to_owned).or(sent);
        let mut state = self.state.lock().unwrap();
        match nonce {
            Some(nonce) => state.nonces.insert(code.to_owned(), nonce),
            None => state.nonces.remove(code),
        };
        drop(state);
        let pending = request.pending;
        client.request_access_token(
            pending.clone(),
            &callback(pending.state(), code),
            CallOptions::new(),
        )
    }
}

fn identity_error(result: Result<safire_core::TokenResponse, Error>) -> safire_core::IdTokenError {
    match result {
        Err(Error::Identity(e)) => match *e {
            safire_core::IdentityError::Refused(e) => e,
            other => panic!("expected a refused id_token, got {other}"),
        },
        other => panic!("expected an identity error, got {other:?}"),
    }
}

pub fn id_token_verified_with_one_jwks_fetch<C: TestClient>() {
    let oidc = OidcServer::start();
    let client: C = client(config_for(&oidc.server));
    for _ in 0..3 {
        let token = oidc.launch(&client, None).unwrap();
        let identity = token.identity.expect("verified identity");
        assert_eq!(identity.sub, "user-7");
        let user = identity.fhir_user.unwrap();
        assert_eq!(
            user.url().as_str(),
            oidc.server.url("/fhir/Practitioner/dr-7")
        );
        assert!(token.id_token.is_some(), "the raw id_token stays");
    }
    let keys = client.server_keys().unwrap();
    assert_eq!(keys.keys().len(), 1);
    let fetches = oidc.server.requests_to("/jwks");
    assert_eq!(
        fetches.len(),
        1,
        "three verifications and server_keys: one fetch"
    );
    assert_eq!(fetches[0].method, "GET");
    assert_common_headers(&fetches[0]);
    assert_eq!(fetches[0].header("authorization"), None);
    assert_eq!(oidc.server.requests_to(DISCOVERY).len(), 1);
}

pub fn concurrent_cold_code_exchanges_fetch_the_key_set_once<C: TestClient + Sync>() {
    let oidc = OidcServer::start();
    oidc.state.lock().unwrap().jwks_delay = Duration::from_millis(300);
    let client: C = client(config_for(&oidc.server));
    let barrier = std::sync::Barrier::new(16);
    let subjects: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (oidc, client, barrier) = (&oidc, &client, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let token = oidc
                        .launch_with_code(client, None, &format!("code-{i}"))
                        .unwrap();
                    token.identity.expect("verified identity").sub
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(subjects.iter().all(|sub| sub == "user-7"), "{subjects:?}");
    assert_eq!(
        oidc.server.requests_to("/jwks").len(),
        1,
        "sixteen concurrent exchanges with a cold cache: one JWK Set fetch"
    );
    assert_eq!(oidc.server.requests_to("/token").len(), 16);
}

pub fn rotated_key_is_fetched_once_and_bogus_kids_are_rate_limited<C: TestClient>() {
    let oidc = OidcServer::start();
    let client: C = client(config_for(&oidc.server));
    oidc.launch(&client, None).unwrap();
    oidc.rotate();
    let token = oidc.launch(&client, None).unwrap();
    assert_eq!(token.identity.unwrap().kid.as_deref(), Some("key-2"));
    assert_eq!(
        oidc.server.requests_to("/jwks").len(),
        2,
        "one re-fetch on rotation"
    );

    oidc.state.lock().unwrap().kid_override = Some("made-up".into());
    for _ in 0..10 {
        let err = identity_error(oidc.launch(&client, None));
        assert!(err.to_string().contains("kid `made-up`"), "{err}");
    }
    assert_eq!(
        oidc.server.requests_to("/jwks").len(),
        2,
        "ten unknown kids within the interval: no further fetch"
    );
}

pub fn id_token_with_another_nonce_is_refused<C: TestClient>() {
    let oidc = OidcServer::start();
    let client: C = client(config_for(&oidc.server));
    let err = identity_error(oidc.launch(&client, Some("replayed-nonce")));
    assert_eq!(err, safire_core::IdTokenError::NonceMismatch);
    assert!(!err.to_string().contains("replayed-nonce"));
}
