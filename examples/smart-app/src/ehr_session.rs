//! The signed-in user's SMART session with the EHR: the library's [`Session`] value kept
//! server-side in the web session ([`Login`]), and the library's [`SmartSession`] around it
//! ([`EhrSession`]), which sends the bearer token only under the FHIR base, refreshes before
//! expiry and once after a `401`, and merges the refresh response into the session. Nothing
//! else in the app touches a token after sign-in.
//!
//! **One live session per login.** A browser can send several requests at once (two tabs
//! reloading, a page and its images). If each built its own [`SmartSession`] from the stored
//! value, each would refresh an expired token by itself, and with an EHR that rotates refresh
//! tokens every refresh after the first presents a used one: the EHR refuses it (and may
//! revoke the grant), and the user is signed out for nothing. A [`SmartSession`] is
//! single-flight (concurrent callers share one renewal), so the app keeps one per login in
//! [`EhrSessions`], found through a random key stored with the [`Login`], and every request
//! of that login uses it.
//!
//! **Where the session lives.** The web session keeps the [`Login`] (what a restarted
//! process resumes from); the live [`SmartSession`] holds the newest value, and a request
//! that finds the two differ writes the live one back into the web session before
//! answering (a value written after the response would be lost). Live sessions are per
//! process: instances sharing the web-session store pick up each other's renewals (a stored
//! login with more refreshes than the live one replaces it), but two requests of one user
//! that reach two instances at expiry both refresh. Route a user to one instance (sticky
//! sessions), or keep the value in the library's shared store instead
//! (`SmartSessionBuilder::store`, keyed by the login's key), which renews once across
//! instances.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use safire_core::{OsRandom, RandomSource, Session};
use safire_hyper::SmartSession;
use serde::{Deserialize, Serialize};

use crate::smart::{FHIR_SERVER, Server, SmartError};

/// A signed-in user's SMART session, kept server-side in the web session.
///
/// `Debug` shows neither the tokens nor the patient (the library's [`Session`] hides them),
/// nor the key.
#[derive(Clone, Serialize, Deserialize)]
pub struct Login {
    /// Finds this login's live session in [`EhrSessions`]: 128 random bits, new for each
    /// sign-in and never sent to the browser. Random rather than counted, so that a key
    /// stored before a restart never names another user's live session.
    pub key: String,
    /// The configured server's name.
    pub server: String,
    /// The library's session value: tokens, absolute expiry, granted scopes, launch context
    /// and the `fhirUser` of the id_token verified in the code exchange. Replaced by each
    /// renewal.
    pub session: Session,
    /// How many times the access token was refreshed.
    pub refreshes: u32,
}

impl Login {
    /// A new sign-in with `server`, under a new key.
    pub fn new(server: impl Into<String>, session: Session) -> Result<Self, SmartError> {
        let mut bytes = [0u8; 16];
        OsRandom.fill_bytes(&mut bytes)?;
        Ok(Self {
            key: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            server: server.into(),
            session,
            refreshes: 0,
        })
    }

    /// Whether `other` holds the same tokens and count (then there is nothing to write back).
    fn same_as(&self, other: &Login) -> bool {
        self.refreshes == other.refreshes
            && self.session.access_token == other.session.access_token
            && self.session.refresh_token == other.session.refresh_token
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("server", &self.server)
            .field("session", &self.session)
            .field("refreshes", &self.refreshes)
            .finish_non_exhaustive()
    }
}

/// The live SMART sessions of this process, one per signed-in login (see the module docs for
/// why). Bounded: a login idle for longer than the web session's inactivity expiry is
/// dropped when another is added, and past `max` logins the least recently used goes.
/// Dropping a live session costs nothing but its single flight: the login's next request
/// builds a new one from the web session.
pub struct EhrSessions {
    live: Mutex<HashMap<String, Live>>,
    max: usize,
    idle: Duration,
}

struct Live {
    ehr: EhrSession,
    last_used: Instant,
}

impl fmt::Debug for EhrSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EhrSessions")
            .field("live", &self.len())
            .field("max", &self.max)
            .field("idle", &self.idle)
            .finish()
    }
}

