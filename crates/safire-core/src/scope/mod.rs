//! SMART scopes as types: parse, print, build, compare and query what a scope string allows.
//!
//! SMART App Launch 2.2 ("Scopes and Launch Context") defines three kinds of scopes:
//!
//! * **FHIR resource scopes**, `<patient|user|system>/<ResourceType|*>.<cruds>[?param=value&…]`
//!   (v2), and their v1 forms `.read`, `.write` and `.*`, which mean v2 `.rs`, `.cud` and
//!   `.cruds` (the specification's v1 compatibility rule). The v2 permission letters are a
//!   subset of the **in-order** string `cruds`: `.sr`, `.rr` or `.dus` are not scopes.
//! * **Launch context scopes**: `launch`, `launch/patient`, `launch/encounter` and other
//!   `launch/<type>` requests (always lower case, optionally `?role=<uri>`).
//! * **Identity and refresh scopes**: `openid`, `fhirUser`, `profile`, `offline_access`,
//!   `online_access`.
//!
//! Extension scopes (a full URI, or a name starting with `__`) are kept as
//! [`Scope::Extension`]. Anything else, malformed or unknown, is kept verbatim as
//! [`Scope::Other`] and explained by a [`Finding`]: parsing never fails and never panics.
//!
//! ```
//! use safire_core::scope::{Context, Permission, Permissions, Scope, Scopes};
//!
//! let granted = Scopes::parse(
//!     "launch/patient openid fhirUser patient/Observation.rs?category=laboratory patient/*.read",
//! );
//! // Printing gives back exactly what was parsed.
//! assert_eq!(
//!     granted.to_string(),
//!     "launch/patient openid fhirUser patient/Observation.rs?category=laboratory patient/*.read"
//! );
//! // v1 `patient/*.read` means read and search any resource of the patient.
//! assert!(granted.allows(Context::Patient, "Condition", Permissions::RS));
//! assert!(!granted.allows(Context::Patient, "Condition", Permission::Update));
//! assert!(!granted.allows(Context::User, "Condition", Permission::Read));
//! assert!(granted.findings().is_empty());
//!
//! // Requests are built with the builder or the constructors.
//! let requested = Scopes::builder()
//!     .launch_patient()
//!     .openid()
//!     .fhir_user()
//!     .scope(Scope::patient("Observation", Permissions::RS).with_query("category=laboratory"))
//!     .scope(Scope::patient("MedicationRequest", Permissions::CRUDS))
//!     .build();
//! let findings = Scopes::difference(&requested, &granted);
//! assert_eq!(findings.len(), 2);
//! assert!(findings[0].message.contains("'patient/MedicationRequest.cruds'"));
//! assert!(findings[0].message.contains("missing 'cud'"));
//! assert!(findings[1].message.contains("'patient/*.read' was granted"));
//! ```

use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt;
use std::ops::{BitOr, BitOrAssign};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::finding::{Finding, Findings, MAX_FINDINGS};

/// The field name every scope finding carries.
const FIELD: &str = "scope";

/// Longest part of a scope quoted in a finding message (characters).
const QUOTE_MAX: usize = 100;

// ---------------------------------------------------------------------------------------------
// Context, permissions, resource type, version
// ---------------------------------------------------------------------------------------------

/// Whose data a FHIR resource scope is about: the `patient/`, `user/` or `system/` prefix.
///
/// ```
/// use safire_core::scope::Context;
/// assert_eq!(Context::Patient.as_str(), "patient");
/// assert_eq!("system".parse::<Context>(), Ok(Context::System));
/// assert!("Patient".parse::<Context>().is_err()); // case-sensitive
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// `patient/`: data about the patient in context.
    Patient,
    /// `user/`: data the current user can access.
    User,
    /// `system/`: data the client itself is authorized for (backend services).
    System,
}

impl Context {
    /// The prefix without its slash: `patient`, `user` or `system`.
    pub fn as_str(self) -> &'static str {
        match self {
            Context::Patient => "patient",
            Context::User => "user",
            Context::System => "system",
        }
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not `patient`, `user` or `system`.
///
/// ```
/// use safire_core::scope::{Context, UnknownContext};
/// assert_eq!("admin".parse::<Context>(), Err(UnknownContext));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownContext;

impl fmt::Display for UnknownContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SMART scope context is one of patient, user, system")
    }
}

impl std::error::Error for UnknownContext {}

impl FromStr for Context {
    type Err = UnknownContext;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "patient" => Ok(Context::Patient),
            "user" => Ok(Context::User),
            "system" => Ok(Context::System),
            _ => Err(UnknownContext),
        }
    }
}

