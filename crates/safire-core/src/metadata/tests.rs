use super::*;
use crate::finding::Severity;
use serde_json::json;

const DISCOVERY_URL: &str = "https://ehr.example.org/fhir/.well-known/smart-configuration";

/// The SMART App Launch 2.2 example discovery document (every field, clean).
const SPEC_EXAMPLE: &str = r#"{
  "issuer": "https://ehr.example.com",
  "jwks_uri": "https://ehr.example.com/.well-known/jwks.json",
  "authorization_endpoint": "https://ehr.example.com/auth/authorize",
  "grant_types_supported": ["authorization_code", "client_credentials"],
  "token_endpoint": "https://ehr.example.com/auth/token",
  "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
  "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
  "registration_endpoint": "https://ehr.example.com/auth/register",
  "associated_endpoints": [
    {"url": "https://ehr.example.com/dicom", "capabilities": ["smart-imaging-access"]}
  ],
  "user_access_brand_bundle": "https://ehr.example.com/brands.json",
  "user_access_brand_identifier": "example-brand",
  "scopes_supported": ["openid", "profile", "launch", "launch/patient", "patient/*.rs", "user/*.rs", "offline_access"],
  "response_types_supported": ["code"],
  "management_endpoint": "https://ehr.example.com/user/manage",
  "introspection_endpoint": "https://ehr.example.com/user/introspect",
  "revocation_endpoint": "https://ehr.example.com/user/revoke",
  "capabilities": [
    "launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
    "client-confidential-asymmetric", "context-passthrough-banner", "context-passthrough-style",
    "context-ehr-patient", "context-ehr-encounter", "context-standalone-patient",
    "context-standalone-encounter", "permission-offline", "permission-patient", "permission-user",
    "permission-v1", "permission-v2", "authorize-post", "sso-openid-connect"
  ],
  "code_challenge_methods_supported": ["S256"],
  "smart_app_state_endpoint": "https://ehr.example.com/app-state"
}"#;

/// What the oidc-provider harness serves (loopback http, oidc-provider's alg list).
const OIDC_PROVIDER: &str = r#"{
  "issuer": "http://127.0.0.1:8462",
  "jwks_uri": "http://127.0.0.1:8462/jwks",
  "authorization_endpoint": "http://127.0.0.1:8462/auth",
  "token_endpoint": "http://127.0.0.1:8462/token",
  "registration_endpoint": "http://127.0.0.1:8462/reg",
  "introspection_endpoint": "http://127.0.0.1:8462/token/introspection",
  "revocation_endpoint": "http://127.0.0.1:8462/token/revocation",
  "grant_types_supported": ["implicit", "authorization_code", "refresh_token", "client_credentials"],
  "response_types_supported": ["code"],
  "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_jwt", "client_secret_post", "private_key_jwt", "none"],
  "token_endpoint_auth_signing_alg_values_supported": ["HS256", "RS256", "PS256", "ES256", "EdDSA", "RS384", "ES384"],
  "code_challenge_methods_supported": ["S256"],
  "scopes_supported": ["openid", "fhirUser", "launch", "launch/patient", "offline_access", "system/*.rs"],
  "capabilities": [
    "launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
    "client-confidential-asymmetric", "context-ehr-patient", "context-ehr-encounter",
    "context-standalone-patient", "context-standalone-encounter", "context-passthrough-banner",
    "context-passthrough-style", "permission-offline", "permission-online", "permission-patient",
    "permission-user", "permission-v1", "permission-v2", "sso-openid-connect"
  ]
}"#;

/// An Epic-like sloppy document: RS256 only, plain PKCE, OIDC without jwks_uri, a
/// wrong-typed field, an http endpoint and a string `grant_types_supported`.
const SLOPPY: &str = r#"{
  "issuer": "https://fhir.vendor.example/oauth2",
  "authorization_endpoint": "https://fhir.vendor.example/oauth2/authorize",
  "token_endpoint": "https://fhir.vendor.example/oauth2/token",
  "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt"],
  "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
  "grant_types_supported": "authorization_code client_credentials",
  "scopes_supported": ["epic.scanning.dmsusername", "fhirUser", "launch", "openid", "profile"],
  "response_types_supported": ["code"],
  "management_endpoint": {"href": "https://fhir.vendor.example/manage"},
  "introspection_endpoint": "http://fhir.vendor.example/oauth2/introspect",
  "capabilities": [
    "launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
    "client-confidential-asymmetric", "sso-openid-connect", "permission-v2"
  ],
  "code_challenge_methods_supported": ["S256", "plain"]
}"#;

