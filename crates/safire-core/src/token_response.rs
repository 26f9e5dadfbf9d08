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

use crate::error::{OAuthErrorFields, TokenError, server_text};
use crate::finding::{Finding, Findings};
use crate::json::{Fields, LenientInt, field_names, lenient_u64, type_name};
use crate::oauth_error::{has_error_member, oauth_error_from_object, parse_oauth_error};
use crate::secret::SecretString;

const PREFIX: &str = "SMART token response non-compliance:";

/// Which grant a token response answers; the compliance rules differ slightly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFlowKind {
    /// Authorization code exchange (EHR or standalone launch).
    AppLaunch,
    /// Refresh token grant (same rules as [`TokenFlowKind::AppLaunch`]).
    Refresh,
    /// Backend Services `client_credentials` grant (`expires_in` required, `bearer` canonical).
    BackendServices,
}

/// A successful token response, typed.
///
/// Serializes (for session storage) to the wire field names plus `expires_at` (Unix seconds),
/// `findings`, and unknown fields nested under `extra`; deserializing that form gives back an
/// equal value. Secrets serialize to their real values (see [`SecretString`]) but `Debug`
/// redacts them and prints only the names of unknown fields.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use safire_core::{TokenFlowKind, TokenResponse};
/// let body = br#"{"access_token":"at-123","token_type":"Bearer","expires_in":3600,
///   "scope":"launch patient/*.rs","patient":"pat-1","fhirContext":[{"reference":"Encounter/e1"}]}"#;
/// let now = SystemTime::now();
/// let token = TokenResponse::parse(200, body, now)?;
/// assert_eq!(token.access_token.expose(), "at-123");
/// assert_eq!(token.patient.as_deref(), Some("pat-1"));
/// assert_eq!(token.scopes().collect::<Vec<_>>(), ["launch", "patient/*.rs"]);
/// assert!(!token.is_expired(now, Duration::from_secs(60)));
/// assert!(token.compliance_findings(TokenFlowKind::AppLaunch).is_empty());
/// assert!(!format!("{token:?}").contains("at-123"));
/// # Ok::<(), safire_core::TokenError>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
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
    /// Launch context: the patient in context (a FHIR id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// Launch context: the encounter in context (a FHIR id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encounter: Option<String>,
    /// Launch context: further resources in context (SMART 2.2 `fhirContext`).
    #[serde(default, rename = "fhirContext", skip_serializing_if = "Vec::is_empty")]
    pub fhir_context: Vec<FhirContextItem>,
    /// Whether the app should show a patient banner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub need_patient_banner: Option<bool>,
    /// URL of the EHR's style sheet for the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smart_style_url: Option<String>,
    /// Launch intent, e.g. `reconcile-medications`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// Tenant identifier for multi-tenant EHRs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Rich authorization details (RFC 9396), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Value>,
    /// When the access token expires: the whole second the response arrived plus `expires_in`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "unix_seconds::serialize",
        deserialize_with = "unix_seconds::deserialize"
    )]
    pub expires_at: Option<SystemTime>,
    /// Members this type does not know (their values may be sensitive).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    /// Liberties taken while parsing (lowercase `bearer`, numeric-string `expires_in`, scope
    /// array, wrong-typed fields that were dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

/// One SMART 2.2 `fhirContext` entry: a resource in context beyond patient and encounter.
///
/// ```
/// use safire_core::FhirContextItem;
/// let item: FhirContextItem =
///     serde_json::from_str(r#"{"reference":"Appointment/a1","role":"https://example.org/role"}"#)?;
/// assert_eq!(item.reference.as_deref(), Some("Appointment/a1"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FhirContextItem {
    /// A relative reference such as `Appointment/123`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// A canonical URL such as `https://example.org/Questionnaire/q|1.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical: Option<String>,
    /// A FHIR `Identifier` object, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Value>,
    /// The FHIR resource type, e.g. `Appointment`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// The role of the resource; absent means `launch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for FhirContextItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FhirContextItem")
            .field("reference", &self.reference)
            .field("canonical", &self.canonical)
            .field("identifier", &self.identifier)
            .field("type_", &self.type_)
            .field("role", &self.role)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
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
            .field("patient", &self.patient)
            .field("encounter", &self.encounter)
            .field("fhir_context", &self.fhir_context)
            .field("need_patient_banner", &self.need_patient_banner)
            .field("smart_style_url", &self.smart_style_url)
            .field("intent", &self.intent)
            .field("tenant", &self.tenant)
            .field(
                "authorization_details",
                &self.authorization_details.as_ref().map(type_name),
            )
            .field("expires_at", &self.expires_at)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .field("findings", &self.findings)
            .finish()
    }
}

