//! Client configuration: who the client is, which server it talks to, how it authenticates.
//!
//! Built once with [`ClientConfig::builder`], validated once, immutable afterwards. URIs are
//! checked at build time (https only, http loopback with the explicit opt-in); credentials are
//! checked when a flow needs them, because per-call overrides may supply them.

use std::fmt;
use std::net::IpAddr;

use url::Url;

use crate::error::ConfigurationError;

mod auth;
mod builder;
mod options;

pub use auth::{BasicAuthEncoding, ClientAuth};
pub use builder::ClientConfigBuilder;
pub use options::CallOptions;

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

    /// [`check_endpoint`](Self::check_endpoint) for a URL the server chose (advertised in its
    /// metadata, or handed out in a registration): why it is refused, worded to blame the
    /// server, or `None` when it is fine.
    pub(crate) fn refuse_server_endpoint(&self, field: &str, value: &str) -> Option<&'static str> {
        Some(match self.check_endpoint(field, value).err()? {
            ConfigurationError::Uris { non_https, .. } if !non_https.is_empty() => {
                "which is not https (SMART requires TLS)"
            }
            ConfigurationError::Uris { .. } => "which is not a usable URL",
            _ => "which carries user credentials (user:password@)",
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
