//! Session and transport errors.

use std::fmt;

use super::{OAuthErrorFields, Rendered};

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
#[non_exhaustive]
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
