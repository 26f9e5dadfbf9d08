//! Sessions (issue 12): user sessions across refresh-token rotations, backend
//! sessions renewed with a fresh assertion.

use super::*;

// Sessions (issue 12): a user session survives three refresh-token rotations, persisting each
// through the hook; reusing a rotated-out refresh token means re-authorization.
pub(super) fn session_rotations<C: Client>() -> Outcome {
    let Some(op) = shared() else { return Ok(()) };
    let reg = register_app::<C>(op, "none", None)?;
    let c: C = registered(op, &reg, ClientAuth::Public);
    let request = c.authorization_url(AuthorizeParams::default())?;
    let callback = approve(request.url.as_str(), LOGIN)?;
    let value = c.request_session(request.pending.clone(), &callback, CallOptions::new())?;
    assert_eq!(value.kind, SessionKind::User);
    assert_eq!(
        value.launch.patient.as_deref(),
        Some(safire_interop::DEFAULT_PATIENT)
    );
    assert!(value.scopes.contains(&safire_core::Scope::OfflineAccess));
    let original = value.clone();
    let persisted: Arc<Mutex<Vec<Session>>> = Arc::default();
    let sink = persisted.clone();
    let live = c.open(
        value,
        Duration::from_secs(60),
        Arc::new(move |s: &Session| sink.lock().unwrap().push(s.clone())),
    )?;
    let mut tokens = vec![c.token(&live)?];
    for _ in 0..3 {
        // Forced (as after a 401): the server's tokens live an hour.
        c.renew(&live)?;
        tokens.push(c.token(&live)?);
    }
    let stored = persisted.lock().unwrap().clone();
    assert_eq!(stored.len(), 3, "each renewal went through the hook");
    let mut refresh: Vec<&str> = std::iter::once(&original)
        .chain(stored.iter())
        .map(|s| s.refresh_token.as_ref().expect("kept or rotated").expose())
        .collect();
    let mut access: Vec<&str> = tokens.iter().map(|t| t.expose()).collect();
    refresh.dedup();
    access.dedup();
    assert_eq!(refresh.len(), 4, "public clients rotate on every refresh");
    assert_eq!(access.len(), 4);
    let last = stored.last().unwrap();
    // The merge kept what the refreshes did not repeat (or repeated it identically).
    assert_eq!(
        last.launch.patient.as_deref(),
        Some(safire_interop::DEFAULT_PATIENT)
    );
    assert_eq!(last.scopes.to_string(), original.scopes.to_string());
    // The persisted value restores a working session.
    let restored: Session = serde_json::from_str(&serde_json::to_string(last)?)?;
    let again = c.open(
        restored,
        Duration::from_secs(60),
        Arc::new(|_: &Session| {}),
    )?;
    c.renew(&again)?;
    // The original value's refresh token was rotated away: the server refuses it.
    let stale = c.open(
        original,
        Duration::from_secs(60),
        Arc::new(|_: &Session| {}),
    )?;
    let err = c
        .renew(&stale)
        .expect_err("a rotated-out refresh token is dead");
    assert!(err.is_reauthorization_required(), "{err}");
    assert_eq!(err.error_code(), Some("invalid_grant"));
    Ok(())
}

// A backend session renews with a fresh assertion once the server's short token lifetime
// (2 s, configured in the harness) runs out.
pub(super) fn session_backend_renewal<C: Client>() -> Outcome {
    if safire_interop::skip_requested() {
        eprintln!("skipped: SAFIRE_SKIP_INTEROP=1");
        return Ok(());
    }
    let op = OidcProvider::builder()
        .client_credentials_ttl(Duration::from_secs(2))
        .start()?;
    let key = es384_key();
    let kid = "backend-session";
    let metadata = ClientMetadata::new("Safire backend session")
        .grant_types(["client_credentials"])
        .token_endpoint_auth_method("private_key_jwt")
        .scope("system/*.rs")
        .jwks(&jwks(&key, kid));
    let reg = client::<C>(&op).register_client(&metadata, None, None)?;
    let c = C::new(
        config(&op)
            .client_id(reg.client_id.clone())
            .scopes(["system/*.rs"])
            .client_auth(ClientAuth::private_key_jwt(key, kid))
            .build()?,
    )?;
    let value = c.request_backend_session(CallOptions::new())?;
    assert_eq!(value.kind, SessionKind::Backend);
    let lifetime = value
        .expires_at
        .zip(value.issued_at)
        .and_then(|(expires, issued)| expires.duration_since(issued).ok());
    assert_eq!(
        lifetime,
        Some(Duration::from_secs(2)),
        "the harness's lifetime"
    );
    let renewals = Arc::new(Mutex::new(0));
    let count = renewals.clone();
    let live = c.open(
        value,
        Duration::from_secs(1),
        Arc::new(move |_: &Session| *count.lock().unwrap() += 1),
    )?;
    let first = c.token(&live)?;
    // Wait for the server's token to run out (real time: the server's clock decides).
    std::thread::sleep(Duration::from_millis(2100));
    let second = c.token(&live)?;
    assert_ne!(first, second, "renewed with a new assertion");
    assert_eq!(*renewals.lock().unwrap(), 1);
    // The renewed token works at the server.
    let active = op.introspect(second.expose())?;
    assert_eq!(active["active"], true, "{active}");
    Ok(())
}
