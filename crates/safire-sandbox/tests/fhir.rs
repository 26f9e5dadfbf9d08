//! The minimal FHIR read endpoint `GET {base}/Patient/<id>`: bearer token
//! and scope checks, expiry, revocation, hit counter; raw HTTP only.

mod common;

use std::time::Duration;

use common::flow::*;
use common::*;
use safire_sandbox::{Endpoint, Sandbox};

fn patient_url(sb: &Sandbox, id: &str) -> String {
    format!("{}/Patient/{id}", sb.fhir_base_url())
}

fn read(sb: &Sandbox, id: &str, token: &str) -> HttpResp {
    get_bearer(sb, &patient_url(sb, id), token)
}

fn token_for(sb: &Sandbox, scope: &str) -> String {
    public_token(sb, scope)["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn challenge(r: &HttpResp) -> String {
    r.header("www-authenticate").unwrap_or_default().to_string()
}

#[test]
fn reads_the_launch_patient_with_patient_scopes() {
    let sb = Sandbox::builder().start().unwrap();
    for scope in [
        "launch/patient patient/Patient.r",
        "launch/patient patient/Patient.rs",
        "launch/patient patient/*.read",
        "launch/patient patient/Patient.read",
        "launch/patient patient/*.cruds",
    ] {
        let t = token_for(&sb, scope);
        let r = read(&sb, "sandbox-patient-1", &t);
        assert_eq!(r.status, 200, "{scope}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/fhir+json"));
        let p = r.json();
        assert_eq!(p["resourceType"], "Patient");
        assert_eq!(p["id"], "sandbox-patient-1");
        assert_eq!(p["name"][0]["family"], "Shaw");
        assert_eq!(p["birthDate"], "1987-02-20");
        // patient/ scopes do not reach another patient.
        let other = read(&sb, "sandbox-patient-2", &t);
        assert_eq!(other.status, 403, "{scope}");
        assert!(challenge(&other).contains("error=\"insufficient_scope\""));
    }
    // patient/ scope without a patient in context: nothing readable.
    let t = token_for(&sb, "patient/Patient.rs");
    assert_eq!(read(&sb, "sandbox-patient-1", &t).status, 403);
    assert_eq!(sb.requests(Endpoint::FhirPatient), 11);
}

#[test]
fn user_and_system_scopes_read_any_patient() {
    let sb = Sandbox::builder()
        .fhir_patient("extra-9", "Zoe", "Quinn", "2001-01-01")
        .start()
        .unwrap();
    for scope in [
        "user/Patient.rs",
        "user/*.read",
        "user/Patient.*",
        "user/Patient.r",
    ] {
        let t = token_for(&sb, scope);
        assert_eq!(read(&sb, "sandbox-patient-3", &t).status, 200, "{scope}");
        let z = read(&sb, "extra-9", &t);
        assert_eq!(z.json()["name"][0]["given"][0], "Zoe");
        assert_eq!(read(&sb, "nobody", &t).status, 404, "{scope}");
    }
    // Wrong resource type or no read permission: 403.
    for scope in [
        "user/Observation.rs",
        "user/Patient.cud",
        "user/Patient.write",
        "patient/Observation.rs",
    ] {
        let t = token_for(&sb, &format!("launch/patient {scope}"));
        let r = read(&sb, "sandbox-patient-1", &t);
        assert_eq!(r.status, 403, "{scope}");
        assert!(challenge(&r).starts_with("Bearer"));
    }
    // A backend token with system/*.rs reads too.
    let backend = sb.clients().backend.clone();
    let r = backend_token(&sb, &backend, "system/Patient.rs", "fhir-1");
    let t = r.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(read(&sb, "sandbox-patient-2", &t).status, 200);
}

#[test]
fn missing_invalid_expired_and_revoked_tokens_are_401() {
    let sb = Sandbox::builder()
        .access_token_lifetime(Duration::from_secs(60))
        .start()
        .unwrap();
    // No token: a challenge without an error code (RFC 6750 §3.1).
    let r = get(sb.local_addr(), &patient_url(&sb, "sandbox-patient-1"));
    assert_eq!(r.status, 401);
    assert_eq!(challenge(&r), "Bearer realm=\"safire-sandbox\"");
    let r = read(&sb, "sandbox-patient-1", "forged-token");
    assert_eq!(r.status, 401);
    assert!(challenge(&r).contains("error=\"invalid_token\""));

    let t = public_token(&sb, "user/Patient.rs");
    assert_eq!(t["expires_in"], 60);
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(read(&sb, "sandbox-patient-1", access).status, 200);
    sb.advance_time(Duration::from_secs(61));
    let r = read(&sb, "sandbox-patient-1", access);
    assert_eq!(r.status, 401);
    assert!(
        challenge(&r).contains("error=\"invalid_token\""),
        "{}",
        challenge(&r)
    );

    // A code replay revokes the tokens issued from it.
    let id = sb.clients().public.client_id.clone();
    let (code, v) = code_for(&sb, &id, "user/Patient.rs");
    let first = exchange(&sb, &id, &code, &v).json();
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(read(&sb, "sandbox-patient-1", access).status, 200);
    assert_eq!(exchange(&sb, &id, &code, &v).error(), "invalid_grant");
    let r = read(&sb, "sandbox-patient-1", access);
    assert_eq!(r.status, 401);
    assert!(challenge(&r).contains("invalid_token"));
    // Only GET.
    let r = http(
        sb.local_addr(),
        "POST",
        &path_of(&patient_url(&sb, "sandbox-patient-1")),
        &[],
        b"",
    );
    assert_eq!(r.status, 405);
}
