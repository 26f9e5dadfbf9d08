//! Token endpoint responses (RFC 6749 §5.1, SMART App Launch 2.2 §Obtain access token,
//! SMART Backend Services).
//!
//! [`TokenResponse::parse`] accepts what real servers send (`"bearer"`, `"expires_in": "3600"`,
//! `scope` as an array, SMART 2.0 string `fhirContext` items) and notes each liberty as a
//! [`Finding`]. Only an unusable body fails: not a JSON object, an OAuth `error`, or no
//! `access_token`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, SeqAccess};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{OAuthErrorFields, TokenError, server_text};
use crate::finding::{Finding, Findings};
use crate::json::{from_body, names, type_name};
use crate::lenient::{self, Form, Int, Member, Read, lenient_u64};
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
    /// Who the user is: the `id_token`, verified (signature against the server's JWK Set,
    /// `iss`, `aud`, times, `nonce`) by the code exchange. `None` when no id_token came, or
    /// for flows that do not verify (refresh, a bare [`TokenFlow`](crate::TokenFlow)).
    ///
    /// Not serialized: the raw [`id_token`](Self::id_token) is, and
    /// [`verify_id_token`](crate::verify_id_token) verifies it again after a restore.
    #[serde(skip)]
    pub identity: Option<crate::oidc::VerifiedIdToken>,
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

/// What `Debug` shows instead of a patient identifier.
const HIDDEN: &str = "[hidden]";

impl fmt::Debug for FhirContextItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The resource type of a reference, never its id; an identifier not at all (PHI).
        let reference =
            self.reference
                .as_deref()
                .map(|reference| match reference.split_once('/') {
                    Some((kind, _)) => format!("{kind}/{HIDDEN}"),
                    None => HIDDEN.to_owned(),
                });
        f.debug_struct("FhirContextItem")
            .field("reference", &reference)
            .field("canonical", &self.canonical)
            .field("identifier", &self.identifier.as_ref().map(|_| HIDDEN))
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
            // Patient identifiers stay out of logs (PHI): only whether they are there.
            .field("patient", &self.patient.as_ref().map(|_| HIDDEN))
            .field("encounter", &self.encounter.as_ref().map(|_| HIDDEN))
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
            .field("identity", &self.identity)
            .finish()
    }
}

lenient::document! {
    /// The members of a token response, as read (see [`lenient`]).
    struct Members {
        access_token: String,
        token_type: String,
        expires_in: Int,
        scope: Scope,
        refresh_token: String,
        id_token: String,
        patient: FhirId,
        encounter: FhirId,
        fhir_context: FhirContext = "fhirContext",
        need_patient_banner: Flag,
        smart_style_url: String,
        intent: String,
        tenant: String,
        authorization_details: Value,
    }
}

lenient::document! {
    /// The members of one `fhirContext` object, as read.
    struct ItemMembers {
        reference: String,
        canonical: String,
        type_: String = "type",
        role: String,
        identifier: Map<String, Value>,
    }
}

/// `scope`: a space-separated string, or (a liberty) an array of strings.
struct Scope {
    text: String,
    from_array: bool,
}

impl Form for Scope {
    const EXPECTED: &'static str = "a string";

    fn string(text: String) -> Read<Self> {
        Read::Ok(Scope {
            text,
            from_array: false,
        })
    }

    fn seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Read<Self>, A::Error> {
        Ok(match Vec::<String>::seq(seq)? {
            Read::Ok(parts) => Read::Ok(Scope {
                text: parts.join(" "),
                from_array: true,
            }),
            Read::Null => Read::Null,
            Read::Wrong(value) => Read::Wrong(value),
        })
    }
}

/// `need_patient_banner`: a boolean, or (a liberty) the string `"true"` or `"false"`.
struct Flag {
    value: bool,
    from_string: bool,
}

impl Form for Flag {
    const EXPECTED: &'static str = "a boolean";

