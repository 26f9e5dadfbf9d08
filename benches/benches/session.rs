//! `access_token()` on a fresh token (the session hit path) for both transports' session
//! types, on 1, 2 and 8 threads at once, next to the same read behind a `std::sync::RwLock`
//! and a `Mutex` (see BENCHMARKS.md, "Sessions").
//!
//! Each benchmark's time is wall time ÷ total calls over all its threads: with no
//! serialization, 2 threads on this 2-core machine take about half the time per call of one
//! thread (8 threads: the same as 2, the cores are full); a global lock keeps it flat or
//! makes it worse.

use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex, RwLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use safire_core::{ClientConfig, Scopes, SecretString, Session, SessionKind, TokenResponse};

const THREADS: [usize; 3] = [1, 2, 8];

fn config() -> ClientConfig {
    ClientConfig::builder("https://ehr.example/fhir")
        .client_id("app")
        .token_endpoint("https://ehr.example/token")
        .build()
        .unwrap()
}

/// A user session valid for a day, with a realistic 43-byte token.
fn fresh_session() -> Session {
    let body =
        br#"{"access_token":"eyJhbGciOiJSUzI1NiJ9.aaaaaaaaaaaaaaaaaaaaaaaa","token_type":"Bearer",
        "expires_in":86400,"refresh_token":"rt","scope":"openid patient/*.rs","patient":"p"}"#;
    let token = TokenResponse::parse(200, body, SystemTime::now()).unwrap();
    Session::from_token_response(
        token,
        "https://ehr.example/fhir",
        "app",
        SessionKind::User,
        &Scopes::parse("openid patient/*.rs"),
    )
}

/// Polls a future that is ready at once (the hit path never waits).
fn now_or_never<F: std::future::Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the hit path must not wait"),
    }
}

/// Runs `iters` calls of `call` spread over `threads` threads started together; the wall
/// time from the common start to the last thread's end.
fn spread(iters: u64, threads: usize, call: &(dyn Fn() -> SecretString + Sync)) -> Duration {
    let per_thread = iters.div_ceil(threads as u64);
    let barrier = Barrier::new(threads);
    let barrier = &barrier;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..per_thread {
                        black_box(call());
                    }
                    (start, Instant::now())
                })
            })
            .collect();
        let spans: Vec<(Instant, Instant)> =
            handles.into_iter().map(|h| h.join().unwrap()).collect();
        let start = spans.iter().map(|s| s.0).min().unwrap();
        let end = spans.iter().map(|s| s.1).max().unwrap();
        // Scale back to `iters` calls when the split rounded up.
        (end - start).mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
    })
}

fn bench(c: &mut Criterion) {
    let ureq_client = safire_ureq::SmartClient::new(config()).unwrap();
    let ureq_session = ureq_client.session(fresh_session()).build().unwrap();
    let hyper_client = safire_hyper::SmartClient::new(config()).unwrap();
    let hyper_session = now_or_never(hyper_client.session(fresh_session()).build()).unwrap();
    // Baselines: the same freshness check and token clone behind std locks.
    let margin = Duration::from_secs(60);
    let rwlock = Arc::new(RwLock::new(fresh_session()));
    let mutex = Arc::new(Mutex::new(fresh_session()));

    let ureq_call = || ureq_session.access_token().unwrap();
    let hyper_call = || now_or_never(hyper_session.access_token()).unwrap();
    let rwlock_call = || {
        let session = rwlock.read().unwrap();
        assert!(session.is_fresh(SystemTime::now(), margin));
        session.access_token.clone()
    };
    let mutex_call = || {
        let session = mutex.lock().unwrap();
        assert!(session.is_fresh(SystemTime::now(), margin));
        session.access_token.clone()
    };
    // The floor for any implementation handing out an owned token: read the clock, clone.
    let token = fresh_session().access_token;
    let floor_call = || {
        black_box(SystemTime::now());
        token.clone()
    };
    // Same token from every path.
    assert_eq!(ureq_call(), hyper_call());
    assert_eq!(ureq_call(), rwlock_call());

    let mut group = c.benchmark_group("session-access-token");
    let calls: [(&str, &(dyn Fn() -> SecretString + Sync)); 5] = [
        ("floor-clock-and-clone", &floor_call),
        ("safire-ureq", &ureq_call),
        ("safire-hyper", &hyper_call),
        ("std-rwlock", &rwlock_call),
        ("std-mutex", &mutex_call),
    ];
    for (name, call) in calls {
        for threads in THREADS {
            group.bench_function(format!("{name}/{threads}-threads"), |b| {
                b.iter_custom(|iters| spread(iters, threads, call))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
