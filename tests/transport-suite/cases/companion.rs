//! The companion endpoints end to end: token introspection (RFC 7662), revocation (RFC 7009)
//! and client configuration management (RFC 7592). A child of `cases` (its helpers are
//! shared); `cases` re-exports every scenario here.

use std::sync::atomic::{AtomicBool, Ordering};

use safire_core::{
    CallOptions, ClientAuth, ClientMetadata, Error, NetworkErrorKind, RevocationErrorKind,
    SecretString, TokenTypeHint,
};
use serde_json::{Value, json};

use super::super::servers::{Recorded, Reply, TestServer};
use super::super::{TestClient, captured_tracing, tracing_text};
use super::{DISCOVERY, assert_common_headers, client, config_for, smart_configuration};

/// Discovery advertising `/introspect` and `/revoke`, and the two handlers.
fn companion_server(
    introspect: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    revoke: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
) -> TestServer {
    TestServer::http(move |request, base| match request.path() {
        DISCOVERY => {
            let mut configuration = smart_configuration(base);
            configuration["introspection_endpoint"] = json!(format!("{base}/introspect"));
            configuration["revocation_endpoint"] = json!(format!("{base}/revoke"));
            Reply::json(200, configuration)
        }
        "/introspect" => introspect(request),
        "/revoke" => revoke(request),
        _ => Reply::text(404, "text/plain", "not found"),
    })
}

fn assert_form_post(request: &Recorded) {
    assert_eq!(request.method, "POST");
    assert_common_headers(request);
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
}

pub fn introspection_end_to_end<C: TestClient>() {
    let server = companion_server(
        |request| match request.form()["token"].as_str() {
            "at-active" => Reply::json(
                200,
                json!({"active": true, "scope": "launch/patient patient/*.rs", "client_id": "app",
                       "exp": 4_000_000_000u64, "iat": 1_700_000_000u64, "sub": "user-1",
                       "aud": "https://ehr.example/fhir", "patient": "pat-123",
                       "fhirUser": "Practitioner/p1", "token_type": "Bearer",
                       "fhirContext": [{"reference": "Encounter/e1"}], "vendor_flag": 1}),
            ),
            _ => Reply::json(200, json!({"active": false})),
        },
        |_| Reply::json(500, json!({})),
    );
    let client: C =
        client(config_for(&server).client_auth(ClientAuth::client_secret_basic("s3cr3t")));

    let active = client
        .introspect_token(
            SecretString::new("at-active"),
            Some(TokenTypeHint::AccessToken),
            CallOptions::new(),
        )
        .unwrap();
    assert!(active.active);
    assert!(active.is_active_at(std::time::SystemTime::now()));
    assert_eq!(active.launch.patient.as_deref(), Some("pat-123"));
    assert_eq!(active.fhir_user.as_deref(), Some("Practitioner/p1"));
    assert_eq!(active.aud, ["https://ehr.example/fhir"]);
    assert_eq!(
        active.scopes().collect::<Vec<_>>(),
        ["launch/patient", "patient/*.rs"]
    );
    assert_eq!(active.launch.fhir_context.len(), 1);
    assert_eq!(active.extra["vendor_flag"], 1);
    assert!(active.findings.is_empty(), "{:?}", active.findings);

    let inactive = client
        .introspect_token(SecretString::new("at-gone"), None, CallOptions::new())
        .unwrap();
    assert!(!inactive.active, "active:false is a result, not an error");

    // A resource server whose authorization server wants a bearer token instead.
    client
        .introspect_token(
            SecretString::new("at-active"),
            None,
            CallOptions::new().bearer_token("rs-bearer"),
        )
        .unwrap();

    assert_eq!(server.requests_to(DISCOVERY).len(), 1, "discovered once");
    let posts = server.requests_to("/introspect");
    assert_eq!(posts.len(), 3);
    assert_form_post(&posts[0]);
    assert_eq!(
        posts[0].header("authorization"),
        Some(format!("Basic {}", base64ct::Base64::encode_string(b"app:s3cr3t")).as_str())
    );
    let form = posts[0].form();
    assert_eq!(form["token"], "at-active");
    assert_eq!(form["token_type_hint"], "access_token");
    assert!(!form.contains_key("client_id"), "the id travels in Basic");
    assert!(!posts[1].form().contains_key("token_type_hint"));
    assert_eq!(posts[2].header("authorization"), Some("Bearer rs-bearer"));
    assert!(!posts[2].form().contains_key("client_id"));
}

