//! Token introspection (RFC 7662, and SMART App Launch 2.2's token introspection profile).
//!
//! A resource server (or an app) asks the authorization server whether a token is active and
//! what it grants. The request is the token + hint part shared with revocation, authenticated
//! like a token request (the shared [`EndpointRequest`](crate::endpoint::EndpointRequest)),
//! or with a bearer token where the server requires one
//! ([`CallOptions::bearer_token`](crate::CallOptions::bearer_token)). `active: false` is a
//! normal answer, not an error.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde::de::SeqAccess;
use serde::de::value::SeqAccessDeserializer;
use serde_json::{Map, Value};

use crate::error::{Error, IntrospectionError, OAuthErrorFields};
use crate::finding::{Finding, Findings};
use crate::flow::{Env, Flow, Step};
use crate::json::{from_body, type_name};
use crate::launch_context::{FhirContextItem, LaunchContext};
use crate::lenient::{self, Flag, Form, Int, Member, Read, Scope};
use crate::oauth_error::{
    field_names_scrubbed, has_error_member, oauth_error_from_object_scrubbed,
    parse_oauth_error_scrubbed, scrub,
};
use crate::requests::HttpResponse;
use crate::secret::REDACTED;
use crate::token_hint::{Target, TokenHintRequest, delegate_flow_to_request, token_hint_methods};

const PREFIX: &str = "Token introspection non-compliance:";

/// What the authorization server says about a token.
///
/// Lenient like [`TokenResponse`](crate::TokenResponse): a wrong-typed member is left out of
/// its typed field, kept as sent in [`extra`](Self::extra), and reported in
/// [`findings`](Self::findings). `Debug` redacts the identifiers (`sub`, `patient`,
/// `encounter`, `fhirUser`, `fhirContext`) and prints only the names of other members.
///
/// ```
/// use safire_core::Introspection;
/// let body = br#"{"active":true,"scope":"patient/*.rs","client_id":"app","exp":2000000000,
///   "patient":"pat-1","fhirUser":"Practitioner/p1","aud":["https://ehr.example/fhir"]}"#;
/// let token = Introspection::parse(200, body)?;
/// assert!(token.active);
/// assert_eq!(token.launch.patient.as_deref(), Some("pat-1"));
/// assert_eq!(token.aud, ["https://ehr.example/fhir"]);
/// assert!(!format!("{token:?}").contains("pat-1"));
/// let inactive = Introspection::parse(200, br#"{"active":false}"#)?;
/// assert!(!inactive.active && inactive.findings.is_empty());
/// # Ok::<(), safire_core::IntrospectionError>(())
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Introspection {
    /// Whether the token is active (the one required member).
    pub active: bool,
    /// Granted scopes, space-separated (an array is joined, with a finding).
    pub scope: Option<String>,
    /// The client the token was issued to.
    pub client_id: Option<String>,
    /// Expiry (Unix seconds).
    pub exp: Option<u64>,
    /// Issue time (Unix seconds).
    pub iat: Option<u64>,
    /// The subject (an identifier: redacted in `Debug`).
    pub sub: Option<String>,
    /// Audiences (a single string becomes one entry).
    pub aud: Vec<String>,
    /// The issuer.
    pub iss: Option<String>,
    /// `token_type`, e.g. `Bearer`.
    pub token_type: Option<String>,
    /// The token's launch context (SMART 2.2: the context parameters its token response
    /// carried). `Debug` shows whether a patient or encounter is in context and how many
    /// `fhirContext` entries there are, none of their identifiers.
    pub launch: LaunchContext,
    /// `fhirUser`: the user's FHIR resource URL (redacted in `Debug`).
    pub fhir_user: Option<String>,
    /// Every other member, plus known members of the wrong JSON type, as sent.
    pub extra: Map<String, Value>,
    /// Liberties taken while parsing.
    pub findings: Vec<Finding>,
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |value: &Option<String>| value.as_ref().map(|_| REDACTED);
        f.debug_struct("Introspection")
            .field("active", &self.active)
            .field("scope", &self.scope)
            .field("client_id", &self.client_id)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("sub", &redacted(&self.sub))
            .field("aud", &self.aud)
            .field("iss", &self.iss)
            .field("token_type", &self.token_type)
            .field("launch", &self.launch.debug_counting_items())
            .field("fhir_user", &redacted(&self.fhir_user))
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .field("findings", &self.findings)
            .finish()
    }
}

