//! Where Redis is, how long to wait for it, and how key names are built.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::{Cmd, ConnectionInfo, IntoConnectionInfo, RedisError};
use safire_core::{StoreError, StoreErrorKind};

use crate::crypto::KeyNamer;

/// How a store reaches Redis and names its keys.
///
/// ```
/// use std::time::Duration;
/// use safire_redis::RedisConfig;
/// let config = RedisConfig::new("redis://127.0.0.1:6379/0")?
///     .prefix("myapp:safire:")
///     .connect_timeout(Duration::from_millis(500))
///     .command_timeout(Duration::from_millis(250))
///     .value_ttl(Some(Duration::from_secs(30 * 24 * 3600)));
/// assert_eq!(config.deadline(), Duration::from_millis(750));
/// # Ok::<(), safire_core::StoreError>(())
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    pub(crate) info: ConnectionInfo,
    pub(crate) prefix: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) command_timeout: Duration,
    pub(crate) value_ttl: Option<Duration>,
    pub(crate) max_idle: usize,
}

impl RedisConfig {
    /// Redis at `url` (`redis://[user:password@]host:port[/db]` or `redis+unix:///path`), with
    /// the defaults: prefix `safire:`, 1 s to connect, 1 s per command, values kept without an
    /// expiry, up to 16 idle connections kept by the blocking store.
    ///
    /// The URL is not kept as text and never printed (it may carry a password).
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let info = url.into_connection_info().map_err(|_| {
            StoreError::new(
                StoreErrorKind::Other,
                "the Redis URL is invalid (expected redis://host:port[/db])",
            )
        })?;
        // No `CLIENT SETINFO` on connect: one round trip less, and a handshake of only what is
        // needed (AUTH, SELECT) — see `handshake_steps`.
        let redis = info.redis_settings().clone().set_skip_set_lib_name();
        let info = info.set_redis_settings(redis);
        Ok(Self {
            info,
            prefix: "safire:".to_owned(),
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
            value_ttl: None,
            max_idle: 16,
        })
    }

    /// The prefix of every key this store writes (default `safire:`). Values live under
    /// `<prefix>s:<name>`, leases under `<prefix>l:<name>` (a name that is not plain is
    /// replaced by `#` and its keyed hash; see the crate docs, "Key names").
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long opening a connection (TCP and the Redis handshake) may take (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long one command may wait for its answer (default 1 s).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// An expiry set on every value written (refreshed by each write), so abandoned sessions
    /// leave Redis by themselves. `None` (the default) keeps values until deleted.
    pub fn value_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.value_ttl = ttl;
        self
    }

    /// How many idle connections the blocking store keeps for reuse (default 16). Busier
    /// moments open more; the extra ones are closed after use.
    pub fn max_idle_connections(mut self, max: usize) -> Self {
        self.max_idle = max;
        self
    }

    /// The longest any call of a store waits: the connect timeout plus the command timeout.
    pub fn deadline(&self) -> Duration {
        self.connect_timeout + self.command_timeout
    }

    /// How many commands the redis crate pipelines when it connects (at least 1).
    pub(crate) fn handshake_steps(&self) -> u32 {
        let redis = self.info.redis_settings();
        let auth = redis.password().is_some() || redis.protocol().supports_resp3();
        let select = redis.db() != 0;
        (u32::from(auth) + u32::from(select)).max(1)
    }

    pub(crate) fn ttl_arg(&self) -> u64 {
        self.value_ttl.map_or(0, millis)
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("addr", &self.info.addr().to_string())
            .field("db", &self.info.redis_settings().db())
            .field("prefix", &self.prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("value_ttl", &self.value_ttl)
            .field("max_idle", &self.max_idle)
            .finish()
    }
}

/// Longest key name accepted (bytes).
pub const MAX_NAME_LEN: usize = 1024;

/// Longest name kept as it is in the Redis key (longer ones are hashed).
const MAX_PLAIN_LEN: usize = 128;

/// The Redis key names of a store: `<prefix>s:<name>` for values, `<prefix>l:<name>` for
/// leases, where a name that is not plain (1 to 128 of `A-Z a-z 0-9 _ - :`) is replaced by `#`
/// and its keyed hash ([`EncryptionKey::key_name`](crate::EncryptionKey::key_name)).
#[derive(Clone)]
pub(crate) struct Names {
    prefix: String,
    namer: KeyNamer,
}

impl Names {
    pub(crate) fn new(config: &RedisConfig, key: &crate::EncryptionKey) -> Self {
        Self {
            prefix: config.prefix.clone(),
            namer: KeyNamer::new(key),
        }
    }

    pub(crate) fn value_key(&self, name: &str) -> Result<String, StoreError> {
        self.key("s:", name)
    }

    pub(crate) fn lock_key(&self, name: &str) -> Result<String, StoreError> {
        self.key("l:", name)
    }

    fn key(&self, kind: &str, name: &str) -> Result<String, StoreError> {
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                format!("a session key name is 1 to {MAX_NAME_LEN} bytes"),
            ));
        }
        let plain = name.len() <= MAX_PLAIN_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'));
        Ok(if plain {
            format!("{}{kind}{name}", self.prefix)
        } else {
            format!("{}{kind}#{}", self.prefix, self.namer.name(name))
        })
    }
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX / 2)
        .clamp(1, u64::MAX / 2)
}

