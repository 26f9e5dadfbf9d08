//! Sessions: one user launch or one backend client, kept valid.
//!
//! A [`Session`] is a plain, serializable value: the access token and its **absolute** expiry,
//! the refresh token, the granted [`Scopes`], the [`LaunchContext`], the `id_token`, and the FHIR
//! server and client it belongs to. Applications keep it in their own session store or
//! database; the transports' session types (`safire_ureq::SmartSession`,
//! `safire_hyper::SmartSession`) keep it valid.
//!
//! Everything here is a pure decision on that value, given the time:
//! - [`Session::freshness`]: fresh, refresh due (within a margin of expiry), or expired;
//! - [`Session::renewal`]: what to do about it — nothing, refresh with the refresh token,
//!   sign a new backend assertion, or stop with "re-authorization required";
//! - [`Session::merge_refresh`]: the documented merge of a refresh result into the session.
//!
//! # The merge of a refresh result
//!
//! The new access token, its type and its expiry always replace the old ones (an expiry the
//! server did not send is unknown, not the old one). For every other member the new value
//! wins when the response has it, and the previous one is kept when the response omits it:
//! `refresh_token` (servers that do not rotate omit it), `scope`, `id_token`, and each member
//! of the [`LaunchContext`] (`patient`, `encounter`, `fhirContext`, `need_patient_banner`,
//! `smart_style_url`, `intent`, `tenant`).
//!
//! An `id_token` in a refresh response is verified first (signature with the server's JWK
//! Set, `aud`, times) and must name the session's original `iss` and `sub`
//! ([`Session::id_token_subject`], OpenID Connect Core §12.2); otherwise the renewal fails and
//! nothing is merged. A session that never had `openid` keeps no refreshed id_token.
//!
//! A response without `scope` means the requested scope (RFC 6749 §5.1): for a refresh that
//! did not narrow the scope that is the scope granted before (RFC 6749 §6). Either way the
//! session records a [`Finding`], since SMART asks servers to always send `scope`.

pub(crate) mod cell;
mod flow;
mod memory;

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::SessionError;
use crate::finding::Finding;
use crate::launch_context::LaunchContext;
use crate::redirect::BearerPolicy;
use crate::scope::Scopes;
use crate::secret::SecretString;
use crate::token_response::{TokenResponse, unix_seconds};

pub use flow::SessionFlow;
pub use memory::MemoryStore;

/// Renew this long before expiry unless told otherwise.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Whose session it is: a user's (renewed with a refresh token) or a backend client's
/// (renewed with a new signed assertion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SessionKind {
    /// An app launch (EHR or standalone) on behalf of a user or patient.
    User,
    /// SMART Backend Services (`client_credentials`).
    Backend,
}

/// Where a session's access token stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Valid for longer than the margin (or the server did not say when it expires).
    Fresh,
    /// Still valid, but within the margin of its expiry: renew now.
    RefreshDue,
    /// Past its expiry.
    Expired,
}

/// What to do to have a token valid for at least the margin.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Renewal {
    /// Use the current access token.
    UseCurrent,
    /// Refresh with the session's refresh token.
    Refresh,
    /// Request a new token with a freshly signed assertion (backend services).
    NewAssertion,
    /// Nothing the client can do alone: send the user through authorization again.
    Reauthorize(SessionError),
}

