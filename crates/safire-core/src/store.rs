//! The storage seam for sessions: where a session value lives between uses, and how several
//! threads, tasks or processes agree on which one renews it.
//!
//! The core does no I/O: these traits are what a transport's session type calls. An
//! in-process store (a map behind a mutex) gives single-flight within one process; a shared
//! store (Redis, in `safire-redis`) gives it across a fleet. The hit path — a token that is
//! still fresh — never touches the store: sessions keep an in-memory copy.
//!
//! The contract every store keeps:
//! - [`SessionStore::load`] returns the value and its version, or `None` when absent.
//! - [`SessionStore::compare_and_swap`] writes only when the stored version is still the one
//!   the caller read (`None`: the key must be absent) and returns the new version; when
//!   another writer got there first it returns `Ok(None)` and writes nothing. Exactly one of
//!   several concurrent writers from the same version wins.
//! - [`SessionStore::try_lock`] takes a lease that expires by itself after `ttl` (a holder
//!   that dies loses it); `Ok(None)` while another holder has it. [`SessionStore::release`]
//!   gives it back early, and only if it is still the caller's.
//! - Values are opaque bytes (a serialized session). A store that leaves the process must
//!   protect them (the Redis store encrypts them); key names must carry no token or patient
//!   identifier.
//! - Failures are [`StoreError`]s, never panics or hangs: a store bounds its own waits.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A stored value with the version it was written at.
#[derive(Clone, PartialEq, Eq)]
pub struct Versioned {
    /// Increases with every write of the key.
    pub version: u64,
    /// The value (a serialized session; secrets inside).
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Versioned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Versioned")
            .field("version", &self.version)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// A lock on one key that expires by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The key the lease is on.
    pub key: String,
    /// What proves the lease is this holder's (random; release compares it).
    pub holder: String,
    /// How long the lease lasts from when it was taken.
    pub ttl: Duration,
}

/// What kind of store failure a [`StoreError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store cannot be reached (connection refused, closed, restarting).
    Unavailable,
    /// The store did not answer in time.
    Timeout,
    /// A stored value cannot be read back (corrupt, or encrypted with another key).
    Corrupt,
    /// Anything else the store reported.
    Other,
}

/// A session store failed. Its message never contains a stored value or a token.
#[derive(Debug, Clone, thiserror::Error)]
#[error("Session store failed: {message}")]
#[non_exhaustive]
pub struct StoreError {
    /// What kind of failure.
    pub kind: StoreErrorKind,
    /// A human description.
    pub message: String,
    #[source]
    source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// A failure of `kind`.
    ///
    /// ```
    /// use safire_core::{StoreError, StoreErrorKind};
    /// let err = StoreError::new(StoreErrorKind::Timeout, "no answer within 200 ms");
    /// assert_eq!(err.to_string(), "Session store failed: no answer within 200 ms");
    /// ```
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The same error with its cause kept as `source()`.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(std::sync::Arc::new(source));
        self
    }
}

/// A blocking session store (for `safire-ureq`). See the module docs for the contract.
pub trait SessionStore: Send + Sync {
    /// The value under `key` and its version, or `None`.
    fn load(&self, key: &str) -> Result<Option<Versioned>, StoreError>;

    /// Writes `bytes` if the stored version is still `expected` (`None`: absent). Returns the
    /// new version, or `None` when another writer changed the key first.
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<u64>,
        bytes: &[u8],
    ) -> Result<Option<u64>, StoreError>;

    /// Takes the renewal lock on `key` for `ttl`, or `None` while someone else holds it.
    fn try_lock(&self, key: &str, ttl: Duration) -> Result<Option<Lease>, StoreError>;

    /// Releases `lease` if it is still held by its holder.
    fn release(&self, lease: &Lease) -> Result<(), StoreError>;

    /// Removes `key` (logout).
    fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// A boxed, `Send` future, as the async store returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// An async session store (for `safire-hyper`): the same contract as [`SessionStore`].
pub trait AsyncSessionStore: Send + Sync {
    /// The value under `key` and its version, or `None`.
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Versioned>>;

    /// Writes `bytes` if the stored version is still `expected`; the new version, or `None`.
    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected: Option<u64>,
        bytes: &'a [u8],
    ) -> StoreFuture<'a, Option<u64>>;

    /// Takes the renewal lock on `key` for `ttl`, or `None` while someone else holds it.
    fn try_lock<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, Option<Lease>>;

    /// Releases `lease` if it is still held by its holder.
    fn release<'a>(&'a self, lease: &'a Lease) -> StoreFuture<'a, ()>;

    /// Removes `key` (logout).
    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;
}
