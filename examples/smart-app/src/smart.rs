//! Everything the app asks of SMART at sign-in and sign-out, in one place: the configured
//! servers, the authorization request, the code exchange (in which the library verifies the
//! id_token, nonce included) and revocation at logout. The HTTP handlers know none of the
//! protocol.
//!
//! What happens with the tokens in between (authorized FHIR reads that refresh by themselves)
//! is in [`crate::ehr_session`], on the library's `SmartSession`.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use safire_core::http::StatusCode;
use safire_core::{
    AuthorizationRequest, AuthorizeParams, CallOptions, ClientAuth, ClientConfig, Jwks,
    PendingAuthorization, PrivateKey, RevocationErrorKind, Signer, TokenTypeHint,
};
use safire_hyper::SmartClient;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
use url::Url;

use crate::config::{AppConfig, ConfigError, DEFAULT_SCOPES, ServerConfig};
use crate::ehr_session::Login;

/// What went wrong talking to an EHR. Its `Display` is safe to show: the library's errors
/// never carry tokens, codes or secrets, and server text is sanitized there.
#[derive(Debug)]
pub enum SmartError {
    /// From the library (authorization, token, id_token verification, revocation, network,
    /// configuration).
    Safire(safire_core::Error),
    /// A server answered a request with an unexpected status.
    Status {
        /// What the request was for.
        what: &'static str,
        /// The HTTP status.
        status: StatusCode,
    },
    /// Anything else (unusable response, missing server feature).
    Other(String),
}

impl fmt::Display for SmartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmartError::Safire(e) => write!(f, "{e}"),
            SmartError::Status { what, status } => {
                write!(f, "the {what} answered HTTP {}", status.as_u16())
            }
            SmartError::Other(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for SmartError {}

impl SmartError {
    /// True when only a new sign-in can help: the library says re-authorization is required
    /// (the refresh token was refused with `invalid_grant`, or the token expired and there is
    /// no refresh token), or the server still refuses the refreshed token.
    pub fn needs_sign_in(&self) -> bool {
        match self {
            SmartError::Safire(e) => e.is_reauthorization_required(),
            SmartError::Status { what, status } => {
                *what == FHIR_SERVER && *status == StatusCode::UNAUTHORIZED
            }
            _ => false,
        }
    }
}

/// What [`SmartError::Status`] names for the FHIR server.
pub(crate) const FHIR_SERVER: &str = "FHIR server";

impl From<safire_core::Error> for SmartError {
    fn from(e: safire_core::Error) -> Self {
        SmartError::Safire(e)
    }
}

/// One configured EHR: its client registration, as a ready `SmartClient`.
pub struct Server {
    /// The name shown to users.
    pub name: String,
    /// The FHIR base URL (`iss`).
    pub fhir_base: Url,
    client: SmartClient,
    scopes: Vec<String>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("name", &self.name)
            .field("fhir_base", &self.fhir_base.as_str())
            .finish_non_exhaustive()
    }
}

/// The configured servers and the app's public keys.
#[derive(Debug)]
pub struct Registry {
    servers: Vec<Server>,
    jwks: Jwks,
}

impl Registry {
    /// Loads the keys and builds one client per server.
    pub fn new(config: &AppConfig) -> Result<Self, ConfigError> {
        let mut keys: Vec<(String, Arc<PrivateKey>)> = Vec::new();
        let mut public = Vec::new();
        for key in &config.signing_keys {
            let pem = std::fs::read_to_string(&key.path).map_err(|e| {
                ConfigError(format!(
                    "signing key '{}': cannot read {}: {e}",
                    key.kid,
                    key.path.display()
                ))
            })?;
            let private = PrivateKey::from_pem(&pem)
                .map_err(|e| ConfigError(format!("signing key '{}': {e}", key.kid)))?;
            let jwk = private.public_jwk().ok_or_else(|| {
                ConfigError(format!("signing key '{}' has no public JWK", key.kid))
            })?;
            public.push(jwk.with_kid(&key.kid));
            keys.push((key.kid.clone(), Arc::new(private)));
        }
        let redirect_uri = config.url("/callback");
        let app_on_loopback = config.is_loopback();
        let servers = config
            .servers
            .iter()
            .map(|s| Server::new(s, &redirect_uri, app_on_loopback, &keys))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            servers,
            jwks: Jwks::from(public),
        })
    }

    /// The servers, in configuration order.
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    /// The server with this name.
    pub fn by_name(&self, name: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// The server whose FHIR base is `iss` (a trailing slash is ignored).
    pub fn by_issuer(&self, iss: &str) -> Option<&Server> {
        let iss = iss.trim_end_matches('/');
        self.servers
            .iter()
            .find(|s| s.fhir_base.as_str().trim_end_matches('/') == iss)
    }

    /// Every configured FHIR base: the EHR launch allow-list.
    pub fn issuers(&self) -> Vec<&str> {
        self.servers.iter().map(|s| s.fhir_base.as_str()).collect()
    }

    /// The public JWK Set of the configured signing keys.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }
}

