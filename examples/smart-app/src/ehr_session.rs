//! The signed-in user's SMART session with the EHR: the library's [`Session`] value kept
//! server-side in the web session ([`Login`]), and, for one page, the library's
//! [`SmartSession`] around it ([`EhrSession`]), which sends the bearer token only under the
//! FHIR base, refreshes before expiry and once after a `401`, and merges the refresh
//! response into the session. Nothing else in the app touches a token after sign-in.
//!
//! **Where the session lives.** The [`Session`] value is the one source of truth, in the
//! `tower-sessions` session: a [`SmartSession`] is built from it for each page and dropped
//! after. Its `on_change` hook records every renewed value, and the handler writes that back
//! into the web session before answering (the hook itself is synchronous and the web
//! session's writes are async; a value written after the response would be lost). So any
//! number of app instances sharing the web-session store see the same tokens, and nothing
//! per user stays in memory. The cost: two requests of the same user that both find the
//! token expired each refresh (no single flight across requests); with rotating refresh
//! tokens the second may be refused and that user asked to sign in again. This page does
//! one read per request, so that takes two tabs reloading in the same instant; an app with
//! many concurrent requests per user would keep the value in the library's shared store
//! instead (`SmartSessionBuilder::store`, keyed by a per-login key kept in the web session),
//! which renews once across requests and instances.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use safire_core::Session;
use safire_hyper::SmartSession;
use serde::{Deserialize, Serialize};

use crate::smart::{FHIR_SERVER, Server, SmartError};

/// A signed-in user's SMART session, kept server-side in the web session.
///
/// `Debug` shows neither the tokens nor the patient (the library's [`Session`] hides them).
#[derive(Clone, Serialize, Deserialize)]
pub struct Login {
    /// The configured server's name.
    pub server: String,
    /// The library's session value: tokens, absolute expiry, granted scopes, launch context
    /// and the `fhirUser` of the id_token verified in the code exchange. Replaced by each
    /// renewal.
    pub session: Session,
    /// How many times the access token was refreshed.
    pub refreshes: u32,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("server", &self.server)
            .field("session", &self.session)
            .field("refreshes", &self.refreshes)
            .finish()
    }
}

/// The renewals the `on_change` hook saw during one page.
#[derive(Default)]
struct Renewals {
    latest: Option<Session>,
    count: u32,
}

/// The user's SMART session for one page: a [`SmartSession`] built from a [`Login`].
pub struct EhrSession {
    login: Login,
    smart: SmartSession,
    renewals: Arc<Mutex<Renewals>>,
}

impl fmt::Debug for EhrSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EhrSession")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

impl EhrSession {
    /// The session of `login` with `server`'s client. Fails when the stored value does not
    /// belong to this client and server (the configuration changed): sign in again.
    pub async fn open(server: &Server, login: Login) -> Result<Self, SmartError> {
        let renewals = Arc::new(Mutex::new(Renewals::default()));
        let seen = renewals.clone();
        let smart = server
            .client()
            .session(login.session.clone())
            .on_change(move |renewed: &Session| {
                let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
                seen.latest = Some(renewed.clone());
                seen.count += 1;
            })
            .build()
            .await?;
        Ok(Self {
            login,
            smart,
            renewals,
        })
    }

    /// `GET {fhir_base}/{path}` as FHIR JSON, with the bearer token (refreshed when needed).
    /// A path leaving the FHIR base is refused before anything is sent.
    pub async fn read(&self, path: &str) -> Result<serde_json::Value, SmartError> {
        let response = self.smart.get(path).await?;
        if !response.status().is_success() {
            return Err(SmartError::Status {
                what: FHIR_SERVER,
                status: response.status(),
            });
        }
        serde_json::from_slice(response.body())
            .map_err(|_| SmartError::Other("the FHIR server sent a body that is not JSON".into()))
    }

    /// The login as it stands now: the latest renewed session, if any.
    pub fn login(&self) -> Login {
        let seen = self.renewals.lock().unwrap_or_else(PoisonError::into_inner);
        match &seen.latest {
            Some(session) => Login {
                server: self.login.server.clone(),
                session: session.clone(),
                refreshes: self.login.refreshes + seen.count,
            },
            None => self.login.clone(),
        }
    }

    /// The login to write back into the web session when the token was renewed during this
    /// page (a rotated refresh token replaces the old one, which the server may now refuse),
    /// whether or not the read that followed succeeded.
    pub fn renewed(&self) -> Option<Login> {
        let renewed = self
            .renewals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .latest
            .is_some();
        renewed.then(|| self.login())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safire_core::{Scopes, SessionKind, TokenResponse};
    use std::time::SystemTime;

    /// A user login for server "A" whose session (client `app`, `patient/*.rs`) was issued
    /// for `fhir_base`, from the token response `body`.
    fn login_at(fhir_base: &str, body: &[u8]) -> Login {
        let token = TokenResponse::parse(200, body, SystemTime::now()).unwrap();
        let session = Session::from_token_response(
            token,
            fhir_base,
            "app",
            SessionKind::User,
            &Scopes::parse("patient/*.rs"),
        );
        Login {
            server: "A".into(),
            session,
            refreshes: 0,
        }
    }

    #[tokio::test]
    async fn the_bearer_token_stays_inside_the_fhir_base() {
        let registry = crate::smart::one_server_registry();
        let server = &registry.servers()[0];
        let login = login_at(
            "https://ehr.example/fhir",
            br#"{"access_token":"at","token_type":"Bearer","expires_in":300,"scope":"patient/*.rs"}"#,
        );
        let ehr = EhrSession::open(server, login).await.unwrap();
        // Refused before sending: nothing listens at ehr.example, and a sent request would
        // fail with a network error instead.
        for bad in [
            "../admin",
            "/Patient/1",
            "https://evil.example/fhir/Patient/1",
            "//evil.example/x",
        ] {
            let e = ehr.read(bad).await.unwrap_err();
            assert!(
                matches!(&e, SmartError::Safire(safire_core::Error::Session(_))),
                "{bad}: {e}"
            );
        }
        assert!(ehr.renewed().is_none());
    }

    #[tokio::test]
    async fn a_session_of_another_client_is_refused() {
        let registry = crate::smart::one_server_registry();
        let login = login_at(
            "https://other.example/fhir",
            br#"{"access_token":"at","expires_in":300,"scope":"patient/*.rs"}"#,
        );
        assert!(
            EhrSession::open(&registry.servers()[0], login)
                .await
                .is_err()
        );
    }
}
