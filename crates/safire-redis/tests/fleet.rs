//! Several processes on one Redis: this test binary re-runs itself as child processes
//! (`SAFIRE_REDIS_CHILD=<role>`, running only the `child` test below).

#[allow(dead_code)] // its `main` is the example's
#[path = "../examples/fleet.rs"]
mod example;
mod harness;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use harness::{CHILD_ENV, ChildProcess, RedisServer, report, spawn_fleet};
use redis::Commands;
use safire_redis::{RedisStore, SessionStore};

const KEY: [u8; 32] = [0x11; 32];
const PROCESSES: usize = 8;
const THREADS: usize = 16;
const ATTEMPTS: usize = 12;

fn store(url: &str) -> RedisStore {
    harness::store(url, KEY)
}

/// The entry point of every child role; without `SAFIRE_REDIS_CHILD` (a normal test run) it
/// has nothing to do.
#[test]
fn child() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let url = std::env::var("REDIS_URL").unwrap();
    match role.as_str() {
        "cas" => child_cas(&url),
        "hold-lease" => child_hold_lease(&url),
        other => panic!("unknown child role {other}"),
    }
}

/// 16 threads: wait for the race key to exist, then each makes `ATTEMPTS` rounds of "load, then
/// compare-and-swap from the loaded version", printing every win.
fn child_cas(url: &str) {
    let process = std::process::id();
    let store = Arc::new(store(url));
    store.ping().unwrap();
    report("READY");
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                // The parent creates the key once every process is ready: all start together.
                let deadline = Instant::now() + Duration::from_secs(30);
                while store.version("race").unwrap().is_none() {
                    assert!(Instant::now() < deadline, "the race key never appeared");
                    std::thread::yield_now();
                }
                barrier.wait();
                let mut lines = Vec::new();
                for attempt in 0..ATTEMPTS {
                    let current = store.load("race").unwrap().unwrap();
                    let mine = format!("{process}-{thread}-{attempt}");
                    match store
                        .compare_and_swap("race", Some(current.version), mine.as_bytes())
                        .unwrap()
                    {
                        Some(new) => lines.push(format!("WIN {} {new} {mine}", current.version)),
                        None => lines.push("LOSS".to_owned()),
                    }
                }
                lines
            })
        })
        .collect();
    for thread in threads {
        for line in thread.join().unwrap() {
            report(&line);
        }
    }
}

/// Takes the lease and keeps it until killed.
fn child_hold_lease(url: &str) {
    let ttl = Duration::from_millis(std::env::var("LEASE_MS").unwrap().parse().unwrap());
    let lease = store(url).try_lock("backend-a", ttl).unwrap().unwrap();
    report(&format!("LOCKED {}", lease.holder));
    // Never releases: blocks until the parent kills it (or closes stdin by dying).
    let _ = std::io::Read::read(&mut std::io::stdin(), &mut [0u8; 1]);
}

#[test]
fn cas_8_processes_x_16_threads_one_winner_per_version() {
    let server = RedisServer::start();
    let url = server.url();
    let children = spawn_fleet(PROCESSES, "cas", &[("REDIS_URL", url.clone())]);
    let parent = store(&url);
    let first = parent
        .compare_and_swap("race", None, b"start")
        .unwrap()
        .unwrap();

    let mut wins = BTreeMap::new(); // expected version -> (new version, value)
    let mut losses = 0;
    for child in children {
        for line in child.finish("", Duration::from_secs(120)) {
            let mut words = line.split(' ');
            match words.next() {
                Some("WIN") => {
                    let expected: u64 = words.next().unwrap().parse().unwrap();
                    let new: u64 = words.next().unwrap().parse().unwrap();
                    let value = words.next().unwrap().to_owned();
                    if let Some(other) = wins.insert(expected, (new, value.clone())) {
                        panic!("two winners from version {expected}: {other:?} and {value}");
                    }
                }
                Some("LOSS") => losses += 1,
                _ => {}
            }
        }
    }
    let total = PROCESSES * THREADS * ATTEMPTS;
    assert_eq!(wins.len() + losses, total, "every attempt reported");
    assert!(
        losses > 0 && !wins.is_empty(),
        "{} wins, {losses} losses",
        wins.len()
    );

    // The wins form one chain first, first+1, ... with no gap and no fork.
    let mut version = first;
    for (expected, (new, _)) in &wins {
        assert_eq!(*expected, version, "chain broken");
        assert_eq!(*new, version + 1);
        version = *new;
    }
    // The stored value is the last winner's.
    let last = wins.values().last().unwrap();
    let stored = parent.load("race").unwrap().unwrap();
    assert_eq!(stored.version, version);
    assert_eq!(stored.bytes, last.1.as_bytes());
    // Every winning value is distinct (no writer won twice with one attempt).
    let values: HashSet<_> = wins.values().map(|(_, value)| value.clone()).collect();
    assert_eq!(values.len(), wins.len());
    eprintln!(
        "{} processes x {} threads x {} attempts: {} wins (one per version), {losses} losses",
        PROCESSES,
        THREADS,
        ATTEMPTS,
        wins.len()
    );
}

#[test]
fn a_lease_holder_killed_mid_lease_loses_it_when_it_expires() {
    let server = RedisServer::start();
    let url = server.url();
    let ttl = Duration::from_millis(1500);
    let mut holder = ChildProcess::spawn(
        "child",
        "hold-lease",
        &[
            ("REDIS_URL", url.clone()),
            ("LEASE_MS", ttl.as_millis().to_string()),
        ],
    );
    let line = holder.expect_line("LOCKED ", Duration::from_secs(60));
    let locked = Instant::now();
    let holder_id = line["LOCKED ".len()..].to_owned();
    holder.child.kill().unwrap();
    holder.child.wait().unwrap();

    let store = store(&url);
    let mut raw = server.raw();
    // Dead, but its lease stands until it expires.
    let stored_holder: String = raw.get("safire:l:backend-a").unwrap();
    assert_eq!(stored_holder, holder_id);
    let pttl: i64 = raw.pttl("safire:l:backend-a").unwrap();
    assert!(pttl > 0 && pttl <= 1500, "{pttl}");
    assert_eq!(store.try_lock("backend-a", ttl).unwrap(), None);

    // Another process takes it once it expires (polling, as a waiter would).
    let lease = loop {
        if let Some(lease) = store.try_lock("backend-a", ttl).unwrap() {
            break lease;
        }
        assert!(
            locked.elapsed() < ttl + Duration::from_secs(3),
            "the dead holder's lease never expired"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let waited = locked.elapsed();
    assert!(
        waited + Duration::from_millis(300) >= ttl,
        "taken after {waited:?}, before the {ttl:?} lease could expire"
    );
    assert_ne!(lease.holder, holder_id);
    let stored_holder: String = raw.get("safire:l:backend-a").unwrap();
    assert_eq!(stored_holder, lease.holder);
}

/// The crate's runnable example (`examples/fleet.rs`, compiled into this test too) against a
/// real Redis: 32 callers in 4 "processes", one token request.
#[test]
fn the_fleet_example_makes_one_token_request() {
    let server = RedisServer::start();
    let report = example::run(&server.url()).unwrap();
    assert_eq!(report.callers, 32);
    assert_eq!(report.token_requests, 1);
    assert!(report.opaque);
    assert!(report.stored_len > 21 + 16);
}