/// One FHIR interaction class of SMART v2: **c**reate, **r**ead, **u**pdate, **d**elete,
/// **s**earch.
///
/// ```
/// use safire_core::scope::{Permission, Permissions};
/// assert_eq!(Permission::Search.letter(), 's');
/// assert_eq!(Permissions::from(Permission::Read), Permissions::R);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// `c`: type-level create.
    Create,
    /// `r`: instance read, vread and history.
    Read,
    /// `u`: instance update and patch.
    Update,
    /// `d`: instance delete.
    Delete,
    /// `s`: type- and system-level search and history.
    Search,
}

impl Permission {
    /// All five, in the specification's order (`c`, `r`, `u`, `d`, `s`).
    pub const ALL: [Permission; 5] = [
        Permission::Create,
        Permission::Read,
        Permission::Update,
        Permission::Delete,
        Permission::Search,
    ];

    /// The scope letter: `c`, `r`, `u`, `d` or `s`.
    pub fn letter(self) -> char {
        match self {
            Permission::Create => 'c',
            Permission::Read => 'r',
            Permission::Update => 'u',
            Permission::Delete => 'd',
            Permission::Search => 's',
        }
    }

    fn bit(self) -> u8 {
        match self {
            Permission::Create => 1,
            Permission::Read => 2,
            Permission::Update => 4,
            Permission::Delete => 8,
            Permission::Search => 16,
        }
    }
}

/// A set of [`Permission`]s; prints as the in-order letters (`cruds`, `rs`, …).
///
/// ```
/// use safire_core::scope::{Permission, Permissions};
/// let p = Permissions::R | Permissions::S;
/// assert_eq!(p, Permissions::RS);
/// assert!(p.contains(Permission::Search));
/// assert!(Permissions::CRUDS.contains(Permissions::CUD));
/// assert_eq!(Permissions::CUD.to_string(), "cud");
/// assert_eq!(Permissions::from_letters("rs"), Some(Permissions::RS));
/// assert_eq!(Permissions::from_letters("sr"), None); // out of order
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Permissions(u8);

impl Permissions {
    /// No permission at all.
    pub const NONE: Permissions = Permissions(0);
    /// `c`.
    pub const C: Permissions = Permissions(1);
    /// `r`.
    pub const R: Permissions = Permissions(2);
    /// `u`.
    pub const U: Permissions = Permissions(4);
    /// `d`.
    pub const D: Permissions = Permissions(8);
    /// `s`.
    pub const S: Permissions = Permissions(16);
    /// `rs`: read and search (v1 `read`).
    pub const RS: Permissions = Permissions(2 | 16);
    /// `cud`: create, update, delete (v1 `write`).
    pub const CUD: Permissions = Permissions(1 | 4 | 8);
    /// `cruds`: everything (v1 `*`).
    pub const CRUDS: Permissions = Permissions(31);

    /// True when every permission of `other` is in `self` (always true for an empty `other`).
    pub fn contains(self, other: impl Into<Permissions>) -> bool {
        let other = other.into();
        self.0 & other.0 == other.0
    }

    /// True for [`Permissions::NONE`].
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The permissions of `self` that are not in `other`.
    pub fn without(self, other: Permissions) -> Permissions {
        Permissions(self.0 & !other.0)
    }

    /// The permissions in both.
    pub fn intersection(self, other: Permissions) -> Permissions {
        Permissions(self.0 & other.0)
    }

    /// The individual permissions, in order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.0 & p.bit() != 0)
    }

    /// Parses SMART v2 letters: a non-empty subset of `cruds`, in that order, no repeats.
    pub fn from_letters(letters: &str) -> Option<Permissions> {
        parse_cruds(letters).ok()
    }
}

impl From<Permission> for Permissions {
    fn from(p: Permission) -> Self {
        Permissions(p.bit())
    }
}

impl BitOr for Permissions {
    type Output = Permissions;
    fn bitor(self, rhs: Permissions) -> Permissions {
        Permissions(self.0 | rhs.0)
    }
}

impl BitOr<Permission> for Permissions {
    type Output = Permissions;
    fn bitor(self, rhs: Permission) -> Permissions {
        Permissions(self.0 | rhs.bit())
    }
}

impl BitOr for Permission {
    type Output = Permissions;
    fn bitor(self, rhs: Permission) -> Permissions {
        Permissions(self.bit() | rhs.bit())
    }
}

