//! The client's cache of the server's JWK Set.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::cache::{FetchTicket, Flight, Lookup, SharedFetch};
use crate::error::Error;
use crate::oidc::{JwksRefreshPolicy, ServerJwks};

/// How long a fetched JWK Set is used before it is fetched again (default one hour): keys the
/// server withdrew stop being trusted within this time.
pub const DEFAULT_JWKS_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Debug)]
struct Entry {
    uri: String,
    jwks: Arc<ServerJwks>,
    expires_at: Option<SystemTime>,
}

#[derive(Debug, Default)]
struct State {
    entry: Option<Entry>,
    /// When the last re-fetch for an unknown `kid` was granted.
    last_refetch: Option<SystemTime>,
}

/// One client's cache of the authorization server's JWK Set, parsed once; cheap to clone
/// (clones share it). It does no I/O: [`ServerKeysFlow`](crate::ServerKeysFlow) and
/// [`CodeExchangeFlow`](crate::CodeExchangeFlow) fetch through the driver and store here.
///
/// The first fetch is single-flight for the transports: [`at`](Self::at) is a
/// [`SharedFetch`] cache, so concurrent callers that find it cold share one fetch.
///
/// Re-fetching for an unknown `kid` is rate-limited: [`claim_refetch`](Self::claim_refetch)
/// grants one re-fetch, then none until [`JwksRefreshPolicy::min_interval`] has passed, however
/// many tokens with unknown `kid`s arrive (concurrent callers included).
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, UNIX_EPOCH};
/// use safire_core::{JwksCache, JwksRefreshPolicy, ServerJwks};
/// let cache = JwksCache::new(Duration::from_secs(3600), JwksRefreshPolicy::default());
/// let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
/// assert!(cache.get("https://as.example/jwks", t0).is_none());
/// cache.store("https://as.example/jwks", Arc::new(ServerJwks::parse(br#"{"keys":[]}"#).unwrap()), t0);
/// assert!(cache.get("https://as.example/jwks", t0).is_some());
/// assert!(cache.get("https://other.example/jwks", t0).is_none(), "another server's keys");
/// assert!(cache.get("https://as.example/jwks", t0 + Duration::from_secs(3600)).is_none(), "expired");
/// // A stream of unknown kids: one re-fetch per 30 s, not one per token.
/// assert!(cache.claim_refetch(t0));
/// assert!(!cache.claim_refetch(t0 + Duration::from_secs(1)));
/// assert!(!cache.claim_refetch(t0 + Duration::from_secs(29)));
/// assert!(cache.claim_refetch(t0 + Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone)]
pub struct JwksCache {
    state: Arc<Mutex<State>>,
    flight: Arc<Flight>,
    lifetime: Duration,
    policy: JwksRefreshPolicy,
}

impl Default for JwksCache {
    fn default() -> Self {
        Self::new(DEFAULT_JWKS_LIFETIME, JwksRefreshPolicy::default())
    }
}