fn meta(doc: &str) -> SmartMetadata {
    SmartMetadata::from_response(DISCOVERY_URL, 200, doc.as_bytes()).unwrap()
}

fn from(value: serde_json::Value) -> SmartMetadata {
    SmartMetadata::from_json_object(value.as_object().unwrap().clone())
}

fn messages(m: &SmartMetadata) -> Vec<String> {
    m.compliance_findings()
        .into_iter()
        .map(|f| f.message)
        .collect()
}

/// A clean minimal document that the rule tests modify one field at a time.
fn base() -> serde_json::Value {
    json!({
        "token_endpoint": "https://ehr.example/token",
        "grant_types_supported": ["authorization_code"],
        "capabilities": ["client-public"],
        "code_challenge_methods_supported": ["S256"]
    })
}

fn with(key: &str, value: serde_json::Value) -> SmartMetadata {
    let mut doc = base();
    doc.as_object_mut().unwrap().insert(key.into(), value);
    from(doc)
}

#[test]
fn spec_example_is_fully_typed_and_clean() {
    let m = meta(SPEC_EXAMPLE);
    assert_eq!(m.issuer.as_deref(), Some("https://ehr.example.com"));
    assert_eq!(
        m.token_endpoint.as_deref(),
        Some("https://ehr.example.com/auth/token")
    );
    assert_eq!(m.capabilities.len(), 18);
    assert_eq!(
        m.associated_endpoints,
        [AssociatedEndpoint {
            url: "https://ehr.example.com/dicom".into(),
            capabilities: vec!["smart-imaging-access".into()],
        }]
    );
    assert_eq!(
        m.user_access_brand_identifier.as_deref(),
        Some("example-brand")
    );
    assert_eq!(m.extra.len(), 1);
    assert!(m.extra.contains_key("smart_app_state_endpoint"));
    assert_eq!(m.compliance_findings(), []);
    assert!(m.supports_ehr_launch());
    assert!(m.supports_standalone_launch());
    assert!(m.supports_public_auth());
    assert!(m.supports_symmetric_auth());
    assert!(m.supports_asymmetric_auth());
    assert!(m.supports_backend_services());
    assert!(m.supports_dynamic_registration());
    assert!(m.supports_post_based_authorization());
    assert!(m.supports_openid_connect());
    assert_eq!(
        m.asymmetric_signing_algorithms_supported(),
        ["RS384", "ES384"]
    );
}

#[test]
fn oidc_provider_document() {
    let m = meta(OIDC_PROVIDER);
    assert!(m.supports_backend_services());
    assert!(m.supports_openid_connect());
    assert!(!m.supports_post_based_authorization());
    assert_eq!(
        m.asymmetric_signing_algorithms_supported(),
        ["RS384", "ES384"]
    );
    let findings = m.compliance_findings();
    // Only loopback-http warnings, one per endpoint.
    assert_eq!(findings.len(), 7);
    assert!(findings.iter().all(|f| f.severity == Severity::Warning));
    assert!(
        findings
            .iter()
            .any(|f| f.field.as_deref() == Some("token_endpoint"))
    );
}

