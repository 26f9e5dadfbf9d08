//! Server and client metadata: discovery, dynamic client registration (open and
//! behind an initial access token) and RFC 7592 client management.

use super::*;

// 1. Discovery; compliance findings are empty or explained.
pub(super) fn discovery<C: Client>() -> Outcome {
    let Some(op) = shared() else { return Ok(()) };
    let c: C = client(op);
    let metadata = c.server_metadata()?;
    assert!(
        Arc::ptr_eq(&metadata, &c.server_metadata()?),
        "cached for the client's lifetime"
    );
    assert_eq!(
        metadata.token_endpoint.as_deref(),
        Some(op.token_endpoint().as_str())
    );
    assert!(metadata.supports_standalone_launch());
    assert!(metadata.supports_ehr_launch());
    assert!(metadata.supports_public_auth());
    assert!(metadata.supports_symmetric_auth());
    assert!(metadata.supports_asymmetric_auth());
    assert!(metadata.supports_backend_services());
    assert!(metadata.supports_dynamic_registration());
    assert!(metadata.supports_post_based_authorization());
    let findings = metadata.compliance_findings();
    // The server is plain http on loopback (no TLS in the harness): every endpoint is reported
    // as a warning about http, and nothing else may be found.
    for finding in &findings {
        assert!(
            !finding.is_error(),
            "unexpected compliance error: {finding}"
        );
        assert!(
            finding.message.contains("http"),
            "unexplained finding: {finding}"
        );
    }
    Ok(())
}

// 2. DCR open, and protected by an initial access token.
pub(super) fn registration<C: Client>() -> Outcome {
    let Some(op) = shared() else { return Ok(()) };
    let c: C = client(op);
    let open = c.register_client(&app_metadata("none"), None, None)?;
    assert!(!open.client_id.is_empty());
    assert_eq!(open.redirect_uris, vec![REDIRECT_URI.to_owned()]);

    let protected = op.protected_registration_endpoint();
    let with_token = c.register_client(
        &app_metadata("client_secret_basic"),
        Some(&protected),
        Some(SecretString::new(op.initial_access_token())),
    )?;
    assert!(with_token.client_secret.is_some());

    for token in [None, Some(SecretString::new("wrong-token"))] {
        let err = c
            .register_client(&app_metadata("none"), Some(&protected), token)
            .expect_err("registration without a valid initial access token is refused");
        assert!(matches!(err, Error::Registration(_)), "{err:?}");
        assert_eq!(err.status(), Some(401));
        assert_eq!(err.error_code(), Some("invalid_token"));
    }
    Ok(())
}

// 11. RFC 7592: read, update and delete a dynamically registered client.
pub(super) fn registration_management<C: Client>() -> Outcome {
    let Some(op) = shared() else { return Ok(()) };
    let c: C = client(op);
    let metadata = app_metadata("client_secret_basic");
    let reg = c.register_client(&metadata, None, None)?;
    let uri = reg
        .registration_client_uri
        .clone()
        .expect("oidc-provider returns registration_client_uri");
    assert!(uri.starts_with(op.issuer()), "{uri}");
    assert!(reg.registration_access_token.is_some());

    let read = c.read_registration(&reg)?;
    assert_eq!(read.client_id, reg.client_id);
    assert_eq!(read.redirect_uris, reg.redirect_uris);
    assert_eq!(read.registration_client_uri.as_deref(), Some(uri.as_str()));

    let renamed = metadata
        .clone()
        .field("client_name", "Renamed by Safire".into());
    let updated = c.update_registration(&reg, &renamed)?;
    assert_eq!(updated.client_id, reg.client_id);
    assert_eq!(updated.client_name.as_deref(), Some("Renamed by Safire"));
    assert_eq!(
        c.read_registration(&updated)?.client_name.as_deref(),
        Some("Renamed by Safire")
    );

    c.delete_registration(&updated)?;
    let err = c
        .read_registration(&updated)
        .expect_err("a deleted registration cannot be read");
    assert!(matches!(err, Error::Registration(_)), "{err:?}");
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.error_code(), Some("invalid_token"));
    let rat = updated.registration_access_token.clone().unwrap();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(rat.expose()), "{text}");
    }
    // The deleted client can no longer authenticate.
    let secret = reg.client_secret.clone().expect("DCR returned a secret");
    let gone: C = registered(op, &reg, ClientAuth::client_secret_basic(secret));
    let err = gone
        .introspect_token(SecretString::new("any"), None, CallOptions::new())
        .expect_err("a deleted client is unknown");
    assert_eq!(err.error_code(), Some("invalid_client"));
    Ok(())
}
