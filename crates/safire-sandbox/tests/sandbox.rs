//! End-to-end behaviour of the sandbox over plain HTTP (tests/common: a tiny
//! std-only HTTP/1.1 client; PKCE and JWS computed by hand).

mod common;

use std::time::{Duration, Instant};

use common::flow::{self, *};
use common::*;
use safire_sandbox::{ClientAuth, ClientRegistration, Endpoint, Fault, LaunchContext, Sandbox};
use serde_json::{Value, json};

fn start() -> Sandbox {
    Sandbox::builder().start().expect("sandbox starts")
}

fn with<'a>(
    params: &[(&'a str, &'a str)],
    base: Vec<(&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<_> = base
        .into_iter()
        .filter(|(k, _)| !params.iter().any(|(p, _)| p == k))
        .collect();
    out.extend(params.iter().filter(|(_, v)| !v.is_empty()));
    out
}

/// Expect a redirect back to the client carrying `error`, `state` and `iss`.
fn assert_redirect_error(sb: &Sandbox, r: &HttpResp, error: &str) {
    assert_eq!(r.status, 302, "{}", r.body);
    let loc = r.header("location").unwrap();
    assert!(loc.starts_with(CB), "{loc}");
    assert_eq!(r.location_param("error").as_deref(), Some(error), "{loc}");
    assert_eq!(r.location_param("iss").as_deref(), Some(sb.fhir_base_url()));
    assert!(r.location_param("code").is_none());
}

fn assert_no_redirect(r: &HttpResp) {
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.header("location").is_none());
    assert_eq!(r.error(), "invalid_request");
}

// ------------------------------------------------------------------ discovery

