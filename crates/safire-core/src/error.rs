//! The error hierarchy: one enum whose variants say whose fault a failure is.
//!
//! Every message is built from structured fields; none contains a secret, token, code, PKCE
//! verifier or a response body. Text that came from a server (an OAuth `error_description`, a
//! redirect `Location`) is cleaned by [`server_text`] before it is stored.

use std::fmt;

/// Everything that can go wrong in Safire.
///
/// ```
/// use safire_core::{ConfigurationError, Error, ErrorSource};
/// let err = Error::from(ConfigurationError::missing(["private_key", "kid"]));
/// assert_eq!(err.to_string(), "Configuration missing: private_key, kid");
/// assert_eq!(err.source_of_fault(), ErrorSource::Caller);
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client was configured wrongly or a call lacks what it needs: fix the code or config.
    #[error(transparent)]
    Configuration(#[from] ConfigurationError),
    /// The SMART configuration could not be fetched or used.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// The authorization callback or EHR launch was rejected.
    #[error(transparent)]
    Authorization(Box<AuthError>),
    /// The token endpoint refused or answered with something unusable.
    #[error(transparent)]
    Token(Box<TokenError>),
    /// Dynamic client registration, or managing a registration (RFC 7592), failed.
    #[error(transparent)]
    Registration(Box<RegistrationError>),
    /// Token introspection (RFC 7662) was refused or answered with something unusable.
    #[error(transparent)]
    Introspection(Box<IntrospectionError>),
    /// Token revocation (RFC 7009) was refused.
    #[error(transparent)]
    Revocation(Box<RevocationError>),
    /// The id_token could not be verified: who the user is stays unknown.
    #[error(transparent)]
    Identity(Box<IdentityError>),
    /// The transport failed (connection, timeout, TLS, redirect refused, body too large).
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// A [`Signer`](crate::Signer) could not sign the client assertion.
    #[error("Signing the client assertion failed: {0}")]
    Signing(String),
    /// The random number generator failed.
    #[error("The random number generator failed: {0}")]
    Random(String),
    /// The library was called out of order (see the call contract in [`crate::Driver`]).
    #[error("Safire was called out of order: {0}")]
    Usage(&'static str),
    /// A session cannot go on: the user must authorize again, a token was about to go where
    /// it does not belong, or the session store failed (see [`SessionErrorKind`]).
    #[error(transparent)]
    Session(Box<SessionError>),
}

impl From<SessionError> for Error {
    fn from(error: SessionError) -> Self {
        Error::Session(Box::new(error))
    }
}

impl From<crate::store::StoreError> for Error {
    fn from(error: crate::store::StoreError) -> Self {
        Error::Session(Box::new(SessionError::store(error)))
    }
}

// The OAuth-shaped errors are boxed so that `Result<T, Error>` stays small on the happy path.
impl From<AuthError> for Error {
    fn from(error: AuthError) -> Self {
        Error::Authorization(Box::new(error))
    }
}

impl From<TokenError> for Error {
    fn from(error: TokenError) -> Self {
        Error::Token(Box::new(error))
    }
}

impl From<RegistrationError> for Error {
    fn from(error: RegistrationError) -> Self {
        Error::Registration(Box::new(error))
    }
}

impl From<IntrospectionError> for Error {
    fn from(error: IntrospectionError) -> Self {
        Error::Introspection(Box::new(error))
    }
}

impl From<RevocationError> for Error {
    fn from(error: RevocationError) -> Self {
        Error::Revocation(Box::new(error))
    }
}

impl From<IdentityError> for Error {
    fn from(error: IdentityError) -> Self {
        Error::Identity(Box::new(error))
    }
}

impl From<crate::oidc::IdTokenError> for Error {
    fn from(error: crate::oidc::IdTokenError) -> Self {
        IdentityError::Refused(error).into()
    }
}

/// Why the user's identity (the id_token) could not be established.
///
/// ```
/// use safire_core::{Error, ErrorSource, IdTokenError, IdentityError};
/// let err = Error::from(IdTokenError::NonceMismatch);
/// assert_eq!(
///     err.to_string(),
///     "The id_token was refused: ID token: `nonce` differs from the one sent in the authorization request"
/// );
/// assert_eq!(err.source_of_fault(), ErrorSource::Server);
/// assert!(matches!(err, Error::Identity(ref e) if matches!(**e, IdentityError::Refused(IdTokenError::NonceMismatch))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The id_token failed a check (signature, key, `iss`, `aud`, times, `nonce`, …).
    #[error("The id_token was refused: {0}")]
    Refused(crate::oidc::IdTokenError),
    /// The server's JWK Set could not be fetched or parsed.
    #[error(
        "The server's JWK Set from {endpoint}{} is unusable{}",
        status.map(|s| format!(" (HTTP {s})")).unwrap_or_default(),
        reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
    )]
    Jwks {
        /// The `jwks_uri` (without query).
        endpoint: String,
        /// The HTTP status, when it was not a success.
        status: Option<u16>,
        /// What was wrong with the document.
        reason: Option<String>,
    },
    /// No authorization server issuer is known to check the id_token's `iss` against.
    #[error(
        "The id_token cannot be verified: no authorization server issuer is known (the SMART \
         configuration names none); configure ClientConfigBuilder::authorization_server_issuer"
    )]
    IssuerUnknown,
}