impl BitOrAssign for Permissions {
    fn bitor_assign(&mut self, rhs: Permissions) {
        self.0 |= rhs.0;
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in self.iter() {
            fmt::Write::write_char(f, p.letter())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Permissions({self})")
    }
}

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
pub enum ScopeVersion {
    /// SMART 1.0: `.read` (= `rs`), `.write` (= `cud`) or `.*` (= `cruds`); no query.
    V1,
    /// SMART 2.x: in-order `cruds` letters, optionally `?param=value&…`.
    V2,
}

// ---------------------------------------------------------------------------------------------
// ResourceScope
// ---------------------------------------------------------------------------------------------

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
    text: String,
    context: Context,
    permissions: Permissions,
    version: ScopeVersion,
    /// Byte offset of the `.` between the resource type and the permissions.
    dot: usize,
    /// Byte offset of the `?` that starts the query, if any.
    query_at: Option<usize>,
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
    fn covers(&self, context: Context, resource_type: &str) -> bool {
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

// ---------------------------------------------------------------------------------------------
// Scope
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------------------------

/// A parsed space-separated scope list (a `scope` request parameter or token response field).
///
/// [`Scopes::parse`] never fails: every whitespace-separated token is kept, in order, as a
/// [`Scope`]. `Display` prints the tokens joined by one space, so printing what was parsed
/// gives the input back exactly when the input is normalized (single spaces, nothing at either
/// end); other separators are reported by [`Scopes::findings`]. Equality compares the scopes
/// only. Serde reads and writes the list as one string.
///
/// ```
/// use safire_core::scope::{Scope, Scopes};
/// let scopes: Scopes = "openid  fhirUser launch".parse().unwrap();
/// assert_eq!(scopes.len(), 3);
/// assert_eq!(scopes.to_string(), "openid fhirUser launch");
/// assert_eq!(scopes.findings().len(), 1); // the double space
/// assert!(scopes.contains(&Scope::FhirUser));
/// assert_eq!(serde_json::to_string(&scopes).unwrap(), r#""openid fhirUser launch""#);
/// ```
#[derive(Clone, Default)]
pub struct Scopes {
    list: Vec<Scope>,
    /// The parsed text had leading, trailing, repeated or non-space separators.
    irregular_spacing: bool,
}

impl Scopes {
    /// An empty list.
    ///
    /// ```
    /// use safire_core::scope::Scopes;
    /// assert!(Scopes::new().is_empty());
    /// ```
    pub fn new() -> Scopes {
        Scopes::default()
    }

    /// A builder for a scope request.
    ///
    /// ```
    /// use safire_core::scope::{Permissions, Scopes};
    /// let scopes = Scopes::builder().openid().fhir_user().patient("*", Permissions::RS).build();
    /// assert_eq!(scopes.to_string(), "openid fhirUser patient/*.rs");
    /// ```
    pub fn builder() -> ScopesBuilder {
        ScopesBuilder::default()
    }

    /// Splits `text` on ASCII whitespace and classifies each scope. Never fails, never panics;
    /// the empty string (no scope granted) gives an empty list.
    ///
    /// ```
    /// use safire_core::scope::{Scope, Scopes};
    /// let scopes = Scopes::parse("launch/patient patient/Observation.xyz");
    /// assert_eq!(scopes.iter().next(), Some(&Scope::LaunchPatient));
    /// assert_eq!(scopes.findings().len(), 1);
    /// assert!(Scopes::parse("").is_empty());
    /// ```
    pub fn parse(text: &str) -> Scopes {
        let spaces: usize = text.bytes().map(|b| usize::from(b == b' ')).sum();
        let mut list = Vec::with_capacity(spaces + 1);
        let mut irregular_spacing = false;
        // Split on spaces (memchr-fast); a piece that is not a valid scope token may hold other
        // ASCII whitespace, and is split again: the tokens are those of
        // `split_ascii_whitespace`, with one validity scan per token.
        for piece in text.split(' ') {
            if piece.is_empty() {
                irregular_spacing = true;
            } else if is_scope_token(piece) {
                list.push(classify_valid(piece));
            } else if piece.bytes().any(|b| b.is_ascii_whitespace()) {
                irregular_spacing = true;
                list.extend(piece.split_ascii_whitespace().map(classify));
            } else {
                list.push(Scope::Other(piece.to_owned()));
            }
        }
        // "" splits into one empty piece: no scope, nothing irregular.
        if text.is_empty() {
            irregular_spacing = false;
        }
        Scopes {
            list,
            irregular_spacing,
        }
    }

    /// The scopes, in order.
    ///
    /// ```
    /// use safire_core::scope::{Scope, Scopes};
    /// let scopes = Scopes::parse("openid launch");
    /// assert_eq!(scopes.iter().collect::<Vec<_>>(), [&Scope::OpenId, &Scope::Launch]);
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, Scope> {
        self.list.iter()
    }

    /// The resource scopes, in order.
    ///
    /// ```
    /// use safire_core::scope::Scopes;
    /// let scopes = Scopes::parse("openid patient/*.rs launch");
    /// assert_eq!(scopes.resources().count(), 1);
    /// ```
    pub fn resources(&self) -> impl Iterator<Item = &ResourceScope> {
        self.list.iter().filter_map(Scope::as_resource)
    }

    /// How many scopes.
    ///
    /// ```
    /// use safire_core::scope::Scopes;
    /// assert_eq!(Scopes::parse("a b c").len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when there is no scope.
    ///
    /// ```
    /// use safire_core::scope::Scopes;
    /// assert!(Scopes::parse("   ").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// True when `scope` is in the list, as written (no wildcard reasoning; see
    /// [`Scopes::allows`] for that).
    ///
    /// ```
    /// use safire_core::scope::{Scope, Scopes};
    /// assert!(Scopes::parse("openid offline_access").contains(&Scope::OfflineAccess));
    /// ```
    pub fn contains(&self, scope: &Scope) -> bool {
        self.list.contains(scope)
    }

    /// Appends a scope.
    ///
    /// ```
    /// use safire_core::scope::{Scope, Scopes};
    /// let mut scopes = Scopes::new();
    /// scopes.push(Scope::OpenId);
    /// assert_eq!(scopes.to_string(), "openid");
    /// ```
    pub fn push(&mut self, scope: Scope) {
        self.list.push(scope);
    }

    /// True when unrestricted resource scopes (no `?` query) of this list together grant
    /// every permission of `permissions` on `resource_type` in `context`.
    ///
    /// * Contexts are not interchangeable: `user/Observation.rs` does not answer a question
    ///   about `patient` access.
    /// * `*` scopes cover every type; v1 scopes count with their v2 meaning.
    /// * Permissions may come from several scopes (`.rs` plus `.cud` allow `cruds`).
    /// * **Conservative rule for restricted scopes:** a scope with a `?` query grants access
    ///   only to resources matching its query, which a type-level question cannot know, so it
    ///   never makes `allows` true. Use [`Scopes::access`] to see such restrictions.
    /// * An empty `permissions` asks for nothing and is always allowed.
    ///
    /// Whatever the scopes allow, the server may still refuse on its own policy.
    ///
    /// ```
    /// use safire_core::scope::{Context, Permission, Permissions, Scopes};
    /// let granted = Scopes::parse("patient/Observation.rs?category=laboratory patient/Condition.r user/*.cruds");
    /// assert!(!granted.allows(Context::Patient, "Observation", Permission::Read));
    /// assert!(granted.allows(Context::Patient, "Condition", Permission::Read));
    /// assert!(!granted.allows(Context::Patient, "Condition", Permissions::RS));
    /// assert!(granted.allows(Context::User, "Observation", Permissions::CRUDS));
    /// ```
    pub fn allows(
        &self,
        context: Context,
        resource_type: &str,
        permissions: impl Into<Permissions>,
    ) -> bool {
        let wanted = permissions.into();
        let mut granted = Permissions::NONE;
        for scope in self.resources() {
            if !scope.is_restricted() && scope.covers(context, resource_type) {
                granted |= scope.permissions;
                if granted.contains(wanted) {
                    return true;
                }
            }
        }
        granted.contains(wanted)
    }

    /// What the list grants for one `permission` on `resource_type` in `context`, with query
    /// restrictions: [`Access::Full`] when an unrestricted scope grants it,
    /// [`Access::Restricted`] with the queries of the restricted scopes that grant it
    /// otherwise (the resource must match at least one of them), [`Access::Denied`] when no
    /// scope grants it.
    ///
    /// ```
    /// use safire_core::scope::{Access, Context, Permission, Scopes};
    /// let granted = Scopes::parse(
    ///     "patient/Observation.rs?category=laboratory patient/Observation.s?category=vital-signs",
    /// );
    /// assert_eq!(
    ///     granted.access(Context::Patient, "Observation", Permission::Search),
    ///     Access::Restricted(vec!["category=laboratory", "category=vital-signs"])
    /// );
    /// assert_eq!(
    ///     granted.access(Context::Patient, "Observation", Permission::Read),
    ///     Access::Restricted(vec!["category=laboratory"])
    /// );
    /// assert_eq!(granted.access(Context::Patient, "Condition", Permission::Read), Access::Denied);
    /// ```
    pub fn access(
        &self,
        context: Context,
        resource_type: &str,
        permission: Permission,
    ) -> Access<'_> {
        let mut queries = Vec::new();
        for scope in self.resources() {
            if scope.covers(context, resource_type) && scope.permissions.contains(permission) {
                match scope.query() {
                    None => return Access::Full,
                    Some(query) => queries.push(query),
                }
            }
        }
        if queries.is_empty() {
            Access::Denied
        } else {
            Access::Restricted(queries)
        }
    }

    /// What is wrong with the list: separators other than single spaces (a warning), each
    /// scope's own [`finding`](Scope::finding), and repeated scopes (a warning). At most
    /// 64 findings, then one saying more were left out.
    ///
    /// ```
    /// use safire_core::scope::Scopes;
    /// let findings = Scopes::parse(" patient/.rs openid openid").findings();
    /// assert_eq!(findings.len(), 3);
    /// assert!(findings[1].is_error());
    /// assert!(findings[2].message.contains("more than once"));
    /// ```
    pub fn findings(&self) -> Vec<Finding> {
        let mut findings = Findings::default();
        let mut count = 0;
        let mut push = |findings: &mut Findings, finding: Finding| {
            count += 1;
            findings.push(finding);
            count <= MAX_FINDINGS
        };
        if self.irregular_spacing {
            push(
                &mut findings,
                Finding::warning(
                    Some(FIELD),
                    "scopes are not separated by single spaces (RFC 6749 section 3.3: one space \
                     between scopes, none at either end)",
                ),
            );
        }
        let mut seen = HashSet::with_capacity(self.list.len());
        for scope in &self.list {
            if let Some(finding) = scope.finding()
                && !push(&mut findings, finding)
            {
                break;
            }
            if !seen.insert(scope.as_str()) {
                let finding = Finding::warning(
                    Some(FIELD),
                    format!("scope '{}' appears more than once", quote(scope.as_str())),
                );
                if !push(&mut findings, finding) {
                    break;
                }
            }
        }
        findings.into_vec()
    }

    /// What differs between the `requested` and the `granted` scopes, as warnings (a server
    /// may grant less or more than asked; SMART tells clients to check):
    ///
    /// * each requested scope not granted: `… was not granted`, or `… was only partly granted:
    ///   missing '<letters>'` for a resource scope whose permissions are partly covered;
    /// * each granted scope not requested: `… was granted but not requested`, or `… was
    ///   granted with more than requested: '<letters>'`.
    ///
    /// Resource scopes are compared by meaning, not text: a scope is covered by the scopes of
    /// the other list with the same context, the same type or `*`, and no query or the same
    /// query, whose permissions together include its own (so v1 `patient/*.read` equals v2
    /// `patient/*.rs`, and `.rs` plus `.cud` cover `.cruds`). Other scopes are compared as
    /// written. Findings come in order: requested first, then granted.
    ///
    /// ```
    /// use safire_core::scope::Scopes;
    /// let requested = Scopes::parse("openid fhirUser patient/AllergyIntolerance.cruds");
    /// let granted = Scopes::parse("openid patient/AllergyIntolerance.rs patient/AllergyIntolerance.cud");
    /// let findings = Scopes::difference(&requested, &granted);
    /// assert_eq!(findings.len(), 1);
    /// assert_eq!(findings[0].message, "requested scope 'fhirUser' was not granted");
    /// assert!(Scopes::difference(&Scopes::parse("patient/*.read"), &Scopes::parse("patient/*.rs")).is_empty());
    /// ```
    pub fn difference(requested: &Scopes, granted: &Scopes) -> Vec<Finding> {
        let mut findings = Findings::default();
        let mut count = 0;
        for (this, other, requested_side) in
            [(requested, granted, true), (granted, requested, false)]
        {
            for scope in &this.list {
                if count > MAX_FINDINGS {
                    break;
                }
                let message = match scope {
                    Scope::Resource(s) => {
                        let missing = uncovered(s, other);
                        if missing.is_empty() {
                            continue;
                        }
                        let partly = missing != s.permissions;
                        match (requested_side, partly) {
                            (true, false) => not_granted(scope),
                            (true, true) => format!(
                                "requested scope '{}' was only partly granted: missing '{missing}'",
                                quote(scope.as_str())
                            ),
                            (false, false) => not_requested(scope),
                            (false, true) => format!(
                                "scope '{}' was granted with more than requested: '{missing}'",
                                quote(scope.as_str())
                            ),
                        }
                    }
                    _ if other.list.contains(scope) => continue,
                    _ if requested_side => not_granted(scope),
                    _ => not_requested(scope),
                };
                count += 1;
                findings.warning(FIELD, message);
            }
        }
        findings.into_vec()
    }
}

fn not_granted(scope: &Scope) -> String {
    format!(
        "requested scope '{}' was not granted",
        quote(scope.as_str())
    )
}

fn not_requested(scope: &Scope) -> String {
    format!(
        "scope '{}' was granted but not requested",
        quote(scope.as_str())
    )
}

/// The permissions of `scope` that no scope of `others` covers (same context, matching type,
/// unrestricted or with the same query).
fn uncovered(scope: &ResourceScope, others: &Scopes) -> Permissions {
    let resource = scope.resource();
    let mut covered = Permissions::NONE;
    for other in others.resources() {
        let type_ok = match (other.resource(), resource) {
            (ResourceType::Any, _) => true,
            (ResourceType::Named(a), ResourceType::Named(b)) => a == b,
            (ResourceType::Named(_), ResourceType::Any) => false,
        };
        let query_ok = other.query().is_none() || other.query() == scope.query();
        if other.context == scope.context && type_ok && query_ok {
            covered |= other.permissions;
        }
    }
    scope.permissions.without(covered)
}

/// Access to one permission on one resource type, from [`Scopes::access`].
///
/// ```
/// use safire_core::scope::{Access, Context, Permission, Scopes};
/// let granted = Scopes::parse("system/*.rs");
/// assert_eq!(granted.access(Context::System, "Patient", Permission::Read), Access::Full);
/// assert!(Access::Full.is_granted());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access<'a> {
    /// No scope grants it.
    Denied,
    /// An unrestricted scope grants it.
    Full,
    /// Only restricted scopes grant it: allowed for resources matching at least one of these
    /// queries (the text after `?`, e.g. `category=laboratory`), in scope order.
    Restricted(Vec<&'a str>),
}

impl Access<'_> {
    /// True for [`Access::Full`] and [`Access::Restricted`].
    pub fn is_granted(&self) -> bool {
        !matches!(self, Access::Denied)
    }
}

