//! # safire-redis
//!
//! A Redis session store for fleets of Safire processes: the storage seam of `safire-core`
//! ([`SessionStore`] for blocking code,
//! [`AsyncSessionStore`] for tokio) on a Redis every process
//! shares, so that
//!
//! - processes sharing a backend client make **one token request per expiry** for the whole
//!   fleet: the one that takes the lease (`SET … NX PX`) refreshes, the others poll
//!   [`load`](safire_core::SessionStore::load) (or the cheap [`RedisStore::version`]) until the
//!   new value appears; a holder that dies loses the lease when it expires;
//! - a user session refreshed by two instances at once is redeemed **once**: the write is an
//!   atomic compare-and-swap (a Lua script on a versioned value), exactly one writer from a
//!   version wins and the others read its result;
//! - tokens are **encrypted at rest** with AES-256-GCM under a key the application supplies
//!   ([`EncryptionKey`]), a random nonce per write, the key name and version bound as associated
//!   data. A wrong key or a tampered value reads as
//!   [`StoreErrorKind::Corrupt`], never a panic.
//!
//! The in-memory hit path (a token still comfortably valid) is the session's own and never
//! reaches Redis; [`load`](safire_core::SessionStore::load) returns the version so a session
//! can keep the value it last saw and [`RedisStore::version`] tells it cheaply whether another
//! process has written since.
//!
//! ## Key names
//!
//! Redis sees `<prefix>s:<name>` (the value) and `<prefix>l:<name>` (the lease), where `name`
//! is the key the application passes to the store. A **plain** name (1 to 128 of
//! `A-Z a-z 0-9 _ - :`, e.g. `backend:ehr-a` or a random session id) is used as it is, so
//! operators can read it; **it must not be a token or a patient identifier** (anyone who can
//! list Redis keys sees it). Any other name — a URL such as `Session::store_key` makes, an
//! e-mail address, anything up to 1024 bytes — is replaced by `#` and its keyed hash
//! ([`EncryptionKey::key_name`]), so it never reaches Redis in clear. To hide a plain-looking
//! identifier (a user id, an OAuth `sub`) too, pass `key.key_name(id)` yourself.
//!
//! ## Faults
//!
//! Every call waits at most [`RedisConfig::deadline`] (connect timeout + command timeout).
//! Redis unreachable, stopped or stalled gives a [`StoreError`] of
//! kind `Unavailable` or `Timeout` — never a hang, never a panic — and the next call after
//! Redis is back connects again by itself. Redis restarted without persistence has lost its
//! values: sessions then start from their in-memory copy or re-authenticate.
//!
//! ## Example
//!
//! Two "processes" (here two stores) race to refresh the same session; exactly one wins.
//!
//! ```no_run
//! use std::time::Duration;
//! use safire_core::SessionStore;
//! use safire_redis::{EncryptionKey, RedisConfig, RedisStore};
//!
//! let key = || EncryptionKey::from_bytes([7u8; 32]); // the fleet's key, from a secret manager
//! let config = RedisConfig::new("redis://127.0.0.1:6379")?.command_timeout(Duration::from_millis(200));
//! let a = RedisStore::new(config.clone(), key())?;
//! let b = RedisStore::new(config, key())?;
//!
//! let name = key().key_name("user-4711"); // an opaque name for an id
//! let v1 = a.compare_and_swap(&name, None, b"session, refresh token #1")?.unwrap();
//!
//! // Both read version v1 and both try to store their refresh result.
//! let won_a = a.compare_and_swap(&name, Some(v1), b"session, refresh token #2 (a)")?;
//! let won_b = b.compare_and_swap(&name, Some(v1), b"session, refresh token #2 (b)")?;
//! assert!(won_a.is_some() && won_b.is_none());
//! // b reads a's result instead of redeeming the refresh token again.
//! assert_eq!(b.load(&name)?.unwrap().bytes, b"session, refresh token #2 (a)");
//! # Ok::<(), safire_core::StoreError>(())
//! ```
//!
//! `tests/` run against a real `redis-server` they start themselves (Debian:
//! `apt-get install -y redis-server`), including 8 processes × 16 threads racing on one key.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The README's examples compile as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod blocking;
mod config;
mod crypto;
mod keyspace;
#[cfg(feature = "tokio")]
mod nonblocking;

pub use blocking::RedisStore;
pub use config::{MAX_NAME_LEN, RedisConfig};
pub use crypto::EncryptionKey;
#[cfg(feature = "tokio")]
pub use nonblocking::AsyncRedisStore;
pub use safire_core::{
    AsyncSessionStore, Lease, SessionStore, StoreError, StoreErrorKind, Versioned,
};
