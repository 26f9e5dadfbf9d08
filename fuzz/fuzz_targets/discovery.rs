//! `discovery::parse_discovery_response`: any status, any body.
//!
//! Input: optional `"<status>\n"` line (default 200), then the body.
//! Invariants:
//! - non-2xx ⇒ Err with that status; Err always names the endpoint without its query;
//! - `SmartMetadata::from_response` agrees with `parse_discovery_response`;
//! - on Ok: `compliance_findings()` and every predicate run; predicates are consistent with
//!   each other and with the typed fields; serde round trip is the identity, and serializing
//!   then parsing as a discovery response again gives the same metadata;
//! - every wrong-typed known field left in `extra` is reported by a finding;
//! - every endpoint resolves (`ServerEndpoint::resolve`, relative URLs against the FHIR base)
//!   to an https URL without userinfo, or fails without panicking.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use safire_core::SmartMetadata;
use safire_core::protocol::parse_discovery_response;

const URL: &str = "https://ehr.example/fhir/.well-known/smart-configuration?q=secret-query";

fn response(status: u16, body: &[u8]) -> safire_core::http::Response<Vec<u8>> {
    safire_core::http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .unwrap()
}

fn check_metadata(meta: &SmartMetadata) {
    let findings = meta.compliance_findings();
    for f in &findings {
        assert!(!f.message.is_empty());
        let _ = f.to_string();
    }
    let algs = meta.asymmetric_signing_algorithms_supported();
    assert!(
        algs.iter().all(|a| *a == "RS384" || *a == "ES384"),
        "{algs:?}"
    );
    assert!(
        algs.len() <= 2 && !(algs.len() == 2 && algs[0] == algs[1]),
        "{algs:?}"
    );
    let present = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());

    assert_eq!(
        meta.supports_ehr_launch(),
        meta.has_capability("launch-ehr") && present(&meta.authorization_endpoint)
    );
    assert_eq!(
        meta.supports_standalone_launch(),
        meta.has_capability("launch-standalone") && present(&meta.authorization_endpoint)
    );
    assert_eq!(
        meta.supports_public_auth(),
        meta.has_capability("client-public")
    );
    if meta.supports_symmetric_auth() {
        assert!(meta.has_capability("client-confidential-symmetric"));
    }
    if meta.supports_asymmetric_auth() {
        assert!(meta.has_capability("client-confidential-asymmetric"));
        assert!(!algs.is_empty());
    }
    if meta.supports_backend_services() {
        assert!(meta.supports_asymmetric_auth());
        assert!(
            meta.grant_types_supported
                .iter()
                .any(|g| g == "client_credentials")
        );
    }
    assert_eq!(
        meta.supports_dynamic_registration(),
        present(&meta.registration_endpoint)
    );
    assert_eq!(
        meta.supports_post_based_authorization(),
        meta.has_capability("authorize-post")
    );
    if meta.supports_openid_connect() {
        assert!(present(&meta.issuer) && present(&meta.jwks_uri));
    }
    match meta.require_token_endpoint(URL) {
        Ok(t) => assert_eq!(Some(t), meta.token_endpoint.as_deref()),
        Err(e) => {
            assert!(!present(&meta.token_endpoint));
            assert!(!e.to_string().contains("secret-query"));
        }
    }

    // Every discovered endpoint resolves (relative ones against the FHIR base) to an https
    // URL without userinfo, or is refused with an error that does not echo userinfo.
    let config = safire_core::ClientConfig::builder("https://ehr.example/fhir")
        .build()
        .unwrap();
    for endpoint in [
        safire_core::ServerEndpoint::Authorization,
        safire_core::ServerEndpoint::Token,
        safire_core::ServerEndpoint::Registration,
        safire_core::ServerEndpoint::Introspection,
        safire_core::ServerEndpoint::Revocation,
        safire_core::ServerEndpoint::Jwks,
    ] {
        match endpoint.resolve(&config, Some(meta)) {
            Ok(url) => {
                let parsed = url::Url::parse(&url).expect("a resolved endpoint parses");
                assert_eq!(parsed.scheme(), "https", "{url}");
                assert!(parsed.username().is_empty() && parsed.password().is_none());
            }
            Err(e) => {
                let _ = format!("{e} {e:?}");
            }
        }
    }

    // Known fields never sit in `extra` unless they had the wrong type, and then a finding
    // names them.
    for (name, value) in &meta.extra {
        if value.is_null() {
            continue;
        }
        let known = [
            "issuer",
            "jwks_uri",
            "authorization_endpoint",
            "grant_types_supported",
            "token_endpoint",
            "token_endpoint_auth_methods_supported",
            "token_endpoint_auth_signing_alg_values_supported",
            "registration_endpoint",
            "associated_endpoints",
            "user_access_brand_bundle",
            "user_access_brand_identifier",
            "scopes_supported",
            "response_types_supported",
            "management_endpoint",
            "introspection_endpoint",
            "revocation_endpoint",
            "capabilities",
            "code_challenge_methods_supported",
        ];
        if known.contains(&name.as_str()) {
            assert!(
                findings
                    .iter()
                    .any(|f| f.is_error() && f.field.as_deref() == Some(name.as_str())),
                "wrong-typed {name} in extra without a finding"
            );
        }
    }

    // Serde round trip (session/cache storage).
    let bytes = serde_json::to_vec(meta).unwrap();
    let back: SmartMetadata = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(&back, meta, "serde round trip");
    // The serialized form is a discovery document that parses back to the same metadata.
    let again = parse_discovery_response(URL, response(200, &bytes)).unwrap();
    assert_eq!(&again, meta, "serialized form re-parsed");
    let _ = format!("{meta:?}");
}

fuzz_target!(|data: &[u8]| {
    let (status, body) = common::split_status(data, 200);
    if !(100..=999).contains(&status) {
        return; // not representable as an http::StatusCode
    }
    let result = parse_discovery_response(URL, response(status, body));
    let twin = SmartMetadata::from_response(URL, status, body);
    assert_eq!(
        result, twin,
        "from_response disagrees with parse_discovery_response"
    );
    match result {
        Ok(meta) => {
            assert!((200..300).contains(&status));
            check_metadata(&meta);
        }
        Err(e) => {
            assert_eq!(e.status, Some(status));
            let text = e.to_string();
            assert!(text.contains("https://ehr.example/fhir/.well-known/smart-configuration"));
            assert!(!text.contains("secret-query"), "{text}");
        }
    }
});
