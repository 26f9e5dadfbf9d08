//! The SMART `fhirUser` claim as a typed FHIR reference.

use std::fmt;

use url::Url;

use crate::finding::Finding;

/// The resource type of a `fhirUser`.
///
/// SMART App Launch 2.2 names four; any other well-formed FHIR resource type is kept as
/// [`Other`](Self::Other) and reported by [`FhirUser::compliance_findings`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResourceType {
    /// `Practitioner`.
    Practitioner,
    /// `Patient`.
    Patient,
    /// `RelatedPerson`.
    RelatedPerson,
    /// `Person`.
    Person,
    /// Any other resource type (not one SMART allows for `fhirUser`).
    Other(String),
}

impl ResourceType {
    /// The FHIR resource type name.
    pub fn as_str(&self) -> &str {
        match self {
            ResourceType::Practitioner => "Practitioner",
            ResourceType::Patient => "Patient",
            ResourceType::RelatedPerson => "RelatedPerson",
            ResourceType::Person => "Person",
            ResourceType::Other(name) => name,
        }
    }

    /// True for the four types SMART App Launch allows for `fhirUser`.
    pub fn is_smart_user_type(&self) -> bool {
        !matches!(self, ResourceType::Other(_))
    }

    fn from_name(name: &str) -> Self {
        match name {
            "Practitioner" => ResourceType::Practitioner,
            "Patient" => ResourceType::Patient,
            "RelatedPerson" => ResourceType::RelatedPerson,
            "Person" => ResourceType::Person,
            other => ResourceType::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The user who launched the app, from the ID token's `fhirUser` claim: a FHIR resource type,
/// id and absolute URL.
///
/// `Debug` shows only the resource type: the id and URL identify a person.
///
/// ```
/// use safire_core::{FhirUser, ResourceType};
/// let base = "https://ehr.example/fhir".parse().unwrap();
/// let user = FhirUser::parse("Practitioner/abc-1", Some(&base)).unwrap();
/// assert_eq!(user.resource_type(), &ResourceType::Practitioner);
/// assert_eq!(user.id(), "abc-1");
/// assert_eq!(user.url().as_str(), "https://ehr.example/fhir/Practitioner/abc-1");
/// assert_eq!(format!("{user:?}"), "FhirUser { resource_type: Practitioner, id: [REDACTED], url: [REDACTED] }");
///
/// let user = FhirUser::parse("https://other.example/r4/Patient/9", None).unwrap();
/// assert_eq!(user.resource_type().as_str(), "Patient");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FhirUser {
    resource_type: ResourceType,
    id: String,
    url: Url,
}

/// Why a `fhirUser` value is not a usable FHIR reference. Messages never quote the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FhirUserError {
    /// The value is empty.
    #[error("fhirUser is empty")]
    Empty,
    /// Not an absolute http(s) URL and not a relative `Type/id` reference.
    #[error("fhirUser is neither an absolute http(s) URL nor a relative `Type/id` reference")]
    NotAReference,
    /// A relative reference, but no FHIR base URL to resolve it against.
    #[error("fhirUser is a relative reference and no FHIR base URL is known")]
    RelativeWithoutBase,
    /// The resource type is not a FHIR resource type name.
    #[error("fhirUser does not name a FHIR resource type")]
    InvalidResourceType,
    /// The id is not a FHIR id (1–64 of `A-Z a-z 0-9 - .`).
    #[error("fhirUser does not end in a valid FHIR id")]
    InvalidId,
}

impl FhirUser {
    /// Parses a `fhirUser` value.
    ///
    /// An absolute `http`/`https` URL is taken as it is; its last two path segments are the type
    /// and id (a version suffix `/_history/<v>` is dropped). A relative reference must be
    /// exactly `Type/id` and is resolved against `fhir_base`. Query strings and fragments are
    /// refused. Resource types must look like FHIR's (`[A-Z][A-Za-z]*`); ids like FHIR's
    /// (`[A-Za-z0-9.-]{1,64}`).
    pub fn parse(value: &str, fhir_base: Option<&Url>) -> Result<Self, FhirUserError> {
        if value.is_empty() {
            return Err(FhirUserError::Empty);
        }
        if value.contains(['?', '#']) || value.chars().any(|c| c.is_whitespace()) {
            return Err(FhirUserError::NotAReference);
        }
        let mut url = match Url::parse(value) {
            Ok(url) => {
                if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
                    return Err(FhirUserError::NotAReference);
                }
                url
            }
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                if value.starts_with('/') || value.split('/').count() != 2 {
                    return Err(FhirUserError::NotAReference);
                }
                let Some(base) = fhir_base else {
                    return Err(FhirUserError::RelativeWithoutBase);
                };
                let mut base = base.clone();
                base.set_query(None);
                base.set_fragment(None);
                if !base.path().ends_with('/') {
                    let path = format!("{}/", base.path());
                    base.set_path(&path);
                }
                base.join(value).map_err(|_| FhirUserError::NotAReference)?
            }
            Err(_) => return Err(FhirUserError::NotAReference),
        };
        let mut segments: Vec<String> = url
            .path_segments()
            .map(|s| s.map(str::to_owned).collect())
            .unwrap_or_default();
        if segments.len() >= 4
            && segments
                .get(segments.len() - 2)
                .is_some_and(|s| s == "_history")
        {
            segments.truncate(segments.len() - 2);
            let path = format!("/{}", segments.join("/"));
            url.set_path(&path);
        }
        let (Some(id), Some(resource_type)) = (segments.pop(), segments.pop()) else {
            return Err(FhirUserError::NotAReference);
        };
        if !is_resource_type(&resource_type) {
            return Err(FhirUserError::InvalidResourceType);
        }
        if !is_fhir_id(&id) {
            return Err(FhirUserError::InvalidId);
        }
        Ok(FhirUser {
            resource_type: ResourceType::from_name(&resource_type),
            id,
            url,
        })
    }

    /// The resource type.
    pub fn resource_type(&self) -> &ResourceType {
        &self.resource_type
    }

    /// The logical id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The absolute URL of the resource.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// `Type/id`, the relative reference.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.resource_type, self.id)
    }

    /// What is off about this `fhirUser`: a resource type SMART does not allow for users.
    ///
    /// ```
    /// use safire_core::FhirUser;
    /// let user = FhirUser::parse("https://ehr.example/fhir/Device/d1", None).unwrap();
    /// assert_eq!(user.compliance_findings().len(), 1);
    /// ```
    pub fn compliance_findings(&self) -> Vec<Finding> {
        if self.resource_type.is_smart_user_type() {
            Vec::new()
        } else {
            vec![Finding::warning(
                Some("fhirUser"),
                format!(
                    "fhirUser is a {}; SMART allows Practitioner, Patient, RelatedPerson or Person",
                    self.resource_type
                ),
            )]
        }
    }
}

impl fmt::Debug for FhirUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FhirUser")
            .field("resource_type", &format_args!("{}", self.resource_type))
            .field("id", &format_args!("[REDACTED]"))
            .field("url", &format_args!("[REDACTED]"))
            .finish()
    }
}

fn is_resource_type(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphabetic())
}

fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}