/// One user launch or one backend client's access, as a value.
///
/// Serializes with the token values in clear (it is what an application persists; encrypt
/// it at rest) and `expires_at` as Unix seconds; deserializing gives back an equal value.
/// `Debug` shows neither secrets nor patient or encounter identifiers.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use safire_core::{Freshness, Scopes, Session, SessionKind, TokenResponse};
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let token = TokenResponse::parse(200, br#"{"access_token":"at-1","token_type":"Bearer",
///     "expires_in":300,"refresh_token":"rt-1","scope":"launch/patient patient/*.rs",
///     "patient":"pat-123"}"#, now)?;
/// let session = Session::from_token_response(
///     token, "https://ehr.example/fhir", "my-app", SessionKind::User,
///     &Scopes::parse("launch/patient patient/*.rs"),
/// );
/// assert_eq!(session.freshness(now, Duration::from_secs(60)), Freshness::Fresh);
/// assert_eq!(session.freshness(now + Duration::from_secs(250), Duration::from_secs(60)), Freshness::RefreshDue);
/// let debug = format!("{session:?}");
/// assert!(!debug.contains("at-1") && !debug.contains("rt-1") && !debug.contains("pat-123"));
/// let stored = serde_json::to_string(&session).unwrap();
/// assert_eq!(serde_json::from_str::<Session>(&stored).unwrap(), session);
/// # Ok::<(), safire_core::TokenError>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Session {
    /// The FHIR base URL the session belongs to: the token is only sent under it.
    pub fhir_base: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// User launch or backend client.
    pub kind: SessionKind,
    /// The access token.
    pub access_token: SecretString,
    /// `token_type` (normally `Bearer`).
    pub token_type: String,
    /// When the access token expires (absolute); `None` when the server did not say.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "unix_seconds"
    )]
    pub expires_at: Option<SystemTime>,
    /// When the access token was issued (the whole second its response arrived), when its
    /// lifetime is known: the renewal margin is capped at half the lifetime.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "unix_seconds"
    )]
    pub issued_at: Option<SystemTime>,
    /// The refresh token, if one was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<SecretString>,
    /// The granted scopes.
    #[serde(default)]
    pub scopes: Scopes,
    /// The launch context, flattened: its members (`patient`, `fhirContext`, …) are the
    /// session's own in the serialized form.
    #[serde(flatten)]
    pub launch: LaunchContext,
    /// The OpenID Connect ID token (as received; verify it with
    /// [`verify_id_token`](crate::verify_id_token)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<SecretString>,
    /// The user's `fhirUser` (absolute URL) from the id_token the code exchange verified;
    /// absent when no id_token was verified. A patient identifier: hidden from `Debug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fhir_user: Option<String>,
    /// Who the verified id_token named (`iss`, `sub`): a refresh's id_token must name the
    /// same (OpenID Connect Core §12.2). Absent in sessions stored before it was kept (then
    /// the stored `id_token` stands in) and when no id_token was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_subject: Option<IdTokenSubject>,
    /// Findings of the latest token response and of the merge.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let present = |v: bool| if v { "[PRESENT]" } else { "[ABSENT]" };
        f.debug_struct("Session")
            .field("fhir_base", &crate::error::url_for_message(&self.fhir_base))
            .field("client_id", &self.client_id)
            .field("kind", &self.kind)
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("issued_at", &self.issued_at)
            .field("refresh_token", &self.refresh_token)
            .field("scopes", &self.scopes.to_string())
            .field("launch", &self.launch)
            .field("id_token", &self.id_token)
            .field("fhir_user", &present(self.fhir_user.is_some()))
            .field("id_token_subject", &self.id_token_subject)
            .field("findings", &self.findings.len())
            .finish()
    }
}

/// The absolute `fhirUser` of a verified id_token.
/// The user a verified id_token named: its issuer and subject. `Debug` hides `sub` (it
/// identifies the patient or practitioner).
///
/// ```
/// let who = safire_core::IdTokenSubject::new("https://as.example", "u-1");
/// assert_eq!(who.sub, "u-1");
/// assert!(!format!("{who:?}").contains("u-1"));
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdTokenSubject {
    /// `iss`.
    pub iss: String,
    /// `sub`.
    pub sub: String,
}

impl IdTokenSubject {
    /// The user `sub` at issuer `iss`.
    pub fn new(iss: impl Into<String>, sub: impl Into<String>) -> Self {
        Self {
            iss: iss.into(),
            sub: sub.into(),
        }
    }

    fn of(identity: &Option<crate::oidc::VerifiedIdToken>) -> Option<Self> {
        identity
            .as_ref()
            .map(|identity| Self::new(identity.iss.clone(), identity.sub.clone()))
    }
}

impl fmt::Debug for IdTokenSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenSubject")
            .field("iss", &self.iss)
            .field("sub", &crate::secret::REDACTED)
            .finish()
    }
}

fn verified_fhir_user(identity: &Option<crate::oidc::VerifiedIdToken>) -> Option<String> {
    identity
        .as_ref()
        .and_then(|identity| identity.fhir_user.as_ref())
        .map(|user| user.url().to_string())
}

/// When `token` was issued, if its lifetime is known.
fn issued_at(token: &TokenResponse) -> Option<SystemTime> {
    token
        .expires_at?
        .checked_sub(Duration::from_secs(token.expires_in?))
}

/// The finding recorded when a token response omits `scope`.
fn scope_omitted_finding() -> Finding {
    Finding::warning(
        Some("scope"),
        "SMART token response: scope was omitted; the requested scope is assumed (RFC 6749 \
         section 5.1), but SMART asks servers to always return the granted scope",
    )
}

impl Session {
    /// A session from the token response that started it. `requested` is the scope asked
    /// for: it stands in for an omitted `scope` (RFC 6749 §5.1, with a finding), and the
    /// differences between it and what was granted are recorded as findings.
    pub fn from_token_response(
        token: TokenResponse,
        fhir_base: impl Into<String>,
        client_id: impl Into<String>,
        kind: SessionKind,
        requested: &Scopes,
    ) -> Session {
        let issued_at = issued_at(&token);
        let mut findings = token.findings;
        let scopes = match token.scope.as_deref() {
            Some(granted) => {
                let granted = Scopes::parse(granted);
                if !requested.is_empty() {
                    findings.extend(Scopes::difference(requested, &granted));
                }
                granted
            }
            None => {
                findings.push(scope_omitted_finding());
                requested.clone()
            }
        };
        Session {
            fhir_base: fhir_base.into(),
            client_id: client_id.into(),
            kind,
            access_token: token.access_token,
            token_type: token.token_type.unwrap_or_else(|| "Bearer".to_owned()),
            issued_at,
            expires_at: token.expires_at,
            refresh_token: token.refresh_token,
            scopes,
            launch: token.launch,
            fhir_user: verified_fhir_user(&token.identity),
            id_token_subject: IdTokenSubject::of(&token.identity),
            id_token: token.id_token,
            findings,
        }
    }

