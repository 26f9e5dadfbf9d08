//! Identity: id_tokens verified, fhirUser typed, the JWK Set cached and refetched after a
//! key rotation.

use super::*;

// 12. Identity: oidc-provider's RS256 id_tokens verified (signature, iss, aud, times, the nonce
//     sent), fhirUser typed; the JWK Set fetched once, and once more after a key rotation.
pub(super) fn identity<C: Client>() -> Outcome {
    // A server of its own: the rotation must not disturb other tests.
    let Some(op) = OidcProvider::start_or_skip()? else {
        return Ok(());
    };
    let registration = register_app::<C>(&op, "none", None)?;
    let c: C = registered(&op, &registration, ClientAuth::Public);

    let (token, pending) = launch(&c, AuthorizeParams::default())?;
    let identity = token
        .identity
        .as_ref()
        .expect("openid granted: a verified id_token");
    assert_eq!(identity.sub, LOGIN);
    assert_eq!(identity.alg, safire_core::VerifyAlgorithm::RS256);
    assert_eq!(identity.kid.as_deref(), Some("srv-rsa-1"));
    assert_eq!(identity.iss, op.issuer());
    let nonce = pending.nonce().expect("openid requested: a nonce was sent");
    assert_eq!(
        identity.claims["nonce"],
        nonce.expose(),
        "the server echoed our nonce"
    );
    let user = identity.fhir_user.as_ref().expect("fhirUser granted");
    assert_eq!(
        user.resource_type(),
        &safire_core::ResourceType::Practitioner
    );
    assert_eq!(user.id(), LOGIN);
    assert_eq!(
        user.url().as_str(),
        format!("{}/Practitioner/{LOGIN}", op.fhir_base_url())
    );
    assert!(token.id_token.is_some(), "the raw id_token is kept");

    launch(&c, AuthorizeParams::default())?;
    assert_eq!(
        op.jwks_fetches()?,
        1,
        "two verifications, one JWK Set fetch"
    );

    let rotated = op.rotate_signing_key()?;
    let (token, _) = launch(&c, AuthorizeParams::default())?;
    assert_eq!(
        token.identity.as_ref().and_then(|i| i.kid.as_deref()),
        Some(rotated.as_str()),
        "signed with the new key"
    );
    assert_eq!(
        op.jwks_fetches()?,
        2,
        "the unknown kid fetched the set once more"
    );
    launch(&c, AuthorizeParams::default())?;
    assert_eq!(op.jwks_fetches()?, 2, "and the new set is cached");

    // The same client refreshes: no identity check there, the raw id_token is kept.
    let refreshed = c.refresh_token(refresh_token(&token), CallOptions::new())?;
    assert!(refreshed.identity.is_none());
    Ok(())
}
