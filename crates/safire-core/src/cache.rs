//! The discovered-metadata cache the clients share: one fetch at a time, its outcome (success
//! or failure) handed to every caller that waited for it, success kept for the client's life.
//!
//! Without sharing failures, callers queued behind a failing fetch would each retry in turn and
//! wait one timeout apiece. The cache does no I/O: the caller that gets a [`FetchTicket`] does
//! the fetch; the others wait ([`MetadataCache::wait_blocking`], or an async notification the
//! transport pairs with [`MetadataCache::outcome_after`]).

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::error::Error;
use crate::metadata::SmartMetadata;

/// What a caller should do to get the metadata.
#[derive(Debug)]
pub enum Lookup {
    /// It is cached.
    Ready(Arc<SmartMetadata>),
    /// Nobody is fetching: fetch it, then hand the result to [`MetadataCache::finish`].
    Fetch(FetchTicket),
    /// Another caller is fetching; wait for the fetch numbered here to end.
    Wait(u64),
}

/// The right to fetch. Dropping it unfinished (a cancelled future) lets the next caller fetch.
#[derive(Debug)]
pub struct FetchTicket {
    cache: Arc<Shared>,
    done: bool,
}

impl Drop for FetchTicket {
    fn drop(&mut self) {
        if !self.done {
            let mut state = self.cache.lock();
            state.fetching = false;
            state.generation += 1;
            state.last_error = None;
            drop(state);
            self.cache.ended.notify_all();
        }
    }
}

#[derive(Debug, Default)]
struct State {
    metadata: Option<Arc<SmartMetadata>>,
    /// When the cached metadata must be fetched again; `None`: never (supplied by the user).
    expires_at: Option<SystemTime>,
    fetching: bool,
    /// Counts finished (or abandoned) fetches.
    generation: u64,
    /// The error of the last fetch, for the callers that waited on it.
    last_error: Option<Error>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    ended: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One client's metadata cache; cheap to clone (clones share it).
///
/// ```
/// use safire_core::transport::{Lookup, MetadataCache};
/// use safire_core::SmartMetadata;
/// use std::{sync::Arc, time::SystemTime};
/// let now = SystemTime::now();
/// let cache = MetadataCache::default();
/// let Lookup::Fetch(ticket) = cache.lookup(now) else { unreachable!() };
/// assert!(matches!(cache.lookup(now), Lookup::Wait(0)));
/// let fetched = Arc::new(SmartMetadata::from_json_object(Default::default()));
/// let metadata = cache.finish(ticket, Ok(fetched), now)?;
/// assert!(matches!(cache.lookup(now), Lookup::Ready(m) if Arc::ptr_eq(&m, &metadata)));
/// # Ok::<(), safire_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MetadataCache {
    shared: Arc<Shared>,
    lifetime: Duration,
}

impl Default for MetadataCache {
    fn default() -> Self {
        Self::new(DEFAULT_METADATA_LIFETIME)
    }
}

/// How long discovered metadata is used before it is fetched again: a server's endpoints and
/// capabilities can change, and a long-running service must notice.
pub const DEFAULT_METADATA_LIFETIME: Duration = Duration::from_secs(3600);

impl MetadataCache {
    /// A cache whose fetched metadata is used for `lifetime`.
    pub fn new(lifetime: Duration) -> Self {
        Self {
            shared: Arc::default(),
            lifetime,
        }
    }

    /// Uses `metadata` (obtained elsewhere) from now on, without expiry and without discovery.
    pub fn set(&self, metadata: Arc<SmartMetadata>) {
        let mut state = self.shared.lock();
        state.metadata = Some(metadata);
        state.expires_at = None;
        state.last_error = None;
    }

    /// The metadata, if a fetch has succeeded.
    pub fn cached(&self) -> Option<Arc<SmartMetadata>> {
        self.shared.lock().metadata.clone()
    }

    /// Cached, fetch it yourself, or wait for the fetch in flight.
    pub fn lookup(&self, now: SystemTime) -> Lookup {
        let mut state = self.shared.lock();
        if let Some(metadata) = &state.metadata
            && state.expires_at.is_none_or(|expiry| now < expiry)
        {
            return Lookup::Ready(metadata.clone());
        }
        if state.fetching {
            return Lookup::Wait(state.generation);
        }
        state.fetching = true;
        Lookup::Fetch(FetchTicket {
            cache: self.shared.clone(),
            done: false,
        })
    }

    /// Records the fetch's outcome (success is kept, failure only handed to the waiters) and
    /// wakes blocking waiters; async transports wake theirs after this returns.
    pub fn finish(
        &self,
        mut ticket: FetchTicket,
        outcome: Result<Arc<SmartMetadata>, Error>,
        now: SystemTime,
    ) -> Result<Arc<SmartMetadata>, Error> {
        ticket.done = true;
        let mut state = self.shared.lock();
        state.fetching = false;
        state.generation += 1;
        let result = outcome;
        match &result {
            Ok(metadata) => {
                state.metadata = Some(metadata.clone());
                state.expires_at = now.checked_add(self.lifetime);
                state.last_error = None;
            }
            Err(error) => {
                // Expired metadata is not served after a failed re-fetch: the failure is
                // shared with the waiters and the next call tries again.
                state.metadata = None;
                state.last_error = Some(error.clone());
            }
        }
        drop(state);
        self.shared.ended.notify_all();
        result
    }