#[test]
fn sloppy_document_is_usable_and_reported() {
    let m = meta(SLOPPY);
    assert!(m.supports_ehr_launch());
    assert!(m.supports_symmetric_auth());
    assert!(!m.supports_asymmetric_auth(), "RS256 only");
    assert!(m.asymmetric_signing_algorithms_supported().is_empty());
    assert!(!m.supports_backend_services());
    assert!(!m.supports_openid_connect(), "no jwks_uri");
    assert!(m.grant_types_supported.is_empty());
    assert_eq!(m.management_endpoint, None);
    assert!(m.extra.contains_key("management_endpoint"));

    let findings = m.compliance_findings();
    let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
    let expected = [
        "error: SMART metadata non-compliance: required field 'jwks_uri' is missing",
        "error: SMART metadata non-compliance: 'plain' is present in code_challenge_methods_supported (SMART App Launch 2.2.0 prohibits plain)",
        "error: SMART metadata non-compliance: field 'grant_types_supported' has the wrong JSON type (string; expected an array of strings) and was ignored",
        "error: SMART metadata non-compliance: field 'management_endpoint' has the wrong JSON type (object; expected a string) and was ignored",
        "error: SMART metadata non-compliance: introspection_endpoint is not an https URL (SMART App Launch 2.2.0 requires TLS)",
        "error: SMART metadata non-compliance: capability 'client-confidential-asymmetric' is advertised but token_endpoint_auth_signing_alg_values_supported includes neither RS384 nor ES384 (SMART App Launch 2.2.0 requires them)",
    ];
    assert_eq!(text, expected);
}

#[test]
fn clean_base_has_no_findings() {
    assert_eq!(from(base()).compliance_findings(), []);
}

#[test]
fn each_required_field_is_reported_in_order() {
    let m = from(json!({}));
    assert_eq!(
        messages(&m),
        [
            "SMART metadata non-compliance: required field 'grant_types_supported' is missing",
            "SMART metadata non-compliance: required field 'token_endpoint' is missing",
            "SMART metadata non-compliance: required field 'capabilities' is missing",
            "SMART metadata non-compliance: required field 'code_challenge_methods_supported' is missing",
            "SMART metadata non-compliance: 'S256' is missing from code_challenge_methods_supported (SMART App Launch 2.2.0 requires S256)",
        ]
    );
    for (key, value) in [
        ("grant_types_supported", json!([])),
        ("token_endpoint", json!("  ")),
        ("capabilities", json!(null)),
    ] {
        let m = with(key, value);
        assert_eq!(
            messages(&m),
            [format!(
                "SMART metadata non-compliance: required field '{key}' is missing"
            )]
        );
    }
}

#[test]
fn conditional_requirements() {
    let m = with("capabilities", json!(["sso-openid-connect"]));
    assert_eq!(
        messages(&m),
        [
            "SMART metadata non-compliance: required field 'issuer' is missing",
            "SMART metadata non-compliance: required field 'jwks_uri' is missing",
        ]
    );
    for cap in ["launch-ehr", "launch-standalone"] {
        let m = with("capabilities", json!([cap]));
        assert_eq!(
            messages(&m),
            ["SMART metadata non-compliance: required field 'authorization_endpoint' is missing"]
        );
    }
}

#[test]
fn pkce_rules() {
    let plain_only = with("code_challenge_methods_supported", json!(["plain"]));
    assert_eq!(plain_only.compliance_findings().len(), 2);
    let both = with("code_challenge_methods_supported", json!(["S256", "plain"]));
    assert_eq!(
        messages(&both),
        [
            "SMART metadata non-compliance: 'plain' is present in code_challenge_methods_supported (SMART App Launch 2.2.0 prohibits plain)"
        ]
    );
    let empty = with("code_challenge_methods_supported", json!([]));
    assert_eq!(empty.compliance_findings().len(), 2);
}

#[test]
fn wrong_types_are_absent_and_reported_once() {
    let m = with("capabilities", json!(["launch-ehr", 5]));
    assert!(m.capabilities.is_empty());
    assert!(!m.supports_public_auth());
    let f = m.compliance_findings();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].field.as_deref(), Some("capabilities"));
    assert!(
        f[0].message
            .contains("(array; expected an array of strings)")
    );

    let m = with("token_endpoint", json!(42));
    assert_eq!(m.token_endpoint, None);
    assert_eq!(m.compliance_findings().len(), 1);
    assert!(m.require_token_endpoint(DISCOVERY_URL).is_err());

    for bad in [
        json!({"url": 1}),
        json!("https://x"),
        json!({"capabilities": []}),
    ] {
        let m = with("associated_endpoints", json!([bad]));
        assert!(m.associated_endpoints.is_empty());
        assert_eq!(m.compliance_findings().len(), 1);
    }
}

