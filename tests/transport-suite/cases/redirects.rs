//! Redirects: HTTPS to HTTP blocked, HTTPS to HTTPS followed, another origin's metadata and
//! `user:password@` targets refused, the hop limit, `Authorization` dropped across origins, and
//! no redirects from the token or registration endpoints.

use safire_core::{
    CallOptions, ClientAuth, ClientMetadata, Limits, NetworkErrorKind, SecretString,
};
use serde_json::json;

use super::super::TestClient;
use super::super::servers::{Reply, TestCa, TestServer};
use super::{
    DISCOVERY, REDIRECT_URI, assert_common_headers, build, client, config_for, fast_limits,
    get_with_authorization, hop, network, smart_configuration, smart_server, token_json,
};

pub fn redirect_https_to_http_is_blocked<C: TestClient>() {
    let ca = TestCa::new();
    let plain = TestServer::http(|_, base| Reply::json(200, smart_configuration(base)));
    let target = plain.url(DISCOVERY);
    let server = TestServer::https(&ca, move |_, _| {
        Reply::redirect(302, &format!("{target}?sig=secret-in-query"))
    });
    let client: C = build(config_for(&server), fast_limits(), Some(&ca));

    let err = client.server_metadata().unwrap_err();
    let network = network(&err);
    assert_eq!(network.kind, NetworkErrorKind::RedirectRefused);
    assert_eq!(
        err.to_string(),
        format!(
            "HTTP request failed: Blocked redirect to non-HTTPS URL: {}",
            plain.url(DISCOVERY)
        )
    );
    assert_eq!(server.requests().len(), 1);
    assert!(
        plain.requests().is_empty(),
        "the http target is never contacted"
    );
}

pub fn redirect_https_to_https_is_followed<C: TestClient>() {
    let ca = TestCa::new();
    let real = TestServer::https(&ca, |_, base| Reply::json(200, smart_configuration(base)));
    let target = real.url("/fhir/.well-known/smart-configuration");
    let moved = TestServer::https(&ca, move |_, _| Reply::redirect(301, &target));
    // Another origin: followed only with the explicit opt-in.
    let limits = fast_limits().allow_cross_origin_discovery_redirects(true);
    let client: C = build(config_for(&moved), limits, Some(&ca));

    let metadata = client.server_metadata().unwrap();
    assert_eq!(
        metadata.token_endpoint.as_deref(),
        Some(real.url("/token").as_str())
    );
    assert_eq!(moved.requests().len(), 1);
    let followed = real.requests();
    assert_eq!(followed.len(), 1);
    assert_eq!(followed[0].method, "GET");
    assert_common_headers(&followed[0]);
}

/// Issue 11.3: discovery may not hand the client another origin's metadata by default.
pub fn discovery_redirect_to_another_origin_is_refused<C: TestClient>() {
    let evil = TestServer::http(|_, base| Reply::json(200, smart_configuration(base)));
    let target = evil.url(DISCOVERY);
    let server = TestServer::http(move |_, _| Reply::redirect(302, &target));
    let client: C = client(config_for(&server));

    let err = client.server_metadata().unwrap_err();
    assert_eq!(
        network(&err).kind,
        NetworkErrorKind::RedirectRefused,
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&evil.base_url()),
        "names the target origin: {text}"
    );
    assert!(
        text.contains("allow_cross_origin_discovery_redirects"),
        "names the opt-in: {text}"
    );
    assert!(
        evil.requests().is_empty(),
        "the other origin is never contacted"
    );
}

/// Issue 11.2: a redirect target with `user:password@` is refused before anything is sent,
/// and the credentials never appear in the error.
pub fn redirect_target_with_userinfo_is_refused<C: TestClient>() {
    let other = TestServer::http(|_, base| Reply::json(200, smart_configuration(base)));
    let target = other
        .url(DISCOVERY)
        .replacen("http://", "http://mallory:userinfo-canary@", 1);
    let server = TestServer::http(move |_, _| Reply::redirect(302, &target));
    let limits = fast_limits().allow_cross_origin_discovery_redirects(true);
    let client: C = build(config_for(&server), limits, None);

    let err = client.server_metadata().unwrap_err();
    assert_eq!(
        network(&err).kind,
        NetworkErrorKind::RedirectRefused,
        "{err}"
    );
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("userinfo-canary"), "{text}");
        assert!(!text.contains("mallory"), "{text}");
    }
    assert!(other.requests().is_empty(), "nothing reaches the target");
}

