//! Session scenarios (issue 12), generic over the transport's [`SessionClient`]: a session
//! type kept valid behind the client, single-flight renewal, rotation through the hook,
//! backend renewal, authorized requests and where the bearer token may go.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, SystemTime};

use safire_core::http::{self, header};
use safire_core::{
    ClientAuth, ClientConfig, Error, HttpRequest, HttpResponse, MemoryStore, Scopes, SecretString,
    Session, SessionErrorKind, SessionKind, TokenResponse,
};
use serde_json::json;

use super::TestClient;
use super::cases::TestEs384;
use super::servers::{Recorded, Reply, TestServer};

/// Called with every session the transport's session type renews.
pub type Hook = Arc<dyn Fn(&Session) + Send + Sync>;

/// How a scenario wants its session built.
pub struct SessionSpec {
    /// The session value to start from.
    pub value: Session,
    /// The refresh margin.
    pub margin: Duration,
    /// `on_change`.
    pub on_change: Option<Hook>,
    /// A store and key (`store(..)` with a value, or `resume_session` when `resume`).
    pub store: Option<(Arc<MemoryStore>, String)>,
    /// Build with `resume_session` (read the value from the store) instead of the value.
    pub resume: bool,
}

impl SessionSpec {
    fn new(value: Session) -> Self {
        Self {
            value,
            margin: Duration::from_secs(60),
            on_change: None,
            store: None,
            resume: false,
        }
    }
}

/// A transport whose client builds session types; blocking calls (an async transport blocks
/// on its runtime; several threads may block at once).
pub trait SessionClient: TestClient {
    /// The transport's session type.
    type Session: Send + Sync + 'static;
    /// Builds the session type as `spec` says.
    fn build_session(&self, spec: SessionSpec) -> Result<Self::Session, Error>;
    /// `SmartSession::access_token`.
    fn access_token(&self, session: &Self::Session) -> Result<SecretString, Error>;
    /// `SmartSession::send`.
    fn send(&self, session: &Self::Session, request: HttpRequest) -> Result<HttpResponse, Error>;
    /// `SmartSession::session`.
    fn current(&self, session: &Self::Session) -> Session;
}

// ----------------------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------------------

const TOKEN: &str = "/token";

/// A FHIR + token server: `token` answers `/token`, `fhir` answers everything under `/fhir/`.
fn server(
    token: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    fhir: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
) -> TestServer {
    TestServer::http(move |request, _base| match request.path() {
        TOKEN => token(request),
        path if path.starts_with("/fhir/") => fhir(request),
        _ => Reply::text(404, "text/plain", "not found"),
    })
}

/// A public client of `server`'s `/fhir` with the token endpoint configured (no discovery).
fn user_client<C: SessionClient>(server: &TestServer) -> C {
    C::build(
        ClientConfig::builder(server.url("/fhir"))
            .client_id("app")
            .token_endpoint(server.url(TOKEN))
            .allow_insecure_localhost(true)
            .build()
            .unwrap(),
        fast_limits(),
        None,
    )
    .unwrap()
}

fn fast_limits() -> safire_core::Limits {
    safire_core::Limits::default()
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(5))
}

/// A user session at `server` holding `access` and `refresh`, expired when `expired`.
fn user_session(server: &TestServer, access: &str, refresh: &str, expired: bool) -> Session {
    let body = json!({
        "access_token": access, "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": refresh, "scope": "launch/patient patient/*.rs offline_access",
        "patient": "pat-123",
    });
    let token = TokenResponse::parse(200, body.to_string().as_bytes(), SystemTime::now()).unwrap();
    let mut session = Session::from_token_response(
        token,
        server.url("/fhir"),
        "app",
        SessionKind::User,
        &Scopes::parse("launch/patient patient/*.rs offline_access"),
    );
    if expired {
        session.expires_at = Some(SystemTime::now() - Duration::from_secs(1));
    }
    session
}

