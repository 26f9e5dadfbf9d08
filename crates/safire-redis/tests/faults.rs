//! Redis stopped, restarted and frozen mid-run: every call ends within the deadline with a
//! typed error, and calls succeed again once Redis is back.

mod harness;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use harness::RedisServer;
use safire_redis::{
    AsyncRedisStore, AsyncSessionStore, EncryptionKey, RedisConfig, RedisStore, SessionStore,
    StoreError, StoreErrorKind,
};

const CONNECT: Duration = Duration::from_millis(300);
const COMMAND: Duration = Duration::from_millis(300);
/// Scheduling slack on a shared 2-core machine, on top of the configured deadline.
const SLACK: Duration = Duration::from_millis(400);

fn config(server: &RedisServer) -> RedisConfig {
    RedisConfig::new(&server.url())
        .unwrap()
        .connect_timeout(CONNECT)
        .command_timeout(COMMAND)
}

/// One call of the workload: load, then write from what was loaded.
fn step(store: &RedisStore, name: &str) -> Result<(), StoreError> {
    let current = store.load(name)?;
    store.compare_and_swap(name, current.map(|v| v.version), b"payload")?;
    Ok(())
}

#[derive(Debug)]
struct Call {
    started: Instant,
    took: Duration,
    error: Option<StoreErrorKind>,
}

#[test]
fn blocking_store_survives_stop_restart_and_freeze() {
    let mut server = RedisServer::start();
    let store =
        Arc::new(RedisStore::new(config(&server), EncryptionKey::from_bytes([3; 32])).unwrap());
    let deadline = store.config().deadline();
    step(&store, "warm").unwrap();

    // Four threads keep working through the outage and record every call.
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::spawn(move || {
                let name = format!("w{worker}");
                let mut calls = Vec::new();
                let mut version = None;
                let mut write = false;
                while !stop.load(Ordering::Relaxed) {
                    // Alternately a load and a write from what was loaded; each is one call.
                    let started = Instant::now();
                    let result = if write {
                        store
                            .compare_and_swap(&name, version, b"payload")
                            .map(|new| version = new.or(version))
                    } else {
                        store
                            .load(&name)
                            .map(|loaded| version = loaded.map(|v| v.version))
                    };
                    write = !write;
                    calls.push(Call {
                        started,
                        took: started.elapsed(),
                        error: result.err().map(|err| err.kind),
                    });
                    if calls.last().is_some_and(|call| call.error.is_some()) {
                        // Do not spin on a refused connection.
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                calls
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(200));
    server.stop();
    let stopped = Instant::now();
    // While Redis is down, a call fails fast with Unavailable.
    let started = Instant::now();
    let err = store.load("warm").unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Unavailable, "{err}");
    assert!(
        started.elapsed() <= deadline + SLACK,
        "{:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(500));

    server.restart();
    let restarted = Instant::now();
    // The very next call works (the closed idle connections are replaced).
    step(&store, "after").unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // Frozen Redis: connected, silent. A call ends with Timeout within the deadline.
    server.pause();
    let paused = Instant::now();
    let started = Instant::now();
    let err = store.load("after").unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Timeout, "{err}");
    assert!(
        started.elapsed() <= deadline + SLACK,
        "{:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(700));
    server.resume();
    let resumed = Instant::now();
    step(&store, "after").unwrap();
    std::thread::sleep(deadline + Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);

    let calls: Vec<Vec<Call>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    for (worker, calls) in calls.iter().enumerate() {
        let slowest = calls.iter().map(|call| call.took).max().unwrap();
        assert!(
            slowest <= deadline + SLACK,
            "worker {worker}: a call took {slowest:?}"
        );
        let during = |from: Instant, to: Instant| {
            calls
                .iter()
                .filter(move |call| call.started >= from && call.started + call.took <= to)
        };
        // Down: every call fails, Unavailable.
        let down: Vec<_> = during(stopped, restarted - Duration::from_millis(50)).collect();
        assert!(
            !down.is_empty(),
            "worker {worker} made no call while Redis was down"
        );
        assert!(
            down.iter()
                .all(|call| call.error == Some(StoreErrorKind::Unavailable)),
            "worker {worker}: {down:?}"
        );
        // Frozen: calls fail with Timeout (a new connection's handshake or a command).
        let frozen: Vec<_> = during(paused, resume_before(resumed)).collect();
        assert!(
            !frozen.is_empty(),
            "worker {worker} made no call while frozen: {:?}",
            calls
                .iter()
                .filter(|call| call.started + call.took >= paused && call.started <= resumed)
                .map(|call| (
                    call.started.checked_duration_since(paused),
                    call.took,
                    call.error
                ))
                .collect::<Vec<_>>()
        );
        assert!(
            frozen
                .iter()
                .all(|call| call.error == Some(StoreErrorKind::Timeout)),
            "worker {worker}: {frozen:?}"
        );
        // Back: every call that started after the restart and before the freeze succeeded,
        // and so did every call started after the thaw + one deadline.
        let back = during(restarted, paused);
        assert!(back.clone().count() > 0);
        assert!(
            back.clone().all(|call| call.error.is_none()),
            "worker {worker}: {:?}",
            back.collect::<Vec<_>>()
        );
        let thawed: Vec<_> = calls
            .iter()
            .filter(|call| call.started >= resumed + deadline)
            .collect();
        assert!(!thawed.is_empty());
        assert!(
            thawed.iter().all(|call| call.error.is_none()),
            "worker {worker}: {thawed:?}"
        );
    }
}

fn resume_before(resumed: Instant) -> Instant {
    resumed - Duration::from_millis(50)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_store_survives_stop_restart_and_freeze() {
    let mut server = RedisServer::start();
    let store = AsyncRedisStore::new(config(&server), EncryptionKey::from_bytes([3; 32])).unwrap();
    let deadline = store.config().deadline();
    let v = store
        .compare_and_swap("k", None, b"x")
        .await
        .unwrap()
        .unwrap();

    // Stopped: Unavailable, fast, repeatedly.
    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let err = store.load("k").await.unwrap_err();
        assert_eq!(err.kind, StoreErrorKind::Unavailable, "{err}");
        assert!(
            started.elapsed() <= deadline + SLACK,
            "{:?}",
            started.elapsed()
        );
    }

    // Restarted (empty): the next call works.
    server.restart();
    assert_eq!(store.load("k").await.unwrap(), None);
    assert_eq!(
        store.compare_and_swap("k", Some(v), b"y").await.unwrap(),
        None
    );
    let v = store
        .compare_and_swap("k", None, b"y")
        .await
        .unwrap()
        .unwrap();

    // Restarted while the shared connection is idle: the next call still works.
    server.restart();
    assert_eq!(store.version("k").await.unwrap(), None);

    // Frozen: Timeout within the deadline, for concurrent callers too.
    let v = store
        .compare_and_swap("k", None, b"z")
        .await
        .unwrap()
        .unwrap_or(v);
    server.pause();
    let started = Instant::now();
    let results = futures_join(&store).await;
    for result in results {
        let err = result.unwrap_err();
        assert_eq!(err.kind, StoreErrorKind::Timeout, "{err}");
    }
    assert!(
        started.elapsed() <= deadline + SLACK,
        "{:?}",
        started.elapsed()
    );
    // Still frozen, a new connection's handshake times out too.
    let err = store
        .try_lock("k", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Timeout, "{err}");
    server.resume();
    let loaded = store.load("k").await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.bytes.as_slice()), (v, &b"z"[..]));
}

async fn futures_join(store: &AsyncRedisStore) -> Vec<Result<(), StoreError>> {
    let (a, b, c) = tokio::join!(
        async { store.load("k").await.map(drop) },
        async { store.version("k").await.map(drop) },
        async { store.compare_and_swap("k", Some(1), b"w").await.map(drop) },
    );
    vec![a, b, c]
}

#[test]
fn unreachable_redis_is_unavailable_within_the_deadline() {
    // Nothing listens on this port (the server is stopped before the call).
    let mut server = RedisServer::start();
    let store = RedisStore::new(config(&server), EncryptionKey::from_bytes([3; 32])).unwrap();
    server.stop();
    let started = Instant::now();
    let err = store.try_lock("k", Duration::from_secs(1)).unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Unavailable);
    assert!(started.elapsed() <= CONNECT + SLACK);
    assert!(
        err.to_string()
            .starts_with("Session store failed: try_lock:"),
        "{err}"
    );
}

