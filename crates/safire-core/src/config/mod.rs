//! Client configuration: who the client is, which server it talks to, how it authenticates.
//!
//! Built once with [`ClientConfig::builder`], validated once, immutable afterwards. URIs are
//! checked at build time (https only, http loopback with the explicit opt-in); credentials are
//! checked when a flow needs them, because per-call overrides may supply them.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use url::Url;

use crate::assertion::Signer;
use crate::error::ConfigurationError;
use crate::secret::SecretString;

/// How `client_secret_basic` encodes the client id and secret before base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BasicAuthEncoding {
    /// RFC 6749 §2.3.1: form-urlencode id and secret, then base64 `id:secret`. The default.
    #[default]
    FormUrlEncoded,
    /// Base64 of the raw `id:secret`, as the Ruby library and the SMART reference server do.
    /// Identical to the default for ids and secrets made of unreserved characters.
    Raw,
}

/// How the client authenticates at the token endpoint.
///
/// Credentials may be left out here and supplied per call with [`CallOptions`]; a flow that
/// needs a missing one fails with `Configuration missing: …` before any request is built.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A public client: `client_id` in the request body, no secret.
    #[default]
    Public,
    /// A confidential symmetric client: `Authorization: Basic`.
    ClientSecretBasic {
        /// The client secret (may come per call instead).
        secret: Option<SecretString>,
        /// How id and secret are encoded.
        encoding: BasicAuthEncoding,
    },
    /// A confidential symmetric client sending `client_id` and `client_secret` in the form
    /// body (`client_secret_post`), as many SMART servers also advertise.
    ClientSecretPost {
        /// The client secret (may come per call instead).
        secret: Option<SecretString>,
    },
    /// A confidential asymmetric client: a signed JWT assertion (RS384 or ES384).
    PrivateKeyJwt {
        /// The signing key (may come per call instead).
        signer: Option<Arc<dyn Signer>>,
        /// The key id sent as the JWT `kid` header.
        kid: Option<String>,
    },
    /// A confidential asymmetric client holding several keys (say ES384 and RS384), in order
    /// of preference: each assertion is signed with the first key whose algorithm the server
    /// lists in `token_endpoint_auth_signing_alg_values_supported`. Built with
    /// [`ClientAuth::private_key_jwt_keys`].
    PrivateKeyJwtKeys {
        /// `(signer, kid)` pairs, preferred first.
        keys: Vec<(Arc<dyn Signer>, String)>,
    },
}

impl ClientAuth {
    /// `client_secret_basic` with the RFC 6749 encoding.
    pub fn client_secret_basic(secret: impl Into<SecretString>) -> Self {
        ClientAuth::ClientSecretBasic {
            secret: Some(secret.into()),
            encoding: BasicAuthEncoding::default(),
        }
    }

    /// `client_secret_basic` with the raw `id:secret` in the header (no RFC 6749 §2.3.1
    /// form-encoding first), for servers that do not URL-decode Basic credentials. Identical
    /// to [`ClientAuth::client_secret_basic`] for secrets of unreserved characters.
    ///
    /// ```
    /// use safire_core::ClientAuth;
    /// assert_eq!(ClientAuth::client_secret_basic_raw("a+b").method_name(), "client_secret_basic");
    /// ```
    pub fn client_secret_basic_raw(secret: impl Into<SecretString>) -> Self {
        ClientAuth::ClientSecretBasic {
            secret: Some(secret.into()),
            encoding: BasicAuthEncoding::Raw,
        }
    }

    /// `client_secret_post`: id and secret in the form body.
    ///
    /// ```
    /// use safire_core::ClientAuth;
    /// assert_eq!(ClientAuth::client_secret_post("s").method_name(), "client_secret_post");
    /// ```
    pub fn client_secret_post(secret: impl Into<SecretString>) -> Self {
        ClientAuth::ClientSecretPost {
            secret: Some(secret.into()),
        }
    }

