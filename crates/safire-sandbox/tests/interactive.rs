//! Interactive mode (issue 15's sandbox side): HTML login, patient picker,
//! consent approve/deny and the EHR launcher page, driven by raw HTTP form
//! posts exactly as a browser without JavaScript would send them.

mod common;

use common::flow::*;
use common::*;
use safire_sandbox::{Endpoint, Sandbox};

fn start() -> Sandbox {
    Sandbox::builder()
        .interactive(true)
        .id_token_signing_key_pem(include_str!("../testdata/vectors/rs384.pem"))
        .start()
        .unwrap()
}

/// The value of the hidden `pending` field of an HTML page.
fn pending_id(page: &HttpResp) -> String {
    let marker = "name=\"pending\" value=\"";
    let start = page.body.find(marker).expect("pending field") + marker.len();
    let end = page.body[start..].find('"').unwrap() + start;
    page.body[start..end].to_string()
}

fn step(sb: &Sandbox, pairs: &[(&str, &str)]) -> HttpResp {
    post_form(sb.local_addr(), &sb.url(Endpoint::Interact), pairs, None)
}

/// The login step of pending request `pending`.
fn sign_in(sb: &Sandbox, pending: &str, username: &str, password: &str) -> HttpResp {
    step(
        sb,
        &[
            ("pending", pending),
            ("step", "login"),
            ("username", username),
            ("password", password),
        ],
    )
}

/// The consent step of pending request `pending`: `approve` or `deny`.
fn decide(sb: &Sandbox, pending: &str, decision: &str) -> HttpResp {
    step(
        sb,
        &[
            ("pending", pending),
            ("step", "consent"),
            ("decision", decision),
        ],
    )
}

/// Signs in as `username` (no patient to pick: the consent page follows) and approves.
fn sign_in_and_approve(sb: &Sandbox, pending: &str, username: &str) -> HttpResp {
    assert_html(
        &sign_in(sb, pending, username, "sandbox"),
        "Authorize the app",
    );
    decide(sb, pending, "approve")
}

fn assert_html(r: &HttpResp, title: &str) {
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.body.contains(&format!("<h1>{title}</h1>")), "{}", r.body);
    assert!(!r.body.contains("<script"), "no JavaScript");
}

#[test]
fn standalone_login_patient_picker_consent_approve() {
    let sb = start();
    let id = sb.clients().public.client_id.clone();
    let (verifier, ch) = pkce("ui");
    let scope = "openid fhirUser launch/patient patient/*.rs";
    let login = authorize(&sb, &auth_params(&sb, &id, scope, &ch));
    assert_html(&login, "Sign in");
    let pending = pending_id(&login);
    // Wrong password: the login page again, with an error, same request.
    let r = sign_in(&sb, &pending, "clinician", "nope");
    assert_html(&r, "Sign in");
    assert!(r.body.contains("wrong password"));
    // A later step out of order is refused.
    let r = decide(&sb, &pending, "approve");
    assert_eq!(r.status, 400);
    let picker = sign_in(&sb, &pending, "clinician", "sandbox");
    assert_html(&picker, "Select a patient");
    assert!(picker.body.contains("Shaw") && picker.body.contains("sandbox-patient-2"));
    let consent_page = step(
        &sb,
        &[
            ("pending", &pending),
            ("step", "patient"),
            ("patient", "sandbox-patient-2"),
        ],
    );
    assert_html(&consent_page, "Authorize the app");
    assert!(
        consent_page.body.contains("patient/*.rs")
            && consent_page.body.contains("sandbox-patient-2")
    );
    let done = decide(&sb, &pending, "approve");
    assert_eq!(done.status, 302, "{}", done.body);
    assert_eq!(done.location_param("state").as_deref(), Some("st-1"));
    assert_eq!(
        done.location_param("iss").as_deref(),
        Some(sb.fhir_base_url())
    );
    let code = done.location_param("code").unwrap();
    let t = exchange(&sb, &id, &code, &verifier);
    assert_eq!(t.status, 200, "{}", t.body);
    let t = t.json();
    assert_eq!(t["patient"], "sandbox-patient-2");
    assert!(t["id_token"].is_string());
    // The pending request is used up.
    let r = decide(&sb, &pending, "approve");
    assert_eq!(r.status, 400);
}

