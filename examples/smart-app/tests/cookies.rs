//! The session cookie's attributes, without a browser: `HttpOnly` and `SameSite=Lax` always,
//! `Secure` exactly when the app is not served from a loopback address.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use safire_sandbox::Sandbox;
use smart_app::App;
use tower::ServiceExt;
use tower_sessions::MemoryStore;

/// The `Set-Cookie` and the `Location` of a standalone login started on an app reached at
/// `public_url`.
async fn login_cookie(sandbox: &Sandbox, public_url: &str) -> (String, String) {
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("address");
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let key_dir = std::env::temp_dir().join(format!(
        "smart-app-cookie-test-{}-{call}",
        std::process::id()
    ));
    let mut config = smart_app::demo::sandbox_config(sandbox, listen, &key_dir).expect("config");
    config.public_url = public_url.parse().expect("public URL");
    let app = App::new(config).expect("app");
    // The key is loaded; its file is not needed any more.
    let _ = std::fs::remove_dir_all(&key_dir);
    let router = app.router(MemoryStore::default());
    let login = format!(
        "/login?server={}",
        url::form_urlencoded::byte_serialize(smart_app::demo::DEMO_SERVER.as_bytes())
            .collect::<String>()
    );
    let response = router
        .oneshot(Request::get(login).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .expect("location");
    assert!(
        location.starts_with(&format!("{}/authorize?", sandbox.fhir_base_url())),
        "{location}"
    );
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .expect("cookie")
        .to_owned();
    (cookie, location.to_owned())
}

#[tokio::test]
async fn cookies_are_secure_outside_loopback() {
    let sandbox = Sandbox::builder().start().expect("sandbox");

    let (public, _) = login_cookie(&sandbox, "https://app.example").await;
    assert!(
        public.starts_with(&format!("{}=", smart_app::SESSION_COOKIE)),
        "{public}"
    );
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(public.contains(attribute), "{attribute} in {public}");
    }

    let (local, _) = login_cookie(&sandbox, "http://127.0.0.1:8080").await;
    assert!(
        local.contains("HttpOnly") && local.contains("SameSite=Lax"),
        "{local}"
    );
    assert!(
        !local.contains("Secure"),
        "a loopback app over http: {local}"
    );
}

#[tokio::test]
async fn the_pending_authorization_stays_on_the_server() {
    let sandbox = Sandbox::builder().start().expect("sandbox");
    let (cookie, location) = login_cookie(&sandbox, "http://127.0.0.1:8080").await;
    let state = url::Url::parse(&location)
        .expect("authorize URL")
        .query_pairs()
        .find(|(name, _)| name == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let value = cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, v)| v)
        .expect("cookie value");
    // An opaque session id: neither the state nor anything derived from the pending request.
    assert!(!cookie.contains(&state), "{cookie}");
    assert!(value.len() <= 32, "{value}");
    assert!(!value.contains('.'), "not a JWT or signed payload: {value}");
}