    /// `private_key_jwt` with a key (any [`Signer`]) and its `kid`.
    ///
    /// The flows sign assertions valid for
    /// [`DEFAULT_ASSERTION_LIFETIME`](crate::DEFAULT_ASSERTION_LIFETIME) (four minutes: room
    /// under SMART's five for a server whose clock runs ahead). When the server's metadata is
    /// known and lists its `token_endpoint_auth_signing_alg_values_supported`, a key of
    /// another algorithm fails before anything is sent; for a client holding several keys, see
    /// [`ClientAuth::private_key_jwt_keys`].
    pub fn private_key_jwt(signer: impl Signer + 'static, kid: impl Into<String>) -> Self {
        ClientAuth::PrivateKeyJwt {
            signer: Some(Arc::new(signer)),
            kid: Some(kid.into()),
        }
    }

    /// `private_key_jwt` with several keys, preferred first: each assertion is signed with the
    /// first key whose algorithm the server lists in its metadata
    /// (`token_endpoint_auth_signing_alg_values_supported`). When no key fits, the request
    /// fails before anything is sent, naming both lists.
    ///
    /// A token request with more than one key needs the server's metadata to choose, so it
    /// discovers the server (or uses the metadata given to the driver) even when the token
    /// endpoint is configured. Introspection and revocation use the metadata when they have
    /// it and otherwise sign with the first key. A server whose metadata lists no signing
    /// algorithm gets the first key.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use safire_core::{ClientAuth, PrivateKey, SeededRandom, Signer};
    ///
    /// let mut random = SeededRandom::new(1);
    /// // In practice, say, an ES384 and an RS384 key (PrivateKey::generate_rs384).
    /// let first: Arc<dyn Signer> = Arc::new(PrivateKey::generate_es384(&mut random).unwrap());
    /// let backup: Arc<dyn Signer> = Arc::new(PrivateKey::generate_es384(&mut random).unwrap());
    /// let auth = ClientAuth::private_key_jwt_keys([(first, "es-1"), (backup, "backup")]);
    /// assert_eq!(auth.method_name(), "private_key_jwt");
    /// assert!(format!("{auth:?}").contains("backup"));
    /// ```
    pub fn private_key_jwt_keys<I, K>(keys: I) -> Self
    where
        I: IntoIterator<Item = (Arc<dyn Signer>, K)>,
        K: Into<String>,
    {
        ClientAuth::PrivateKeyJwtKeys {
            keys: keys
                .into_iter()
                .map(|(signer, kid)| (signer, kid.into()))
                .collect(),
        }
    }

    /// The name SMART and RFC 7591 use for this method.
    pub fn method_name(&self) -> &'static str {
        match self {
            ClientAuth::Public => "none",
            ClientAuth::ClientSecretBasic { .. } => "client_secret_basic",
            ClientAuth::ClientSecretPost { .. } => "client_secret_post",
            ClientAuth::PrivateKeyJwt { .. } | ClientAuth::PrivateKeyJwtKeys { .. } => {
                "private_key_jwt"
            }
        }
    }

    /// More than one configured signing key: choosing among them needs the server's
    /// signing algorithms.
    pub(crate) fn has_several_keys(&self) -> bool {
        matches!(self, ClientAuth::PrivateKeyJwtKeys { keys } if keys.len() > 1)
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAuth::Public => f.write_str("Public"),
            ClientAuth::ClientSecretBasic { secret, encoding } => f
                .debug_struct("ClientSecretBasic")
                .field("secret", secret)
                .field("encoding", encoding)
                .finish(),
            ClientAuth::ClientSecretPost { secret } => f
                .debug_struct("ClientSecretPost")
                .field("secret", secret)
                .finish(),
            ClientAuth::PrivateKeyJwt { signer, kid } => f
                .debug_struct("PrivateKeyJwt")
                .field("signer", &signer.as_ref().map(|s| s.algorithm()))
                .field("kid", kid)
                .finish(),
            ClientAuth::PrivateKeyJwtKeys { keys } => f
                .debug_struct("PrivateKeyJwtKeys")
                .field(
                    "keys",
                    &keys
                        .iter()
                        .map(|(signer, kid)| (signer.algorithm(), kid))
                        .collect::<Vec<_>>(),
                )
                .finish(),
        }
    }
}

