//! [`ScopesBuilder`]: assembles a scope request from named helpers and [`Scope`] values,
//! skipping duplicates.

use super::{Permissions, Scope, Scopes};

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