/// Whose fault an [`Error`] is, so applications can decide between "fix your setup", "the
/// server misbehaved" and "try again later".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorSource {
    /// Configuration or call arguments: retrying will not help.
    Caller,
    /// The authorization server (or the user at it) refused or misbehaved.
    Server,
    /// Network, TLS, timeouts: often transient.
    Network,
    /// The local environment (random number generator, signing backend).
    Environment,
}

impl Error {
    /// Whose fault this error is.
    pub fn source_of_fault(&self) -> ErrorSource {
        match self {
            Error::Configuration(_) | Error::Usage(_) => ErrorSource::Caller,
            Error::Authorization(e) => match e.kind {
                // The app's session (or an attack on it), or the app's own setting: nothing the
                // server did.
                AuthErrorKind::StateMismatch
                | AuthErrorKind::MissingState
                | AuthErrorKind::IssuerUnknown
                | AuthErrorKind::PendingExpired
                | AuthErrorKind::MalformedUrl
                | AuthErrorKind::LaunchIssuerNotAllowed
                | AuthErrorKind::MalformedLaunch => ErrorSource::Caller,
                _ => ErrorSource::Server,
            },
            Error::Discovery(_)
            | Error::Token(_)
            | Error::Registration(_)
            | Error::Introspection(_)
            | Error::Revocation(_) => ErrorSource::Server,
            Error::Identity(e) => match **e {
                IdentityError::IssuerUnknown => ErrorSource::Caller,
                _ => ErrorSource::Server,
            },
            // Redirects, bodies and endpoints are the server's choice, not a transient failure.
            Error::Network(e) => match e.kind {
                NetworkErrorKind::RedirectRefused
                | NetworkErrorKind::TooManyRedirects
                | NetworkErrorKind::BodyTooLarge => ErrorSource::Server,
                _ => ErrorSource::Network,
            },
            Error::Signing(_) | Error::Random(_) => ErrorSource::Environment,
            Error::Session(e) => match &e.kind {
                SessionErrorKind::ReauthorizationRequired => ErrorSource::Server,
                SessionErrorKind::DestinationNotAllowed | SessionErrorKind::WrongSession => {
                    ErrorSource::Caller
                }
                SessionErrorKind::Store(
                    crate::store::StoreErrorKind::Unavailable
                    | crate::store::StoreErrorKind::Timeout,
                ) => ErrorSource::Network,
                SessionErrorKind::Store(_) => ErrorSource::Environment,
            },
        }
    }

    /// True when the session behind this error needs the user to authorize again (its
    /// refresh token was refused, expired or never granted): send the user through the
    /// authorization flow.
    ///
    /// ```
    /// use safire_core::{Error, SessionError};
    /// let err = Error::from(SessionError::reauthorization_required("the refresh token expired"));
    /// assert!(err.is_reauthorization_required());
    /// ```
    pub fn is_reauthorization_required(&self) -> bool {
        matches!(self, Error::Session(e) if e.kind == SessionErrorKind::ReauthorizationRequired)
    }

    /// The OAuth error fields when the server sent them (token, authorization, registration,
    /// introspection, revocation, session renewal).
    pub fn oauth(&self) -> Option<&OAuthErrorFields> {
        match self {
            Error::Authorization(e) => Some(&e.oauth),
            Error::Token(e) => Some(&e.oauth),
            Error::Registration(e) => Some(&e.oauth),
            Error::Introspection(e) => Some(&e.oauth),
            Error::Revocation(e) => Some(&e.oauth),
            Error::Session(e) => e.oauth.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status the failure came with, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Discovery(e) => e.status,
            _ => self.oauth().and_then(|o| o.status),
        }
    }

