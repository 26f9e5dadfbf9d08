//! Everything the app asks of SMART, in one place: the authorization request, the code
//! exchange, the id_token check, authorized FHIR reads that refresh by themselves, and
//! revocation. The HTTP handlers know none of the protocol.
//!
//! Some of this belongs in the library and is being added there; until it lands, the app does
//! the minimum itself, on the public API only, and each such place names its issue:
//! - issue 12 (sessions): authorized requests and self-refresh ([`Server::read`],
//!   [`Server::refresh`]);
//! - issue 13 (identity): id_token verification inside the exchange ([`Server::verify_identity`]);
//! - issue 14 (introspection/revocation): the revocation call ([`Server::revoke`]).
//!
//! Requests the library has no operation for go through [`Exchange`], a one-request
//! [`Flow`]: they still run on the `SmartClient`'s connection pool, limits, https rule and
//! redirect policy (a cross-origin redirect drops `Authorization`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use safire_core::http::{self, HeaderValue, StatusCode, header};
use safire_core::{
    AuthorizationRequest, AuthorizeParams, CallOptions, ClientAssertion, ClientAuth, ClientConfig,
    Env, Flow, HttpRequest, HttpResponse, IdTokenValidation, Jwks, OsRandom, PendingAuthorization,
    PrivateKey, SecretString, ServerJwks, Signer, SmartMetadata, Step, TokenResponse,
    protocol::basic_authorization, verify_id_token,
};
use safire_hyper::SmartClient;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{AppConfig, ConfigError, DEFAULT_SCOPES, ServerConfig};

/// How close to its expiry an access token is refreshed before use.
pub const REFRESH_LEEWAY: Duration = Duration::from_secs(10);

/// What went wrong talking to an EHR. Its `Display` is safe to show: the library's errors
/// never carry tokens, codes or secrets, and server text is sanitized there.
#[derive(Debug)]
pub enum SmartError {
    /// From the library (authorization, token, network, configuration).
    Safire(safire_core::Error),
    /// The id_token did not verify.
    Identity(String),
    /// A server answered a request with an unexpected status.
    Status {
        /// What the request was for.
        what: &'static str,
        /// The HTTP status.
        status: StatusCode,
    },
    /// The access token expired and there is no refresh token.
    NoRefreshToken,
    /// Anything else (unusable response, missing server feature).
    Other(String),
}

