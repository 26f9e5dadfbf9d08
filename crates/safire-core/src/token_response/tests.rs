use super::read::ItemMembers;
use super::*;
use crate::finding::Severity;
use serde_json::json;

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_700_000_000_750)
}

fn parse(body: &str) -> TokenResponse {
    TokenResponse::parse(200, body.as_bytes(), t0()).unwrap()
}

fn parse_err(status: u16, body: &[u8]) -> TokenError {
    TokenResponse::parse(status, body, t0()).unwrap_err()
}

fn round_trip(token: &TokenResponse) {
    let json = serde_json::to_vec(token).unwrap();
    let back: TokenResponse = serde_json::from_slice(&json).unwrap();
    assert_eq!(&back, token);
}

const EHR_LAUNCH: &str = r#"{
  "access_token": "o7-oCANARY-AT", "expires_in": 3600, "id_token": "eyJCANARY-ID",
  "refresh_token": "CANARY-RT",
  "scope": "launch openid fhirUser patient/*.rs", "token_type": "Bearer",
  "patient": "pat-999", "encounter": "enc-1",
  "fhirContext": [
    {"reference": "Appointment/a1"},
    {"canonical": "https://example.org/Questionnaire/q|1.0", "role": "https://example.org/role/q"},
    {"identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:1"}, "type": "DocumentReference", "x-note": "kept"}
  ],
  "need_patient_banner": false, "smart_style_url": "https://ehr.example/smart-style.json",
  "intent": "reconcile-medications", "tenant": "t1",
  "authorization_details": [{"type": "smart-fhir", "locations": ["https://ehr.example/fhir"]}],
  "vendor_session_key": "CANARY-EXTRA"
}"#;

#[test]
fn ehr_launch_with_full_context() {
    let t = parse(EHR_LAUNCH);
    assert_eq!(t.access_token.expose(), "o7-oCANARY-AT");
    assert_eq!(t.token_type.as_deref(), Some("Bearer"));
    assert_eq!(t.expires_in, Some(3600));
    assert_eq!(t.refresh_token.as_ref().unwrap().expose(), "CANARY-RT");
    assert_eq!(t.id_token.as_ref().unwrap().expose(), "eyJCANARY-ID");
    assert_eq!(t.launch.patient.as_deref(), Some("pat-999"));
    assert_eq!(t.launch.encounter.as_deref(), Some("enc-1"));
    assert_eq!(t.launch.fhir_context.len(), 3);
    assert_eq!(
        t.launch.fhir_context[0].reference.as_deref(),
        Some("Appointment/a1")
    );
    assert_eq!(
        t.launch.fhir_context[1].role.as_deref(),
        Some("https://example.org/role/q")
    );
    assert_eq!(
        t.launch.fhir_context[2].type_.as_deref(),
        Some("DocumentReference")
    );
    assert_eq!(
        t.launch.fhir_context[2].identifier.as_ref().unwrap()["value"],
        "urn:uuid:1"
    );
    assert_eq!(t.launch.fhir_context[2].extra["x-note"], "kept");
    assert_eq!(t.launch.need_patient_banner, Some(false));
    assert_eq!(t.launch.intent.as_deref(), Some("reconcile-medications"));
    assert_eq!(t.launch.tenant.as_deref(), Some("t1"));
    assert!(t.authorization_details.as_ref().unwrap().is_array());
    assert_eq!(t.extra.keys().collect::<Vec<_>>(), ["vendor_session_key"]);
    assert_eq!(t.findings, []);
    assert_eq!(
        t.expires_at,
        Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + 3600))
    );
    assert_eq!(t.compliance_findings(GrantType::AuthorizationCode), []);
    assert_eq!(t.compliance_findings(GrantType::RefreshToken), []);
    assert_eq!(t.compliance_findings(GrantType::ClientCredentials), []);
    round_trip(&t);
}

