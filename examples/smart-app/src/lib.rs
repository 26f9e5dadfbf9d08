//! # smart-app
//!
//! A reference SMART on FHIR web app: axum, [`safire_hyper`], and `tower-sessions` for the
//! server-side session. It supports the EHR launch (`/launch?iss=…&launch=…`, `iss` checked
//! against the configured servers) and the standalone launch (`/login?server=…`), shows the
//! launch patient read from the FHIR server through the library's `SmartSession` (refreshed
//! when the token expires), the verified `fhirUser`, the granted scopes and the token's expiry, revokes the
//! token at logout, and publishes its public keys at `/.well-known/jwks.json`.
//!
//! The protocol lives in [`smart`] (sign-in, sign-out) and [`ehr_session`] (the library's
//! session in between: authorized reads, refresh, persisting the renewed session); this
//! module is HTTP and HTML only.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = smart_app::AppConfig::load(std::path::Path::new("smart-app.toml"))?;
//! let app = smart_app::App::new(config)?;
//! let listener = tokio::net::TcpListener::bind(app.config().listen).await?;
//! axum::serve(listener, app.router(tower_sessions::MemoryStore::default())).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod demo;
pub mod ehr_session;
mod pages;
pub mod smart;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{Query, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use safire_core::{AuthorizationMethod, EhrLaunch, PendingAuthorization};
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::{Expiry, Session, SessionManagerLayer, SessionStore};

pub use config::{AppConfig, ConfigError};
pub use ehr_session::{EhrSession, EhrSessions, Login};
pub use smart::{Registry, SmartError};

/// The session key of the authorization in progress.
const PENDING: &str = "smart.pending";
/// The session key of the signed-in user's SMART session.
const LOGIN: &str = "smart.login";
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "smart_app_session";
/// How long a browser session lasts without a request; a login's live SMART session is kept
/// as long.
const IDLE: Duration = Duration::from_secs(60 * 60);
/// At most this many logins have a live SMART session in this process (a bound on memory).
const MAX_LIVE_SESSIONS: usize = 10_000;

/// The authorization in progress: which server, and what the callback needs.
#[derive(Serialize, Deserialize)]
struct PendingLogin {
    server: String,
    pending: PendingAuthorization,
}

/// The app: its configuration, one client per configured server, and the live SMART
/// session of each signed-in login.
#[derive(Debug)]
pub struct App {
    config: AppConfig,
    registry: Registry,
    sessions: EhrSessions,
}

type Shared = State<Arc<App>>;

impl App {
    /// Loads the keys and builds the clients.
    pub fn new(config: AppConfig) -> Result<Arc<Self>, ConfigError> {
        let registry = Registry::new(&config)?;
        Ok(Arc::new(Self {
            config,
            registry,
            sessions: EhrSessions::new(MAX_LIVE_SESSIONS, IDLE),
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    /// The servers.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The live SMART sessions.
    pub fn sessions(&self) -> &EhrSessions {
        &self.sessions
    }

    /// The routes, with sessions kept in `store`: `tower_sessions::MemoryStore` for one
    /// instance; several instances need a shared store (e.g. `tower-sessions-redis-store`).
    /// The session cookie is `HttpOnly`, `SameSite=Lax`, and `Secure` unless the app is
    /// served from a loopback address.
    pub fn router<S: SessionStore + Clone>(self: &Arc<Self>, store: S) -> Router {
        let sessions = SessionManagerLayer::new(store)
            .with_name(SESSION_COOKIE)
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(!self.config.is_loopback())
            .with_expiry(Expiry::OnInactivity(CookieDuration::seconds(
                IDLE.as_secs() as i64,
            )));
        Router::new()
            .route("/", get(home))
            .route("/login", get(login))
            .route("/launch", get(launch))
            .route("/callback", get(callback))
            .route("/logout", post(logout))
            .route("/.well-known/jwks.json", get(jwks))
            .layer(sessions)
            .with_state(self.clone())
    }
}

/// A handler failure: an HTML error page.
struct Failure {
    status: StatusCode,
    title: &'static str,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
        }
    }

    fn session(e: tower_sessions::session::Error) -> Self {
        tracing::error!(error = %e, "session store failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Session unavailable",
            "The session store failed; try again.",
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        pages::error(self.status, self.title, &self.message)
    }
}

/// `GET /`: the patient page when signed in, else the server picker.
async fn home(State(app): Shared, session: Session) -> Result<Response, Failure> {
    let Some(stored) = session.get_value(LOGIN).await.map_err(Failure::session)? else {
        return Ok(pages::login(&app.registry));
    };
    // A login this version cannot read (written by an older one) or whose server is no
    // longer configured: sign in again.
    let Some((login, server)) = serde_json::from_value::<Login>(stored)
        .ok()
        .and_then(|login| app.registry.by_name(&login.server).map(|s| (login, s)))
    else {
        session.flush().await.map_err(Failure::session)?;
        return Ok(pages::login(&app.registry));
    };
    // The login's live session, shared with its other requests in flight: they renew once.
    let ehr = match app.sessions.open(server, &login).await {
        Ok(ehr) => ehr,
        Err(e) => {
            tracing::warn!(server = %server.name, error = %e, "the stored session is unusable");
            return sign_in_again(&app, &session, &login).await;
        }
    };
    let patient = match ehr.login().session.launch.patient {
        Some(id) if is_fhir_id(&id) => Some(ehr.read(&format!("Patient/{id}")).await),
        Some(_) => Some(Err(SmartError::Other(
            "the server sent a patient id that is not a FHIR id".into(),
        ))),
        None => None,
    };
    if let Some(renewed) = ehr.unsaved(&login) {
        // The renewed session replaces the old one (a rotated refresh token is single use),
        // even when the read that followed failed.
        session
            .insert(LOGIN, &renewed)
            .await
            .map_err(Failure::session)?;
    }
    if let Some(Err(e)) = &patient {
        tracing::warn!(server = %server.name, error = %e, "reading the patient failed");
        if e.needs_sign_in() {
            // The grant is gone (revoked, expired, or no refresh token).
            return sign_in_again(&app, &session, &login).await;
        }
    }
    Ok(pages::patient(
        server,
        &ehr.login(),
        patient,
        SystemTime::now(),
    ))
}

/// Ends the session (and the login's live SMART session) and asks the user to sign in again.
async fn sign_in_again(app: &App, session: &Session, login: &Login) -> Result<Response, Failure> {
    app.sessions.forget(&login.key);
    session.flush().await.map_err(Failure::session)?;
    Ok(pages::login_with_notice(
        &app.registry,
        Some("Your session with the EHR has ended. Please sign in again."),
    ))
}

/// FHIR ids: `[A-Za-z0-9\-\.]{1,64}`.
fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[derive(Deserialize)]
struct LoginQuery {
    server: String,
}

/// `GET /login?server=NAME`: a standalone launch with the chosen server.
async fn login(
    State(app): Shared,
    session: Session,
    Query(query): Query<LoginQuery>,
) -> Result<Response, Failure> {
    let server = app.registry.by_name(&query.server).ok_or_else(|| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "Unknown server",
            "That server is not configured in this app.",
        )
    })?;
    start(&app, server, None, &session).await
}

/// `GET /launch?iss=…&launch=…`: an EHR launch.
async fn launch(
    State(app): Shared,
    session: Session,
    RawQuery(query): RawQuery,
) -> Result<Response, Failure> {
    let query = query.unwrap_or_default();
    let launch = EhrLaunch::from_url(&query, &app.registry.issuers()).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "Launch refused",
            format!("This app cannot be launched from there: {e}"),
        )
    })?;
    let server = app.registry.by_issuer(&launch.iss).ok_or_else(|| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "Launch refused",
            "The launching EHR is not configured in this app.",
        )
    })?;
    start(&app, server, Some(launch.launch), &session).await
}

