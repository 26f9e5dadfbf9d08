//! Sandbox-flow helpers shared by the newer test files: every step is a raw
//! HTTP request built by hand.

use safire_sandbox::{ClientInfo, DEFAULT_REDIRECT_URI, Endpoint, Sandbox};
use serde_json::{Value, json};

use super::*;

pub const CB: &str = DEFAULT_REDIRECT_URI;

/// GET the authorize endpoint with these parameters.
pub fn authorize(sb: &Sandbox, params: &[(&str, &str)]) -> HttpResp {
    let target = format!("{}?{}", path_of(&sb.authorize_url()), form(params));
    http(sb.local_addr(), "GET", &target, &[], b"")
}

/// POST the authorize endpoint with these parameters as a form.
pub fn authorize_post(sb: &Sandbox, params: &[(&str, &str)]) -> HttpResp {
    http(
        sb.local_addr(),
        "POST",
        &path_of(&sb.authorize_url()),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form(params).as_bytes(),
    )
}

/// The `launch` parameter of an EHR launch URL (as [`Sandbox::ehr_launch`] returns).
pub fn launch_param(url: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "launch")
        .unwrap()
        .1
        .to_string()
}

/// Standalone-launch authorize parameters (`state` = `st-1`).
pub fn auth_params<'a>(
    sb: &'a Sandbox,
    client_id: &'a str,
    scope: &'a str,
    challenge: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CB),
        ("scope", scope),
        ("state", "st-1"),
        ("aud", sb.fhir_base_url()),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// Authorize `client_id` for `scope`; returns (code, verifier).
pub fn code_for(sb: &Sandbox, client_id: &str, scope: &str) -> (String, String) {
    let (verifier, challenge) = pkce(&format!("{client_id}{scope}{}", sb.now()));
    let r = authorize(sb, &auth_params(sb, client_id, scope, &challenge));
    assert_eq!(r.status, 302, "{}", r.body);
    let code = r
        .location_param("code")
        .unwrap_or_else(|| panic!("no code: {:?}", r.header("location")));
    (code, verifier)
}

/// Code exchange: the code, the redirect URI and the verifier, then `auth_params` (client
/// authentication in the body) and `basic` (an `Authorization` header).
pub fn code_exchange(
    sb: &Sandbox,
    code: &str,
    verifier: &str,
    auth_params: &[(&str, &str)],
    basic: Option<&str>,
) -> HttpResp {
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CB),
        ("code_verifier", verifier),
    ];
    post_form(
        sb.local_addr(),
        &sb.token_url(),
        &[&exchange[..], auth_params].concat(),
        basic,
    )
}

/// Code exchange for a public client.
pub fn exchange(sb: &Sandbox, client_id: &str, code: &str, verifier: &str) -> HttpResp {
    code_exchange(sb, code, verifier, &[("client_id", client_id)], None)
}

/// Code exchange for a `client_secret_basic` client.
pub fn exchange_basic(sb: &Sandbox, code: &str, verifier: &str, auth: &str) -> HttpResp {
    code_exchange(sb, code, verifier, &[], Some(auth))
}

/// Code exchange for a `private_key_jwt` client presenting `assertion`.
pub fn exchange_asserted(sb: &Sandbox, code: &str, verifier: &str, assertion: &str) -> HttpResp {
    let auth = [
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    code_exchange(sb, code, verifier, &auth, None)
}

/// `client_credentials` for `scope`, the client authenticated by the JWT `assertion`.
pub fn client_credentials(sb: &Sandbox, scope: &str, assertion: &str) -> HttpResp {
    post_form(
        sb.local_addr(),
        &sb.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
        ],
        None,
    )
}

/// Backend-services token for `scope`: `client` signs a fresh assertion with this `jti`.
pub fn backend_token(sb: &Sandbox, client: &ClientInfo, scope: &str, jti: &str) -> HttpResp {
    client_credentials(sb, scope, &assertion(sb, client, jti))
}

/// GET the sandbox's EHR launcher for `client_id` (`context`: the patient, encounter …
/// to launch with).
pub fn launcher(
    sb: &Sandbox,
    client_id: &str,
    launch_uri: &str,
    context: &[(&str, &str)],
) -> HttpResp {
    let app = [("client_id", client_id), ("launch_uri", launch_uri)];
    let query = form(&[&app[..], context].concat());
    get(
        sb.local_addr(),
        &format!("{}?{query}", sb.url(Endpoint::Launch)),
    )
}

/// An EHR launch of `client_id` through the launcher; returns the `launch` value.
pub fn ehr_launch(
    sb: &Sandbox,
    client_id: &str,
    launch_uri: &str,
    context: &[(&str, &str)],
) -> String {
    let r = launcher(sb, client_id, launch_uri, context);
    r.location_param("launch").expect("launch value")
}

/// Refresh for a public client.
pub fn refresh(sb: &Sandbox, client_id: &str, refresh_token: &str) -> HttpResp {
    post_form(
        sb.local_addr(),
        &sb.token_url(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ],
        None,
    )
}

/// Public-client token for `scope` (standalone launch, full flow).
pub fn public_token(sb: &Sandbox, scope: &str) -> Value {
    let id = sb.clients().public.client_id.clone();
    let (code, verifier) = code_for(sb, &id, scope);
    let r = exchange(sb, &id, &code, &verifier);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Basic credentials of the pre-registered symmetric client (RFC 6749 encoding).
pub fn symmetric_basic(sb: &Sandbox) -> String {
    let c = &sb.clients().symmetric;
    basic(&c.client_id, c.client_secret.as_deref().unwrap_or_default())
}

/// Introspect as the symmetric client.
pub fn introspect(sb: &Sandbox, token: &str) -> Value {
    let r = post_form(
        sb.local_addr(),
        &sb.url(Endpoint::Introspect),
        &[("token", token)],
        Some(&symmetric_basic(sb)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// A fresh ES384 client assertion for `client` (`typ: JWT`).
pub fn assertion(sb: &Sandbox, client: &ClientInfo, jti: &str) -> String {
    assertion_with_header(
        sb,
        client,
        jti,
        json!({"alg": "ES384", "kid": client.kid, "typ": "JWT"}),
    )
}

/// A fresh ES384 client assertion with this JWS header.
pub fn assertion_with_header(
    sb: &Sandbox,
    client: &ClientInfo,
    jti: &str,
    header: Value,
) -> String {
    let now = sb.now();
    sign_es384(
        client.private_key_pem.as_deref().unwrap_or_default(),
        &header,
        &json!({"iss": client.client_id, "sub": client.client_id, "aud": sb.token_url(),
                "exp": now + 120, "iat": now, "jti": jti}),
    )
}

/// POST JSON to the registration endpoint.
pub fn register(sb: &Sandbox, body: &Value) -> HttpResp {
    http(
        sb.local_addr(),
        "POST",
        &path_of(&sb.url(Endpoint::Register)),
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

/// GET with a bearer token.
pub fn get_bearer(sb: &Sandbox, url: &str, token: &str) -> HttpResp {
    let auth = format!("Bearer {token}");
    http(
        sb.local_addr(),
        "GET",
        &path_of(url),
        &[("Authorization", &auth)],
        b"",
    )
}