#[test]
fn deny_returns_access_denied_with_state() {
    let sb = start();
    let id = sb.clients().public.client_id.clone();
    let (_, ch) = pkce("deny");
    let login = authorize(&sb, &auth_params(&sb, &id, "patient/*.rs", &ch));
    let pending = pending_id(&login);
    assert_html(
        &sign_in(&sb, &pending, "clinician", "sandbox"),
        "Authorize the app",
    );
    let r = decide(&sb, &pending, "deny");
    assert_eq!(r.status, 302);
    assert_eq!(r.location_param("error").as_deref(), Some("access_denied"));
    assert_eq!(r.location_param("state").as_deref(), Some("st-1"));
    assert!(r.location_param("code").is_none());
}

#[test]
fn patient_user_and_ehr_launch_skip_the_picker() {
    let sb = start();
    let id = sb.clients().public.client_id.clone();
    // A patient signs in: the patient is herself.
    let (v, ch) = pkce("amy");
    let login = authorize(
        &sb,
        &auth_params(&sb, &id, "openid fhirUser launch/patient patient/*.rs", &ch),
    );
    let pending = pending_id(&login);
    let done = sign_in_and_approve(&sb, &pending, "amy");
    let t = exchange(&sb, &id, &done.location_param("code").unwrap(), &v).json();
    assert_eq!(t["patient"], "sandbox-patient-1");
    let i = introspect(&sb, t["access_token"].as_str().unwrap());
    assert_eq!(
        i["fhirUser"],
        format!("{}/Patient/sandbox-patient-1", sb.fhir_base_url())
    );

    // EHR launch from the launcher page's form target: context from the launch.
    let page = get(sb.local_addr(), &sb.url(Endpoint::Launcher));
    assert_html(&page, "EHR launcher");
    assert!(page.body.contains(&id));
    assert!(
        page.body
            .contains(&format!("action=\"{}\"", sb.url(Endpoint::Launch)))
    );
    let launch = ehr_launch(
        &sb,
        &id,
        "http://127.0.0.1:8080/launch",
        &[("patient", "sandbox-patient-3")],
    );
    let (v, ch) = pkce("ehr-ui");
    let mut p = auth_params(&sb, &id, "launch patient/*.rs", &ch);
    p.push(("launch", &launch));
    let login = authorize(&sb, &p);
    let pending = pending_id(&login);
    let done = sign_in_and_approve(&sb, &pending, "clinician");
    let t = exchange(&sb, &id, &done.location_param("code").unwrap(), &v).json();
    assert_eq!(t["patient"], "sandbox-patient-3");
}

#[test]
fn forged_or_malformed_interaction_posts_are_refused() {
    let sb = start();
    for pairs in [
        vec![("pending", "forged"), ("step", "login")],
        vec![("step", "login")],
        vec![],
    ] {
        let r = step(&sb, &pairs);
        assert_eq!(r.status, 400, "{pairs:?}");
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
    }
    // HTML in values is escaped, never reflected raw.
    let id = sb.clients().public.client_id.clone();
    let (_, ch) = pkce("x");
    let mut p = auth_params(&sb, &id, "patient/*.rs", &ch);
    p.retain(|(k, _)| *k != "state");
    p.push(("state", "<script>alert(1)</script>"));
    let login = authorize(&sb, &p);
    assert!(!login.body.contains("<script>"));
}

#[test]
fn default_mode_still_auto_approves() {
    let sb = Sandbox::builder().start().unwrap();
    let id = sb.clients().public.client_id.clone();
    let (_, ch) = pkce("auto");
    let r = authorize(&sb, &auth_params(&sb, &id, "patient/*.rs", &ch));
    assert_eq!(r.status, 302);
    assert!(r.location_param("code").is_some());
}