/// Per-call overrides, as in the Ruby library: a rotated secret, another key, narrower scopes.
///
/// ```
/// use safire_core::CallOptions;
/// let options = CallOptions::new().client_secret("rotated").scopes(["patient/*.rs"]);
/// assert!(format!("{options:?}").contains("[REDACTED]"));
/// ```
#[derive(Clone, Default)]
pub struct CallOptions {
    pub(crate) client_secret: Option<SecretString>,
    pub(crate) signer: Option<Arc<dyn Signer>>,
    pub(crate) kid: Option<String>,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) extra_params: Vec<(String, String)>,
    pub(crate) bearer_token: Option<SecretString>,
}

impl CallOptions {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Use this secret instead of the configured one (secret rotation). A blank value is ignored.
    pub fn client_secret(mut self, secret: impl Into<SecretString>) -> Self {
        let secret = secret.into();
        if !secret.is_blank() {
            self.client_secret = Some(secret);
        }
        self
    }

    /// Sign with this key and `kid` instead of the configured ones.
    pub fn private_key(mut self, signer: Arc<dyn Signer>, kid: impl Into<String>) -> Self {
        self.signer = Some(signer);
        self.kid = Some(kid.into());
        self
    }

    /// Request these scopes (refresh: a narrower set; backend: instead of the configured ones).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }
}

impl CallOptions {
    /// Token introspection only: authenticate with `Authorization: Bearer <token>` instead of
    /// the client credentials, for servers that protect introspection with an access token
    /// (RFC 7662 §2.1). Other operations refuse it. A blank value is ignored.
    ///
    /// ```
    /// use safire_core::CallOptions;
    /// let options = CallOptions::new().bearer_token("rs-token");
    /// assert!(!format!("{options:?}").contains("rs-token"));
    /// ```
    pub fn bearer_token(mut self, token: impl Into<SecretString>) -> Self {
        let token = token.into();
        if !token.is_blank() {
            self.bearer_token = Some(token);
        }
        self
    }

    /// Adds a form parameter the server needs beyond the standard ones, such as an RFC 8707
    /// `resource`. Parameters Safire sets itself (`grant_type`, `client_id`, …) are refused
    /// when the request is built.
    pub fn extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((name.into(), value.into()));
        self
    }
}

impl fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallOptions")
            .field("client_secret", &self.client_secret)
            .field("signer", &self.signer.as_ref().map(|s| s.algorithm()))
            .field("kid", &self.kid)
            .field("scopes", &self.scopes)
            .field(
                "extra_params",
                &self.extra_params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("bearer_token", &self.bearer_token)
            .finish()
    }
}

/// Everything Safire needs to know about one SMART client and the server it talks to.
///
/// ```
/// use safire_core::{ClientAuth, ClientConfig};
/// let config = ClientConfig::builder("https://ehr.example/fhir")
///     .client_id("my-app")
///     .redirect_uri("https://app.example/callback")
///     .scopes(["openid", "fhirUser", "launch/patient", "patient/*.rs"])
///     .client_auth(ClientAuth::client_secret_basic("s3cr3t"))
///     .build()?;
/// assert_eq!(config.audience(), "https://ehr.example/fhir");
/// assert!(!format!("{config:?}").contains("s3cr3t"));
/// # Ok::<(), safire_core::ConfigurationError>(())
/// ```
#[derive(Clone)]
pub struct ClientConfig {
    base_url: String,
    audience: String,
    authorization_server_issuer: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scopes: Vec<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    introspection_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    jwks_uri: Option<String>,
    auth: ClientAuth,
    allow_insecure_localhost: bool,
    server: ServerDeclarations,
}