impl fmt::Display for SmartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmartError::Safire(e) => write!(f, "{e}"),
            SmartError::Identity(e) => write!(f, "the id_token was refused: {e}"),
            SmartError::Status { what, status } => {
                write!(f, "the {what} answered HTTP {}", status.as_u16())
            }
            SmartError::NoRefreshToken => {
                f.write_str("the access token expired and there is no refresh token; sign in again")
            }
            SmartError::Other(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for SmartError {}

impl SmartError {
    /// True when only a new sign-in can help: the refresh token was refused
    /// (`invalid_grant`), there is none, or the server still refuses the refreshed token.
    pub fn needs_sign_in(&self) -> bool {
        match self {
            SmartError::Safire(e) => e.error_code() == Some("invalid_grant"),
            SmartError::NoRefreshToken => true,
            SmartError::Status { what, status } => {
                *what == FHIR_SERVER && *status == StatusCode::UNAUTHORIZED
            }
            _ => false,
        }
    }
}

const FHIR_SERVER: &str = "FHIR server";

impl From<safire_core::Error> for SmartError {
    fn from(e: safire_core::Error) -> Self {
        SmartError::Safire(e)
    }
}

/// A signed-in user's SMART session, kept server-side in the web session.
///
/// `Debug` shows neither the tokens (they are [`SecretString`]s) nor the patient.
#[derive(Clone, Serialize, Deserialize)]
pub struct Login {
    /// The configured server's name.
    pub server: String,
    /// The token response (refreshed in place).
    pub token: TokenResponse,
    /// The verified `fhirUser` (absolute URL), when the id_token carried one.
    pub fhir_user: Option<String>,
    /// How many times the access token was refreshed.
    pub refreshes: u32,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("server", &self.server)
            .field("refreshes", &self.refreshes)
            .finish_non_exhaustive()
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

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
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
            .allow_insecure_localhost(app_on_loopback || is_loopback(&config.fhir_base))
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
    /// against `pending`, exchanges the code and verifies the id_token.
    pub async fn finish(
        &self,
        pending: PendingAuthorization,
        callback_query: &str,
    ) -> Result<Login, SmartError> {
        let token = self
            .client
            .request_access_token(pending, callback_query, CallOptions::new())
            .await?;
        let fhir_user = self.verify_identity(&token).await?;
        Ok(Login {
            server: self.name.clone(),
            token,
            fhir_user,
            refreshes: 0,
        })
    }

    /// Verifies the id_token (signature with the server's JWKS, `iss`, `aud`, `exp`) and
    /// returns its `fhirUser`.
    ///
    /// TODO(issue 13): the exchange will verify the id_token itself (with the nonce); then
    /// this becomes reading the verified identity off the token response.
    async fn verify_identity(&self, token: &TokenResponse) -> Result<Option<String>, SmartError> {
        let Some(id_token) = &token.id_token else {
            return Ok(None);
        };
        let metadata = self.client.server_metadata().await?;
        let jwks_uri = metadata.jwks_uri.as_deref().ok_or_else(|| {
            SmartError::Identity("the server sent an id_token but publishes no jwks_uri".into())
        })?;
        let request = http::Request::get(jwks_uri)
            .header(header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|_| SmartError::Other("the jwks_uri is not a usable URL".into()))?;
        let response = self.client.run(Exchange::new(request)).await?;
        if !response.status().is_success() {
            return Err(SmartError::Status {
                what: "jwks_uri",
                status: response.status(),
            });
        }
        let jwks =
            ServerJwks::parse(response.body()).map_err(|e| SmartError::Identity(e.to_string()))?;
        let issuer = metadata
            .issuer
            .clone()
            .unwrap_or_else(|| self.fhir_base.as_str().trim_end_matches('/').to_owned());
        let client_id = self.client.config().client_id().unwrap_or_default();
        let validation = IdTokenValidation::new(issuer, client_id, SystemTime::now())
            .with_fhir_base(self.fhir_base.clone());
        let verified = verify_id_token(id_token.expose(), &jwks, &validation)
            .map_err(|e| SmartError::Identity(e.to_string()))?;
        Ok(verified.fhir_user.map(|u| u.url().to_string()))
    }

    /// Exchanges the refresh token for a new access token, keeping what the refresh response
    /// leaves out (the refresh token when not rotated, the launch context, the granted scope).
    ///
    /// TODO(issue 12): the library's session does this (single-flight across requests and
    /// instances, with the merge rules in the core).
    pub async fn refresh(&self, login: &mut Login) -> Result<(), SmartError> {
        let Some(refresh_token) = login.token.refresh_token.clone() else {
            return Err(SmartError::NoRefreshToken);
        };
        let mut fresh = self
            .client
            .refresh_token(refresh_token.clone(), CallOptions::new())
            .await?;
        let old = &login.token;
        fresh.refresh_token = fresh.refresh_token.or(Some(refresh_token));
        fresh.scope = fresh.scope.or_else(|| old.scope.clone());
        fresh.patient = fresh.patient.or_else(|| old.patient.clone());
        fresh.encounter = fresh.encounter.or_else(|| old.encounter.clone());
        fresh.id_token = fresh.id_token.or_else(|| old.id_token.clone());
        if fresh.fhir_context.is_empty() {
            fresh.fhir_context = old.fhir_context.clone();
        }
        login.token = fresh;
        login.refreshes += 1;
        Ok(())
    }

    /// `GET {fhir_base}/{path}` with the access token, refreshing it first when it is about to
    /// expire, and once more when the server says it is no longer valid (`401`).
    ///
    /// TODO(issue 12): replace with the library's authorized request.
    pub async fn read(
        &self,
        login: &mut Login,
        path: &str,
    ) -> Result<serde_json::Value, SmartError> {
        let url = self.fhir_url(path)?;
        if login.token.is_expired(SystemTime::now(), REFRESH_LEEWAY) {
            self.refresh(login).await?;
        }
        let mut response = self
            .get_with_bearer(&url, &login.token.access_token)
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED && login.token.refresh_token.is_some() {
            self.refresh(login).await?;
            response = self
                .get_with_bearer(&url, &login.token.access_token)
                .await?;
        }
        if !response.status().is_success() {
            return Err(SmartError::Status {
                what: FHIR_SERVER,
                status: response.status(),
            });
        }
        serde_json::from_slice(response.body())
            .map_err(|_| SmartError::Other("the FHIR server sent a body that is not JSON".into()))
    }

    /// `{fhir_base}/{path}`, refusing anything that would leave the FHIR base: the bearer
    /// token goes nowhere else.
    fn fhir_url(&self, path: &str) -> Result<Url, SmartError> {
        let refuse =
            || SmartError::Other(format!("refused to read '{path}' outside the FHIR base"));
        if path.contains("..") || path.starts_with('/') || path.contains("://") {
            return Err(refuse());
        }
        let base = format!("{}/", self.fhir_base.as_str().trim_end_matches('/'));
        let url = Url::parse(&base)
            .and_then(|b| b.join(path))
            .map_err(|_| refuse())?;
        if url.origin() != self.fhir_base.origin() || !url.as_str().starts_with(&base) {
            return Err(refuse());
        }
        Ok(url)
    }

    async fn get_with_bearer(
        &self,
        url: &Url,
        token: &SecretString,
    ) -> Result<HttpResponse, SmartError> {
        let mut bearer = HeaderValue::try_from(format!("Bearer {}", token.expose()))
            .map_err(|_| SmartError::Other("the access token cannot be sent in a header".into()))?;
        bearer.set_sensitive(true);
        let request = http::Request::get(url.as_str())
            .header(header::ACCEPT, "application/fhir+json")
            .header(header::AUTHORIZATION, bearer)
            .body(Vec::new())
            .map_err(|_| SmartError::Other("unusable FHIR URL".into()))?;
        Ok(self.client.run(Exchange::new(request)).await?)
    }

    /// Revokes the grant (the refresh token) and the access token at the server's
    /// `revocation_endpoint`. `Ok(false)` when the server has none.
    ///
    /// TODO(issue 14): use the library's revocation operation.
    pub async fn revoke(&self, login: &Login) -> Result<bool, SmartError> {
        let metadata = self.client.server_metadata().await?;
        let Some(endpoint) = metadata.revocation_endpoint.clone() else {
            return Ok(false);
        };
        if let Some(refresh) = &login.token.refresh_token {
            self.revoke_one(&metadata, &endpoint, refresh, "refresh_token")
                .await?;
        }
        self.revoke_one(
            &metadata,
            &endpoint,
            &login.token.access_token,
            "access_token",
        )
        .await?;
        Ok(true)
    }

    async fn revoke_one(
        &self,
        metadata: &SmartMetadata,
        endpoint: &str,
        token: &SecretString,
        hint: &str,
    ) -> Result<(), SmartError> {
        let params = [("token", token.expose()), ("token_type_hint", hint)];
        let request = authenticated_form(self.client.config(), metadata, endpoint, &params)?;
        let response = self.client.run(Exchange::new(request)).await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(SmartError::Status {
                what: "revocation endpoint",
                status: response.status(),
            })
        }
    }
}