impl EhrSessions {
    /// At most `max` live sessions (at least one), each kept while used within `idle`.
    pub fn new(max: usize, idle: Duration) -> Self {
        Self {
            live: Mutex::new(HashMap::new()),
            max: max.max(1),
            idle,
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Live>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live session of `login` (as stored in the web session), built from it when there
    /// is none, or when the stored value is newer (renewed by another instance sharing the
    /// web-session store). Fails when the stored value does not belong to `server`'s client
    /// (the configuration changed): sign in again.
    pub async fn open(&self, server: &Server, login: &Login) -> Result<EhrSession, SmartError> {
        if let Some(ehr) = self.find(login) {
            return Ok(ehr);
        }
        // Built outside the lock (building is async); when a concurrent request of the same
        // login got there first, its session is used and this one dropped unused.
        let built = EhrSession::new(server, login).await?;
        let mut live = self.live();
        if let Some(entry) = live.get_mut(&login.key)
            && entry.ehr.serves(login)
        {
            entry.last_used = Instant::now();
            return Ok(entry.ehr.clone());
        }
        if !live.contains_key(&login.key) {
            self.make_room(&mut live);
        }
        let entry = Live {
            ehr: built.clone(),
            last_used: Instant::now(),
        };
        live.insert(login.key.clone(), entry);
        Ok(built)
    }

    fn find(&self, login: &Login) -> Option<EhrSession> {
        let mut live = self.live();
        let entry = live.get_mut(&login.key)?;
        if !entry.ehr.serves(login) {
            return None;
        }
        entry.last_used = Instant::now();
        Some(entry.ehr.clone())
    }

    /// Drops the idle entries, then the least recently used ones, until one more fits.
    fn make_room(&self, live: &mut HashMap<String, Live>) {
        live.retain(|_, entry| entry.last_used.elapsed() < self.idle);
        while live.len() >= self.max {
            let oldest = live
                .iter()
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(key, _)| key.clone());
            match oldest {
                Some(key) => live.remove(&key),
                None => break,
            };
        }
    }

    /// Ends the live session of the login with `key` (sign-out, a new sign-in, a grant the
    /// EHR ended); the session as it stood, whose tokens are the newest.
    pub fn forget(&self, key: &str) -> Option<EhrSession> {
        self.live().remove(key).map(|entry| entry.ehr)
    }

    /// How many live sessions there are.
    pub fn len(&self) -> usize {
        self.live().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A login's live SMART session: a [`SmartSession`] and the count of its refreshes. Cheap to
/// clone; clones (the requests of one login) share one session and its renewals.
#[derive(Clone)]
pub struct EhrSession {
    key: String,
    server: String,
    smart: SmartSession,
    refreshes: Arc<AtomicU32>,
}

impl fmt::Debug for EhrSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EhrSession")
            .field("login", &self.login())
            .finish_non_exhaustive()
    }
}

impl EhrSession {
    async fn new(server: &Server, login: &Login) -> Result<Self, SmartError> {
        let refreshes = Arc::new(AtomicU32::new(login.refreshes));
        let counted = refreshes.clone();
        let smart = server
            .client()
            .session(login.session.clone())
            // Called once per renewal, by the request that made it.
            .on_change(move |_: &Session| {
                counted.fetch_add(1, Ordering::Relaxed);
            })
            .build()
            .await?;
        Ok(Self {
            key: login.key.clone(),
            server: login.server.clone(),
            smart,
            refreshes,
        })
    }

    /// `GET {fhir_base}/{path}` as FHIR JSON, with the bearer token (refreshed when needed,
    /// once for all the concurrent requests of this login).
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

    /// Whether this live session can serve the requests of `login` (as stored): same
    /// server, and at least as many refreshes (this process writes only live values back, so
    /// a stored value with more was renewed by another instance, and is the newer one).
    fn serves(&self, login: &Login) -> bool {
        self.server == login.server && self.refreshes.load(Ordering::Relaxed) >= login.refreshes
    }

    /// The login as it stands now: the newest session value.
    pub fn login(&self) -> Login {
        Login {
            key: self.key.clone(),
            server: self.server.clone(),
            session: self.smart.session(),
            refreshes: self.refreshes.load(Ordering::Relaxed),
        }
    }

    /// The login to write back into the web session, when it differs from `stored` (the
    /// token was renewed, by this request or a concurrent one): a rotated refresh token
    /// replaces the old one, which the server may now refuse. Whether or not the read that
    /// followed the renewal succeeded.
    pub fn unsaved(&self, stored: &Login) -> Option<Login> {
        let now = self.login();
        (!now.same_as(stored)).then_some(now)
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
        Login::new("A", session).unwrap()
    }