/// The members [`TokenResponse::parse`] reads, by index into [`Fields`].
const NAMES: [&str; 14] = [
    "access_token",
    "token_type",
    "expires_in",
    "scope",
    "refresh_token",
    "id_token",
    "patient",
    "encounter",
    "fhirContext",
    "need_patient_banner",
    "smart_style_url",
    "intent",
    "tenant",
    "authorization_details",
];
const ACCESS_TOKEN: usize = 0;
const TOKEN_TYPE: usize = 1;
const EXPIRES_IN: usize = 2;
const SCOPE: usize = 3;
const REFRESH_TOKEN: usize = 4;
const ID_TOKEN: usize = 5;
const PATIENT: usize = 6;
const ENCOUNTER: usize = 7;
const FHIR_CONTEXT: usize = 8;
const NEED_PATIENT_BANNER: usize = 9;
const SMART_STYLE_URL: usize = 10;
const INTENT: usize = 11;
const TENANT: usize = 12;
const AUTHORIZATION_DETAILS: usize = 13;

/// The index of a member in [`NAMES`].
fn key_index(key: &str) -> Option<usize> {
    Some(match key {
        "access_token" => ACCESS_TOKEN,
        "token_type" => TOKEN_TYPE,
        "expires_in" => EXPIRES_IN,
        "scope" => SCOPE,
        "refresh_token" => REFRESH_TOKEN,
        "id_token" => ID_TOKEN,
        "patient" => PATIENT,
        "encounter" => ENCOUNTER,
        "fhirContext" => FHIR_CONTEXT,
        "need_patient_banner" => NEED_PATIENT_BANNER,
        "smart_style_url" => SMART_STYLE_URL,
        "intent" => INTENT,
        "tenant" => TENANT,
        "authorization_details" => AUTHORIZATION_DETAILS,
        _ => return None,
    })
}

/// The name of member `key`.
fn name(key: usize) -> &'static str {
    NAMES.get(key).copied().unwrap_or_default()
}

/// Reads the known members out of the body, noting liberties.
struct Reader {
    fields: Fields<14>,
    findings: Findings,
}

impl Reader {
    fn take(&mut self, key: usize) -> Option<Value> {
        self.fields.take(key)
    }

    fn wrong_type(&mut self, field: &str, value: &Value, expected: &str) {
        self.findings.error(
            field,
            format!(
                "{PREFIX} field '{field}' has the wrong JSON type ({}; expected {expected}) and was ignored",
                type_name(value)
            ),
        );
    }

    fn string(&mut self, key: usize) -> Option<String> {
        match self.take(key)? {
            Value::String(s) => Some(s),
            other => {
                self.wrong_type(name(key), &other, "a string");
                None
            }
        }
    }

    fn secret(&mut self, key: usize) -> Option<SecretString> {
        self.string(key).map(SecretString::from)
    }

    fn token_type(&mut self) -> Option<String> {
        let token_type = self.string(TOKEN_TYPE)?;
        if token_type != "Bearer" && token_type.eq_ignore_ascii_case("bearer") {
            self.findings.warning(
                "token_type",
                format!(
                    "SMART token response: token_type is \"{}\"; expected 'Bearer' (accepted: \
                     token types are case-insensitive)",
                    server_text(&token_type)
                ),
            );
        }
        Some(token_type)
    }

    fn expires_in(&mut self) -> Option<u64> {
        let value = self.take(EXPIRES_IN)?;
        match lenient_u64(&value) {
            LenientInt::Exact(n) => Some(n),
            LenientInt::FromString(n) => {
                self.findings.warning(
                    "expires_in",
                    "SMART token response: expires_in was sent as a string; expected a JSON number",
                );
                Some(n)
            }
            LenientInt::FromFloat(n) => {
                self.findings.warning(
                    "expires_in",
                    "SMART token response: expires_in was sent as a decimal number; expected an integer",
                );
                Some(n)
            }
            LenientInt::Invalid(what) => {
                self.findings.error(
                    "expires_in",
                    format!(
                        "{PREFIX} expires_in is {what}; expected a non-negative integer number of seconds; it was ignored"
                    ),
                );
                None
            }
        }
    }

    fn scope(&mut self) -> Option<String> {
        match self.take(SCOPE)? {
            Value::String(s) => Some(s),
            Value::Array(items) => {
                let parts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                match parts {
                    Some(parts) => {
                        self.findings.warning(
                            "scope",
                            "SMART token response: scope was sent as a JSON array; expected a \
                             space-separated string",
                        );
                        Some(parts.join(" "))
                    }
                    None => {
                        self.wrong_type("scope", &Value::Array(items), "a string");
                        None
                    }
                }
            }
            other => {
                self.wrong_type("scope", &other, "a string");
                None
            }
        }
    }