/// With a password and a database number the redis crate pipelines AUTH and SELECT when it
/// connects and waits for each answer in turn: a frozen Redis must still cost one deadline.
#[test]
fn a_frozen_redis_with_auth_and_db_still_ends_within_the_deadline() {
    let server = RedisServer::start_with(&["--requirepass", "s3cret-pw"]);
    let url = format!("redis://:s3cret-pw@127.0.0.1:{}/3", server.port());
    // The connect timeout dominates the deadline (1.1 s): waiting it once per handshake
    // answer (2 s) would show.
    let config = RedisConfig::new(&url)
        .unwrap()
        .connect_timeout(Duration::from_millis(1000))
        .command_timeout(Duration::from_millis(100));
    let store = RedisStore::new(config.clone(), EncryptionKey::from_bytes([3; 32])).unwrap();
    let v = store.compare_and_swap("k", None, b"x").unwrap().unwrap();
    // Database 3 it is.
    let mut raw = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let exists: bool = redis::cmd("EXISTS")
        .arg("safire:s:k")
        .query(&mut raw)
        .unwrap();
    assert!(exists);

    server.pause();
    // A new store (a fresh connection: TCP connects, the handshake gets no answer).
    let fresh = RedisStore::new(config.clone(), EncryptionKey::from_bytes([3; 32])).unwrap();
    let started = Instant::now();
    let err = fresh.load("k").unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Timeout, "{err}");
    assert!(
        started.elapsed() <= config.deadline() + SLACK,
        "{:?}",
        started.elapsed()
    );
    assert!(!format!("{err} {err:?}").contains("s3cret-pw"));
    server.resume();
    assert_eq!(fresh.load("k").unwrap().unwrap().version, v);

    // A wrong password is a typed error, and does not show the password.
    let wrong =
        RedisConfig::new(&format!("redis://:wrong-pw@127.0.0.1:{}/", server.port())).unwrap();
    let err = RedisStore::new(wrong, EncryptionKey::from_bytes([3; 32]))
        .unwrap()
        .load("k")
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("wrong-pw"), "{err:?}");
}