#[test]
fn url_rules() {
    let cases = [
        ("https://ehr.example/reg", None),
        ("http://localhost:8080/reg", Some(Severity::Warning)),
        ("http://127.0.0.2/reg", Some(Severity::Warning)),
        ("http://[::1]/reg", Some(Severity::Warning)),
        ("http://ehr.example/reg", Some(Severity::Error)),
        ("ftp://ehr.example/reg", Some(Severity::Error)),
        // Resolved against the FHIR base (SMART: clients SHOULD), reported as a warning.
        ("/relative/reg", Some(Severity::Warning)),
        ("relative/reg", Some(Severity::Warning)),
        ("//other.example/reg", Some(Severity::Warning)),
        ("not a url", Some(Severity::Error)),
        ("mailto:a@b.example", Some(Severity::Error)),
    ];
    for (url, expected) in cases {
        let m = with("registration_endpoint", json!(url));
        let f = m.compliance_findings();
        assert_eq!(f.first().map(|f| f.severity), expected, "{url}");
        assert!(f.len() <= 1);
        if let Some(f) = f.first() {
            assert_eq!(f.field.as_deref(), Some("registration_endpoint"));
        }
    }
    let m = with(
        "associated_endpoints",
        json!([{"url": "https://ok.example"}, {"url": "http://bad.example", "capabilities": []}]),
    );
    let f = m.compliance_findings();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].field.as_deref(), Some("associated_endpoints[1].url"));
}

#[test]
fn asymmetric_rules() {
    let mut doc = base();
    let o = doc.as_object_mut().unwrap();
    o.insert(
        "capabilities".into(),
        json!(["client-confidential-asymmetric"]),
    );
    o.insert(
        "token_endpoint_auth_methods_supported".into(),
        json!(["client_secret_basic"]),
    );
    o.insert(
        "token_endpoint_auth_signing_alg_values_supported".into(),
        json!(["RS256"]),
    );
    let m = from(doc);
    let f = m.compliance_findings();
    assert_eq!(f.len(), 2);
    assert_eq!(
        f[0].field.as_deref(),
        Some("token_endpoint_auth_methods_supported")
    );
    assert_eq!(
        f[1].field.as_deref(),
        Some("token_endpoint_auth_signing_alg_values_supported")
    );
}

