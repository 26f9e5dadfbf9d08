//! Discovery end to end: the SMART configuration fetched, cached on success and not on
//! failure, and one request (or one shared failure) for concurrent first callers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use safire_core::{Error, NetworkErrorKind};
use serde_json::json;

use super::super::TestClient;
use super::super::servers::{Reply, TestServer};
use super::{
    DISCOVERY, assert_common_headers, build, client, config_for, network, one_second_limits,
    smart_configuration, smart_server,
};

pub fn discovery_end_to_end<C: TestClient>() {
    let server = smart_server(
        |_| Reply::json(500, json!({})),
        |_| Reply::json(500, json!({})),
    );
    let client: C = client(config_for(&server));

    let metadata = client.server_metadata().unwrap();
    assert_eq!(
        metadata.token_endpoint.as_deref(),
        Some(server.url("/token").as_str())
    );
    assert_eq!(
        metadata.registration_endpoint.as_deref(),
        Some(server.url("/register").as_str())
    );
    let again = client.server_metadata().unwrap();
    assert!(Arc::ptr_eq(&metadata, &again), "metadata is cached");

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "one discovery request: {requests:?}");
    let request = &requests[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.target, DISCOVERY);
    assert_common_headers(request);
    assert_eq!(request.header("authorization"), None);
    assert!(request.body.is_empty());
}

pub fn discovery_failure_is_not_cached<C: TestClient>() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = TestServer::http(move |_, base| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::text(503, "text/html", "<html>maintenance</html>")
        } else {
            Reply::json(200, smart_configuration(base))
        }
    });
    let client: C = client(config_for(&server));
    let err = client.server_metadata().unwrap_err();
    assert!(matches!(err, Error::Discovery(_)), "{err:?}");
    assert_eq!(err.status(), Some(503));
    client.server_metadata().unwrap();
    client.server_metadata().unwrap();
    assert_eq!(
        server.requests().len(),
        2,
        "failure not cached, success cached"
    );
}

pub fn concurrent_first_discovery_sends_one_request<C: TestClient>() {
    let server = TestServer::http(|_, base| {
        std::thread::sleep(Duration::from_millis(300));
        Reply::json(200, smart_configuration(base))
    });
    let client: C = client(config_for(&server));
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| client.server_metadata()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let first = results[0].as_ref().unwrap().clone();
    for result in &results {
        assert!(Arc::ptr_eq(&first, result.as_ref().unwrap()));
    }
    assert_eq!(
        server.requests_to(DISCOVERY).len(),
        1,
        "eight concurrent first calls, one request"
    );
}

/// Callers queued behind a failing first discovery get its failure: they do not retry one
/// after another, each waiting a whole timeout.
pub fn concurrent_callers_share_a_failed_discovery<C: TestClient>() {
    let server = TestServer::http(|_, _| Reply::Hang);
    let limits = one_second_limits();
    let budget = limits.call_timeout + Duration::from_secs(1);
    let client: C = build(config_for(&server), limits, None);
    let started = Instant::now();
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| client.server_metadata()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    for result in &results {
        let err = result.as_ref().unwrap_err();
        assert_eq!(network(err).kind, NetworkErrorKind::Timeout, "{err}");
    }
    assert!(
        elapsed < budget,
        "four callers took {elapsed:?}, budget {budget:?}"
    );
    assert_eq!(server.requests().len(), 1, "one discovery for all four");
}