    fn string(s: String) -> Read<Self> {
        match s.as_str() {
            "true" | "false" => Read::Ok(Flag {
                value: s == "true",
                from_string: true,
            }),
            _ => Read::Wrong(Value::String(s)),
        }
    }

    fn scalar(value: Value) -> Read<Self> {
        match value {
            Value::Bool(value) => Read::Ok(Flag {
                value,
                from_string: false,
            }),
            other => Read::Wrong(other),
        }
    }
}

/// `patient` / `encounter`: a FHIR id string, or (a liberty) an integer JSON number.
struct FhirId {
    text: String,
    from_number: bool,
}

impl Form for FhirId {
    const EXPECTED: &'static str = "a string";

    fn string(text: String) -> Read<Self> {
        Read::Ok(FhirId {
            text,
            from_number: false,
        })
    }

    fn scalar(value: Value) -> Read<Self> {
        match &value {
            Value::Number(n) if n.is_u64() || n.is_i64() => Read::Ok(FhirId {
                text: n.to_string(),
                from_number: true,
            }),
            _ => Read::Wrong(value),
        }
    }
}

/// `fhirContext`: an array whose entries are read one by one.
struct FhirContext(Vec<Read<ContextEntry>>);

impl Form for FhirContext {
    const EXPECTED: &'static str = "an array of objects";

    fn seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Read<Self>, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = seq.next_element()? {
            entries.push(entry);
        }
        Ok(Read::Ok(FhirContext(entries)))
    }
}

/// One `fhirContext` entry: an object, or (the SMART 2.0 form) a reference string.
enum ContextEntry {
    Object(Box<ItemMembers>),
    Reference(String),
}

impl Form for ContextEntry {
    const EXPECTED: &'static str = "an object";

    fn string(reference: String) -> Read<Self> {
        Read::Ok(ContextEntry::Reference(reference))
    }

    fn map<'de, A: MapAccess<'de>>(map: A) -> Result<Read<Self>, A::Error> {
        ItemMembers::deserialize(MapAccessDeserializer::new(map))
            .map(|item| Read::Ok(ContextEntry::Object(Box::new(item))))
    }
}

/// Types the members read, noting liberties and wrong types as findings (in declaration
/// order); wrong-typed values are dropped.
#[derive(Default)]
struct Reader {
    findings: Findings,
}

impl Reader {
    fn wrong_type(&mut self, field: &str, value: &Value, expected: &str) {
        self.findings
            .error(field, lenient::wrong_type(PREFIX, field, value, expected));
    }

    /// The typed member; a wrong-typed one is a finding.
    fn take<T: Form>(&mut self, member: Member<T>) -> Option<T> {
        member.checked().unwrap_or_else(|wrong| {
            self.wrong_type(wrong.name, &wrong.value, T::EXPECTED);
            None
        })
    }

    /// [`take`](Self::take) for a member of an object at `parent`.
    fn take_nested<T: Form>(
        &mut self,
        parent: &dyn Fn() -> String,
        member: Member<T>,
    ) -> Option<T> {
        member.checked().unwrap_or_else(|wrong| {
            let field = format!("{}.{}", parent(), wrong.name);
            self.wrong_type(&field, &wrong.value, T::EXPECTED);
            None
        })
    }

    /// A `patient` or `encounter` id; a number is accepted as its decimal text, with a
    /// finding that never repeats the id.
    fn fhir_id(&mut self, field: &str, member: Member<FhirId>) -> Option<String> {
        let id = self.take(member)?;
        if id.from_number {
            self.findings.warning(
                field,
                format!(
                    "SMART token response: {field} was sent as a JSON number; expected a string \
                     (a FHIR id); accepted as its decimal text"
                ),
            );
        }
        Some(id.text)
    }

