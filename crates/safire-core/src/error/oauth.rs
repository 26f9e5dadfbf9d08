//! The OAuth-shaped errors: what token, registration, introspection, revocation and
//! authorization endpoints refused, with the server's error fields (cleaned and scrubbed).

use std::fmt;

use super::Rendered;

/// The OAuth 2.0 error shape shared by token, authorization and registration failures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthErrorFields {
    /// HTTP status of the response (absent for callback errors).
    pub status: Option<u16>,
    /// The OAuth `error` code, e.g. `invalid_grant`.
    pub error_code: Option<String>,
    /// The server's `error_description`, cleaned with [`server_text`](super::server_text).
    pub error_description: Option<String>,
    /// The server's `error_uri`, cleaned with [`server_text`](super::server_text).
    pub error_uri: Option<String>,
}

impl OAuthErrorFields {
    pub(super) fn map_text(self, scrub: &dyn Fn(&str) -> String) -> Self {
        Self {
            status: self.status,
            error_code: self.error_code.map(|t| scrub(&t)),
            error_description: self.error_description.map(|t| scrub(&t)),
            error_uri: self.error_uri.map(|t| scrub(&t)),
        }
    }

    /// Writes `<label> — HTTP <status> — <error> — <description>`, skipping absent parts.
    pub(super) fn write_with(
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