    /// The same error with `scrub` applied to every piece of text that came from a server
    /// (OAuth fields, details, field names, descriptions).
    pub(crate) fn map_text(self, scrub: &dyn Fn(&str) -> String) -> Error {
        let detail = |d: Option<Box<str>>| d.map(|d| scrub(&d).into_boxed_str());
        let names = |n: Vec<String>| n.iter().map(|n| scrub(n)).collect::<Vec<_>>();
        match self {
            Error::Discovery(mut e) => {
                e.description = e.description.map(|d| scrub(&d));
                Error::Discovery(e)
            }
            Error::Authorization(mut e) => {
                e.oauth = e.oauth.map_text(scrub);
                e.detail = detail(e.detail);
                Error::Authorization(e)
            }
            Error::Token(mut e) => {
                e.oauth = e.oauth.map_text(scrub);
                e.detail = detail(e.detail);
                e.received_fields = names(e.received_fields);
                Error::Token(e)
            }
            Error::Registration(mut e) => {
                e.oauth = e.oauth.map_text(scrub);
                e.detail = detail(e.detail);
                e.received_fields = names(e.received_fields);
                Error::Registration(e)
            }
            Error::Introspection(mut e) => {
                e.oauth = e.oauth.map_text(scrub);
                e.detail = detail(e.detail);
                e.received_fields = names(e.received_fields);
                Error::Introspection(e)
            }
            Error::Revocation(mut e) => {
                e.oauth = e.oauth.map_text(scrub);
                Error::Revocation(e)
            }
            Error::Network(mut e) => {
                e.description = scrub(&e.description);
                Error::Network(e)
            }
            other => other,
        }
    }

    /// The OAuth `error` code (`invalid_grant`, `invalid_client`, …), if the server sent one.
    pub fn error_code(&self) -> Option<&str> {
        self.oauth().and_then(|o| o.error_code.as_deref())
    }
}

/// Adapts a `render(&self, &mut Formatter)` function to `Display`, so the structs below can
/// derive `thiserror::Error` while keeping their conditional messages in one function.
struct Rendered<'a, T>(&'a T, fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result);

impl<T> fmt::Display for Rendered<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.1)(self.0, f)
    }
}

/// Longest piece of server-supplied text kept in an error.
const MAX_SERVER_TEXT: usize = 300;

/// Cleans text that came from a server or a callback URL before it goes into an error:
/// control characters become spaces and the text is cut at a sane length.
pub fn server_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_SERVER_TEXT + 3));
    for (count, c) in raw.chars().enumerate() {
        if count >= MAX_SERVER_TEXT {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// A URL for an error message: scheme, host, port and path only, never query or fragment
/// (where codes and tokens travel).
pub fn url_for_message(raw: &str) -> String {
    let cut = raw.find(['?', '#']).unwrap_or(raw.len());
    let without_query = raw.get(..cut).unwrap_or(raw);
    // `user:password@` in the authority is a credential too.
    let shown = match without_query.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let authority = rest.get(..authority_end).unwrap_or(rest);
            match authority.rfind('@') {
                Some(at) => format!(
                    "{scheme}://[REDACTED]@{}",
                    rest.get(at + 1..).unwrap_or_default()
                ),
                None => without_query.to_owned(),
            }
        }
        None => without_query.to_owned(),
    };
    server_text(&shown)
}

/// A configuration problem found before any request was built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Rendered(self, Self::render))]
#[non_exhaustive]
pub enum ConfigurationError {
    /// Attributes that the operation needs and nobody supplied.
    Missing(Vec<String>),
    /// URIs that do not parse, and URIs that are not https.
    Uris {
        /// Attributes whose value is not an absolute URI with a host.
        invalid: Vec<String>,
        /// Attributes whose value is not https (and not an allowed http loopback URI).
        non_https: Vec<String>,
    },
    /// One attribute has a value that cannot be used.
    Invalid {
        /// The attribute name.
        attribute: String,
        /// What is wrong and what would be right. Never contains a secret.
        reason: String,
    },
}