impl Introspection {
    /// Parses an introspection response.
    ///
    /// Success needs a 2xx status and a JSON object with a boolean `active` (`"true"` and
    /// `"false"` strings are accepted with a finding) and no OAuth `error` member. Otherwise an
    /// [`IntrospectionError`] with the status, the OAuth error fields, and, when `active` is
    /// missing or unusable, the body's field names (never values).
    ///
    /// ```
    /// use safire_core::Introspection;
    /// let err = Introspection::parse(401, br#"{"error":"invalid_client"}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "Token introspection failed — HTTP 401 — invalid_client");
    /// let err = Introspection::parse(200, br#"{"scope":"x"}"#).unwrap_err();
    /// assert!(err.to_string().ends_with("received fields: scope"), "{err}");
    /// ```
    pub fn parse(status: u16, body: &[u8]) -> Result<Self, IntrospectionError> {
        parse_introspection_response(status, body, &[])
    }

    /// True when the token is active and, if it names an expiry, not expired at `now`.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use safire_core::Introspection;
    /// let token = Introspection::parse(200, br#"{"active":true,"exp":100}"#)?;
    /// assert!(token.is_active_at(UNIX_EPOCH + Duration::from_secs(99)));
    /// assert!(!token.is_active_at(UNIX_EPOCH + Duration::from_secs(100)));
    /// # Ok::<(), safire_core::IntrospectionError>(())
    /// ```
    pub fn is_active_at(&self, now: SystemTime) -> bool {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.active && self.exp.is_none_or(|exp| now < exp)
    }

    /// The granted scopes, one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.as_deref().unwrap_or("").split_whitespace()
    }
}

/// Parses the response to an introspection of a token, scrubbing every exact occurrence of
/// one of `secrets` (the token, the request's credentials) from the server text an error
/// keeps. See [`Introspection::parse`].
///
/// ```
/// use safire_core::protocol::parse_introspection_response;
/// let body = br#"{"error":"invalid_request","error_description":"bad token tok-123"}"#;
/// let err = parse_introspection_response(400, body, &["tok-123"]).unwrap_err();
/// assert!(!err.to_string().contains("tok-123"));
/// ```
pub fn parse_introspection_response(
    status: u16,
    body: &[u8],
    secrets: &[&str],
) -> Result<Introspection, IntrospectionError> {
    if !(200..300).contains(&status) {
        let oauth = parse_oauth_error_scrubbed(status, body, secrets);
        return Err(IntrospectionError::new(oauth, Vec::new(), None));
    }
    let status_only = || OAuthErrorFields {
        status: Some(status),
        ..OAuthErrorFields::default()
    };
    let Some(members) = from_body::<Members>(body) else {
        return Err(IntrospectionError::new(
            status_only(),
            Vec::new(),
            Some("response is not a JSON object"),
        ));
    };
    // `error`, `error_description` and `error_uri` are not known members: all in `extra`.
    if has_error_member(&members.extra) {
        let oauth = oauth_error_from_object_scrubbed(status, members.extra, secrets);
        let detail = oauth
            .error_code
            .is_none()
            .then_some("response has an unusable 'error' member");
        return Err(IntrospectionError::new(oauth, Vec::new(), detail));
    }
    let mut findings = Findings::default();
    let active = match members.active.value() {
        Some(Flag {
            value,
            from_string: false,
        }) => *value,
        Some(Flag {
            value,
            from_string: true,
        }) => {
            findings.warning(
                "active",
                "Token introspection: active was sent as a string; expected a JSON boolean",
            );
            *value
        }
        None => {
            let detail = if members.active.is_missing() {
                "response has no 'active' member"
            } else {
                "response 'active' must be a boolean"
            };
            let names: Map<String, Value> = members
                .sent_names()
                .into_iter()
                .map(|name| (name.to_owned(), Value::Null))
                .collect();
            return Err(IntrospectionError::new(
                status_only(),
                field_names_scrubbed(&names, secrets),
                Some(detail),
            ));
        }
    };
    let m = members;
    let mut r = Reader {
        extra: m.extra,
        findings,
    };
    let scope = r.scope(m.scope);
    let client_id = r.keep(m.client_id, "a string");
    let exp = r.timestamp(m.exp);
    let iat = r.timestamp(m.iat);
    let sub = r.keep(m.sub, "a string");
    let aud = r.keep(m.aud, "a string or an array of strings");
    let iss = r.keep(m.iss, "a string");
    let token_type = r.keep(m.token_type, "a string");
    let launch = LaunchContext {
        patient: r.keep(m.patient, "a string"),
        encounter: r.keep(m.encounter, "a string"),
        fhir_context: r.fhir_context(m.fhir_context),
        need_patient_banner: r.need_patient_banner(m.need_patient_banner),
        smart_style_url: r.keep(m.smart_style_url, "a string"),
        intent: r.keep(m.intent, "a string"),
        tenant: r.keep(m.tenant, "a string"),
    };
    let fhir_user = r.keep(m.fhir_user, "a string");
    let mut introspection = Introspection {
        active,
        scope,
        client_id,
        exp,
        iat,
        sub,
        aud: aud.map(|Audience(aud)| aud).unwrap_or_default(),
        iss,
        token_type,
        launch,
        fhir_user,
        extra: r.extra,
        findings: Vec::new(),
    };
    let mut findings = r.findings;
    redact_echoes(&mut introspection, &mut findings, secrets);
    introspection.findings = findings.into_vec();
    Ok(introspection)
}