/// A client of `server` with a session holding `at-1` and `rt-1` (expired when `expired`).
fn client_with_session<C: SessionClient>(server: &TestServer, expired: bool) -> (C, C::Session) {
    let client: C = user_client(server);
    let session = client
        .build_session(SessionSpec::new(user_session(
            server, "at-1", "rt-1", expired,
        )))
        .unwrap();
    (client, session)
}

/// A token response for a refresh; `expires_in` 0 makes every later call renew again.
fn refreshed(access: &str, refresh: Option<&str>, expires_in: u64) -> Reply {
    let mut body =
        json!({"access_token": access, "token_type": "Bearer", "expires_in": expires_in});
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    Reply::json(200, body)
}

fn get(url: String) -> HttpRequest {
    http::Request::get(url)
        .header(header::ACCEPT, "application/fhir+json")
        .body(Vec::new())
        .unwrap()
}

fn session_error_kind(err: &Error) -> Option<&SessionErrorKind> {
    match err {
        Error::Session(e) => Some(&e.kind),
        _ => None,
    }
}

/// Runs `f(i)` on `n` threads released together; their results in thread order.
fn together<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let barrier = Barrier::new(n);
    let (barrier, f) = (&barrier, &f);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                scope.spawn(move || {
                    barrier.wait();
                    f(i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

// ----------------------------------------------------------------------------------------------
// Scenarios
// ----------------------------------------------------------------------------------------------

/// 64 callers at expiry: exactly one token request, and all get its token — each only once
/// the `on_change` hook has persisted it (a caller never holds a rotated session the app's
/// store does not have yet).
pub fn session_64_callers_at_expiry_send_one_token_request<C: SessionClient>() {
    let server = server(
        |_| refreshed("at-2", Some("rt-2"), 3600),
        |_| Reply::json(200, json!({})),
    );
    let client: C = user_client(&server);
    let persisted: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = persisted.clone();
    let mut spec = SessionSpec::new(user_session(&server, "at-1", "rt-1", true));
    spec.on_change = Some(Arc::new(move |s: &Session| {
        sink.lock()
            .unwrap()
            .push(s.access_token.expose().to_owned())
    }));
    let session = client.build_session(spec).unwrap();
    let tokens = together(64, |_| {
        let token = client.access_token(&session).map(|t| t.expose().to_owned());
        let persisted_when_received = persisted.lock().unwrap().clone();
        (token, persisted_when_received)
    });
    for (token, persisted_when_received) in &tokens {
        assert_eq!(token.as_deref().unwrap(), "at-2");
        assert_eq!(
            persisted_when_received,
            &["at-2"],
            "a caller got the renewed token before the hook persisted it"
        );
    }
    let posts = server.requests_to(TOKEN);
    assert_eq!(
        posts.len(),
        1,
        "single-flight: one token request for 64 callers"
    );
    assert_eq!(posts[0].form()["refresh_token"], "rt-1");
    // The merged session kept what the refresh omitted.
    let current = client.current(&session);
    assert_eq!(current.launch.patient.as_deref(), Some("pat-123"));
    assert_eq!(current.refresh_token.unwrap().expose(), "rt-2");
}

/// A failing refresh: its error goes to everyone who waited for it, nothing is poisoned,
/// and the next call tries again. Whatever the interleaving, exactly two token requests go
/// out in all (the failure, then one successful retry).
pub fn session_failing_refresh_is_shared_then_retried<C: SessionClient>() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = server(
        move |_| {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                // Slow, so that other callers are likely waiting for it when it fails; the
                // assertions hold for every interleaving.
                std::thread::sleep(Duration::from_millis(200));
                Reply::json(503, json!({"error": "temporarily_unavailable"}))
            } else {
                refreshed("at-2", Some("rt-2"), 3600)
            }
        },
        |_| Reply::json(200, json!({})),
    );
    let (client, session) = client_with_session::<C>(&server, true);
    let results = together(16, |_| client.access_token(&session));
    let failures: Vec<&Error> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!failures.is_empty(), "the first refresh failed");
    for err in &failures {
        assert_eq!(err.error_code(), Some("temporarily_unavailable"), "{err}");
        assert!(!err.is_reauthorization_required());
    }
    for token in results.iter().filter_map(|r| r.as_ref().ok()) {
        assert_eq!(token.expose(), "at-2");
    }
    // The next call succeeds (retrying now if nobody did yet).
    assert_eq!(client.access_token(&session).unwrap().expose(), "at-2");
    assert_eq!(server.requests_to(TOKEN).len(), 2);
}

