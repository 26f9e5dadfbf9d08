//! The app's configuration: one TOML or JSON file.
//!
//! ```toml
//! # Where the app listens, and the URL browsers reach it at (its redirect URI is
//! # `{public_url}/callback`, its EHR launch URL `{public_url}/launch`).
//! listen = "127.0.0.1:8080"
//! public_url = "http://127.0.0.1:8080"
//!
//! # Keys the app signs client assertions with; their public halves are served at
//! # `{public_url}/.well-known/jwks.json` (register that URL as the client's `jwks_uri`).
//! [[signing_keys]]
//! kid = "app-key-2026"
//! path = "keys/app-es384.pem"        # PKCS#8 / SEC1 / PKCS#1 PEM, RS384 or ES384
//!
//! # Every EHR the app trusts. An EHR launch whose `iss` is not one of these `fhir_base`s is
//! # refused.
//! [[servers]]
//! name = "Hospital EHR"
//! fhir_base = "https://ehr.example/fhir"
//! client_id = "my-smart-app"
//! signing_key = "app-key-2026"       # private_key_jwt with that key, or:
//! # client_secret = "…"              # client_secret_basic, or neither: a public client
//! scopes = ["openid", "fhirUser", "launch/patient", "offline_access", "patient/Patient.rs"]
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use safire_core::SecretString;
use serde::Deserialize;

/// The scopes asked for when a server names none (an EHR launch adds `launch`).
pub const DEFAULT_SCOPES: &[&str] = &[
    "openid",
    "fhirUser",
    "launch/patient",
    "offline_access",
    "patient/Patient.rs",
];

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The socket address to listen on.
    pub listen: SocketAddr,
    /// The URL browsers reach the app at (no trailing slash needed).
    pub public_url: url::Url,
    /// The signing keys (for `private_key_jwt` clients), published as the app's JWKS.
    #[serde(default)]
    pub signing_keys: Vec<SigningKeyConfig>,
    /// The EHRs the app may be launched from / log in with.
    pub servers: Vec<ServerConfig>,
}

/// One signing key: its `kid` and where its private PEM is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeyConfig {
    /// The key id (the JWS `kid` header and the JWK's `kid`).
    pub kid: String,
    /// Path of the PEM file; relative paths are relative to the configuration file.
    pub path: PathBuf,
}

/// One EHR and the app's registration with it.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// A name shown to the user.
    pub name: String,
    /// The FHIR base URL (the `iss` of EHR launches, the `aud` of authorization requests).
    pub fhir_base: url::Url,
    /// The client id the EHR assigned.
    pub client_id: String,
    /// A client secret (`client_secret_basic`).
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// The `kid` of one of [`AppConfig::signing_keys`] (`private_key_jwt`).
    #[serde(default)]
    pub signing_key: Option<String>,
    /// Scopes to ask for; [`DEFAULT_SCOPES`] when absent.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("name", &self.name)
            .field("fhir_base", &self.fhir_base.as_str())
            .field("client_id", &self.client_id)
            // SecretString's Debug is "[REDACTED]"; say only whether there is one.
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .field("signing_key", &self.signing_key)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Why the configuration could not be used.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl AppConfig {
    /// Reads a `.toml` or `.json` file; relative key paths are resolved next to it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        let mut config = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Self::from_json(&text),
            _ => Self::from_toml(&text),
        }
        .map_err(|ConfigError(e)| ConfigError(format!("{}: {e}", path.display())))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for key in &mut config.signing_keys {
            if key.path.is_relative() {
                key.path = dir.join(&key.path);
            }
        }
        Ok(config)
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        // toml's messages quote the offending line, which may hold a secret: keep only the
        // position and the kind of problem.
        toml::from_str::<Self>(text)
            .map_err(|e| ConfigError(redacted_parse_error(e.message(), e.span())))?
            .validated()
    }

    /// Parses JSON text.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        serde_json::from_str::<Self>(text)
            .map_err(|e| {
                ConfigError(format!(
                    "invalid JSON at line {} column {}",
                    e.line(),
                    e.column()
                ))
            })?
            .validated()
    }

    fn validated(self) -> Result<Self, ConfigError> {
        if self.servers.is_empty() {
            return Err(ConfigError("no [[servers]] configured".into()));
        }
        for (i, server) in self.servers.iter().enumerate() {
            if self.servers[..i].iter().any(|s| s.name == server.name) {
                return Err(ConfigError(format!(
                    "two servers are named '{}'",
                    server.name
                )));
            }
            if server.client_secret.is_some() && server.signing_key.is_some() {
                return Err(ConfigError(format!(
                    "server '{}' has both client_secret and signing_key; choose one",
                    server.name
                )));
            }
            if let Some(kid) = &server.signing_key
                && !self.signing_keys.iter().any(|k| &k.kid == kid)
            {
                return Err(ConfigError(format!(
                    "server '{}' names signing_key '{kid}', which is not in [[signing_keys]]",
                    server.name
                )));
            }
        }
        Ok(self)
    }

    /// True when the app is served from a loopback address over http (cookies cannot be
    /// `Secure` there).
    pub fn is_loopback(&self) -> bool {
        safire_core::transport::is_loopback(&self.public_url)
    }

    /// `{public_url}` + `path` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.as_str().trim_end_matches('/'))
    }
}

fn redacted_parse_error(message: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => format!("invalid TOML at byte {}: {message}", span.start),
        None => format!("invalid TOML: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
listen = "127.0.0.1:8080"
public_url = "http://127.0.0.1:8080"
[[signing_keys]]
kid = "k1"
path = "k1.pem"
[[servers]]
name = "A"
fhir_base = "https://ehr.example/fhir"
client_id = "app"
client_secret = "s3cr3t-value"
[[servers]]
name = "B"
fhir_base = "https://other.example/fhir"
client_id = "app"
signing_key = "k1"
"#;

    #[test]
    fn parses_toml_and_never_shows_the_secret() {
        let config = AppConfig::from_toml(SAMPLE).unwrap();
        assert_eq!(config.servers.len(), 2);
        assert!(config.is_loopback());
        assert_eq!(config.url("/callback"), "http://127.0.0.1:8080/callback");
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr3t-value"), "{debug}");
        assert!(debug.contains("[REDACTED]"));
    }

    #[test]
    fn parse_errors_do_not_quote_the_file() {
        let broken = SAMPLE.replace(
            "client_secret = \"s3cr3t-value\"",
            "client_secret = s3cr3t-value",
        );
        let err = AppConfig::from_toml(&broken).unwrap_err().to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(err.starts_with("invalid TOML at byte"), "{err}");
    }

    #[test]
    fn unknown_signing_key_and_duplicate_names_are_refused() {
        let bad = SAMPLE.replace("signing_key = \"k1\"", "signing_key = \"k2\"");
        assert!(AppConfig::from_toml(&bad).unwrap_err().0.contains("'k2'"));
        let dup = SAMPLE.replace("name = \"B\"", "name = \"A\"");
        assert!(
            AppConfig::from_toml(&dup)
                .unwrap_err()
                .0
                .contains("two servers")
        );
    }

    #[test]
    fn json_works_too() {
        let json = r#"{"listen":"127.0.0.1:0","public_url":"https://app.example",
            "servers":[{"name":"A","fhir_base":"https://ehr.example/fhir","client_id":"x"}]}"#;
        let config = AppConfig::from_json(json).unwrap();
        assert!(!config.is_loopback());
        assert!(AppConfig::from_json("{").unwrap_err().0.contains("line 1"));
    }
}