#[test]
fn predicate_table() {
    // ehr / standalone need both the capability and an authorization endpoint.
    for (caps, auth, ehr, standalone) in [
        (json!(["launch-ehr"]), Some("https://a/auth"), true, false),
        (json!(["launch-ehr"]), None, false, false),
        (json!(["launch-ehr"]), Some(" "), false, false),
        (
            json!(["launch-standalone"]),
            Some("https://a/auth"),
            false,
            true,
        ),
        (json!(["launch-standalone"]), None, false, false),
        (json!([]), Some("https://a/auth"), false, false),
    ] {
        let mut doc = json!({"capabilities": caps});
        if let Some(a) = auth {
            doc["authorization_endpoint"] = json!(a);
        }
        let m = from(doc);
        assert_eq!(m.supports_ehr_launch(), ehr);
        assert_eq!(m.supports_standalone_launch(), standalone);
    }

    assert!(from(json!({"capabilities": ["client-public"]})).supports_public_auth());
    assert!(
        !from(json!({"capabilities": ["client-confidential-symmetric"]})).supports_public_auth()
    );
    assert!(!from(json!({"capabilities": "client-public"})).supports_public_auth());

    // symmetric: blank methods or client_secret_basic.
    for (methods, expected) in [
        (json!(null), true),
        (json!([]), true),
        (json!(["client_secret_basic"]), true),
        (json!(["client_secret_post"]), false),
    ] {
        let m = from(
            json!({"capabilities": ["client-confidential-symmetric"], "token_endpoint_auth_methods_supported": methods}),
        );
        assert_eq!(m.supports_symmetric_auth(), expected, "{methods}");
    }
    assert!(!from(json!({"capabilities": ["client-public"]})).supports_symmetric_auth());

    // asymmetric: methods and algorithms.
    for (methods, algs, expected) in [
        (json!(null), json!(null), true),
        (json!(["private_key_jwt"]), json!(["ES384"]), true),
        (json!(["private_key_jwt"]), json!(["RS256"]), false),
        (json!(["private_key_jwt"]), json!(["RS256", "ES256"]), false),
        (json!(["client_secret_basic"]), json!(["RS384"]), false),
        (json!([]), json!(["RS384"]), true),
    ] {
        let m = from(json!({
            "capabilities": ["client-confidential-asymmetric"],
            "token_endpoint_auth_methods_supported": methods,
            "token_endpoint_auth_signing_alg_values_supported": algs,
        }));
        assert_eq!(m.supports_asymmetric_auth(), expected, "{methods} {algs}");
    }
    assert!(!from(json!({"capabilities": ["client-public"]})).supports_asymmetric_auth());

    // algorithm list: server order, deduplicated, both when absent.
    for (algs, expected) in [
        (json!(null), vec!["RS384", "ES384"]),
        (json!([]), vec!["RS384", "ES384"]),
        (json!(["ES384", "RS384"]), vec!["ES384", "RS384"]),
        (json!(["RS256", "ES384", "ES384", "rs384"]), vec!["ES384"]),
        (json!(["RS256"]), vec![]),
    ] {
        let m = from(json!({"token_endpoint_auth_signing_alg_values_supported": algs}));
        assert_eq!(m.asymmetric_signing_algorithms_supported(), expected);
    }

    // backend services: client_credentials and asymmetric auth.
    let asym = json!(["client-confidential-asymmetric"]);
    for (grants, caps, expected) in [
        (json!(["client_credentials"]), asym.clone(), true),
        (json!(["authorization_code"]), asym.clone(), false),
        (json!(null), asym.clone(), false),
        (
            json!(["client_credentials"]),
            json!(["client-public"]),
            false,
        ),
    ] {
        let m = from(json!({"grant_types_supported": grants, "capabilities": caps}));
        assert_eq!(m.supports_backend_services(), expected);
    }
    let rs256 = from(json!({
        "grant_types_supported": ["client_credentials"],
        "capabilities": ["client-confidential-asymmetric"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
    }));
    assert!(!rs256.supports_backend_services());

    assert!(
        from(json!({"registration_endpoint": "https://a/reg"})).supports_dynamic_registration()
    );
    assert!(!from(json!({"registration_endpoint": ""})).supports_dynamic_registration());
    assert!(!from(json!({})).supports_dynamic_registration());

    assert!(from(json!({"capabilities": ["authorize-post"]})).supports_post_based_authorization());
    assert!(!from(json!({"capabilities": ["launch-ehr"]})).supports_post_based_authorization());

    let oidc = json!({"capabilities": ["sso-openid-connect"], "issuer": "https://a", "jwks_uri": "https://a/jwks"});
    assert!(from(oidc.clone()).supports_openid_connect());
    let mut no_jwks = oidc.clone();
    no_jwks.as_object_mut().unwrap().remove("jwks_uri");
    assert!(!from(no_jwks).supports_openid_connect());
    let mut no_issuer = oidc.clone();
    no_issuer.as_object_mut().unwrap().remove("issuer");
    assert!(!from(no_issuer).supports_openid_connect());
    let mut no_cap = oidc;
    no_cap["capabilities"] = json!([]);
    assert!(!from(no_cap).supports_openid_connect());

    let m = from(json!({"capabilities": ["permission-v2"]}));
    assert!(m.has_capability("permission-v2"));
    assert!(!m.has_capability("permission-v1"));
    assert!(!m.has_capability("permission"));
}

#[test]
fn response_errors() {
    let err = SmartMetadata::from_response(DISCOVERY_URL, 500, b"<html>oops</html>").unwrap_err();
    assert_eq!(err.status, Some(500));
    assert_eq!(err.description, None);
    for body in crate::json::unusable_bodies() {
        let err = SmartMetadata::from_response(DISCOVERY_URL, 200, &body).unwrap_err();
        assert_eq!(
            err.description.as_deref(),
            Some("response is not a usable JSON object")
        );
    }
    let ok = SmartMetadata::from_response(DISCOVERY_URL, 200, b"{}").unwrap();
    assert_eq!(
        ok.require_token_endpoint(DISCOVERY_URL)
            .unwrap_err()
            .to_string(),
        format!(
            "Failed to discover SMART configuration from {DISCOVERY_URL}: response missing required field 'token_endpoint'"
        )
    );
    let m = meta(SPEC_EXAMPLE);
    assert_eq!(
        m.require_token_endpoint(DISCOVERY_URL).unwrap(),
        "https://ehr.example.com/auth/token"
    );
}

#[test]
fn serde_round_trip_keeps_everything() {
    for doc in [SPEC_EXAMPLE, OIDC_PROVIDER, SLOPPY, "{}"] {
        let m = meta(doc);
        let json = serde_json::to_string(&m).unwrap();
        let back: SmartMetadata = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.compliance_findings(), m.compliance_findings());
        // The serialized form is the server's document again (minus nulls).
        let original: serde_json::Value = serde_json::from_str(doc).unwrap();
        let reserialized: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(original, reserialized);
    }
}