    /// The outcome of fetch `generation` once it has ended: the metadata, its error, or `None`
    /// while it runs — and `None` too when it was abandoned, so the caller looks up again.
    pub fn outcome_after(&self, generation: u64) -> Option<Result<Arc<SmartMetadata>, Error>> {
        let state = self.shared.lock();
        outcome(&state, generation)
    }

    /// Blocks until fetch `generation` ends; then as [`outcome_after`](Self::outcome_after).
    pub fn wait_blocking(&self, generation: u64) -> Option<Result<Arc<SmartMetadata>, Error>> {
        let mut state = self.shared.lock();
        while state.generation == generation && state.fetching {
            state = self
                .shared
                .ended
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        outcome(&state, generation)
    }

    /// [`wait_blocking`](Self::wait_blocking) that gives up at `deadline`: `Err(())` when the
    /// fetch has not ended by then.
    #[allow(clippy::result_unit_err)] // the only failure is "the deadline passed"
    pub fn wait_blocking_until(
        &self,
        generation: u64,
        deadline: std::time::Instant,
    ) -> Result<Option<Result<Arc<SmartMetadata>, Error>>, ()> {
        let mut state = self.shared.lock();
        while state.generation == generation && state.fetching {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(());
            }
            state = self
                .shared
                .ended
                .wait_timeout(state, left)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
        Ok(outcome(&state, generation))
    }
}

fn outcome(state: &State, generation: u64) -> Option<Result<Arc<SmartMetadata>, Error>> {
    if state.generation == generation + 1
        && let Some(error) = &state.last_error
    {
        return Some(Err(error.clone()));
    }
    state.metadata.clone().map(Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{NetworkError, NetworkErrorKind};

    fn failure() -> Error {
        NetworkError::new(NetworkErrorKind::Timeout, "The request timed out after 1s").into()
    }

    #[test]
    fn waiters_share_a_failure_and_the_next_call_retries() {
        let cache = MetadataCache::default();
        let Lookup::Fetch(ticket) = cache.lookup(SystemTime::UNIX_EPOCH) else {
            panic!()
        };
        let Lookup::Wait(generation) = cache.lookup(SystemTime::UNIX_EPOCH) else {
            panic!()
        };
        assert!(cache.outcome_after(generation).is_none(), "still running");
        let waiter = {
            let cache = cache.clone();
            std::thread::spawn(move || cache.wait_blocking(generation))
        };
        assert!(
            cache
                .finish(ticket, Err(failure()), SystemTime::UNIX_EPOCH)
                .is_err()
        );
        let shared = waiter.join().unwrap().expect("the fetch ended");
        assert_eq!(shared.unwrap_err(), failure());
        assert!(
            matches!(cache.lookup(SystemTime::UNIX_EPOCH), Lookup::Fetch(_)),
            "failures are not cached"
        );
    }

    #[test]
    fn an_abandoned_fetch_lets_the_next_caller_fetch() {
        let cache = MetadataCache::default();
        let Lookup::Fetch(ticket) = cache.lookup(SystemTime::UNIX_EPOCH) else {
            panic!()
        };
        let Lookup::Wait(generation) = cache.lookup(SystemTime::UNIX_EPOCH) else {
            panic!()
        };
        drop(ticket);
        assert!(
            cache.wait_blocking(generation).is_none(),
            "no outcome: look up again"
        );
        assert!(matches!(
            cache.lookup(SystemTime::UNIX_EPOCH),
            Lookup::Fetch(_)
        ));
    }

    fn metadata() -> Arc<SmartMetadata> {
        Arc::new(SmartMetadata::from_json_object(serde_json::Map::new()))
    }

    #[test]
    fn fetched_metadata_expires_and_supplied_metadata_does_not() {
        let cache = MetadataCache::new(Duration::from_secs(60));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let Lookup::Fetch(ticket) = cache.lookup(t0) else {
            panic!()
        };
        cache.finish(ticket, Ok(metadata()), t0).unwrap();
        assert!(matches!(
            cache.lookup(t0 + Duration::from_secs(59)),
            Lookup::Ready(_)
        ));
        let Lookup::Fetch(ticket) = cache.lookup(t0 + Duration::from_secs(60)) else {
            panic!("expired metadata is fetched again")
        };
        assert!(
            cache
                .finish(ticket, Err(failure()), t0 + Duration::from_secs(60))
                .is_err()
        );
        assert!(
            cache.cached().is_none(),
            "a failed re-fetch drops stale metadata"
        );
        cache.set(metadata());
        assert!(matches!(
            cache.lookup(t0 + Duration::from_secs(1_000_000)),
            Lookup::Ready(_)
        ));
    }
}