use base64ct::Encoding as _;

pub fn introspection_error_bodies<C: TestClient>() {
    let server = companion_server(
        |request| match request.form()["token"].as_str() {
            "unauthorized" => Reply::json(401, json!({"error": "invalid_client"})),
            "html" => Reply::text(200, "text/html", "<html>login</html>"),
            "no-active" => Reply::json(200, json!({"scope": "x", "exp": 1})),
            _ => Reply::json(200, json!({"active": "yes"})),
        },
        |_| Reply::json(500, json!({})),
    );
    let client: C = client(config_for(&server));
    let introspect = |token: &str| {
        client
            .introspect_token(SecretString::new(token), None, CallOptions::new())
            .unwrap_err()
    };

    let err = introspect("unauthorized");
    assert!(matches!(err, Error::Introspection(_)), "{err:?}");
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.error_code(), Some("invalid_client"));
    let err = introspect("html");
    assert!(err.to_string().contains("not a JSON object"), "{err}");
    let err = introspect("no-active");
    assert_eq!(
        err.to_string(),
        "Token introspection failed — HTTP 200 — response has no 'active' member; received fields: exp, scope"
    );
    let err = introspect("wrong-type");
    assert!(err.to_string().contains("must be a boolean"), "{err}");
    assert_eq!(server.requests_to("/introspect").len(), 4);
    assert_eq!(
        server.requests_to("/introspect")[0].form()["client_id"],
        "app"
    );
}

pub fn revocation_end_to_end<C: TestClient>() {
    let server = companion_server(
        |_| Reply::json(500, json!({})),
        |request| match request.form()["token"].as_str() {
            "rt-1" => Reply::text(200, "text/plain", ""),
            "at-1" => Reply::json(
                400,
                json!({"error": "unsupported_token_type", "error_description": "refresh tokens only"}),
            ),
            _ => Reply::json(401, json!({"error": "invalid_client"})),
        },
    );
    let client: C = client(config_for(&server));

    client
        .revoke_token(
            SecretString::new("rt-1"),
            Some(TokenTypeHint::RefreshToken),
            CallOptions::new(),
        )
        .unwrap();
    let err = client
        .revoke_token(
            SecretString::new("at-1"),
            Some(TokenTypeHint::AccessToken),
            CallOptions::new(),
        )
        .unwrap_err();
    let Error::Revocation(revocation) = &err else {
        panic!("expected a revocation error, got {err:?}");
    };
    assert_eq!(revocation.kind, RevocationErrorKind::UnsupportedTokenType);
    assert_eq!(err.status(), Some(400));
    let err = client
        .revoke_token(SecretString::new("other"), None, CallOptions::new())
        .unwrap_err();
    let Error::Revocation(revocation) = &err else {
        panic!("expected a revocation error, got {err:?}");
    };
    assert_eq!(revocation.kind, RevocationErrorKind::Refused);
    assert_eq!(err.error_code(), Some("invalid_client"));

    let posts = server.requests_to("/revoke");
    assert_eq!(posts.len(), 3);
    assert_form_post(&posts[0]);
    assert_eq!(posts[0].header("authorization"), None, "public client");
    let form = posts[0].form();
    assert_eq!(form["token"], "rt-1");
    assert_eq!(form["token_type_hint"], "refresh_token");
    assert_eq!(form["client_id"], "app");
    assert_eq!(posts[1].form()["token_type_hint"], "access_token");
}

