//! Token endpoint rules and errors (request shape, client authentication,
//! authorization code, refresh, client credentials) and token introspection.

use super::*;

#[test]
fn token_request_shape_errors() {
    let sb = start();
    let addr = sb.local_addr();
    let url = sb.token_url();
    let id = sb.clients().public.client_id.clone();
    let get = http(addr, "GET", &path_of(&url), &[], b"");
    assert_eq!(get.status, 405);
    let json_body = http(
        addr,
        "POST",
        &path_of(&url),
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(json_body.error(), "invalid_request");
    let r = post_form(addr, &url, &[("client_id", &id)], None);
    assert_eq!(r.error(), "invalid_request");
    let r = post_form(
        addr,
        &url,
        &[("grant_type", "password"), ("client_id", &id)],
        None,
    );
    assert_eq!(r.error(), "unsupported_grant_type");
    let r = post_form(
        addr,
        &url,
        &[
            ("grant_type", "authorization_code"),
            ("grant_type", "refresh_token"),
            ("client_id", &id),
        ],
        None,
    );
    assert_eq!(r.error(), "invalid_request");
    let r = post_form(
        addr,
        &format!("{url}?code=abc"),
        &[("grant_type", "authorization_code"), ("client_id", &id)],
        None,
    );
    assert_eq!(r.error(), "invalid_request");
    let r = post_form(
        addr,
        &url,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("code", "x"),
            ("redirect_uri", CB),
        ],
        None,
    );
    assert_eq!(r.error(), "invalid_request", "missing code_verifier");
}

#[test]
fn client_authentication_failures() {
    let sb = start();
    let addr = sb.local_addr();
    let url = sb.token_url();
    let public = sb.clients().public.client_id.clone();
    let sym = sb.clients().symmetric.clone();
    let code_req = |extra: &[(&str, &str)], auth: Option<&str>| {
        let mut p = vec![
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("redirect_uri", CB),
            ("code_verifier", "v"),
        ];
        p.extend_from_slice(extra);
        post_form(addr, &url, &p, auth)
    };
    // No authentication at all.
    let r = code_req(&[], None);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    // Unknown client id.
    let r = code_req(&[("client_id", "nobody")], None);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    // Public client sending a secret.
    let r = code_req(&[("client_id", &public), ("client_secret", "x")], None);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    // Confidential client pretending to be public.
    let r = code_req(&[("client_id", &sym.client_id)], None);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    assert!(r.header("www-authenticate").is_some());
    // client_secret_post is not supported.
    let secret = sym.client_secret.clone().unwrap();
    let r = code_req(
        &[("client_id", &sym.client_id), ("client_secret", &secret)],
        None,
    );
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    // Basic for a public client (no secret registered).
    let r = code_req(&[], Some(&basic(&public, "x")));
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    // Garbage Basic.
    let r = code_req(&[], Some("Basic %%%"));
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    // Two methods at once.
    let r = code_req(
        &[
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", "a.b.c"),
        ],
        Some(&symmetric_basic(&sb)),
    );
    assert_eq!(r.error(), "invalid_request");
    // Basic with a mismatching body client_id.
    let r = code_req(&[("client_id", &public)], Some(&symmetric_basic(&sb)));
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));

    // private_key_jwt problems.
    let asserted = |a: &str| {
        code_req(
            &[
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", a),
            ],
            None,
        )
    };
    let asym = sb.clients().asymmetric.clone();
    let good = assertion(&sb, &asym, "j-1");
    let r = code_req(
        &[
            ("client_assertion_type", "urn:wrong"),
            ("client_assertion", &good),
        ],
        None,
    );
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    let r = asserted("not-a-jwt");
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    let now = sb.now();
    let pem = asym.private_key_pem.as_deref().unwrap();
    let claims = json!({"iss": asym.client_id, "sub": asym.client_id, "aud": sb.token_url(), "exp": now + 60, "jti": "j-2"});
    for header in [
        json!({"alg": "ES384", "kid": "unknown-kid"}),
        json!({"alg": "ES384"}),
        json!({"alg": "RS384", "kid": asym.kid}),
    ] {
        let a = sign_es384(pem, &header, &claims);
        let r = asserted(&a);
        assert_eq!(
            (r.status, r.error().as_str()),
            (401, "invalid_client"),
            "{header}"
        );
    }
    // Missing exp / missing jti.
    for drop in ["exp", "jti"] {
        let mut c = claims.clone();
        c.as_object_mut().unwrap().remove(drop);
        let a = sign_es384(pem, &json!({"alg": "ES384", "kid": asym.kid}), &c);
        let r = asserted(&a);
        assert_eq!(
            (r.status, r.error().as_str()),
            (401, "invalid_client"),
            "without {drop}"
        );
    }
    // Signed by a key the client did not register (backend client's key, asym's kid).
    let other = sign_es384(
        sb.clients().backend.private_key_pem.as_deref().unwrap(),
        &json!({"alg": "ES384", "kid": asym.kid}),
        &claims,
    );
    let r = asserted(&other);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    // A valid assertion authenticates; the grant then fails on the bogus code,
    // and the jti is burned: replay is invalid_client.
    let r = asserted(&good);
    assert_eq!(r.error(), "invalid_grant");
    let r = asserted(&good);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
}

