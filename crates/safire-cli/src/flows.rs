//! Every call into the Safire library (`safire-ureq` and its re-exported `safire-core`) lives
//! in this module. Argument parsing (`main.rs`), output (`output.rs`), files (`files.rs`) and
//! the loopback listener (`loopback.rs`) only see the plain functions and types below, so an
//! API change in the library is adapted here and nowhere else.

use std::sync::Arc;

use safire_ureq::SmartClient;
use safire_ureq::safire_core::{
    AuthorizeParams, CallOptions, ClientAuth, ClientConfig, ClientConfigBuilder, ClientMetadata,
    OsRandom, PendingAuthorization, Signer, TokenTypeHint,
};

pub use safire_ureq::Error;
pub use safire_ureq::safire_core::{
    Finding, Introspection, Jwk, Jwks, PrivateKey, RegisteredClient, SecretString, SmartMetadata,
    TokenResponse,
};

/// The server to talk to and how.
#[derive(Debug, Clone)]
pub struct Server {
    /// The FHIR base URL (discovery is at `{base}/.well-known/smart-configuration`).
    pub base: String,
    /// Plain http to loopback hosts only.
    pub insecure_localhost: bool,
    /// An extra trusted root CA, PEM.
    pub ca_cert_pem: Option<Vec<u8>>,
}

impl Server {
    fn client(
        &self,
        setup: impl FnOnce(ClientConfigBuilder) -> ClientConfigBuilder,
    ) -> Result<SmartClient, Error> {
        let builder =
            ClientConfig::builder(&self.base).allow_insecure_localhost(self.insecure_localhost);
        let config = setup(builder).build()?;
        let mut client = SmartClient::builder(config);
        if let Some(pem) = &self.ca_cert_pem {
            client = client.add_root_certificate_pem(pem)?;
        }
        client.build()
    }
}

/// GETs and parses the server's SMART configuration.
pub fn discover(server: &Server) -> Result<Arc<SmartMetadata>, Error> {
    server.client(|b| b)?.server_metadata()
}

/// Every compliance finding of a discovered document.
pub fn compliance_findings(metadata: &SmartMetadata) -> Vec<Finding> {
    metadata.compliance_findings()
}

/// What the server supports, by the library's capability predicates, in display order.
pub fn capability_summary(metadata: &SmartMetadata) -> Vec<(&'static str, bool)> {
    vec![
        ("standalone launch", metadata.supports_standalone_launch()),
        ("EHR launch", metadata.supports_ehr_launch()),
        ("public clients", metadata.supports_public_auth()),
        (
            "client secrets (client_secret_basic)",
            metadata.supports_symmetric_auth(),
        ),
        ("private_key_jwt", metadata.supports_asymmetric_auth()),
        ("backend services", metadata.supports_backend_services()),
        (
            "dynamic registration",
            metadata.supports_dynamic_registration(),
        ),
        (
            "POST authorization",
            metadata.supports_post_based_authorization(),
        ),
        ("OpenID Connect", metadata.supports_openid_connect()),
    ]
}

/// The assertion algorithms (RS384/ES384) usable with this server.
pub fn asymmetric_algorithms(metadata: &SmartMetadata) -> Vec<&'static str> {
    metadata.asymmetric_signing_algorithms_supported()
}

/// How a client to be registered authenticates.
#[derive(Debug)]
pub enum RegistrationAuth {
    /// `none`.
    Public,
    /// `client_secret_basic`: the server issues the secret.
    Symmetric,
    /// `private_key_jwt` with this public JWK Set.
    Asymmetric(Jwks),
}

/// A dynamic registration request.
#[derive(Debug)]
pub struct Registration {
    /// `client_name`.
    pub name: String,
    /// Client authentication.
    pub auth: RegistrationAuth,
    /// A backend service (`client_credentials`) instead of an app (`authorization_code`).
    pub backend: bool,
    /// Redirect URIs (apps).
    pub redirect_uris: Vec<String>,
    /// Requested scope, space-separated.
    pub scope: Option<String>,
    /// Registration endpoint; discovered when `None`.
    pub endpoint: Option<String>,
    /// RFC 7591 initial access token.
    pub initial_access_token: Option<String>,
}

/// Dynamic client registration (RFC 7591).
pub fn register(server: &Server, request: Registration) -> Result<RegisteredClient, Error> {
    let mut metadata = ClientMetadata::new(request.name);
    metadata = if request.backend {
        metadata.grant_types(["client_credentials"])
    } else {
        metadata
            .grant_types(["authorization_code", "refresh_token"])
            .response_types(["code"])
            .redirect_uris(request.redirect_uris)
    };
    metadata = match &request.auth {
        RegistrationAuth::Public => metadata.token_endpoint_auth_method("none"),
        RegistrationAuth::Symmetric => metadata.token_endpoint_auth_method("client_secret_basic"),
        RegistrationAuth::Asymmetric(jwks) => metadata
            .token_endpoint_auth_method("private_key_jwt")
            .jwks(jwks),
    };
    if let Some(scope) = request.scope {
        metadata = metadata.scope(scope);
    }
    server.client(|b| b)?.register_client(
        &metadata,
        request.endpoint.as_deref(),
        request.initial_access_token.map(SecretString::new),
    )
}

/// A SMART Backend Services token (`client_credentials` with a signed assertion).
pub fn backend_token(
    server: &Server,
    client_id: &str,
    key: PrivateKey,
    kid: &str,
    scopes: Vec<String>,
) -> Result<TokenResponse, Error> {
    let client = server.client(|b| {
        b.client_id(client_id)
            .client_auth(ClientAuth::private_key_jwt(key, kid))
    })?;
    let mut options = CallOptions::new();
    if !scopes.is_empty() {
        options = options.scopes(scopes);
    }
    client.request_backend_token(options)
}

