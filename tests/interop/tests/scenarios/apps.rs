//! App launches that succeed with each client authentication (public with PKCE,
//! client_secret_basic, private_key_jwt RS384/ES384), the EHR launch, and POST authorization.

use super::*;

// 3. Public client: PKCE launch, refresh rotation, old refresh token refused.
pub(super) fn public_client<C: Client>() -> Outcome {
    let Some(op) = shared() else { return Ok(()) };
    let reg = register_app::<C>(op, "none", None)?;
    let c: C = registered(op, &reg, ClientAuth::Public);
    let (token, _) = launch(&c, AuthorizeParams::default())?;
    assert_eq!(
        token.launch.patient.as_deref(),
        Some(safire_interop::DEFAULT_PATIENT)
    );
    assert!(
        token.id_token.is_some(),
        "openid fhirUser asked: id_token issued"
    );
    let first = refresh_token(&token);
    let refreshed = c.refresh_token(first.clone(), CallOptions::new())?;
    let second = refresh_token(&refreshed);
    assert_ne!(first, second, "public refresh tokens rotate");
    let err = c
        .refresh_token(first, CallOptions::new())
        .expect_err("old refresh token is dead");
    assert!(matches!(err, Error::Token(_)), "{err:?}");
    assert_eq!(err.error_code(), Some("invalid_grant"));
    Ok(())
}

// 4. client_secret_basic with the secret DCR returned.
pub(super) fn symmetric_client<C: Client>() -> Outcome {
    let Some(op) = shared() else { return Ok(()) };
    let reg = register_app::<C>(op, "client_secret_basic", None)?;
    let secret = reg.client_secret.clone().expect("DCR returned a secret");
    let c: C = registered(op, &reg, ClientAuth::client_secret_basic(secret));
    let (token, _) = launch(&c, AuthorizeParams::default())?;
    let refreshed = c.refresh_token(refresh_token(&token), CallOptions::new())?;
    assert!(!refreshed.access_token.expose().is_empty());
    Ok(())
}

// 5. private_key_jwt with RS384 and ES384, registered with the JWKS our library generates.
fn asymmetric_client<C: Client>(key: PrivateKey) -> Outcome {
    let Some(op) = shared() else { return Ok(()) };
    let kid = format!("interop-{:?}", key.algorithm()).to_lowercase();
    let reg = register_app::<C>(op, "private_key_jwt", Some((&key, &kid)))?;
    let c: C = registered(op, &reg, ClientAuth::private_key_jwt(key, kid));
    let (token, _) = launch(&c, AuthorizeParams::default())?;
    let refreshed = c.refresh_token(refresh_token(&token), CallOptions::new())?;
    assert!(!refreshed.access_token.expose().is_empty());
    Ok(())
}

pub(super) fn asymmetric_es384<C: Client>() -> Outcome {
    asymmetric_client::<C>(es384_key())
}

pub(super) fn asymmetric_rs384<C: Client>() -> Outcome {
    asymmetric_client::<C>(rs384_key())
}

// 7. EHR launch: launch context lands in the typed token response.
pub(super) fn ehr_launch<C: Client>() -> Outcome {
    let Some(op) = shared() else { return Ok(()) };
    let reg = register_app::<C>(op, "none", None)?;
    let c: C = registered(op, &reg, ClientAuth::Public);
    let context = LaunchContext {
        patient: Some("pat-ehr-1".into()),
        encounter: Some("enc-ehr-1".into()),
        fhir_context: vec![serde_json::json!({"reference": "Appointment/apt-1", "role": "launch"})],
        need_patient_banner: Some(true),
        smart_style_url: Some(format!("{}/smart-style.json", op.issuer())),
        ..LaunchContext::default()
    };
    let launch_value = op.create_launch(&context)?;
    // The EHR opens the app with iss + launch; the app checks iss against its allow-list.
    let launch_url = format!(
        "https://app.example/launch?iss={}&launch={}",
        url::form_urlencoded::byte_serialize(op.fhir_base_url().as_bytes()).collect::<String>(),
        launch_value
    );
    let ehr = safire_core::EhrLaunch::from_url(&launch_url, &[op.fhir_base_url()])?;
    let params = AuthorizeParams::ehr_launch(ehr.launch).scopes([
        "launch",
        "openid",
        "fhirUser",
        "patient/*.rs",
        "offline_access",
    ]);
    let (token, _) = launch(&c, params)?;
    assert_eq!(token.launch.patient.as_deref(), Some("pat-ehr-1"));
    assert_eq!(token.launch.encounter.as_deref(), Some("enc-ehr-1"));
    assert_eq!(token.launch.need_patient_banner, Some(true));
    assert_eq!(token.launch.smart_style_url, context.smart_style_url);
    assert_eq!(token.launch.fhir_context.len(), 1);
    assert_eq!(
        token.launch.fhir_context[0].reference.as_deref(),
        Some("Appointment/apt-1")
    );
    assert!(token.id_token.is_some());
    Ok(())
}

// 9. POST-based authorization; and a server without it makes the client refuse.
pub(super) fn post_authorization<C: Client>() -> Outcome {
    let Some(op) = shared() else { return Ok(()) };
    let reg = register_app::<C>(op, "none", None)?;
    let c: C = registered(op, &reg, ClientAuth::Public);
    let request = c.authorization_url(AuthorizeParams::default().post())?;
    assert_eq!(request.url.query(), None, "POST: the bare endpoint");
    let callback = approve_post(request.url.as_str(), &request.params(), LOGIN)?;
    let token = c.request_access_token(request.pending.clone(), &callback, CallOptions::new())?;
    assert!(!token.access_token.expose().is_empty());

    let Some(no_post) = OidcProvider::builder()
        .authorize_post(false)
        .start_or_skip()?
    else {
        return Ok(());
    };
    let reg = register_app::<C>(&no_post, "none", None)?;
    let c: C = registered(&no_post, &reg, ClientAuth::Public);
    assert!(!c.server_metadata()?.supports_post_based_authorization());
    let err = c
        .authorization_url(AuthorizeParams::default().post())
        .expect_err("POST is not advertised");
    assert!(matches!(err, Error::Configuration(_)), "{err:?}");
    assert!(err.to_string().contains("authorize-post"), "{err}");
    Ok(())
}
