//! The blocking store (`SessionStore`), for `safire-ureq`.

use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::{Cmd, Connection, ConnectionLike, FromRedisValue};
use safire_core::{Lease, SessionStore, StoreError, Versioned};

use crate::config::{self, RedisConfig};
use crate::crypto::EncryptionKey;
use crate::keyspace::Keyspace;

/// A [`SessionStore`] on Redis for blocking code (`safire-ureq`): a pool of plain connections,
/// every value encrypted with the application's [`EncryptionKey`].
///
/// No connection is opened until the first call. Each call waits at most
/// [`RedisConfig::deadline`] (connect timeout + command timeout); an unreachable or stalled Redis
/// gives a [`StoreError`] of kind `Unavailable` or `Timeout`. A connection the server closed (a
/// restart) is replaced on the next call: a call that finds its idle connection closed retries
/// once on a fresh one within the same deadline.
///
/// ```no_run
/// use std::time::Duration;
/// use safire_core::SessionStore;
/// use safire_redis::{EncryptionKey, RedisConfig, RedisStore};
///
/// let key = EncryptionKey::from_slice(&[7u8; 32])?; // from your secret manager
/// let store = RedisStore::new(RedisConfig::new("redis://127.0.0.1:6379")?, key)?;
/// let created = store.compare_and_swap("backend-ehr-a", None, b"serialized session")?;
/// let loaded = store.load("backend-ehr-a")?.expect("just written");
/// assert_eq!(Some(loaded.version), created);
/// if let Some(lease) = store.try_lock("backend-ehr-a", Duration::from_secs(10))? {
///     // ... refresh, compare_and_swap from loaded.version ...
///     store.release(&lease)?;
/// }
/// # Ok::<(), safire_core::StoreError>(())
/// ```
pub struct RedisStore {
    keys: Keyspace,
    idle: Mutex<Vec<Connection>>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("config", &self.keys.config)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on the Redis of `config`, encrypting with `key`. Does not connect yet.
    pub fn new(config: RedisConfig, key: EncryptionKey) -> Result<Self, StoreError> {
        Ok(Self {
            keys: Keyspace::new(config, &key)?,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The configuration this store was built with.
    pub fn config(&self) -> &RedisConfig {
        &self.keys.config
    }

    /// Checks that Redis answers (`PING`), within the deadline.
    pub fn ping(&self) -> Result<(), StoreError> {
        let pong: String = self.exec(&redis::cmd("PING"), "PING")?;
        Keyspace::pong(&pong)
    }

    /// The version stored under `key`, without transferring or decrypting the value (one
    /// `GETRANGE` of 9 bytes): a session's in-memory cache can ask "has another process written
    /// since I loaded version N?" cheaply.
    pub fn version(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let head: Vec<u8> = self.exec(&self.keys.version(key)?, "version")?;
        config::parse_version(&head)
    }

    /// The raw stored bytes under `key` (format, version, nonce, ciphertext): what anyone with
    /// access to Redis but not to the key sees. For diagnostics and tests.
    pub fn load_raw(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.exec(&self.keys.get(key)?.0, "load")
    }

    /// Decrypts raw bytes as [`load_raw`](Self::load_raw) returned them for `key`: what
    /// [`load`](SessionStore::load) does after its `GET` (`Corrupt` when they are not a value
    /// this key wrote under this name).
    pub fn open_raw(&self, key: &str, raw: Vec<u8>) -> Result<Versioned, StoreError> {
        self.keys.open_raw(key, raw)
    }

    fn exec<T: FromRedisValue>(&self, cmd: &Cmd, what: &str) -> Result<T, StoreError> {
        let started = Instant::now();
        let deadline = self.keys.config.deadline();
        let (mut conn, reused) = match self.idle().pop() {
            Some(conn) => (conn, true),
            None => (self.connect(self.keys.config.connect_timeout, what)?, false),
        };
        match cmd.query::<T>(&mut conn) {
            Ok(value) => {
                self.put_back(conn);
                Ok(value)
            }
            Err(err) if reused && config::closed_under_us(&err) => {
                // Redis closed this idle connection (it restarted, or dropped idle clients): so
                // it did the others. Drop them all and retry once on a fresh connection, within
                // what is left of the deadline.
                drop(conn);
                self.idle().clear();
                let left = deadline.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(config::timeout_error(what, deadline));
                }
                let mut conn = self.connect(left.min(self.keys.config.connect_timeout), what)?;
                let left = deadline.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(config::timeout_error(what, deadline));
                }
                set_timeouts(&conn, left.min(self.keys.config.command_timeout), what)?;
                match cmd.query::<T>(&mut conn) {
                    Ok(value) => {
                        if set_timeouts(&conn, self.keys.config.command_timeout, what).is_ok() {
                            self.put_back(conn);
                        }
                        Ok(value)
                    }
                    Err(err) => {
                        if !config::breaks_connection(&err)
                            && set_timeouts(&conn, self.keys.config.command_timeout, what).is_ok()
                        {
                            self.put_back(conn);
                        }
                        Err(config::map_error(err, what))
                    }
                }
            }
            Err(err) => {
                if !config::breaks_connection(&err) {
                    self.put_back(conn);
                }
                Err(config::map_error(err, what))
            }
        }
    }

    fn connect(&self, timeout: Duration, what: &str) -> Result<Connection, StoreError> {
        // The redis crate waits up to the remaining timeout for *each* answer of its handshake
        // pipeline (AUTH, SELECT), so the timeout is shared out among them.
        let steps = self.keys.config.handshake_steps();
        let conn = self
            .keys
            .client
            .get_connection_with_timeout(timeout / steps)
            .map_err(|err| config::map_error(err, what))?;
        set_timeouts(&conn, self.keys.config.command_timeout, what)?;
        Ok(conn)
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        // A panic elsewhere while holding the lock leaves a plain Vec: still usable.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn put_back(&self, conn: Connection) {
        if !conn.is_open() {
            return;
        }
        let mut idle = self.idle();
        if idle.len() < self.keys.config.max_idle {
            idle.push(conn);
        }
    }
}

fn set_timeouts(conn: &Connection, timeout: Duration, what: &str) -> Result<(), StoreError> {
    conn.set_read_timeout(Some(timeout))
        .and_then(|()| conn.set_write_timeout(Some(timeout)))
        .map_err(|err| config::map_error(err, what))
}

impl SessionStore for RedisStore {
    fn load(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let (cmd, redis_key) = self.keys.get(key)?;
        let blob: Option<Vec<u8>> = self.exec(&cmd, "load")?;
        self.keys.open(&redis_key, blob)
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<u64>,
        bytes: &[u8],
    ) -> Result<Option<u64>, StoreError> {
        let (cmd, version) = self.keys.compare_and_swap(key, expected, bytes)?;
        let written: i64 = self.exec(&cmd, "compare_and_swap")?;
        Ok((written == 1).then_some(version))
    }

    fn try_lock(&self, key: &str, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let (cmd, lease) = self.keys.try_lock(key, ttl)?;
        let taken: Option<String> = self.exec(&cmd, "try_lock")?;
        Ok(taken.map(|_| lease))
    }

    fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        let _: i64 = self.exec(&self.keys.release(lease)?, "release")?;
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let _: i64 = self.exec(&self.keys.delete(key)?, "delete")?;
        Ok(())
    }
}