/// What the application declares about the server instead of (or on top of) discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ServerDeclarations {
    /// The server always sends RFC 9207 `iss` (RFC 8414's
    /// `authorization_response_iss_parameter_supported`).
    pub(crate) sends_iss: bool,
    /// A callback `iss` is refused when no authorization server issuer is known.
    pub(crate) strict_issuer: bool,
    /// The server accepts POST authorization requests (the `authorize-post` capability).
    pub(crate) authorize_post: bool,
    /// How long a pending authorization may wait for its callback.
    pub(crate) max_pending_age: std::time::Duration,
    /// Other FHIR servers whose EHR launches this client accepts (besides its base URL).
    pub(crate) launch_issuers: Vec<String>,
    /// The authorization server's JWK Set URL (otherwise discovered as `jwks_uri`).
    pub(crate) server_jwks_uri: Option<String>,
    /// Clock tolerance for id_token times (`None`: [`DEFAULT_CLOCK_SKEW`](crate::DEFAULT_CLOCK_SKEW)).
    pub(crate) id_token_skew: Option<std::time::Duration>,
    /// Keep id_tokens unverified (the raw string only).
    pub(crate) skip_id_token_verification: bool,
}

/// The default for [`ClientConfigBuilder::max_pending_age`]: ten minutes.
pub const DEFAULT_MAX_PENDING_AGE: std::time::Duration = std::time::Duration::from_secs(600);

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("audience", &self.audience)
            .field(
                "authorization_server_issuer",
                &self.authorization_server_issuer,
            )
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("authorization_endpoint", &self.authorization_endpoint)
            .field("token_endpoint", &self.token_endpoint)
            .field("introspection_endpoint", &self.introspection_endpoint)
            .field("revocation_endpoint", &self.revocation_endpoint)
            .field("jwks_uri", &self.jwks_uri)
            .field("auth", &self.auth)
            .field("allow_insecure_localhost", &self.allow_insecure_localhost)
            .field("server", &self.server)
            .finish()
    }
}

impl ClientConfig {
    /// Starts a configuration for the FHIR server at `base_url`.
    pub fn builder(base_url: impl Into<String>) -> ClientConfigBuilder {
        ClientConfigBuilder {
            base_url: base_url.into(),
            audience: None,
            authorization_server_issuer: None,
            client_id: None,
            redirect_uri: None,
            scopes: Vec::new(),
            authorization_endpoint: None,
            token_endpoint: None,
            introspection_endpoint: None,
            revocation_endpoint: None,
            jwks_uri: None,
            auth: ClientAuth::Public,
            allow_insecure_localhost: false,
            server: ServerDeclarations {
                max_pending_age: DEFAULT_MAX_PENDING_AGE,
                ..ServerDeclarations::default()
            },
        }
    }

    /// The FHIR base URL, as configured.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The `aud` sent with authorization requests: the FHIR server the token is for
    /// (defaults to the base URL).
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The authorization server's issuer identifier that RFC 9207 `iss` callback parameters
    /// are checked against, when configured (otherwise the discovered `issuer`).
    pub fn authorization_server_issuer(&self) -> Option<&str> {
        self.authorization_server_issuer.as_deref()
    }

