//! [`SessionCell`]: what a transport's session type keeps — the current session, readable
//! without a lock, and single-flight renewal. No I/O: the caller that gets a [`RenewTicket`]
//! renews; the others wait ([`SessionCell::wait_blocking`], or an async notification paired
//! with [`SessionCell::outcome_after`]), and all of them get its outcome.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use crate::error::{Error, SessionErrorKind};
use crate::secret::SecretString;

use super::{Renewal, Session};

/// The session a cell holds, with the store version it was read or written at.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Current {
    /// The session value.
    pub session: Session,
    /// Its version in the session store (`None`: not stored).
    pub version: Option<u64>,
    /// The token is fresh strictly before this time (`None`: expiry unknown, always fresh);
    /// computed once so the hit path is one comparison.
    fresh_until: Option<SystemTime>,
}

impl Current {
    fn new(session: Session, version: Option<u64>, margin: Duration) -> Self {
        let fresh_until = session.expires_at.map(|expires| {
            expires
                .checked_sub(session.effective_margin(margin))
                .unwrap_or(SystemTime::UNIX_EPOCH)
        });
        Self {
            session,
            version,
            fresh_until,
        }
    }
}

/// Why the caller needs a renewal.
#[derive(Debug, Clone, Copy)]
pub enum Need<'a> {
    /// A token valid for at least the margin at `now`.
    Fresh(SystemTime),
    /// The FHIR server refused this token (401): renew unless it was already replaced.
    Rejected(&'a SecretString),
}

/// What a caller of [`SessionCell::acquire`] should do.
#[derive(Debug)]
pub enum Acquire {
    /// This session is good to use.
    Ready(Arc<Current>),
    /// Nobody is renewing: renew `ticket.base()`, then hand the result to
    /// [`SessionCell::finish`].
    Renew(RenewTicket),
    /// Another caller is renewing; wait for renewal number `.0` to end.
    Wait(u64),
    /// The session cannot be renewed (re-authorization required).
    Failed(Error),
}

/// The right to renew. Dropping it unfinished (a cancelled future, a panic) lets the next
/// caller renew.
#[derive(Debug)]
pub struct RenewTicket {
    shared: Arc<Shared>,
    base: Arc<Current>,
    done: bool,
}

impl RenewTicket {
    /// The session to renew (the current one when the ticket was handed out).
    pub fn base(&self) -> &Arc<Current> {
        &self.base
    }
}

impl Drop for RenewTicket {
    fn drop(&mut self) {
        if !self.done {
            let mut state = self.shared.lock();
            state.renewing = false;
            state.generation += 1;
            state.last_error = None;
            drop(state);
            self.shared.ended.notify_all();
        }
    }
}

#[derive(Debug, Default)]
struct State {
    renewing: bool,
    /// Counts finished (or abandoned) renewals.
    generation: u64,
    /// The error of the last renewal, for the callers that waited on it.
    last_error: Option<Error>,
    /// Set once the server refused the refresh token: no request will help.
    dead: Option<Error>,
}

#[derive(Debug)]
struct Shared {
    current: ArcSwap<Current>,
    state: Mutex<State>,
    ended: Condvar,
    margin: Duration,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One session's shared state; cheap to clone (clones share it).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use safire_core::{Scopes, Session, SessionKind, TokenResponse};
/// use safire_core::transport::{Acquire, Need, SessionCell};
/// let now = SystemTime::now();
/// let token = TokenResponse::parse(200, br#"{"access_token":"a1","refresh_token":"r1","expires_in":30}"#, now)?;
/// let session = Session::from_token_response(token, "https://ehr.example/fhir", "app", SessionKind::User, &Scopes::new());
/// let cell = SessionCell::new(session, None, Duration::from_secs(60));
/// // The margin is capped at half the 30-second lifetime: due 15 s before expiry.
/// assert!(cell.fresh_token(now).is_some());
/// let later = now + Duration::from_secs(20);
/// assert!(cell.fresh_token(later).is_none());
/// let Acquire::Renew(ticket) = cell.acquire(Need::Fresh(later)) else { unreachable!() };
/// assert!(matches!(cell.acquire(Need::Fresh(later)), Acquire::Wait(0)));
/// let mut renewed = ticket.base().session.clone();
/// renewed.access_token = "a2".into();
/// renewed.expires_at = Some(now + Duration::from_secs(3600));
/// cell.finish(ticket, Ok((renewed, None)))?;
/// assert_eq!(cell.fresh_token(later).unwrap().expose(), "a2");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SessionCell {
    shared: Arc<Shared>,
}

