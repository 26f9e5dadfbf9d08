//! Quirk profiles: each quirk shows its behaviour when switched on, and the
//! strict behaviour when off (the default), over raw HTTP.

mod common;

use std::time::Duration;

use common::flow::*;
use common::*;
use safire_sandbox::{Endpoint, Quirk, Sandbox};

fn strict() -> Sandbox {
    Sandbox::builder().start().unwrap()
}

fn quirky(q: Quirk) -> Sandbox {
    Sandbox::builder().quirk(q).start().unwrap()
}

#[test]
fn names_round_trip_and_default_is_strict() {
    for q in Quirk::ALL {
        assert_eq!(Quirk::from_name(q.name()), Some(q));
    }
    assert_eq!(Quirk::from_name("no-such-quirk"), None);
    // Several at once.
    let sb = Sandbox::builder()
        .quirk(Quirk::ScopeOmitted)
        .quirk(Quirk::ExpiresInString)
        .start()
        .unwrap();
    let t = public_token(&sb, "patient/*.rs");
    assert!(
        t.get("scope").is_none() && t["expires_in"].is_string(),
        "{t}"
    );
}

/// Token exchange of the symmetric client with raw vs. encoded Basic.
fn basic_outcomes(sb: &Sandbox) -> (u16, u16) {
    let c = sb.clients().symmetric.clone();
    let secret = c.client_secret.clone().unwrap();
    let (code, v) = code_for(sb, &c.client_id, "patient/*.rs");
    let raw = exchange_basic(sb, &code, &v, &basic_raw(&c.client_id, &secret)).status;
    let (code, v) = code_for(sb, &c.client_id, "patient/*.rs");
    let encoded = exchange_basic(sb, &code, &v, &basic(&c.client_id, &secret)).status;
    (raw, encoded)
}

#[test]
fn basic_not_url_decoded() {
    assert_eq!(basic_outcomes(&strict()), (401, 200));
    assert_eq!(
        basic_outcomes(&quirky(Quirk::BasicNotUrlDecoded)),
        (200, 401)
    );
}

fn second_exchange(sb: &Sandbox) -> (u16, String) {
    let id = sb.clients().public.client_id.clone();
    let (code, v) = code_for(sb, &id, "patient/*.rs");
    let first = exchange(sb, &id, &code, &v);
    assert_eq!(first.status, 200);
    let again = exchange(sb, &id, &code, &v);
    let status = again.status;
    let first_token = first.json()["access_token"].as_str().unwrap().to_string();
    let active = introspect(sb, &first_token)["active"].to_string();
    (status, active)
}

#[test]
fn reusable_codes() {
    // Strict: replay is invalid_grant and revokes the first token.
    assert_eq!(second_exchange(&strict()), (400, "false".into()));
    // Quirk: the replay succeeds and revokes nothing...
    let sb = quirky(Quirk::ReusableCodes);
    assert_eq!(second_exchange(&sb), (200, "true".into()));
    // ...but only within the code's lifetime.
    let id = sb.clients().public.client_id.clone();
    let (code, v) = code_for(&sb, &id, "patient/*.rs");
    assert_eq!(exchange(&sb, &id, &code, &v).status, 200);
    sb.advance_time(Duration::from_secs(61));
    assert_eq!(exchange(&sb, &id, &code, &v).error(), "invalid_grant");
}

fn error_redirect_state(sb: &Sandbox) -> Option<String> {
    let id = sb.clients().public.client_id.clone();
    let (_, ch) = pkce("e");
    let r = authorize(sb, &auth_params(sb, &id, "superpowers", &ch));
    assert_eq!(r.location_param("error").as_deref(), Some("invalid_scope"));
    r.location_param("state")
}

#[test]
fn error_redirect_without_state() {
    assert_eq!(error_redirect_state(&strict()).as_deref(), Some("st-1"));
    assert_eq!(
        error_redirect_state(&quirky(Quirk::ErrorRedirectWithoutState)),
        None
    );
    // Success redirects keep state either way.
    let sb = quirky(Quirk::ErrorRedirectWithoutState);
    let id = sb.clients().public.client_id.clone();
    let (_, ch) = pkce("s");
    let r = authorize(&sb, &auth_params(&sb, &id, "patient/*.rs", &ch));
    assert_eq!(r.location_param("state").as_deref(), Some("st-1"));
}

