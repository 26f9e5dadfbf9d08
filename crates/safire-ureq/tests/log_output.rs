//! ureq logs through the `log` crate (not `tracing`). At DEBUG it redacts header values and
//! paths; this test pins that down, since an application's logger sees those records.
//! (At TRACE, ureq-proto hex-dumps raw requests: see the crate docs' "Logging" section.)

#[path = "../../../tests/transport-suite/servers.rs"]
#[allow(dead_code)]
mod servers;

use std::sync::Mutex;

use safire_core::{CallOptions, ClientAuth, ClientConfig, SecretString};
use safire_ureq::SmartClient;
use servers::{Reply, TestServer};

static LOGGED: Mutex<String> = Mutex::new(String::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {} {}\n", record.level(), record.target(), record.args());
        LOGGED.lock().unwrap().push_str(&line);
    }
    fn flush(&self) {}
}

#[test]
fn ureq_debug_log_records_carry_no_secrets() {
    const SECRET: &str = "canary-log-secret-3e1a";
    const REFRESH: &str = "canary-log-refresh-77c0";
    const ACCESS: &str = "canary-log-access-0b9d";
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Debug);

    let server = TestServer::http(|_, _| {
        Reply::json(
            200,
            serde_json::json!({"access_token": ACCESS, "token_type": "Bearer", "refresh_token": REFRESH}),
        )
    });
    let config = ClientConfig::builder(server.url("/fhir"))
        .allow_insecure_localhost(true)
        .client_id("app")
        .token_endpoint(server.url("/token?tenant=canary-log-query-5d5d"))
        .client_auth(ClientAuth::client_secret_basic(SECRET))
        .build()
        .unwrap();
    let client = SmartClient::new(config).unwrap();
    let token = client
        .refresh_token(SecretString::new(REFRESH), CallOptions::new())
        .unwrap();
    assert_eq!(token.access_token.expose(), ACCESS);

    let logged = LOGGED.lock().unwrap().clone();
    assert!(
        logged.contains("DEBUG ureq"),
        "ureq logged at DEBUG: {logged}"
    );
    for canary in [SECRET, REFRESH, ACCESS, "canary-log-query-5d5d", "Basic "] {
        assert!(
            !logged.contains(canary),
            "log output leaks {canary:?}:\n{logged}"
        );
    }
}