#[test]
fn discovery_advertises_what_is_supported() {
    let sb = start();
    let r = get(sb.local_addr(), &sb.url(Endpoint::SmartConfiguration));
    assert_eq!(r.status, 200);
    let d = r.json();
    assert_eq!(
        d["issuer"],
        sb.fhir_base_url(),
        "issuer with sso-openid-connect"
    );
    assert_eq!(d["jwks_uri"], sb.url(Endpoint::Jwks));
    assert_eq!(d["authorization_endpoint"], sb.authorize_url());
    assert_eq!(d["token_endpoint"], sb.token_url());
    assert_eq!(d["registration_endpoint"], sb.url(Endpoint::Register));
    assert_eq!(d["introspection_endpoint"], sb.url(Endpoint::Introspect));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["response_types_supported"], json!(["code"]));
    assert_eq!(
        d["token_endpoint_auth_signing_alg_values_supported"],
        json!(["RS384", "ES384"])
    );
    for m in ["client_secret_basic", "private_key_jwt"] {
        assert!(
            d["token_endpoint_auth_methods_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(m))
        );
    }
    assert_eq!(
        d["grant_types_supported"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    let caps: Vec<&str> = d["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for c in [
        "launch-ehr",
        "launch-standalone",
        "client-public",
        "client-confidential-symmetric",
        "client-confidential-asymmetric",
        "authorize-post",
        "context-ehr-patient",
        "context-ehr-encounter",
        "context-standalone-patient",
        "context-standalone-encounter",
        "permission-v2",
        "permission-v1",
        "permission-patient",
        "permission-user",
        "permission-offline",
    ] {
        assert!(caps.contains(&c), "missing capability {c}");
    }
    assert!(
        caps.contains(&"sso-openid-connect"),
        "id_tokens are issued: SSO is advertised"
    );
    assert!(
        d["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("launch"))
    );

    let post = post_form(
        sb.local_addr(),
        &sb.url(Endpoint::SmartConfiguration),
        &[],
        None,
    );
    assert_eq!(post.status, 405);
    let missing = get(
        sb.local_addr(),
        &format!("{}/nothing-here", sb.fhir_base_url()),
    );
    assert_eq!(missing.status, 404);
}

// ------------------------------------------------------------- full flows

#[test]
fn full_public_flow_authorize_code_token_refresh_over_plain_http() {
    let sb = start();
    let client_id = sb.clients().public.client_id.clone();
    let (verifier, challenge) = pkce("full-flow");
    let scope = "launch/patient launch/encounter patient/*.rs offline_access";
    let r = authorize(&sb, &auth_params(&sb, &client_id, scope, &challenge));
    assert_eq!(r.status, 302);
    assert_eq!(r.location_param("state").as_deref(), Some("st-1"));
    assert_eq!(r.location_param("iss").as_deref(), Some(sb.fhir_base_url()));
    let code = r.location_param("code").unwrap();

    let t = exchange(&sb, &client_id, &code, &verifier);
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(t.header("cache-control"), Some("no-store"));
    let tok = t.json();
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["scope"], scope);
    assert_eq!(tok["patient"], "sandbox-patient-1");
    assert_eq!(tok["encounter"], "sandbox-encounter-1");
    assert_eq!(tok["need_patient_banner"], true);
    assert!(tok["expires_in"].as_u64().unwrap() > 0);
    let refresh = tok["refresh_token"].as_str().unwrap().to_string();

    let i = introspect(&sb, tok["access_token"].as_str().unwrap());
    assert_eq!(i["active"], true);
    assert_eq!(i["client_id"], client_id.as_str());
    assert_eq!(i["patient"], "sandbox-patient-1");
    assert_eq!(i["scope"], scope);
    assert!(i["exp"].as_u64().unwrap() > sb.now());

    let r2 = flow::refresh(&sb, &client_id, &refresh);
    assert_eq!(r2.status, 200, "{}", r2.body);
    let tok2 = r2.json();
    assert_eq!(tok2["patient"], "sandbox-patient-1");
    let refresh2 = tok2["refresh_token"].as_str().unwrap();
    assert_ne!(refresh2, refresh, "rotation on by default");

    // Old refresh token after rotation: invalid_grant.
    let old = flow::refresh(&sb, &client_id, &refresh);
    assert_eq!((old.status, old.error().as_str()), (400, "invalid_grant"));
    // Presenting a rotated token revoked the grant (token theft detection).
    assert_eq!(
        introspect(&sb, tok2["access_token"].as_str().unwrap())["active"],
        false
    );
    assert_eq!(sb.requests(Endpoint::Authorize), 1);
    assert_eq!(sb.requests(Endpoint::Token), 3);
}

#[test]
fn symmetric_client_basic_auth_strict_encoding_and_post_authorize() {
    let sb = Sandbox::builder()
        .register_client(ClientRegistration::symmetric(
            "app-1 x",
            "p%ss+word:x",
            [CB],
        ))
        .start()
        .unwrap();
    let (verifier, challenge) = pkce("sym");
    // authorize-post
    let r = authorize_post(
        &sb,
        &auth_params(&sb, "app-1 x", "patient/*.rs", &challenge),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let code = r.location_param("code").unwrap();
    let token_req =
        |code: &str, verifier: &str, auth: &str| exchange_basic(&sb, code, verifier, auth);
    // RFC 6749 §2.3.1: form-urlencode id and secret, then Basic.
    let encoded = basic_raw("app-1+x", "p%25ss%2Bword%3Ax");
    assert_eq!(encoded, basic("app-1 x", "p%ss+word:x"));
    let t = token_req(&code, &verifier, &encoded);
    assert_eq!(t.status, 200, "{}", t.body);
    assert!(
        t.json().get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    assert!(
        t.json().get("patient").is_none(),
        "no launch/patient, no patient"
    );

    // Raw (unencoded) credentials are refused: strict §2.3.1 decoding.
    let (code2, verifier2) = code_for(&sb, "app-1 x", "patient/*.rs");
    let t2 = token_req(&code2, &verifier2, &basic_raw("app-1 x", "p%ss+word:x"));
    assert_eq!((t2.status, t2.error().as_str()), (401, "invalid_client"));

    // Wrong secret: 401 invalid_client with a Basic challenge.
    let (code3, verifier3) = code_for(&sb, "app-1 x", "patient/*.rs");
    let bad = token_req(&code3, &verifier3, &basic("app-1 x", "nope"));
    assert_eq!((bad.status, bad.error().as_str()), (401, "invalid_client"));
    assert!(bad.header("www-authenticate").unwrap().starts_with("Basic"));
}

#[test]
fn asymmetric_app_client_private_key_jwt_code_flow() {
    let sb = start();
    let c = sb.clients().asymmetric.clone();
    let (code, verifier) = code_for(
        &sb,
        &c.client_id,
        "launch/patient patient/Observation.rs online_access",
    );
    let a = assertion(&sb, &c, "asym-1");
    let t = exchange_asserted(&sb, &code, &verifier, &a);
    assert_eq!(t.status, 200, "{}", t.body);
    assert!(
        t.json()["refresh_token"].is_string(),
        "online_access gives a refresh token"
    );
    assert_eq!(t.json()["patient"], "sandbox-patient-1");
}

#[test]
fn ehr_launch_binds_context() {
    let sb = start();
    let ctx = LaunchContext::new()
        .patient("ehr-pat")
        .encounter("ehr-enc")
        .fhir_context(json!({"reference": "Appointment/42"}))
        .smart_style_url("https://ehr.example/style.json")
        .need_patient_banner(false);
    let url = sb.ehr_launch("https://app.example/launch?x=1", ctx);
    let parsed = url::Url::parse(&url).unwrap();
    assert_eq!(parsed.path(), "/launch");
    let q: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    assert!(q.contains(&("iss".into(), sb.fhir_base_url().into())));
    assert!(q.contains(&("x".into(), "1".into())));
    let launch = q.iter().find(|(k, _)| k == "launch").unwrap().1.clone();

    let client_id = sb.clients().public.client_id.clone();
    let (verifier, challenge) = pkce("ehr");
    let mut p = auth_params(
        &sb,
        &client_id,
        "launch openid fhirUser patient/*.rs",
        &challenge,
    );
    p.push(("launch", &launch));
    let r = authorize(&sb, &p);
    assert_eq!(r.status, 302);
    let code = r.location_param("code").unwrap();
    let t = exchange(&sb, &client_id, &code, &verifier).json();
    assert_eq!(t["patient"], "ehr-pat");
    assert_eq!(t["encounter"], "ehr-enc");
    assert_eq!(t["fhirContext"], json!([{"reference": "Appointment/42"}]));
    assert_eq!(t["need_patient_banner"], false);
    assert_eq!(t["smart_style_url"], "https://ehr.example/style.json");
    assert_eq!(t["scope"], "launch openid fhirUser patient/*.rs");
    assert!(t["id_token"].is_string());

    // Unknown launch: invalid_request; launch without the launch scope: invalid_scope.
    let mut p = auth_params(&sb, &client_id, "launch patient/*.rs", &challenge);
    p.push(("launch", "forged"));
    assert_redirect_error(&sb, &authorize(&sb, &p), "invalid_request");
    let mut p = auth_params(&sb, &client_id, "patient/*.rs", &challenge);
    p.push(("launch", &launch));
    assert_redirect_error(&sb, &authorize(&sb, &p), "invalid_scope");
    // Scope launch without a launch value: invalid_request.
    let p = auth_params(&sb, &client_id, "launch patient/*.rs", &challenge);
    assert_redirect_error(&sb, &authorize(&sb, &p), "invalid_request");
}

// -------------------------------------------------------- authorize errors

#[test]
fn authorize_never_redirects_for_unknown_client_or_redirect_uri() {
    let sb = start();
    let id = sb.clients().public.client_id.clone();
    let (_, ch) = pkce("x");
    let base = auth_params(&sb, &id, "patient/*.rs", &ch);
    assert_no_redirect(&authorize(
        &sb,
        &with(&[("client_id", "unknown")], base.clone()),
    ));
    assert_no_redirect(&authorize(&sb, &with(&[("client_id", "")], base.clone())));
    assert_no_redirect(&authorize(
        &sb,
        &with(
            &[("redirect_uri", "http://127.0.0.1/callback/")],
            base.clone(),
        ),
    ));
    assert_no_redirect(&authorize(
        &sb,
        &with(&[("redirect_uri", "https://evil.example/cb")], base.clone()),
    ));
    assert_no_redirect(&authorize(
        &sb,
        &with(&[("redirect_uri", "")], base.clone()),
    ));
    // The backend client has no redirect URI at all.
    let backend = sb.clients().backend.client_id.clone();
    assert_no_redirect(&authorize(&sb, &with(&[("client_id", &backend)], base)));
}

#[test]
fn authorize_redirected_errors() {
    let sb = Sandbox::builder()
        .register_client(ClientRegistration {
            grant_types: vec!["client_credentials".into()],
            redirect_uris: vec![CB.into()],
            ..ClientRegistration::backend("cc-only", sb_jwks(), "system/*.rs")
        })
        .start()
        .unwrap();
    let id = sb.clients().public.client_id.clone();
    let (_, ch) = pkce("x");
    let base = auth_params(&sb, &id, "patient/*.rs", &ch);
    let cases: &[(&[(&'static str, &'static str)], &str)] = &[
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("response_type", "")], "invalid_request"),
        (&[("aud", "")], "invalid_request"),
        (&[("aud", "https://other.example/fhir")], "invalid_request"),
        (&[("code_challenge", "")], "invalid_request"),
        (&[("code_challenge_method", "")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge", "too-short")], "invalid_request"),
        (&[("scope", "")], "invalid_request"),
        (&[("scope", "system/*.rs")], "invalid_scope"),
        (&[("scope", "patient/*.sr")], "invalid_scope"),
        (&[("scope", "superpowers")], "invalid_scope"),
        (&[("client_id", "cc-only")], "unauthorized_client"),
    ];
    for (change, expected) in cases {
        let r = authorize(&sb, &with(change, base.clone()));
        assert_redirect_error(&sb, &r, expected);
        assert_eq!(
            r.location_param("state").as_deref(),
            Some("st-1"),
            "{change:?}"
        );
    }
    // aud with a trailing slash is not "exactly" the base URL.
    let aud = format!("{}/", sb.fhir_base_url());
    assert_redirect_error(
        &sb,
        &authorize(&sb, &with(&[("aud", &aud)], base.clone())),
        "invalid_request",
    );
    // Missing state: invalid_request, and no state echoed.
    let r = authorize(&sb, &with(&[("state", "")], base.clone()));
    assert_redirect_error(&sb, &r, "invalid_request");
    assert!(r.location_param("state").is_none());
    // Repeated parameter.
    let mut dup = base.clone();
    dup.push(("scope", "user/*.rs"));
    assert_redirect_error(&sb, &authorize(&sb, &dup), "invalid_request");
    // Deny mode, toggled at runtime.
    sb.set_deny(true);
    assert_redirect_error(&sb, &authorize(&sb, &base), "access_denied");
    sb.set_deny(false);
    assert_eq!(authorize(&sb, &base).location_param("error"), None);
}

/// A 1024-bit modulus-shaped value (the size check comes first).
fn rsa_1024_n() -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let mut n = [0xC1u8; 128];
    n[127] = 0xC3;
    Base64UrlUnpadded::encode_string(&n)
}

fn sb_jwks() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/vectors/es384.jwk.json"
    );
    json!({"keys": [serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()]})
}

#[test]
fn deny_mode_from_builder() {
    let sb = Sandbox::builder().deny_authorization(true).start().unwrap();
    let id = sb.clients().public.client_id.clone();
    let (_, ch) = pkce("d");
    let r = authorize(&sb, &auth_params(&sb, &id, "patient/*.rs", &ch));
    assert_redirect_error(&sb, &r, "access_denied");
    assert_eq!(r.location_param("state").as_deref(), Some("st-1"));
}

// ------------------------------------------------------------ token errors

#[test]
fn token_request_shape_errors() {
    let sb = start();
    let addr = sb.local_addr();
    let url = sb.token_url();
    let id = sb.clients().public.client_id.clone();
    let get = http(addr, "GET", &path_of(&url), &[], b"");
    assert_eq!(get.status, 405);
    let json_body = http(
        addr,
        "POST",
        &path_of(&url),
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(json_body.error(), "invalid_request");
    let r = post_form(addr, &url, &[("client_id", &id)], None);
    assert_eq!(r.error(), "invalid_request");
    let r = post_form(
        addr,
        &url,
        &[("grant_type", "password"), ("client_id", &id)],
        None,
    );
    assert_eq!(r.error(), "unsupported_grant_type");
    let r = post_form(
        addr,
        &url,
        &[
            ("grant_type", "authorization_code"),
            ("grant_type", "refresh_token"),
            ("client_id", &id),
        ],
        None,
    );
    assert_eq!(r.error(), "invalid_request");
    let r = post_form(
        addr,
        &format!("{url}?code=abc"),
        &[("grant_type", "authorization_code"), ("client_id", &id)],
        None,
    );
    assert_eq!(r.error(), "invalid_request");
    let r = post_form(
        addr,
        &url,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("code", "x"),
            ("redirect_uri", CB),
        ],
        None,
    );
    assert_eq!(r.error(), "invalid_request", "missing code_verifier");
}

#[test]
fn client_authentication_failures() {
    let sb = start();
    let addr = sb.local_addr();
    let url = sb.token_url();
    let public = sb.clients().public.client_id.clone();
    let sym = sb.clients().symmetric.clone();
    let code_req = |extra: &[(&str, &str)], auth: Option<&str>| {
        let mut p = vec![
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("redirect_uri", CB),
            ("code_verifier", "v"),
        ];
        p.extend_from_slice(extra);
        post_form(addr, &url, &p, auth)
    };
    // No authentication at all.
    let r = code_req(&[], None);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    // Unknown client id.
    let r = code_req(&[("client_id", "nobody")], None);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    // Public client sending a secret.
    let r = code_req(&[("client_id", &public), ("client_secret", "x")], None);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    // Confidential client pretending to be public.
    let r = code_req(&[("client_id", &sym.client_id)], None);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    assert!(r.header("www-authenticate").is_some());
    // client_secret_post is not supported.
    let secret = sym.client_secret.clone().unwrap();
    let r = code_req(
        &[("client_id", &sym.client_id), ("client_secret", &secret)],
        None,
    );
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    // Basic for a public client (no secret registered).
    let r = code_req(&[], Some(&basic(&public, "x")));
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    // Garbage Basic.
    let r = code_req(&[], Some("Basic %%%"));
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    // Two methods at once.
    let r = code_req(
        &[
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", "a.b.c"),
        ],
        Some(&symmetric_basic(&sb)),
    );
    assert_eq!(r.error(), "invalid_request");
    // Basic with a mismatching body client_id.
    let r = code_req(&[("client_id", &public)], Some(&symmetric_basic(&sb)));
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));

    // private_key_jwt problems.
    let asserted = |a: &str| {
        code_req(
            &[
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", a),
            ],
            None,
        )
    };
    let asym = sb.clients().asymmetric.clone();
    let good = assertion(&sb, &asym, "j-1");
    let r = code_req(
        &[
            ("client_assertion_type", "urn:wrong"),
            ("client_assertion", &good),
        ],
        None,
    );
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    let r = asserted("not-a-jwt");
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    let now = sb.now();
    let pem = asym.private_key_pem.as_deref().unwrap();
    let claims = json!({"iss": asym.client_id, "sub": asym.client_id, "aud": sb.token_url(), "exp": now + 60, "jti": "j-2"});
    for header in [
        json!({"alg": "ES384", "kid": "unknown-kid"}),
        json!({"alg": "ES384"}),
        json!({"alg": "RS384", "kid": asym.kid}),
    ] {
        let a = sign_es384(pem, &header, &claims);
        let r = asserted(&a);
        assert_eq!(
            (r.status, r.error().as_str()),
            (401, "invalid_client"),
            "{header}"
        );
    }
    // Missing exp / missing jti.
    for drop in ["exp", "jti"] {
        let mut c = claims.clone();
        c.as_object_mut().unwrap().remove(drop);
        let a = sign_es384(pem, &json!({"alg": "ES384", "kid": asym.kid}), &c);
        let r = asserted(&a);
        assert_eq!(
            (r.status, r.error().as_str()),
            (401, "invalid_client"),
            "without {drop}"
        );
    }
    // Signed by a key the client did not register (backend client's key, asym's kid).
    let other = sign_es384(
        sb.clients().backend.private_key_pem.as_deref().unwrap(),
        &json!({"alg": "ES384", "kid": asym.kid}),
        &claims,
    );
    let r = asserted(&other);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    // A valid assertion authenticates; the grant then fails on the bogus code,
    // and the jti is burned: replay is invalid_client.
    let r = asserted(&good);
    assert_eq!(r.error(), "invalid_grant");
    let r = asserted(&good);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
}

