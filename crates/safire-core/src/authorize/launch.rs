//! EHR launch: the `iss` and `launch` an EHR opens the app with.

use super::pending::callback_query;
use crate::config::ClientConfig;
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
    /// Parses the launch URL and accepts `iss` only if it is on the allow-list: an
    /// attacker-chosen `iss` would otherwise receive the app's credentials.
    ///
    /// `launch_url` may be a full URL (`https://app.example/launch?iss=…&launch=…`), a path
    /// and query as a web framework hands it over (`/launch?iss=…&launch=…`), or the bare
    /// query (`iss=…&launch=…`, with or without the leading `?`). A trailing `/` on `iss` or
    /// on an allowed issuer does not matter.
    ///
    /// Most apps call the client's `ehr_launch_authorization`, which checks `iss` against the
    /// client's own configuration ([`EhrLaunch::for_client`]) and builds the authorization
    /// request in one step.
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

    /// Parses the launch URL as [`EhrLaunch::from_url`] does, with `config`'s
    /// [`launch_issuers`](ClientConfig::launch_issuers) (its FHIR base plus those declared
    /// with [`launch_issuer`](crate::ClientConfigBuilder::launch_issuer)) as the allow-list,
    /// so that a launch from one server is never authorized with a client configured for
    /// another. The refusal ([`AuthErrorKind::LaunchIssuerNotAllowed`]) names the launch's
    /// `iss` and the client's FHIR base.
    ///
    /// ```
    /// use safire_core::{AuthErrorKind, ClientConfig, EhrLaunch};
    /// let config = ClientConfig::builder("https://ehr.example/fhir").build()?;
    /// let launch = EhrLaunch::for_client("/launch?iss=https://ehr.example/fhir&launch=L1", &config)?;
    /// assert_eq!(launch.launch, "L1");
    /// let err = EhrLaunch::for_client("/launch?iss=https://other.example/fhir&launch=L1", &config)
    ///     .unwrap_err();
    /// assert_eq!(err.kind, AuthErrorKind::LaunchIssuerNotAllowed);
    /// assert!(err.to_string().contains("https://ehr.example/fhir"));
    /// # Ok::<(), safire_core::Error>(())
    /// ```
    pub fn for_client(launch_url: &str, config: &ClientConfig) -> Result<Self, AuthError> {
        let allowed: Vec<&str> = config.launch_issuers().collect();
        Self::from_url(launch_url, &allowed).map_err(|error| {
            if error.kind != AuthErrorKind::LaunchIssuerNotAllowed {
                return error;
            }
            let iss = Self::unchecked_iss(launch_url).unwrap_or_default();
            AuthError::new(
                AuthErrorKind::LaunchIssuerNotAllowed,
                format!(
                    "the EHR launch names iss '{}', but this client is configured for '{}'{}; \
                     launch with a client configured for that server, or declare it with \
                     ClientConfigBuilder::launch_issuer if it is the same server under \
                     another URL",
                    server_text(&iss),
                    config.base_url(),
                    if allowed.len() > 1 {
                        " (and its declared launch issuers)"
                    } else {
                        ""
                    }
                ),
            )
        })
    }

    /// The first `iss` in the launch URL, for an error message.
    fn unchecked_iss(launch_url: &str) -> Option<String> {
        let query = callback_query(launch_url).ok()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "iss")
            .map(|(_, value)| value.into_owned())
    }
}
