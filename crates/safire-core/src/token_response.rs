//! Token endpoint responses (RFC 6749 §5.1, SMART App Launch 2.2 §Obtain access token,
//! SMART Backend Services).
//!
//! [`TokenResponse::parse`] accepts what real servers send (`"bearer"`, `"expires_in": "3600"`,
//! `scope` as an array, SMART 2.0 string `fhirContext` items) and notes each liberty as a
//! [`Finding`]. Only an unusable body fails: not a JSON object, an OAuth `error`, or no
//! `access_token`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{OAuthErrorFields, TokenError};
use crate::finding::Finding;
use crate::json::{from_body, names, type_name};
use crate::launch_context::LaunchContext;
use crate::oauth_error::{has_error_member, oauth_error_from_object, parse_oauth_error};
use crate::secret::SecretString;

const PREFIX: &str = "SMART token response non-compliance:";

/// A successful token response, typed.
///
/// Serializes (for session storage) to the wire field names plus `expires_at` (Unix seconds),
/// `findings`, and unknown fields nested under `extra`; deserializing that form gives back an
/// equal value. Secrets serialize to their real values (see [`SecretString`]) but `Debug`
/// redacts them and prints only the names of unknown fields.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use safire_core::{GrantType, TokenResponse};
/// let body = br#"{"access_token":"at-123","token_type":"Bearer","expires_in":3600,
///   "scope":"launch patient/*.rs","patient":"pat-1","fhirContext":[{"reference":"Encounter/e1"}]}"#;
/// let now = SystemTime::now();
/// let token = TokenResponse::parse(200, body, now)?;
/// assert_eq!(token.access_token.expose(), "at-123");
/// assert_eq!(token.launch.patient.as_deref(), Some("pat-1"));
/// assert_eq!(token.scopes().collect::<Vec<_>>(), ["launch", "patient/*.rs"]);
/// assert!(!token.is_expired(now, Duration::from_secs(60)));
/// assert!(token.compliance_findings(GrantType::AuthorizationCode).is_empty());
/// assert!(!format!("{token:?}").contains("at-123"));
/// # Ok::<(), safire_core::TokenError>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token.
    pub access_token: SecretString,
    /// `token_type` as sent (normally `Bearer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Lifetime in seconds (a numeric string is accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// Granted scopes, space-separated (an array is joined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// A refresh token, if granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<SecretString>,
    /// An OpenID Connect ID token, if `openid` was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<SecretString>,
    /// The launch context (`patient`, `encounter`, `fhirContext`, …), flattened: its members
    /// are the response's own.
    #[serde(flatten)]
    pub launch: LaunchContext,
    /// Rich authorization details (RFC 9396), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Value>,
    /// When the access token expires: the whole second the response arrived plus `expires_in`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "unix_seconds"
    )]
    pub expires_at: Option<SystemTime>,
    /// Members this type does not know (their values may be sensitive).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    /// Liberties taken while parsing (lowercase `bearer`, numeric-string `expires_in`, scope
    /// array, wrong-typed fields that were dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// Who the user is: the `id_token`, verified (signature against the server's JWK Set,
    /// `iss`, `aud`, times, `nonce`) by the code exchange. `None` when no id_token came, or
    /// for flows that do not verify (refresh, a bare [`TokenFlow`](crate::TokenFlow)).
    ///
    /// Not serialized: the raw [`id_token`](Self::id_token) is, and
    /// [`verify_id_token`](crate::verify_id_token) verifies it again after a restore.
    #[serde(skip)]
    pub identity: Option<crate::oidc::VerifiedIdToken>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token", &self.refresh_token)
            .field("id_token", &self.id_token)
            .field("launch", &self.launch)
            .field(
                "authorization_details",
                &self.authorization_details.as_ref().map(type_name),
            )
            .field("expires_at", &self.expires_at)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .field("findings", &self.findings)
            .field("identity", &self.identity)
            .finish()
    }
}