#[test]
fn every_declared_member_is_known() {
    assert_eq!(Members::FIELDS.len(), 18);
    for (name, _) in Members::FIELDS {
        let m: Members = from_body(format!(r#"{{"{name}":7,"x-vendor":1}}"#).as_bytes()).unwrap();
        assert_eq!(m.sent_names(), [*name, "x-vendor"]);
        assert_eq!(m.extra.keys().collect::<Vec<_>>(), ["x-vendor"]);
    }
}

#[test]
fn property_body_parse_same_as_map_parse() {
    let mut g = crate::json::testgen::Gen::new(23);
    for round in 0..3000 {
        let mut map = g.object(3);
        for _ in 0..(g.next() % 12) {
            let name = Members::FIELDS[(g.next() % 18) as usize].0;
            let value = match g.next() % 4 {
                0 => json!(["S256", "launch-ehr"]),
                1 => json!([{"url": "https://a.example", "capabilities": ["x"]}, {"url": 1}]),
                _ => g.value(3),
            };
            map.insert(name.to_owned(), value);
        }
        let mut body = serde_json::to_vec(&Value::Object(map)).unwrap();
        if round % 7 == 0 && !body.is_empty() {
            let i = (g.next() % body.len() as u64) as usize;
            body[i] = g.next() as u8;
        }
        let via_map = crate::json::parse_object(&body).map(SmartMetadata::from_json_object);
        assert_eq!(SmartMetadata::from_body(&body), via_map);
        if let Some(m) = via_map {
            assert_eq!(
                SmartMetadata::from_response(DISCOVERY_URL, 200, &body).unwrap(),
                m
            );
        }
    }
    let dup = br#"{"issuer":1,"issuer":"https://a","capabilities":null,"scopes_supported":["a",2],"x":null}"#;
    let m = SmartMetadata::from_body(dup).unwrap();
    assert_eq!(m.issuer.as_deref(), Some("https://a"));
    assert_eq!(
        m.extra.keys().collect::<Vec<_>>(),
        ["scopes_supported", "x"]
    );
}

#[test]
fn property_no_panic_and_round_trip() {
    let mut g = crate::json::testgen::Gen::new(11);
    for _ in 0..4000 {
        let body = g.body(&["token_endpoint", "issuer"]);
        if let Ok(m) = SmartMetadata::from_response(DISCOVERY_URL, 200, &body) {
            let json = serde_json::to_vec(&m).unwrap();
            let back: SmartMetadata = serde_json::from_slice(&json).unwrap();
            assert_eq!(back, m);
            assert!(m.compliance_findings().len() <= crate::finding::MAX_FINDINGS + 1);
            let _ = (m.supports_backend_services(), m.supports_openid_connect());
        }
    }
}
