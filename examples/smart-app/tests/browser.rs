//! The app as a person uses it: in headless Chromium, against the sandbox EHR's login,
//! patient picker, consent and launcher pages. Each test leaves a screenshot in
//! `target/browser-screenshots/<test>.png`.

mod harness;

use std::time::Duration;

use harness::World;
use safire_core::{CallOptions, ClientAuth, ClientConfig, TokenTypeHint};
use safire_hyper::SmartClient;
use safire_sandbox::{Endpoint, Fault};

/// Access-token lifetime for the expiry tests, and how far the EHR's clock moves for a token
/// to have expired there: past the lifetime, within the id_token clock skew the app allows.
const TOKEN_LIFETIME: Duration = Duration::from_secs(30);
const EXPIRED_AT_THE_EHR: Duration = Duration::from_secs(45);

/// Whether the sandbox's introspection endpoint calls `token` active, asked with the library's
/// `introspect_token` as the sandbox's `client_secret_basic` client (introspection is for
/// confidential clients; this one plays the resource server, independent of the app).
async fn introspect_active(world: &World, token: &str, hint: TokenTypeHint) -> bool {
    let info = &world.sandbox.clients().symmetric;
    let config = ClientConfig::builder(world.sandbox.fhir_base_url())
        .client_id(&info.client_id)
        .client_auth(ClientAuth::client_secret_basic(
            info.client_secret.clone().expect("symmetric client secret"),
        ))
        .allow_insecure_localhost(true)
        .build()
        .expect("introspection client config");
    let client = SmartClient::new(config).expect("introspection client");
    client
        .introspect_token(token, Some(hint), CallOptions::new())
        .await
        .expect("introspection")
        .active
}

/// A standalone launch for `patient`, approved at the consent page: the app shows `name`.
async fn approved_standalone_launch(world: &World, patient: &str, name: &str) {
    world.standalone_until_consent(patient).await;
    world.click("button[value=approve]").await;
    assert_eq!(world.text_of("#patient-name").await, name);
}