#[test]
fn authorization_code_rules() {
    let sb = start();
    let id = sb.clients().public.client_id.clone();
    let scope = "patient/*.rs offline_access";

    // Single use; replay revokes the tokens issued from the code.
    let (code, verifier) = code_for(&sb, &id, scope);
    let first = exchange(&sb, &id, &code, &verifier).json();
    let access = first["access_token"].as_str().unwrap().to_string();
    let refresh = first["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(introspect(&sb, &access)["active"], true);
    let replay = exchange(&sb, &id, &code, &verifier);
    assert_eq!(
        (replay.status, replay.error().as_str()),
        (400, "invalid_grant")
    );
    assert_eq!(introspect(&sb, &access)["active"], false);
    assert_eq!(introspect(&sb, &refresh)["active"], false);

    // Wrong verifier, malformed verifier, wrong redirect_uri, other client, unknown code.
    let (code, _) = code_for(&sb, &id, scope);
    let (wrong, _) = pkce("another");
    assert_eq!(exchange(&sb, &id, &code, &wrong).error(), "invalid_grant");
    let (code, _) = code_for(&sb, &id, scope);
    assert_eq!(exchange(&sb, &id, &code, "short").error(), "invalid_grant");
    let (code, verifier) = code_for(&sb, &id, scope);
    let r = post_form(
        sb.local_addr(),
        &sb.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1/other"),
            ("code_verifier", &verifier),
            ("client_id", &id),
        ],
        None,
    );
    assert_eq!(r.error(), "invalid_grant");
    let (code, verifier) = code_for(&sb, &id, scope);
    let sym_id = sb.clients().symmetric.client_id.clone();
    let r = exchange_basic(&sb, &code, &verifier, &symmetric_basic(&sb));
    assert_eq!(
        r.error(),
        "invalid_grant",
        "code of {id} presented by {sym_id}"
    );
    assert_eq!(
        exchange(&sb, &id, "no-such-code", &verifier).error(),
        "invalid_grant"
    );

    // Codes expire after 60 s.
    let (code, verifier) = code_for(&sb, &id, scope);
    sb.advance_time(Duration::from_secs(61));
    assert_eq!(
        exchange(&sb, &id, &code, &verifier).error(),
        "invalid_grant"
    );
}