async fn start(
    app: &App,
    server: &smart::Server,
    launch: Option<String>,
    session: &Session,
) -> Result<Response, Failure> {
    let request = server.authorize(launch).await.map_err(|e| {
        tracing::warn!(server = %server.name, error = %e, "authorization request failed");
        Failure::new(
            StatusCode::BAD_GATEWAY,
            "Cannot reach the EHR",
            format!("{}: {e}", server.name),
        )
    })?;
    // A new sign-in replaces any earlier one in this browser.
    let earlier = session
        .remove_value(LOGIN)
        .await
        .map_err(Failure::session)?;
    if let Some(earlier) = earlier.and_then(|v| serde_json::from_value::<Login>(v).ok()) {
        app.sessions.forget(&earlier.key);
    }
    session
        .insert(
            PENDING,
            PendingLogin {
                server: server.name.clone(),
                pending: request.pending.clone(),
            },
        )
        .await
        .map_err(Failure::session)?;
    Ok(match request.method {
        AuthorizationMethod::Post => pages::auto_submit(&request.auto_submit_html()),
        _ => Redirect::to(request.url.as_str()).into_response(),
    })
}

/// `GET /callback?code=…&state=…&iss=…` (or `error=…`).
async fn callback(
    State(app): Shared,
    session: Session,
    RawQuery(query): RawQuery,
) -> Result<Response, Failure> {
    // Taken out before anything else: an authorization is completed at most once.
    let pending = session
        .remove::<PendingLogin>(PENDING)
        .await
        .map_err(Failure::session)?
        .ok_or_else(|| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                "No sign-in in progress",
                "This browser has no sign-in waiting for an answer (it may have been completed already). Start again from the home page.",
            )
        })?;
    let server = app.registry.by_name(&pending.server).ok_or_else(|| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "Unknown server",
            "The sign-in was started with a server that is no longer configured.",
        )
    })?;
    let login = server
        .finish(pending.pending, &query.unwrap_or_default())
        .await
        .map_err(|e| {
            tracing::warn!(server = %server.name, error = %e, "sign-in refused");
            Failure::new(StatusCode::BAD_REQUEST, "Sign-in failed", e.to_string())
        })?;
    // A new identity gets a new session id (no session fixation).
    session.cycle_id().await.map_err(Failure::session)?;
    session
        .insert(LOGIN, &login)
        .await
        .map_err(Failure::session)?;
    Ok(Redirect::to("/").into_response())
}

