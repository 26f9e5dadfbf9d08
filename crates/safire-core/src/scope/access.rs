//! Questions about a granted list: [`Scopes::allows`] (yes or no, conservative about `?`
//! restrictions) and [`Scopes::access`] (the [`Access`] with the restricting queries).

use super::{Context, Permission, Permissions, Scopes};

impl Scopes {
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