#[test]
fn refresh_token_rules() {
    let sb = start();
    let id = sb.clients().public.client_id.clone();
    let (code, verifier) = code_for(&sb, &id, "launch/patient patient/*.rs offline_access");
    let tok = exchange(&sb, &id, &code, &verifier).json();
    let refresh = tok["refresh_token"].as_str().unwrap().to_string();
    let refresh_req = |token: &str, scope: Option<&str>, client: &str| {
        let mut p = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", client),
        ];
        if let Some(s) = scope {
            p.push(("scope", s));
        }
        post_form(sb.local_addr(), &sb.token_url(), &p, None)
    };
    // Broader scope: invalid_scope (and the token stays usable).
    let r = refresh_req(&refresh, Some("patient/*.cruds"), &id);
    assert_eq!(r.error(), "invalid_scope");
    let r = refresh_req(&refresh, Some("user/*.rs"), &id);
    assert_eq!(r.error(), "invalid_scope");
    // Another client: invalid_grant.
    let r = post_form(
        sb.local_addr(),
        &sb.token_url(),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        Some(&symmetric_basic(&sb)),
    );
    assert_eq!(r.error(), "invalid_grant");
    // Narrower scope: fine.
    let r = refresh_req(&refresh, Some("patient/Observation.r"), &id);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["scope"], "patient/Observation.r");
    let next = r.json()["refresh_token"].as_str().unwrap().to_string();
    // The rotated-in token keeps the original grant's scope.
    let r = refresh_req(&next, None, &id);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["scope"],
        "launch/patient patient/*.rs offline_access"
    );
    // Unknown refresh token.
    assert_eq!(refresh_req("bogus", None, &id).error(), "invalid_grant");
}

