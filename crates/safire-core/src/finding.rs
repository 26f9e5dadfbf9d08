//! Compliance findings: what a server got wrong, reported instead of failing.
//!
//! Servers in the wild are sloppy. Safire uses whatever it safely can and reports every problem
//! as a [`Finding`], so applications and conformance tools can show them without the client
//! refusing to work (upstream ADR-008: validation never raises).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Most findings kept for one document; a hostile body cannot grow the list without bound.
pub(crate) const MAX_FINDINGS: usize = 64;

/// How bad a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// The server violates the specification (a field is missing, has the wrong type, ...).
    Error,
    /// Sloppy but usable (lowercase `bearer`, `expires_in` as a string, http on loopback).
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem found in a server's response.
///
/// Messages name fields but never quote secret values.
///
/// ```
/// use safire_core::{Finding, Severity};
/// let finding = Finding::error(
///     Some("token_endpoint"),
///     "SMART metadata non-compliance: required field 'token_endpoint' is missing",
/// );
/// assert_eq!(finding.severity, Severity::Error);
/// assert_eq!(
///     finding.to_string(),
///     "error: SMART metadata non-compliance: required field 'token_endpoint' is missing"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Finding {
    /// Whether this is a spec violation or only sloppy.
    pub severity: Severity,
    /// The response field concerned (e.g. `capabilities`, `fhirContext[2].reference`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A human explanation.
    pub message: String,
}

impl Finding {
    /// A spec violation.
    pub fn error(field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    /// Sloppy but usable.
    pub fn warning(field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity, self.message)
    }
}

/// Collects findings up to [`MAX_FINDINGS`], then notes once that more were dropped.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    list: Vec<Finding>,
    dropped: bool,
}

impl Findings {
    pub(crate) fn push(&mut self, finding: Finding) {
        if self.list.len() < MAX_FINDINGS {
            self.list.push(finding);
        } else {
            self.dropped = true;
        }
    }

    pub(crate) fn error(&mut self, field: &str, message: impl Into<String>) {
        self.push(Finding::error(Some(field), message));
    }

    pub(crate) fn warning(&mut self, field: &str, message: impl Into<String>) {
        self.push(Finding::warning(Some(field), message));
    }

    pub(crate) fn into_vec(mut self) -> Vec<Finding> {
        if self.dropped {
            self.list.push(Finding::warning(
                None,
                format!("further findings omitted (more than {MAX_FINDINGS})"),
            ));
        }
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_serde() {
        let w = Finding::warning(Some("token_type"), "lowercase");
        assert_eq!(w.to_string(), "warning: lowercase");
        assert!(!w.is_error());
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(
            json,
            r#"{"severity":"warning","field":"token_type","message":"lowercase"}"#
        );
        assert_eq!(serde_json::from_str::<Finding>(&json).unwrap(), w);
    }

    #[test]
    fn collector_is_bounded() {
        let mut f = Findings::default();
        for _ in 0..10_000 {
            f.error("x", "bad");
        }
        let v = f.into_vec();
        assert_eq!(v.len(), MAX_FINDINGS + 1);
        assert!(v.last().unwrap().message.contains("omitted"));
    }
}
