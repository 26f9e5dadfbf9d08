//! The caches the clients share — discovered metadata here, the server's JWK Set in
//! [`JwksCache`](crate::JwksCache) — and the one rule they fetch by: one fetch at a time, its
//! outcome (success or failure) handed to every caller that waited for it.
//!
//! Without sharing failures, callers queued behind a failing fetch would each retry in turn and
//! wait one timeout apiece. The caches do no I/O: the caller that gets a [`FetchTicket`] does
//! the fetch; the others wait ([`SharedFetch::wait_blocking_until`], or an async notification
//! the transport pairs with [`SharedFetch::outcome_after`]). A transport writes that loop once,
//! generic over [`SharedFetch`].

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::error::Error;
use crate::metadata::SmartMetadata;

/// What a caller should do to get a cached value.
#[derive(Debug)]
pub enum Lookup<T = Arc<SmartMetadata>> {
    /// It is cached.
    Ready(T),
    /// Nobody is fetching: fetch it, then hand the result to [`SharedFetch::finish`].
    Fetch(FetchTicket),
    /// Another caller is fetching; wait for the fetch numbered here to end.
    Wait(u64),
}

/// The right to fetch. Dropping it unfinished (a cancelled future) lets the next caller fetch.
#[derive(Debug)]
pub struct FetchTicket {
    flight: Arc<Flight>,
    done: bool,
}

impl Drop for FetchTicket {
    fn drop(&mut self) {
        if !self.done {
            self.flight.end(None);
        }
    }
}

/// A cache filled by one fetch at a time, whose outcome every waiting caller gets. A
/// transport's single loop (look up; fetch with the ticket, or wait) serves every such cache:
/// [`MetadataCache`] and [`JwksCache::at`](crate::JwksCache::at).
pub trait SharedFetch {
    /// What the cache holds.
    type Value;

    /// Cached, fetch it yourself, or wait for the fetch in flight.
    fn lookup(&self, now: SystemTime) -> Lookup<Self::Value>;

    /// Records the fetch's outcome (success is kept, failure only handed to the waiters) and
    /// wakes blocking waiters; async transports wake theirs after this returns.
    fn finish(
        &self,
        ticket: FetchTicket,
        outcome: Result<Self::Value, Error>,
        now: SystemTime,
    ) -> Result<Self::Value, Error>;

    /// The outcome of fetch `generation` once it has ended: the value, its error, or `None`
    /// while it runs — and `None` too when it was abandoned, so the caller looks up again.
    fn outcome_after(&self, generation: u64, now: SystemTime)
    -> Option<Result<Self::Value, Error>>;

    /// Blocks until fetch `generation` ends, then as [`outcome_after`](Self::outcome_after);
    /// `Err(())` when it has not ended by `deadline`.
    #[allow(clippy::result_unit_err)] // the only failure is "the deadline passed"
    fn wait_blocking_until(
        &self,
        generation: u64,
        deadline: Instant,
    ) -> Result<Option<Result<Self::Value, Error>>, ()>;
}

/// Who fetches: the single-flight state a cache keeps beside its value.
#[derive(Debug, Default)]
pub(crate) struct Flight {
    state: Mutex<FlightState>,
    ended: Condvar,
}

#[derive(Debug, Default)]
struct FlightState {
    fetching: bool,
    /// Counts finished (or abandoned) fetches.
    generation: u64,
    /// The error of the last fetch, for the callers that waited on it.
    last_error: Option<Error>,
}

impl Flight {
    fn lock(&self) -> MutexGuard<'_, FlightState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `cached` (the cache's usable value) is read under the flight's lock, so a fetch that
    /// ends in between is seen rather than repeated.
    pub(crate) fn lookup<T>(self: &Arc<Self>, cached: impl FnOnce() -> Option<T>) -> Lookup<T> {
        let mut state = self.lock();
        if let Some(value) = cached() {
            return Lookup::Ready(value);
        }
        if state.fetching {
            return Lookup::Wait(state.generation);
        }
        state.fetching = true;
        Lookup::Fetch(FetchTicket {
            flight: self.clone(),
            done: false,
        })
    }

    /// Ends `ticket`'s fetch (its success already stored by the cache), sharing `error`.
    pub(crate) fn finish(&self, mut ticket: FetchTicket, error: Option<Error>) {
        ticket.done = true;
        self.end(error);
    }

    fn end(&self, error: Option<Error>) {
        let mut state = self.lock();
        state.fetching = false;
        state.generation += 1;
        state.last_error = error;
        drop(state);
        self.ended.notify_all();
    }

    pub(crate) fn outcome_after<T>(
        &self,
        generation: u64,
        cached: impl FnOnce() -> Option<T>,
    ) -> Option<Result<T, Error>> {
        outcome(&self.lock(), generation, cached)
    }

    pub(crate) fn wait_until<T>(
        &self,
        generation: u64,
        deadline: Option<Instant>,
        cached: impl FnOnce() -> Option<T>,
    ) -> Result<Option<Result<T, Error>>, ()> {
        let mut state = self.lock();
        while state.generation == generation && state.fetching {
            state = match deadline {
                None => self
                    .ended
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(());
                    }
                    self.ended
                        .wait_timeout(state, left)
                        .map(|(guard, _)| guard)
                        .unwrap_or_else(|poisoned| poisoned.into_inner().0)
                }
            };
        }
        Ok(outcome(&state, generation, cached))
    }
}