#[test]
fn refresh_without_rotation_keeps_the_token() {
    let sb = Sandbox::builder()
        .refresh_token_rotation(false)
        .start()
        .unwrap();
    let id = sb.clients().public.client_id.clone();
    let (code, verifier) = code_for(&sb, &id, "patient/*.rs offline_access");
    let refresh = exchange(&sb, &id, &code, &verifier).json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        let r = flow::refresh(&sb, &id, &refresh);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["refresh_token"], refresh.as_str());
    }
}

#[test]
fn client_credentials_rules() {
    let sb = start();
    let backend = sb.clients().backend.clone();
    let r = backend_token(
        &sb,
        &backend,
        "system/Patient.rs system/Observation.read",
        "cc-1",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let t = r.json();
    assert!(t.get("refresh_token").is_none());
    assert!(t["expires_in"].as_u64().unwrap() <= 300);
    assert_eq!(
        introspect(&sb, t["access_token"].as_str().unwrap())["client_id"],
        backend.client_id.as_str()
    );

    assert_eq!(
        backend_token(&sb, &backend, "patient/*.rs", "cc-2").error(),
        "invalid_scope"
    );
    assert_eq!(
        backend_token(&sb, &backend, "system/Patient.cruds", "cc-3").error(),
        "invalid_scope"
    );
    assert_eq!(
        backend_token(&sb, &backend, "system/*.rs offline_access", "cc-4").error(),
        "invalid_scope"
    );
    // An asymmetric *app* client is not registered for client_credentials.
    let asym = sb.clients().asymmetric.clone();
    assert_eq!(
        backend_token(&sb, &asym, "system/*.rs", "cc-5").error(),
        "unauthorized_client"
    );
    // Symmetric and public clients never get client_credentials.
    let r = post_form(
        sb.local_addr(),
        &sb.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "system/*.rs"),
        ],
        Some(&symmetric_basic(&sb)),
    );
    assert_eq!(r.error(), "unauthorized_client");
    let public = sb.clients().public.client_id.clone();
    let r = post_form(
        sb.local_addr(),
        &sb.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "system/*.rs"),
            ("client_id", &public),
        ],
        None,
    );
    assert_eq!(r.error(), "unauthorized_client");
    // Backend client cannot use the authorization_code grant.
    let a = assertion(&sb, &backend, "cc-6");
    let r = exchange_asserted(&sb, "c", "v", &a);
    assert_eq!(r.error(), "unauthorized_client");
}

