//! One scope: the [`Scope`] enum and the [`ResourceScope`] it holds for FHIR resource scopes,
//! with [`ResourceType`] and [`ScopeVersion`]. What a single token is, not how it is read
//! (see `parse`) or combined (see `list`).

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::parse::{classify, diagnose, quote};
use super::{Context, FIELD, Permissions};
use crate::finding::Finding;

/// The resource part of a FHIR resource scope.
///
/// ```
/// use safire_core::scope::{ResourceType, Scope};
/// let Scope::Resource(s) = Scope::parse("user/*.cruds") else { unreachable!() };
/// assert_eq!(s.resource(), ResourceType::Any);
/// assert!(s.resource().matches("Observation"));
/// let Scope::Resource(s) = Scope::parse("system/Patient.r") else { unreachable!() };
/// assert_eq!(s.resource(), ResourceType::Named("Patient"));
/// assert!(!s.resource().matches("Observation"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType<'a> {
    /// `*`: every resource type, now and in the future.
    Any,
    /// One FHIR resource type, e.g. `Observation`.
    Named(&'a str),
}

impl ResourceType<'_> {
    /// True when this covers `resource_type` (`*` covers every type, including the text `*`).
    pub fn matches(self, resource_type: &str) -> bool {
        match self {
            ResourceType::Any => true,
            ResourceType::Named(name) => name == resource_type,
        }
    }

    /// `*` or the type name.
    pub fn as_str(&self) -> &str {
        match self {
            ResourceType::Any => "*",
            ResourceType::Named(name) => name,
        }
    }
}

impl fmt::Display for ResourceType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which syntax a FHIR resource scope was written in.
///
/// ```
/// use safire_core::scope::{Permissions, Scope, ScopeVersion};
/// let Scope::Resource(v1) = Scope::parse("user/Observation.write") else { unreachable!() };
/// assert_eq!(v1.version(), ScopeVersion::V1);
/// assert_eq!(v1.permissions(), Permissions::CUD);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScopeVersion {
    /// SMART 1.0: `.read` (= `rs`), `.write` (= `cud`) or `.*` (= `cruds`); no query.
    V1,
    /// SMART 2.x: in-order `cruds` letters, optionally `?param=value&…`.
    V2,
}

/// A FHIR resource scope such as `patient/Observation.rs?category=laboratory`,
/// `user/*.cruds` or (v1) `patient/*.read`.
///
/// The scope keeps its exact text (one allocation); the accessors read parts of it.
///
/// ```
/// use safire_core::scope::{Context, Permissions, ResourceType, Scope, ScopeVersion};
/// let Scope::Resource(s) = Scope::parse("patient/Observation.rs?category=laboratory") else {
///     unreachable!()
/// };
/// assert_eq!(s.context(), Context::Patient);
/// assert_eq!(s.resource(), ResourceType::Named("Observation"));
/// assert_eq!(s.permissions(), Permissions::RS);
/// assert_eq!(s.query(), Some("category=laboratory"));
/// assert_eq!(s.version(), ScopeVersion::V2);
/// assert_eq!(s.as_str(), "patient/Observation.rs?category=laboratory");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResourceScope {
    pub(super) text: String,
    pub(super) context: Context,
    pub(super) permissions: Permissions,
    pub(super) version: ScopeVersion,
    /// Byte offset of the `.` between the resource type and the permissions.
    pub(super) dot: usize,
    /// Byte offset of the `?` that starts the query, if any.
    pub(super) query_at: Option<usize>,
}

impl ResourceScope {
    /// `patient`, `user` or `system`.
    pub fn context(&self) -> Context {
        self.context
    }