    /// The client id, if known (absent before dynamic registration).
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The redirect URI registered for this client.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.redirect_uri.as_deref()
    }

    /// The default scopes.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The configured authorization endpoint (otherwise discovered).
    pub fn authorization_endpoint(&self) -> Option<&str> {
        self.authorization_endpoint.as_deref()
    }

    /// The configured token endpoint (otherwise discovered).
    pub fn token_endpoint(&self) -> Option<&str> {
        self.token_endpoint.as_deref()
    }

    /// The configured introspection endpoint (otherwise discovered).
    pub fn introspection_endpoint(&self) -> Option<&str> {
        self.introspection_endpoint.as_deref()
    }

    /// The configured revocation endpoint (otherwise discovered).
    pub fn revocation_endpoint(&self) -> Option<&str> {
        self.revocation_endpoint.as_deref()
    }

    /// The JWKS URL sent as the assertion's `jku` header.
    pub fn jwks_uri(&self) -> Option<&str> {
        self.jwks_uri.as_deref()
    }

    /// How the client authenticates.
    pub fn client_auth(&self) -> &ClientAuth {
        &self.auth
    }

    /// Whether plain http to loopback hosts is allowed (development only).
    pub fn allow_insecure_localhost(&self) -> bool {
        self.allow_insecure_localhost
    }

    /// Whether the server is declared to always send RFC 9207 `iss`.
    pub fn server_sends_iss(&self) -> bool {
        self.server.sends_iss
    }

    /// Whether a callback `iss` is refused when no authorization server issuer is known.
    pub fn strict_issuer_check(&self) -> bool {
        self.server.strict_issuer
    }

    /// Whether the server is declared to accept POST authorization requests.
    pub fn authorize_post_supported(&self) -> bool {
        self.server.authorize_post
    }

    /// How long a pending authorization may wait for its callback.
    pub fn max_pending_age(&self) -> std::time::Duration {
        self.server.max_pending_age
    }

    /// The authorization server's JWK Set URL, when configured (otherwise the discovered
    /// `jwks_uri` is used).
    pub fn server_jwks_uri(&self) -> Option<&str> {
        self.server.server_jwks_uri.as_deref()
    }

    /// Clock tolerance for the id_token's `exp`, `iat` and `nbf`.
    pub fn id_token_clock_skew(&self) -> std::time::Duration {
        self.server
            .id_token_skew
            .unwrap_or(crate::oidc::DEFAULT_CLOCK_SKEW)
    }

    /// Whether id_tokens are verified in the code exchange (the default).
    pub fn verifies_id_tokens(&self) -> bool {
        !self.server.skip_id_token_verification
    }

    /// The FHIR servers whose EHR launches this client accepts: its base URL, plus any
    /// declared with [`ClientConfigBuilder::launch_issuer`].
    pub fn launch_issuers(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.base_url.as_str())
            .chain(self.server.launch_issuers.iter().map(String::as_str))
    }

    /// `<base_url>/.well-known/smart-configuration`, with one trailing slash of the base removed.
    pub fn discovery_url(&self) -> String {
        let base = self.base_url.strip_suffix('/').unwrap_or(&self.base_url);
        format!("{base}/.well-known/smart-configuration")
    }

    /// A copy with another client id: the usual step after dynamic registration.
    pub fn with_client_id(&self, client_id: impl Into<String>) -> Self {
        let mut copy = self.clone();
        copy.client_id = Some(client_id.into());
        copy
    }

    /// A copy with other client authentication (e.g. the secret registration returned).
    pub fn with_client_auth(&self, auth: ClientAuth) -> Self {
        let mut copy = self.clone();
        copy.auth = auth;
        copy
    }

    /// The client id, or `Configuration missing: client_id`.
    pub(crate) fn require_client_id(&self) -> Result<&str, ConfigurationError> {
        match self.client_id.as_deref() {
            Some(id) if !id.trim().is_empty() => Ok(id),
            _ => Err(ConfigurationError::missing(["client_id"])),
        }
    }

    /// Checks a URL that came from elsewhere (discovery, a call argument) with this config's
    /// https rule.
    pub(crate) fn check_endpoint(
        &self,
        field: &str,
        value: &str,
    ) -> Result<(), ConfigurationError> {
        if Url::parse(value).is_ok_and(|url| has_userinfo(&url)) {
            return Err(ConfigurationError::invalid(
                field,
                "must not carry user credentials (user:password@)",
            ));
        }
        match classify_uri(value, self.allow_insecure_localhost) {
            UriClass::Ok => Ok(()),
            UriClass::Invalid => Err(ConfigurationError::Uris {
                invalid: vec![field.to_owned()],
                non_https: vec![],
            }),
            UriClass::NonHttps => Err(ConfigurationError::Uris {
                invalid: vec![],
                non_https: vec![format!(
                    "{field} ({})",
                    crate::error::url_for_message(value)
                )],
            }),
        }
    }
}

/// Builds a [`ClientConfig`]; [`build`](Self::build) validates every URI at once.
#[derive(Debug, Clone)]
pub struct ClientConfigBuilder {
    base_url: String,
    audience: Option<String>,
    authorization_server_issuer: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scopes: Vec<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    introspection_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    jwks_uri: Option<String>,
    auth: ClientAuth,
    allow_insecure_localhost: bool,
    server: ServerDeclarations,
}