impl ConfigurationError {
    /// `Configuration missing: a, b`.
    pub fn missing<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ConfigurationError::Missing(names.into_iter().map(Into::into).collect())
    }

    /// `Invalid <attribute>: <reason>`.
    pub fn invalid(attribute: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigurationError::Invalid {
            attribute: attribute.into(),
            reason: reason.into(),
        }
    }
}

impl ConfigurationError {
    /// `Display` (through thiserror's `fmt`), kept beside the fields it reads.
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigurationError::Missing(names) if !names.is_empty() => {
                write!(f, "Configuration missing: {}", names.join(", "))
            }
            ConfigurationError::Missing(_) => f.write_str("Configuration error"),
            ConfigurationError::Uris { invalid, non_https } => {
                let mut parts = Vec::new();
                if !invalid.is_empty() {
                    parts.push(format!(
                        "Configuration has invalid URIs: {}",
                        invalid.join(", ")
                    ));
                }
                if !non_https.is_empty() {
                    parts.push(format!(
                        "Configuration requires HTTPS for: {} (SMART App Launch 2.2.0 requires TLS; \
                         HTTP loopback requires allow_insecure_localhost)",
                        non_https.join(", ")
                    ));
                }
                if parts.is_empty() {
                    f.write_str("Configuration error")
                } else {
                    f.write_str(&parts.join(". "))
                }
            }
            ConfigurationError::Invalid { attribute, reason } => {
                write!(f, "Invalid {attribute}: {reason}")
            }
        }
    }
}

/// The SMART configuration could not be discovered or lacks something a flow needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Rendered(self, Self::render))]
pub struct DiscoveryError {
    /// The URL that was fetched (without query).
    pub endpoint: String,
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
    /// What was wrong with the answer.
    pub description: Option<String>,
}

impl DiscoveryError {
    /// A discovery failure for `endpoint`.
    pub fn new(endpoint: &str, status: Option<u16>, description: Option<String>) -> Self {
        Self {
            endpoint: url_for_message(endpoint),
            status,
            description,
        }
    }
}

impl DiscoveryError {
    /// `Display` (through thiserror's `fmt`), kept beside the fields it reads.
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Failed to discover SMART configuration from {}",
            self.endpoint
        )?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        if let Some(description) = &self.description {
            write!(f, ": {description}")?;
        }
        Ok(())
    }
}

/// The OAuth 2.0 error shape shared by token, authorization and registration failures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthErrorFields {
    /// HTTP status of the response (absent for callback errors).
    pub status: Option<u16>,
    /// The OAuth `error` code, e.g. `invalid_grant`.
    pub error_code: Option<String>,
    /// The server's `error_description`, cleaned with [`server_text`].
    pub error_description: Option<String>,
    /// The server's `error_uri`, cleaned with [`server_text`].
    pub error_uri: Option<String>,
}

impl OAuthErrorFields {
    fn map_text(self, scrub: &dyn Fn(&str) -> String) -> Self {
        Self {
            status: self.status,
            error_code: self.error_code.map(|t| scrub(&t)),
            error_description: self.error_description.map(|t| scrub(&t)),
            error_uri: self.error_uri.map(|t| scrub(&t)),
        }
    }

    /// Writes `<label> — HTTP <status> — <error> — <description>`, skipping absent parts.
    fn write_with(
        &self,
        f: &mut fmt::Formatter<'_>,
        label: &str,
        detail: Option<&str>,
    ) -> fmt::Result {
        f.write_str(label)?;
        if let Some(status) = self.status {
            write!(f, " — HTTP {status}")?;
        }
        if let Some(code) = &self.error_code {
            write!(f, " — {code}")?;
        }
        if let Some(description) = &self.error_description {
            write!(f, " — {description}")?;
        }
        if let Some(detail) = detail {
            write!(f, " — {detail}")?;
        }
        Ok(())
    }
}

/// The token endpoint refused the request or answered with something unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Rendered(self, Self::render))]
pub struct TokenError {
    /// Status and OAuth error fields.
    pub oauth: OAuthErrorFields,
    /// Names (never values) of the fields of a 2xx body that had no `access_token`.
    pub received_fields: Vec<String>,
    /// Our own explanation when the body was unusable.
    pub detail: Option<Box<str>>,
}

impl TokenError {
    /// `Display` (through thiserror's `fmt`), kept beside the fields it reads.
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.received_fields.is_empty() {
            return write!(
                f,
                "Missing access token in response; received fields: {}",
                self.received_fields.join(", ")
            );
        }
        self.oauth
            .write_with(f, "Token request failed", self.detail.as_deref())
    }
}

