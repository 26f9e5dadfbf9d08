//! Discovery: what `.well-known/smart-configuration` advertises.

use super::*;

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