impl ClientConfigBuilder {
    /// Declares that the server always sends RFC 9207 `iss` with the authorization response
    /// (RFC 8414's `authorization_response_iss_parameter_supported`), for servers whose
    /// metadata does not say so: a callback without `iss` is then refused.
    pub fn server_sends_iss(mut self, sends: bool) -> Self {
        self.server.sends_iss = sends;
        self
    }

    /// Refuse a callback `iss` when no authorization server issuer is known (none configured
    /// with [`authorization_server_issuer`](Self::authorization_server_issuer), none
    /// discovered). By default such an `iss` is accepted with a finding.
    pub fn strict_issuer_check(mut self, strict: bool) -> Self {
        self.server.strict_issuer = strict;
        self
    }

    /// Declares that the server accepts POST authorization requests (`authorize-post`), so a
    /// POST authorization with a configured endpoint needs no discovery.
    pub fn authorize_post_supported(mut self, supported: bool) -> Self {
        self.server.authorize_post = supported;
        self
    }

    /// How long a pending authorization may wait for its callback (default 10 minutes): the
    /// code exchange refuses older ones.
    pub fn max_pending_age(mut self, age: std::time::Duration) -> Self {
        self.server.max_pending_age = age;
        self
    }

    /// Accepts EHR launches from this FHIR server too (the base URL is always accepted).
    pub fn launch_issuer(mut self, iss: impl Into<String>) -> Self {
        self.server.launch_issuers.push(iss.into());
        self
    }

    /// The client id (leave unset until dynamic registration has issued one).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The redirect URI registered for the client.
    pub fn redirect_uri(mut self, redirect_uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(redirect_uri.into());
        self
    }

    /// Default scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The `aud` value for authorization requests, when it differs from the base URL.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The authorization server's issuer identifier (RFC 9207), when it differs from the FHIR
    /// base URL and discovery is skipped: callbacks whose `iss` names another issuer are
    /// refused. Unlike [`audience`](Self::audience) it does not change the `aud` parameter.
    pub fn authorization_server_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_server_issuer = Some(issuer.into());
        self
    }

    /// Use this authorization endpoint instead of discovering it.
    pub fn authorization_endpoint(mut self, url: impl Into<String>) -> Self {
        self.authorization_endpoint = Some(url.into());
        self
    }

    /// Use this token endpoint instead of discovering it.
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }

    /// Use this introspection endpoint (RFC 7662) instead of the discovered
    /// `introspection_endpoint`.
    pub fn introspection_endpoint(mut self, url: impl Into<String>) -> Self {
        self.introspection_endpoint = Some(url.into());
        self
    }

    /// Use this revocation endpoint (RFC 7009) instead of the discovered `revocation_endpoint`.
    pub fn revocation_endpoint(mut self, url: impl Into<String>) -> Self {
        self.revocation_endpoint = Some(url.into());
        self
    }

    /// The authorization server's JWK Set URL, to verify id_tokens without discovering its
    /// `jwks_uri` (not the client's own keys: see [`jwks_uri`](Self::jwks_uri)).
    pub fn server_jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.server.server_jwks_uri = Some(url.into());
        self
    }

    /// Clock tolerance for the id_token's `exp`, `iat` and `nbf` (default 60 s).
    pub fn id_token_clock_skew(mut self, skew: std::time::Duration) -> Self {
        self.server.id_token_skew = Some(skew);
        self
    }

    /// Whether the code exchange verifies the id_token (default: yes). With `false` the
    /// token response keeps the raw `id_token` only and [`TokenResponse::identity`] stays
    /// `None`; verify it yourself with [`verify_id_token`](crate::verify_id_token).
    ///
    /// [`TokenResponse::identity`]: crate::TokenResponse::identity
    pub fn verify_id_tokens(mut self, verify: bool) -> Self {
        self.server.skip_id_token_verification = !verify;
        self
    }

    /// The client's JWKS URL, sent as the assertion's `jku` header.
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.jwks_uri = Some(url.into());
        self
    }

    /// How the client authenticates at the token endpoint (default: public).
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Allow plain http to loopback hosts (`localhost`, 127.0.0.0/8, `::1`). Development only.
    pub fn allow_insecure_localhost(mut self, allow: bool) -> Self {
        self.allow_insecure_localhost = allow;
        self
    }

    /// Validates every URI at once and returns the immutable configuration.
    pub fn build(self) -> Result<ClientConfig, ConfigurationError> {
        if self.base_url.trim().is_empty() {
            return Err(ConfigurationError::missing(["base_url"]));
        }
        let audience = self.audience.unwrap_or_else(|| self.base_url.clone());
        let mut invalid = Vec::new();
        let mut non_https = Vec::new();
        let checks = [
            ("base_url", Some(&self.base_url)),
            ("redirect_uri", self.redirect_uri.as_ref()),
            ("audience", Some(&audience)),
            (
                "authorization_endpoint",
                self.authorization_endpoint.as_ref(),
            ),
            ("token_endpoint", self.token_endpoint.as_ref()),
            (
                "introspection_endpoint",
                self.introspection_endpoint.as_ref(),
            ),
            ("revocation_endpoint", self.revocation_endpoint.as_ref()),
            ("jwks_uri", self.jwks_uri.as_ref()),
            ("server_jwks_uri", self.server.server_jwks_uri.as_ref()),
            (
                "authorization_server_issuer",
                self.authorization_server_issuer.as_ref(),
            ),
        ];
        for (field, value) in checks {
            let Some(value) = value else { continue };
            match classify_uri(value, self.allow_insecure_localhost) {
                UriClass::Ok => {}
                UriClass::Invalid => invalid.push(field.to_owned()),
                UriClass::NonHttps => non_https.push(field.to_owned()),
            }
        }
        if !invalid.is_empty() || !non_https.is_empty() {
            return Err(ConfigurationError::Uris { invalid, non_https });
        }
        Ok(ClientConfig {
            base_url: self.base_url,
            audience,
            authorization_server_issuer: self.authorization_server_issuer,
            client_id: self.client_id.filter(|id| !id.trim().is_empty()),
            redirect_uri: self.redirect_uri,
            scopes: self.scopes,
            authorization_endpoint: self.authorization_endpoint,
            token_endpoint: self.token_endpoint,
            introspection_endpoint: self.introspection_endpoint,
            revocation_endpoint: self.revocation_endpoint,
            jwks_uri: self.jwks_uri,
            auth: self.auth,
            allow_insecure_localhost: self.allow_insecure_localhost,
            server: self.server,
        })
    }
}