/// (status for a bad code, status for an expired refresh token)
fn token_error_statuses(sb: &Sandbox) -> (u16, u16) {
    let id = sb.clients().public.client_id.clone();
    let (_, v) = code_for(sb, &id, "patient/*.rs");
    let bad_code = exchange(sb, &id, "not-a-code", &v);
    assert_eq!(bad_code.error(), "invalid_grant");
    let t = public_token(sb, "patient/*.rs offline_access");
    sb.advance_time(Duration::from_secs(25 * 3600));
    let expired = refresh(sb, &id, t["refresh_token"].as_str().unwrap());
    assert_eq!(expired.error(), "invalid_grant");
    (bad_code.status, expired.status)
}

#[test]
fn non_rfc_token_error_status() {
    assert_eq!(token_error_statuses(&strict()), (400, 400));
    assert_eq!(
        token_error_statuses(&quirky(Quirk::NonRfcTokenErrorStatus)),
        (401, 403)
    );
}

#[test]
fn expires_in_string() {
    let t = public_token(&strict(), "patient/*.rs");
    assert_eq!(t["expires_in"], 3600);
    let sb = quirky(Quirk::ExpiresInString);
    let t = public_token(&sb, "patient/*.rs");
    assert_eq!(t["expires_in"], "3600");
    let r = backend_token(&sb, &sb.clients().backend, "system/*.rs", "q-1");
    assert_eq!(r.json()["expires_in"], "300");
}

#[test]
fn scope_omitted() {
    // Strict: the (down-scoped) grant is always stated.
    let t = public_token(&strict(), "patient/*.rs");
    assert_eq!(t["scope"], "patient/*.rs");
    let sb = quirky(Quirk::ScopeOmitted);
    let t = public_token(&sb, "patient/*.rs offline_access");
    assert!(t.get("scope").is_none(), "{t}");
    // The grant is still what it is: introspection tells.
    assert_eq!(
        introspect(&sb, t["access_token"].as_str().unwrap())["scope"],
        "patient/*.rs offline_access"
    );
    let r = refresh(
        &sb,
        &sb.clients().public.client_id,
        t["refresh_token"].as_str().unwrap(),
    );
    assert!(r.json().get("scope").is_none());
}

/// Refresh twice with the first refresh token: (second status, new token issued?)
fn refresh_twice(sb: &Sandbox) -> (u16, bool) {
    let id = sb.clients().public.client_id.clone();
    let t = public_token(sb, "patient/*.rs offline_access");
    let rt = t["refresh_token"].as_str().unwrap();
    let first = refresh(sb, &id, rt);
    assert_eq!(first.status, 200);
    let rotated = first.json()["refresh_token"].as_str() != Some(rt);
    (refresh(sb, &id, rt).status, rotated)
}

#[test]
fn refresh_not_rotated() {
    assert_eq!(refresh_twice(&strict()), (400, true));
    assert_eq!(
        refresh_twice(&quirky(Quirk::RefreshNotRotated)),
        (200, false)
    );
}

fn discovery_with_host(sb: &Sandbox, host: &str) -> serde_json::Value {
    let path = path_of(&sb.url(Endpoint::SmartConfiguration));
    // `http` sends its own Host header first; a second one would be a 400 in
    // hyper, so build the request by hand here.
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(sb.local_addr()).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let body = raw.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

#[test]
fn discovery_from_host_header() {
    let sb = strict();
    let d = discovery_with_host(&sb, "attacker.example:8443");
    assert_eq!(d["token_endpoint"], sb.token_url());
    let sb = quirky(Quirk::DiscoveryFromHostHeader);
    let d = discovery_with_host(&sb, "attacker.example:8443");
    assert_eq!(
        d["token_endpoint"],
        "http://attacker.example:8443/fhir/token"
    );
    assert_eq!(
        d["authorization_endpoint"],
        "http://attacker.example:8443/fhir/authorize"
    );
    // The real endpoints are unchanged: tokens still come from the sandbox.
    assert!(public_token(&sb, "patient/*.rs")["access_token"].is_string());
}
