//! What the app keeps across the redirect, and the callback check that turns it into a code.

use std::fmt;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use url::Url;

use crate::error::{AuthError, AuthErrorKind, OAuthErrorFields, server_text};
use crate::secret::SecretString;

/// What an app stores across the redirect (in its session) to finish the flow at the callback.
///
/// It serializes with its secrets: the PKCE verifier and state are in it in plain text, so keep
/// it server-side or in an encrypted session, never in a cookie that is only signed. Its
/// `Debug` shows neither. Refuse stale ones with [`is_older_than`](Self::is_older_than).
///
/// The RFC 9207 `iss` check compares the callback's `iss` with the issuer the SMART
/// configuration names. SMART discovery does not bind that issuer to the URL it came from, so
/// an app that talks to several authorization servers should also give each its own
/// redirect URI (RFC 9700 §4.4) and look pending authorizations up per server.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub(super) state: SecretString,
    pub(super) code_verifier: SecretString,
    pub(super) client_id: String,
    /// The `aud` sent: the FHIR server this authorization is for.
    pub(super) aud: String,
    pub(super) redirect_uri: String,
    /// Issuers the RFC 9207 `iss` callback parameter may name.
    pub(super) expected_issuers: Vec<String>,
    /// Whether the server promised to send `iss` (RFC 9207 metadata).
    pub(super) issuer_required: bool,
    pub(super) scopes: Vec<String>,
    /// Seconds since the Unix epoch when the request was made.
    pub(super) created_at: u64,
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("state", &self.state)
            .field("code_verifier", &self.code_verifier)
            .field("client_id", &self.client_id)
            .field("aud", &self.aud)
            .field("redirect_uri", &self.redirect_uri)
            .field("expected_issuers", &self.expected_issuers)
            .field("scopes", &self.scopes)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// The authorization code returned by a verified callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    /// The code (redacted in `Debug`).
    pub code: SecretString,
    /// The PKCE verifier to send with it.
    pub code_verifier: SecretString,
    /// The redirect URI the code was issued for.
    pub redirect_uri: String,
}

impl PendingAuthorization {
    /// The `state` value sent (to look the pending authorization up in a store).
    pub fn state(&self) -> &str {
        self.state.expose()
    }

    /// The PKCE verifier.
    pub fn code_verifier(&self) -> &SecretString {
        &self.code_verifier
    }

    /// The client that started the authorization: only it may redeem the code.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The FHIR server (`aud`) the authorization is for: pick the client for it at the callback.
    pub fn aud(&self) -> &str {
        &self.aud
    }

    /// True when the authorization was started more than `max_age` before `now`: apps should
    /// refuse stale pending authorizations (10 minutes is a sensible limit).
    pub fn is_older_than(&self, now: std::time::SystemTime, max_age: std::time::Duration) -> bool {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        now.saturating_sub(self.created_at) > max_age.as_secs()
    }

    /// The redirect URI used.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The scopes requested.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// When the request was made, in seconds since the Unix epoch.
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// Verifies the callback URL (or just its query string) and returns the code.
    ///
    /// Checks, in order: `state` present and equal (constant time), RFC 9207 `iss` equal to the
    /// expected issuer when present (required when the server advertised it), then `error` →
    /// [`AuthErrorKind::Denied`], then `code`.
    pub fn complete(&self, callback: &str) -> Result<AuthorizationCode, AuthError> {
        let query = callback_query(callback)?;
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        self.complete_with_params(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Like [`complete`](Self::complete), for frameworks that already parsed the query.
    pub fn complete_with_params<'a>(
        &self,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<AuthorizationCode, AuthError> {
        let mut callback = CallbackParams::default();
        for (name, value) in params {
            let slot = match name {
                "state" => &mut callback.state,
                "code" => &mut callback.code,
                "iss" => &mut callback.iss,
                "error" => &mut callback.error,
                "error_description" => &mut callback.error_description,
                "error_uri" => &mut callback.error_uri,
                _ => continue,
            };
            if slot.is_some() {
                return Err(AuthError::new(
                    AuthErrorKind::MalformedUrl,
                    format!(
                        "the callback repeats the '{name}' parameter; start a new authorization"
                    ),
                ));
            }
            *slot = Some(value.to_owned());
        }
        self.verify(callback)
    }

    fn verify(&self, callback: CallbackParams) -> Result<AuthorizationCode, AuthError> {
        let Some(state) = callback.state else {
            return Err(AuthError::new(
                AuthErrorKind::MissingState,
                "the callback has no 'state' parameter; it did not come from this authorization request",
            ));
        };
        let matches: bool = state
            .as_bytes()
            .ct_eq(self.state.expose().as_bytes())
            .into();
        if !matches {
            return Err(AuthError::new(
                AuthErrorKind::StateMismatch,
                "the callback's state does not match the pending authorization (possible CSRF); start a new authorization",
            ));
        }
        match &callback.iss {
            Some(iss) if !self.issuer_matches(iss) => {
                return Err(AuthError::new(
                    AuthErrorKind::IssuerMismatch,
                    format!(
                        "the callback's iss '{}' is not the expected issuer '{}' (RFC 9207; possible mix-up attack)",
                        server_text(iss),
                        self.expected_issuers
                            .first()
                            .map(String::as_str)
                            .unwrap_or_default()
                    ),
                ));
            }
            None if self.issuer_required => {
                return Err(AuthError::new(
                    AuthErrorKind::IssuerMismatch,
                    "the server advertises RFC 9207 but the callback has no 'iss' parameter",
                ));
            }
            _ => {}
        }
        if let Some(error) = callback.error {
            return Err(AuthError {
                kind: AuthErrorKind::Denied,
                oauth: OAuthErrorFields {
                    status: None,
                    error_code: Some(server_text(&error)),
                    error_description: callback.error_description.as_deref().map(server_text),
                    error_uri: callback.error_uri.as_deref().map(server_text),
                },
                detail: None,
            });
        }
        match callback.code {
            Some(code) if !code.is_empty() => Ok(AuthorizationCode {
                code: SecretString::new(code),
                code_verifier: self.code_verifier.clone(),
                redirect_uri: self.redirect_uri.clone(),
            }),
            _ => Err(AuthError::new(
                AuthErrorKind::MissingCode,
                "the callback has neither 'code' nor 'error'",
            )),
        }
    }

    fn issuer_matches(&self, iss: &str) -> bool {
        let iss = iss.strip_suffix('/').unwrap_or(iss);
        self.expected_issuers
            .iter()
            .any(|expected| expected.strip_suffix('/').unwrap_or(expected) == iss)
    }
}

#[derive(Default)]
struct CallbackParams {
    state: Option<String>,
    code: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    error_uri: Option<String>,
}

/// The query of a callback given as a full URL, a `?query`, or a bare query.
pub(super) fn callback_query(callback: &str) -> Result<String, AuthError> {
    let trimmed = callback.trim();
    let lower = trimmed.get(..8).unwrap_or(trimmed).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let url = Url::parse(trimmed).map_err(|_| {
            AuthError::new(
                AuthErrorKind::MalformedUrl,
                "the callback URL cannot be parsed",
            )
        })?;
        return Ok(url.query().unwrap_or_default().to_owned());
    }
    Ok(trimmed.strip_prefix('?').unwrap_or(trimmed).to_owned())
}