/// The verdict on one URI under the https rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UriClass {
    Ok,
    Invalid,
    NonHttps,
}

/// https is always fine; http only to a loopback host and only with the opt-in.
pub(crate) fn classify_uri(value: &str, allow_insecure_localhost: bool) -> UriClass {
    let Ok(url) = Url::parse(value) else {
        return UriClass::Invalid;
    };
    // `user:password@` would send credentials the server chose (or leak ours in logs).
    if !url.has_host() || url.cannot_be_a_base() || has_userinfo(&url) {
        return UriClass::Invalid;
    }
    match url.scheme() {
        "https" => UriClass::Ok,
        "http" if allow_insecure_localhost && is_loopback(&url) => UriClass::Ok,
        _ => UriClass::NonHttps,
    }
}

/// True when the URL carries `user` or `user:password` before its host.
pub(crate) fn has_userinfo(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// True when the URL's host is this machine: `localhost`, 127.0.0.0/8 or `::1`. The rule
/// [`ClientConfigBuilder::allow_insecure_localhost`] applies to plain `http` URLs.
///
/// ```
/// use safire_core::transport::is_loopback;
/// use safire_core::url::Url;
/// assert!(is_loopback(&Url::parse("http://localhost:8080/fhir")?));
/// assert!(is_loopback(&Url::parse("http://127.0.0.2/")?));
/// assert!(is_loopback(&Url::parse("http://[::1]:3000/")?));
/// assert!(!is_loopback(&Url::parse("http://ehr.example/")?));
/// assert!(!is_loopback(&Url::parse("http://10.0.0.1/")?));
/// # Ok::<(), safire_core::url::ParseError>(())
/// ```
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests;