    fn token_type(&mut self, member: Member<String>) -> Option<String> {
        // A blank token_type says nothing: treated as absent (a finding reports it missing).
        let token_type = self.take(member).filter(|t| !t.trim().is_empty())?;
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

    fn expires_in(&mut self, member: Member<Int>) -> Option<u64> {
        match member.checked() {
            Ok(None) => None,
            Ok(Some(Int::Exact(n))) => Some(n),
            Ok(Some(Int::FromString(n))) => {
                self.findings.warning(
                    "expires_in",
                    "SMART token response: expires_in was sent as a string; expected a JSON number",
                );
                Some(n)
            }
            Ok(Some(Int::FromFloat(n))) => {
                self.findings.warning(
                    "expires_in",
                    "SMART token response: expires_in was sent as a decimal number; expected an integer",
                );
                Some(n)
            }
            Err(wrong) => {
                let what = lenient_u64(&wrong.value)
                    .err()
                    .unwrap_or_else(|| type_name(&wrong.value));
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

    fn scope(&mut self, member: Member<Scope>) -> Option<String> {
        let scope = self.take(member)?;
        if scope.from_array {
            self.findings.warning(
                "scope",
                "SMART token response: scope was sent as a JSON array; expected a \
                 space-separated string",
            );
        }
        Some(scope.text)
    }

    fn need_patient_banner(&mut self, member: Member<Flag>) -> Option<bool> {
        let flag = self.take(member)?;
        if flag.from_string {
            self.findings.warning(
                "need_patient_banner",
                "SMART token response: need_patient_banner was sent as a string; expected a JSON boolean",
            );
        }
        Some(flag.value)
    }

    fn fhir_context(&mut self, member: Member<FhirContext>) -> Vec<FhirContextItem> {
        let Some(FhirContext(entries)) = self.take(member) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(entries.len());
        for (i, entry) in entries.into_iter().enumerate() {
            // Named only when a finding needs it.
            let field = || format!("fhirContext[{i}]");
            match entry {
                Read::Ok(ContextEntry::Object(item)) => {
                    out.push(self.fhir_context_item(&field, *item))
                }
                Read::Ok(ContextEntry::Reference(reference)) => {
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
                Read::Null => self.wrong_type(&field(), &Value::Null, ContextEntry::EXPECTED),
                Read::Wrong(other) => self.wrong_type(&field(), &other, ContextEntry::EXPECTED),
            }
        }
        out
    }

    fn fhir_context_item(
        &mut self,
        field: &dyn Fn() -> String,
        item: ItemMembers,
    ) -> FhirContextItem {
        let reference = self.take_nested(field, item.reference);
        let canonical = self.take_nested(field, item.canonical);
        let type_ = self.take_nested(field, item.type_);
        let role = self.take_nested(field, item.role);
        let identifier = self.take_nested(field, item.identifier).map(Value::Object);
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
            extra: item.extra,
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

    /// The typed response; `m.access_token` is a non-blank string (checked by the caller).
    fn from_members(m: Members, received_at: SystemTime) -> TokenResponse {
        let mut r = Reader::default();
        let access_token = SecretString::from(r.take(m.access_token).unwrap_or_default());
        let token_type = r.token_type(m.token_type);
        let expires_in = r.expires_in(m.expires_in);
        let scope = r.scope(m.scope);
        let refresh_token = r.take(m.refresh_token).map(SecretString::from);
        let id_token = r.take(m.id_token).map(SecretString::from);
        let patient = r.fhir_id("patient", m.patient);
        let encounter = r.fhir_id("encounter", m.encounter);
        let fhir_context = r.fhir_context(m.fhir_context);
        let need_patient_banner = r.need_patient_banner(m.need_patient_banner);
        let smart_style_url = r.take(m.smart_style_url);
        let intent = r.take(m.intent);
        let tenant = r.take(m.tenant);
        let authorization_details = r.take(m.authorization_details);
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
            extra: m.extra,
            findings: r.findings.into_vec(),
            identity: None,
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

#[cfg(test)]
mod tests;