/// Dynamic client registration failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Rendered(self, Self::render))]
pub struct RegistrationError {
    /// Status and OAuth error fields.
    pub oauth: OAuthErrorFields,
    /// Names (never values) of the fields of a body that had no usable `client_id`.
    pub received_fields: Vec<String>,
    /// Our own explanation when the body was unusable.
    pub detail: Option<Box<str>>,
}

impl RegistrationError {
    /// `Display` (through thiserror's `fmt`), kept beside the fields it reads.
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.received_fields.is_empty() {
            return write!(
                f,
                "Registration response missing client_id; received fields: {}",
                self.received_fields.join(", ")
            );
        }
        self.oauth
            .write_with(f, "Client registration failed", self.detail.as_deref())
    }
}

/// The introspection endpoint refused the request or answered with something unusable.
///
/// Never contains the token being introspected: server text quoting it is scrubbed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Rendered(self, Self::render))]
#[non_exhaustive]
pub struct IntrospectionError {
    /// Status and OAuth error fields.
    pub oauth: OAuthErrorFields,
    /// Names (never values) of the fields of a 2xx body that had no usable `active`.
    pub received_fields: Vec<String>,
    /// Our own explanation when the body was unusable.
    pub detail: Option<Box<str>>,
}

impl IntrospectionError {
    pub(crate) fn new(
        oauth: OAuthErrorFields,
        received_fields: Vec<String>,
        detail: Option<&str>,
    ) -> Self {
        Self {
            oauth,
            received_fields,
            detail: detail.map(Into::into),
        }
    }
}

impl IntrospectionError {
    /// `Display` (through thiserror's `fmt`), kept beside the fields it reads.
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.received_fields.is_empty() {
            self.oauth
                .write_with(f, "Token introspection failed", self.detail.as_deref())?;
            return write!(f, "; received fields: {}", self.received_fields.join(", "));
        }
        self.oauth
            .write_with(f, "Token introspection failed", self.detail.as_deref())
    }
}

/// Why a revocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationErrorKind {
    /// The server cannot revoke this type of token (`unsupported_token_type`, RFC 7009
    /// §2.2.1): e.g. it revokes refresh tokens only. Revoke the other token instead.
    UnsupportedTokenType,
    /// Any other refusal (`invalid_client`, `invalid_request`, a 5xx, …).
    Refused,
}

/// The revocation endpoint refused the request.
///
/// Never contains the token being revoked: server text quoting it is scrubbed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Rendered(self, Self::render))]
#[non_exhaustive]
pub struct RevocationError {
    /// What went wrong.
    pub kind: RevocationErrorKind,
    /// Status and OAuth error fields.
    pub oauth: OAuthErrorFields,
}

impl RevocationError {
    pub(crate) fn new(oauth: OAuthErrorFields) -> Self {
        let kind = match oauth.error_code.as_deref() {
            Some("unsupported_token_type") => RevocationErrorKind::UnsupportedTokenType,
            _ => RevocationErrorKind::Refused,
        };
        Self { kind, oauth }
    }
}

impl RevocationError {
    /// `Display` (through thiserror's `fmt`), kept beside the fields it reads.
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = match self.kind {
            RevocationErrorKind::UnsupportedTokenType => {
                Some("the server does not revoke this type of token")
            }
            _ => None,
        };
        self.oauth.write_with(f, "Token revocation failed", detail)
    }
}

/// Why an authorization callback or EHR launch was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// The server redirected back with `error=…` (the user denied, or the request was invalid).
    Denied,
    /// The callback's `state` differs from the pending authorization's: possible CSRF.
    StateMismatch,
    /// The callback has no `state` parameter.
    MissingState,
    /// The callback has neither `code` nor `error`.
    MissingCode,
    /// The callback's RFC 9207 `iss` differs from the expected issuer: possible mix-up attack.
    IssuerMismatch,
    /// The callback names an `iss`, but no authorization server issuer is known to check it
    /// against and strict checking was asked for: configure `authorization_server_issuer`.
    IssuerUnknown,
    /// The pending authorization is older than the configured maximum age.
    PendingExpired,
    /// The callback or launch URL could not be parsed.
    MalformedUrl,
    /// The EHR launch named an `iss` that is not on the application's allow-list.
    LaunchIssuerNotAllowed,
    /// The EHR launch URL lacks `iss` or `launch`.
    MalformedLaunch,
}

