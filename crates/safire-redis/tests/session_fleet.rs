//! End to end: `safire-ureq`'s `SmartSession` in several processes sharing a `RedisStore`,
//! against the sandbox's real token endpoint (which counts the requests).
//!
//! Each round, the parent stores an expired copy of the session; every child process resumes
//! it from Redis (`SmartClient::resume_session`) and asks for a token from many threads at
//! once. One token request must go out for the whole fleet.

mod harness;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use harness::{
    CHILD_ENV, ChildProcess, RedisServer, finish_fleet, one_token, redirect_of, report,
    report_round, rotating_sandbox, spawn_fleet, user_config,
};
use safire_core::{
    AuthorizeParams, CallOptions, ClientAuth, ClientConfig, PrivateKey, Session, SessionStore,
};
use safire_redis::{EncryptionKey, RedisConfig, RedisStore};
use safire_sandbox::{Endpoint, Sandbox};
use safire_ureq::SmartClient;

const KEY: [u8; 32] = [0x33; 32];

fn store(url: &str) -> RedisStore {
    harness::store(url, KEY)
}

/// A keyed hash of a token, safe to print.
fn fingerprint(token: &str) -> String {
    EncryptionKey::from_bytes([1; 32]).key_name(token)
}

fn backend_config(base: &str, client_id: &str, pem: &str, kid: &str) -> ClientConfig {
    ClientConfig::builder(base)
        .client_id(client_id)
        .client_auth(ClientAuth::private_key_jwt(
            PrivateKey::from_pem(pem).unwrap(),
            kid,
        ))
        .scopes(["system/Patient.rs"])
        .allow_insecure_localhost(true)
        .build()
        .unwrap()
}

#[test]
fn child() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let env = |name: &str| std::env::var(name).unwrap();
    let store: Arc<dyn SessionStore> = Arc::new(store(&env("REDIS_URL")));
    let (config, threads) = match role.as_str() {
        "backend" => (
            backend_config(
                &env("SANDBOX_BASE"),
                &env("CLIENT_ID"),
                &env("KEY_PEM"),
                &env("KID"),
            ),
            16,
        ),
        "user" => (
            user_config(
                &env("SANDBOX_BASE"),
                &env("CLIENT_ID"),
                &env("REDIRECT_URI"),
            ),
            8,
        ),
        other => panic!("unknown role {other}"),
    };
    let client = SmartClient::new(config).unwrap();
    let key = env("STORE_KEY");
    report("READY");
    for line in std::io::BufRead::lines(std::io::stdin().lock()) {
        let line = line.unwrap();
        let Some(round) = line.strip_prefix("GO ") else {
            break;
        };
        // This process picks the (expired) session up from Redis.
        let session = client
            .resume_session(store.clone(), key.clone())
            .store_wait(Duration::from_secs(30))
            .build()
            .unwrap();
        let callers: Vec<_> = (0..threads)
            .map(|_| {
                let session = session.clone();
                std::thread::spawn(move || {
                    let token = session
                        .access_token()
                        .unwrap_or_else(|err| panic!("access_token failed: {err}"));
                    fingerprint(token.expose())
                })
            })
            .collect();
        report_round(round, callers);
    }
}

fn run_round(children: &mut [ChildProcess], round: u32) -> Vec<String> {
    harness::run_round(
        children,
        &format!("GO {round}"),
        round,
        Duration::from_secs(90),
    )
}

/// Stores `session` made already expired, replacing what is stored.
fn store_expired(store: &RedisStore, key: &str, mut session: Session) {
    session.expires_at = Some(SystemTime::now() - Duration::from_secs(1));
    let current = store.load(key).unwrap().map(|v| v.version);
    store
        .compare_and_swap(key, current, &session.to_bytes())
        .unwrap()
        .expect("nobody else writes between rounds");
}

#[test]
fn backend_session_8_processes_x_16_threads_one_token_request_per_expiry() {
    let redis = RedisServer::start();
    let sandbox = Sandbox::builder().start().unwrap();
    let backend = sandbox.clients().backend.clone();
    let base = sandbox.fhir_base_url().to_owned();
    let (pem, kid) = (backend.private_key_pem.unwrap(), backend.kid.unwrap());
    let client = SmartClient::new(backend_config(&base, &backend.client_id, &pem, &kid)).unwrap();
    let first = client.request_backend_session(CallOptions::new()).unwrap();
    let key = first.store_key("");
    let store = store(&redis.url());

    let env = [
        ("REDIS_URL", redis.url()),
        ("SANDBOX_BASE", base),
        ("CLIENT_ID", backend.client_id.clone()),
        ("KEY_PEM", pem),
        ("KID", kid),
        ("STORE_KEY", key.clone()),
    ];
    let mut children = spawn_fleet(8, "backend", &env);
    let mut previous = fingerprint(first.access_token.expose());
    let mut session = first;
    for round in 1..=3 {
        store_expired(&store, &key, session);
        let before = sandbox.requests(Endpoint::Token);
        let fingerprints = run_round(&mut children, round);
        let token = one_token(&fingerprints, 8 * 16, &format!("round {round}"));
        assert_ne!(token, previous, "round {round}: not renewed");
        assert_eq!(
            sandbox.requests(Endpoint::Token) - before,
            1,
            "round {round}: token requests for 8 processes x 16 threads at expiry"
        );
        session = Session::from_bytes(&store.load(&key).unwrap().unwrap().bytes).unwrap();
        assert_eq!(fingerprint(session.access_token.expose()), token);
        previous = token;
    }
    finish_fleet(children);
}

