//! Reading a token response's members: the lenient forms of its fields and the findings
//! each liberty leaves.

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, SeqAccess};
use serde_json::{Map, Value};
use std::time::SystemTime;

use super::{PREFIX, TokenResponse, expiry};
use crate::error::server_text;
use crate::finding::Findings;
use crate::json::type_name;
use crate::launch_context::{FhirContextItem, LaunchContext};
use crate::lenient::{self, Flag, Form, Int, Member, Read, Scope, lenient_u64};
use crate::secret::SecretString;

lenient::document! {
    /// The members of a token response, as read (see [`lenient`]).
    pub(super) struct Members {
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
    pub(super) struct ItemMembers {
        reference: String,
        canonical: String,
        type_: String = "type",
        role: String,
        identifier: Map<String, Value>,
    }
}

/// `patient` / `encounter`: a FHIR id string, or (a liberty) an integer JSON number.
pub(super) struct FhirId {
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
pub(super) struct FhirContext(Vec<Read<ContextEntry>>);

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
pub(super) enum ContextEntry {
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
    /// The typed response; `m.access_token` is a non-blank string (checked by the caller).
    pub(super) fn from_members(m: Members, received_at: SystemTime) -> TokenResponse {
        let mut r = Reader::default();
        let access_token = SecretString::from(r.take(m.access_token).unwrap_or_default());
        let token_type = r.token_type(m.token_type);
        let expires_in = r.expires_in(m.expires_in);
        let scope = r.scope(m.scope);
        let refresh_token = r.take(m.refresh_token).map(SecretString::from);
        let id_token = r.take(m.id_token).map(SecretString::from);
        let launch = LaunchContext {
            patient: r.fhir_id("patient", m.patient),
            encounter: r.fhir_id("encounter", m.encounter),
            fhir_context: r.fhir_context(m.fhir_context),
            need_patient_banner: r.need_patient_banner(m.need_patient_banner),
            smart_style_url: r.take(m.smart_style_url),
            intent: r.take(m.intent),
            tenant: r.take(m.tenant),
        };
        let authorization_details = r.take(m.authorization_details);
        let expires_at = expires_in.and_then(|secs| expiry(received_at, secs));
        TokenResponse {
            access_token,
            token_type,
            expires_in,
            scope,
            refresh_token,
            id_token,
            launch,
            authorization_details,
            expires_at,
            extra: m.extra,
            findings: r.findings.into_vec(),
            identity: None,
        }
    }
}
