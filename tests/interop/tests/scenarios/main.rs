//! Every SMART flow against a real, independently written authorization server
//! (panva's oidc-provider on loopback), through both transports.
//!
//! Each scenario is written once, generic over [`Client`], and instantiated for safire-ureq and
//! safire-hyper by `scenarios!`; `cargo test` prints one line per scenario × transport.
//!
//! One module per topic holds the scenarios; this file holds the helpers they share and
//! instantiates every scenario.

mod apps;
mod backend;
mod errors;
mod id_token;
mod metadata;
mod sessions;
mod tokens;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use safire_core::{
    AuthErrorKind, AuthorizeParams, CallOptions, ClientAuth, ClientConfig, ClientMetadata, Env,
    Error, Flow, Jwks, Limits, OsRandom, PendingAuthorization, PrivateKey, RegisteredClient,
    SecretString, Session, SessionKind, Signer, Step, TokenFlow, TokenResponse, TokenTypeHint,
};
use safire_interop::{
    HarnessError, HttpRequest, LaunchContext, OidcProvider, REDIRECT_URI, approve, approve_post,
    callback_params, deny,
};

#[path = "../../../transport-suite/client.rs"]
mod suite;
use apps::{
    asymmetric_es384, asymmetric_rs384, ehr_launch, post_authorization, public_client,
    symmetric_client,
};
use backend::{backend_es384, backend_rs384};
use errors::error_paths;
use id_token::identity;
use metadata::{discovery, registration, registration_management};
use sessions::{session_backend_renewal, session_rotations};
use suite::TestClient;
use tokens::introspection_and_revocation;

const LOGIN: &str = "practitioner-1";
const APP_SCOPES: &str = "openid fhirUser launch/patient patient/*.rs offline_access";

/// The client operations (the core's one list, through the transport suite's `TestClient`),
/// plus the transport's session type, implemented once per transport.
trait Client: TestClient {
    /// A client with default limits.
    fn new(config: ClientConfig) -> Result<Self, Error> {
        Self::build(config, Limits::default(), None)
    }
    /// The transport's session type.
    type Live;
    /// `client.session(value).refresh_margin(margin).on_change(hook).build()`.
    fn open(&self, value: Session, margin: Duration, hook: Hook) -> Result<Self::Live, Error>;
    fn token(&self, live: &Self::Live) -> Result<SecretString, Error>;
    fn renew(&self, live: &Self::Live) -> Result<Session, Error>;
}

type Hook = Arc<dyn Fn(&Session) + Send + Sync>;

struct Ureq(safire_ureq::SmartClient);

suite::test_client!(Ureq, safire_ureq::SmartClient,
    new: |client| Ureq(client),
    client: |this| &this.0,
    wait: |call| call);

impl Client for Ureq {
    type Live = safire_ureq::SmartSession;
    fn open(&self, value: Session, margin: Duration, hook: Hook) -> Result<Self::Live, Error> {
        self.0
            .session(value)
            .refresh_margin(margin)
            .on_change(move |s| hook(s))
            .build()
    }
    fn token(&self, live: &Self::Live) -> Result<SecretString, Error> {
        live.access_token()
    }
    fn renew(&self, live: &Self::Live) -> Result<Session, Error> {
        live.renew()
    }
}

/// safire-hyper on a current-thread runtime owned by the wrapper: each call blocks on it.
struct Hyper(safire_hyper::SmartClient, tokio::runtime::Runtime);

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

suite::test_client!(Hyper, safire_hyper::SmartClient,
    new: |client| Hyper(client, current_thread_runtime()),
    client: |this| &this.0,
    wait: |call| this.1.block_on(call));

impl Client for Hyper {
    type Live = safire_hyper::SmartSession;
    fn open(&self, value: Session, margin: Duration, hook: Hook) -> Result<Self::Live, Error> {
        self.1.block_on(
            self.0
                .session(value)
                .refresh_margin(margin)
                .on_change(move |s| hook(s))
                .build(),
        )
    }
    fn token(&self, live: &Self::Live) -> Result<SecretString, Error> {
        self.1.block_on(live.access_token())
    }
    fn renew(&self, live: &Self::Live) -> Result<Session, Error> {
        self.1.block_on(live.renew())
    }
}