impl PartialEq for Scopes {
    fn eq(&self, other: &Scopes) -> bool {
        self.list == other.list
    }
}

impl Eq for Scopes {}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.list.iter().map(Scope::as_str))
            .finish()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.list {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for Scopes {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Scopes::parse(s))
    }
}

impl From<&str> for Scopes {
    fn from(s: &str) -> Self {
        Scopes::parse(s)
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes {
            list: iter.into_iter().collect(),
            irregular_spacing: false,
        }
    }
}

impl Extend<Scope> for Scopes {
    fn extend<I: IntoIterator<Item = Scope>>(&mut self, iter: I) {
        self.list.extend(iter);
    }
}

impl<'a> IntoIterator for &'a Scopes {
    type Item = &'a Scope;
    type IntoIter = std::slice::Iter<'a, Scope>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

impl IntoIterator for Scopes {
    type Item = Scope;
    type IntoIter = std::vec::IntoIter<Scope>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.into_iter()
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Scopes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a space-separated scope string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scopes, E> {
                Ok(Scopes::parse(v))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Builds a scope request, skipping exact duplicates.
///
/// ```
/// use safire_core::ClientConfig;
/// use safire_core::scope::{Permissions, Scope, Scopes};
///
/// let scopes = Scopes::builder()
///     .launch()
///     .openid()
///     .fhir_user()
///     .offline_access()
///     .patient("Observation", Permissions::RS)
///     .scope(Scope::patient("Condition", Permissions::RS).with_query("category=problem-list-item"))
///     .openid() // already there: skipped
///     .build();
/// assert_eq!(
///     scopes.to_string(),
///     "launch openid fhirUser offline_access patient/Observation.rs \
///      patient/Condition.rs?category=problem-list-item"
/// );
/// assert!(scopes.findings().is_empty());
/// // Scopes feed the client configuration directly.
/// let config = ClientConfig::builder("https://ehr.example/fhir")
///     .client_id("app")
///     .redirect_uri("https://app.example/cb")
///     .scopes(&scopes)
///     .build()?;
/// assert_eq!(config.scopes().len(), 6);
/// # Ok::<(), safire_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ScopesBuilder {
    list: Vec<Scope>,
}

impl ScopesBuilder {
    /// Adds `scope` unless it is already there.
    pub fn scope(mut self, scope: Scope) -> Self {
        if !self.list.contains(&scope) {
            self.list.push(scope);
        }
        self
    }