/// Three refreshes with rotating refresh tokens, each new session persisted through the
/// hook; the server refuses a refresh token once it has been rotated away.
pub fn session_rotation_across_three_refreshes_is_persisted_through_the_hook<C: SessionClient>() {
    // The number of the only refresh token the server accepts.
    let latest = Arc::new(AtomicUsize::new(1));
    let server = server(
        move |request| {
            let presented = request.form()["refresh_token"].clone();
            let n: usize = presented.trim_start_matches("rt-").parse().unwrap();
            // Rotation: a refresh token works once, then only its successor does.
            if latest
                .compare_exchange(n, n + 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                return Reply::json(400, json!({"error": "invalid_grant"}));
            }
            let next = n + 1;
            refreshed(&format!("at-{next}"), Some(&format!("rt-{next}")), 0)
        },
        |_| Reply::json(200, json!({})),
    );
    let client: C = user_client(&server);
    let persisted: Arc<Mutex<Vec<Session>>> = Arc::default();
    let sink = persisted.clone();
    let mut spec = SessionSpec::new(user_session(&server, "at-1", "rt-1", true));
    spec.on_change = Some(Arc::new(move |s: &Session| {
        sink.lock().unwrap().push(s.clone())
    }));
    let session = client.build_session(spec).unwrap();
    // Each token is issued with `expires_in: 0`: every call renews.
    for n in 2..=4 {
        assert_eq!(
            client.access_token(&session).unwrap().expose(),
            format!("at-{n}")
        );
    }
    let stored = persisted.lock().unwrap().clone();
    let rotated: Vec<&str> = stored
        .iter()
        .map(|s| s.refresh_token.as_ref().unwrap().expose())
        .collect();
    assert_eq!(rotated, ["rt-2", "rt-3", "rt-4"]);
    let presented: Vec<String> = server
        .requests_to(TOKEN)
        .iter()
        .map(|r| r.form()["refresh_token"].clone())
        .collect();
    assert_eq!(presented, ["rt-1", "rt-2", "rt-3"]);
    // The persisted value (as an app would store it) restores a working session.
    let restored: Session =
        serde_json::from_str(&serde_json::to_string(stored.last().unwrap()).unwrap()).unwrap();
    assert_eq!(restored.launch.patient.as_deref(), Some("pat-123"));
    let resumed = client.build_session(SessionSpec::new(restored)).unwrap();
    assert_eq!(client.access_token(&resumed).unwrap().expose(), "at-5");
    // The first session still holds rt-4, now rotated away: re-authorization required.
    let err = client.access_token(&session).unwrap_err();
    assert!(err.is_reauthorization_required(), "{err}");
}

