//! Backend services (client_credentials with a signed assertion), ES384 and RS384.

use super::*;

// 6. Backend services: token; replayed assertion refused; unknown audience → invalid_target.
fn backend_services<C: Client>(key: PrivateKey) -> Outcome {
    let Some(op) = shared() else { return Ok(()) };
    let kid = format!("backend-{:?}", key.algorithm()).to_lowercase();
    let metadata = ClientMetadata::new("Safire backend")
        .grant_types(["client_credentials"])
        .token_endpoint_auth_method("private_key_jwt")
        .scope("system/*.rs")
        .jwks(&jwks(&key, &kid));
    let reg = client::<C>(op).register_client(&metadata, None, None)?;
    let key = Arc::new(key);
    let config = config(op)
        .client_id(reg.client_id.clone())
        .scopes(["system/*.rs"])
        .client_auth(ClientAuth::PrivateKeyJwt {
            signer: Some(key.clone() as Arc<dyn Signer>),
            kid: Some(kid.clone()),
        })
        .build()?;
    let c = C::new(config.clone())?;
    let token = c.request_backend_token(CallOptions::new())?;
    assert!(!token.access_token.expose().is_empty());
    assert!(token.refresh_token.is_none());
    assert!(
        token.expires_in.is_some(),
        "backend services requires expires_in"
    );

    // Build one request with our library, then send it twice by hand: the second use of the
    // same assertion (same jti) must be refused.
    let mut flow = TokenFlow::backend_services(Arc::new(config));
    flow.provide_metadata(c.server_metadata()?);
    let mut random = OsRandom;
    let Step::Send(request) = flow.start(&mut Env::new(SystemTime::now(), &mut random))? else {
        unreachable!("token flows send a request");
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(request.body())
        .into_owned()
        .collect();
    let send = || {
        op.http()
            .send(HttpRequest::post(request.uri().to_string()).form(&form))
    };
    let first = send()?;
    assert_eq!(first.status, 200, "first use of the assertion");
    let replay = send()?;
    assert_eq!(replay.status, 401);
    assert_eq!(replay.json()?["error"], "invalid_client");

    let err = c
        .request_backend_token(
            CallOptions::new().extra_param("resource", "http://other.example/fhir"),
        )
        .expect_err("unknown audience");
    assert!(matches!(err, Error::Token(_)), "{err:?}");
    assert_eq!(err.error_code(), Some("invalid_target"));
    Ok(())
}

pub(super) fn backend_es384<C: Client>() -> Outcome {
    backend_services::<C>(es384_key())
}

pub(super) fn backend_rs384<C: Client>() -> Outcome {
    backend_services::<C>(rs384_key())
}
