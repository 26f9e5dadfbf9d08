//! Timeouts, the response size cap, connection and TLS failures: one deadline for the whole
//! call, silent and trickling servers, bodies over and at the cap, refused connections, the
//! connect timeout and an untrusted certificate.

use std::time::{Duration, Instant};

use safire_core::{ClientConfig, Limits, NetworkErrorKind};

use super::super::TestClient;
use super::super::servers::{Recorded, Reply, SaturatedListener, TestCa, TestServer, refused_url};
use super::{
    DISCOVERY, build, client, config_for, fast_limits, hop, network, one_second_limits,
    smart_configuration,
};

fn assert_times_out<C: TestClient>(server: &TestServer) {
    let limits = one_second_limits();
    let budget = limits.call_timeout + Duration::from_secs(1);
    let client: C = build(config_for(server), limits, None);
    let started = Instant::now();
    let err = client.server_metadata().unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(network(&err).kind, NetworkErrorKind::Timeout, "{err}");
    assert!(elapsed < budget, "took {elapsed:?}, budget {budget:?}");
    assert!(
        elapsed >= Duration::from_millis(900),
        "gave up after {elapsed:?}, before the timeout"
    );
}

/// Issue 11.5: one deadline covers the whole call. Five redirects that each take ~0.5 s
/// (trickled) would pass a per-request timeout of 1.5 s one by one; the call gives up at
/// 1.5 s instead of after them all.
pub fn one_deadline_covers_discovery_redirects_and_the_request<C: TestClient>() {
    let server = TestServer::http(|request, _| {
        let location = format!("{DISCOVERY}?hop={}", hop(request) + 1);
        let raw = format!(
            "HTTP/1.1 302 Found\r\nlocation: {location}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
        );
        let interval = Duration::from_millis(500) / raw.len() as u32;
        Reply::Trickle {
            raw: raw.into_bytes(),
            interval,
        }
    });
    let call_timeout = Duration::from_millis(1500);
    let limits = Limits::default()
        .connect_timeout(Duration::from_secs(1))
        .call_timeout(call_timeout);
    let client: C = build(config_for(&server), limits, None);
    let started = Instant::now();
    let err = client.server_metadata().unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(network(&err).kind, NetworkErrorKind::Timeout, "{err}");
    assert!(
        err.to_string().contains("call_timeout"),
        "names the setting: {err}"
    );
    assert!(
        elapsed >= call_timeout - Duration::from_millis(50),
        "gave up after {elapsed:?}, before the deadline"
    );
    // The issue asks for 100 ms; the margin here absorbs a loaded 2-core CI machine.
    assert!(
        elapsed < call_timeout + Duration::from_millis(400),
        "took {elapsed:?} for a {call_timeout:?} deadline"
    );
    assert!(
        server.requests().len() >= 2,
        "the redirects were being followed"
    );
}

pub fn silent_server_times_out<C: TestClient>() {
    let server = TestServer::http(|_, _| Reply::Hang);
    assert_times_out::<C>(&server);
    assert_eq!(server.requests().len(), 1);
}

pub fn trickling_server_times_out<C: TestClient>() {
    let body = smart_configuration("https://ehr.example").to_string();
    let raw = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let server = TestServer::http(move |_, _| Reply::Trickle {
        raw: raw.clone().into_bytes(),
        interval: Duration::from_secs(1),
    });
    assert_times_out::<C>(&server);
}

pub fn huge_body_is_cut_off_at_the_cap<C: TestClient>() {
    const FIFTY_MIB: u64 = 50 * 1024 * 1024;
    let server = TestServer::http(|_, _| Reply::Stream { len: FIFTY_MIB });
    let limits = Limits::default().call_timeout(Duration::from_secs(10));
    let cap = limits.max_response_bytes;
    let client: C = build(config_for(&server), limits, None);
    let err = client.server_metadata().unwrap_err();
    let network = network(&err);
    assert_eq!(network.kind, NetworkErrorKind::BodyTooLarge, "{err}");
    assert_eq!(*network, safire_core::transport::body_too_large(cap));
    // The client stopped reading near the cap: the server could only push what socket buffers
    // hold beyond it, nowhere near 50 MiB.
    // Not a race fix: a correct client has already stopped, so there is no event to wait for,
    // and reading the counter sooner could only make it smaller (the assertion easier). The
    // 200 ms is an observation window in which a client that went on draining the body in
    // the background (e.g. a pooled connection task) would push the count past the bound.
    std::thread::sleep(Duration::from_millis(200));
    let streamed = server.streamed();
    assert!(
        streamed < 16 * 1024 * 1024,
        "the server wrote {streamed} bytes: the body was read far past the {cap}-byte cap"
    );
}

pub fn body_at_the_cap_is_accepted<C: TestClient>() {
    const CAP: usize = 64 * 1024;
    let padded = |extra: usize| {
        move |_: &Recorded, base: &str| {
            let mut body = smart_configuration(base).to_string().into_bytes();
            body.resize(CAP + extra, b' ');
            Reply::text(200, "application/json", body)
        }
    };
    let limits = fast_limits().max_response_bytes(CAP);
    let exact = TestServer::http(padded(0));
    let client: C = build(config_for(&exact), limits.clone(), None);
    client
        .server_metadata()
        .expect("a body of exactly the cap is accepted");

    let over = TestServer::http(padded(1));
    let client: C = build(config_for(&over), limits, None);
    let err = client.server_metadata().unwrap_err();
    assert_eq!(network(&err).kind, NetworkErrorKind::BodyTooLarge, "{err}");
}

pub fn connection_refused<C: TestClient>() {
    let base = refused_url();
    let client: C = client(
        ClientConfig::builder(format!("{base}/fhir"))
            .allow_insecure_localhost(true)
            .client_id("app"),
    );
    let err = client.server_metadata().unwrap_err();
    let network = network(&err);
    assert_eq!(network.kind, NetworkErrorKind::Connect, "{err}");
    assert!(
        err.to_string()
            .starts_with("HTTP request failed: Connection refused"),
        "{err}"
    );
}

pub fn connect_timeout_applies_to_opening_the_connection<C: TestClient>() {
    let listener = SaturatedListener::new();
    let limits = Limits::default()
        .connect_timeout(Duration::from_millis(300))
        .call_timeout(Duration::from_secs(5));
    let client: C = build(
        ClientConfig::builder(format!("{}/fhir", listener.base_url()))
            .allow_insecure_localhost(true),
        limits,
        None,
    );
    let started = Instant::now();
    let err = client.server_metadata().unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(network(&err).kind, NetworkErrorKind::Timeout, "{err}");
    assert_eq!(
        err.to_string(),
        "HTTP request failed: Connecting timed out after 300ms"
    );
    assert!(
        elapsed < Duration::from_millis(1300),
        "the connect timeout, not the request timeout, applied: {elapsed:?}"
    );
}

pub fn untrusted_certificate_is_a_tls_error<C: TestClient>() {
    let ca = TestCa::new();
    let server = TestServer::https(&ca, |_, base| Reply::json(200, smart_configuration(base)));
    let client: C = client(config_for(&server)); // the test CA is not trusted
    let err = client.server_metadata().unwrap_err();
    assert_eq!(network(&err).kind, NetworkErrorKind::Tls, "{err}");
    assert!(server.requests().is_empty(), "no request got through");

    let other_ca = TestCa::new();
    let client: C = build(config_for(&server), fast_limits(), Some(&other_ca));
    let err = client.server_metadata().unwrap_err();
    assert_eq!(
        network(&err).kind,
        NetworkErrorKind::Tls,
        "another CA: {err}"
    );
}
