//! Fleets against the sandbox's real token endpoint, with processes sharing one Redis.
//!
//! Store-level: the renewal protocol Safire's session types run on a `SessionStore` (load; if
//! stale, lease; re-load; renew; compare-and-swap; release; without the lease, poll `load`) is
//! written out here over `safire-ureq`'s `SmartClient`, so these tests do not depend on the
//! transports' session types. The children's clock is the real clock plus an offset the parent
//! sends with each round, so "the token expired" needs no waiting.

mod harness;

use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use harness::{
    CHILD_ENV, ChildProcess, RedisServer, finish_fleet, one_token, redirect_of, report,
    report_round, rotating_sandbox, spawn_fleet, user_config,
};
use safire_core::{
    AuthorizeParams, CallOptions, ClientAuth, ClientConfig, PrivateKey, TokenResponse,
};
use safire_redis::{EncryptionKey, RedisStore, SessionStore};
use safire_sandbox::{Endpoint, Sandbox};
use safire_ureq::SmartClient;

const KEY: [u8; 32] = [0x22; 32];
const REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// Renew when less than this is left.
const MARGIN_MS: u64 = 60_000;

fn store(url: &str) -> RedisStore {
    harness::store(url, KEY)
}

/// The stored session: `expires_at_ms \n access_token \n refresh_token` (encrypted by the
/// store).
struct Stored {
    expires_at_ms: u64,
    access: String,
    refresh: String,
}

impl Stored {
    fn from_response(token: &TokenResponse, now_ms: u64) -> Self {
        Self {
            expires_at_ms: now_ms + token.expires_in.unwrap_or(0) * 1000,
            access: token.access_token.expose().to_owned(),
            refresh: token
                .refresh_token
                .as_ref()
                .map(|t| t.expose().to_owned())
                .unwrap_or_default(),
        }
    }
    fn encode(&self) -> Vec<u8> {
        format!("{}\n{}\n{}", self.expires_at_ms, self.access, self.refresh).into_bytes()
    }
    fn decode(bytes: &[u8]) -> Self {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let mut parts = text.splitn(3, '\n');
        Self {
            expires_at_ms: parts.next().unwrap().parse().unwrap(),
            access: parts.next().unwrap().to_owned(),
            refresh: parts.next().unwrap_or("").to_owned(),
        }
    }
    /// A fingerprint safe to print: a keyed hash of the access and refresh tokens.
    fn fingerprint(&self) -> String {
        let key = EncryptionKey::from_bytes([1; 32]);
        format!(
            "{}/{}",
            key.key_name(&self.access),
            key.key_name(&self.refresh)
        )
    }
}

fn real_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// One caller's "give me a valid token", shared with the fleet through `store`.
fn fleet_token(
    store: &RedisStore,
    name: &str,
    now_ms: u64,
    renew: &dyn Fn(Option<&Stored>) -> Stored,
) -> Stored {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(current) = store.load(name).unwrap() {
            let stored = Stored::decode(&current.bytes);
            if stored.expires_at_ms > now_ms + MARGIN_MS {
                return stored;
            }
        }
        if let Some(lease) = store.try_lock(name, Duration::from_secs(10)).unwrap() {
            let current = store.load(name).unwrap();
            let stored = current.as_ref().map(|v| Stored::decode(&v.bytes));
            let result = match stored {
                Some(stored) if stored.expires_at_ms > now_ms + MARGIN_MS => stored,
                stored => {
                    let renewed = renew(stored.as_ref());
                    let written = store
                        .compare_and_swap(name, current.map(|v| v.version), &renewed.encode())
                        .unwrap();
                    assert!(written.is_some(), "lost the write while holding the lease");
                    renewed
                }
            };
            store.release(&lease).unwrap();
            return result;
        }
        assert!(Instant::now() < deadline, "no renewed token within 30 s");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn child() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let env = |name: &str| std::env::var(name).unwrap();
    let store = Arc::new(store(&env("REDIS_URL")));
    let base = env("SANDBOX_BASE");
    let config = ClientConfig::builder(&base)
        .client_id(env("CLIENT_ID"))
        .redirect_uri(REDIRECT_URI)
        .allow_insecure_localhost(true);
    let (client, name, threads) = match role.as_str() {
        "backend" => {
            let key = PrivateKey::from_pem(&env("KEY_PEM")).unwrap();
            let config = config
                .client_auth(ClientAuth::private_key_jwt(key, env("KID")))
                .build()
                .unwrap();
            (SmartClient::new(config).unwrap(), "backend:ehr-a", 16)
        }
        "user" => (
            SmartClient::new(config.build().unwrap()).unwrap(),
            "user:session-1",
            8,
        ),
        other => panic!("unknown role {other}"),
    };
    let client = Arc::new(client);
    report("READY");
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let mut words = line.split(' ');
        if words.next() != Some("GO") {
            break;
        }
        let round: u32 = words.next().unwrap().parse().unwrap();
        let offset_ms: u64 = words.next().unwrap().parse().unwrap();
        let callers: Vec<_> = (0..threads)
            .map(|_| {
                let (store, client, role) = (store.clone(), client.clone(), role.clone());
                std::thread::spawn(move || {
                    let now_ms = real_now_ms() + offset_ms;
                    let renew = |current: Option<&Stored>| -> Stored {
                        let token = if role == "backend" {
                            client.request_backend_token(CallOptions::new())
                        } else {
                            let refresh = current.expect("a session to refresh").refresh.clone();
                            client.refresh_token(refresh, CallOptions::new())
                        }
                        .unwrap_or_else(|err| panic!("token request failed: {err}"));
                        Stored::from_response(&token, now_ms)
                    };
                    fleet_token(&store, name, now_ms, &renew).fingerprint()
                })
            })
            .collect();
        report_round(round, callers);
    }
}