impl TokenResponse {
    /// Parses a token endpoint response received at `received_at`.
    ///
    /// Errors ([`TokenError`], never containing a token):
    /// - a non-2xx status: the OAuth error fields of the body (see
    ///   [`parse_oauth_error`]);
    /// - not a JSON object: detail `response is not a JSON object`;
    /// - a JSON object with an `error` member, whatever the status: its OAuth fields;
    /// - no non-blank string `access_token`: `received_fields` lists the body's field names
    ///   (sorted, never values).
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use safire_core::TokenResponse;
    /// let err = TokenResponse::parse(200, br#"{"token_type":"Bearer","expires_in":3600}"#, SystemTime::now()).unwrap_err();
    /// assert_eq!(err.to_string(), "Missing access token in response; received fields: expires_in, token_type");
    /// let err = TokenResponse::parse(400, br#"{"error":"invalid_grant","error_description":"Authorization code has expired"}"#, SystemTime::now()).unwrap_err();
    /// assert_eq!(err.to_string(), "Token request failed — HTTP 400 — invalid_grant — Authorization code has expired");
    /// ```
    pub fn parse(
        status: u16,
        body: &[u8],
        received_at: SystemTime,
    ) -> Result<TokenResponse, TokenError> {
        if !(200..300).contains(&status) {
            return Err(TokenError {
                oauth: parse_oauth_error(status, body),
                received_fields: Vec::new(),
                detail: None,
            });
        }
        let Some(members) = from_body::<Members>(body) else {
            return Err(TokenError {
                oauth: OAuthErrorFields {
                    status: Some(status),
                    ..OAuthErrorFields::default()
                },
                received_fields: Vec::new(),
                detail: Some("response is not a JSON object".into()),
            });
        };
        // `error`, `error_description` and `error_uri` are not known members: all in `extra`.
        if has_error_member(&members.extra) {
            let oauth = oauth_error_from_object(status, &members.extra);
            let detail = oauth
                .error_code
                .is_none()
                .then(|| "response has an unusable 'error' member".into());
            return Err(TokenError {
                oauth,
                received_fields: Vec::new(),
                detail,
            });
        }
        let usable = |token: &String| !token.trim().is_empty();
        if !members.access_token.value().is_some_and(usable) {
            return Err(TokenError {
                oauth: OAuthErrorFields {
                    status: Some(status),
                    ..OAuthErrorFields::default()
                },
                received_fields: names(members.sent_names()),
                detail: Some("response access_token must be a non-blank string".into()),
            });
        }
        Ok(Self::from_members(members, received_at))
    }

    /// True when the access token has expired, or will within `leeway`, at `now`. A response
    /// without `expires_in` never counts as expired (the server did not say).
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use safire_core::TokenResponse;
    /// let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let token = TokenResponse::parse(200, br#"{"access_token":"a","expires_in":300}"#, t0)?;
    /// assert!(!token.is_expired(t0 + Duration::from_secs(200), Duration::from_secs(60)));
    /// assert!(token.is_expired(t0 + Duration::from_secs(250), Duration::from_secs(60)));
    /// # Ok::<(), safire_core::TokenError>(())
    /// ```
    pub fn is_expired(&self, now: SystemTime, leeway: Duration) -> bool {
        match self.expires_at {
            None => false,
            Some(expires_at) => match now.checked_add(leeway) {
                Some(deadline) => deadline >= expires_at,
                None => true,
            },
        }
    }

    /// The granted scopes, one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.as_deref().unwrap_or("").split_whitespace()
    }
}

/// `received_at` cut to the whole second, plus `expires_in`; `None` if that overflows. Cutting
/// makes the expiry at most a second early (safe) and exactly representable in Unix seconds.
fn expiry(received_at: SystemTime, expires_in: u64) -> Option<SystemTime> {
    let base = received_at.duration_since(UNIX_EPOCH).ok()?.as_secs();
    let secs = base.checked_add(expires_in)?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// `Option<SystemTime>` as whole Unix seconds.
pub(crate) mod unix_seconds {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<SystemTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(time) => {
                let secs = time
                    .duration_since(UNIX_EPOCH)
                    .map_err(|_| serde::ser::Error::custom("expires_at is before 1970"))?
                    .as_secs();
                serializer.serialize_some(&secs)
            }
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        match Option::<u64>::deserialize(deserializer)? {
            Some(secs) => UNIX_EPOCH
                .checked_add(Duration::from_secs(secs))
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("expires_at out of range")),
            None => Ok(None),
        }
    }
}

mod compliance;
mod read;

pub use compliance::GrantType;
use read::Members;

/// The token response's member names and forms, in declaration order.
#[cfg(test)]
pub(crate) const FIELDS: &[(&str, &str)] = Members::FIELDS;

#[cfg(test)]
mod tests;