/// A form POST to `endpoint`, authenticated as the client authenticates at the token endpoint
/// (a client assertion's `aud` is the token endpoint, as SMART servers expect).
///
/// TODO(issue 14): the core's shared endpoint authentication will build this.
pub fn authenticated_form(
    config: &ClientConfig,
    metadata: &SmartMetadata,
    endpoint: &str,
    params: &[(&str, &str)],
) -> Result<HttpRequest, SmartError> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.extend_pairs(params);
    let client_id = config.client_id().unwrap_or_default();
    let mut request = http::Request::post(endpoint)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    match config.client_auth() {
        ClientAuth::ClientSecretBasic {
            secret: Some(secret),
            encoding,
        } => {
            let value = basic_authorization(client_id, secret, *encoding)
                .map_err(|e| SmartError::Safire(e.into()))?;
            request = request.header(header::AUTHORIZATION, value);
        }
        ClientAuth::ClientSecretPost {
            secret: Some(secret),
        } => {
            form.append_pair("client_id", client_id)
                .append_pair("client_secret", secret.expose());
        }
        ClientAuth::PrivateKeyJwt {
            signer: Some(signer),
            kid: Some(kid),
        } => {
            let audience = config
                .token_endpoint()
                .or(metadata.token_endpoint.as_deref())
                .unwrap_or_default();
            let assertion = ClientAssertion {
                signer: signer.as_ref(),
                kid,
                jku: None,
                client_id,
                audience,
                lifetime: Duration::from_secs(60),
            }
            .sign(SystemTime::now(), &mut OsRandom)?;
            form.append_pair(
                "client_assertion_type",
                safire_core::JWT_BEARER_ASSERTION_TYPE,
            )
            .append_pair("client_assertion", assertion.expose());
        }
        _ => {
            form.append_pair("client_id", client_id);
        }
    }
    request
        .body(form.finish().into_bytes())
        .map_err(|_| SmartError::Other("unusable endpoint URL".into()))
}

