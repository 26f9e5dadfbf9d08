//! The SMART launch context: what the authorization server says the app was launched with
//! (SMART App Launch 2.2 §"Launch context arrives with your access_token").
//!
//! One value, [`LaunchContext`], carried by a [`TokenResponse`](crate::TokenResponse), kept in a
//! [`Session`](crate::Session) and reported by an [`Introspection`](crate::Introspection). Its
//! members serialize under their wire names, flattened into the value that holds them.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What `Debug` shows instead of a patient identifier.
const HIDDEN: &str = "[hidden]";

/// The launch context of a token: the patient, encounter and further resources in context,
/// and how the app should present itself.
///
/// Serializes to the wire names (`patient`, `encounter`, `fhirContext`,
/// `need_patient_banner`, `smart_style_url`, `intent`, `tenant`), leaving out absent members.
/// `Debug` shows whether a patient or encounter is in context, never its id, and only the
/// resource type of a `fhirContext` reference.
///
/// ```
/// use std::time::SystemTime;
/// use safire_core::{LaunchContext, TokenResponse};
/// let token = TokenResponse::parse(200, br#"{"access_token":"at","patient":"pat-1",
///     "fhirContext":[{"reference":"Appointment/a1"}],"need_patient_banner":false}"#,
///     SystemTime::now())?;
/// let launch: &LaunchContext = &token.launch;
/// assert_eq!(launch.patient.as_deref(), Some("pat-1"));
/// assert_eq!(launch.fhir_context[0].reference.as_deref(), Some("Appointment/a1"));
/// assert_eq!(launch.need_patient_banner, Some(false));
/// let shown = format!("{launch:?}");
/// assert!(!shown.contains("pat-1") && !shown.contains("a1"), "{shown}");
///
/// let mut own = LaunchContext::default();
/// own.patient = Some("pat-2".into());
/// assert_eq!(serde_json::to_string(&own)?, r#"{"patient":"pat-2"}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LaunchContext {
    /// The patient in context (a FHIR id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// The encounter in context (a FHIR id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encounter: Option<String>,
    /// Further resources in context (SMART 2.2 `fhirContext`).
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
}

impl LaunchContext {
    /// True when no member is present.
    ///
    /// ```
    /// assert!(safire_core::LaunchContext::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        *self == LaunchContext::default()
    }

    /// This context over `previous`: each member this one has wins, each it lacks is kept
    /// from `previous` (a refresh response that omits the context keeps the launch's).
    pub(crate) fn or(self, previous: LaunchContext) -> LaunchContext {
        LaunchContext {
            patient: self.patient.or(previous.patient),
            encounter: self.encounter.or(previous.encounter),
            fhir_context: if self.fhir_context.is_empty() {
                previous.fhir_context
            } else {
                self.fhir_context
            },
            need_patient_banner: self.need_patient_banner.or(previous.need_patient_banner),
            smart_style_url: self.smart_style_url.or(previous.smart_style_url),
            intent: self.intent.or(previous.intent),
            tenant: self.tenant.or(previous.tenant),
        }
    }

    /// `Debug` that shows only how many `fhirContext` entries there are, none of their
    /// strings (where the holder's policy is stricter, as for introspection).
    pub(crate) fn debug_counting_items(&self) -> impl fmt::Debug + '_ {
        struct Counting<'a>(&'a LaunchContext);
        impl fmt::Debug for Counting<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt_with(f, &self.0.fhir_context.len())
            }
        }
        Counting(self)
    }

    fn fmt_with(&self, f: &mut fmt::Formatter<'_>, fhir_context: &dyn fmt::Debug) -> fmt::Result {
        // Patient identifiers stay out of logs (PHI): only whether they are there.
        let present = |v: bool| if v { "[PRESENT]" } else { "[ABSENT]" };
        f.debug_struct("LaunchContext")
            .field("patient", &present(self.patient.is_some()))
            .field("encounter", &present(self.encounter.is_some()))
            .field("fhir_context", fhir_context)
            .field("need_patient_banner", &self.need_patient_banner)
            .field("smart_style_url", &self.smart_style_url)
            .field("intent", &self.intent)
            .field("tenant", &self.tenant)
            .finish()
    }
}

impl fmt::Debug for LaunchContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_with(f, &self.fhir_context)
    }
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
#[non_exhaustive]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> LaunchContext {
        LaunchContext {
            patient: Some("pat-1".into()),
            encounter: Some("enc-1".into()),
            fhir_context: vec![FhirContextItem {
                reference: Some("Appointment/a1".into()),
                ..FhirContextItem::default()
            }],
            need_patient_banner: Some(true),
            smart_style_url: Some("https://ehr.example/style.json".into()),
            intent: Some("reconcile-medications".into()),
            tenant: Some("t1".into()),
        }
    }

    #[test]
    fn each_member_present_wins_and_each_absent_is_kept() {
        let previous = full();
        assert_eq!(LaunchContext::default().or(previous.clone()), previous);
        let newer = LaunchContext {
            encounter: Some("enc-2".into()),
            fhir_context: vec![FhirContextItem::default()],
            ..LaunchContext::default()
        };
        let merged = newer.or(previous.clone());
        assert_eq!(merged.encounter.as_deref(), Some("enc-2"));
        assert_eq!(merged.fhir_context, vec![FhirContextItem::default()]);
        assert_eq!(merged.patient, previous.patient);
        assert_eq!(merged.tenant, previous.tenant);
        assert!(!full().is_empty());
    }

    #[test]
    fn debug_hides_identifiers_and_the_counting_form_hides_every_item_string() {
        let launch = full();
        let shown = format!("{launch:?}");
        for identifier in ["pat-1", "enc-1", "a1"] {
            assert!(!shown.contains(identifier), "{identifier} in {shown}");
        }
        assert!(shown.contains("patient: \"[PRESENT]\""), "{shown}");
        assert!(shown.contains("Appointment/[hidden]"), "{shown}");
        let counted = format!("{:?}", launch.debug_counting_items());
        assert!(!counted.contains("Appointment"), "{counted}");
        assert!(counted.contains("fhir_context: 1"), "{counted}");
    }
}