/// Sends `GO round offset` to every child and collects their fingerprints for the round.
fn run_round(children: &mut [ChildProcess], round: u32, offset: Duration) -> Vec<String> {
    let go = format!("GO {round} {}", offset.as_millis());
    harness::run_round(children, &go, round, Duration::from_secs(60))
}

#[test]
fn backend_token_8_processes_x_16_threads_one_request_per_expiry() {
    let redis = RedisServer::start();
    let sandbox = Sandbox::builder().start().unwrap();
    let backend = sandbox.clients().backend.clone();
    let env = [
        ("REDIS_URL", redis.url()),
        ("SANDBOX_BASE", sandbox.fhir_base_url().to_owned()),
        ("CLIENT_ID", backend.client_id.clone()),
        ("KEY_PEM", backend.private_key_pem.clone().unwrap()),
        ("KID", backend.kid.clone().unwrap()),
    ];
    let mut children = spawn_fleet(8, "backend", &env);
    let before = sandbox.requests(Endpoint::Token);
    let mut previous = None;
    // Round 1: no token yet. Rounds 2 and 3: the clock moved 1 h on (backend tokens last at
    // most 300 s), so the stored token is expired for everyone.
    for round in 1..=3u32 {
        let offset = Duration::from_secs(3600 * u64::from(round - 1));
        let fingerprints = run_round(&mut children, round, offset);
        let token = one_token(&fingerprints, 8 * 16, &format!("round {round}"));
        assert_ne!(
            previous.as_ref(),
            Some(&token),
            "round {round}: not renewed"
        );
        previous = Some(token);
        assert_eq!(
            sandbox.requests(Endpoint::Token) - before,
            round as usize,
            "token requests after round {round}"
        );
    }
    finish_fleet(children);
}

#[test]
fn two_processes_refresh_one_rotating_user_session_once() {
    let redis = RedisServer::start();
    let (sandbox, public, base) = rotating_sandbox();

    // A real launch: authorize (auto-approved), exchange the code.
    let config = user_config(&base, &public.client_id, &public.redirect_uris[0]);
    let client = SmartClient::new(config).unwrap();
    let request = client
        .authorization_url(AuthorizeParams::default())
        .unwrap();
    let callback = redirect_of(request.url.as_str());
    let token = client
        .request_access_token(request.pending, &callback, CallOptions::new())
        .unwrap();
    assert!(token.refresh_token.is_some());
    let first = Stored::from_response(&token, real_now_ms());
    let store = store(&redis.url());
    store
        .compare_and_swap("user:session-1", None, &first.encode())
        .unwrap()
        .unwrap();

    let env = [
        ("REDIS_URL", redis.url()),
        ("SANDBOX_BASE", base.clone()),
        ("CLIENT_ID", public.client_id.clone()),
    ];
    let mut children = spawn_fleet(2, "user", &env);
    let before = sandbox.requests(Endpoint::Token);
    // Two hours later for both processes: the access token (1 h) needs a refresh.
    let fingerprints = run_round(&mut children, 1, Duration::from_secs(7200));
    let token = one_token(&fingerprints, 2 * 8, "the two processes");
    assert_ne!(token, first.fingerprint(), "not refreshed");
    assert_eq!(
        sandbox.requests(Endpoint::Token) - before,
        1,
        "exactly one refresh request"
    );
    // The stored refresh token is the live one (no process redeemed it a second time), and
    // the first one was indeed burnt by the rotation. (In this order: presenting a burnt
    // refresh token makes the sandbox revoke the whole family.)
    let stored = Stored::decode(&store.load("user:session-1").unwrap().unwrap().bytes);
    assert_ne!(stored.refresh, first.refresh);
    client
        .refresh_token(stored.refresh.clone(), CallOptions::new())
        .expect("the stored (rotated) refresh token is valid");
    let old = client
        .refresh_token(first.refresh.clone(), CallOptions::new())
        .unwrap_err();
    assert!(old.to_string().contains("invalid_grant"), "{old}");
    finish_fleet(children);
}
