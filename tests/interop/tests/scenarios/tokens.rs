//! Token introspection and revocation.

use super::*;

// 10. Introspection and revocation: an active token, the same token revoked, a refresh token
//     revoked and refused afterwards.
pub(super) fn introspection_and_revocation<C: Client>() -> Outcome {
    let Some(op) = shared() else { return Ok(()) };
    let reg = register_app::<C>(op, "client_secret_basic", None)?;
    let secret = reg.client_secret.clone().expect("DCR returned a secret");
    let c: C = registered(op, &reg, ClientAuth::client_secret_basic(secret));
    assert!(c.server_metadata()?.introspection_endpoint.is_some());
    let (token, _) = launch(&c, AuthorizeParams::default())?;

    let active = c.introspect_token(
        token.access_token.clone(),
        Some(TokenTypeHint::AccessToken),
        CallOptions::new(),
    )?;
    assert!(active.active, "{active:?}");
    assert!(active.is_active_at(SystemTime::now()));
    assert_eq!(active.client_id.as_deref(), Some(reg.client_id.as_str()));
    assert!(active.scopes().any(|s| s == "patient/*.rs"), "{active:?}");
    assert_eq!(
        active.aud,
        [op.fhir_base_url()],
        "audience-restricted token"
    );
    assert_eq!(active.sub.as_deref(), Some(LOGIN));
    assert!(active.exp.is_some() && active.iat.is_some());
    assert!(
        active.findings.iter().all(|f| !f.is_error()),
        "{:?}",
        active.findings
    );

    let unknown = c.introspect_token(SecretString::new("not-a-token"), None, CallOptions::new())?;
    assert!(!unknown.active);

    // Revoke the access token: introspection now says inactive.
    c.revoke_token(
        token.access_token.clone(),
        Some(TokenTypeHint::AccessToken),
        CallOptions::new(),
    )?;
    let revoked = c.introspect_token(
        token.access_token.clone(),
        Some(TokenTypeHint::AccessToken),
        CallOptions::new(),
    )?;
    assert!(!revoked.active, "{revoked:?}");

    // (oidc-provider revokes the whole grant with the access token.) Another launch: its
    // refresh token works until it is revoked.
    let (token, _) = launch(&c, AuthorizeParams::default())?;
    let refreshed = c.refresh_token(refresh_token(&token), CallOptions::new())?;
    let rt = refresh_token(&refreshed);
    let fresh = c.introspect_token(refreshed.access_token.clone(), None, CallOptions::new())?;
    assert!(fresh.active);
    assert!(
        c.introspect_token(
            rt.clone(),
            Some(TokenTypeHint::RefreshToken),
            CallOptions::new()
        )?
        .active
    );
    c.revoke_token(
        rt.clone(),
        Some(TokenTypeHint::RefreshToken),
        CallOptions::new(),
    )?;
    assert!(
        !c.introspect_token(
            rt.clone(),
            Some(TokenTypeHint::RefreshToken),
            CallOptions::new()
        )?
        .active
    );
    let err = c
        .refresh_token(rt, CallOptions::new())
        .expect_err("a revoked refresh token cannot refresh");
    assert!(matches!(err, Error::Token(_)), "{err:?}");
    assert_eq!(err.error_code(), Some("invalid_grant"));

    // Revoking an unknown token is success (RFC 7009 §2.2).
    c.revoke_token(SecretString::new("never-issued"), None, CallOptions::new())?;

    // A wrong client secret is refused at both endpoints.
    let wrong: C = registered(op, &reg, ClientAuth::client_secret_basic("not-the-secret"));
    let err = wrong
        .introspect_token(refreshed.access_token.clone(), None, CallOptions::new())
        .expect_err("wrong secret");
    assert!(matches!(err, Error::Introspection(_)), "{err:?}");
    assert_eq!(err.error_code(), Some("invalid_client"));
    let err = wrong
        .revoke_token(refreshed.access_token.clone(), None, CallOptions::new())
        .expect_err("wrong secret");
    assert!(matches!(err, Error::Revocation(_)), "{err:?}");
    assert_eq!(err.error_code(), Some("invalid_client"));
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(refreshed.access_token.expose()), "{text}");
    }
    Ok(())
}
