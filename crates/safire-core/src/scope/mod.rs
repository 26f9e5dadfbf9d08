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
//! [`Scope::Other`] and explained by a [`Finding`](crate::Finding): parsing never fails and
//! never panics.
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

// Module map: `parse` is the grammar; `context`, `permissions` and `token` are one scope;
// `list` is the scope list and its findings; `access` answers what a list allows;
// `difference` compares requested and granted; `builder` assembles requests.
mod access;
mod builder;
mod context;
mod difference;
mod list;
mod parse;
mod permissions;
mod token;

pub use access::Access;
pub use builder::ScopesBuilder;
pub use context::{Context, UnknownContext};
pub use list::Scopes;
pub use permissions::{Permission, Permissions};
pub use token::{ResourceScope, ResourceType, Scope, ScopeVersion};

/// The field name every scope finding carries.
const FIELD: &str = "scope";

#[cfg(test)]
mod tests;