    const TOKEN: &[u8] =
        br#"{"access_token":"at","token_type":"Bearer","expires_in":300,"scope":"patient/*.rs"}"#;

    fn sessions(max: usize) -> EhrSessions {
        EhrSessions::new(max, Duration::from_secs(3600))
    }

    #[tokio::test]
    async fn the_bearer_token_stays_inside_the_fhir_base() {
        let registry = crate::smart::one_server_registry();
        let server = &registry.servers()[0];
        let login = login_at("https://ehr.example/fhir", TOKEN);
        let ehr = sessions(8).open(server, &login).await.unwrap();
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
        assert!(ehr.unsaved(&login).is_none(), "nothing renewed");
    }

    #[tokio::test]
    async fn a_session_of_another_client_is_refused() {
        let registry = crate::smart::one_server_registry();
        let login = login_at(
            "https://other.example/fhir",
            br#"{"access_token":"at","expires_in":300,"scope":"patient/*.rs"}"#,
        );
        let sessions = sessions(8);
        assert!(sessions.open(&registry.servers()[0], &login).await.is_err());
        assert!(sessions.is_empty());
    }

    #[tokio::test]
    async fn the_requests_of_one_login_share_its_live_session() {
        let registry = crate::smart::one_server_registry();
        let server = &registry.servers()[0];
        let sessions = sessions(8);
        let mut login = login_at("https://ehr.example/fhir", TOKEN);
        login.refreshes = 3;
        let first = sessions.open(server, &login).await.unwrap();
        // A second request whose web session holds an older copy of the login (here: fewer
        // refreshes) gets the live session, not one built from its copy, and writes the live
        // value back.
        let mut older = login.clone();
        older.refreshes = 2;
        let second = sessions.open(server, &older).await.unwrap();
        assert_eq!(second.login().refreshes, 3);
        assert!(
            second.unsaved(&older).is_some(),
            "the live value is written back"
        );
        assert!(second.unsaved(&first.login()).is_none());
        assert_eq!(sessions.len(), 1);

        // A stored copy renewed more often (by another instance sharing the web-session
        // store) is the newer one: it replaces the live session.
        let mut newer = login.clone();
        newer.refreshes = 5;
        let third = sessions.open(server, &newer).await.unwrap();
        assert_eq!(third.login().refreshes, 5);
        assert!(third.unsaved(&newer).is_none());
        let again = sessions.open(server, &login).await.unwrap();
        assert_eq!(
            again.login().refreshes,
            5,
            "the replacement is the live one now"
        );
        assert_eq!(sessions.len(), 1);

        // Another sign-in (a new key) has its own.
        let other = login_at("https://ehr.example/fhir", TOKEN);
        assert_ne!(other.key, login.key);
        assert_eq!(other.key.len(), 32);
        sessions.open(server, &other).await.unwrap();
        assert_eq!(sessions.len(), 2);

        // Sign-out ends it.
        assert!(sessions.forget(&login.key).is_some());
        assert!(sessions.forget(&login.key).is_none());
        assert_eq!(sessions.len(), 1);
    }

    #[tokio::test]
    async fn live_sessions_are_bounded() {
        let registry = crate::smart::one_server_registry();
        let server = &registry.servers()[0];
        let sessions = sessions(2);
        let logins: Vec<Login> = (0..3)
            .map(|_| login_at("https://ehr.example/fhir", TOKEN))
            .collect();
        sessions.open(server, &logins[0]).await.unwrap();
        sessions.open(server, &logins[1]).await.unwrap();
        // The first is used again, so the second is the least recently used.
        sessions.open(server, &logins[0]).await.unwrap();
        sessions.open(server, &logins[2]).await.unwrap();
        assert_eq!(sessions.len(), 2);
        assert!(sessions.forget(&logins[1].key).is_none(), "evicted");
        assert!(sessions.forget(&logins[0].key).is_some());

        // Idle ones go first, whatever the bound.
        let idle = EhrSessions::new(8, Duration::ZERO);
        idle.open(server, &logins[0]).await.unwrap();
        idle.open(server, &logins[1]).await.unwrap();
        assert_eq!(idle.len(), 1);
        assert!(idle.forget(&logins[1].key).is_some());
    }
}