    /// `*` or the resource type.
    pub fn resource(&self) -> ResourceType<'_> {
        let start = self.context.as_str().len() + 1;
        match self.text.get(start..self.dot).unwrap_or_default() {
            "*" => ResourceType::Any,
            name => ResourceType::Named(name),
        }
    }

    /// What the scope grants, with v1 words in their v2 meaning (`read` = `rs`, `write` =
    /// `cud`, `*` = `cruds`).
    pub fn permissions(&self) -> Permissions {
        self.permissions
    }

    /// The search-parameter restriction after `?`, e.g. `category=laboratory`.
    pub fn query(&self) -> Option<&str> {
        self.query_at.and_then(|at| self.text.get(at + 1..))
    }

    /// True when the scope has a `?` restriction.
    pub fn is_restricted(&self) -> bool {
        self.query_at.is_some()
    }

    /// v1 (`read`/`write`/`*`) or v2 (`cruds` letters).
    pub fn version(&self) -> ScopeVersion {
        self.version
    }

    /// The exact text of the scope.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when this scope is about `resource_type` in `context` (whatever its permissions
    /// and query).
    pub(super) fn covers(&self, context: Context, resource_type: &str) -> bool {
        self.context == context && self.resource().matches(resource_type)
    }
}

impl fmt::Debug for ResourceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResourceScope").field(&self.text).finish()
    }
}

impl fmt::Display for ResourceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One scope of a space-separated scope string.
///
/// Parse with [`Scope::parse`] (never fails); build requests with [`Scope::patient`],
/// [`Scope::user`], [`Scope::system`] and [`Scope::with_query`]. `Display` prints the exact
/// scope text; serde reads and writes it as a string.
///
/// ```
/// use safire_core::scope::{Permissions, Scope};
/// assert_eq!(Scope::parse("launch/patient"), Scope::LaunchPatient);
/// assert_eq!(Scope::parse("offline_access"), Scope::OfflineAccess);
/// assert_eq!(
///     Scope::parse("launch/imagingstudy"),
///     Scope::LaunchContext("launch/imagingstudy".into())
/// );
/// assert_eq!(Scope::parse("patient/Observation.sr"), Scope::Other("patient/Observation.sr".into()));
/// let s = Scope::patient("Observation", Permissions::RS).with_query("category=laboratory");
/// assert_eq!(s.to_string(), "patient/Observation.rs?category=laboratory");
/// assert_eq!(Scope::system_all_read().to_string(), "system/*.rs");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// A FHIR resource scope (`patient/…`, `user/…`, `system/…`).
    Resource(ResourceScope),
    /// `launch`: the EHR launch context handle.
    Launch,
    /// `launch/patient`: a patient in context.
    LaunchPatient,
    /// `launch/encounter`: an encounter in context.
    LaunchEncounter,
    /// Any other `launch/…` request, kept whole (e.g. `launch/imagingstudy`,
    /// `launch/list?role=https://example.org/med-list-at-home`); see
    /// [`Scope::launch_context`].
    LaunchContext(String),
    /// `openid`.
    OpenId,
    /// `fhirUser`.
    FhirUser,
    /// `profile` (OpenID Connect; SMART 1.0 accepted it in place of `fhirUser`).
    Profile,
    /// `offline_access`.
    OfflineAccess,
    /// `online_access`.
    OnlineAccess,
    /// An extension scope: a full URI or a name starting with `__` (SMART "Extensibility").
    Extension(String),
    /// Anything else, kept verbatim: malformed SMART scopes and scopes SMART does not define.
    /// [`Scope::finding`] says what is wrong.
    Other(String),
}

impl Scope {
    /// Classifies one scope. Never fails: what is not understood becomes [`Scope::Other`].
    ///
    /// ```
    /// use safire_core::scope::Scope;
    /// assert_eq!(Scope::parse("openid"), Scope::OpenId);
    /// assert!(matches!(Scope::parse("user/*.cruds"), Scope::Resource(_)));
    /// assert!(matches!(Scope::parse("patient/.rs"), Scope::Other(_)));
    /// ```
    pub fn parse(text: &str) -> Scope {
        classify(text)
    }