    fn need_patient_banner(&mut self) -> Option<bool> {
        match self.take(NEED_PATIENT_BANNER)? {
            Value::Bool(b) => Some(b),
            Value::String(s) if s == "true" || s == "false" => {
                self.findings.warning(
                    "need_patient_banner",
                    "SMART token response: need_patient_banner was sent as a string; expected a JSON boolean",
                );
                Some(s == "true")
            }
            other => {
                self.wrong_type("need_patient_banner", &other, "a boolean");
                None
            }
        }
    }

    fn fhir_context(&mut self) -> Vec<FhirContextItem> {
        let Some(value) = self.take(FHIR_CONTEXT) else {
            return Vec::new();
        };
        let Value::Array(items) = value else {
            self.wrong_type("fhirContext", &value, "an array of objects");
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            // Named only when a finding needs it.
            let field = || format!("fhirContext[{i}]");
            match item {
                Value::Object(obj) => out.push(self.fhir_context_item(field, obj)),
                Value::String(reference) => {
                    let field = field();
                    self.findings.warning(
                        &field,
                        format!(
                            "SMART token response: {field} is a string (the SMART 2.0 form); \
                             expected an object with a reference"
                        ),
                    );
                    out.push(FhirContextItem {
                        reference: Some(reference),
                        ..FhirContextItem::default()
                    });
                }
                other => self.wrong_type(&field(), &other, "an object"),
            }
        }
        out
    }

    fn fhir_context_item(
        &mut self,
        field: impl Fn() -> String,
        mut obj: Map<String, Value>,
    ) -> FhirContextItem {
        let mut text = |key: &str, this: &mut Self| match obj.remove(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                this.wrong_type(&format!("{}.{key}", field()), &other, "a string");
                None
            }
        };
        let reference = text("reference", self);
        let canonical = text("canonical", self);
        let type_ = text("type", self);
        let role = text("role", self);
        let identifier = match obj.remove("identifier") {
            None | Some(Value::Null) => None,
            Some(Value::Object(id)) => Some(Value::Object(id)),
            Some(other) => {
                self.wrong_type(&format!("{}.identifier", field()), &other, "an object");
                None
            }
        };
        if reference.is_none() && canonical.is_none() && identifier.is_none() {
            let field = field();
            self.findings.error(
                &field,
                format!("{PREFIX} {field} has none of reference, canonical or identifier"),
            );
        }
        FhirContextItem {
            reference,
            canonical,
            identifier,
            type_,
            role,
            extra: obj,
        }
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
        let Some(mut fields) = Fields::<14>::parse(body, key_index) else {
            return Err(TokenError {
                oauth: OAuthErrorFields {
                    status: Some(status),
                    ..OAuthErrorFields::default()
                },
                received_fields: Vec::new(),
                detail: Some("response is not a JSON object".into()),
            });
        };
        if has_error_member(&fields.extra) {
            let oauth = oauth_error_from_object(status, &fields.into_map(&NAMES));
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
        let access_token = match fields.take_raw(ACCESS_TOKEN) {
            Some(Value::String(s)) if !s.trim().is_empty() => SecretString::from(s),
            other => {
                if let Some(value) = other {
                    fields.put_back(ACCESS_TOKEN, value);
                }
                return Err(TokenError {
                    oauth: OAuthErrorFields {
                        status: Some(status),
                        ..OAuthErrorFields::default()
                    },
                    received_fields: field_names(&fields.into_map(&NAMES)),
                    detail: Some("response access_token must be a non-blank string".into()),
                });
            }
        };
        Ok(Self::from_fields(access_token, fields, received_at))
    }

    fn from_fields(
        access_token: SecretString,
        fields: Fields<14>,
        received_at: SystemTime,
    ) -> TokenResponse {
        let mut r = Reader {
            fields,
            findings: Findings::default(),
        };
        let token_type = r.token_type();
        let expires_in = r.expires_in();
        let scope = r.scope();
        let refresh_token = r.secret(REFRESH_TOKEN);
        let id_token = r.secret(ID_TOKEN);
        let patient = r.string(PATIENT);
        let encounter = r.string(ENCOUNTER);
        let fhir_context = r.fhir_context();
        let need_patient_banner = r.need_patient_banner();
        let smart_style_url = r.string(SMART_STYLE_URL);
        let intent = r.string(INTENT);
        let tenant = r.string(TENANT);
        let authorization_details = r.take(AUTHORIZATION_DETAILS);
        let expires_at = expires_in.and_then(|secs| expiry(received_at, secs));
        TokenResponse {
            access_token,
            token_type,
            expires_in,
            scope,
            refresh_token,
            id_token,
            patient,
            encounter,
            fhir_context,
            need_patient_banner,
            smart_style_url,
            intent,
            tenant,
            authorization_details,
            expires_at,
            extra: r.fields.extra,
            findings: r.findings.into_vec(),
        }
    }