/// The version of a value created from nothing: the Unix time in milliseconds, so a key
/// deleted and created again does not repeat a version a stale writer may still hold.
pub(crate) fn first_version() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, millis)
}

pub(crate) fn next_version(expected: Option<u64>) -> Result<u64, StoreError> {
    match expected {
        None => Ok(first_version()),
        Some(version) => version.checked_add(1).ok_or_else(|| {
            StoreError::new(StoreErrorKind::Corrupt, "the stored version cannot grow")
        }),
    }
}

pub(crate) fn new_holder() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|_| StoreError::new(StoreErrorKind::Other, "the OS random generator failed"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compare-and-swap on a versioned string: bytes 2..9 (Lua, 1-based) of the stored blob are its
/// version. `ARGV[1]`: the expected version (8 bytes big-endian) or empty for "absent";
/// `ARGV[2]`: the new blob; `ARGV[3]`: expiry in ms, `0` for none. Returns 1 when written.
const CAS_SCRIPT: &str = r"
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if cur then return 0 end
elseif (not cur) or string.sub(cur, 2, 9) ~= ARGV[1] then
  return 0
end
if ARGV[3] == '0' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
";

/// Deletes the lease only if it still holds `ARGV[1]`.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

// EVAL rather than EVALSHA: the scripts are short and only on the (rare) refresh path, and a
// restarted Redis has an empty script cache; Redis caches the compiled script either way.
pub(crate) fn cas_cmd(redis_key: &str, expected: Option<u64>, blob: &[u8], ttl_ms: u64) -> Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(CAS_SCRIPT).arg(1).arg(redis_key);
    match expected {
        Some(version) => cmd.arg(&version.to_be_bytes()[..]),
        None => cmd.arg(&b""[..]),
    };
    cmd.arg(blob).arg(ttl_ms);
    cmd
}

pub(crate) fn release_cmd(lock_key: &str, holder: &str) -> Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(RELEASE_SCRIPT).arg(1).arg(lock_key).arg(holder);
    cmd
}

pub(crate) fn lock_cmd(lock_key: &str, holder: &str, ttl: Duration) -> Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(lock_key)
        .arg(holder)
        .arg("NX")
        .arg("PX")
        .arg(millis(ttl));
    cmd
}

pub(crate) fn get_cmd(redis_key: &str) -> Cmd {
    let mut cmd = redis::cmd("GET");
    cmd.arg(redis_key);
    cmd
}

pub(crate) fn version_cmd(redis_key: &str) -> Cmd {
    let mut cmd = redis::cmd("GETRANGE");
    cmd.arg(redis_key).arg(0).arg(8);
    cmd
}

pub(crate) fn del_cmd(redis_key: &str) -> Cmd {
    let mut cmd = redis::cmd("DEL");
    cmd.arg(redis_key);
    cmd
}

/// The version from `GETRANGE key 0 8` (format byte and version): `None` when absent.
pub(crate) fn parse_version(head: &[u8]) -> Result<Option<u64>, StoreError> {
    match head {
        [] => Ok(None),
        [crate::crypto::FORMAT, rest @ ..] if rest.len() == 8 => {
            let mut version = [0u8; 8];
            version.copy_from_slice(rest);
            Ok(Some(u64::from_be_bytes(version)))
        }
        _ => Err(StoreError::new(
            StoreErrorKind::Corrupt,
            "a stored value is not a Safire session blob",
        )),
    }
}

/// Whether the connection that gave `err` must be dropped (anything but a server's reply).
pub(crate) fn breaks_connection(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_unrecoverable_error()
}

/// Whether `err` says the connection was closed under us (worth one fresh retry when the
/// connection came from the idle pool: Redis restarted or closed idle clients).
pub(crate) fn closed_under_us(err: &RedisError) -> bool {
    !err.is_timeout() && (err.is_connection_dropped() || err.is_io_error())
}

pub(crate) fn map_error(err: RedisError, what: &str) -> StoreError {
    let (kind, why) = if err.is_timeout() {
        (StoreErrorKind::Timeout, "Redis did not answer in time")
    } else if err.is_connection_refusal() {
        (StoreErrorKind::Unavailable, "Redis refused the connection")
    } else if err.is_connection_dropped() || err.is_io_error() {
        (
            StoreErrorKind::Unavailable,
            "the connection to Redis failed",
        )
    } else if matches!(
        err.code(),
        Some("LOADING" | "BUSY" | "MASTERDOWN" | "TRYAGAIN" | "CLUSTERDOWN" | "READONLY")
    ) {
        (StoreErrorKind::Unavailable, "Redis is not accepting writes")
    } else {
        (StoreErrorKind::Other, "Redis reported an error")
    };
    StoreError::new(kind, format!("{what}: {why}")).with_source(err)
}

pub(crate) fn timeout_error(what: &str, deadline: Duration) -> StoreError {
    StoreError::new(
        StoreErrorKind::Timeout,
        format!("{what}: Redis did not answer within {deadline:?}"),
    )
}