/// The authorization callback or EHR launch was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Rendered(self, Self::render))]
pub struct AuthError {
    /// What went wrong.
    pub kind: AuthErrorKind,
    /// OAuth error fields from the callback (for [`AuthErrorKind::Denied`]).
    pub oauth: OAuthErrorFields,
    /// Our own explanation, telling the user what to do.
    pub detail: Option<Box<str>>,
}

impl AuthError {
    /// An error of `kind` with an explanation.
    pub fn new(kind: AuthErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            oauth: OAuthErrorFields::default(),
            detail: Some(detail.into().into_boxed_str()),
        }
    }
}

impl AuthError {
    /// `Display` (through thiserror's `fmt`), kept beside the fields it reads.
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.oauth
            .write_with(f, "Authorization request failed", self.detail.as_deref())
    }
}

/// Why a [`SessionError`] happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionErrorKind {
    /// The session cannot be renewed without the user: the refresh token was refused
    /// (`invalid_grant`), or there is none and the access token expired. Start a new
    /// authorization.
    ReauthorizationRequired,
    /// A bearer token would have gone to a URL outside the session's FHIR base (another
    /// origin, or another path on the same origin) that was not allowed explicitly.
    DestinationNotAllowed,
    /// The session value belongs to another server or client than the one asked to use it.
    WrongSession,
    /// The session store failed.
    Store(crate::store::StoreErrorKind),
}

/// A session cannot go on. Its message never contains a token, a URL query or a patient
/// identifier.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", Rendered(self, Self::render))]
pub struct SessionError {
    /// What went wrong.
    pub kind: SessionErrorKind,
    /// Our explanation, telling the user what to do.
    pub detail: Box<str>,
    /// The token endpoint's OAuth error, when a refusal caused it.
    pub oauth: Option<Box<OAuthErrorFields>>,
    #[source]
    store: Option<Box<crate::store::StoreError>>,
}

impl PartialEq for SessionError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.detail == other.detail && self.oauth == other.oauth
    }
}

impl SessionError {
    /// An error of `kind` with an explanation.
    pub fn new(kind: SessionErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into().into_boxed_str(),
            oauth: None,
            store: None,
        }
    }

    /// "Re-authorization required", with the reason.
    pub fn reauthorization_required(detail: impl Into<String>) -> Self {
        Self::new(SessionErrorKind::ReauthorizationRequired, detail)
    }

    /// A store failure, kept as the `source()`.
    pub fn store(error: crate::store::StoreError) -> Self {
        Self {
            kind: SessionErrorKind::Store(error.kind),
            detail: error.message.clone().into_boxed_str(),
            oauth: None,
            store: Some(Box::new(error)),
        }
    }

    /// The same error with the server's OAuth error fields.
    pub fn with_oauth(mut self, oauth: OAuthErrorFields) -> Self {
        self.oauth = Some(Box::new(oauth));
        self
    }
}

impl SessionError {
    /// `Display` (through thiserror's `fmt`), kept beside the fields it reads.
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.kind {
            SessionErrorKind::ReauthorizationRequired => "Re-authorization required",
            SessionErrorKind::DestinationNotAllowed => "Bearer token not sent",
            SessionErrorKind::WrongSession => "Session does not belong to this client",
            SessionErrorKind::Store(_) => "Session store failed",
        };
        match &self.oauth {
            Some(oauth) => oauth.write_with(f, label, Some(&self.detail)),
            None => write!(f, "{label} — {}", self.detail),
        }
    }
}

/// What kind of transport failure a [`NetworkError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkErrorKind {
    /// The connection could not be opened (refused, DNS, unreachable).
    Connect,
    /// The connect or whole-request deadline passed.
    Timeout,
    /// TLS handshake or certificate verification failed.
    Tls,
    /// A redirect was refused by the redirect policy.
    RedirectRefused,
    /// More redirects than the policy allows.
    TooManyRedirects,
    /// The response body exceeded the size cap.
    BodyTooLarge,
    /// Any other I/O or protocol failure.
    Io,
}