impl JwksCache {
    /// A cache whose fetched sets are used for `lifetime`, re-fetched for unknown `kid`s
    /// under `policy`.
    pub fn new(lifetime: Duration, policy: JwksRefreshPolicy) -> Self {
        Self {
            state: Arc::default(),
            flight: Arc::default(),
            lifetime,
            policy,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The set fetched from `uri`, while it is fresh.
    pub fn get(&self, uri: &str, now: SystemTime) -> Option<Arc<ServerJwks>> {
        let state = self.lock();
        let entry = state.entry.as_ref()?;
        (entry.uri == uri && entry.expires_at.is_none_or(|expiry| now < expiry))
            .then(|| entry.jwks.clone())
    }

    /// Keeps `jwks`, fetched from `uri` at `now`, for the cache's lifetime.
    pub fn store(&self, uri: &str, jwks: Arc<ServerJwks>, now: SystemTime) {
        self.lock().entry = Some(Entry {
            uri: uri.to_owned(),
            jwks,
            expires_at: now.checked_add(self.lifetime),
        });
    }

    /// Asks to re-fetch the set because a token named an unknown `kid`: true (and the
    /// interval starts now) when none was granted within the policy's interval.
    pub fn claim_refetch(&self, now: SystemTime) -> bool {
        let mut state = self.lock();
        let allowed = state
            .last_refetch
            .is_none_or(|last| self.policy.should_refetch(last, now));
        if allowed {
            state.last_refetch = Some(now);
        }
        allowed
    }

    /// The set at `uri` as a [`SharedFetch`] cache: what a transport fetches through so that
    /// concurrent first callers share one request.
    ///
    /// ```
    /// use std::{sync::Arc, time::SystemTime};
    /// use safire_core::{JwksCache, ServerJwks};
    /// use safire_core::transport::{Lookup, SharedFetch};
    /// let cache = JwksCache::default();
    /// let keys = cache.at("https://as.example/jwks");
    /// let now = SystemTime::now();
    /// let Lookup::Fetch(ticket) = keys.lookup(now) else { unreachable!() };
    /// assert!(matches!(keys.lookup(now), Lookup::Wait(0)), "one fetch at a time");
    /// let set = Arc::new(ServerJwks::parse(br#"{"keys":[]}"#).unwrap());
    /// keys.finish(ticket, Ok(set), now)?;
    /// assert!(cache.get("https://as.example/jwks", now).is_some());
    /// # Ok::<(), safire_core::Error>(())
    /// ```
    pub fn at(&self, uri: impl Into<String>) -> JwksAt {
        JwksAt {
            cache: self.clone(),
            uri: uri.into(),
        }
    }

    /// The re-fetch rate limit.
    pub fn policy(&self) -> JwksRefreshPolicy {
        self.policy
    }
}

/// A [`JwksCache`] for one `jwks_uri`, fetched single-flight ([`JwksCache::at`]).
#[derive(Debug, Clone)]
pub struct JwksAt {
    cache: JwksCache,
    uri: String,
}

impl JwksAt {
    /// The set, whatever its age (a waiter takes what the fetch it waited for stored).
    fn stored(&self) -> Option<Arc<ServerJwks>> {
        let state = self.cache.lock();
        let entry = state.entry.as_ref()?;
        (entry.uri == self.uri).then(|| entry.jwks.clone())
    }
}

impl SharedFetch for JwksAt {
    type Value = Arc<ServerJwks>;

    fn lookup(&self, now: SystemTime) -> Lookup<Arc<ServerJwks>> {
        self.cache.flight.lookup(|| self.cache.get(&self.uri, now))
    }

    fn finish(
        &self,
        ticket: FetchTicket,
        outcome: Result<Arc<ServerJwks>, Error>,
        now: SystemTime,
    ) -> Result<Arc<ServerJwks>, Error> {
        if let Ok(jwks) = &outcome {
            self.cache.store(&self.uri, jwks.clone(), now);
        }
        self.cache
            .flight
            .finish(ticket, outcome.as_ref().err().cloned());
        outcome
    }

    fn outcome_after(
        &self,
        generation: u64,
        _now: SystemTime,
    ) -> Option<Result<Arc<ServerJwks>, Error>> {
        self.cache
            .flight
            .outcome_after(generation, || self.stored())
    }

    fn wait_blocking_until(
        &self,
        generation: u64,
        deadline: Instant,
    ) -> Result<Option<Result<Arc<ServerJwks>, Error>>, ()> {
        self.cache
            .flight
            .wait_until(generation, Some(deadline), || self.stored())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// What a blocking transport does with a [`SharedFetch`] cache.
    fn get(keys: &JwksAt, fetch: impl Fn() -> Result<Arc<ServerJwks>, Error>) -> Arc<ServerJwks> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match keys.lookup(SystemTime::UNIX_EPOCH) {
                Lookup::Ready(jwks) => return jwks,
                Lookup::Fetch(ticket) => {
                    return keys
                        .finish(ticket, fetch(), SystemTime::UNIX_EPOCH)
                        .unwrap();
                }
                Lookup::Wait(generation) => {
                    if let Some(outcome) = keys.wait_blocking_until(generation, deadline).unwrap() {
                        return outcome.unwrap();
                    }
                }
            }
        }
    }

    #[test]
    fn sixteen_cold_callers_share_one_fetch() {
        let cache = JwksCache::default();
        let keys = cache.at("https://as.example/jwks");
        let fetches = AtomicUsize::new(0);
        let fetch = || {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok(Arc::new(ServerJwks::parse(br#"{"keys":[]}"#).unwrap()))
        };
        // A first caller holds the fetch while sixteen others arrive with the cache cold.
        let Lookup::Fetch(ticket) = keys.lookup(SystemTime::UNIX_EPOCH) else {
            panic!("the cold cache hands out the fetch")
        };
        let fetched = std::thread::scope(|scope| {
            let callers: Vec<_> = (0..16).map(|_| scope.spawn(|| get(&keys, fetch))).collect();
            let first = keys
                .finish(ticket, fetch(), SystemTime::UNIX_EPOCH)
                .unwrap();
            for caller in callers {
                assert!(Arc::ptr_eq(&caller.join().unwrap(), &first));
            }
            first
        });
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            1,
            "one fetch for seventeen callers"
        );
        assert!(Arc::ptr_eq(
            &cache
                .get("https://as.example/jwks", SystemTime::UNIX_EPOCH)
                .unwrap(),
            &fetched
        ));
        assert!(
            matches!(
                cache
                    .at("https://other.example/jwks")
                    .lookup(SystemTime::UNIX_EPOCH),
                Lookup::Fetch(_)
            ),
            "another server's set is fetched on its own"
        );
    }

    #[test]
    fn a_failed_fetch_is_shared_with_its_waiters_and_not_kept() {
        let cache = JwksCache::default();
        let keys = cache.at("https://as.example/jwks");
        let Lookup::Fetch(ticket) = keys.lookup(SystemTime::UNIX_EPOCH) else {
            panic!()
        };
        let Lookup::Wait(generation) = keys.lookup(SystemTime::UNIX_EPOCH) else {
            panic!()
        };
        let failure = Error::Usage("unreachable");
        assert!(
            keys.finish(ticket, Err(failure.clone()), SystemTime::UNIX_EPOCH)
                .is_err()
        );
        let shared = keys.outcome_after(generation, SystemTime::UNIX_EPOCH);
        assert_eq!(shared.map(|outcome| outcome.err()), Some(Some(failure)));
        assert!(matches!(
            keys.lookup(SystemTime::UNIX_EPOCH),
            Lookup::Fetch(_)
        ));
    }
}
