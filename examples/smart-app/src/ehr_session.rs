//! **The seam for issue 12 (sessions).** The signed-in user's SMART session with the EHR:
//! the tokens kept server-side ([`Login`]), authorized FHIR reads ([`read`]) and the refresh
//! behind them ([`refresh`]). Nothing else in the app touches a token after sign-in, so this
//! module is the one place the library's `SmartSession` (authorized requests, single-flight
//! refresh shared across instances, the refresh-merge rules in the core) plugs in:
//!
//! - [`Login::token`] becomes the library's session state (or the key of it in a shared
//!   session store), built with `server.client().session(…)`;
//! - [`read`] becomes the session's authorized `get` of `{fhir_base}/{path}` (its origin
//!   check replaces [`fhir_url`]'s), and [`refresh`], the merge and [`Exchange`] go away.
//!
//! Until then the app does the minimum itself, on the public API only. Requests the library
//! has no operation for go through [`Exchange`], a one-request [`Flow`]: they still run on the
//! `SmartClient`'s connection pool, limits, https rule and redirect policy (a cross-origin
//! redirect drops `Authorization`).

use std::fmt;
use std::time::{Duration, SystemTime};

use safire_core::http::{self, HeaderValue, StatusCode, header};
use safire_core::{
    CallOptions, Env, Flow, HttpRequest, HttpResponse, SecretString, Step, TokenResponse,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::smart::{FHIR_SERVER, Server, SmartError};

/// How close to its expiry an access token is refreshed before use.
pub const REFRESH_LEEWAY: Duration = Duration::from_secs(10);

/// A signed-in user's SMART session, kept server-side in the web session.
///
/// `Debug` shows neither the tokens (they are [`SecretString`]s) nor the patient.
#[derive(Clone, Serialize, Deserialize)]
pub struct Login {
    /// The configured server's name.
    pub server: String,
    /// The token response (refreshed in place).
    pub token: TokenResponse,
    /// The `fhirUser` (absolute URL) of the id_token the library verified in the code
    /// exchange, when it carried one.
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

/// Exchanges the refresh token for a new access token, keeping what the refresh response
/// leaves out (the refresh token when not rotated, the launch context, the granted scope).
///
/// TODO(issue 12): the library's session does this (single-flight across requests and
/// instances, with the merge rules in the core).
pub async fn refresh(server: &Server, login: &mut Login) -> Result<(), SmartError> {
    let Some(refresh_token) = login.token.refresh_token.clone() else {
        return Err(SmartError::NoRefreshToken);
    };
    let mut fresh = server
        .client()
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
    server: &Server,
    login: &mut Login,
    path: &str,
) -> Result<serde_json::Value, SmartError> {
    let url = fhir_url(server, path)?;
    if login.token.is_expired(SystemTime::now(), REFRESH_LEEWAY) {
        refresh(server, login).await?;
    }
    let mut response = get_with_bearer(server, &url, &login.token.access_token).await?;
    if response.status() == StatusCode::UNAUTHORIZED && login.token.refresh_token.is_some() {
        refresh(server, login).await?;
        response = get_with_bearer(server, &url, &login.token.access_token).await?;
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
pub fn fhir_url(server: &Server, path: &str) -> Result<Url, SmartError> {
    let refuse = || SmartError::Other(format!("refused to read '{path}' outside the FHIR base"));
    if path.contains("..") || path.starts_with('/') || path.contains("://") {
        return Err(refuse());
    }
    let base = format!("{}/", server.fhir_base.as_str().trim_end_matches('/'));
    let url = Url::parse(&base)
        .and_then(|b| b.join(path))
        .map_err(|_| refuse())?;
    if url.origin() != server.fhir_base.origin() || !url.as_str().starts_with(&base) {
        return Err(refuse());
    }
    Ok(url)
}

async fn get_with_bearer(
    server: &Server,
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
    Ok(server.client().run(Exchange::new(request)).await?)
}

/// A [`Flow`] of one request: send it (through the driver's redirect policy), return the
/// final response as it is.
///
/// TODO(issue 12): goes away with the library's authorized requests.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AppConfig;
    use crate::smart::Registry;

    #[test]
    fn the_bearer_token_stays_inside_the_fhir_base() {
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
        let s = &registry.servers()[0];
        assert_eq!(
            fhir_url(s, "Patient/p-1").unwrap().as_str(),
            "https://ehr.example/fhir/Patient/p-1"
        );
        for bad in [
            "../admin",
            "/Patient/1",
            "https://evil.example/fhir/Patient/1",
            "//evil.example/x",
            "Patient/%2e%2e/%2e%2e/x",
        ] {
            assert!(fhir_url(s, bad).is_err(), "{bad}");
        }
    }
}
