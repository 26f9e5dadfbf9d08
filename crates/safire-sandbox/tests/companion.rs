//! Issue 14's companion endpoints on the sandbox: RFC 7009 revocation,
//! RFC 7662 + SMART introspection, RFC 7592 client configuration; raw HTTP.

mod common;

use common::flow::*;
use common::*;
use safire_sandbox::{Endpoint, Sandbox};
use serde_json::{Value, json};

fn start() -> Sandbox {
    // A fixed signing key: id_tokens without RSA key generation.
    Sandbox::builder()
        .id_token_signing_key_pem(include_str!("../testdata/vectors/rs384.pem"))
        .start()
        .unwrap()
}

fn revoke(sb: &Sandbox, pairs: &[(&str, &str)], auth: Option<&str>) -> HttpResp {
    post_form(sb.local_addr(), &sb.url(Endpoint::Revoke), pairs, auth)
}

fn fhir_status(sb: &Sandbox, token: &str) -> u16 {
    get_bearer(
        sb,
        &format!("{}/Patient/sandbox-patient-1", sb.fhir_base_url()),
        token,
    )
    .status
}

#[test]
fn discovery_advertises_revocation_and_introspection() {
    let sb = start();
    let d = get(sb.local_addr(), &sb.url(Endpoint::SmartConfiguration)).json();
    assert_eq!(d["revocation_endpoint"], sb.url(Endpoint::Revoke));
    assert_eq!(d["introspection_endpoint"], sb.url(Endpoint::Introspect));
}

#[test]
fn revoking_an_access_token() {
    let sb = start();
    let public = sb.clients().public.client_id.clone();
    let t = public_token(&sb, "launch/patient patient/*.rs offline_access");
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(fhir_status(&sb, access), 200);
    let r = revoke(
        &sb,
        &[
            ("token", access),
            ("token_type_hint", "access_token"),
            ("client_id", &public),
        ],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(introspect(&sb, access)["active"], false);
    assert_eq!(fhir_status(&sb, access), 401);
    // The refresh token of the grant still works (only the access token was revoked).
    let r = refresh(&sb, &public, t["refresh_token"].as_str().unwrap());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sb.requests(Endpoint::Revoke), 1);
}