fn outcome<T>(
    state: &FlightState,
    generation: u64,
    cached: impl FnOnce() -> Option<T>,
) -> Option<Result<T, Error>> {
    if state.generation == generation && state.fetching {
        return None; // still running (a wake-up meant for another cache)
    }
    if state.generation == generation + 1
        && let Some(error) = &state.last_error
    {
        return Some(Err(error.clone()));
    }
    cached().map(Ok)
}

#[derive(Debug, Default)]
struct State {
    metadata: Option<Arc<SmartMetadata>>,
    /// When the cached metadata must be fetched again; `None`: never (supplied by the user).
    expires_at: Option<SystemTime>,
}

/// One client's metadata cache; cheap to clone (clones share it).
///
/// ```
/// use safire_core::transport::{Lookup, MetadataCache, SharedFetch};
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
    state: Arc<Mutex<State>>,
    flight: Arc<Flight>,
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
            state: Arc::default(),
            flight: Arc::default(),
            lifetime,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Uses `metadata` (obtained elsewhere) from now on, without expiry and without discovery.
    pub fn set(&self, metadata: Arc<SmartMetadata>) {
        let mut state = self.lock();
        state.metadata = Some(metadata);
        state.expires_at = None;
    }

    /// The metadata, if a fetch has succeeded.
    pub fn cached(&self) -> Option<Arc<SmartMetadata>> {
        self.lock().metadata.clone()
    }

    fn fresh(&self, now: SystemTime) -> Option<Arc<SmartMetadata>> {
        let state = self.lock();
        state
            .metadata
            .clone()
            .filter(|_| state.expires_at.is_none_or(|expiry| now < expiry))
    }
}

impl SharedFetch for MetadataCache {
    type Value = Arc<SmartMetadata>;

    fn lookup(&self, now: SystemTime) -> Lookup<Arc<SmartMetadata>> {
        self.flight.lookup(|| self.fresh(now))
    }

    fn finish(
        &self,
        ticket: FetchTicket,
        outcome: Result<Arc<SmartMetadata>, Error>,
        now: SystemTime,
    ) -> Result<Arc<SmartMetadata>, Error> {
        let mut state = self.lock();
        match &outcome {
            Ok(metadata) => {
                state.metadata = Some(metadata.clone());
                state.expires_at = now.checked_add(self.lifetime);
            }
            // Expired metadata is not served after a failed re-fetch: the failure is shared
            // with the waiters and the next call tries again.
            Err(_) => state.metadata = None,
        }
        drop(state);
        self.flight.finish(ticket, outcome.as_ref().err().cloned());
        outcome
    }

    fn outcome_after(
        &self,
        generation: u64,
        _now: SystemTime,
    ) -> Option<Result<Arc<SmartMetadata>, Error>> {
        self.flight.outcome_after(generation, || self.cached())
    }

    fn wait_blocking_until(
        &self,
        generation: u64,
        deadline: Instant,
    ) -> Result<Option<Result<Arc<SmartMetadata>, Error>>, ()> {
        self.flight
            .wait_until(generation, Some(deadline), || self.cached())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{NetworkError, NetworkErrorKind};

    fn wait(cache: &MetadataCache, generation: u64) -> Option<Result<Arc<SmartMetadata>, Error>> {
        let deadline = Instant::now() + Duration::from_secs(60);
        cache.wait_blocking_until(generation, deadline).unwrap()
    }

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
        assert!(
            cache
                .outcome_after(generation, SystemTime::UNIX_EPOCH)
                .is_none(),
            "still running"
        );
        let waiter = {
            let cache = cache.clone();
            std::thread::spawn(move || wait(&cache, generation))
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
            wait(&cache, generation).is_none(),
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