    /// The margin actually used: `margin`, capped at half the token's lifetime when that is
    /// known (a server issuing 30-second tokens to a client with a 60-second margin would
    /// otherwise be asked for a new token on every call).
    pub fn effective_margin(&self, margin: Duration) -> Duration {
        match (self.issued_at, self.expires_at) {
            (Some(issued), Some(expires)) => expires
                .duration_since(issued)
                .map_or(margin, |lifetime| margin.min(lifetime / 2)),
            _ => margin,
        }
    }

    /// Where the access token stands at `now`, renewing `margin` (see
    /// [`effective_margin`](Self::effective_margin)) before expiry. A session whose expiry is
    /// unknown is fresh (until a FHIR server answers 401).
    pub fn freshness(&self, now: SystemTime, margin: Duration) -> Freshness {
        let Some(expires_at) = self.expires_at else {
            return Freshness::Fresh;
        };
        if now >= expires_at {
            return Freshness::Expired;
        }
        match now.checked_add(self.effective_margin(margin)) {
            Some(due) if due < expires_at => Freshness::Fresh,
            _ => Freshness::RefreshDue,
        }
    }

    /// True when the token is valid for longer than `margin` at `now` (the hit path).
    #[inline]
    pub fn is_fresh(&self, now: SystemTime, margin: Duration) -> bool {
        match self.expires_at {
            None => true,
            Some(expires_at) => now
                .checked_add(self.effective_margin(margin))
                .is_some_and(|due| due < expires_at),
        }
    }

    /// What to do at `now` to hold a token valid for at least `margin`.
    ///
    /// A user session without a refresh token keeps using its token while it is valid (it
    /// cannot do better) and needs re-authorization once it has expired.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use safire_core::{Renewal, Scopes, Session, SessionKind, TokenResponse};
    /// let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let token = TokenResponse::parse(200, br#"{"access_token":"a","expires_in":120,"scope":"system/*.rs"}"#, t0)?;
    /// let backend = Session::from_token_response(token, "https://ehr.example/fhir", "svc",
    ///     SessionKind::Backend, &Scopes::parse("system/*.rs"));
    /// let margin = Duration::from_secs(60);
    /// assert_eq!(backend.renewal(t0, margin), Renewal::UseCurrent);
    /// assert_eq!(backend.renewal(t0 + Duration::from_secs(61), margin), Renewal::NewAssertion);
    /// # Ok::<(), safire_core::TokenError>(())
    /// ```
    pub fn renewal(&self, now: SystemTime, margin: Duration) -> Renewal {
        match self.freshness(now, margin) {
            Freshness::Fresh => Renewal::UseCurrent,
            Freshness::RefreshDue
                if self.kind == SessionKind::User && self.refresh_token.is_none() =>
            {
                Renewal::UseCurrent
            }
            _ => self.renewal_after_rejection(),
        }
    }

    /// What to do when a resource server refused the current token (HTTP 401), whatever its
    /// expiry says.
    pub fn renewal_after_rejection(&self) -> Renewal {
        match (self.kind, &self.refresh_token) {
            (SessionKind::Backend, _) => Renewal::NewAssertion,
            (SessionKind::User, Some(_)) => Renewal::Refresh,
            (SessionKind::User, None) => {
                Renewal::Reauthorize(SessionError::reauthorization_required(
                    "the access token expired or was refused and the session has no refresh token \
                 (ask for offline_access or online_access to get one)",
                ))
            }
        }
    }