#[test]
fn two_processes_refresh_one_rotating_user_session_once() {
    let redis = RedisServer::start();
    let (sandbox, public, base) = rotating_sandbox();
    let redirect_uri = public.redirect_uris[0].clone();
    let client = SmartClient::new(user_config(&base, &public.client_id, &redirect_uri)).unwrap();

    // A real launch: authorize (auto-approved; read the redirect like a browser), then the
    // code exchange into a session value.
    let request = client
        .authorization_url(AuthorizeParams::default())
        .unwrap();
    let callback = redirect_of(request.url.as_str());
    let first = client
        .request_session(request.pending, &callback, CallOptions::new())
        .unwrap();
    let first_refresh = first.refresh_token.clone().expect("offline_access");
    let key = first.store_key("browser-session-1");
    let store = store(&redis.url());
    store_expired(&store, &key, first.clone());

    let env = [
        ("REDIS_URL", redis.url()),
        ("SANDBOX_BASE", base),
        ("CLIENT_ID", public.client_id.clone()),
        ("REDIRECT_URI", redirect_uri),
        ("STORE_KEY", key.clone()),
    ];
    let mut children = spawn_fleet(2, "user", &env);
    let before = sandbox.requests(Endpoint::Token);
    let fingerprints = run_round(&mut children, 1);
    let token = one_token(&fingerprints, 2 * 8, "the two processes");
    assert_ne!(token, fingerprint(first.access_token.expose()));
    assert_eq!(
        sandbox.requests(Endpoint::Token) - before,
        1,
        "exactly one refresh request"
    );
    finish_fleet(children);

    // The stored session carries the rotated refresh token, which works; the first one was
    // burnt by the rotation (checked last: a burnt one revokes the family in the sandbox).
    let stored = Session::from_bytes(&store.load(&key).unwrap().unwrap().bytes).unwrap();
    assert_eq!(fingerprint(stored.access_token.expose()), token);
    let rotated = stored
        .refresh_token
        .clone()
        .expect("a rotated refresh token");
    assert_ne!(rotated.expose(), first_refresh.expose());
    client
        .refresh_token(rotated, CallOptions::new())
        .expect("the stored refresh token is live");
    let burnt = client
        .refresh_token(first_refresh, CallOptions::new())
        .unwrap_err();
    assert!(burnt.to_string().contains("invalid_grant"), "{burnt}");
}

/// The async side: `safire-hyper`'s `SmartSession` on `AsyncRedisStore`, 4 instances (own
/// client, own store, own connection: as 4 processes would have) × 16 tasks at expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_sessions_4_instances_x_16_tasks_one_token_request() {
    let redis = RedisServer::start();
    let sandbox = Sandbox::builder().start().unwrap();
    let backend = sandbox.clients().backend.clone();
    let base = sandbox.fhir_base_url().to_owned();
    let config = backend_config(
        &base,
        &backend.client_id,
        backend.private_key_pem.as_deref().unwrap(),
        backend.kid.as_deref().unwrap(),
    );
    let first = safire_hyper::SmartClient::new(config.clone())
        .unwrap()
        .request_backend_session(CallOptions::new())
        .await
        .unwrap();
    let key = first.store_key("");
    let blocking = store(&redis.url());
    let url = redis.url();
    let key2 = key.clone();
    tokio::task::spawn_blocking(move || store_expired(&blocking, &key2, first))
        .await
        .unwrap();

    let mut sessions = Vec::new();
    for _ in 0..4 {
        let store: Arc<dyn safire_core::AsyncSessionStore> = Arc::new(
            safire_redis::AsyncRedisStore::new(
                RedisConfig::new(&url).unwrap(),
                EncryptionKey::from_bytes(KEY),
            )
            .unwrap(),
        );
        let client = safire_hyper::SmartClient::new(config.clone()).unwrap();
        sessions.push(
            client
                .resume_session(store, key.clone())
                .store_wait(Duration::from_secs(30))
                .build()
                .await
                .unwrap(),
        );
    }
    let before = sandbox.requests(Endpoint::Token);
    let tasks: Vec<_> = sessions
        .iter()
        .flat_map(|session| (0..16).map(move |_| session.clone()))
        .map(|session| {
            tokio::spawn(async move {
                let token = session.access_token().await.unwrap();
                fingerprint(token.expose())
            })
        })
        .collect();
    let mut fingerprints = Vec::new();
    for task in tasks {
        fingerprints.push(task.await.unwrap());
    }
    one_token(&fingerprints, 64, "4 instances x 16 tasks");
    assert_eq!(sandbox.requests(Endpoint::Token) - before, 1);
}