#[test]
fn authorization_code_rules() {
    let sb = start();
    let id = sb.clients().public.client_id.clone();
    let scope = "patient/*.rs offline_access";

    // Single use; replay revokes the tokens issued from the code.
    let (code, verifier) = code_for(&sb, &id, scope);
    let first = exchange(&sb, &id, &code, &verifier).json();
    let access = first["access_token"].as_str().unwrap().to_string();
    let refresh = first["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(introspect(&sb, &access)["active"], true);
    let replay = exchange(&sb, &id, &code, &verifier);
    assert_eq!(
        (replay.status, replay.error().as_str()),
        (400, "invalid_grant")
    );
    assert_eq!(introspect(&sb, &access)["active"], false);
    assert_eq!(introspect(&sb, &refresh)["active"], false);

    // Wrong verifier, malformed verifier, wrong redirect_uri, other client, unknown code.
    let (code, _) = code_for(&sb, &id, scope);
    let (wrong, _) = pkce("another");
    assert_eq!(exchange(&sb, &id, &code, &wrong).error(), "invalid_grant");
    let (code, _) = code_for(&sb, &id, scope);
    assert_eq!(exchange(&sb, &id, &code, "short").error(), "invalid_grant");
    let (code, verifier) = code_for(&sb, &id, scope);
    let r = post_form(
        sb.local_addr(),
        &sb.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1/other"),
            ("code_verifier", &verifier),
            ("client_id", &id),
        ],
        None,
    );
    assert_eq!(r.error(), "invalid_grant");
    let (code, verifier) = code_for(&sb, &id, scope);
    let sym_id = sb.clients().symmetric.client_id.clone();
    let r = exchange_basic(&sb, &code, &verifier, &symmetric_basic(&sb));
    assert_eq!(
        r.error(),
        "invalid_grant",
        "code of {id} presented by {sym_id}"
    );
    assert_eq!(
        exchange(&sb, &id, "no-such-code", &verifier).error(),
        "invalid_grant"
    );

    // Codes expire after 60 s.
    let (code, verifier) = code_for(&sb, &id, scope);
    sb.advance_time(Duration::from_secs(61));
    assert_eq!(
        exchange(&sb, &id, &code, &verifier).error(),
        "invalid_grant"
    );
}

#[test]
fn refresh_token_rules() {
    let sb = start();
    let id = sb.clients().public.client_id.clone();
    let (code, verifier) = code_for(&sb, &id, "launch/patient patient/*.rs offline_access");
    let tok = exchange(&sb, &id, &code, &verifier).json();
    let refresh = tok["refresh_token"].as_str().unwrap().to_string();
    let refresh_req = |token: &str, scope: Option<&str>, client: &str| {
        let mut p = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", client),
        ];
        if let Some(s) = scope {
            p.push(("scope", s));
        }
        post_form(sb.local_addr(), &sb.token_url(), &p, None)
    };
    // Broader scope: invalid_scope (and the token stays usable).
    let r = refresh_req(&refresh, Some("patient/*.cruds"), &id);
    assert_eq!(r.error(), "invalid_scope");
    let r = refresh_req(&refresh, Some("user/*.rs"), &id);
    assert_eq!(r.error(), "invalid_scope");
    // Another client: invalid_grant.
    let r = post_form(
        sb.local_addr(),
        &sb.token_url(),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        Some(&symmetric_basic(&sb)),
    );
    assert_eq!(r.error(), "invalid_grant");
    // Narrower scope: fine.
    let r = refresh_req(&refresh, Some("patient/Observation.r"), &id);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["scope"], "patient/Observation.r");
    let next = r.json()["refresh_token"].as_str().unwrap().to_string();
    // The rotated-in token keeps the original grant's scope.
    let r = refresh_req(&next, None, &id);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["scope"],
        "launch/patient patient/*.rs offline_access"
    );
    // Unknown refresh token.
    assert_eq!(refresh_req("bogus", None, &id).error(), "invalid_grant");
}