// ------------------------------------------------------------ introspection

#[test]
fn introspection_rules() {
    let sb = start();
    assert_eq!(introspect(&sb, "unknown")["active"], false);
    let public = sb.clients().public.client_id.clone();
    let r = post_form(
        sb.local_addr(),
        &sb.url(Endpoint::Introspect),
        &[("token", "x"), ("client_id", &public)],
        None,
    );
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    let r = post_form(
        sb.local_addr(),
        &sb.url(Endpoint::Introspect),
        &[("token", "x")],
        None,
    );
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    let r = post_form(
        sb.local_addr(),
        &sb.url(Endpoint::Introspect),
        &[],
        Some(&symmetric_basic(&sb)),
    );
    assert_eq!(r.error(), "invalid_request");
    // Expired access tokens are inactive.
    let (code, verifier) = code_for(&sb, &public, "patient/*.rs");
    let access = exchange(&sb, &public, &code, &verifier).json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(introspect(&sb, &access)["active"], true);
    sb.advance_time(Duration::from_secs(3601));
    assert_eq!(introspect(&sb, &access)["active"], false);
}

// ------------------------------------------------------------- registration

fn register(sb: &Sandbox, body: &Value, bearer: Option<&str>) -> HttpResp {
    let auth = bearer.map(|b| format!("Bearer {b}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    http(
        sb.local_addr(),
        "POST",
        &path_of(&sb.url(Endpoint::Register)),
        &headers,
        body.to_string().as_bytes(),
    )
}

#[test]
fn dynamic_registration() {
    let sb = start();
    // Public client, then usable right away.
    let r = register(
        &sb,
        &json!({"redirect_uris": [CB], "token_endpoint_auth_method": "none", "client_name": "x"}),
        None,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let reg = r.json();
    assert!(reg.get("client_secret").is_none());
    assert_eq!(reg["client_name"], "x");
    assert!(reg["client_id_issued_at"].is_u64());
    let id = reg["client_id"].as_str().unwrap().to_string();
    let (code, verifier) = code_for(&sb, &id, "patient/*.rs");
    assert_eq!(exchange(&sb, &id, &code, &verifier).status, 200);

    // Default method is client_secret_basic: a secret is returned and works.
    let r = register(
        &sb,
        &json!({"redirect_uris": ["https://app.example/cb"]}),
        None,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let reg = r.json();
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    let auth = basic(
        reg["client_id"].as_str().unwrap(),
        reg["client_secret"].as_str().unwrap(),
    );
    let i = post_form(
        sb.local_addr(),
        &sb.url(Endpoint::Introspect),
        &[("token", "x")],
        Some(&auth),
    );
    assert_eq!(i.status, 200, "{}", i.body);

    // private_key_jwt backend client with the committed RSA and EC keys.
    let rsa_jwk: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/vectors/rs384.jwk.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let r = register(
        &sb,
        &json!({
            "grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [rsa_jwk.clone(), sb_jwks()["keys"][0].clone()]}, "scope": "system/*.rs"
        }),
        None,
    );
    assert_eq!(r.status, 201, "{}", r.body);

    let bad_meta: Vec<Value> = vec![
        json!({"redirect_uris": [CB], "token_endpoint_auth_method": "client_secret_post"}),
        json!({"redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://app.example/jwks"}),
        json!({"redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [
            {"kty": "RSA", "kid": "small", "e": "AQAB", "n": rsa_1024_n()}]}}),
        json!({"redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "p256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}}),
        json!({"redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}]}}),
        json!({"redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [
            rsa_jwk.as_object().unwrap().clone().into_iter().chain([("d".to_string(), json!("AQAB"))]).collect::<serde_json::Map<_, _>>()]}}),
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"}),
        json!({"redirect_uris": [CB], "grant_types": ["implicit"]}),
        json!({"redirect_uris": "not-a-list"}),
        json!(["not", "an", "object"]),
    ];
    for m in &bad_meta {
        let r = register(&sb, m, None);
        assert_eq!(
            (r.status, r.error().as_str()),
            (400, "invalid_client_metadata"),
            "{m}: {}",
            r.body
        );
    }
    let small = register(&sb, &bad_meta[3], None).json();
    assert!(
        small["error_description"]
            .as_str()
            .unwrap()
            .contains("2048"),
        "{small}"
    );
    for m in [
        json!({"redirect_uris": ["http://app.example/cb"]}),
        json!({"redirect_uris": ["https://app.example/cb#frag"]}),
        json!({"redirect_uris": ["not a url"]}),
        json!({"token_endpoint_auth_method": "none"}),
    ] {
        let r = register(&sb, &m, None);
        assert_eq!(
            (r.status, r.error().as_str()),
            (400, "invalid_redirect_uri"),
            "{m}: {}",
            r.body
        );
    }
    let r = http(
        sb.local_addr(),
        "POST",
        &path_of(&sb.url(Endpoint::Register)),
        &[("Content-Type", "application/json")],
        b"{nope",
    );
    assert_eq!(r.error(), "invalid_client_metadata");
}

#[test]
fn registration_behind_initial_access_token() {
    let sb = Sandbox::builder()
        .initial_access_token("let-me-in")
        .start()
        .unwrap();
    let meta = json!({"redirect_uris": [CB], "token_endpoint_auth_method": "none"});
    let r = register(&sb, &meta, None);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_token"));
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let r = register(&sb, &meta, Some("wrong"));
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_token"));
    let r = register(&sb, &meta, Some("let-me-in"));
    assert_eq!(r.status, 201, "{}", r.body);
}

// ------------------------------------------------------------------- faults

#[test]
fn fault_injection() {
    let sb = Sandbox::builder()
        .fault(Endpoint::SmartConfiguration, 1, Fault::MalformedJson)
        .start()
        .unwrap();
    let disc = sb.url(Endpoint::SmartConfiguration);
    let r = get(sb.local_addr(), &disc);
    assert_eq!(r.status, 200);
    assert!(serde_json::from_str::<Value>(&r.body).is_err());
    assert_eq!(get(sb.local_addr(), &disc).status, 200);
    assert!(serde_json::from_str::<Value>(&get(sb.local_addr(), &disc).body).is_ok());

    let backend = sb.clients().backend.clone();
    sb.faults()
        .fail_next(
            Endpoint::Token,
            2,
            Fault::OAuth {
                status: 400,
                error: "invalid_grant",
            },
        )
        .fail_next(Endpoint::Token, 1, Fault::Status(503))
        .fail_next(
            Endpoint::Token,
            1,
            Fault::Redirect {
                status: 307,
                location: "http://127.0.0.1:9/elsewhere".into(),
            },
        )
        .fail_next(Endpoint::Token, 1, Fault::Delay(Duration::from_millis(300)));
    assert_eq!(sb.faults().pending(Endpoint::Token), 5);
    for i in 0..2 {
        let r = backend_token(&sb, &backend, "system/*.rs", &format!("f-{i}"));
        assert_eq!((r.status, r.error().as_str()), (400, "invalid_grant"));
    }
    assert_eq!(
        backend_token(&sb, &backend, "system/*.rs", "f-2").status,
        503
    );
    let r = backend_token(&sb, &backend, "system/*.rs", "f-3");
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location"), Some("http://127.0.0.1:9/elsewhere"));
    let t0 = Instant::now();
    let r = backend_token(&sb, &backend, "system/*.rs", "f-4");
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status, 200, "delay then a normal answer: {}", r.body);
    assert_eq!(
        backend_token(&sb, &backend, "system/*.rs", "f-5").status,
        200
    );
    assert_eq!(sb.requests(Endpoint::Token), 6);
    assert_eq!(sb.requests(Endpoint::Register), 0);

    sb.faults()
        .fail_next(Endpoint::Token, 3, Fault::Status(500));
    sb.faults().clear();
    assert_eq!(sb.faults().pending(Endpoint::Token), 0);
    sb.reset_requests();
    assert_eq!(sb.requests(Endpoint::Token), 0);
}

// --------------------------------------------------------------- lifecycle

#[test]
fn registered_clients_via_builder_and_runtime() {
    let sb = Sandbox::builder()
        .redirect_uris(["https://app.example/cb"])
        .register_client(ClientRegistration::public(
            "mine",
            ["http://localhost:8080/cb"],
        ))
        .start()
        .unwrap();
    assert_eq!(
        sb.clients().public.redirect_uris,
        vec!["https://app.example/cb".to_string()]
    );
    assert!(
        sb.register_client(ClientRegistration::public("bad", ["http://app.example/cb"]))
            .is_err()
    );
    assert!(
        sb.register_client(ClientRegistration {
            auth: ClientAuth::PrivateKeyJwt {
                jwks: json!({"keys": []})
            },
            ..ClientRegistration::public("nokeys", [CB])
        })
        .is_err()
    );
    assert!(
        sb.register_client(ClientRegistration::symmetric("later", "s", [CB]))
            .is_ok()
    );
    let bad = Sandbox::builder()
        .register_client(ClientRegistration::backend(
            "b",
            json!({"keys": [{"kty": "EC"}]}),
            "system/*.rs",
        ))
        .start();
    assert!(bad.is_err());
}

#[test]
fn stops_on_drop() {
    let sb = start();
    let addr = sb.local_addr();
    assert_eq!(get(addr, &sb.url(Endpoint::SmartConfiguration)).status, 200);
    drop(sb);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[tokio::test]
async fn starts_inside_a_tokio_test() {
    let sb = start();
    let (addr, url) = (sb.local_addr(), sb.url(Endpoint::SmartConfiguration));
    let status = tokio::task::spawn_blocking(move || get(addr, &url).status)
        .await
        .unwrap();
    assert_eq!(status, 200);
    drop(sb);
}

#[test]
fn rs384_pre_registered_client() {
    use rsa::pkcs8::DecodePrivateKey;
    use signature::{SignatureEncoding, Signer};
    let sb = Sandbox::builder().rs384_client(true).start().unwrap();
    let c = sb.clients().asymmetric_rs384.clone().expect("RS384 client");
    assert_eq!(c.alg, Some("RS384"));
    assert_eq!(c.jwks.as_ref().unwrap()["keys"][0]["kty"], "RSA");
    let sk = rsa::RsaPrivateKey::from_pkcs8_pem(c.private_key_pem.as_deref().unwrap()).unwrap();
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha384>::new(sk);
    let now = sb.now();
    let input = format!(
        "{}.{}",
        b64url_json(&json!({"alg": "RS384", "kid": c.kid, "typ": "JWT"})),
        b64url_json(
            &json!({"iss": c.client_id, "sub": c.client_id, "aud": sb.token_url(),
                            "exp": now + 60, "jti": "rs-1"})
        )
    );
    let sig = signer.sign(input.as_bytes()).to_vec();
    let jws = format!("{input}.{}", {
        use base64ct::{Base64UrlUnpadded, Encoding};
        Base64UrlUnpadded::encode_string(&sig)
    });
    let (code, verifier) = code_for(&sb, &c.client_id, "patient/*.rs");
    let t = post_form(
        sb.local_addr(),
        &sb.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &jws),
        ],
        None,
    );
    assert_eq!(t.status, 200, "{}", t.body);
}

#[test]
fn redirect_fault_target_sees_zero_requests() {
    let target = start();
    let sb = start();
    sb.faults().fail_next(
        Endpoint::Token,
        1,
        Fault::Redirect {
            status: 307,
            location: target.token_url(),
        },
    );
    let backend = sb.clients().backend.clone();
    let r = backend_token(&sb, &backend, "system/*.rs", "redir-1");
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location"), Some(target.token_url().as_str()));
    // A strict client must not follow a redirect from the token endpoint.
    assert_eq!(target.requests(Endpoint::Token), 0);
}

#[test]
fn hostile_input_gets_oauth_errors_not_crashes() {
    let sb = start();
    let addr = sb.local_addr();
    // Oversized body.
    let big = vec![b'a'; 100 * 1024];
    let r = http(
        addr,
        "POST",
        &path_of(&sb.token_url()),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &big,
    );
    assert_eq!(r.status, 413);
    // Deterministic garbage (xorshift) into every endpoint, GET and POST.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet = b"=&%+.:-_~ abcXYZ019/?\xff\x00\"{}[]";
    for i in 0..120 {
        let len = (next() % 200) as usize;
        let body: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let endpoint = Endpoint::ALL[i % Endpoint::ALL.len()];
        let ct = if i % 3 == 0 {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        let auth = match i % 4 {
            0 => "Basic Og==".to_string(),
            1 => format!(
                "Basic {}",
                <base64ct::Base64 as base64ct::Encoding>::encode_string(&body)
            ),
            2 => "Bearer x".to_string(),
            _ => "Basic".to_string(),
        };
        let r = http(
            addr,
            "POST",
            &path_of(&sb.url(endpoint)),
            &[("Content-Type", ct), ("Authorization", &auth)],
            &body,
        );
        assert!(r.status < 500, "{endpoint:?} {i}: {} {}", r.status, r.body);
        let q = String::from_utf8_lossy(&body)
            .replace([' ', '\u{fffd}', '\0', '"', '{', '}', '[', ']'], "");
        let r = http(
            addr,
            "GET",
            &format!("{}?{q}", path_of(&sb.authorize_url())),
            &[],
            b"",
        );
        assert!(
            r.status == 400 || r.status == 302,
            "{i}: {} {}",
            r.status,
            r.body
        );
        // The oddest JWS-looking assertions.
        let jws = format!("{}.{}.{}", q, q, q);
        let r = post_form(
            addr,
            &sb.token_url(),
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &jws),
            ],
            None,
        );
        assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    }
    // Still serving.
    assert_eq!(get(addr, &sb.url(Endpoint::SmartConfiguration)).status, 200);
}