/// A standalone launch waiting for its callback.
#[derive(Debug)]
pub struct Launch {
    client: SmartClient,
    pending: PendingAuthorization,
    /// Where to send the browser.
    pub url: String,
}

/// Builds the authorization request (PKCE S256, state, aud) of a public client.
pub fn start_launch(
    server: &Server,
    client_id: &str,
    redirect_uri: &str,
    scopes: Vec<String>,
) -> Result<Launch, Error> {
    let client = server.client(|b| {
        b.client_id(client_id)
            .redirect_uri(redirect_uri)
            .scopes(scopes)
    })?;
    let request = client.authorization_url(AuthorizeParams::default())?;
    Ok(Launch {
        client,
        url: request.url.to_string(),
        pending: request.pending,
    })
}

impl Launch {
    /// Verifies the callback (state, `iss`, errors) and exchanges the code.
    pub fn finish(self, callback_url: &str) -> Result<TokenResponse, Error> {
        self.client
            .request_access_token(self.pending, callback_url, CallOptions::new())
    }
}

/// Exchanges a refresh token of a public client.
pub fn refresh(
    server: &Server,
    client_id: &str,
    refresh_token: &SecretString,
    scopes: Vec<String>,
) -> Result<TokenResponse, Error> {
    let client = server.client(|b| b.client_id(client_id))?;
    let mut options = CallOptions::new();
    if !scopes.is_empty() {
        options = options.scopes(scopes);
    }
    client.refresh_token(refresh_token.clone(), options)
}

/// How a client authenticates to the introspection or revocation endpoint.
#[derive(Debug)]
pub enum EndpointAuth {
    /// A public client: `client_id` in the body.
    Public,
    /// `client_secret_basic`.
    Secret(SecretString),
    /// `private_key_jwt` with this key and kid.
    Key(Box<PrivateKey>, String),
}

/// Which token of a pair (`token_type_hint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// The access token.
    Access,
    /// The refresh token.
    Refresh,
}

impl TokenKind {
    fn hint(self) -> TokenTypeHint {
        match self {
            TokenKind::Access => TokenTypeHint::AccessToken,
            TokenKind::Refresh => TokenTypeHint::RefreshToken,
        }
    }
}

fn endpoint_client(
    server: &Server,
    client_id: &str,
    auth: EndpointAuth,
) -> Result<SmartClient, Error> {
    server.client(|b| {
        let b = b.client_id(client_id);
        match auth {
            EndpointAuth::Public => b,
            EndpointAuth::Secret(secret) => b.client_auth(ClientAuth::client_secret_basic(secret)),
            EndpointAuth::Key(key, kid) => b.client_auth(ClientAuth::private_key_jwt(*key, kid)),
        }
    })
}

/// Token introspection (RFC 7662) at the discovered introspection endpoint.
pub fn introspect(
    server: &Server,
    client_id: &str,
    auth: EndpointAuth,
    token: &SecretString,
    kind: Option<TokenKind>,
) -> Result<Introspection, Error> {
    endpoint_client(server, client_id, auth)?.introspect_token(
        token.clone(),
        kind.map(TokenKind::hint),
        CallOptions::new(),
    )
}

/// Token revocation (RFC 7009) at the discovered revocation endpoint.
pub fn revoke(
    server: &Server,
    client_id: &str,
    auth: EndpointAuth,
    token: &SecretString,
    kind: Option<TokenKind>,
) -> Result<(), Error> {
    endpoint_client(server, client_id, auth)?.revoke_token(
        token.clone(),
        kind.map(TokenKind::hint),
        CallOptions::new(),
    )
}

/// Loads a PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC P-384).
pub fn load_key(pem: &str) -> Result<PrivateKey, Error> {
    Ok(PrivateKey::from_pem(pem)?)
}

/// A key algorithm `keygen` can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// P-384.
    Es384,
    /// RSA of the given size.
    Rs384 {
        /// Modulus size.
        bits: usize,
    },
}

/// Generates a private key from the OS random source.
pub fn generate_key(algorithm: KeyAlgorithm) -> Result<PrivateKey, Error> {
    match algorithm {
        KeyAlgorithm::Es384 => PrivateKey::generate_es384(&mut OsRandom),
        KeyAlgorithm::Rs384 { bits } => PrivateKey::generate_rs384(bits, &mut OsRandom),
    }
}

/// The key as PKCS#8 PEM.
pub fn key_to_pem(key: &PrivateKey) -> Result<SecretString, Error> {
    key.to_pkcs8_pem()
}

/// The key's algorithm name (`ES384` or `RS384`).
pub fn key_algorithm(key: &PrivateKey) -> &'static str {
    key.algorithm().as_str()
}

/// The public JWK of a key, without `kid`.
pub fn public_jwk(key: &PrivateKey) -> Result<Jwk, Error> {
    key.public_jwk()
        .ok_or_else(|| Error::Signing("this key cannot export its public JWK".to_owned()))
}

/// The public JWK named `kid`, marked for signing (`use`, `alg`).
pub fn named_jwk(jwk: Jwk, kid: &str) -> Jwk {
    jwk.with_kid(kid)
}

/// A JWK Set of one key.
pub fn jwks_of(jwk: Jwk) -> Jwks {
    Jwks::from(vec![jwk])
}

/// The secret value, for writing to a file or printing when asked.
pub fn expose(secret: &SecretString) -> &str {
    secret.expose()
}