/// A server that echoes a secret (the token being introspected, the request's credentials)
/// into a member `Debug` shows has it replaced with `[REDACTED]` there, with one finding per
/// member (through the capped collector: an `aud` of a thousand echoes is one finding).
fn redact_echoes(introspection: &mut Introspection, findings: &mut Findings, secrets: &[&str]) {
    let leaks = |text: &str| secrets.iter().any(|s| !s.is_empty() && text.contains(s));
    let mut echoed = Vec::new();
    let Introspection {
        scope,
        client_id,
        iss,
        token_type,
        aud,
        launch,
        ..
    } = introspection;
    for (name, value) in [
        ("scope", scope),
        ("client_id", client_id),
        ("iss", iss),
        ("token_type", token_type),
        ("smart_style_url", &mut launch.smart_style_url),
        ("intent", &mut launch.intent),
        ("tenant", &mut launch.tenant),
    ] {
        if let Some(text) = value.as_mut().filter(|text| leaks(text)) {
            *text = scrub(text, secrets);
            echoed.push(name.to_owned());
        }
    }
    let mut aud_echoed = false;
    for text in aud.iter_mut().filter(|text| leaks(text)) {
        *text = scrub(text, secrets);
        aud_echoed = true;
    }
    if aud_echoed {
        echoed.push("aud".to_owned());
    }
    if introspection.extra.keys().any(|key| leaks(key)) {
        let extra = std::mem::take(&mut introspection.extra);
        introspection.extra = extra
            .into_iter()
            .map(|(key, value)| (scrub(&key, secrets), value))
            .collect();
        echoed.push("a member name".to_owned());
    }
    for name in echoed {
        findings.push(Finding::error(
            None,
            format!("{PREFIX} {name} repeats a credential of the request; it was redacted"),
        ));
    }
}

lenient::document! {
    /// The members of an introspection response, as read (see [`lenient`]).
    struct Members {
        active: Flag,
        scope: Scope,
        client_id: String,
        exp: Int,
        iat: Int,
        sub: String,
        aud: Audience,
        iss: String,
        token_type: String,
        patient: String,
        encounter: String,
        fhir_user: String = "fhirUser",
        fhir_context: ContextItems = "fhirContext",
        need_patient_banner: Flag,
        smart_style_url: String,
        intent: String,
        tenant: String,
    }
}

/// `aud`: a string (one audience) or an array of strings.
struct Audience(Vec<String>);

impl Form for Audience {
    const EXPECTED: &'static str = "a string or an array of strings";

    fn string(aud: String) -> Read<Self> {
        Read::Ok(Audience(vec![aud]))
    }

    fn seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Read<Self>, A::Error> {
        Ok(match Vec::<String>::seq(seq)? {
            Read::Ok(aud) => Read::Ok(Audience(aud)),
            Read::Null => Read::Null,
            Read::Wrong(value) => Read::Wrong(value),
        })
    }
}

/// `fhirContext`: an array, whose entries are read one by one afterwards.
struct ContextItems(Vec<Value>);

impl Form for ContextItems {
    const EXPECTED: &'static str = "an array of objects";

    fn seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Read<Self>, A::Error> {
        Vec::<Value>::deserialize(SeqAccessDeserializer::new(seq)).map(|v| Read::Ok(Self(v)))
    }
}

/// Types the members read, keeping wrong-typed ones in `extra` with a finding.
struct Reader {
    extra: Map<String, Value>,
    findings: Findings,
}

impl Reader {
    /// The typed member; a wrong-typed one stays in `extra`, as sent, with a finding.
    fn keep<T: Form>(&mut self, member: Member<T>, expected: &str) -> Option<T> {
        member.checked().unwrap_or_else(|wrong| {
            self.findings.error(
                wrong.name,
                format!(
                    "{PREFIX} member '{}' has the wrong JSON type ({}; expected {expected}); \
                     it was kept in extra",
                    wrong.name,
                    type_name(&wrong.value)
                ),
            );
            self.extra.insert(wrong.name.to_owned(), wrong.value);
            None
        })
    }

