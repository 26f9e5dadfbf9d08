//! EHR launch: the `iss` and `launch` an EHR opens the app with.

use super::pending::callback_query;
use crate::error::{AuthError, AuthErrorKind, server_text};

/// The `iss` and `launch` an EHR passes when it launches the app.
///
/// ```
/// use safire_core::EhrLaunch;
/// let launch = EhrLaunch::from_url(
///     "https://app.example/launch?iss=https%3A%2F%2Fehr.example%2Ffhir&launch=xyz",
///     &["https://ehr.example/fhir"],
/// )?;
/// assert_eq!(launch.iss, "https://ehr.example/fhir");
/// assert!(EhrLaunch::from_url("https://app.example/launch?iss=https://evil.example&launch=x",
///     &["https://ehr.example/fhir"]).is_err());
/// # Ok::<(), safire_core::AuthError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EhrLaunch {
    /// The FHIR base URL of the launching EHR (checked against the allow-list).
    pub iss: String,
    /// The opaque launch value to send back in the authorization request.
    pub launch: String,
}

impl EhrLaunch {
    /// Parses the launch URL (or its query) and accepts `iss` only if it is on the allow-list:
    /// an attacker-chosen `iss` would otherwise receive the app's credentials.
    pub fn from_url(launch_url: &str, allowed_issuers: &[&str]) -> Result<Self, AuthError> {
        let query = callback_query(launch_url)?;
        let mut iss = None;
        let mut launch = None;
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "iss" if iss.is_none() => iss = Some(value.into_owned()),
                "launch" if launch.is_none() => launch = Some(value.into_owned()),
                "iss" | "launch" => {
                    return Err(AuthError::new(
                        AuthErrorKind::MalformedLaunch,
                        format!("the launch URL repeats '{name}'"),
                    ));
                }
                _ => {}
            }
        }
        let (Some(iss), Some(launch)) = (iss, launch.filter(|l| !l.is_empty())) else {
            return Err(AuthError::new(
                AuthErrorKind::MalformedLaunch,
                "an EHR launch URL needs both 'iss' and 'launch' parameters",
            ));
        };
        let normalized = iss.strip_suffix('/').unwrap_or(&iss);
        let allowed = allowed_issuers
            .iter()
            .any(|a| a.strip_suffix('/').unwrap_or(a) == normalized);
        if !allowed {
            return Err(AuthError::new(
                AuthErrorKind::LaunchIssuerNotAllowed,
                format!(
                    "the EHR launch names iss '{}', which is not on this app's allow-list; add it if you trust that EHR",
                    server_text(&iss)
                ),
            ));
        }
        Ok(Self { iss, launch })
    }
}
