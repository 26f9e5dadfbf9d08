//! Issue 18, "Discovery must match behaviour": a test walks every advertised
//! capability and checks the behaviour behind it, over raw HTTP.

mod common;

use common::flow::*;
use common::*;
use safire_sandbox::{Endpoint, LaunchContext, Sandbox};
use serde_json::{Value, json};

fn discovery(sb: &Sandbox) -> Value {
    let r = get(sb.local_addr(), &sb.url(Endpoint::SmartConfiguration));
    assert_eq!(r.status, 200);
    r.json()
}

/// EHR launch through the `{base}/launch` launcher, then the token.
fn ehr_token(sb: &Sandbox, scope: &str) -> Value {
    let id = sb.clients().public.client_id.clone();
    let launch = ehr_launch(
        sb,
        &id,
        "https://app.example/launch",
        &[("patient", "ehr-pat-7"), ("encounter", "ehr-enc-7")],
    );
    let (verifier, challenge) = pkce("ehr-cap");
    let mut p = auth_params(sb, &id, scope, &challenge);
    p.push(("launch", &launch));
    let r = authorize(sb, &p);
    let code = r.location_param("code").expect("code");
    let t = exchange(sb, &id, &code, &verifier);
    assert_eq!(t.status, 200, "{}", t.body);
    t.json()
}

fn granted(t: &Value) -> Vec<String> {
    t["scope"]
        .as_str()
        .unwrap_or_default()
        .split(' ')
        .map(str::to_string)
        .collect()
}

/// Checks the behaviour behind one capability; panics on an unknown one so
/// that advertising something new needs a check here.
fn check_capability(sb: &Sandbox, cap: &str) {
    match cap {
        "launch-ehr" => {
            let t = ehr_token(sb, "launch patient/*.rs");
            assert_eq!(granted(&t), ["launch", "patient/*.rs"]);
        }
        "launch-standalone" => {
            let t = public_token(sb, "patient/*.rs");
            assert!(t["access_token"].is_string());
        }
        "authorize-post" => {
            let id = sb.clients().public.client_id.clone();
            let (_, ch) = pkce("post");
            let r = authorize_post(sb, &auth_params(sb, &id, "patient/*.rs", &ch));
            assert!(r.location_param("code").is_some(), "{}", r.body);
        }
        "client-public" => {
            assert!(public_token(sb, "patient/*.rs")["access_token"].is_string());
        }
        "client-confidential-symmetric" => {
            let c = sb.clients().symmetric.clone();
            let (code, v) = code_for(sb, &c.client_id, "patient/*.rs");
            let r = exchange_basic(sb, &code, &v, &symmetric_basic(sb));
            assert_eq!(r.status, 200, "{}", r.body);
        }
        "client-confidential-asymmetric" => {
            let c = sb.clients().asymmetric.clone();
            let (code, v) = code_for(sb, &c.client_id, "patient/*.rs");
            let a = assertion(sb, &c, "cap-asym");
            let r = exchange_asserted(sb, &code, &v, &a);
            assert_eq!(r.status, 200, "{}", r.body);
        }
        "context-ehr-patient" => {
            assert_eq!(ehr_token(sb, "launch patient/*.rs")["patient"], "ehr-pat-7");
        }
        "context-ehr-encounter" => {
            assert_eq!(
                ehr_token(sb, "launch patient/*.rs")["encounter"],
                "ehr-enc-7"
            );
        }
        "context-standalone-patient" => {
            let t = public_token(sb, "launch/patient patient/*.rs");
            assert_eq!(t["patient"], "sandbox-patient-1");
        }
        "context-standalone-encounter" => {
            let t = public_token(sb, "launch/encounter patient/*.rs");
            assert_eq!(t["encounter"], "sandbox-encounter-1");
        }
        "context-banner" => {
            let t = public_token(sb, "launch/patient patient/*.rs");
            assert!(t["need_patient_banner"].is_boolean(), "{t}");
        }
        "context-style" => {
            let t = public_token(sb, "patient/*.rs");
            let style = t["smart_style_url"].as_str().expect("smart_style_url");
            let r = get(sb.local_addr(), style);
            assert_eq!(r.status, 200);
            assert!(r.json()["color_background"].is_string());
        }
        "permission-v1" => {
            let t = public_token(sb, "patient/*.read user/Observation.write");
            assert_eq!(granted(&t), ["patient/*.read", "user/Observation.write"]);
        }
        "permission-v2" => {
            let s = "patient/Observation.rs?category=laboratory patient/Patient.r";
            assert_eq!(public_token(sb, s)["scope"], s);
        }
        "permission-patient" => {
            assert_eq!(
                public_token(sb, "patient/Patient.r")["scope"],
                "patient/Patient.r"
            );
        }
        "permission-user" => {
            assert_eq!(
                public_token(sb, "user/Patient.rs")["scope"],
                "user/Patient.rs"
            );
        }
        "permission-offline" => {
            let t = public_token(sb, "patient/*.rs offline_access");
            let r = refresh(
                sb,
                &sb.clients().public.client_id,
                t["refresh_token"].as_str().unwrap(),
            );
            assert_eq!(r.status, 200, "{}", r.body);
        }
        "permission-online" => {
            assert!(public_token(sb, "patient/*.rs online_access")["refresh_token"].is_string());
        }
        "sso-openid-connect" => {
            let t = public_token(sb, "openid fhirUser patient/*.rs");
            assert!(t["id_token"].is_string(), "{t}");
            assert!(granted(&t).contains(&"openid".to_string()));
        }
        other => panic!("capability `{other}` is advertised but has no behaviour check"),
    }
}

