//! The async store (`AsyncSessionStore`), for `safire-hyper`.

use std::fmt;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Cmd, FromRedisValue};
use safire_core::{AsyncSessionStore, Lease, StoreError, StoreFuture, Versioned};
use tokio::sync::Mutex;

use crate::config::{self, RedisConfig};
use crate::crypto::EncryptionKey;
use crate::keyspace::Keyspace;

/// An [`AsyncSessionStore`] on Redis for tokio code (`safire-hyper`): one multiplexed
/// connection shared by every task, every value encrypted with the application's
/// [`EncryptionKey`].
///
/// No connection is opened until the first call. Every call, including waiting for a connection,
/// is bounded by [`RedisConfig::deadline`] (a `tokio::time::timeout` around the whole call): an
/// unreachable or stalled Redis gives a [`StoreError`] of kind `Unavailable` or `Timeout`. A
/// connection that failed is dropped and the next call connects again; a call that finds the
/// shared connection closed by the server (a restart) retries once on a fresh one.
///
/// Call it from a tokio runtime with timers enabled (`#[tokio::main]`, or a `Builder` with
/// `enable_all()`): the deadline is a tokio timer, and tokio panics without a timer driver.
/// The connection's I/O runs on a task of the runtime that opened it; if that runtime shuts
/// down, the next call notices the closed connection and opens another.
///
/// ```no_run
/// use std::time::Duration;
/// use safire_core::AsyncSessionStore;
/// use safire_redis::{AsyncRedisStore, EncryptionKey, RedisConfig};
///
/// # async fn run() -> Result<(), safire_core::StoreError> {
/// let key = EncryptionKey::from_slice(&[7u8; 32])?; // from your secret manager
/// let store = AsyncRedisStore::new(RedisConfig::new("redis://127.0.0.1:6379")?, key)?;
/// let created = store.compare_and_swap("backend-ehr-a", None, b"serialized session").await?;
/// let loaded = store.load("backend-ehr-a").await?.expect("just written");
/// assert_eq!(Some(loaded.version), created);
/// if let Some(lease) = store.try_lock("backend-ehr-a", Duration::from_secs(10)).await? {
///     // ... refresh, compare_and_swap from loaded.version ...
///     store.release(&lease).await?;
/// }
/// # Ok(()) }
/// ```
pub struct AsyncRedisStore {
    keys: Keyspace,
    /// The shared connection and a generation number (so a failed call drops only the
    /// connection it used, not one another task has opened since).
    conn: Mutex<(u64, Option<MultiplexedConnection>)>,
}

impl fmt::Debug for AsyncRedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRedisStore")
            .field("config", &self.keys.config)
            .finish_non_exhaustive()
    }
}

impl AsyncRedisStore {
    /// A store on the Redis of `config`, encrypting with `key`. Does not connect yet.
    pub fn new(config: RedisConfig, key: EncryptionKey) -> Result<Self, StoreError> {
        Ok(Self {
            keys: Keyspace::new(config, &key)?,
            conn: Mutex::new((0, None)),
        })
    }

    /// The configuration this store was built with.
    pub fn config(&self) -> &RedisConfig {
        &self.keys.config
    }