    /// A resource scope in `context` for `resource` (`*` for every type) with `permissions`,
    /// written in v2 syntax. An invalid resource name or an empty permission set gives
    /// [`Scope::Other`] (with a [`finding`](Scope::finding)), never a panic.
    ///
    /// ```
    /// use safire_core::scope::{Context, Permissions, Scope};
    /// let s = Scope::resource(Context::User, "Appointment", Permissions::CRUDS);
    /// assert_eq!(s.to_string(), "user/Appointment.cruds");
    /// assert!(Scope::resource(Context::User, "bad name", Permissions::R).finding().is_some());
    /// ```
    pub fn resource(context: Context, resource: &str, permissions: Permissions) -> Scope {
        let context = context.as_str();
        let mut text = String::with_capacity(context.len() + resource.len() + 7);
        text.push_str(context);
        text.push('/');
        text.push_str(resource);
        text.push('.');
        for p in permissions.iter() {
            text.push(p.letter());
        }
        classify(text)
    }

    /// `patient/<resource>.<permissions>`.
    ///
    /// ```
    /// use safire_core::scope::{Permissions, Scope};
    /// assert_eq!(Scope::patient("Observation", Permissions::RS).to_string(), "patient/Observation.rs");
    /// ```
    pub fn patient(resource: &str, permissions: Permissions) -> Scope {
        Scope::resource(Context::Patient, resource, permissions)
    }

    /// `user/<resource>.<permissions>`.
    ///
    /// ```
    /// use safire_core::scope::{Permissions, Scope};
    /// assert_eq!(Scope::user("*", Permissions::CRUDS).to_string(), "user/*.cruds");
    /// ```
    pub fn user(resource: &str, permissions: Permissions) -> Scope {
        Scope::resource(Context::User, resource, permissions)
    }

    /// `system/<resource>.<permissions>`.
    ///
    /// ```
    /// use safire_core::scope::{Permissions, Scope};
    /// assert_eq!(Scope::system("Patient", Permissions::R).to_string(), "system/Patient.r");
    /// ```
    pub fn system(resource: &str, permissions: Permissions) -> Scope {
        Scope::resource(Context::System, resource, permissions)
    }

    /// `patient/*.rs`: read and search everything about the patient.
    ///
    /// ```
    /// use safire_core::scope::Scope;
    /// assert_eq!(Scope::patient_all_read().to_string(), "patient/*.rs");
    /// ```
    pub fn patient_all_read() -> Scope {
        Scope::patient("*", Permissions::RS)
    }

    /// `user/*.rs`: read and search everything the user can see.
    ///
    /// ```
    /// use safire_core::scope::Scope;
    /// assert_eq!(Scope::user_all_read().to_string(), "user/*.rs");
    /// ```
    pub fn user_all_read() -> Scope {
        Scope::user("*", Permissions::RS)
    }

    /// `system/*.rs`: read and search everything the client is allowed (bulk export).
    ///
    /// ```
    /// use safire_core::scope::Scope;
    /// assert_eq!(Scope::system_all_read().to_string(), "system/*.rs");
    /// ```
    pub fn system_all_read() -> Scope {
        Scope::system("*", Permissions::RS)
    }

    /// This scope with `?<query>` (replacing any query it had; an empty `query` removes it),
    /// classified again. For a resource scope this is the v2 search-parameter restriction
    /// (`param=value&…`); for a `launch/<type>` scope, e.g. `role=<uri>`. On a v1 scope, or
    /// with a malformed query, the result is [`Scope::Other`] with a finding.
    ///
    /// ```
    /// use safire_core::scope::{Permissions, Scope};
    /// let lab = Scope::patient("Observation", Permissions::RS).with_query("category=laboratory");
    /// assert_eq!(lab.to_string(), "patient/Observation.rs?category=laboratory");
    /// let vitals = lab.with_query("category=vital-signs");
    /// assert_eq!(vitals.to_string(), "patient/Observation.rs?category=vital-signs");
    /// assert_eq!(vitals.with_query("").to_string(), "patient/Observation.rs");
    /// ```
    pub fn with_query(self, query: &str) -> Scope {
        let text = self.as_str();
        let base = text.split_once('?').map_or(text, |(base, _)| base);
        let mut new = String::with_capacity(base.len() + 1 + query.len());
        new.push_str(base);
        if !query.is_empty() {
            new.push('?');
            new.push_str(query);
        }
        classify(new)
    }

