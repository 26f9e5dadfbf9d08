//! Authorize endpoint errors: when it must not redirect, which errors it
//! redirects back, and deny mode.

use super::*;

#[test]
fn authorize_never_redirects_for_unknown_client_or_redirect_uri() {
    let sb = start();
    let id = sb.clients().public.client_id.clone();
    let (_, ch) = pkce("x");
    let base = auth_params(&sb, &id, "patient/*.rs", &ch);
    assert_no_redirect(&authorize(
        &sb,
        &with(&[("client_id", "unknown")], base.clone()),
    ));
    assert_no_redirect(&authorize(&sb, &with(&[("client_id", "")], base.clone())));
    assert_no_redirect(&authorize(
        &sb,
        &with(
            &[("redirect_uri", "http://127.0.0.1/callback/")],
            base.clone(),
        ),
    ));
    assert_no_redirect(&authorize(
        &sb,
        &with(&[("redirect_uri", "https://evil.example/cb")], base.clone()),
    ));
    assert_no_redirect(&authorize(
        &sb,
        &with(&[("redirect_uri", "")], base.clone()),
    ));
    // The backend client has no redirect URI at all.
    let backend = sb.clients().backend.client_id.clone();
    assert_no_redirect(&authorize(&sb, &with(&[("client_id", &backend)], base)));
}

#[test]
fn authorize_redirected_errors() {
    let sb = Sandbox::builder()
        .register_client(ClientRegistration {
            grant_types: vec!["client_credentials".into()],
            redirect_uris: vec![CB.into()],
            ..ClientRegistration::backend("cc-only", sb_jwks(), "system/*.rs")
        })
        .start()
        .unwrap();
    let id = sb.clients().public.client_id.clone();
    let (_, ch) = pkce("x");
    let base = auth_params(&sb, &id, "patient/*.rs", &ch);
    let cases: &[(&[(&'static str, &'static str)], &str)] = &[
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("response_type", "")], "invalid_request"),
        (&[("aud", "")], "invalid_request"),
        (&[("aud", "https://other.example/fhir")], "invalid_request"),
        (&[("code_challenge", "")], "invalid_request"),
        (&[("code_challenge_method", "")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge", "too-short")], "invalid_request"),
        (&[("scope", "")], "invalid_request"),
        (&[("scope", "system/*.rs")], "invalid_scope"),
        (&[("scope", "patient/*.sr")], "invalid_scope"),
        (&[("scope", "superpowers")], "invalid_scope"),
        (&[("client_id", "cc-only")], "unauthorized_client"),
    ];
    for (change, expected) in cases {
        let r = authorize(&sb, &with(change, base.clone()));
        assert_redirect_error(&sb, &r, expected);
        assert_eq!(
            r.location_param("state").as_deref(),
            Some("st-1"),
            "{change:?}"
        );
    }
    // aud with a trailing slash is not "exactly" the base URL.
    let aud = format!("{}/", sb.fhir_base_url());
    assert_redirect_error(
        &sb,
        &authorize(&sb, &with(&[("aud", &aud)], base.clone())),
        "invalid_request",
    );
    // Missing state: invalid_request, and no state echoed.
    let r = authorize(&sb, &with(&[("state", "")], base.clone()));
    assert_redirect_error(&sb, &r, "invalid_request");
    assert!(r.location_param("state").is_none());
    // Repeated parameter.
    let mut dup = base.clone();
    dup.push(("scope", "user/*.rs"));
    assert_redirect_error(&sb, &authorize(&sb, &dup), "invalid_request");
    // Deny mode, toggled at runtime.
    sb.set_deny(true);
    assert_redirect_error(&sb, &authorize(&sb, &base), "access_denied");
    sb.set_deny(false);
    assert_eq!(authorize(&sb, &base).location_param("error"), None);
}

#[test]
fn deny_mode_from_builder() {
    let sb = Sandbox::builder().deny_authorization(true).start().unwrap();
    let id = sb.clients().public.client_id.clone();
    let (_, ch) = pkce("d");
    let r = authorize(&sb, &auth_params(&sb, &id, "patient/*.rs", &ch));
    assert_redirect_error(&sb, &r, "access_denied");
    assert_eq!(r.location_param("state").as_deref(), Some("st-1"));
}