/// A registration endpoint whose clients live at `/register/c-77` until deleted.
fn registration_server(rat: &'static str) -> TestServer {
    let deleted = AtomicBool::new(false);
    TestServer::http(move |request, base| {
        let uri = format!("{base}/register/c-77");
        let client = |name: &Value| {
            json!({"client_id": "c-77", "client_name": name, "registration_client_uri": uri,
                   "registration_access_token": rat, "redirect_uris": ["https://app.example/callback"],
                   "token_endpoint_auth_method": "none"})
        };
        let authorized = request.header("authorization") == Some(&format!("Bearer {rat}"));
        match (request.method.as_str(), request.path()) {
            ("POST", "/register") => Reply::json(201, client(&request.json()["client_name"])),
            ("GET", "/register/moved") => Reply::redirect(302, "/register/c-77"),
            (_, "/register/c-77") if !authorized || deleted.load(Ordering::SeqCst) => Reply::json(
                401,
                json!({"error": "invalid_token", "error_description": "unknown client"}),
            ),
            ("GET", "/register/c-77") => Reply::json(200, client(&json!("Suite App"))),
            ("PUT", "/register/c-77") => Reply::json(200, client(&request.json()["client_name"])),
            ("DELETE", "/register/c-77") => {
                deleted.store(true, Ordering::SeqCst);
                Reply::text(204, "text/plain", "")
            }
            _ => Reply::text(404, "text/plain", "not found"),
        }
    })
}

pub fn registration_management_end_to_end<C: TestClient>() {
    let server = registration_server("rat-1");
    let client: C = client(config_for(&server));
    let metadata = ClientMetadata::new("Suite App")
        .redirect_uris(["https://app.example/callback"])
        .token_endpoint_auth_method("none");
    let registered = client
        .register_client(&metadata, Some(&server.url("/register")), None)
        .unwrap();
    assert_eq!(
        registered.registration_client_uri.as_deref(),
        Some(server.url("/register/c-77").as_str())
    );

    let read = client.read_registration(&registered).unwrap();
    assert_eq!(read.client_id, "c-77");
    assert_eq!(read.client_name.as_deref(), Some("Suite App"));

    let updated = client
        .update_registration(
            &registered,
            &metadata.clone().field("client_name", "Renamed".into()),
        )
        .unwrap();
    assert_eq!(updated.client_name.as_deref(), Some("Renamed"));

    client.delete_registration(&updated).unwrap();
    let err = client.read_registration(&registered).unwrap_err();
    assert!(matches!(err, Error::Registration(_)), "{err:?}");
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.error_code(), Some("invalid_token"));
    assert!(
        err.to_string().contains("reading the registration"),
        "{err}"
    );

    let requests = server.requests_to("/register/c-77");
    let methods: Vec<&str> = requests.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["GET", "PUT", "DELETE", "GET"]);
    for request in &requests {
        assert_common_headers(request);
        assert_eq!(request.header("authorization"), Some("Bearer rat-1"));
    }
    assert!(requests[0].body.is_empty());
    let put = requests[1].json();
    assert_eq!(put["client_id"], "c-77");
    assert_eq!(put["client_name"], "Renamed");
    assert!(put.get("registration_access_token").is_none());
    assert_eq!(requests[1].header("content-type"), Some("application/json"));

    // The bearer request is never redirected, not even to the same origin.
    let mut moved = registered.clone();
    moved.registration_client_uri = Some(server.url("/register/moved"));
    let err = client.read_registration(&moved).unwrap_err();
    let Error::Network(network) = &err else {
        panic!("expected a refused redirect, got {err:?}");
    };
    assert_eq!(network.kind, NetworkErrorKind::RedirectRefused);
    assert_eq!(
        server.requests_to("/register/c-77").len(),
        4,
        "not followed"
    );
}