    /// The exact scope text.
    ///
    /// ```
    /// use safire_core::scope::Scope;
    /// assert_eq!(Scope::FhirUser.as_str(), "fhirUser");
    /// ```
    pub fn as_str(&self) -> &str {
        match self {
            Scope::Resource(s) => s.as_str(),
            Scope::Launch => "launch",
            Scope::LaunchPatient => "launch/patient",
            Scope::LaunchEncounter => "launch/encounter",
            Scope::OpenId => "openid",
            Scope::FhirUser => "fhirUser",
            Scope::Profile => "profile",
            Scope::OfflineAccess => "offline_access",
            Scope::OnlineAccess => "online_access",
            Scope::LaunchContext(s) | Scope::Extension(s) | Scope::Other(s) => s,
        }
    }

    /// For `launch/…` scopes, what follows `launch/` (`patient`, `encounter`,
    /// `imagingstudy`, `list?role=…`).
    ///
    /// ```
    /// use safire_core::scope::Scope;
    /// assert_eq!(Scope::parse("launch/imagingstudy").launch_context(), Some("imagingstudy"));
    /// assert_eq!(Scope::LaunchPatient.launch_context(), Some("patient"));
    /// assert_eq!(Scope::Launch.launch_context(), None);
    /// ```
    pub fn launch_context(&self) -> Option<&str> {
        match self {
            Scope::LaunchPatient | Scope::LaunchEncounter | Scope::LaunchContext(_) => {
                self.as_str().strip_prefix("launch/")
            }
            _ => None,
        }
    }

    /// The resource scope, if this is one.
    ///
    /// ```
    /// use safire_core::scope::Scope;
    /// assert!(Scope::parse("system/Patient.r").as_resource().is_some());
    /// assert!(Scope::OpenId.as_resource().is_none());
    /// ```
    pub fn as_resource(&self) -> Option<&ResourceScope> {
        match self {
            Scope::Resource(s) => Some(s),
            _ => None,
        }
    }

    /// What is wrong with this scope, if anything: always a finding for [`Scope::Other`]
    /// (an error for malformed SMART scopes and invalid OAuth scope tokens, a warning for
    /// scopes SMART does not define), a warning for a `launch/…` scope that is not lower case,
    /// none otherwise.
    ///
    /// ```
    /// use safire_core::scope::Scope;
    /// let f = Scope::parse("patient/Observation.sr").finding().unwrap();
    /// assert!(f.is_error());
    /// assert!(f.message.contains("in the order c, r, u, d, s"));
    /// let f = Scope::parse("email").finding().unwrap();
    /// assert!(!f.is_error());
    /// assert_eq!(Scope::parse("user/*.cruds").finding(), None);
    /// ```
    pub fn finding(&self) -> Option<Finding> {
        match self {
            Scope::Other(text) => Some(diagnose(text)),
            Scope::LaunchContext(text) => {
                let name = text
                    .strip_prefix("launch/")
                    .unwrap_or(text)
                    .split('?')
                    .next()
                    .unwrap_or_default();
                name.bytes().any(|b| b.is_ascii_uppercase()).then(|| {
                    Finding::warning(
                        Some(FIELD),
                        format!(
                            "launch context scope '{}' is not lower case (SMART launch context \
                             scopes are always lower case)",
                            quote(text)
                        ),
                    )
                })
            }
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Scope::parse(s))
    }
}

impl From<&Scope> for String {
    fn from(scope: &Scope) -> String {
        scope.as_str().to_owned()
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> String {
        match scope {
            Scope::Resource(s) => s.text,
            Scope::LaunchContext(s) | Scope::Extension(s) | Scope::Other(s) => s,
            other => other.as_str().to_owned(),
        }
    }
}

impl AsRef<str> for Scope {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(classify(text))
    }
}