pub fn redirect_loop_stops_at_the_limit<C: TestClient>() {
    let server = TestServer::http(|request, _| {
        Reply::redirect(302, &format!("{DISCOVERY}?hop={}", hop(request) + 1))
    });
    let client: C = client(config_for(&server));
    let err = client.server_metadata().unwrap_err();
    assert_eq!(network(&err).kind, NetworkErrorKind::TooManyRedirects);
    assert!(err.to_string().contains("Too many redirects"), "{err}");
    let max_hops = Limits::default().redirects.max_hops;
    assert_eq!(
        server.requests().len(),
        max_hops + 1,
        "the first request and {max_hops} hops"
    );
}

pub fn cross_origin_redirect_drops_authorization<C: TestClient>() {
    let other = TestServer::http(|_, _| Reply::text(200, "text/plain", "landed"));
    let landing = other.url("/landing");
    let server = TestServer::http(move |request, _| match request.path() {
        "/start" => Reply::redirect(302, "/same-origin"),
        _ => Reply::redirect(307, &landing),
    });
    let limits = fast_limits().allow_cross_origin_discovery_redirects(true);
    let client: C = build(config_for(&server), limits, None);
    let (status, body) = client
        .run(get_with_authorization(
            server.url("/start"),
            "Bearer xorigin-token",
        ))
        .unwrap();
    assert_eq!((status, body.as_slice()), (200, &b"landed"[..]));

    let first = server.requests();
    assert_eq!(first.len(), 2);
    assert_eq!(
        first[0].header("authorization"),
        Some("Bearer xorigin-token")
    );
    assert_eq!(
        first[1].header("authorization"),
        Some("Bearer xorigin-token"),
        "a same-origin hop keeps Authorization"
    );
    let landed = other.requests();
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].method, "GET");
    assert_eq!(
        landed[0].header("authorization"),
        None,
        "a cross-origin hop drops Authorization"
    );
}

pub fn token_endpoint_redirects_are_refused<C: TestClient>() {
    for status in [307, 308] {
        let target = TestServer::http(|_, _| Reply::json(200, token_json("stolen", None)));
        let location = target.url("/token");
        let server = smart_server(
            move |_| Reply::redirect(status, &location),
            |_| Reply::json(500, json!({})),
        );
        let client: C = client(
            config_for(&server)
                .token_endpoint(server.url("/token"))
                .client_auth(ClientAuth::client_secret_basic("never-replayed")),
        );
        let err = client
            .refresh_token(SecretString::new("rt-1"), CallOptions::new())
            .unwrap_err();
        assert_eq!(
            network(&err).kind,
            NetworkErrorKind::RedirectRefused,
            "{status}"
        );
        assert!(
            err.to_string().contains(&format!(
                "Refused to follow HTTP {status} redirect from the token endpoint"
            )),
            "{err}"
        );
        assert_eq!(server.requests_to("/token").len(), 1);
        assert!(
            target.requests().is_empty(),
            "HTTP {status}: target got a request"
        );
    }
}

pub fn registration_endpoint_redirects_are_refused<C: TestClient>() {
    for status in [307, 308] {
        let target = TestServer::http(|_, _| Reply::json(201, json!({"client_id": "x"})));
        let location = target.url("/register");
        let server = smart_server(
            |_| Reply::json(500, json!({})),
            move |_| Reply::redirect(status, &location),
        );
        let client: C = client(config_for(&server));
        let err = client
            .register_client(
                &ClientMetadata::new("App").redirect_uris([REDIRECT_URI]),
                Some(&server.url("/register")),
                Some(SecretString::new("iat-never-replayed")),
            )
            .unwrap_err();
        assert_eq!(
            network(&err).kind,
            NetworkErrorKind::RedirectRefused,
            "{status}"
        );
        assert!(err.to_string().contains("registration endpoint"), "{err}");
        assert_eq!(server.requests_to("/register").len(), 1);
        assert!(
            target.requests().is_empty(),
            "HTTP {status}: target got a request"
        );
    }
}