    /// Upstream `token_response_valid?` as findings, plus the parse-time
    /// [`findings`](Self::findings). Never fails.
    ///
    /// `access_token` and `scope` are required; `expires_in` too for
    /// [`TokenFlowKind::BackendServices`]; `token_type` must be present and `Bearer`, compared
    /// case-insensitively (a case variant is a warning, except `bearer` for backend services,
    /// whose specification spells it that way).
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use safire_core::{Severity, TokenFlowKind, TokenResponse};
    /// let token = TokenResponse::parse(200, br#"{"access_token":"a","token_type":"bearer","scope":"system/*.rs"}"#, SystemTime::now())?;
    /// let findings = token.compliance_findings(TokenFlowKind::BackendServices);
    /// assert_eq!(findings[0].message, "SMART token response non-compliance: required field 'expires_in' is missing");
    /// assert_eq!(findings.len(), 1);
    /// let app = token.compliance_findings(TokenFlowKind::AppLaunch);
    /// assert_eq!(app.len(), 1);
    /// assert_eq!(app[0].severity, Severity::Warning);
    /// # Ok::<(), safire_core::TokenError>(())
    /// ```
    pub fn compliance_findings(&self, flow: TokenFlowKind) -> Vec<Finding> {
        let mut out = Findings::default();
        let mut required = vec![
            ("access_token", !self.access_token.is_blank()),
            (
                "scope",
                self.scope.as_deref().is_some_and(|s| !s.trim().is_empty()),
            ),
        ];
        if flow == TokenFlowKind::BackendServices {
            required.push(("expires_in", self.expires_in.is_some()));
        }
        for (name, present) in required {
            if !present && !self.was_wrong_typed(name) {
                out.error(name, format!("{PREFIX} required field '{name}' is missing"));
            }
        }
        let (canonical, source) = match flow {
            TokenFlowKind::BackendServices => ("bearer", "SMART App Launch Backend Services"),
            TokenFlowKind::AppLaunch | TokenFlowKind::Refresh => {
                ("Bearer", "SMART App Launch spec")
            }
        };
        match self.token_type.as_deref() {
            Some(t) if t.trim().is_empty() => out.error(
                "token_type",
                format!("{PREFIX} required field 'token_type' is missing"),
            ),
            Some(t) if t == "Bearer" || t == canonical => {}
            Some(t) if t.eq_ignore_ascii_case("bearer") => out.warning(
                "token_type",
                format!(
                    "SMART token response: token_type is \"{t}\"; expected '{canonical}' \
                     ({source}; accepted: token types are case-insensitive)"
                ),
            ),
            Some(t) => out.error(
                "token_type",
                format!(
                    "{PREFIX} token_type is \"{}\"; expected '{canonical}' ({source})",
                    server_text(t)
                ),
            ),
            None if self.was_wrong_typed("token_type") => {}
            None => out.error(
                "token_type",
                format!("{PREFIX} required field 'token_type' is missing"),
            ),
        }
        // Parse-time notes, except the token_type case note: the check above replaces it.
        for finding in &self.findings {
            let case_note = finding.field.as_deref() == Some("token_type") && !finding.is_error();
            if !case_note {
                out.push(finding.clone());
            }
        }
        out.into_vec()
    }

    fn was_wrong_typed(&self, field: &str) -> bool {
        self.findings
            .iter()
            .any(|f| f.is_error() && f.field.as_deref() == Some(field))
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
mod unix_seconds {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
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

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;
    use serde_json::json;

    fn t0() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_700_000_000_750)
    }

    fn parse(body: &str) -> TokenResponse {
        TokenResponse::parse(200, body.as_bytes(), t0()).unwrap()
    }

    fn parse_err(status: u16, body: &[u8]) -> TokenError {
        TokenResponse::parse(status, body, t0()).unwrap_err()
    }

    fn round_trip(token: &TokenResponse) {
        let json = serde_json::to_vec(token).unwrap();
        let back: TokenResponse = serde_json::from_slice(&json).unwrap();
        assert_eq!(&back, token);
    }

