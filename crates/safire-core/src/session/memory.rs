//! [`MemoryStore`]: the in-process [`SessionStore`] (and [`AsyncSessionStore`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::store::{AsyncSessionStore, Lease, SessionStore, StoreError, StoreFuture, Versioned};

/// A session store in this process's memory: a map behind a mutex, with leases that expire
/// by themselves. Sessions in one process sharing it renew once between them; it is also
/// the reference implementation of the store contract (see [`SessionStore`]).
///
/// ```
/// use std::time::Duration;
/// use safire_core::{MemoryStore, SessionStore};
/// let store = MemoryStore::new();
/// let v1 = SessionStore::compare_and_swap(&store, "k", None, b"one")?.unwrap();
/// assert_eq!(SessionStore::compare_and_swap(&store, "k", None, b"two")?, None); // not absent any more
/// let v2 = SessionStore::compare_and_swap(&store, "k", Some(v1), b"two")?.unwrap();
/// assert!(v2 > v1);
/// assert_eq!(SessionStore::load(&store, "k")?.unwrap().bytes, b"two");
/// let lease = SessionStore::try_lock(&store, "k", Duration::from_secs(5))?.unwrap();
/// assert!(SessionStore::try_lock(&store, "k", Duration::from_secs(5))?.is_none());
/// SessionStore::release(&store, &lease)?;
/// assert!(SessionStore::try_lock(&store, "k", Duration::from_secs(5))?.is_some());
/// # Ok::<(), safire_core::StoreError>(())
/// ```
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    holders: AtomicU64,
}

#[derive(Default)]
struct State {
    values: HashMap<String, Versioned>,
    /// Versions keep increasing across deletes, so a stale writer never matches again.
    next_version: u64,
    locks: HashMap<String, (String, Instant)>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.lock().values.len();
        f.debug_struct("MemoryStore").field("keys", &keys).finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves consistent data (every write is one
        // statement): keep going rather than poisoning every session.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn do_load(&self, key: &str) -> Option<Versioned> {
        self.lock().values.get(key).cloned()
    }

    fn do_cas(&self, key: &str, expected: Option<u64>, bytes: &[u8]) -> Option<u64> {
        let mut state = self.lock();
        let current = state.values.get(key).map(|v| v.version);
        if current != expected {
            return None;
        }
        state.next_version += 1;
        let version = state.next_version;
        state.values.insert(
            key.to_owned(),
            Versioned {
                version,
                bytes: bytes.to_vec(),
            },
        );
        Some(version)
    }

    fn do_try_lock(&self, key: &str, ttl: Duration) -> Option<Lease> {
        let now = Instant::now();
        let mut state = self.lock();
        if let Some((_, until)) = state.locks.get(key)
            && *until > now
        {
            return None;
        }
        let holder = format!("memory-{}", self.holders.fetch_add(1, Ordering::Relaxed));
        let until = now.checked_add(ttl).unwrap_or(now);
        state.locks.insert(key.to_owned(), (holder.clone(), until));
        Some(Lease {
            key: key.to_owned(),
            holder,
            ttl,
        })
    }

    fn do_release(&self, lease: &Lease) {
        let mut state = self.lock();
        if state
            .locks
            .get(&lease.key)
            .is_some_and(|(holder, _)| *holder == lease.holder)
        {
            state.locks.remove(&lease.key);
        }
    }

    fn do_delete(&self, key: &str) {
        self.lock().values.remove(key);
    }
}

impl SessionStore for MemoryStore {
    fn load(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        Ok(self.do_load(key))
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<u64>,
        bytes: &[u8],
    ) -> Result<Option<u64>, StoreError> {
        Ok(self.do_cas(key, expected, bytes))
    }

    fn try_lock(&self, key: &str, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        Ok(self.do_try_lock(key, ttl))
    }

    fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        self.do_release(lease);
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.do_delete(key);
        Ok(())
    }
}

impl AsyncSessionStore for MemoryStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Versioned>> {
        let value = self.do_load(key);
        Box::pin(async move { Ok(value) })
    }

    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected: Option<u64>,
        bytes: &'a [u8],
    ) -> StoreFuture<'a, Option<u64>> {
        let version = self.do_cas(key, expected, bytes);
        Box::pin(async move { Ok(version) })
    }

    fn try_lock<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, Option<Lease>> {
        let lease = self.do_try_lock(key, ttl);
        Box::pin(async move { Ok(lease) })
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> StoreFuture<'a, ()> {
        self.do_release(lease);
        Box::pin(async { Ok(()) })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        self.do_delete(key);
        Box::pin(async { Ok(()) })
    }
}
