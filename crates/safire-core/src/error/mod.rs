//! The error hierarchy: one enum whose variants say whose fault a failure is.
//!
//! Every message is built from structured fields; none contains a secret, token, code, PKCE
//! verifier or a response body. Text that came from a server (an OAuth `error_description`, a
//! redirect `Location`) is cleaned by [`server_text`] before it is stored.

mod oauth;
mod other;

use std::fmt;

pub use oauth::{
    AuthError, AuthErrorKind, IntrospectionError, OAuthErrorFields, RegistrationError,
    RevocationError, RevocationErrorKind, TokenError,
};
pub use other::{NetworkError, NetworkErrorKind, SessionError, SessionErrorKind};

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
    /// A refresh returned an id_token naming another user or issuer than the session's
    /// original one (OpenID Connect Core §12.2: `iss` and `sub` must stay the same). The
    /// session is not renewed. The message names the claim, never its values.
    #[error(
        "The refreshed id_token's `{claim}` differs from the session's original id_token \
         (OpenID Connect Core 12.2); the session was not renewed"
    )]
    IdentityChanged {
        /// The claim that changed: `iss` or `sub`.
        claim: &'static str,
    },
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
pub(crate) struct Rendered<'a, T>(&'a T, fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result);

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
#[non_exhaustive]
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

#[cfg(test)]
mod tests;