    /// The session after a refresh (or backend renewal) answered `token`; see the module
    /// docs for the rules. `requested` is the scope the refresh asked for, `None` when it
    /// did not narrow it (then an omitted `scope` means the scope granted before).
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use safire_core::{Scopes, Session, SessionKind, TokenResponse};
    /// let now = SystemTime::now();
    /// let first = TokenResponse::parse(200, br#"{"access_token":"a1","expires_in":60,
    ///     "refresh_token":"r1","scope":"openid patient/*.rs","patient":"p1"}"#, now)?;
    /// let session = Session::from_token_response(first, "https://ehr.example/fhir", "app",
    ///     SessionKind::User, &Scopes::parse("openid patient/*.rs"));
    /// // The refresh returns only a new access token: everything else is kept.
    /// let refresh = TokenResponse::parse(200, br#"{"access_token":"a2","token_type":"Bearer","expires_in":60}"#, now)?;
    /// let merged = session.merge_refresh(refresh, None);
    /// assert_eq!(merged.access_token.expose(), "a2");
    /// assert_eq!(merged.refresh_token.as_ref().map(|t| t.expose()), Some("r1"));
    /// assert_eq!(merged.launch.patient.as_deref(), Some("p1"));
    /// assert_eq!(merged.scopes.to_string(), "openid patient/*.rs");
    /// assert!(merged.findings.iter().any(|f| f.field.as_deref() == Some("scope")));
    /// # Ok::<(), safire_core::TokenError>(())
    /// ```
    pub fn merge_refresh(&self, token: TokenResponse, requested: Option<&Scopes>) -> Session {
        let previous = self.clone();
        let issued_at = issued_at(&token);
        let mut findings = token.findings;
        let scopes = match token.scope.as_deref() {
            Some(granted) => {
                let granted = Scopes::parse(granted);
                let asked = requested.unwrap_or(&previous.scopes);
                if !asked.is_empty() {
                    findings.extend(Scopes::difference(asked, &granted));
                }
                granted
            }
            None => {
                findings.push(scope_omitted_finding());
                requested.cloned().unwrap_or(previous.scopes)
            }
        };
        Session {
            fhir_base: previous.fhir_base,
            client_id: previous.client_id,
            kind: previous.kind,
            access_token: token.access_token,
            token_type: token.token_type.unwrap_or(previous.token_type),
            issued_at,
            expires_at: token.expires_at,
            refresh_token: token.refresh_token.or(previous.refresh_token),
            scopes,
            launch: token.launch.or(previous.launch),
            fhir_user: verified_fhir_user(&token.identity).or(previous.fhir_user),
            id_token_subject: IdTokenSubject::of(&token.identity).or(previous.id_token_subject),
            id_token: token.id_token.or(previous.id_token),
            findings,
        }
    }

    /// Who the session's id_token named: the recorded verified subject, else (a session
    /// stored before it was recorded) the `iss` and `sub` of the stored id_token, which was
    /// verified when it was received. A refreshed id_token must name the same.
    pub fn original_subject(&self) -> Option<IdTokenSubject> {
        self.id_token_subject.clone().or_else(|| {
            let token = self.id_token.as_ref()?;
            let (iss, sub) = crate::oidc::unverified_iss_sub(token.expose())?;
            Some(IdTokenSubject::new(iss, sub))
        })
    }

    /// Where this session's token may be sent: under its FHIR base only.
    pub fn bearer_policy(&self) -> Result<BearerPolicy, crate::error::ConfigurationError> {
        BearerPolicy::new(&self.fhir_base)
    }

    /// A store key for this session that carries no token or patient identifier: the client
    /// id and the FHIR base, plus `discriminator` (the application's own session id for
    /// user sessions; empty for a backend client, which has one session per server).
    ///
    /// ```
    /// # use safire_core::*;
    /// # let t = TokenResponse::parse(200, br#"{"access_token":"a"}"#, std::time::SystemTime::now())?;
    /// let session = Session::from_token_response(t, "https://ehr.example/fhir", "svc", SessionKind::Backend, &Scopes::new());
    /// assert_eq!(session.store_key(""), "safire:session:svc@https://ehr.example/fhir");
    /// assert_eq!(session.store_key("u-42"), "safire:session:svc@https://ehr.example/fhir#u-42");
    /// # Ok::<(), safire_core::TokenError>(())
    /// ```
    pub fn store_key(&self, discriminator: &str) -> String {
        let base = crate::error::url_for_message(&self.fhir_base);
        if discriminator.is_empty() {
            format!("safire:session:{}@{base}", self.client_id)
        } else {
            format!("safire:session:{}@{base}#{discriminator}", self.client_id)
        }
    }

    /// Refuses a session issued to another client or for another FHIR server than
    /// `config`'s: its tokens must never reach another server.
    pub fn check_belongs_to(
        &self,
        config: &crate::config::ClientConfig,
    ) -> Result<(), SessionError> {
        flow::check_belongs(config, self)
    }

    /// The session as bytes for a [`SessionStore`](crate::SessionStore) (JSON).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing this struct cannot fail: every field is a string, number or list, and
        // an `expires_at` before 1970 is refused by the (de)serializer only on that path.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A session read back from [`to_bytes`](Self::to_bytes); a corrupt value is a store
    /// error, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Session, crate::store::StoreError> {
        serde_json::from_slice(bytes).map_err(|e| {
            crate::store::StoreError::new(
                crate::store::StoreErrorKind::Corrupt,
                format!(
                    "the stored session is not a Safire session value (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests;