#[test]
fn refresh_without_rotation_keeps_the_token() {
    let sb = Sandbox::builder()
        .refresh_token_rotation(false)
        .start()
        .unwrap();
    let id = sb.clients().public.client_id.clone();
    let (code, verifier) = code_for(&sb, &id, "patient/*.rs offline_access");
    let refresh = exchange(&sb, &id, &code, &verifier).json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        let r = flow::refresh(&sb, &id, &refresh);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["refresh_token"], refresh.as_str());
    }
}

#[test]
fn client_credentials_rules() {
    let sb = start();
    let backend = sb.clients().backend.clone();
    let r = backend_token(
        &sb,
        &backend,
        "system/Patient.rs system/Observation.read",
        "cc-1",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let t = r.json();
    assert!(t.get("refresh_token").is_none());
    assert!(t["expires_in"].as_u64().unwrap() <= 300);
    assert_eq!(
        introspect(&sb, t["access_token"].as_str().unwrap())["client_id"],
        backend.client_id.as_str()
    );

    assert_eq!(
        backend_token(&sb, &backend, "patient/*.rs", "cc-2").error(),
        "invalid_scope"
    );
    assert_eq!(
        backend_token(&sb, &backend, "system/Patient.cruds", "cc-3").error(),
        "invalid_scope"
    );
    assert_eq!(
        backend_token(&sb, &backend, "system/*.rs offline_access", "cc-4").error(),
        "invalid_scope"
    );
    // An asymmetric *app* client is not registered for client_credentials.
    let asym = sb.clients().asymmetric.clone();
    assert_eq!(
        backend_token(&sb, &asym, "system/*.rs", "cc-5").error(),
        "unauthorized_client"
    );
    // Symmetric and public clients never get client_credentials.
    let r = post_form(
        sb.local_addr(),
        &sb.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "system/*.rs"),
        ],
        Some(&symmetric_basic(&sb)),
    );
    assert_eq!(r.error(), "unauthorized_client");
    let public = sb.clients().public.client_id.clone();
    let r = post_form(
        sb.local_addr(),
        &sb.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "system/*.rs"),
            ("client_id", &public),
        ],
        None,
    );
    assert_eq!(r.error(), "unauthorized_client");
    // Backend client cannot use the authorization_code grant.
    let a = assertion(&sb, &backend, "cc-6");
    let r = exchange_asserted(&sb, "c", "v", &a);
    assert_eq!(r.error(), "unauthorized_client");
}

#[test]
fn introspection_rules() {
    let sb = start();
    assert_eq!(introspect(&sb, "unknown")["active"], false);
    let public = sb.clients().public.client_id.clone();
    let r = post_form(
        sb.local_addr(),
        &sb.url(Endpoint::Introspect),
        &[("token", "x"), ("client_id", &public)],
        None,
    );
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    let r = post_form(
        sb.local_addr(),
        &sb.url(Endpoint::Introspect),
        &[("token", "x")],
        None,
    );
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    let r = post_form(
        sb.local_addr(),
        &sb.url(Endpoint::Introspect),
        &[],
        Some(&symmetric_basic(&sb)),
    );
    assert_eq!(r.error(), "invalid_request");
    // Expired access tokens are inactive.
    let (code, verifier) = code_for(&sb, &public, "patient/*.rs");
    let access = exchange(&sb, &public, &code, &verifier).json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(introspect(&sb, &access)["active"], true);
    sb.advance_time(Duration::from_secs(3601));
    assert_eq!(introspect(&sb, &access)["active"], false);
}