/// The transport failed. Filled by transports, and by the core's redirect policy.
///
/// The transport's own error (rustls, io, hyper, ureq …) is kept as [`source()`]; transports
/// make sure it holds no secret (it never sees a body, and URLs are cut before the query).
///
/// [`source()`]: std::error::Error::source
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", Rendered(self, Self::render))]
#[non_exhaustive]
pub struct NetworkError {
    /// What kind of failure.
    pub kind: NetworkErrorKind,
    /// A human description, e.g. `Connection refused`.
    pub description: String,
    #[source]
    source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl NetworkError {
    /// A transport failure of `kind`.
    pub fn new(kind: NetworkErrorKind, description: impl Into<String>) -> Self {
        Self {
            kind,
            description: description.into(),
            source: None,
        }
    }

    /// A transport failure of `kind` caused by `source`, described by its `Display`.
    ///
    /// ```
    /// use safire_core::{NetworkError, NetworkErrorKind};
    /// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    /// let err = NetworkError::other(NetworkErrorKind::Connect, io);
    /// assert_eq!(err.to_string(), "HTTP request failed: refused");
    /// assert!(std::error::Error::source(&err).is_some());
    /// ```
    pub fn other(
        kind: NetworkErrorKind,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::new(kind, source.to_string()).with_source(source)
    }

    /// The same error with `source` kept as its cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(std::sync::Arc::new(source));
        self
    }
}

// Two errors are equal when they say the same thing; the source is an explanation, not identity.
impl PartialEq for NetworkError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.description == other.description
    }
}

impl Eq for NetworkError {}

impl NetworkError {
    /// `Display` (through thiserror's `fmt`), kept beside the fields it reads.
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP request failed: {}", self.description)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_messages() {
        assert_eq!(
            ConfigurationError::missing(["private_key", "kid"]).to_string(),
            "Configuration missing: private_key, kid"
        );
        let uris = ConfigurationError::Uris {
            invalid: vec!["redirect_uri".into()],
            non_https: vec!["base_url".into(), "issuer".into()],
        };
        let text = uris.to_string();
        assert!(text.starts_with("Configuration has invalid URIs: redirect_uri. "));
        assert!(text.contains("Configuration requires HTTPS for: base_url, issuer ("));
    }

    #[test]
    fn oauth_messages_follow_the_seeds() {
        let err = RegistrationError {
            oauth: OAuthErrorFields {
                status: Some(400),
                error_code: Some("invalid_redirect_uri".into()),
                error_description: Some("Redirect URI must use HTTPS".into()),
                error_uri: None,
            },
            received_fields: vec![],
            detail: None,
        };
        assert_eq!(
            err.to_string(),
            "Client registration failed — HTTP 400 — invalid_redirect_uri — Redirect URI must use HTTPS"
        );
        let missing = TokenError {
            oauth: OAuthErrorFields {
                status: Some(200),
                ..Default::default()
            },
            received_fields: vec!["token_type".into(), "expires_in".into()],
            detail: None,
        };
        assert_eq!(
            missing.to_string(),
            "Missing access token in response; received fields: token_type, expires_in"
        );
    }

    #[test]
    fn discovery_message() {
        let err = DiscoveryError::new(
            "https://ehr.example/.well-known/smart-configuration?x=1",
            Some(404),
            None,
        );
        assert_eq!(
            err.to_string(),
            "Failed to discover SMART configuration from https://ehr.example/.well-known/smart-configuration (HTTP 404)"
        );
    }

    #[test]
    fn server_text_is_cleaned_and_bounded() {
        assert_eq!(server_text("a\nb\u{7}c"), "a b c");
        let long = "x".repeat(10_000);
        assert!(server_text(&long).chars().count() <= MAX_SERVER_TEXT + 1);
        assert_eq!(
            url_for_message("https://a.example/cb?code=SECRET#frag"),
            "https://a.example/cb"
        );
        assert_eq!(
            url_for_message("http://u:SECRETPW@evil.example/x?y"),
            "http://[REDACTED]@evil.example/x"
        );
        assert_eq!(
            url_for_message("https://a.example/p@th"),
            "https://a.example/p@th"
        );
    }

    #[test]
    fn error_stays_small() {
        // Keeps `Result<T, Error>` cheap and clippy's `result_large_err` quiet for users.
        assert!(
            std::mem::size_of::<Error>() <= 64,
            "{}",
            std::mem::size_of::<Error>()
        );
    }

    #[test]
    fn network_message() {
        let err = NetworkError::new(NetworkErrorKind::Connect, "Connection refused");
        assert_eq!(err.to_string(), "HTTP request failed: Connection refused");
    }
}