    fn timestamp(&mut self, member: Member<Int>) -> Option<u64> {
        let name = member.name();
        match self.keep(member, "a non-negative integer (Unix seconds)")? {
            Int::Exact(n) => Some(n),
            Int::FromString(n) | Int::FromFloat(n) => {
                self.findings.warning(
                    name,
                    format!(
                        "Token introspection: {name} is not an integer JSON number; read as {n}"
                    ),
                );
                Some(n)
            }
        }
    }

    fn scope(&mut self, member: Member<Scope>) -> Option<String> {
        let scope = self.keep(member, "a string")?;
        if scope.from_array {
            self.findings.warning(
                "scope",
                "Token introspection: scope was sent as a JSON array; expected a \
                 space-separated string",
            );
        }
        Some(scope.text)
    }

    fn need_patient_banner(&mut self, member: Member<Flag>) -> Option<bool> {
        let flag = self.keep(member, Flag::EXPECTED)?;
        if flag.from_string {
            self.findings.warning(
                "need_patient_banner",
                "Token introspection: need_patient_banner was sent as a string; expected a JSON \
                 boolean",
            );
        }
        Some(flag.value)
    }

    fn fhir_context(&mut self, member: Member<ContextItems>) -> Vec<FhirContextItem> {
        let Some(ContextItems(items)) = self.keep(member, "an array of objects") else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Value::String(reference) => {
                    self.findings.warning(
                        &format!("fhirContext[{i}]"),
                        format!(
                            "Token introspection: fhirContext[{i}] is a string (the SMART 2.0 \
                             form); expected an object"
                        ),
                    );
                    out.push(FhirContextItem {
                        reference: Some(reference),
                        ..FhirContextItem::default()
                    });
                }
                Value::Object(object) => {
                    match serde_json::from_value::<FhirContextItem>(Value::Object(object)) {
                        Ok(context) => out.push(context),
                        Err(_) => self.findings.error(
                            &format!("fhirContext[{i}]"),
                            format!(
                                "{PREFIX} fhirContext[{i}] has a member of the wrong JSON type; \
                                 it was ignored"
                            ),
                        ),
                    }
                }
                other => self.findings.error(
                    &format!("fhirContext[{i}]"),
                    format!(
                        "{PREFIX} fhirContext[{i}] is {}; expected an object; it was ignored",
                        type_name(&other)
                    ),
                ),
            }
        }
        out
    }
}

/// Introspects a token. Output: [`Introspection`] (`active: false` included).
///
/// The endpoint is the configured `introspection_endpoint`, else the discovered one.
///
/// ```
/// # use safire_core::*;
/// # use std::time::SystemTime;
/// let config = ClientConfig::builder("https://ehr.example/fhir")
///     .client_id("resource-server")
///     .client_auth(ClientAuth::client_secret_basic("s3cr3t"))
///     .introspection_endpoint("https://ehr.example/introspect")
///     .build()?;
/// let mut flow = IntrospectionFlow::new(config.into(), "at-1")
///     .token_type_hint(TokenTypeHint::AccessToken);
/// let mut random = SeededRandom::new(1);
/// let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
/// let Step::Send(request) = flow.start(&mut env)? else { unreachable!() };
/// assert_eq!(request.body(), b"token=at-1&token_type_hint=access_token");
/// assert!(request.headers()["authorization"].to_str().unwrap().starts_with("Basic "));
/// # Ok::<(), safire_core::Error>(())
/// ```
#[derive(Debug)]
pub struct IntrospectionFlow {
    request: TokenHintRequest,
}

impl IntrospectionFlow {
    token_hint_methods! {
        /// Introspection of `token` for `config`'s server.
        new => Target::INTROSPECTION;
        /// Per-call overrides: credentials, a bearer token instead of them
        /// ([`CallOptions::bearer_token`](crate::CallOptions::bearer_token)), extra
        /// parameters.
        with_options;
    }
}

impl Flow for IntrospectionFlow {
    type Output = Introspection;

    delegate_flow_to_request!();

    fn on_response(
        &mut self,
        response: HttpResponse,
        _env: &mut Env<'_>,
    ) -> Result<Step<Introspection>, Error> {
        let result = parse_introspection_response(
            response.status().as_u16(),
            response.body(),
            &self.request.secrets(),
        );
        Ok(Step::Done(result?))
    }
}

#[cfg(test)]
pub(crate) mod tests;