#[test]
fn every_advertised_capability_behaves() {
    let sb = Sandbox::builder().start().unwrap();
    let d = discovery(&sb);
    let caps: Vec<String> = d["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert!(caps.len() >= 18, "{caps:?}");
    for cap in &caps {
        check_capability(&sb, cap);
    }
    // `issuer` only together with OpenID Connect.
    assert_eq!(
        d.get("issuer").is_some(),
        caps.iter().any(|c| c == "sso-openid-connect"),
        "{d}"
    );
}

#[test]
fn iss_parameter_is_advertised_and_sent() {
    let sb = Sandbox::builder().start().unwrap();
    assert_eq!(
        discovery(&sb)["authorization_response_iss_parameter_supported"],
        true
    );
    let id = sb.clients().public.client_id.clone();
    let (_, ch) = pkce("iss");
    let ok = authorize(&sb, &auth_params(&sb, &id, "patient/*.rs", &ch));
    assert_eq!(
        ok.location_param("iss").as_deref(),
        Some(sb.fhir_base_url())
    );
    let mut p = auth_params(&sb, &id, "patient/*.rs", &ch);
    p.retain(|(k, _)| *k != "aud");
    let bad = authorize(&sb, &p);
    assert_eq!(
        bad.location_param("error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(
        bad.location_param("iss").as_deref(),
        Some(sb.fhir_base_url())
    );
}

#[test]
fn smart_style_url_is_settable_and_ehr_context_wins() {
    let sb = Sandbox::builder()
        .smart_style_url("https://ehr.example/style/v2.json")
        .start()
        .unwrap();
    let t = public_token(&sb, "patient/*.rs");
    assert_eq!(t["smart_style_url"], "https://ehr.example/style/v2.json");
    let url = sb.ehr_launch(
        "https://app.example/l",
        LaunchContext::new().smart_style_url("https://ehr.example/other.json"),
    );
    let launch = launch_param(&url);
    let id = sb.clients().public.client_id.clone();
    let (v, ch) = pkce("style");
    let mut p = auth_params(&sb, &id, "launch patient/*.rs", &ch);
    p.push(("launch", &launch));
    let code = authorize(&sb, &p).location_param("code").unwrap();
    let t = exchange(&sb, &id, &code, &v).json();
    assert_eq!(t["smart_style_url"], "https://ehr.example/other.json");
}

#[test]
fn every_401_carries_www_authenticate() {
    let sb = Sandbox::builder()
        .initial_access_token("iat-secret")
        .start()
        .unwrap();
    let addr = sb.local_addr();
    let token = sb.token_url();
    let sym = sb.clients().symmetric.clone();
    let backend = sb.clients().backend.clone();
    let code_req = [
        ("grant_type", "authorization_code"),
        ("code", "c"),
        ("redirect_uri", CB),
        ("code_verifier", "v"),
    ];
    let mut with_id = code_req.to_vec();
    with_id.push(("client_id", "nobody"));
    let bad_assertion = assertion_with_header(
        &sb,
        &backend,
        "w-1",
        json!({"alg": "ES384", "kid": "nope", "typ": "JWT"}),
    );
    let cc = [
        ("grant_type", "client_credentials"),
        ("scope", "system/*.rs"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", bad_assertion.as_str()),
    ];
    let responses = vec![
        ("no auth", post_form(addr, &token, &code_req, None)),
        ("unknown public id", post_form(addr, &token, &with_id, None)),
        (
            "wrong secret",
            post_form(
                addr,
                &token,
                &code_req,
                Some(&basic(&sym.client_id, "wrong")),
            ),
        ),
        (
            "bearer scheme",
            post_form(addr, &token, &code_req, Some("Bearer abc")),
        ),
        ("bad assertion", post_form(addr, &token, &cc, None)),
        (
            "introspect without auth",
            post_form(addr, &sb.url(Endpoint::Introspect), &[("token", "t")], None),
        ),
        (
            "introspect as public client",
            post_form(
                addr,
                &sb.url(Endpoint::Introspect),
                &[
                    ("token", "t"),
                    ("client_id", &sb.clients().public.client_id),
                ],
                None,
            ),
        ),
        (
            "register without IAT",
            register(&sb, &json!({"redirect_uris": [CB]})),
        ),
    ];
    for (what, r) in responses {
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        let challenge = r.header("www-authenticate");
        assert!(
            challenge.is_some_and(|c| c.starts_with("Basic") || c.starts_with("Bearer")),
            "{what}: {challenge:?}"
        );
    }
}

#[test]
fn loopback_redirect_uris_accept_any_port() {
    let sb = Sandbox::builder()
        .redirect_uris([
            "http://127.0.0.1/cb",
            "http://[::1]/cb",
            "http://localhost/cb",
        ])
        .start()
        .unwrap();
    let id = sb.clients().public.client_id.clone();
    let (verifier, ch) = pkce("port");
    let with_redirect = |uri: &'static str| {
        let mut p = auth_params(&sb, &id, "patient/*.rs", &ch);
        p.retain(|(k, _)| *k != "redirect_uri");
        p.push(("redirect_uri", uri));
        authorize(&sb, &p)
    };
    for uri in [
        "http://127.0.0.1:53123/cb",
        "http://[::1]:8080/cb",
        "http://127.0.0.1/cb",
    ] {
        let r = with_redirect(uri);
        assert_eq!(r.status, 302, "{uri}: {}", r.body);
        assert!(r.header("location").unwrap().starts_with(uri), "{uri}");
    }
    // The exchange must repeat the port actually used.
    let r = with_redirect("http://127.0.0.1:53124/cb");
    let code = r.location_param("code").unwrap();
    let t = post_form(
        sb.local_addr(),
        &sb.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:53125/cb"),
            ("code_verifier", &verifier),
            ("client_id", &id),
        ],
        None,
    );
    assert_eq!(t.error(), "invalid_grant");
    // Only the port may differ, and only for loopback IP literals.
    for uri in [
        "http://127.0.0.1:53123/cb/",
        "http://127.0.0.1:53123/other",
        "https://127.0.0.1:53123/cb",
        "http://localhost:53123/cb",
        "http://127.0.0.2:53123/cb",
    ] {
        let r = with_redirect(uri);
        assert_eq!(r.status, 400, "{uri}");
        assert!(r.header("location").is_none(), "{uri}");
    }
}