/// `POST /logout`: revokes the tokens and ends the session.
async fn logout(State(app): Shared, session: Session) -> Result<Response, Failure> {
    let login = session
        .remove::<Login>(LOGIN)
        .await
        .map_err(Failure::session)?;
    session.flush().await.map_err(Failure::session)?;
    // The live session holds the newest tokens (the web session may lag behind a renewal
    // another request of this login has just made).
    let login = login.map(|login| {
        app.sessions
            .forget(&login.key)
            .map_or(login, |live| live.login())
    });
    if let Some(login) = login
        && let Some(server) = app.registry.by_name(&login.server)
    {
        match server.revoke(&login).await {
            Ok(true) => tracing::info!(server = %server.name, "tokens revoked at logout"),
            Ok(false) => {
                tracing::info!(server = %server.name, "no revocation endpoint; session cleared")
            }
            Err(e) => {
                tracing::warn!(server = %server.name, error = %e, "revocation failed");
                return Err(Failure::new(
                    StatusCode::BAD_GATEWAY,
                    "Signed out, but the EHR did not revoke the token",
                    format!("This app forgot the token; {}: {e}", server.name),
                ));
            }
        }
    }
    Ok(Redirect::to("/").into_response())
}

/// `GET /.well-known/jwks.json`: the public keys of the configured signing keys.
async fn jwks(State(app): Shared) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        axum::Json(app.registry.jwks()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::is_fhir_id;

    #[test]
    fn fhir_ids() {
        assert!(is_fhir_id("sandbox-patient-1"));
        assert!(is_fhir_id("a.b-C9"));
        assert!(!is_fhir_id(""));
        assert!(!is_fhir_id("../x"));
        assert!(!is_fhir_id("a/b"));
        assert!(!is_fhir_id(&"a".repeat(65)));
    }
}