    /// Checks that Redis answers (`PING`), within the deadline.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let pong: String = self.exec(&redis::cmd("PING"), "PING").await?;
        Keyspace::pong(&pong)
    }

    /// The version stored under `key`, without transferring or decrypting the value (see
    /// [`RedisStore::version`](crate::RedisStore::version)).
    pub async fn version(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let head: Vec<u8> = self.exec(&self.keys.version(key)?, "version").await?;
        config::parse_version(&head)
    }

    /// The raw stored bytes under `key` (format, version, nonce, ciphertext). For diagnostics
    /// and tests.
    pub async fn load_raw(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.exec(&self.keys.get(key)?.0, "load").await
    }

    /// Decrypts raw bytes as [`load_raw`](Self::load_raw) returned them for `key` (see
    /// [`RedisStore::open_raw`](crate::RedisStore::open_raw)).
    pub fn open_raw(&self, key: &str, raw: Vec<u8>) -> Result<Versioned, StoreError> {
        self.keys.open_raw(key, raw)
    }

    async fn exec<T: FromRedisValue>(&self, cmd: &Cmd, what: &str) -> Result<T, StoreError> {
        let deadline = self.keys.config.deadline();
        match tokio::time::timeout(deadline, self.exec_inner(cmd, what)).await {
            Ok(result) => result,
            Err(_elapsed) => {
                // A stalled Redis: start afresh next time (the old connection's in-flight
                // answers are discarded with it).
                if let Ok(mut slot) = self.conn.try_lock() {
                    *slot = (slot.0.wrapping_add(1), None);
                }
                Err(config::timeout_error(what, deadline))
            }
        }
    }

    async fn exec_inner<T: FromRedisValue>(&self, cmd: &Cmd, what: &str) -> Result<T, StoreError> {
        let (generation, mut conn, reused) = self.connection(what).await?;
        match cmd.query_async::<T>(&mut conn).await {
            Ok(value) => Ok(value),
            Err(err) if reused && config::closed_under_us(&err) => {
                self.forget(generation).await;
                let (generation, mut conn, _) = self.connection(what).await?;
                match cmd.query_async::<T>(&mut conn).await {
                    Ok(value) => Ok(value),
                    Err(err) => {
                        if config::breaks_connection(&err) {
                            self.forget(generation).await;
                        }
                        Err(config::map_error(err, what))
                    }
                }
            }
            Err(err) => {
                if config::breaks_connection(&err) {
                    self.forget(generation).await;
                }
                Err(config::map_error(err, what))
            }
        }
    }

    /// The shared connection (opening it if needed), its generation, and whether it existed.
    async fn connection(
        &self,
        what: &str,
    ) -> Result<(u64, MultiplexedConnection, bool), StoreError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = &slot.1 {
            return Ok((slot.0, conn.clone(), true));
        }
        let settings = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.keys.config.connect_timeout))
            .set_response_timeout(Some(self.keys.config.command_timeout));
        let conn = self
            .keys
            .client
            .get_multiplexed_async_connection_with_config(&settings)
            .await
            .map_err(|err| config::map_error(err, what))?;
        let generation = slot.0.wrapping_add(1);
        *slot = (generation, Some(conn.clone()));
        Ok((generation, conn, false))
    }

    async fn forget(&self, generation: u64) {
        let mut slot = self.conn.lock().await;
        if slot.0 == generation {
            slot.1 = None;
        }
    }
}

impl AsyncSessionStore for AsyncRedisStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Versioned>> {
        Box::pin(async move {
            let (cmd, redis_key) = self.keys.get(key)?;
            let blob: Option<Vec<u8>> = self.exec(&cmd, "load").await?;
            self.keys.open(&redis_key, blob)
        })
    }

    fn compare_and_swap<'a>(
        &'a self,
        key: &'a str,
        expected: Option<u64>,
        bytes: &'a [u8],
    ) -> StoreFuture<'a, Option<u64>> {
        Box::pin(async move {
            let (cmd, version) = self.keys.compare_and_swap(key, expected, bytes)?;
            let written: i64 = self.exec(&cmd, "compare_and_swap").await?;
            Ok((written == 1).then_some(version))
        })
    }

    fn try_lock<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, Option<Lease>> {
        Box::pin(async move {
            let (cmd, lease) = self.keys.try_lock(key, ttl)?;
            let taken: Option<String> = self.exec(&cmd, "try_lock").await?;
            Ok(taken.map(|_| lease))
        })
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _: i64 = self.exec(&self.keys.release(lease)?, "release").await?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _: i64 = self.exec(&self.keys.delete(key)?, "delete").await?;
            Ok(())
        })
    }
}
