use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::error::SessionErrorKind;

const T0: u64 = 1_700_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

fn parse(body: &str, secs: u64) -> TokenResponse {
    TokenResponse::parse(200, body.as_bytes(), at(secs)).unwrap()
}

/// A user session with every member set.
fn full_session() -> Session {
    let token = parse(
        r#"{"access_token":"at-1","token_type":"Bearer","expires_in":300,
            "refresh_token":"rt-1","scope":"launch/patient openid fhirUser patient/*.rs offline_access",
            "patient":"pat-123","encounter":"enc-9","fhirContext":[{"reference":"Appointment/a1"}],
            "need_patient_banner":true,"smart_style_url":"https://ehr.example/style.json",
            "intent":"reconcile","tenant":"t-1","id_token":"idt-1"}"#,
        0,
    );
    Session::from_token_response(
        token,
        "https://ehr.example/fhir",
        "app",
        SessionKind::User,
        &Scopes::parse("launch/patient openid fhirUser patient/*.rs offline_access"),
    )
}

/// A refresh response with only a new access token, plus `extra` members.
fn refresh_with(extra: &str) -> TokenResponse {
    let sep = if extra.is_empty() { "" } else { "," };
    parse(
        &format!(r#"{{"access_token":"at-2","token_type":"Bearer","expires_in":600{sep}{extra}}}"#),
        100,
    )
}

#[test]
fn freshness_uses_the_absolute_expiry_and_the_margin() {
    let session = full_session();
    let margin = Duration::from_secs(60);
    assert_eq!(session.expires_at, Some(at(300)));
    assert_eq!(session.freshness(at(0), margin), Freshness::Fresh);
    assert_eq!(session.freshness(at(239), margin), Freshness::Fresh);
    assert_eq!(session.freshness(at(240), margin), Freshness::RefreshDue);
    assert_eq!(session.freshness(at(299), margin), Freshness::RefreshDue);
    assert_eq!(session.freshness(at(300), margin), Freshness::Expired);
    assert_eq!(session.freshness(at(10_000), margin), Freshness::Expired);
    assert!(session.is_fresh(at(239), margin));
    assert!(!session.is_fresh(at(240), margin));
    // A zero margin: fresh until the second of expiry.
    assert_eq!(session.freshness(at(299), Duration::ZERO), Freshness::Fresh);
    // A margin longer than the lifetime is capped at half of it: a short-lived token is
    // not renewed on every call.
    assert_eq!(session.issued_at, Some(at(0)));
    let long = Duration::from_secs(3600);
    assert_eq!(session.effective_margin(long), Duration::from_secs(150));
    assert_eq!(session.freshness(at(149), long), Freshness::Fresh);
    assert_eq!(session.freshness(at(150), long), Freshness::RefreshDue);
    // A huge margin does not overflow.
    assert_eq!(session.freshness(at(149), Duration::MAX), Freshness::Fresh);
    assert!(!session.is_fresh(at(150), Duration::MAX));
    // Without a known issue time the margin is used as given.
    let mut unknown = session.clone();
    unknown.issued_at = None;
    assert_eq!(unknown.freshness(at(0), long), Freshness::RefreshDue);
    assert!(!unknown.is_fresh(at(0), Duration::MAX));
}

#[test]
fn unknown_expiry_is_fresh() {
    let token = parse(r#"{"access_token":"a","scope":"openid"}"#, 0);
    let session = Session::from_token_response(
        token,
        "https://ehr.example/fhir",
        "app",
        SessionKind::User,
        &Scopes::new(),
    );
    assert_eq!(session.expires_at, None);
    assert_eq!(
        session.freshness(at(1_000_000), Duration::from_secs(60)),
        Freshness::Fresh
    );
    assert_eq!(
        session.renewal(at(1_000_000), Duration::from_secs(60)),
        Renewal::UseCurrent
    );
}

#[test]
fn renewal_decisions() {
    let margin = Duration::from_secs(60);
    let user = full_session();
    assert_eq!(user.renewal(at(0), margin), Renewal::UseCurrent);
    assert_eq!(user.renewal(at(250), margin), Renewal::Refresh);
    assert_eq!(user.renewal(at(400), margin), Renewal::Refresh);
    assert_eq!(user.renewal_after_rejection(), Renewal::Refresh);

    let mut no_refresh = user.clone();
    no_refresh.refresh_token = None;
    // Still valid: use it (nothing better is possible); expired: re-authorize.
    assert_eq!(no_refresh.renewal(at(250), margin), Renewal::UseCurrent);
    match no_refresh.renewal(at(300), margin) {
        Renewal::Reauthorize(e) => {
            assert_eq!(e.kind, SessionErrorKind::ReauthorizationRequired);
            assert!(
                e.to_string().starts_with("Re-authorization required"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        no_refresh.renewal_after_rejection(),
        Renewal::Reauthorize(_)
    ));

    let mut backend = user;
    backend.kind = SessionKind::Backend;
    backend.refresh_token = None;
    assert_eq!(backend.renewal(at(0), margin), Renewal::UseCurrent);
    assert_eq!(backend.renewal(at(250), margin), Renewal::NewAssertion);
    assert_eq!(backend.renewal(at(9_999), margin), Renewal::NewAssertion);
    assert_eq!(backend.renewal_after_rejection(), Renewal::NewAssertion);
}

#[test]
fn debug_shows_no_secret_and_no_patient_identifier() {
    let session = full_session();
    let debug = format!("{session:?}");
    for hidden in [
        "at-1",
        "rt-1",
        "idt-1",
        "pat-123",
        "enc-9",
        "Appointment/a1",
    ] {
        assert!(!debug.contains(hidden), "{hidden} in {debug}");
    }
    assert!(debug.contains("[REDACTED]"), "{debug}");
    assert!(debug.contains("patient: \"[PRESENT]\""), "{debug}");
    assert!(debug.contains("https://ehr.example/fhir"), "{debug}");
}

/// A session as stored before the launch context became one value (every member set):
/// written by `serde_json::to_string` of the earlier `Session`.
const STORED_BEFORE_LAUNCH_CONTEXT: &str = r#"{"fhir_base":"https://ehr.example/fhir","client_id":"app","kind":"user","access_token":"at-1","token_type":"Bearer","expires_at":1700000300,"issued_at":1700000000,"refresh_token":"rt-1","scopes":"launch/patient openid fhirUser patient/*.rs offline_access","patient":"pat-123","encounter":"enc-9","fhirContext":[{"reference":"Appointment/a1"}],"need_patient_banner":true,"smart_style_url":"https://ehr.example/style.json","intent":"reconcile","tenant":"t-1","id_token":"idt-1","fhir_user":"https://ehr.example/fhir/Practitioner/p1","findings":[{"severity":"warning","field":"x","message":"note"}]}"#;

#[test]
fn a_session_stored_in_the_earlier_shape_loads_and_serializes_to_the_same_bytes() {
    let stored: Session = serde_json::from_str(STORED_BEFORE_LAUNCH_CONTEXT).unwrap();
    let mut expected = full_session();
    expected.fhir_user = Some("https://ehr.example/fhir/Practitioner/p1".into());
    expected.findings.push(Finding::warning(Some("x"), "note"));
    assert_eq!(stored, expected);
    assert_eq!(stored.launch.patient.as_deref(), Some("pat-123"));
    assert_eq!(stored.launch.tenant.as_deref(), Some("t-1"));
    assert_eq!(
        serde_json::to_string(&stored).unwrap(),
        STORED_BEFORE_LAUNCH_CONTEXT
    );
    assert_eq!(
        Session::from_bytes(STORED_BEFORE_LAUNCH_CONTEXT.as_bytes()).unwrap(),
        expected
    );
}

#[test]
fn serde_round_trip() {
    let mut session = full_session();
    session.findings.push(Finding::warning(Some("x"), "note"));
    let json = serde_json::to_string(&session).unwrap();
    let back: Session = serde_json::from_str(&json).unwrap();
    assert_eq!(back, session);
    assert_eq!(back.access_token.expose(), "at-1");
    assert_eq!(back.expires_at, Some(at(300)));
    assert_eq!(back.scopes.to_string(), session.scopes.to_string());
    // The stored form has the absolute expiry in Unix seconds.
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["expires_at"], T0 + 300);
    assert_eq!(value["kind"], "user");
    // Bytes for a store, and corrupt bytes are an error, not a panic.
    assert_eq!(Session::from_bytes(&session.to_bytes()).unwrap(), session);
    let err = Session::from_bytes(b"{not json").unwrap_err();
    assert_eq!(err.kind, crate::store::StoreErrorKind::Corrupt);
}

#[test]
fn merge_new_values_win() {
    let merged = full_session().merge_refresh(
        refresh_with(
            r#""refresh_token":"rt-2","scope":"openid patient/Observation.rs","patient":"pat-2",
               "encounter":"enc-2","fhirContext":[{"reference":"Task/t"}],"need_patient_banner":false,
               "smart_style_url":"https://ehr.example/s2","intent":"i2","tenant":"t-2","id_token":"idt-2""#,
        ),
        None,
    );
    assert_eq!(merged.access_token.expose(), "at-2");
    assert_eq!(merged.expires_at, Some(at(700)));
    assert_eq!(merged.refresh_token.unwrap().expose(), "rt-2");
    assert_eq!(merged.scopes.to_string(), "openid patient/Observation.rs");
    assert_eq!(merged.launch.patient.as_deref(), Some("pat-2"));
    assert_eq!(merged.launch.encounter.as_deref(), Some("enc-2"));
    assert_eq!(
        merged.launch.fhir_context[0].reference.as_deref(),
        Some("Task/t")
    );
    assert_eq!(merged.launch.need_patient_banner, Some(false));
    assert_eq!(
        merged.launch.smart_style_url.as_deref(),
        Some("https://ehr.example/s2")
    );
    assert_eq!(merged.launch.intent.as_deref(), Some("i2"));
    assert_eq!(merged.launch.tenant.as_deref(), Some("t-2"));
    assert_eq!(merged.id_token.unwrap().expose(), "idt-2");
    // The narrower grant is reported against what was granted before.
    assert!(
        merged
            .findings
            .iter()
            .any(|f| f.message.contains("'fhirUser' was not granted")),
        "{:?}",
        merged.findings
    );
}

/// One test per member a refresh may omit (issue 11 item 8): the previous value is kept.
mod omitted_member_keeps_the_previous_value {
    use super::*;

    fn merged() -> Session {
        full_session().merge_refresh(refresh_with(""), None)
    }

    #[test]
    fn refresh_token() {
        assert_eq!(merged().refresh_token.unwrap().expose(), "rt-1");
    }

    #[test]
    fn scope_means_the_requested_scope_with_a_finding() {
        let m = merged();
        assert_eq!(
            m.scopes.to_string(),
            "launch/patient openid fhirUser patient/*.rs offline_access"
        );
        let finding = m
            .findings
            .iter()
            .find(|f| f.field.as_deref() == Some("scope"))
            .expect("a finding for the omitted scope");
        assert!(
            finding.message.contains("RFC 6749 section 5.1"),
            "{finding}"
        );
        // A refresh that narrowed the scope and got no `scope` back has the narrowed one.
        let narrowed = full_session().merge_refresh(
            refresh_with(""),
            Some(&Scopes::parse("patient/Observation.rs")),
        );
        assert_eq!(narrowed.scopes.to_string(), "patient/Observation.rs");
    }

    #[test]
    fn patient() {
        assert_eq!(merged().launch.patient.as_deref(), Some("pat-123"));
    }

    #[test]
    fn encounter() {
        assert_eq!(merged().launch.encounter.as_deref(), Some("enc-9"));
    }

    #[test]
    fn fhir_context() {
        let m = merged();
        assert_eq!(m.launch.fhir_context.len(), 1);
        assert_eq!(
            m.launch.fhir_context[0].reference.as_deref(),
            Some("Appointment/a1")
        );
    }

    #[test]
    fn id_token() {
        assert_eq!(merged().id_token.unwrap().expose(), "idt-1");
    }

    #[test]
    fn need_patient_banner() {
        assert_eq!(merged().launch.need_patient_banner, Some(true));
    }

    #[test]
    fn smart_style_url_intent_and_tenant() {
        let m = merged();
        assert_eq!(
            m.launch.smart_style_url.as_deref(),
            Some("https://ehr.example/style.json")
        );
        assert_eq!(m.launch.intent.as_deref(), Some("reconcile"));
        assert_eq!(m.launch.tenant.as_deref(), Some("t-1"));
    }

    #[test]
    fn but_the_access_token_and_its_expiry_are_always_replaced() {
        let m = merged();
        assert_eq!(m.access_token.expose(), "at-2");
        assert_eq!(m.expires_at, Some(at(700)));
        // An expiry the refresh did not send is unknown, not the old one.
        let no_expiry = full_session().merge_refresh(parse(r#"{"access_token":"at-3"}"#, 5), None);
        assert_eq!(no_expiry.expires_at, None);
        assert_eq!(no_expiry.token_type, "Bearer");
    }
}

#[test]
fn an_initial_response_without_scope_means_the_requested_scope() {
    // A backend session from `body`, which asked for system/Patient.rs.
    let session_from = |body: &str| {
        Session::from_token_response(
            parse(body, 0),
            "https://ehr.example/fhir",
            "svc",
            SessionKind::Backend,
            &Scopes::parse("system/Patient.rs"),
        )
    };
    let session = session_from(r#"{"access_token":"a","token_type":"bearer","expires_in":60}"#);
    assert_eq!(session.scopes.to_string(), "system/Patient.rs");
    assert!(
        session
            .findings
            .iter()
            .any(|f| f.field.as_deref() == Some("scope"))
    );
    // A granted scope different from the requested one is reported, and kept as granted.
    let session =
        session_from(r#"{"access_token":"a","scope":"system/Patient.r","expires_in":60}"#);
    assert_eq!(session.scopes.to_string(), "system/Patient.r");
    assert!(
        session
            .findings
            .iter()
            .any(|f| f.message.contains("only partly granted")),
        "{:?}",
        session.findings
    );
    assert!(session.scopes.allows(
        crate::scope::Context::System,
        "Patient",
        crate::scope::Permission::Read
    ));
}

#[test]
fn store_keys_carry_no_secret() {
    let session = full_session();
    let key = session.store_key("web-session-7");
    assert_eq!(
        key,
        "safire:session:app@https://ehr.example/fhir#web-session-7"
    );
    assert!(!key.contains("pat-123") && !key.contains("at-1"));
}

#[test]
fn the_session_flow_maps_invalid_grant_and_merges_results() {
    use crate::{CallOptions, ClientConfig, FlowFactory, Limits, OsRandom, run_blocking};
    let flows = FlowFactory::new(
        ClientConfig::builder("https://ehr.example/fhir")
            .client_id("app")
            .token_endpoint("https://ehr.example/token")
            // The session has `openid`: a refreshed id_token would be verified with these.
            .server_jwks_uri("https://ehr.example/jwks")
            .authorization_server_issuer("https://ehr.example")
            .build()
            .unwrap(),
    );
    let session = full_session();
    let mut sent = Vec::new();
    let renewed = run_blocking(
        flows.renew_session(&session, CallOptions::new()).unwrap(),
        &Limits::default(),
        &mut OsRandom,
        SystemTime::now,
        |request: crate::HttpRequest| {
            sent.push(String::from_utf8(request.body().clone()).unwrap());
            Ok::<_, crate::Error>(
                http::Response::builder()
                    .status(200)
                    .body(br#"{"access_token":"at-2","token_type":"Bearer","expires_in":60,"refresh_token":"rt-2"}"#.to_vec())
                    .unwrap(),
            )
        },
    )
    .unwrap();
    assert_eq!(
        sent,
        ["grant_type=refresh_token&refresh_token=rt-1&client_id=app"]
    );
    assert_eq!(renewed.refresh_token.unwrap().expose(), "rt-2");
    assert_eq!(renewed.launch.patient.as_deref(), Some("pat-123"));

    // Other refusals stay token errors (they may be transient or a setup problem).
    let err = run_blocking(
        flows.renew_session(&session, CallOptions::new()).unwrap(),
        &Limits::default(),
        &mut OsRandom,
        SystemTime::now,
        |_| {
            Ok::<_, crate::Error>(
                http::Response::builder()
                    .status(401)
                    .body(br#"{"error":"invalid_client"}"#.to_vec())
                    .unwrap(),
            )
        },
    )
    .unwrap_err();
    assert!(matches!(err, crate::Error::Token(_)), "{err:?}");
    assert!(!err.is_reauthorization_required());

    // No refresh token: refused before any request.
    let mut no_refresh = session;
    no_refresh.refresh_token = None;
    let err = flows
        .renew_session(&no_refresh, CallOptions::new())
        .err()
        .unwrap();
    assert!(err.is_reauthorization_required());
}
