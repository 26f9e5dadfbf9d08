//! Error paths: denial, code replay, wrong secret, PKCE mismatch.

use super::*;

// 8. Error paths: denial, code replay, wrong secret, PKCE mismatch.
pub(super) fn error_paths<C: Client>() -> Outcome {
    let Some(op) = shared() else { return Ok(()) };
    let reg = register_app::<C>(op, "none", None)?;
    let c: C = registered(op, &reg, ClientAuth::Public);

    let request = c.authorization_url(AuthorizeParams::default())?;
    let callback = deny(request.url.as_str())?;
    let err = c
        .request_access_token(request.pending.clone(), &callback, CallOptions::new())
        .expect_err("the user denied");
    let Error::Authorization(auth) = &err else {
        panic!("expected AuthError, got {err:?}")
    };
    assert_eq!(auth.kind, AuthErrorKind::Denied);
    assert_eq!(err.error_code(), Some("access_denied"));

    let request = c.authorization_url(AuthorizeParams::default())?;
    let callback = approve(request.url.as_str(), LOGIN)?;
    c.request_access_token(request.pending.clone(), &callback, CallOptions::new())?;
    let err = c
        .request_access_token(request.pending.clone(), &callback, CallOptions::new())
        .expect_err("a code is single use");
    assert_eq!(err.error_code(), Some("invalid_grant"));

    // PKCE: the code of one authorization with the verifier of another.
    let a = c.authorization_url(AuthorizeParams::default())?;
    let b = c.authorization_url(AuthorizeParams::default())?;
    let callback = approve(a.url.as_str(), LOGIN)?;
    let mut code = a.pending.complete(&callback)?;
    code.code_verifier = b.pending.code_verifier().clone();
    let config = config(op).client_id(reg.client_id.clone()).build()?;
    let err = c
        .run(TokenFlow::authorization_code(Arc::new(config), code))
        .expect_err("verifier mismatch");
    assert_eq!(err.error_code(), Some("invalid_grant"));

    // Wrong client secret.
    let sym = register_app::<C>(op, "client_secret_basic", None)?;
    let wrong: C = registered(op, &sym, ClientAuth::client_secret_basic("not-the-secret"));
    let request = wrong.authorization_url(AuthorizeParams::default())?;
    let callback = approve(request.url.as_str(), LOGIN)?;
    let err = wrong
        .request_access_token(request.pending.clone(), &callback, CallOptions::new())
        .expect_err("wrong secret");
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.error_code(), Some("invalid_client"));
    Ok(())
}
