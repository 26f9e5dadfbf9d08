//! A fleet asking for one backend token at expiry: 4 "processes" (each its own `RedisStore`, as
//! separate processes would have) × 8 threads. Exactly one of them calls the token endpoint; the
//! others wait for its result in Redis.
//!
//! ```sh
//! redis-server --port 6379 --save '' --appendonly no &
//! cargo run -p safire-redis --example fleet -- redis://127.0.0.1:6379/
//! ```
//!
//! The renewal protocol is the one Safire's session types run on any `SessionStore`: load; if
//! stale, take the lease; re-load (another process may have renewed meanwhile); renew;
//! compare-and-swap; release. Without the lease, wait by polling `load` (a few ms apart) until a
//! fresh value appears or the call's deadline passes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use safire_redis::{EncryptionKey, RedisConfig, RedisStore, SessionStore, StoreError};

/// The "token endpoint": counts its requests and takes 50 ms to answer.
static TOKEN_REQUESTS: AtomicUsize = AtomicUsize::new(0);

fn request_token() -> Vec<u8> {
    let n = TOKEN_REQUESTS.fetch_add(1, Ordering::SeqCst) + 1;
    std::thread::sleep(Duration::from_millis(50));
    let expires = now_ms() + 300_000;
    format!("access-token-{n};{expires}").into_bytes()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A stored token valid for at least another minute.
fn fresh(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let expires = text.rsplit(';').next().and_then(|e| e.parse::<u64>().ok());
    expires.is_some_and(|expires| expires > now_ms() + 60_000)
}

/// One caller's `access_token()` with a shared store.
fn access_token(store: &RedisStore, key: &str, deadline: Instant) -> Result<Vec<u8>, StoreError> {
    loop {
        let current = store.load(key)?;
        if let Some(value) = &current
            && fresh(&value.bytes)
        {
            return Ok(value.bytes.clone());
        }
        if let Some(lease) = store.try_lock(key, Duration::from_secs(10))? {
            // Renewed by someone else between our load and our lease?
            let current = store.load(key)?;
            let result = match current {
                Some(value) if fresh(&value.bytes) => Ok(value.bytes),
                current => {
                    let token = request_token();
                    store
                        .compare_and_swap(key, current.map(|v| v.version), &token)
                        .map(|_| token)
                }
            };
            store.release(&lease)?;
            return result;
        }
        if Instant::now() >= deadline {
            return Err(StoreError::new(
                safire_redis::StoreErrorKind::Timeout,
                "no renewed token before the deadline",
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() -> Result<(), StoreError> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis://127.0.0.1:6379/".to_owned());
    let report = run(&url)?;
    println!(
        "{} callers in 4 processes got the same token; token requests: {}",
        report.callers, report.token_requests
    );
    println!(
        "Redis held {} bytes, encrypted (no `access-token` in them: {})",
        report.stored_len, report.opaque
    );
    Ok(())
}

/// What [`run`] saw.
pub struct Report {
    /// How many callers got a token (all the same one).
    pub callers: usize,
    /// How many times the token endpoint was called.
    pub token_requests: usize,
    /// The size of the raw stored value.
    pub stored_len: usize,
    /// Whether the raw stored value hides the token text.
    pub opaque: bool,
}

/// 4 "processes" × 8 threads ask for the token at once, with no token stored yet.
pub fn run(url: &str) -> Result<Report, StoreError> {
    // In production: 32 bytes from your secret manager, the same in every process.
    let key_bytes = [42u8; 32];
    let name = EncryptionKey::from_bytes(key_bytes).key_name("backend:ehr-a:client-1");
    let config = RedisConfig::new(url)?.command_timeout(Duration::from_millis(500));

    let processes: Vec<Arc<RedisStore>> = (0..4)
        .map(|_| {
            RedisStore::new(config.clone(), EncryptionKey::from_bytes(key_bytes)).map(Arc::new)
        })
        .collect::<Result<_, _>>()?;
    processes[0].ping()?;
    processes[0].delete(&name)?; // start with no token: everyone asks at once
    let before = TOKEN_REQUESTS.load(Ordering::SeqCst);

    let deadline = Instant::now() + Duration::from_secs(5);
    let callers: Vec<_> = processes
        .iter()
        .flat_map(|store| (0..8).map(move |_| store.clone()))
        .map(|store| {
            let name = name.clone();
            std::thread::spawn(move || access_token(&store, &name, deadline))
        })
        .collect();
    let tokens: Vec<Vec<u8>> = callers
        .into_iter()
        .map(|caller| caller.join().expect("caller thread"))
        .collect::<Result<_, _>>()?;
    assert!(tokens.iter().all(|token| token == &tokens[0]));

    let raw = processes[0].load_raw(&name)?.expect("stored");
    processes[0].delete(&name)?;
    Ok(Report {
        callers: tokens.len(),
        token_requests: TOKEN_REQUESTS.load(Ordering::SeqCst) - before,
        stored_len: raw.len(),
        opaque: !raw.windows(12).any(|w| w == b"access-token"),
    })
}