/// A [`Flow`] of one request: send it (through the driver's redirect policy), return the
/// final response as it is.
#[derive(Debug)]
pub struct Exchange {
    request: Option<HttpRequest>,
}

impl Exchange {
    /// The flow that sends `request`.
    pub fn new(request: HttpRequest) -> Self {
        Self {
            request: Some(request),
        }
    }
}

impl Flow for Exchange {
    type Output = HttpResponse;

    fn start(&mut self, _env: &mut Env<'_>) -> Result<Step<HttpResponse>, safire_core::Error> {
        self.request
            .take()
            .map(Step::Send)
            .ok_or(safire_core::Error::Usage("Exchange started twice"))
    }

    fn on_response(
        &mut self,
        response: HttpResponse,
        _env: &mut Env<'_>,
    ) -> Result<Step<HttpResponse>, safire_core::Error> {
        Ok(Step::Done(response))
    }
}

/// Seconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_utc(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_790_096);
        assert_eq!(format_utc(t), "2026-11-27 14:34:56 UTC");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(format_utc(leap), "2000-02-29 00:00:00 UTC");
    }

    fn server() -> Server {
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
        Registry::new(&config).unwrap().servers.remove(0)
    }

    #[test]
    fn the_bearer_token_stays_inside_the_fhir_base() {
        let s = server();
        assert_eq!(
            s.fhir_url("Patient/p-1").unwrap().as_str(),
            "https://ehr.example/fhir/Patient/p-1"
        );
        for bad in [
            "../admin",
            "/Patient/1",
            "https://evil.example/fhir/Patient/1",
            "//evil.example/x",
            "Patient/%2e%2e/%2e%2e/x",
        ] {
            assert!(s.fhir_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registry_finds_servers_by_issuer_with_or_without_slash() {
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
        let registry = Registry::new(&config).unwrap();
        assert!(registry.by_issuer("https://ehr.example/fhir/").is_some());
        assert!(registry.by_issuer("https://ehr.example/fhir").is_some());
        assert!(registry.by_issuer("https://evil.example/fhir").is_none());
        assert!(registry.jwks().keys.is_empty());
    }
}