pub fn companion_canaries_never_leak<C: TestClient>() {
    captured_tracing();
    const ACCESS: &str = "canary-introspected-at-3c1d";
    const REFRESH: &str = "canary-revoked-rt-8e2f";
    const BEARER: &str = "canary-rs-bearer-55aa";
    const SECRET: &str = "canary-companion-secret-d00d";
    const RAT: &str = "canary-rat-0b0b";

    // Every endpoint echoes what it received (token, client secret, Authorization header)
    // into its error text.
    let echo = |request: &Recorded| {
        let form = request.form();
        let token = form.get("token").cloned().unwrap_or_default();
        let secret = form.get("client_secret").cloned().unwrap_or_default();
        let authorization = request.header("authorization").unwrap_or_default();
        json!({"error": "invalid_request",
               "error_description": format!("{token} {secret} {authorization} rejected"),
               "error_uri": format!("https://as.example/why?t={token}")})
    };
    let server = TestServer::http(move |request, base| match request.path() {
        DISCOVERY => {
            let mut configuration = smart_configuration(base);
            configuration["introspection_endpoint"] = json!(format!("{base}/introspect"));
            configuration["revocation_endpoint"] = json!(format!("{base}/revoke"));
            Reply::json(200, configuration)
        }
        "/introspect" => match request.header("authorization") {
            // The token as a member name, and the bearer token echoed.
            Some(h) if h.starts_with("Bearer") => Reply::json(200, json!({ ACCESS: h })),
            _ => Reply::json(400, echo(request)),
        },
        "/revoke" => Reply::json(400, echo(request)),
        "/register/c-1" => Reply::json(
            401,
            json!({"error": "invalid_token", "error_description": format!("{RAT} is not valid")}),
        ),
        _ => Reply::text(404, "text/plain", "not found"),
    });
    let client: C = client(config_for(&server).client_auth(ClientAuth::client_secret_post(SECRET)));
    let registered = safire_core::RegisteredClient::parse(
        201,
        json!({"client_id": "c-1", "registration_client_uri": server.url("/register/c-1"),
               "registration_access_token": RAT})
        .to_string()
        .as_bytes(),
    )
    .unwrap();

    let errors = [
        client
            .introspect_token(SecretString::new(ACCESS), None, CallOptions::new())
            .unwrap_err(),
        client
            .introspect_token(
                SecretString::new(ACCESS),
                None,
                CallOptions::new().bearer_token(BEARER),
            )
            .unwrap_err(),
        client
            .revoke_token(
                SecretString::new(REFRESH),
                Some(TokenTypeHint::RefreshToken),
                CallOptions::new(),
            )
            .unwrap_err(),
        client.read_registration(&registered).unwrap_err(),
        client.delete_registration(&registered).unwrap_err(),
    ];
    let mut texts = vec![(
        "registered client Debug".to_owned(),
        format!("{registered:?}"),
    )];
    for err in &errors {
        texts.push(("error Display".into(), err.to_string()));
        texts.push(("error Debug".into(), format!("{err:?}")));
    }
    texts.push(("tracing output".into(), tracing_text()));
    for (what, text) in &texts {
        for canary in [ACCESS, REFRESH, BEARER, SECRET, RAT] {
            assert!(!text.contains(canary), "{what} leaks {canary:?}: {text}");
        }
    }
    assert!(
        errors[0].to_string().contains("[REDACTED]"),
        "{}",
        errors[0]
    );
    // The server did receive them: the scrubbing, not the transport, kept them out.
    let posts = server.requests_to("/introspect");
    assert_eq!(posts[0].form()["token"], ACCESS);
    assert_eq!(
        posts[1].header("authorization"),
        Some(format!("Bearer {BEARER}").as_str())
    );
    let traced = tracing_text();
    assert!(traced.contains(&server.url("/revoke")), "{traced}");
    assert!(traced.contains(&server.url("/register/c-1")), "{traced}");
}
