//! A Redis hit on loopback: `RedisStore::load` (GET + AES-256-GCM decryption) next to a bare
//! `GET` of the same key on a plain `redis` connection, in the same run (see BENCHMARKS.md,
//! "Fleet").
//!
//! Not a criterion bench: the table reports percentiles (p50/p99), so every operation is timed
//! one by one. The three measurements are **interleaved** (load, GET, decrypt, load, GET, …,
//! the order rotated every round) so load and frequency changes hit them alike. The bench
//! starts its own `redis-server` (no persistence) on a free loopback port and stops it at the
//! end; run it pinned to one core like the loopback bench:
//!
//! ```sh
//! cargo bench --bench fleet --no-run
//! taskset -c 0 target/release/deps/fleet-<hash> --bench
//! ```
//!
//! `SAFIRE_FLEET_SAMPLES=N` sets the samples per operation (default 20 000).

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use safire_core::SessionStore;
use safire_redis::{EncryptionKey, RedisConfig, RedisStore};

/// A serialized session of a realistic size: three JWTs (access, refresh, id_token) and
/// context, about 2 KB.
fn session_bytes() -> Vec<u8> {
    let jwt = |n: usize| "x".repeat(n);
    format!(
        r#"{{"access_token":"{}","refresh_token":"{}","id_token":"{}","token_type":"Bearer","expires_at":1790000000,"scope":"launch/patient openid fhirUser offline_access patient/*.rs","patient":"p-123","fhir_base":"https://ehr.example/fhir","client_id":"app"}}"#,
        jwt(820),
        jwt(420),
        jwt(640)
    )
    .into_bytes()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> (Server, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (apt-get install -y redis-server)");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let mut answer = [0u8; 7];
            if s.write_all(b"PING\r\n").is_ok()
                && s.read_exact(&mut answer).is_ok()
                && &answer == b"+PONG\r\n"
            {
                return (server, port);
            }
        }
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[derive(Default)]
struct Samples(Vec<Duration>);

impl Samples {
    fn percentile(&mut self, p: f64) -> Duration {
        self.0.sort_unstable();
        let index = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0[index]
    }
    fn mean(&self) -> Duration {
        self.0.iter().sum::<Duration>() / self.0.len() as u32
    }
}

fn micros(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it with no argument: only
    // check that it works then.
    let benching = std::env::args().any(|a| a == "--bench");
    let samples: usize = std::env::var("SAFIRE_FLEET_SAMPLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if benching { 20_000 } else { 200 });

    let (_server, port) = start_redis();
    let url = format!("redis://127.0.0.1:{port}/");
    let store = RedisStore::new(
        RedisConfig::new(&url).unwrap(),
        EncryptionKey::from_bytes([9; 32]),
    )
    .unwrap();
    let session = session_bytes();
    let version = store
        .compare_and_swap("bench", None, &session)
        .unwrap()
        .unwrap();
    let mut bare = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let redis_key = "safire:s:bench";
    let raw = store.load_raw("bench").unwrap().unwrap();
    // Same key, same bytes, same answer.
    let got: Vec<u8> = redis::cmd("GET").arg(redis_key).query(&mut bare).unwrap();
    assert_eq!(got, raw);
    let loaded = store.load("bench").unwrap().unwrap();
    assert_eq!((loaded.version, loaded.bytes), (version, session.clone()));

    // Warm-up: connections open, caches warm.
    for _ in 0..1000 {
        black_box(store.load("bench").unwrap());
        let _: Vec<u8> = redis::cmd("GET").arg(redis_key).query(&mut bare).unwrap();
    }

    let (mut load, mut get, mut decrypt) =
        (Samples::default(), Samples::default(), Samples::default());
    for round in 0..samples {
        for step in 0..3 {
            match (round + step) % 3 {
                0 => {
                    let started = Instant::now();
                    let value = store.load("bench").unwrap();
                    load.0.push(started.elapsed());
                    black_box(value);
                }
                1 => {
                    let started = Instant::now();
                    let value: Vec<u8> = redis::cmd("GET").arg(redis_key).query(&mut bare).unwrap();
                    get.0.push(started.elapsed());
                    black_box(value);
                }
                _ => {
                    let blob = raw.clone();
                    let started = Instant::now();
                    let value = store.open_raw("bench", blob).unwrap();
                    decrypt.0.push(started.elapsed());
                    black_box(value);
                }
            }
        }
    }

    let (load50, load99) = (load.percentile(0.5), load.percentile(0.99));
    let (get50, get99) = (get.percentile(0.5), get.percentile(0.99));
    let (dec50, dec99) = (decrypt.percentile(0.5), decrypt.percentile(0.99));
    println!(
        "fleet: {samples} samples each, value {} bytes ({} stored)",
        session.len(),
        raw.len()
    );
    println!("| operation | p50 | p99 | mean |");
    println!("|---|---|---|---|");
    for (name, s, p50, p99) in [
        ("bare `GET` (redis crate)", &get, get50, get99),
        ("`RedisStore::load` (GET + decrypt)", &load, load50, load99),
        ("decryption alone (`open_raw`)", &decrypt, dec50, dec99),
    ] {
        println!(
            "| {name} | {} | {} | {} |",
            micros(p50),
            micros(p99),
            micros(s.mean())
        );
    }
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "load ÷ GET: p50 {:.3}, p99 {:.3}; (load − decrypt) ÷ GET: p50 {:.3}, p99 {:.3}",
        ratio(load50, get50),
        ratio(load99, get99),
        ratio(load50.saturating_sub(dec50), get50),
        ratio(load99.saturating_sub(dec50), get99),
    );
}