impl SessionCell {
    /// A cell holding `session` (at store `version`), renewing `margin` before expiry.
    pub fn new(session: Session, version: Option<u64>, margin: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                current: ArcSwap::from_pointee(Current::new(session, version, margin)),
                state: Mutex::default(),
                ended: Condvar::new(),
                margin,
            }),
        }
    }

    /// The renewal margin.
    pub fn margin(&self) -> Duration {
        self.shared.margin
    }

    /// The hit path: the access token when it is valid for longer than the margin at `now`.
    /// Takes no lock and writes no shared memory.
    #[inline]
    pub fn fresh_token(&self, now: SystemTime) -> Option<SecretString> {
        let current = self.shared.current.load();
        match current.fresh_until {
            Some(until) if now >= until => None,
            _ => Some(current.session.access_token.clone()),
        }
    }

    /// The current session.
    pub fn current(&self) -> Arc<Current> {
        self.shared.current.load_full()
    }

    /// Replaces the current session with one read from the store (renewed elsewhere).
    pub fn adopt(&self, session: Session, version: Option<u64>) {
        self.shared
            .current
            .store(Arc::new(Current::new(session, version, self.shared.margin)));
    }

    /// Ready, renew it yourself, wait for the renewal in flight, or give up.
    pub fn acquire(&self, need: Need<'_>) -> Acquire {
        let mut state = self.shared.lock();
        if let Some(dead) = &state.dead {
            return Acquire::Failed(dead.clone());
        }
        let current = self.shared.current.load_full();
        let renewal = match need {
            Need::Fresh(now) => current.session.renewal(now, self.shared.margin),
            Need::Rejected(token) if current.session.access_token == *token => {
                current.session.renewal_after_rejection()
            }
            Need::Rejected(_) => Renewal::UseCurrent,
        };
        match renewal {
            Renewal::UseCurrent => Acquire::Ready(current),
            Renewal::Reauthorize(error) => Acquire::Failed(error.into()),
            Renewal::Refresh | Renewal::NewAssertion if state.renewing => {
                Acquire::Wait(state.generation)
            }
            Renewal::Refresh | Renewal::NewAssertion => {
                state.renewing = true;
                Acquire::Renew(RenewTicket {
                    shared: self.shared.clone(),
                    base: current,
                    done: false,
                })
            }
        }
    }

    /// Records the renewal's outcome: success becomes the current session, failure is
    /// handed to the waiters (and the next call tries again), except "re-authorization
    /// required", which stays.
    pub fn finish(
        &self,
        mut ticket: RenewTicket,
        outcome: Result<(Session, Option<u64>), Error>,
    ) -> Result<Arc<Current>, Error> {
        ticket.done = true;
        let mut state = self.shared.lock();
        state.renewing = false;
        state.generation += 1;
        let result = match outcome {
            Ok((session, version)) => {
                let current = Arc::new(Current::new(session, version, self.shared.margin));
                self.shared.current.store(current.clone());
                state.last_error = None;
                Ok(current)
            }
            Err(error) => {
                if matches!(&error, Error::Session(e) if e.kind == SessionErrorKind::ReauthorizationRequired)
                {
                    state.dead = Some(error.clone());
                }
                state.last_error = Some(error.clone());
                Err(error)
            }
        };
        drop(state);
        self.shared.ended.notify_all();
        result
    }

    /// The outcome of renewal `generation` for a caller that waited on it: its error, or
    /// `None` (look again with [`acquire`](Self::acquire): renewed, still running, or
    /// abandoned).
    pub fn outcome_after(&self, generation: u64) -> Option<Error> {
        let state = self.shared.lock();
        (state.generation == generation + 1)
            .then(|| state.last_error.clone())
            .flatten()
    }

    /// Blocks until renewal `generation` ends; then as [`outcome_after`](Self::outcome_after).
    pub fn wait_blocking(&self, generation: u64) -> Option<Error> {
        let mut state = self.shared.lock();
        while state.generation == generation && state.renewing {
            state = self
                .shared
                .ended
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        (state.generation == generation + 1)
            .then(|| state.last_error.clone())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::Scopes;
    use crate::session::SessionKind;
    use crate::token_response::TokenResponse;

    fn session(expires_in: u64, now: SystemTime) -> Session {
        let body = format!(
            r#"{{"access_token":"a1","refresh_token":"r1","expires_in":{expires_in},"scope":"openid"}}"#
        );
        Session::from_token_response(
            TokenResponse::parse(200, body.as_bytes(), now).unwrap(),
            "https://ehr.example/fhir",
            "app",
            SessionKind::User,
            &Scopes::new(),
        )
    }

    /// A cell whose token is due at `now`: the first caller holds the renewal ticket, a
    /// second waits for renewal `generation`.
    fn renewing_with_a_waiter() -> (SessionCell, SystemTime, RenewTicket, u64) {
        let issued = SystemTime::now();
        let cell = SessionCell::new(session(10, issued), None, Duration::from_secs(60));
        let now = issued + Duration::from_secs(9);
        let Acquire::Renew(ticket) = cell.acquire(Need::Fresh(now)) else {
            panic!("a due token is renewed")
        };
        let Acquire::Wait(generation) = cell.acquire(Need::Fresh(now)) else {
            panic!("a second caller waits")
        };
        (cell, now, ticket, generation)
    }

    #[test]
    fn failures_go_to_the_waiters_then_the_next_call_retries() {
        let (cell, now, ticket, generation) = renewing_with_a_waiter();
        let err = Error::Usage("boom");
        assert!(cell.finish(ticket, Err(err.clone())).is_err());
        assert_eq!(cell.wait_blocking(generation), Some(err));
        // Not poisoned: the next caller renews again.
        assert!(matches!(cell.acquire(Need::Fresh(now)), Acquire::Renew(_)));
    }

    #[test]
    fn an_abandoned_ticket_lets_the_next_caller_renew() {
        let (cell, now, ticket, generation) = renewing_with_a_waiter();
        drop(ticket);
        assert_eq!(cell.wait_blocking(generation), None);
        assert!(matches!(cell.acquire(Need::Fresh(now)), Acquire::Renew(_)));
    }

    #[test]
    fn reauthorization_required_stays() {
        let issued = SystemTime::now();
        let cell = SessionCell::new(session(10, issued), None, Duration::from_secs(60));
        let now = issued + Duration::from_secs(9);
        let Acquire::Renew(ticket) = cell.acquire(Need::Fresh(now)) else {
            panic!()
        };
        let err: Error = crate::error::SessionError::reauthorization_required("refused").into();
        let _ = cell.finish(ticket, Err(err));
        assert!(
            matches!(cell.acquire(Need::Fresh(now)), Acquire::Failed(e) if e.is_reauthorization_required())
        );
    }

    #[test]
    fn the_hit_path_agrees_with_the_session_decision() {
        let issued = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let margin = Duration::from_secs(60);
        let value = session(300, issued);
        let cell = SessionCell::new(value.clone(), None, margin);
        for offset in [0, 1, 238, 239, 240, 241, 299, 300, 301, 10_000] {
            let now = issued + Duration::from_secs(offset);
            assert_eq!(
                cell.fresh_token(now).is_some(),
                value.is_fresh(now, margin),
                "at +{offset} s"
            );
        }
        assert!(
            cell.fresh_token(issued + Duration::from_secs(239))
                .is_some()
        );
        assert!(
            cell.fresh_token(issued + Duration::from_secs(240))
                .is_none()
        );
        // Unknown expiry: always fresh.
        let mut unknown = value;
        unknown.expires_at = None;
        let cell = SessionCell::new(unknown, None, margin);
        assert!(
            cell.fresh_token(issued + Duration::from_secs(1_000_000))
                .is_some()
        );
    }

    #[test]
    fn a_rejected_token_already_replaced_is_not_renewed_again() {
        let now = SystemTime::now();
        let cell = SessionCell::new(session(3600, now), None, Duration::from_secs(60));
        let old = cell.current().session.access_token.clone();
        assert!(cell.fresh_token(now).is_some());
        let Acquire::Renew(ticket) = cell.acquire(Need::Rejected(&old)) else {
            panic!("a rejected current token is renewed even when fresh")
        };
        let mut renewed = ticket.base().session.clone();
        renewed.access_token = "a2".into();
        cell.finish(ticket, Ok((renewed, Some(7)))).unwrap();
        match cell.acquire(Need::Rejected(&old)) {
            Acquire::Ready(current) => {
                assert_eq!(current.session.access_token.expose(), "a2");
                assert_eq!(current.version, Some(7));
            }
            other => panic!("{other:?}"),
        }
    }
}
