//! Server configuration: [`ProviderBuilder`] and the option types it takes.

use std::io::Write;
use std::thread;
use std::time::Duration;

use serde_json::Value;

use super::{
    DEFAULT_INITIAL_ACCESS_TOKEN, DEFAULT_STARTUP_TIMEOUT, OidcProvider, SKIP_ENV, skip_requested,
};
use crate::HarnessError;

/// Whether `/reg` (the `registration_endpoint` advertised in discovery) needs the IAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegistrationMode {
    /// `/reg` is open; `/reg-protected` requires the initial access token. (default)
    #[default]
    Open,
    /// Both `/reg` and `/reg-protected` require the initial access token.
    Protected,
}

/// Access token format (`AT_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessTokenFormat {
    /// Opaque, introspectable. (default)
    #[default]
    Opaque,
    /// RS256 `at+jwt` signed with the server's `/jwks`; not introspectable.
    Jwt,
}

/// Refresh token rotation policy (`ROTATE_RT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefreshRotation {
    /// Library default: public clients always rotate, confidential clients after 70 % of the
    /// RT lifetime (so in practice: never). (default)
    #[default]
    Default,
    /// Every refresh rotates.
    Always,
    /// No refresh rotates.
    Never,
}

/// EHR launch context bound to a `launch` value by [`OidcProvider::create_launch`]; it is
/// returned in the token response of the authorization that carried `launch=<value>`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaunchContext {
    /// `patient` (defaults to `DEFAULT_PATIENT` when the `launch` scope is granted).
    pub patient: Option<String>,
    /// `encounter`.
    pub encounter: Option<String>,
    /// `fhirContext` items, e.g. `json!({"reference": "Appointment/a1"})`.
    pub fhir_context: Vec<Value>,
    /// `need_patient_banner` (defaults to `false` when the `launch` scope is granted).
    pub need_patient_banner: Option<bool>,
    /// `smart_style_url` (defaults to `<issuer>/smart-style.json`, which is served).
    pub smart_style_url: Option<String>,
    /// `intent`.
    pub intent: Option<String>,
    /// `tenant`.
    pub tenant: Option<String>,
}

impl LaunchContext {
    /// The JSON body sent to `POST /_test/launch`.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), v);
            }
        };
        put("patient", self.patient.clone().map(Value::from));
        put("encounter", self.encounter.clone().map(Value::from));
        put(
            "fhirContext",
            (!self.fhir_context.is_empty()).then(|| Value::from(self.fhir_context.clone())),
        );
        put(
            "need_patient_banner",
            self.need_patient_banner.map(Value::from),
        );
        put(
            "smart_style_url",
            self.smart_style_url.clone().map(Value::from),
        );
        put("intent", self.intent.clone().map(Value::from));
        put("tenant", self.tenant.clone().map(Value::from));
        Value::Object(m)
    }
}

/// Configures a server before starting it. Every knob maps to an env var of `server.mjs`.
#[derive(Debug, Clone)]
pub struct ProviderBuilder {
    pub(super) env: Vec<(String, String)>,
    pub(super) initial_access_token: String,
    pub(super) registration: RegistrationMode,
    pub(super) authorize_post: bool,
    pub(super) startup_timeout: Duration,
}

impl Default for ProviderBuilder {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            initial_access_token: DEFAULT_INITIAL_ACCESS_TOKEN.to_owned(),
            registration: RegistrationMode::Open,
            authorize_post: true,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        }
    }
}

impl ProviderBuilder {
    /// Sets a raw env var for `server.mjs` (see its header for the list).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Which registration path(s) require the initial access token.
    pub fn registration(mut self, mode: RegistrationMode) -> Self {
        self.registration = mode;
        self
    }

    /// The static initial access token (default [`DEFAULT_INITIAL_ACCESS_TOKEN`]).
    pub fn initial_access_token(mut self, token: impl Into<String>) -> Self {
        self.initial_access_token = token.into();
        self
    }

    /// Accept (and advertise, as capability `authorize-post`) POST at the authorization
    /// endpoint. Default `true`.
    pub fn authorize_post(mut self, enabled: bool) -> Self {
        self.authorize_post = enabled;
        self
    }

    /// Access token format.
    pub fn access_token_format(self, format: AccessTokenFormat) -> Self {
        let v = match format {
            AccessTokenFormat::Opaque => "opaque",
            AccessTokenFormat::Jwt => "jwt",
        };
        self.env("AT_FORMAT", v)
    }

    /// Refresh token rotation.
    pub fn refresh_rotation(self, rotation: RefreshRotation) -> Self {
        let v = match rotation {
            RefreshRotation::Default => "default",
            RefreshRotation::Always => "always",
            RefreshRotation::Never => "never",
        };
        self.env("ROTATE_RT", v)
    }

    /// Lifetime of access tokens issued to users (authorization code and refresh grants;
    /// default 3600 s, whole seconds, at least 1).
    pub fn access_token_ttl(self, ttl: std::time::Duration) -> Self {
        self.env("AT_TTL", ttl.as_secs().max(1).to_string())
    }

    /// Lifetime of backend services (`client_credentials`) access tokens (default 300 s,
    /// whole seconds, at least 1).
    pub fn client_credentials_ttl(self, ttl: std::time::Duration) -> Self {
        self.env("CC_TTL", ttl.as_secs().max(1).to_string())
    }

    /// Require PKCE only for public clients (default: for every client, as SMART 2 does).
    pub fn pkce_public_clients_only(self) -> Self {
        self.env("PKCE", "public")
    }

    /// Another accepted `aud` / `resource` besides the FHIR base (repeatable).
    pub fn extra_audience(mut self, aud: impl Into<String>) -> Self {
        let aud = aud.into();
        match self.env.iter_mut().find(|(k, _)| k == "EXTRA_AUDS") {
            Some((_, v)) => {
                v.push(',');
                v.push_str(&aud);
            }
            None => self.env.push(("EXTRA_AUDS".to_owned(), aud)),
        }
        self
    }

    /// Extra static clients: a JSON array of oidc-provider client metadata (`CLIENTS_JSON`).
    pub fn static_clients(self, clients: &Value) -> Self {
        self.env("CLIENTS_JSON", clients.to_string())
    }

    /// How long to wait for the `READY` line (default 30 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Installs the npm dependencies if needed and starts the server.
    pub fn start(self) -> Result<OidcProvider, HarnessError> {
        OidcProvider::spawn(self)
    }

    /// [`start`](Self::start), unless `SAFIRE_SKIP_INTEROP=1`: then prints
    /// `skipped: SAFIRE_SKIP_INTEROP=1 (<test name>)` and returns `Ok(None)`.
    pub fn start_or_skip(self) -> Result<Option<OidcProvider>, HarnessError> {
        if skip_requested() {
            print_skip();
            return Ok(None);
        }
        self.start().map(Some)
    }
}

pub(super) fn print_skip() {
    let name = thread::current()
        .name()
        .unwrap_or("interop test")
        .to_owned();
    // straight to the process's stderr: libtest would swallow println!/eprintln! of a passing
    // test, and the skip must be visible
    let _ = writeln!(std::io::stderr(), "skipped: {SKIP_ENV}=1 ({name})");
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn launch_context_json_omits_unset_fields() {
        let c = LaunchContext {
            patient: Some("p1".into()),
            need_patient_banner: Some(false),
            fhir_context: vec![json!({"reference": "Appointment/a1"})],
            ..Default::default()
        };
        assert_eq!(
            c.to_json(),
            json!({"patient": "p1", "need_patient_banner": false, "fhirContext": [{"reference": "Appointment/a1"}]})
        );
    }
}
