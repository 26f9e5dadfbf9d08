//! The discovered-metadata cache the clients share: one fetch at a time, its outcome (success
//! or failure) handed to every caller that waited for it, success kept for the client's life.
//!
//! Without sharing failures, callers queued behind a failing fetch would each retry in turn and
//! wait one timeout apiece. The cache does no I/O: the caller that gets a [`FetchTicket`] does
//! the fetch; the others wait ([`MetadataCache::wait_blocking`], or an async notification the
//! transport pairs with [`MetadataCache::outcome_after`]).

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

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
/// use safire_core::cache::{Lookup, MetadataCache};
/// use safire_core::SmartMetadata;
/// let cache = MetadataCache::default();
/// let Lookup::Fetch(ticket) = cache.lookup() else { unreachable!() };
/// assert!(matches!(cache.lookup(), Lookup::Wait(0)));
/// let metadata = cache.finish(ticket, Ok(SmartMetadata::from_json_object(Default::default())))?;
/// assert!(matches!(cache.lookup(), Lookup::Ready(m) if std::sync::Arc::ptr_eq(&m, &metadata)));
/// # Ok::<(), safire_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MetadataCache {
    shared: Arc<Shared>,
}

impl MetadataCache {
    /// The metadata, if a fetch has succeeded.
    pub fn cached(&self) -> Option<Arc<SmartMetadata>> {
        self.shared.lock().metadata.clone()
    }

    /// Cached, fetch it yourself, or wait for the fetch in flight.
    pub fn lookup(&self) -> Lookup {
        let mut state = self.shared.lock();
        if let Some(metadata) = &state.metadata {
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
        outcome: Result<SmartMetadata, Error>,
    ) -> Result<Arc<SmartMetadata>, Error> {
        ticket.done = true;
        let mut state = self.shared.lock();
        state.fetching = false;
        state.generation += 1;
        let result = outcome.map(Arc::new);
        match &result {
            Ok(metadata) => {
                state.metadata = Some(metadata.clone());
                state.last_error = None;
            }
            Err(error) => state.last_error = Some(error.clone()),
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
}

fn outcome(state: &State, generation: u64) -> Option<Result<Arc<SmartMetadata>, Error>> {
    if let Some(metadata) = &state.metadata {
        return Some(Ok(metadata.clone()));
    }
    if state.generation == generation + 1 {
        return state.last_error.clone().map(Err);
    }
    None
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
        let Lookup::Fetch(ticket) = cache.lookup() else {
            panic!()
        };
        let Lookup::Wait(generation) = cache.lookup() else {
            panic!()
        };
        assert!(cache.outcome_after(generation).is_none(), "still running");
        let waiter = {
            let cache = cache.clone();
            std::thread::spawn(move || cache.wait_blocking(generation))
        };
        assert!(cache.finish(ticket, Err(failure())).is_err());
        let shared = waiter.join().unwrap().expect("the fetch ended");
        assert_eq!(shared.unwrap_err(), failure());
        assert!(
            matches!(cache.lookup(), Lookup::Fetch(_)),
            "failures are not cached"
        );
    }

    #[test]
    fn an_abandoned_fetch_lets_the_next_caller_fetch() {
        let cache = MetadataCache::default();
        let Lookup::Fetch(ticket) = cache.lookup() else {
            panic!()
        };
        let Lookup::Wait(generation) = cache.lookup() else {
            panic!()
        };
        drop(ticket);
        assert!(
            cache.wait_blocking(generation).is_none(),
            "no outcome: look up again"
        );
        assert!(matches!(cache.lookup(), Lookup::Fetch(_)));
    }
}