type Outcome = Result<(), Box<dyn std::error::Error>>;

fn config(op: &OidcProvider) -> safire_core::ClientConfigBuilder {
    ClientConfig::builder(op.fhir_base_url())
        .redirect_uri(REDIRECT_URI)
        .scopes(APP_SCOPES.split(' '))
        .allow_insecure_localhost(true)
}

/// A client for a server; unregistered (no client_id) until a scenario registers one.
fn client<C: Client>(op: &OidcProvider) -> C {
    C::new(config(op).build().expect("valid config")).expect("client builds")
}

fn registered<C: Client>(
    op: &OidcProvider,
    registration: &RegisteredClient,
    auth: ClientAuth,
) -> C {
    C::new(
        config(op)
            .client_id(registration.client_id.clone())
            .client_auth(auth)
            .build()
            .expect("valid config"),
    )
    .expect("client builds")
}

fn app_metadata(method: &str) -> ClientMetadata {
    ClientMetadata::new("Safire interop app")
        .redirect_uris([REDIRECT_URI])
        .grant_types(["authorization_code", "refresh_token"])
        .response_types(["code"])
        .token_endpoint_auth_method(method)
        // `launch` too, so the same registration serves EHR launches.
        .scope(format!("{APP_SCOPES} launch"))
}

/// Registers an app with `method`, and for private_key_jwt the JWKS generated from `key`.
fn register_app<C: Client>(
    op: &OidcProvider,
    method: &str,
    key: Option<(&PrivateKey, &str)>,
) -> Result<RegisteredClient, Error> {
    let mut metadata = app_metadata(method);
    if let Some((key, kid)) = key {
        metadata = metadata.jwks(&jwks(key, kid));
    }
    client::<C>(op).register_client(&metadata, None, None)
}

fn jwks(key: &PrivateKey, kid: &str) -> Jwks {
    Jwks::from(vec![
        key.public_jwk()
            .expect("built-in keys export a JWK")
            .with_kid(kid),
    ])
}

/// Authorization request → browserless approval → verified callback → code exchange.
fn launch<C: Client>(
    c: &C,
    params: AuthorizeParams,
) -> Result<(TokenResponse, PendingAuthorization), Box<dyn std::error::Error>> {
    let request = c.authorization_url(params)?;
    let callback = approve(request.url.as_str(), LOGIN)?;
    let token = c.request_access_token(request.pending.clone(), &callback, CallOptions::new())?;
    Ok((token, request.pending))
}

fn refresh_token(token: &TokenResponse) -> SecretString {
    token
        .refresh_token
        .clone()
        .expect("offline_access was granted: a refresh token")
}

fn shared() -> Option<&'static OidcProvider> {
    OidcProvider::shared_or_skip().expect("oidc-provider starts")
}

fn es384_key() -> PrivateKey {
    PrivateKey::generate_es384(&mut OsRandom).expect("ES384 key")
}

fn rs384_key() -> PrivateKey {
    // A committed fixture: generating RSA keys in a debug build is slow.
    PrivateKey::from_pem(include_str!(
        "../../../../crates/safire-core/testdata/rsa2048.pkcs8.pem"
    ))
    .expect("RSA fixture")
}

/// The callback parameters, for failure messages.
#[allow(dead_code)]
fn params(callback: &str) -> Result<BTreeMap<String, String>, HarnessError> {
    callback_params(callback)
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod ureq {
            $(#[test]
            fn $name() -> super::Outcome {
                super::$name::<super::Ureq>()
            })*
        }
        mod hyper {
            $(#[test]
            fn $name() -> super::Outcome {
                super::$name::<super::Hyper>()
            })*
        }
    };
}

scenarios!(
    discovery,
    registration,
    public_client,
    symmetric_client,
    asymmetric_es384,
    asymmetric_rs384,
    backend_es384,
    backend_rs384,
    ehr_launch,
    error_paths,
    post_authorization,
    introspection_and_revocation,
    registration_management,
    identity,
    session_rotations,
    session_backend_renewal,
);