#[test]
fn every_declared_member_is_known() {
    let names: Vec<&str> = Members::FIELDS.iter().map(|(name, _)| *name).collect();
    assert_eq!(names.len(), 14);
    assert!(names.contains(&"fhirContext"));
    for name in names {
        let body = format!(r#"{{"{name}":null,"error":1,"Access_token":2}}"#);
        let m: Members = from_body(body.as_bytes()).unwrap();
        assert_eq!(m.sent_names(), [name, "Access_token", "error"]);
    }
    let item: ItemMembers = from_body(br#"{"type":"Patient","type_":1}"#).unwrap();
    assert_eq!(item.sent_names(), ["type", "type_"]);
}

#[test]
fn null_and_duplicate_members() {
    let t = parse(
        r#"{"access_token":"x","access_token":"a","token_type":7,"token_type":"Bearer","scope":null,"x":1,"x":null,"patient":"p","patient":null}"#,
    );
    assert_eq!(t.access_token.expose(), "a");
    assert_eq!(t.token_type.as_deref(), Some("Bearer"));
    assert_eq!(t.findings, []);
    assert_eq!(t.scope, None);
    assert_eq!(t.launch.patient, None);
    assert_eq!(t.extra.get("x"), Some(&Value::Null));
    let err = parse_err(
        200,
        br#"{"access_token":"a","access_token":null,"scope":null}"#,
    );
    assert_eq!(err.received_fields, ["access_token", "scope"]);
    let err = parse_err(200, br#"{"error":null,"access_token":" ","z":1}"#);
    assert_eq!(err.received_fields, ["access_token", "error", "z"]);
    let t = parse(r#"{"access_token":"a","error":"invalid_grant","error":null}"#);
    assert_eq!(t.extra.get("error"), Some(&Value::Null));
    let err = parse_err(
        200,
        br#"{"access_token":"a","error":null,"error":"invalid_grant"}"#,
    );
    assert_eq!(err.oauth.error_code.as_deref(), Some("invalid_grant"));
    let t = parse("\u{feff}{\"access_token\":\"a\"}");
    assert_eq!(t.access_token.expose(), "a");
}

#[test]
fn debug_redacts_every_secret() {
    let t = parse(EHR_LAUNCH);
    let debug = format!("{t:?}");
    let pretty = format!("{t:#?}");
    for text in [&debug, &pretty] {
        assert!(!text.contains("CANARY"), "{text}");
        assert!(text.contains("vendor_session_key"));
        assert!(text.contains("[REDACTED]"));
        // Patient identifiers (PHI) stay out of logs; what kind of context there is shows.
        for identifier in ["pat-999", "enc-1", "a1", "urn:uuid:1"] {
            assert!(!text.contains(identifier), "{identifier} in {text}");
        }
        assert!(text.contains("[hidden]"), "{text}");
        assert!(text.contains("Appointment/[hidden]"), "{text}");
        assert!(text.contains("DocumentReference"), "{text}");
    }
}

#[test]
fn numeric_ids_and_a_blank_token_type() {
    let t = parse(r#"{"access_token":"a","token_type":"  ","patient":123,"encounter":-4}"#);
    assert_eq!(t.launch.patient.as_deref(), Some("123"));
    assert_eq!(t.launch.encounter.as_deref(), Some("-4"));
    // A blank token_type is absent, not an unknown token type.
    assert_eq!(t.token_type, None);
    let notes: Vec<_> = t
        .findings
        .iter()
        .map(|f| (f.field.as_deref().unwrap_or_default(), f.is_error()))
        .collect();
    assert_eq!(notes, [("patient", false), ("encounter", false)]);
    assert!(
        t.findings.iter().all(|f| !f.message.contains("123")),
        "a finding never repeats the id"
    );
    let compliance = t.compliance_findings(GrantType::AuthorizationCode);
    assert!(
        compliance
            .iter()
            .any(|f| f.field.as_deref() == Some("token_type") && f.message.contains("missing"))
    );
    // Fractions and booleans are still wrong types.
    let t = parse(r#"{"access_token":"a","patient":1.5,"encounter":true}"#);
    assert!(t.launch.patient.is_none() && t.launch.encounter.is_none());
    assert!(t.findings.iter().all(Finding::is_error));
}

#[test]
fn missing_access_token_lists_names_only() {
    let err = parse_err(
        200,
        br#"{"token_type":"Bearer","refresh_token":"CANARY-RT","id_token":"CANARY-ID","expires_in":3600}"#,
    );
    assert_eq!(
        err.received_fields,
        ["expires_in", "id_token", "refresh_token", "token_type"]
    );
    assert_eq!(err.oauth.status, Some(200));
    let text = format!("{err} {err:?}");
    assert!(!text.contains("CANARY"), "{text}");
    assert_eq!(
        err.to_string(),
        "Missing access token in response; received fields: expires_in, id_token, refresh_token, token_type"
    );
    for bad in [
        r#"{"access_token":""}"#,
        r#"{"access_token":"   "}"#,
        r#"{"access_token":null}"#,
        r#"{"access_token":12345}"#,
        r#"{"access_token":["CANARY"]}"#,
    ] {
        let err = parse_err(200, bad.as_bytes());
        assert_eq!(err.received_fields, ["access_token"]);
        assert!(!format!("{err:?}").contains("CANARY"));
    }
    let empty = parse_err(200, b"{}");
    assert!(empty.received_fields.is_empty());
    assert_eq!(
        empty.to_string(),
        "Token request failed — HTTP 200 — response access_token must be a non-blank string"
    );
}

#[test]
fn oauth_errors_whatever_the_status() {
    let err = parse_err(
        200,
        br#"{"error":"invalid_grant","error_description":"expired","access_token":"CANARY"}"#,
    );
    assert_eq!(err.oauth.error_code.as_deref(), Some("invalid_grant"));
    assert_eq!(err.oauth.status, Some(200));
    assert_eq!(
        err.to_string(),
        "Token request failed — HTTP 200 — invalid_grant — expired"
    );

    let err = parse_err(
        401,
        br#"{"error":"invalid_client","error_description":"client authentication failed"}"#,
    );
    assert_eq!(
        err.to_string(),
        "Token request failed — HTTP 401 — invalid_client — client authentication failed"
    );
    let err = parse_err(500, b"<html><body>Internal Server Error</body></html>");
    assert_eq!(err.to_string(), "Token request failed — HTTP 500");
    let err = parse_err(200, br#"{"error":42}"#);
    assert_eq!(err.oauth.error_code, None);
    assert!(err.detail.is_some());
}

#[test]
fn unusable_bodies() {
    let deep = format!("{{\"a\":{}", "[".repeat(10_000));
    let closed = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let unusable = crate::json::unusable_bodies();
    for body in unusable.iter().map(Vec::as_slice).chain([
        &b"\"access_token\""[..],
        b"access_token=x&token_type=bearer",
        b"\xff\xfe{",
        b"{\"access_token\":\"a\",\"expires_in\":1e999}",
        deep.as_bytes(),
        closed.as_bytes(),
    ]) {
        let err = parse_err(200, body);
        assert_eq!(err.detail.as_deref(), Some("response is not a JSON object"));
        assert_eq!(
            err.to_string(),
            "Token request failed — HTTP 200 — response is not a JSON object"
        );
    }
}

#[test]
fn leniency_is_noted() {
    let t = parse(
        r#"{"access_token":"a","token_type":"bearer","expires_in":"3600","scope":["launch","patient/*.rs"]}"#,
    );
    assert_eq!(t.token_type.as_deref(), Some("bearer"));
    assert_eq!(t.expires_in, Some(3600));
    assert_eq!(t.scope.as_deref(), Some("launch patient/*.rs"));
    assert_eq!(t.scopes().collect::<Vec<_>>(), ["launch", "patient/*.rs"]);
    let fields: Vec<_> = t
        .findings
        .iter()
        .map(|f| f.field.as_deref().unwrap())
        .collect();
    assert_eq!(fields, ["token_type", "expires_in", "scope"]);
    assert!(t.findings.iter().all(|f| f.severity == Severity::Warning));
    assert!(t.expires_at.is_some());
    round_trip(&t);

    let app = t.compliance_findings(GrantType::AuthorizationCode);
    assert_eq!(app.len(), 3, "{app:?}");
    assert!(app.iter().all(|f| f.severity == Severity::Warning));
    let backend = t.compliance_findings(GrantType::ClientCredentials);
    assert_eq!(
        backend.len(),
        2,
        "bearer is canonical for backend services: {backend:?}"
    );

    let t = parse(
        r#"{"access_token":"a","expires_in":3600.0,"need_patient_banner":"true","fhirContext":["Patient/p1"]}"#,
    );
    assert_eq!(t.expires_in, Some(3600));
    assert_eq!(t.launch.need_patient_banner, Some(true));
    assert_eq!(
        t.launch.fhir_context[0].reference.as_deref(),
        Some("Patient/p1")
    );
    assert_eq!(t.findings.len(), 3);
    round_trip(&t);
}

#[test]
fn wrong_types_become_findings_not_failures() {
    let t = parse(
        r#"{"access_token":"a","token_type":7,"expires_in":-5,"scope":{"a":1},
            "refresh_token":123,"id_token":false,"patient":["p"],"encounter":true,
            "need_patient_banner":"yes","smart_style_url":1,"intent":[],"tenant":{},
            "fhirContext":[5, {"reference": 1, "identifier": "not-an-object", "type": "Patient"}, {}]}"#,
    );
    assert_eq!(t.token_type, None);
    assert_eq!(t.expires_in, None);
    assert_eq!(t.expires_at, None);
    assert_eq!(t.scope, None);
    assert!(t.refresh_token.is_none() && t.id_token.is_none());
    assert!(
        t.launch.patient.is_none() && t.launch.encounter.is_none() && t.launch.tenant.is_none()
    );
    assert_eq!(t.launch.need_patient_banner, None);
    assert_eq!(t.launch.fhir_context.len(), 2);
    assert!(
        t.extra.is_empty(),
        "wrong-typed values are dropped, not kept"
    );
    assert!(t.findings.iter().all(Finding::is_error));
    let fields: Vec<_> = t
        .findings
        .iter()
        .map(|f| f.field.clone().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "token_type",
            "expires_in",
            "scope",
            "refresh_token",
            "id_token",
            "patient",
            "encounter",
            "fhirContext[0]",
            "fhirContext[1].reference",
            "fhirContext[1].identifier",
            "fhirContext[1]",
            "fhirContext[2]",
            "need_patient_banner",
            "smart_style_url",
            "intent",
            "tenant",
        ]
    );
    // Wrong-typed scope/token_type are not reported a second time as missing.
    let c = t.compliance_findings(GrantType::AuthorizationCode);
    assert_eq!(c.len(), t.findings.len());
    round_trip(&t);

    let t = parse(r#"{"access_token":"a","scope":["a",1],"fhirContext":{"reference":"x"}}"#);
    assert_eq!(t.scope, None);
    assert!(t.launch.fhir_context.is_empty());
    assert_eq!(t.findings.len(), 2);
}

#[test]
fn compliance_rules_per_flow() {
    let msgs = |body: &str, flow| -> Vec<String> {
        parse(body)
            .compliance_findings(flow)
            .into_iter()
            .map(|f| f.message)
            .collect()
    };
    assert_eq!(
        msgs(r#"{"access_token":"a"}"#, GrantType::AuthorizationCode),
        [
            "SMART token response non-compliance: required field 'scope' is missing",
            "SMART token response non-compliance: required field 'token_type' is missing",
        ]
    );
    assert_eq!(
        msgs(
            r#"{"access_token":"a","token_type":"Bearer"}"#,
            GrantType::ClientCredentials
        ),
        [
            "SMART token response non-compliance: required field 'scope' is missing",
            "SMART token response non-compliance: required field 'expires_in' is missing",
        ]
    );
    assert_eq!(
        msgs(
            r#"{"access_token":"a","token_type":"DPoP","scope":"s","expires_in":1}"#,
            GrantType::AuthorizationCode
        ),
        [
            r#"SMART token response non-compliance: token_type is "DPoP"; expected 'Bearer' (SMART App Launch spec)"#
        ]
    );
    assert_eq!(
        msgs(
            r#"{"access_token":"a","token_type":"mac","scope":"s","expires_in":1}"#,
            GrantType::ClientCredentials
        ),
        [
            r#"SMART token response non-compliance: token_type is "mac"; expected 'bearer' (SMART App Launch Backend Services)"#
        ]
    );
    assert_eq!(
        msgs(
            r#"{"access_token":"a","token_type":" ","scope":"s"}"#,
            GrantType::RefreshToken
        ),
        ["SMART token response non-compliance: required field 'token_type' is missing"]
    );
    let upper = parse(r#"{"access_token":"a","token_type":"BEARER","scope":"s","expires_in":1}"#);
    for flow in [GrantType::AuthorizationCode, GrantType::ClientCredentials] {
        let f = upper.compliance_findings(flow);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
    }
    let bearer =
        r#"{"access_token":"a","token_type":"Bearer","scope":"system/*.rs","expires_in":300}"#;
    assert!(msgs(bearer, GrantType::ClientCredentials).is_empty());
    assert!(msgs(bearer, GrantType::AuthorizationCode).is_empty());
    let blank_scope = r#"{"access_token":"a","token_type":"Bearer","scope":"  "}"#;
    assert_eq!(msgs(blank_scope, GrantType::AuthorizationCode).len(), 1);
}

#[test]
fn expiry() {
    let t = parse(r#"{"access_token":"a","expires_in":300}"#);
    let at = UNIX_EPOCH + Duration::from_secs(1_700_000_300);
    assert_eq!(t.expires_at, Some(at));
    assert!(!t.is_expired(at - Duration::from_secs(61), Duration::from_secs(60)));
    assert!(t.is_expired(at - Duration::from_secs(60), Duration::from_secs(60)));
    assert!(t.is_expired(at, Duration::ZERO));
    assert!(t.is_expired(t0(), Duration::MAX));

    let never = parse(r#"{"access_token":"a"}"#);
    assert!(!never.is_expired(t0() + Duration::from_secs(1 << 40), Duration::ZERO));

    let huge = parse(r#"{"access_token":"a","expires_in":18446744073709551615}"#);
    assert_eq!(huge.expires_in, Some(u64::MAX));
    assert_eq!(huge.expires_at, None);
    round_trip(&huge);

    let before_epoch = TokenResponse::parse(
        200,
        br#"{"access_token":"a","expires_in":5}"#,
        UNIX_EPOCH - Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(before_epoch.expires_at, None);
}

#[test]
fn a_token_response_stored_in_the_earlier_shape_loads_and_serializes_to_the_same_bytes() {
    // Written by `serde_json::to_string` of the earlier `TokenResponse`, whose launch
    // context members were its own fields.
    const STORED: &str = r#"{"access_token":"at-1","patient":"p","fhirContext":[{"reference":"Task/t","role":"r"}],"tenant":"t","extra":{"extra_member":1},"findings":[{"severity":"warning","field":"x","message":"note"}]}"#;
    let mut expected = parse(
        r#"{"access_token":"at-1","patient":"p","fhirContext":[{"reference":"Task/t","role":"r"}],"tenant":"t","extra_member":1}"#,
    );
    expected.findings.push(Finding::warning(Some("x"), "note"));
    let stored: TokenResponse = serde_json::from_str(STORED).unwrap();
    assert_eq!(stored, expected);
    assert_eq!(stored.launch.fhir_context[0].role.as_deref(), Some("r"));
    assert_eq!(serde_json::to_string(&stored).unwrap(), STORED);
}

#[test]
fn round_trips_and_serialized_shape() {
    let t = parse(EHR_LAUNCH);
    let v = serde_json::to_value(&t).unwrap();
    assert_eq!(v["access_token"], "o7-oCANARY-AT");
    assert_eq!(v["expires_at"], 1_700_003_600u64);
    assert_eq!(v["fhirContext"][2]["type"], "DocumentReference");
    assert_eq!(v["extra"]["vendor_session_key"], "CANARY-EXTRA");
    assert!(v.get("findings").is_none());

    // Server members named like our stored-only fields stay in extra.
    let tricky = parse(
        r#"{"access_token":"a","expires_at":1,"findings":[1],"extra":{"x":1},"fhirContext":[{"reference":"r","extra":2}],
            "big":1e300,"neg":-0.0,"n":null,"deep":[[[[{"a":[1.5,"\u0000"]}]]]]}"#,
    );
    assert_eq!(tricky.expires_at, None);
    assert!(tricky.extra.contains_key("expires_at"));
    assert!(tricky.extra.contains_key("findings"));
    round_trip(&tricky);

    let minimal = parse(r#"{"access_token":"a"}"#);
    assert_eq!(
        serde_json::to_value(&minimal).unwrap(),
        json!({"access_token": "a"})
    );
    round_trip(&minimal);
}

#[test]
fn property_no_panic_and_serde_round_trip() {
    let mut g = crate::json::testgen::Gen::new(7);
    let mut parsed = 0;
    for _ in 0..4000 {
        let body = g.body(&["access_token"]);
        let received = UNIX_EPOCH + Duration::from_nanos(g.next() >> 4);
        match TokenResponse::parse(200, &body, received) {
            Ok(t) => {
                parsed += 1;
                round_trip(&t);
                assert!(!format!("{t:?}").contains(t.access_token.expose()));
                for flow in [GrantType::AuthorizationCode, GrantType::ClientCredentials] {
                    assert!(t.compliance_findings(flow).len() <= crate::finding::MAX_FINDINGS + 1);
                }
                let _ = t.is_expired(received, Duration::MAX);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    assert!(parsed > 1000, "generator too weak: {parsed}");
}

#[test]
fn floats_round_trip_exactly() {
    // Needs serde_json's `float_roundtrip` feature: without it these re-parse one ULP off.
    let t = parse(
        r#"{"access_token":"a","x":[1.947700395895162e-169,-1.490143767845386e129,6.162599865641032e196]}"#,
    );
    round_trip(&t);
}
