//! Full flows that succeed: public, symmetric, asymmetric and EHR launch,
//! from authorize through code, token and refresh.

use super::*;

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