    /// Adds every scope of `scopes` not already there.
    pub fn scopes(self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        scopes.into_iter().fold(self, ScopesBuilder::scope)
    }

    /// Adds `patient/<resource>.<permissions>`.
    pub fn patient(self, resource: &str, permissions: Permissions) -> Self {
        self.scope(Scope::patient(resource, permissions))
    }

    /// Adds `user/<resource>.<permissions>`.
    pub fn user(self, resource: &str, permissions: Permissions) -> Self {
        self.scope(Scope::user(resource, permissions))
    }

    /// Adds `system/<resource>.<permissions>`.
    pub fn system(self, resource: &str, permissions: Permissions) -> Self {
        self.scope(Scope::system(resource, permissions))
    }

    /// Adds `launch` (EHR launch).
    pub fn launch(self) -> Self {
        self.scope(Scope::Launch)
    }

    /// Adds `launch/patient`.
    pub fn launch_patient(self) -> Self {
        self.scope(Scope::LaunchPatient)
    }

    /// Adds `launch/encounter`.
    pub fn launch_encounter(self) -> Self {
        self.scope(Scope::LaunchEncounter)
    }

    /// Adds `openid`.
    pub fn openid(self) -> Self {
        self.scope(Scope::OpenId)
    }

    /// Adds `fhirUser`.
    pub fn fhir_user(self) -> Self {
        self.scope(Scope::FhirUser)
    }

