//! The client's cache of the server's JWK Set.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

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

    /// The re-fetch rate limit.
    pub fn policy(&self) -> JwksRefreshPolicy {
        self.policy
    }
}