impl Server {
    fn new(
        config: &ServerConfig,
        redirect_uri: &str,
        app_on_loopback: bool,
        keys: &[(String, Arc<PrivateKey>)],
    ) -> Result<Self, ConfigError> {
        let auth = match (&config.client_secret, &config.signing_key) {
            (Some(secret), _) => ClientAuth::client_secret_basic(secret.clone()),
            (None, Some(kid)) => {
                let key = keys
                    .iter()
                    .find(|(k, _)| k == kid)
                    .map(|(_, key)| key.clone())
                    .ok_or_else(|| ConfigError(format!("unknown signing key '{kid}'")))?;
                ClientAuth::private_key_jwt(key, kid.clone())
            }
            (None, None) => ClientAuth::Public,
        };
        let scopes: Vec<String> = config
            .scopes
            .clone()
            .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect());
        let client_config = ClientConfig::builder(config.fhir_base.as_str())
            .client_id(&config.client_id)
            .redirect_uri(redirect_uri)
            .scopes(scopes.clone())
            .client_auth(auth)
            // http only for loopback hosts (a sandbox on this machine, the app in development);
            // every other URL must be https whatever this says.
            .allow_insecure_localhost(
                app_on_loopback || safire_core::transport::is_loopback(&config.fhir_base),
            )
            .build()
            .map_err(|e| ConfigError(format!("server '{}': {e}", config.name)))?;
        let client = SmartClient::new(client_config)
            .map_err(|e| ConfigError(format!("server '{}': {e}", config.name)))?;
        Ok(Self {
            name: config.name.clone(),
            fhir_base: config.fhir_base.clone(),
            client,
            scopes,
        })
    }

    /// The client (for operations the app does not wrap).
    pub fn client(&self) -> &SmartClient {
        &self.client
    }

    /// The authorization request of a standalone launch (`launch: None`) or of an EHR launch.
    pub async fn authorize(
        &self,
        launch: Option<String>,
    ) -> Result<AuthorizationRequest, SmartError> {
        let params = match launch {
            None => AuthorizeParams::default(),
            Some(launch) => {
                let mut scopes = self.scopes.clone();
                if !scopes.iter().any(|s| s == "launch") {
                    scopes.push("launch".into());
                }
                AuthorizeParams::ehr_launch(launch).scopes(scopes)
            }
        };
        Ok(self.client.authorization_url(params).await?)
    }

    /// Checks the callback (`callback_query`: the query string the browser came back with)
    /// against `pending`, exchanges the code and starts the library's session
    /// (`request_session`). The library verifies the id_token in the exchange (signature with
    /// the server's JWK Set, `iss`, `aud`, times, `nonce`, and that `fhirUser` lies below the
    /// FHIR base; a refused one is an `Error::Identity`) and keeps the verified `fhirUser` in
    /// the session.
    pub async fn finish(
        &self,
        pending: PendingAuthorization,
        callback_query: &str,
    ) -> Result<Login, SmartError> {
        let session = self
            .client
            .request_session(pending, callback_query, CallOptions::new())
            .await?;
        Login::new(self.name.clone(), session)
    }

    /// Revokes the grant (the refresh token) and then the access token of `login` (the
    /// session as last renewed) with the library's revocation operation. `Ok(false)` when the server has no revocation endpoint (neither
    /// configured nor advertised): then there is nothing to revoke at.
    pub async fn revoke(&self, login: &Login) -> Result<bool, SmartError> {
        if self.client.config().revocation_endpoint().is_none()
            && self
                .client
                .server_metadata()
                .await?
                .revocation_endpoint
                .is_none()
        {
            return Ok(false);
        }
        let refresh = login.session.refresh_token.clone();
        if let Some(refresh) = &refresh {
            self.client
                .revoke_token(
                    refresh.clone(),
                    Some(TokenTypeHint::RefreshToken),
                    CallOptions::new(),
                )
                .await?;
        }
        let access = self
            .client
            .revoke_token(
                login.session.access_token.clone(),
                Some(TokenTypeHint::AccessToken),
                CallOptions::new(),
            )
            .await;
        match access {
            Ok(()) => Ok(true),
            // A server that revokes refresh tokens only: revoking the grant was what counted.
            Err(safire_core::Error::Revocation(e))
                if e.kind == RevocationErrorKind::UnsupportedTokenType && refresh.is_some() =>
            {
                tracing::info!(server = %self.name, "the server revokes refresh tokens only");
                Ok(true)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// A time as `YYYY-MM-DD HH:MM:SS UTC` (the epoch for an earlier one, `9999-12-31 23:59:59
/// UTC` for one past the year 9999).
pub fn format_utc(time: SystemTime) -> String {
    const FORMAT: &[BorrowedFormatItem<'_>] =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    i64::try_from(secs)
        .ok()
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        .unwrap_or(PrimitiveDateTime::MAX.assume_utc())
        .format(FORMAT)
        .unwrap_or_else(|_| "9999-12-31 23:59:59 UTC".to_owned())
}

#[cfg(test)]
pub(crate) fn one_server_registry() -> Registry {
    let config = AppConfig::from_toml(
        r#"listen = "127.0.0.1:0"
public_url = "http://127.0.0.1:8080"
[[servers]]
name = "A"
fhir_base = "https://ehr.example/fhir"
client_id = "app"
"#,
    )
    .unwrap();
    Registry::new(&config).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_790_096);
        assert_eq!(format_utc(t), "2026-11-27 14:34:56 UTC");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(format_utc(leap), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn registry_finds_servers_by_issuer_with_or_without_slash() {
        let registry = one_server_registry();
        assert!(registry.by_issuer("https://ehr.example/fhir/").is_some());
        assert!(registry.by_issuer("https://ehr.example/fhir").is_some());
        assert!(registry.by_issuer("https://evil.example/fhir").is_none());
        assert!(registry.jwks().keys.is_empty());
    }
}
