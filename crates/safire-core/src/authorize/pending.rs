//! What the app keeps across the redirect, and the callback check that turns it into a code.

use std::fmt;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use url::Url;

use crate::error::{AuthError, AuthErrorKind, OAuthErrorFields, server_text};
use crate::finding::Finding;
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
    /// The authorization server issuers the RFC 9207 `iss` callback parameter may name
    /// (configured or discovered); empty when none is known.
    pub(super) expected_issuers: Vec<String>,
    /// Whether the server promised to send `iss` (RFC 9207 metadata, or declared).
    pub(super) issuer_required: bool,
    /// Refuse an `iss` that cannot be checked because no issuer is known.
    #[serde(default)]
    pub(super) strict_issuer: bool,
    pub(super) scopes: Vec<String>,
    /// Seconds since the Unix epoch when the request was made.
    pub(super) created_at: u64,
    /// The OpenID Connect `nonce` sent (when `openid` was requested); the id_token must
    /// carry it. Absent in values stored before Safire sent nonces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) nonce: Option<SecretString>,
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
            .field("nonce", &self.nonce)
            .finish()
    }
}

/// The authorization code returned by a verified callback.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizationCode {
    /// The code (redacted in `Debug`).
    pub code: SecretString,
    /// The PKCE verifier to send with it.
    pub code_verifier: SecretString,
    /// The redirect URI the code was issued for.
    pub redirect_uri: String,
    /// When the authorization was started (Unix seconds), for the maximum-age check.
    pub started_at: Option<u64>,
    /// The scopes the authorization asked for: what an absent `scope` in the token response
    /// means (RFC 6749 §5.1), and whether an id_token is expected (`openid`).
    pub requested_scopes: Vec<String>,
    /// What the callback check noticed without refusing (e.g. an `iss` it could not verify);
    /// passed on to the token response's findings.
    pub findings: Vec<Finding>,
    /// The OpenID Connect `nonce` the authorization request sent (redacted in `Debug`); the
    /// id_token must carry it.
    pub nonce: Option<SecretString>,
    /// The authorization server issuers the pending authorization knew (configured or
    /// discovered), used to check the id_token's `iss` when no other is known.
    pub expected_issuers: Vec<String>,
}

impl AuthorizationCode {
    /// A code obtained outside a [`PendingAuthorization`] (no age is known).
    ///
    /// ```
    /// use safire_core::AuthorizationCode;
    /// let code = AuthorizationCode::new("c", "v".repeat(43), "https://app.example/cb");
    /// assert_eq!(code.redirect_uri, "https://app.example/cb");
    /// ```
    pub fn new(
        code: impl Into<SecretString>,
        code_verifier: impl Into<SecretString>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            code: code.into(),
            code_verifier: code_verifier.into(),
            redirect_uri: redirect_uri.into(),
            started_at: None,
            requested_scopes: Vec::new(),
            findings: Vec::new(),
            nonce: None,
            expected_issuers: Vec::new(),
        }
    }
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

    /// The OpenID Connect `nonce` sent with the request (when `openid` was requested).
    pub fn nonce(&self) -> Option<&SecretString> {
        self.nonce.as_ref()
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
        let Some(state) = callback.state.clone() else {
            // Some servers leave `state` out of error redirects: report their error, and that
            // the callback cannot be tied to this authorization.
            if let Some(error) = &callback.error {
                return Err(AuthError {
                    kind: AuthErrorKind::Denied,
                    oauth: denial(error, &callback),
                    detail: Some(
                        "the error redirect had no 'state' parameter, so it cannot be tied to \
                         this authorization request"
                            .into(),
                    ),
                });
            }
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
        let findings = self.check_issuer(callback.iss.as_deref())?;
        if let Some(error) = &callback.error {
            return Err(AuthError {
                kind: AuthErrorKind::Denied,
                oauth: denial(error, &callback),
                detail: None,
            });
        }
        match callback.code {
            Some(code) if !code.is_empty() => Ok(AuthorizationCode {
                code: SecretString::new(code),
                code_verifier: self.code_verifier.clone(),
                redirect_uri: self.redirect_uri.clone(),
                started_at: Some(self.created_at),
                requested_scopes: self.scopes.clone(),
                findings,
                nonce: self.nonce.clone(),
                expected_issuers: self.expected_issuers.clone(),
            }),
            _ => Err(AuthError::new(
                AuthErrorKind::MissingCode,
                "the callback has neither 'code' nor 'error'",
            )),
        }
    }

    /// RFC 9207: `iss` must equal a known authorization server issuer exactly. With none
    /// known, it cannot be checked: accepted with a finding, or refused when strict.
    fn check_issuer(&self, iss: Option<&str>) -> Result<Vec<Finding>, AuthError> {
        match iss {
            Some(iss) if self.expected_issuers.is_empty() => {
                if self.strict_issuer {
                    return Err(AuthError::new(
                        AuthErrorKind::IssuerUnknown,
                        format!(
                            "the callback names the issuer '{}', but no authorization server \
                             issuer is known to check it against (RFC 9207): configure it with \
                             ClientConfigBuilder::authorization_server_issuer",
                            server_text(iss)
                        ),
                    ));
                }
                Ok(vec![Finding::warning(
                    Some("iss"),
                    format!(
                        "RFC 9207: the callback's iss '{}' was not verified because no \
                         authorization server issuer is known; configure \
                         authorization_server_issuer (or strict_issuer_check) to check it",
                        server_text(iss)
                    ),
                )])
            }
            Some(iss) if !self.expected_issuers.iter().any(|expected| expected == iss) => {
                Err(AuthError::new(
                    AuthErrorKind::IssuerMismatch,
                    format!(
                        "the callback's iss '{}' is not the expected issuer '{}' (RFC 9207; possible mix-up attack)",
                        server_text(iss),
                        self.expected_issuers
                            .first()
                            .map(String::as_str)
                            .unwrap_or_default()
                    ),
                ))
            }
            None if self.issuer_required => Err(AuthError::new(
                AuthErrorKind::IssuerMismatch,
                "the server sends RFC 9207 'iss' (advertised or declared) but the callback has none",
            )),
            _ => Ok(Vec::new()),
        }
    }
}

/// The OAuth error fields of an error redirect, cleaned.
fn denial(error: &str, callback: &CallbackParams) -> OAuthErrorFields {
    OAuthErrorFields {
        status: None,
        error_code: Some(server_text(error)),
        error_description: callback.error_description.as_deref().map(server_text),
        error_uri: callback.error_uri.as_deref().map(server_text),
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
    // A path and its query (`/callback?code=…`, `launch?iss=…`): what precedes the first `?`
    // has no `=` or `&`, which a bare query's first parameter always has.
    if let Some((path, query)) = trimmed.split_once('?')
        && !path.contains(['=', '&'])
    {
        let query = query.split_once('#').map_or(query, |(query, _)| query);
        return Ok(query.to_owned());
    }
    Ok(trimmed.to_owned())
}