    /// Adds `offline_access`.
    pub fn offline_access(self) -> Self {
        self.scope(Scope::OfflineAccess)
    }

    /// Adds `online_access`.
    pub fn online_access(self) -> Self {
        self.scope(Scope::OnlineAccess)
    }

    /// The list, in the order added.
    pub fn build(self) -> Scopes {
        Scopes {
            list: self.list,
            irregular_spacing: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Why a `patient/`, `user/` or `system/` token is not a resource scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Malformed {
    /// No `patient/`, `user/` or `system/` prefix.
    NotResource,
    /// No `.` before the permissions.
    NoDot,
    /// The resource type is neither `*` nor a FHIR resource type name.
    ResourceType,
    /// Nothing after the `.`.
    NoPermissions,
    /// A letter other than `c r u d s`.
    UnknownLetter,
    /// `cruds` letters out of order or repeated.
    Order,
    /// A v1 scope (`read`, `write`, `*`) with a `?` query.
    V1Query,
    /// The query is empty or not `param=value` items joined by `&`.
    Query,
}

/// A resource scope's parts, as offsets into its text.
struct Parsed {
    context: Context,
    permissions: Permissions,
    version: ScopeVersion,
    dot: usize,
    query_at: Option<usize>,
}

/// RFC 6749 section 3.3 `scope-token`: `%x21 / %x23-5B / %x5D-7E`, at least one.
fn is_scope_token(text: &str) -> bool {
    // A fold without early exit, so the compiler can vectorize it: scope strings are valid.
    !text.is_empty()
        && text.bytes().fold(true, |ok, b| {
            ok & matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
        })
}

/// `[A-Z][A-Za-z0-9]*`: the shape of every FHIR resource type name.
fn is_resource_type_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_uppercase()) && bytes.all(|b| b.is_ascii_alphanumeric())
}

/// Non-empty `param=value` items joined by `&`, each with a non-empty `param`.
fn is_valid_query(query: &str) -> bool {
    !query.is_empty()
        && query.split('&').all(|item| {
            item.split_once('=')
                .is_some_and(|(name, _)| !name.is_empty())
        })
}

/// In-order, non-repeated subset of `cruds`, non-empty.
fn parse_cruds(letters: &str) -> Result<Permissions, Malformed> {
    if letters.is_empty() {
        return Err(Malformed::NoPermissions);
    }
    let mut permissions = Permissions::NONE;
    let mut last = 0u8;
    for b in letters.bytes() {
        let bit = match b {
            b'c' => 1,
            b'r' => 2,
            b'u' => 4,
            b'd' => 8,
            b's' => 16,
            _ => return Err(Malformed::UnknownLetter),
        };
        if bit <= last {
            return Err(Malformed::Order);
        }
        last = bit;
        permissions.0 |= bit;
    }
    Ok(permissions)
}

/// Parses a FHIR resource scope (assumed to be a valid scope token).
fn parse_resource(text: &str) -> Result<Parsed, Malformed> {
    let (context, rest) = if let Some(rest) = text.strip_prefix("patient/") {
        (Context::Patient, rest)
    } else if let Some(rest) = text.strip_prefix("user/") {
        (Context::User, rest)
    } else if let Some(rest) = text.strip_prefix("system/") {
        (Context::System, rest)
    } else {
        return Err(Malformed::NotResource);
    };
    let prefix = text.len() - rest.len();
    let (body, query) = match rest.split_once('?') {
        Some((body, query)) => (body, Some(query)),
        None => (rest, None),
    };
    let (resource, letters) = body.split_once('.').ok_or(Malformed::NoDot)?;
    if resource != "*" && !is_resource_type_name(resource) {
        return Err(Malformed::ResourceType);
    }
    let (permissions, version) = match letters {
        "read" => (Permissions::RS, ScopeVersion::V1),
        "write" => (Permissions::CUD, ScopeVersion::V1),
        "*" => (Permissions::CRUDS, ScopeVersion::V1),
        letters => (parse_cruds(letters)?, ScopeVersion::V2),
    };
    if let Some(query) = query {
        if version == ScopeVersion::V1 {
            return Err(Malformed::V1Query);
        }
        if !is_valid_query(query) {
            return Err(Malformed::Query);
        }
    }
    let dot = prefix + resource.len();
    Ok(Parsed {
        context,
        permissions,
        version,
        dot,
        query_at: query.map(|_| dot + 1 + letters.len()),
    })
}

/// `launch/<name>[?query]` with a non-empty alphanumeric name and a valid query.
fn is_launch_context(rest: &str) -> bool {
    let (name, query) = match rest.split_once('?') {
        Some((name, query)) => (name, Some(query)),
        None => (rest, None),
    };
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric())
        && query.is_none_or(is_valid_query)
}

/// A name starting with `__`, or an absolute URI (`scheme:` then something).
fn is_extension(text: &str) -> bool {
    if text.starts_with("__") {
        return true;
    }
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut bytes = scheme.bytes();
    !rest.is_empty()
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Classifies one token, allocating only for the kinds that keep text.
fn classify<T: AsRef<str> + Into<String>>(token: T) -> Scope {
    if is_scope_token(token.as_ref()) {
        classify_valid(token)
    } else {
        Scope::Other(token.into())
    }
}

/// [`classify`] for a token known to be a valid RFC 6749 scope token.
fn classify_valid<T: AsRef<str> + Into<String>>(token: T) -> Scope {
    let text = token.as_ref();
    match text {
        "openid" => return Scope::OpenId,
        "fhirUser" => return Scope::FhirUser,
        "launch" => return Scope::Launch,
        "launch/patient" => return Scope::LaunchPatient,
        "launch/encounter" => return Scope::LaunchEncounter,
        "offline_access" => return Scope::OfflineAccess,
        "online_access" => return Scope::OnlineAccess,
        "profile" => return Scope::Profile,
        _ => {}
    }
    match parse_resource(text) {
        Ok(parsed) => Scope::Resource(ResourceScope {
            text: token.into(),
            context: parsed.context,
            permissions: parsed.permissions,
            version: parsed.version,
            dot: parsed.dot,
            query_at: parsed.query_at,
        }),
        Err(Malformed::NotResource) => {
            if text.strip_prefix("launch/").is_some_and(is_launch_context) {
                Scope::LaunchContext(token.into())
            } else if is_extension(text) {
                Scope::Extension(token.into())
            } else {
                Scope::Other(token.into())
            }
        }
        Err(_) => Scope::Other(token.into()),
    }
}

/// The finding for a token classified as [`Scope::Other`].
fn diagnose(text: &str) -> Finding {
    let quoted = quote(text);
    if !is_scope_token(text) {
        return Finding::error(
            Some(FIELD),
            format!(
                "'{quoted}' is not a valid OAuth scope (RFC 6749 section 3.3 allows printable \
                 ASCII except space, '\"' and '\\')"
            ),
        );
    }
    let reason = match parse_resource(text) {
        Err(Malformed::NotResource) => None,
        Err(Malformed::NoDot) => Some("no '.' before the permissions"),
        Err(Malformed::ResourceType) => {
            Some("the resource type is neither '*' nor a FHIR resource type name")
        }
        Err(Malformed::NoPermissions) => Some("no permissions after the '.'"),
        Err(Malformed::UnknownLetter) => {
            Some("permissions are 'read', 'write', '*' (v1) or letters of 'cruds' (v2)")
        }
        Err(Malformed::Order) => Some(
            "v2 permissions are letters of 'cruds' in the order c, r, u, d, s, each at most once",
        ),
        Err(Malformed::V1Query) => {
            Some("v1 scopes ('read', 'write', '*') take no '?' search-parameter restriction")
        }
        Err(Malformed::Query) => {
            Some("the restriction after '?' must be 'param=value' items joined by '&'")
        }
        // Not reached for a token classified as Other; say something true anyway.
        Ok(_) => Some("it was not recognized"),
    };
    if let Some(reason) = reason {
        return Finding::error(
            Some(FIELD),
            format!("malformed SMART resource scope '{quoted}': {reason}"),
        );
    }
    if text.starts_with("launch/") {
        return Finding::error(
            Some(FIELD),
            format!(
                "malformed SMART launch context scope '{quoted}': expected 'launch/<type>' with \
                 a lower-case type, optionally '?role=<uri>'"
            ),
        );
    }
    if let Some((prefix, _)) = text.split_once('/')
        && prefix.parse::<Context>().is_err()
        && prefix.to_ascii_lowercase().parse::<Context>().is_ok()
    {
        return Finding::error(
            Some(FIELD),
            format!(
                "malformed SMART resource scope '{quoted}': the context is lower case \
                 ('patient', 'user' or 'system')"
            ),
        );
    }
    Finding::warning(
        Some(FIELD),
        format!("'{quoted}' is not a scope SMART App Launch defines; kept as is"),
    )
}

/// `text` for a message: control characters escaped, at most [`QUOTE_MAX`] characters of
/// output before a closing `…`.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(QUOTE_MAX + 8));
    let mut written = 0;
    for c in text.chars() {
        let escaped = c.is_control().then(|| c.escape_default());
        let width = escaped.as_ref().map_or(1, |e| e.len());
        if written + width > QUOTE_MAX {
            out.push('…');
            break;
        }
        written += width;
        match escaped {
            Some(e) => out.extend(e),
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
