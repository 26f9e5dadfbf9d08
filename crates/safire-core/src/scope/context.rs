//! [`Context`]: the `patient/`, `user/` or `system/` prefix of a resource scope, kept apart
//! because it is the first thing the grammar reads and every query takes one.

use std::fmt;
use std::str::FromStr;

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
