//! The scenarios, each generic over the transport's [`TestClient`]. Every one asserts what the
//! server received as well as what the client returned. This module holds the helpers they
//! share (configuration, the scripted SMART server, the ES384 test key, the
//! `GetWithAuthorization` flow); the scenarios live in one child module per topic, all
//! re-exported here so `cases::<name>` names each of them.

use std::time::Duration;

use p384::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use safire_core::http::{self, HeaderValue, header};
use safire_core::{
    ClientConfig, ClientConfigBuilder, Env, Error, Flow, HttpRequest, HttpResponse, Jwk,
    JwsAlgorithm, Limits, NetworkError, Operation, Signer, Step, USER_AGENT,
};
use serde_json::{Value, json};

use super::TestClient;
use super::servers::{Recorded, Reply, TestCa, TestServer};

// The scenarios by topic; each module's scenarios are re-exported so `cases::<name>` works.
mod companion;
mod discovery;
mod errors;
mod flows;
mod identity;
mod limits;
mod redirects;
mod secrets;

pub use companion::*;
pub use discovery::*;
pub use errors::*;
pub use flows::*;
pub use identity::*;
pub use limits::*;
pub use redirects::*;
pub use secrets::*;

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

fn one_second_limits() -> Limits {
    Limits::default()
        .connect_timeout(Duration::from_secs(1))
        .call_timeout(Duration::from_secs(1))
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

/// The `hop=N` counter of a redirect-loop request (0 on the first).
fn hop(request: &Recorded) -> u32 {
    request
        .target
        .split("hop=")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
