//! Dynamic client registration, open and behind an initial access token.

use super::*;

/// A 1024-bit modulus-shaped value (the size check comes first).
fn rsa_1024_n() -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let mut n = [0xC1u8; 128];
    n[127] = 0xC3;
    Base64UrlUnpadded::encode_string(&n)
}

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