#[test]
fn revoking_a_refresh_token_revokes_the_grant() {
    let sb = start();
    let public = sb.clients().public.client_id.clone();
    let t = public_token(&sb, "launch/patient patient/*.rs offline_access");
    let access = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    // Hints are optional and not trusted: a wrong hint still finds the token.
    let r = revoke(
        &sb,
        &[
            ("token", rt),
            ("token_type_hint", "access_token"),
            ("client_id", &public),
        ],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(introspect(&sb, rt)["active"], false);
    assert_eq!(introspect(&sb, access)["active"], false);
    assert_eq!(fhir_status(&sb, access), 401);
    let r = refresh(&sb, &public, rt);
    assert_eq!((r.status, r.error().as_str()), (400, "invalid_grant"));
    // Unknown tokens (and repeats) are a 200, per RFC 7009 §2.2.
    let r = revoke(&sb, &[("token", rt), ("client_id", &public)], None);
    assert_eq!(r.status, 200);
    let r = revoke(
        &sb,
        &[("token", "never-issued"), ("client_id", &public)],
        None,
    );
    assert_eq!(r.status, 200);
}

#[test]
fn revocation_requires_the_owning_authenticated_client() {
    let sb = start();
    let t = public_token(&sb, "patient/*.rs offline_access");
    let access = t["access_token"].as_str().unwrap();
    // No client authentication at all.
    let r = revoke(&sb, &[("token", access)], None);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    assert!(r.header("www-authenticate").is_some());
    // Wrong secret.
    let sym = sb.clients().symmetric.client_id.clone();
    let r = revoke(&sb, &[("token", access)], Some(&basic(&sym, "wrong")));
    assert_eq!(r.status, 401);
    // Another (authenticated) client cannot revoke it.
    let r = revoke(&sb, &[("token", access)], Some(&symmetric_basic(&sb)));
    assert_eq!((r.status, r.error().as_str()), (400, "invalid_request"));
    assert_eq!(introspect(&sb, access)["active"], true);
    // Missing token.
    let public = sb.clients().public.client_id.clone();
    let r = revoke(&sb, &[("client_id", &public)], None);
    assert_eq!(r.error(), "invalid_request");
    // GET is not allowed.
    let g = get(sb.local_addr(), &sb.url(Endpoint::Revoke));
    assert_eq!(g.status, 405);
}

#[test]
fn introspection_returns_the_smart_members() {
    let sb = start();
    let plain = public_token(&sb, "launch/patient patient/*.rs");
    let i = introspect(&sb, plain["access_token"].as_str().unwrap());
    assert!(
        i.get("fhirUser").is_none(),
        "no fhirUser scope, no fhirUser: {i}"
    );
    let scope = "openid fhirUser launch/patient launch/encounter patient/*.rs offline_access";
    let t = public_token(&sb, scope);
    let i = introspect(&sb, t["access_token"].as_str().unwrap());
    assert_eq!(i["active"], true);
    assert_eq!(i["scope"], scope);
    assert_eq!(i["client_id"], sb.clients().public.client_id.as_str());
    assert_eq!(i["token_type"], "Bearer");
    assert_eq!(i["iss"], sb.fhir_base_url());
    assert_eq!(i["aud"], sb.fhir_base_url());
    assert_eq!(i["patient"], "sandbox-patient-1");
    assert_eq!(i["encounter"], "sandbox-encounter-1");
    assert_eq!(
        i["fhirUser"],
        format!("{}/Practitioner/sandbox-practitioner-1", sb.fhir_base_url())
    );
    assert!(i["sub"].as_str().is_some_and(|s| !s.is_empty()));
    let (iat, exp) = (i["iat"].as_u64().unwrap(), i["exp"].as_u64().unwrap());
    assert_eq!(exp - iat, 3600);
    let r = introspect(&sb, t["refresh_token"].as_str().unwrap());
    assert_eq!(r["active"], true);
    assert_eq!(r["token_type"], "refresh_token");
    // Backend token: sub is the client.
    let backend = sb.clients().backend.clone();
    let b = backend_token(&sb, &backend, "system/*.rs", "intro-1").json();
    let i = introspect(&sb, b["access_token"].as_str().unwrap());
    assert_eq!(i["sub"], backend.client_id.as_str());
    assert!(i.get("patient").is_none());
    // Authentication is required: a public client cannot introspect.
    let r = post_form(
        sb.local_addr(),
        &sb.url(Endpoint::Introspect),
        &[
            ("token", "t"),
            ("client_id", &sb.clients().public.client_id),
        ],
        None,
    );
    assert_eq!(r.status, 401);
}

fn manage(
    sb: &Sandbox,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> HttpResp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    let body = body.map(Value::to_string).unwrap_or_default();
    http(
        sb.local_addr(),
        method,
        &path_of(uri),
        &headers,
        body.as_bytes(),
    )
}

#[test]
fn client_configuration_read_update_delete() {
    let sb = start();
    let reg = register(
        &sb,
        &json!({"redirect_uris": [CB], "client_name": "Mgmt app",
                "grant_types": ["authorization_code", "refresh_token"]}),
    );
    assert_eq!(reg.status, 201, "{}", reg.body);
    let reg = reg.json();
    let id = reg["client_id"].as_str().unwrap().to_string();
    let secret = reg["client_secret"].as_str().unwrap().to_string();
    let uri = reg["registration_client_uri"].as_str().unwrap().to_string();
    let rat = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(uri, format!("{}/{id}", sb.url(Endpoint::Register)));

    // Read.
    let r = manage(&sb, "GET", &uri, Some(&rat), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let cur = r.json();
    assert_eq!(cur["client_name"], "Mgmt app");
    assert_eq!(cur["client_secret"], secret.as_str());
    assert_eq!(cur["registration_access_token"], rat.as_str());

    // Wrong, missing token, unknown client: 401 with a Bearer challenge.
    for (u, t) in [
        (uri.as_str(), Some("wrong")),
        (uri.as_str(), None),
        (
            &*format!("{}/nobody", sb.url(Endpoint::Register)),
            Some(rat.as_str()),
        ),
    ] {
        let r = manage(&sb, "GET", u, t, None);
        assert_eq!(r.status, 401, "{u} {t:?}");
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    }
    // Pre-registered clients have no registration access token.
    let pre = format!(
        "{}/{}",
        sb.url(Endpoint::Register),
        sb.clients().public.client_id
    );
    assert_eq!(manage(&sb, "GET", &pre, Some(&rat), None).status, 401);

    // Update: replace redirect URIs and name; the secret is kept.
    let new_cb = "https://app.example/cb2";
    let update = json!({"client_id": id, "client_secret": secret, "redirect_uris": [new_cb],
                        "client_name": "Renamed", "grant_types": ["authorization_code", "refresh_token"]});
    let r = manage(&sb, "PUT", &uri, Some(&rat), Some(&update));
    assert_eq!(r.status, 200, "{}", r.body);
    let up = r.json();
    assert_eq!(up["client_name"], "Renamed");
    assert_eq!(up["redirect_uris"], json!([new_cb]));
    assert_eq!(up["client_secret"], secret.as_str());
    assert_eq!(up["client_id_issued_at"], reg["client_id_issued_at"]);
    // The old redirect URI is no longer accepted at authorize.
    let (_, ch) = pkce("m");
    let r = authorize(&sb, &auth_params(&sb, &id, "patient/*.rs", &ch));
    assert_eq!(r.status, 400);
    // Mismatching client_id or secret in the body: refused.
    let mut bad = update.clone();
    bad["client_id"] = json!("other");
    assert_eq!(
        manage(&sb, "PUT", &uri, Some(&rat), Some(&bad)).error(),
        "invalid_request"
    );
    let mut bad = update.clone();
    bad["client_secret"] = json!("guess");
    assert_eq!(
        manage(&sb, "PUT", &uri, Some(&rat), Some(&bad)).error(),
        "invalid_request"
    );
    // Invalid metadata is still invalid.
    let mut bad = update.clone();
    bad["redirect_uris"] = json!(["http://evil.example/cb"]);
    assert_eq!(
        manage(&sb, "PUT", &uri, Some(&rat), Some(&bad)).error(),
        "invalid_redirect_uri"
    );

    // Delete: 204, then the client is gone (token endpoint and management).
    let r = manage(&sb, "DELETE", &uri, Some(&rat), None);
    assert_eq!(r.status, 204);
    assert_eq!(manage(&sb, "GET", &uri, Some(&rat), None).status, 401);
    let r = exchange_basic(&sb, "c", "v", &basic(&id, &secret));
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    assert_eq!(sb.requests(Endpoint::ClientConfiguration), 11);
}

#[test]
fn deleting_a_client_revokes_its_tokens() {
    let sb = start();
    let reg = register(
        &sb,
        &json!({"redirect_uris": [CB], "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"]}),
    )
    .json();
    let id = reg["client_id"].as_str().unwrap();
    let (code, v) = code_for(&sb, id, "user/Patient.rs");
    let t = exchange(&sb, id, &code, &v).json();
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(fhir_status(&sb, access), 200);
    let r = manage(
        &sb,
        "DELETE",
        reg["registration_client_uri"].as_str().unwrap(),
        reg["registration_access_token"].as_str(),
        None,
    );
    assert_eq!(r.status, 204);
    assert_eq!(fhir_status(&sb, access), 401);
}