/// Reloads the page: still Amy Shaw, after `refreshes` refreshes in all and `token_requests`
/// requests at the token endpoint (`why`).
async fn reload_shows_amy(world: &World, refreshes: &str, token_requests: usize, why: &str) {
    world.browser.refresh().await.expect("reload");
    assert_eq!(world.text_of("#patient-name").await, "Amy Shaw");
    assert_eq!(world.text_of("#refreshes").await, refreshes);
    assert_eq!(
        world.sandbox.requests(Endpoint::Token),
        token_requests,
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_launch_shows_the_chosen_patient() {
    let world = World::start("standalone_launch", |s| s).await;
    approved_standalone_launch(&world, "sandbox-patient-2", "Daniel Adams").await;
    assert_eq!(world.text_of("#birth-date").await, "1952-11-03");
    let fhir_user = world.text_of("#fhir-user").await;
    assert!(
        fhir_user.starts_with(world.sandbox.fhir_base_url())
            && fhir_user.contains("/Practitioner/"),
        "verified fhirUser of the clinician: {fhir_user}"
    );
    assert!(
        world.sandbox.requests(Endpoint::Jwks) >= 1,
        "the code exchange fetched the server's keys to verify the id_token"
    );
    let scopes = world.text_of("#scopes").await;
    assert!(scopes.contains("patient/Patient.rs"), "{scopes}");
    assert!(scopes.contains("offline_access"), "{scopes}");
    let expires = world.text_of("#expires").await;
    assert!(expires.contains("UTC (in "), "{expires}");

    // The session holds the tokens server-side; the browser only has an opaque cookie.
    let login = world
        .login()
        .await
        .expect("the app's session holds the login");
    assert_eq!(
        login.session.launch.patient.as_deref(),
        Some("sandbox-patient-2")
    );
    assert_eq!(
        login.session.fhir_user.as_deref(),
        Some(fhir_user.as_str()),
        "the session keeps the fhirUser verified in the code exchange"
    );
    let cookies = world.browser.get_all_cookies().await.expect("cookies");
    assert_eq!(cookies.len(), 1, "one session cookie");
    assert_eq!(cookies[0].http_only(), Some(true));
    assert!(
        !cookies[0]
            .value()
            .contains(login.session.access_token.expose())
    );

    // The app's JWKS publishes the key the sandbox has registered for this client.
    world
        .goto(&format!("{}/.well-known/jwks.json", world.app_url))
        .await;
    let jwks = world.text_of("body").await;
    let registered = world
        .sandbox
        .clients()
        .asymmetric
        .jwks
        .clone()
        .expect("registered JWKS");
    let x = registered["keys"][0]["x"].as_str().expect("registered x");
    assert!(jwks.contains(x), "{jwks}");
    assert!(!jwks.contains("\"d\""), "no private part: {jwks}");

    world.goto(&format!("{}/", world.app_url)).await;
    world.wait_for("#patient-name").await;
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ehr_launch_from_the_launcher_shows_the_launch_patient() {
    let world = World::start("ehr_launch", |s| s).await;
    let client_id = world.sandbox.clients().asymmetric.client_id.clone();
    world
        .goto(&format!("{}/launcher", world.sandbox.fhir_base_url()))
        .await;
    world
        .wait_for("select[name=client_id]")
        .await
        .select_by_value(&client_id)
        .await
        .expect("app in the launcher");
    world
        .type_into(
            "input[name=launch_uri]",
            &format!("{}/launch", world.app_url),
        )
        .await;
    world
        .wait_for("select[name=patient]")
        .await
        .select_by_value("sandbox-patient-3")
        .await
        .expect("patient in the launcher");
    world.click("button[type=submit]").await;

    // The EHR launch goes straight from login to consent: the patient comes from the launch.
    world.sign_in_at_sandbox("clinician").await;
    world.click("button[value=approve]").await;

    assert_eq!(world.text_of("#patient-name").await, "Sofia Moreno");
    assert_eq!(world.text_of("#birth-date").await, "2015-06-14");
    let scopes = world.text_of("#scopes").await;
    assert!(scopes.contains("launch"), "{scopes}");
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_consent_shows_the_servers_error() {
    let world = World::start("deny_consent", |s| s).await;
    world.standalone_until_consent("sandbox-patient-1").await;
    world.click("button[value=deny]").await;

    let message = world.text_of("#error").await;
    assert!(message.contains("access_denied"), "{message}");
    assert!(
        message.contains("the user denied the request"),
        "the server's description: {message}"
    );
    assert_eq!(world.text_of("h1").await, "Sign-in failed");
    assert!(world.login().await.is_none(), "nobody is signed in");
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_on_reload() {
    let world = World::start("token_expiry", |s| s.access_token_lifetime(TOKEN_LIFETIME)).await;
    approved_standalone_launch(&world, "sandbox-patient-1", "Amy Shaw").await;
    assert_eq!(world.text_of("#refreshes").await, "0");
    let first = world.login().await.expect("signed in");
    assert_eq!(world.sandbox.requests(Endpoint::Token), 1);

    // The page stays open while the token expires at the EHR. The EHR's clock moves on by
    // less than the id_token clock-skew allowance (60 s): the refresh answer's id_token is
    // stamped with that clock, and the app verifies it.
    world.sandbox.advance_time(EXPIRED_AT_THE_EHR);
    reload_shows_amy(&world, "1", 2, "one refresh grant after the exchange").await;
    let second = world.login().await.expect("still signed in");
    assert_ne!(
        first.session.access_token, second.session.access_token,
        "the session holds the new token"
    );
    assert_ne!(
        first.session.refresh_token, second.session.refresh_token,
        "rotated"
    );
    assert_eq!(second.refreshes, 1);

    // The renewed session was written back: the next reload uses the new token as it is
    // (the old refresh token, now refused, is not used again).
    reload_shows_amy(&world, "1", 2, "no second refresh").await;
    let third = world.login().await.expect("still signed in");
    assert_eq!(second.session.access_token, third.session.access_token);
    world.finish().await;
}

/// `GET {app_url}/` with the browser's session cookie, from outside the browser (as another
/// tab of it would send it): the status and the page.
async fn home_page_with(app_url: String, cookie: String) -> (u16, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<axum::body::Body>();
    let request = axum::http::Request::get(format!("{app_url}/"))
        .header(axum::http::header::COOKIE, cookie)
        .body(axum::body::Body::empty())
        .expect("request");
    let response = client.request(request).await.expect("the app answers");
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(axum::body::Body::new(response.into_body()), 1 << 20)
        .await
        .expect("page body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabs_reloading_at_expiry_share_one_refresh() {
    let world = World::start("tabs_at_expiry", |s| {
        s.access_token_lifetime(TOKEN_LIFETIME)
    })
    .await;
    approved_standalone_launch(&world, "sandbox-patient-1", "Amy Shaw").await;
    let cookie = world
        .browser
        .get_named_cookie(smart_app::SESSION_COOKIE)
        .await
        .expect("session cookie");
    let cookie = format!("{}={}", cookie.name(), cookie.value());
    let first = world.login().await.expect("signed in");
    assert_eq!(world.sandbox.requests(Endpoint::Token), 1);

    // The token expires at the EHR (which rotates refresh tokens, and revokes the grant when
    // a rotated-away one comes back) while eight tabs of this browser are open, and all of
    // them reload at once. The refresh answer is slowed down so that every request is in
    // flight before the first refresh ends: a refresh per request would send the same
    // refresh token several times.
    world.sandbox.advance_time(EXPIRED_AT_THE_EHR);
    world
        .sandbox
        .faults()
        .fail_next(Endpoint::Token, 1, Fault::Delay(Duration::from_millis(300)));
    let mut tabs = tokio::task::JoinSet::new();
    for _ in 0..8 {
        tabs.spawn(home_page_with(world.app_url.clone(), cookie.clone()));
    }
    let pages = tabs.join_all().await;
    for (status, page) in &pages {
        assert_eq!(*status, 200, "{page}");
        assert!(
            page.contains("<dd id=\"patient-name\">Amy Shaw</dd>"),
            "every tab shows the patient: {page}"
        );
    }
    assert_eq!(
        world.sandbox.requests(Endpoint::Token),
        2,
        "one refresh grant for all the tabs"
    );

    // Still signed in, with the renewed session stored: the next reload needs no refresh.
    reload_shows_amy(&world, "1", 2, "no second refresh").await;
    let login = world.login().await.expect("still signed in");
    assert_eq!(login.refreshes, 1);
    assert_ne!(first.session.refresh_token, login.session.refresh_token);
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_the_token_and_asks_to_sign_in_again() {
    let world = World::start("logout", |s| s).await;
    approved_standalone_launch(&world, "sandbox-patient-1", "Amy Shaw").await;
    let login = world.login().await.expect("signed in");
    let access = login.session.access_token.expose().to_owned();
    let refresh = login.session.refresh_token.clone().expect("refresh token");
    assert!(
        introspect_active(&world, &access, TokenTypeHint::AccessToken).await,
        "active before logout"
    );
    assert!(
        introspect_active(&world, refresh.expose(), TokenTypeHint::RefreshToken).await,
        "grant active before logout"
    );

    let revocations = world.sandbox.requests(Endpoint::Revoke);
    world.click("#logout").await;
    let signed_out = world.text_of("#signed-out").await;
    assert!(signed_out.contains("not signed in"), "{signed_out}");
    assert!(
        !introspect_active(&world, &access, TokenTypeHint::AccessToken).await,
        "revoked by logout"
    );
    assert!(
        !introspect_active(&world, refresh.expose(), TokenTypeHint::RefreshToken).await,
        "grant revoked"
    );
    assert_eq!(
        world.sandbox.requests(Endpoint::Revoke) - revocations,
        2,
        "the refresh token and the access token were revoked"
    );
    assert!(world.login().await.is_none());
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_callback_and_an_unknown_issuer_are_refused() {
    let world = World::start("forged_callback", |s| s).await;
    // A sign-in is in progress (the sandbox's login page is showing) ...
    world.goto(&format!("{}/", world.app_url)).await;
    world.click("#login").await;
    world.wait_for("input[name=username]").await;
    // ... and the browser is sent to the callback with a state the app never issued.
    let base = world.sandbox.fhir_base_url().to_owned();
    let forged = format!(
        "{}/callback?code=forged-code&state=forged-state&iss={}",
        world.app_url,
        url::form_urlencoded::byte_serialize(base.as_bytes()).collect::<String>()
    );
    world.goto(&forged).await;
    assert_eq!(world.text_of("h1").await, "Sign-in failed");
    let message = world.text_of("#error").await;
    assert!(message.contains("state"), "{message}");
    assert_eq!(
        world.sandbox.requests(Endpoint::Token),
        0,
        "no code was sent to the token endpoint"
    );
    world.snap("wrong-state").await;

    // The pending authorization was used up: a second try finds none.
    world.goto(&forged).await;
    assert_eq!(world.text_of("h1").await, "No sign-in in progress");

    // An EHR launch from a server the app does not know.
    world
        .goto(&format!(
            "{}/launch?iss=https%3A%2F%2Fevil.example%2Ffhir&launch=abc",
            world.app_url
        ))
        .await;
    assert_eq!(world.text_of("h1").await, "Launch refused");
    assert!(world.text_of("#error").await.contains("evil.example"));
    world.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_revoked_at_the_ehr_asks_to_sign_in_again() {
    let world = World::start("revoked_grant", |s| s).await;
    approved_standalone_launch(&world, "sandbox-patient-1", "Amy Shaw").await;

    // The EHR ends the grant while the page is open (here: revoked through the same client).
    let login = world.login().await.expect("signed in");
    let server = world
        .app
        .registry()
        .by_name(smart_app::demo::DEMO_SERVER)
        .expect("demo server");
    assert!(server.revoke(&login).await.expect("revocation"));

    // The reload's read is refused, the refresh too: the app asks for a new sign-in.
    world.browser.refresh().await.expect("reload");
    let notice = world.text_of("#notice").await;
    assert!(notice.contains("sign in again"), "{notice}");
    world.wait_for("#login").await;
    assert!(world.login().await.is_none(), "the dead login was dropped");
    world.finish().await;
}