/// A backend session renews by signing a fresh assertion (no refresh token).
pub fn session_backend_renews_with_a_fresh_assertion<C: SessionClient>() {
    let issued = Arc::new(AtomicUsize::new(0));
    let count = issued.clone();
    let server = server(
        move |_| {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            // Zero lifetime: the next call must renew again.
            Reply::json(
                200,
                json!({"access_token": format!("bt-{n}"), "token_type": "bearer",
                       "expires_in": 0, "scope": "system/Patient.rs"}),
            )
        },
        |_| Reply::json(200, json!({})),
    );
    let (key, _pem) = TestEs384::fixed();
    let client = C::build(
        ClientConfig::builder(server.url("/fhir"))
            .client_id("svc")
            .token_endpoint(server.url(TOKEN))
            .scopes(["system/Patient.rs"])
            .client_auth(ClientAuth::private_key_jwt(key, "k1"))
            .allow_insecure_localhost(true)
            .build()
            .unwrap(),
        fast_limits(),
        None,
    )
    .unwrap();
    let value = client
        .request_backend_session(safire_core::CallOptions::new())
        .unwrap();
    assert_eq!(value.kind, SessionKind::Backend);
    assert_eq!(value.scopes.to_string(), "system/Patient.rs");
    let session = client.build_session(SessionSpec::new(value)).unwrap();
    assert_eq!(client.access_token(&session).unwrap().expose(), "bt-2");
    assert_eq!(client.access_token(&session).unwrap().expose(), "bt-3");
    let posts = server.requests_to(TOKEN);
    assert_eq!(posts.len(), 3);
    let mut assertions = Vec::new();
    for post in &posts {
        let form = post.form();
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!(form["scope"], "system/Patient.rs");
        assert!(!form.contains_key("refresh_token"));
        assertions.push(form["client_assertion"].clone());
    }
    assertions.dedup();
    assert_eq!(assertions.len(), 3, "a fresh assertion each time");
}

/// A 401 from the FHIR server: refresh once, retry once, with the new token.
pub fn session_401_refreshes_once_and_retries_once<C: SessionClient>() {
    let server = server(
        |_| refreshed("at-2", Some("rt-2"), 3600),
        |request| match request.header("authorization") {
            Some("Bearer at-2") => Reply::json(200, json!({"resourceType": "Patient", "id": "1"})),
            _ => Reply::Full {
                status: 401,
                headers: vec![(
                    "www-authenticate".into(),
                    r#"Bearer error="invalid_token""#.into(),
                )],
                body: Vec::new(),
            },
        },
    );
    // Fresh by its expiry, but the server has revoked it.
    let (client, session) = client_with_session::<C>(&server, false);
    let response = client
        .send(&session, get(server.url("/fhir/Patient/1")))
        .unwrap();
    assert_eq!(response.status(), 200);
    let reads = server.requests_to("/fhir/Patient/1");
    let bearers: Vec<_> = reads.iter().map(|r| r.header("authorization")).collect();
    assert_eq!(bearers, [Some("Bearer at-1"), Some("Bearer at-2")]);
    assert_eq!(server.requests_to(TOKEN).len(), 1);

    // A server that keeps answering 401: one refresh, one retry, then its answer.
    let always = server_always_401();
    let (client, session) = client_with_session::<C>(&always, false);
    let response = client
        .send(&session, get(always.url("/fhir/Patient/1")))
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(always.requests_to("/fhir/Patient/1").len(), 2);
    assert_eq!(always.requests_to(TOKEN).len(), 1);
}

fn server_always_401() -> TestServer {
    server(
        |_| refreshed("at-2", Some("rt-2"), 3600),
        |_| Reply::text(401, "text/plain", "no"),
    )
}

/// The token never reaches another origin or another path: refused before sending, and a
/// redirect out of the FHIR base drops it.
pub fn session_token_never_sent_to_another_origin<C: SessionClient>() {
    let target = TestServer::http(|_, _| Reply::json(200, json!({})));
    let target_url = target.url("/fhir/Patient/1");
    let redirect_to = target_url.clone();
    let fhir = server(
        |_| refreshed("at-2", Some("rt-2"), 3600),
        move |request| match request.path() {
            "/fhir/moved" => Reply::redirect(302, &redirect_to),
            "/fhir/elsewhere" => Reply::redirect(302, "/admin/Patient/1"),
            _ => Reply::json(200, json!({})),
        },
    );
    let (client, session) = client_with_session::<C>(&fhir, false);
    for url in [
        target_url.clone(),
        fhir.url("/admin/Patient/1"),
        fhir.url("/fhirx/Patient/1"),
        fhir.url("/fhir/../admin"),
    ] {
        let err = client.send(&session, get(url.clone())).unwrap_err();
        assert_eq!(
            session_error_kind(&err),
            Some(&SessionErrorKind::DestinationNotAllowed),
            "{url}: {err}"
        );
        assert!(!err.to_string().contains("at-1"));
    }
    assert_eq!(target.requests().len(), 0, "the other origin saw nothing");
    assert!(fhir.requests_to("/admin/Patient/1").is_empty());

    // Redirected by the FHIR server: followed, but without the token.
    let response = client.send(&session, get(fhir.url("/fhir/moved"))).unwrap();
    assert_eq!(response.status(), 200);
    let arrived = target.requests();
    assert_eq!(arrived.len(), 1);
    assert_eq!(arrived[0].header("authorization"), None);
    let _ = client.send(&session, get(fhir.url("/fhir/elsewhere")));
    for request in fhir.requests_to("/admin/Patient/1") {
        assert_eq!(request.header("authorization"), None);
    }
    // Under the base, the token goes.
    client
        .send(&session, get(fhir.url("/fhir/Patient/1")))
        .unwrap();
    let reads = fhir.requests_to("/fhir/Patient/1");
    assert_eq!(
        reads.last().unwrap().header("authorization"),
        Some("Bearer at-1")
    );
}