    const EHR_LAUNCH: &str = r#"{
      "access_token": "o7-oCANARY-AT", "expires_in": 3600, "id_token": "eyJCANARY-ID",
      "refresh_token": "CANARY-RT",
      "scope": "launch openid fhirUser patient/*.rs", "token_type": "Bearer",
      "patient": "pat-999", "encounter": "enc-1",
      "fhirContext": [
        {"reference": "Appointment/a1"},
        {"canonical": "https://example.org/Questionnaire/q|1.0", "role": "https://example.org/role/q"},
        {"identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:1"}, "type": "DocumentReference", "x-note": "kept"}
      ],
      "need_patient_banner": false, "smart_style_url": "https://ehr.example/smart-style.json",
      "intent": "reconcile-medications", "tenant": "t1",
      "authorization_details": [{"type": "smart-fhir", "locations": ["https://ehr.example/fhir"]}],
      "vendor_session_key": "CANARY-EXTRA"
    }"#;

    #[test]
    fn ehr_launch_with_full_context() {
        let t = parse(EHR_LAUNCH);
        assert_eq!(t.access_token.expose(), "o7-oCANARY-AT");
        assert_eq!(t.token_type.as_deref(), Some("Bearer"));
        assert_eq!(t.expires_in, Some(3600));
        assert_eq!(t.refresh_token.as_ref().unwrap().expose(), "CANARY-RT");
        assert_eq!(t.id_token.as_ref().unwrap().expose(), "eyJCANARY-ID");
        assert_eq!(t.patient.as_deref(), Some("pat-999"));
        assert_eq!(t.encounter.as_deref(), Some("enc-1"));
        assert_eq!(t.fhir_context.len(), 3);
        assert_eq!(
            t.fhir_context[0].reference.as_deref(),
            Some("Appointment/a1")
        );
        assert_eq!(
            t.fhir_context[1].role.as_deref(),
            Some("https://example.org/role/q")
        );
        assert_eq!(
            t.fhir_context[2].type_.as_deref(),
            Some("DocumentReference")
        );
        assert_eq!(
            t.fhir_context[2].identifier.as_ref().unwrap()["value"],
            "urn:uuid:1"
        );
        assert_eq!(t.fhir_context[2].extra["x-note"], "kept");
        assert_eq!(t.need_patient_banner, Some(false));
        assert_eq!(t.intent.as_deref(), Some("reconcile-medications"));
        assert_eq!(t.tenant.as_deref(), Some("t1"));
        assert!(t.authorization_details.as_ref().unwrap().is_array());
        assert_eq!(t.extra.keys().collect::<Vec<_>>(), ["vendor_session_key"]);
        assert_eq!(t.findings, []);
        assert_eq!(
            t.expires_at,
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + 3600))
        );
        assert_eq!(t.compliance_findings(TokenFlowKind::AppLaunch), []);
        assert_eq!(t.compliance_findings(TokenFlowKind::Refresh), []);
        assert_eq!(t.compliance_findings(TokenFlowKind::BackendServices), []);
        round_trip(&t);
    }

    #[test]
    fn key_index_matches_names() {
        for (i, name) in NAMES.iter().enumerate() {
            assert_eq!(key_index(name), Some(i));
            assert_eq!(super::name(i), *name);
        }
        assert_eq!(key_index("error"), None);
        assert_eq!(key_index("Access_token"), None);
    }

    #[test]
    fn null_and_duplicate_members() {
        let t = parse(
            r#"{"access_token":"x","access_token":"a","token_type":7,"token_type":"Bearer","scope":null,"x":1,"x":null,"patient":"p","patient":null}"#,
        );
        assert_eq!(t.access_token.expose(), "a");
        assert_eq!(t.token_type.as_deref(), Some("Bearer"));
        assert_eq!(t.findings, []);
        assert_eq!(t.scope, None);
        assert_eq!(t.patient, None);
        assert_eq!(t.extra.get("x"), Some(&Value::Null));
        let err = parse_err(
            200,
            br#"{"access_token":"a","access_token":null,"scope":null}"#,
        );
        assert_eq!(err.received_fields, ["access_token", "scope"]);
        let err = parse_err(200, br#"{"error":null,"access_token":" ","z":1}"#);
        assert_eq!(err.received_fields, ["access_token", "error", "z"]);
        let t = parse(r#"{"access_token":"a","error":"invalid_grant","error":null}"#);
        assert_eq!(t.extra.get("error"), Some(&Value::Null));
        let err = parse_err(
            200,
            br#"{"access_token":"a","error":null,"error":"invalid_grant"}"#,
        );
        assert_eq!(err.oauth.error_code.as_deref(), Some("invalid_grant"));
        let t = parse("\u{feff}{\"access_token\":\"a\"}");
        assert_eq!(t.access_token.expose(), "a");
    }

    #[test]
    fn debug_redacts_every_secret() {
        let t = parse(EHR_LAUNCH);
        let debug = format!("{t:?}");
        let pretty = format!("{t:#?}");
        for text in [&debug, &pretty] {
            assert!(!text.contains("CANARY"), "{text}");
            assert!(text.contains("vendor_session_key"));
            assert!(text.contains("[REDACTED]"));
            assert!(text.contains("pat-999"));
        }
    }

    #[test]
    fn missing_access_token_lists_names_only() {
        let err = parse_err(
            200,
            br#"{"token_type":"Bearer","refresh_token":"CANARY-RT","id_token":"CANARY-ID","expires_in":3600}"#,
        );
        assert_eq!(
            err.received_fields,
            ["expires_in", "id_token", "refresh_token", "token_type"]
        );
        assert_eq!(err.oauth.status, Some(200));
        let text = format!("{err} {err:?}");
        assert!(!text.contains("CANARY"), "{text}");
        assert_eq!(
            err.to_string(),
            "Missing access token in response; received fields: expires_in, id_token, refresh_token, token_type"
        );
        for bad in [
            r#"{"access_token":""}"#,
            r#"{"access_token":"   "}"#,
            r#"{"access_token":null}"#,
            r#"{"access_token":12345}"#,
            r#"{"access_token":["CANARY"]}"#,
        ] {
            let err = parse_err(200, bad.as_bytes());
            assert_eq!(err.received_fields, ["access_token"]);
            assert!(!format!("{err:?}").contains("CANARY"));
        }
        let empty = parse_err(200, b"{}");
        assert!(empty.received_fields.is_empty());
        assert_eq!(
            empty.to_string(),
            "Token request failed — HTTP 200 — response access_token must be a non-blank string"
        );
    }

    #[test]
    fn oauth_errors_whatever_the_status() {
        let err = parse_err(
            200,
            br#"{"error":"invalid_grant","error_description":"expired","access_token":"CANARY"}"#,
        );
        assert_eq!(err.oauth.error_code.as_deref(), Some("invalid_grant"));
        assert_eq!(err.oauth.status, Some(200));
        assert_eq!(
            err.to_string(),
            "Token request failed — HTTP 200 — invalid_grant — expired"
        );

        let err = parse_err(
            401,
            br#"{"error":"invalid_client","error_description":"client authentication failed"}"#,
        );
        assert_eq!(
            err.to_string(),
            "Token request failed — HTTP 401 — invalid_client — client authentication failed"
        );
        let err = parse_err(500, b"<html><body>Internal Server Error</body></html>");
        assert_eq!(err.to_string(), "Token request failed — HTTP 500");
        let err = parse_err(200, br#"{"error":42}"#);
        assert_eq!(err.oauth.error_code, None);
        assert!(err.detail.is_some());
    }

    #[test]
    fn unusable_bodies() {
        let deep = format!("{{\"a\":{}", "[".repeat(10_000));
        let closed = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        for body in [
            &b""[..],
            b"null",
            b"[]",
            b"\"access_token\"",
            b"access_token=x&token_type=bearer",
            b"\xff\xfe{",
            b"{\"access_token\":\"a\",\"expires_in\":1e999}",
            deep.as_bytes(),
            closed.as_bytes(),
        ] {
            let err = parse_err(200, body);
            assert_eq!(err.detail.as_deref(), Some("response is not a JSON object"));
            assert_eq!(
                err.to_string(),
                "Token request failed — HTTP 200 — response is not a JSON object"
            );
        }
    }

    #[test]
    fn leniency_is_noted() {
        let t = parse(
            r#"{"access_token":"a","token_type":"bearer","expires_in":"3600","scope":["launch","patient/*.rs"]}"#,
        );
        assert_eq!(t.token_type.as_deref(), Some("bearer"));
        assert_eq!(t.expires_in, Some(3600));
        assert_eq!(t.scope.as_deref(), Some("launch patient/*.rs"));
        assert_eq!(t.scopes().collect::<Vec<_>>(), ["launch", "patient/*.rs"]);
        let fields: Vec<_> = t
            .findings
            .iter()
            .map(|f| f.field.as_deref().unwrap())
            .collect();
        assert_eq!(fields, ["token_type", "expires_in", "scope"]);
        assert!(t.findings.iter().all(|f| f.severity == Severity::Warning));
        assert!(t.expires_at.is_some());
        round_trip(&t);

        let app = t.compliance_findings(TokenFlowKind::AppLaunch);
        assert_eq!(app.len(), 3, "{app:?}");
        assert!(app.iter().all(|f| f.severity == Severity::Warning));
        let backend = t.compliance_findings(TokenFlowKind::BackendServices);
        assert_eq!(
            backend.len(),
            2,
            "bearer is canonical for backend services: {backend:?}"
        );

        let t = parse(
            r#"{"access_token":"a","expires_in":3600.0,"need_patient_banner":"true","fhirContext":["Patient/p1"]}"#,
        );
        assert_eq!(t.expires_in, Some(3600));
        assert_eq!(t.need_patient_banner, Some(true));
        assert_eq!(t.fhir_context[0].reference.as_deref(), Some("Patient/p1"));
        assert_eq!(t.findings.len(), 3);
        round_trip(&t);
    }

    #[test]
    fn wrong_types_become_findings_not_failures() {
        let t = parse(
            r#"{"access_token":"a","token_type":7,"expires_in":-5,"scope":{"a":1},
                "refresh_token":123,"id_token":false,"patient":["p"],"encounter":1,
                "need_patient_banner":"yes","smart_style_url":1,"intent":[],"tenant":{},
                "fhirContext":[5, {"reference": 1, "identifier": "not-an-object", "type": "Patient"}, {}]}"#,
        );
        assert_eq!(t.token_type, None);
        assert_eq!(t.expires_in, None);
        assert_eq!(t.expires_at, None);
        assert_eq!(t.scope, None);
        assert!(t.refresh_token.is_none() && t.id_token.is_none());
        assert!(t.patient.is_none() && t.encounter.is_none() && t.tenant.is_none());
        assert_eq!(t.need_patient_banner, None);
        assert_eq!(t.fhir_context.len(), 2);
        assert!(
            t.extra.is_empty(),
            "wrong-typed values are dropped, not kept"
        );
        assert!(t.findings.iter().all(Finding::is_error));
        let fields: Vec<_> = t
            .findings
            .iter()
            .map(|f| f.field.clone().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "token_type",
                "expires_in",
                "scope",
                "refresh_token",
                "id_token",
                "patient",
                "encounter",
                "fhirContext[0]",
                "fhirContext[1].reference",
                "fhirContext[1].identifier",
                "fhirContext[1]",
                "fhirContext[2]",
                "need_patient_banner",
                "smart_style_url",
                "intent",
                "tenant",
            ]
        );
        // Wrong-typed scope/token_type are not reported a second time as missing.
        let c = t.compliance_findings(TokenFlowKind::AppLaunch);
        assert_eq!(c.len(), t.findings.len());
        round_trip(&t);

        let t = parse(r#"{"access_token":"a","scope":["a",1],"fhirContext":{"reference":"x"}}"#);
        assert_eq!(t.scope, None);
        assert!(t.fhir_context.is_empty());
        assert_eq!(t.findings.len(), 2);
    }

    #[test]
    fn compliance_rules_per_flow() {
        let msgs = |body: &str, flow| -> Vec<String> {
            parse(body)
                .compliance_findings(flow)
                .into_iter()
                .map(|f| f.message)
                .collect()
        };
        assert_eq!(
            msgs(r#"{"access_token":"a"}"#, TokenFlowKind::AppLaunch),
            [
                "SMART token response non-compliance: required field 'scope' is missing",
                "SMART token response non-compliance: required field 'token_type' is missing",
            ]
        );
        assert_eq!(
            msgs(
                r#"{"access_token":"a","token_type":"Bearer"}"#,
                TokenFlowKind::BackendServices
            ),
            [
                "SMART token response non-compliance: required field 'scope' is missing",
                "SMART token response non-compliance: required field 'expires_in' is missing",
            ]
        );
        assert_eq!(
            msgs(
                r#"{"access_token":"a","token_type":"DPoP","scope":"s","expires_in":1}"#,
                TokenFlowKind::AppLaunch
            ),
            [
                r#"SMART token response non-compliance: token_type is "DPoP"; expected 'Bearer' (SMART App Launch spec)"#
            ]
        );
        assert_eq!(
            msgs(
                r#"{"access_token":"a","token_type":"mac","scope":"s","expires_in":1}"#,
                TokenFlowKind::BackendServices
            ),
            [
                r#"SMART token response non-compliance: token_type is "mac"; expected 'bearer' (SMART App Launch Backend Services)"#
            ]
        );
        assert_eq!(
            msgs(
                r#"{"access_token":"a","token_type":" ","scope":"s"}"#,
                TokenFlowKind::Refresh
            ),
            ["SMART token response non-compliance: required field 'token_type' is missing"]
        );
        let upper =
            parse(r#"{"access_token":"a","token_type":"BEARER","scope":"s","expires_in":1}"#);
        for flow in [TokenFlowKind::AppLaunch, TokenFlowKind::BackendServices] {
            let f = upper.compliance_findings(flow);
            assert_eq!(f.len(), 1);
            assert_eq!(f[0].severity, Severity::Warning);
        }
        let bearer =
            r#"{"access_token":"a","token_type":"Bearer","scope":"system/*.rs","expires_in":300}"#;
        assert!(msgs(bearer, TokenFlowKind::BackendServices).is_empty());
        assert!(msgs(bearer, TokenFlowKind::AppLaunch).is_empty());
        let blank_scope = r#"{"access_token":"a","token_type":"Bearer","scope":"  "}"#;
        assert_eq!(msgs(blank_scope, TokenFlowKind::AppLaunch).len(), 1);
    }

    #[test]
    fn expiry() {
        let t = parse(r#"{"access_token":"a","expires_in":300}"#);
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_300);
        assert_eq!(t.expires_at, Some(at));
        assert!(!t.is_expired(at - Duration::from_secs(61), Duration::from_secs(60)));
        assert!(t.is_expired(at - Duration::from_secs(60), Duration::from_secs(60)));
        assert!(t.is_expired(at, Duration::ZERO));
        assert!(t.is_expired(t0(), Duration::MAX));

        let never = parse(r#"{"access_token":"a"}"#);
        assert!(!never.is_expired(t0() + Duration::from_secs(1 << 40), Duration::ZERO));

        let huge = parse(r#"{"access_token":"a","expires_in":18446744073709551615}"#);
        assert_eq!(huge.expires_in, Some(u64::MAX));
        assert_eq!(huge.expires_at, None);
        round_trip(&huge);

        let before_epoch = TokenResponse::parse(
            200,
            br#"{"access_token":"a","expires_in":5}"#,
            UNIX_EPOCH - Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(before_epoch.expires_at, None);
    }

    #[test]
    fn round_trips_and_serialized_shape() {
        let t = parse(EHR_LAUNCH);
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["access_token"], "o7-oCANARY-AT");
        assert_eq!(v["expires_at"], 1_700_003_600u64);
        assert_eq!(v["fhirContext"][2]["type"], "DocumentReference");
        assert_eq!(v["extra"]["vendor_session_key"], "CANARY-EXTRA");
        assert!(v.get("findings").is_none());

        // Server members named like our stored-only fields stay in extra.
        let tricky = parse(
            r#"{"access_token":"a","expires_at":1,"findings":[1],"extra":{"x":1},"fhirContext":[{"reference":"r","extra":2}],
                "big":1e300,"neg":-0.0,"n":null,"deep":[[[[{"a":[1.5,"\u0000"]}]]]]}"#,
        );
        assert_eq!(tricky.expires_at, None);
        assert!(tricky.extra.contains_key("expires_at"));
        assert!(tricky.extra.contains_key("findings"));
        round_trip(&tricky);

        let minimal = parse(r#"{"access_token":"a"}"#);
        assert_eq!(
            serde_json::to_value(&minimal).unwrap(),
            json!({"access_token": "a"})
        );
        round_trip(&minimal);
    }

    #[test]
    fn property_no_panic_and_serde_round_trip() {
        let mut g = crate::json::testgen::Gen::new(7);
        let mut parsed = 0;
        for _ in 0..4000 {
            let body = g.body(&["access_token"]);
            let received = UNIX_EPOCH + Duration::from_nanos(g.next() >> 4);
            match TokenResponse::parse(200, &body, received) {
                Ok(t) => {
                    parsed += 1;
                    round_trip(&t);
                    assert!(!format!("{t:?}").contains(t.access_token.expose()));
                    for flow in [TokenFlowKind::AppLaunch, TokenFlowKind::BackendServices] {
                        assert!(
                            t.compliance_findings(flow).len() <= crate::finding::MAX_FINDINGS + 1
                        );
                    }
                    let _ = t.is_expired(received, Duration::MAX);
                }
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
        assert!(parsed > 1000, "generator too weak: {parsed}");
    }

    #[test]
    fn floats_round_trip_exactly() {
        // Needs serde_json's `float_roundtrip` feature: without it these re-parse one ULP off.
        let t = parse(
            r#"{"access_token":"a","x":[1.947700395895162e-169,-1.490143767845386e129,6.162599865641032e196]}"#,
        );
        round_trip(&t);
    }
}
