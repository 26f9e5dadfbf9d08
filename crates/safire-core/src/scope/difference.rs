//! [`Scopes::difference`]: what a server granted compared with what was requested, as
//! warnings (SMART tells clients to check both ways).

use super::parse::quote;
use super::{FIELD, Permissions, ResourceScope, ResourceType, Scope, Scopes};
use crate::finding::{Finding, Findings, MAX_FINDINGS};

impl Scopes {
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