/// `invalid_grant` on refresh: "re-authorization required", kept (no further request).
pub fn session_reauthorization_required<C: SessionClient>() {
    let server = server(
        |_| {
            Reply::json(
                400,
                json!({"error": "invalid_grant", "error_description": "expired"}),
            )
        },
        |_| Reply::json(200, json!({})),
    );
    let (client, session) = client_with_session::<C>(&server, true);
    for _ in 0..3 {
        let err = client.access_token(&session).unwrap_err();
        assert!(err.is_reauthorization_required(), "{err}");
        assert_eq!(err.error_code(), Some("invalid_grant"));
        assert!(!err.to_string().contains("rt-1"));
    }
    assert_eq!(server.requests_to(TOKEN).len(), 1);
    // An authorized request fails the same way, and nothing is sent.
    let err = client
        .send(&session, get(server.url("/fhir/Patient/1")))
        .unwrap_err();
    assert!(err.is_reauthorization_required());
    assert!(server.requests_to("/fhir/Patient/1").is_empty());
}

/// Two session instances (as in two processes) sharing one store renew once between them.
pub fn sessions_sharing_a_store_renew_once<C: SessionClient>() {
    let server = server(
        |_| {
            // Slow, so the other instance is likely polling the store meanwhile; the
            // assertions hold for every interleaving.
            std::thread::sleep(Duration::from_millis(100));
            refreshed("at-2", Some("rt-2"), 3600)
        },
        |_| Reply::json(200, json!({})),
    );
    let client: C = user_client(&server);
    let store = Arc::new(MemoryStore::new());
    let key = "safire:session:app#test".to_owned();
    let mut first = SessionSpec::new(user_session(&server, "at-1", "rt-1", true));
    first.store = Some((store.clone(), key.clone()));
    let a = client.build_session(first).unwrap();
    let mut second = SessionSpec::new(user_session(&server, "ignored", "ignored", true));
    second.store = Some((store.clone(), key.clone()));
    second.resume = true;
    let b = client.build_session(second).unwrap();
    assert_eq!(client.current(&b).access_token.expose(), "at-1");
    // Half the callers on each instance.
    let tokens = together(32, |i| {
        let session = if i % 2 == 0 { &a } else { &b };
        client.access_token(session).map(|t| t.expose().to_owned())
    });
    for token in tokens {
        assert_eq!(token.unwrap(), "at-2");
    }
    assert_eq!(client.access_token(&a).unwrap().expose(), "at-2");
    assert_eq!(client.access_token(&b).unwrap().expose(), "at-2");
    assert_eq!(
        server.requests_to(TOKEN).len(),
        1,
        "one renewal for the fleet"
    );
    let stored = safire_core::SessionStore::load(store.as_ref(), &key)
        .unwrap()
        .unwrap();
    assert_eq!(
        Session::from_bytes(&stored.bytes)
            .unwrap()
            .refresh_token
            .unwrap()
            .expose(),
        "rt-2"
    );
}
