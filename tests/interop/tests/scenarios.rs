//! Every SMART flow against a real, independently written authorization server
//! (panva's oidc-provider on loopback), through both transports.
//!
//! Each scenario is written once, generic over [`Client`], and instantiated for safire-ureq and
//! safire-hyper by `scenarios!`; `cargo test` prints one line per scenario × transport.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use safire_core::{
    AuthErrorKind, AuthorizeParams, CallOptions, ClientAuth, ClientConfig, ClientMetadata, Env,
    Error, Flow, Jwks, Limits, OsRandom, PendingAuthorization, PrivateKey, RegisteredClient,
    SecretString, Session, SessionKind, Signer, Step, TokenFlow, TokenResponse, TokenTypeHint,
};
use safire_interop::{
    HarnessError, HttpRequest, LaunchContext, OidcProvider, REDIRECT_URI, approve, approve_post,
    callback_params, deny,
};

#[path = "../../transport-suite/client.rs"]
mod suite;
use suite::TestClient;

const LOGIN: &str = "practitioner-1";
const APP_SCOPES: &str = "openid fhirUser launch/patient patient/*.rs offline_access";

/// The client operations (the core's one list, through the transport suite's `TestClient`),
/// plus the transport's session type, implemented once per transport.
trait Client: TestClient {
    /// A client with default limits.
    fn new(config: ClientConfig) -> Result<Self, Error> {
        Self::build(config, Limits::default(), None)
    }
    /// The transport's session type.
    type Live;
    /// `client.session(value).refresh_margin(margin).on_change(hook).build()`.
    fn open(&self, value: Session, margin: Duration, hook: Hook) -> Result<Self::Live, Error>;
    fn token(&self, live: &Self::Live) -> Result<SecretString, Error>;
    fn renew(&self, live: &Self::Live) -> Result<Session, Error>;
}

type Hook = Arc<dyn Fn(&Session) + Send + Sync>;

struct Ureq(safire_ureq::SmartClient);

suite::test_client!(Ureq, safire_ureq::SmartClient,
    new: |client| Ureq(client),
    client: |this| &this.0,
    wait: |call| call);

impl Client for Ureq {
    type Live = safire_ureq::SmartSession;
    fn open(&self, value: Session, margin: Duration, hook: Hook) -> Result<Self::Live, Error> {
        self.0
            .session(value)
            .refresh_margin(margin)
            .on_change(move |s| hook(s))
            .build()
    }
    fn token(&self, live: &Self::Live) -> Result<SecretString, Error> {
        live.access_token()
    }
    fn renew(&self, live: &Self::Live) -> Result<Session, Error> {
        live.renew()
    }
}

/// safire-hyper on a current-thread runtime owned by the wrapper: each call blocks on it.
struct Hyper(safire_hyper::SmartClient, tokio::runtime::Runtime);

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

suite::test_client!(Hyper, safire_hyper::SmartClient,
    new: |client| Hyper(client, current_thread_runtime()),
    client: |this| &this.0,
    wait: |call| this.1.block_on(call));

impl Client for Hyper {
    type Live = safire_hyper::SmartSession;
    fn open(&self, value: Session, margin: Duration, hook: Hook) -> Result<Self::Live, Error> {
        self.1.block_on(
            self.0
                .session(value)
                .refresh_margin(margin)
                .on_change(move |s| hook(s))
                .build(),
        )
    }
    fn token(&self, live: &Self::Live) -> Result<SecretString, Error> {
        self.1.block_on(live.access_token())
    }
    fn renew(&self, live: &Self::Live) -> Result<Session, Error> {
        self.1.block_on(live.renew())
    }
}

type Outcome = Result<(), Box<dyn std::error::Error>>;

fn config(op: &OidcProvider) -> safire_core::ClientConfigBuilder {
    ClientConfig::builder(op.fhir_base_url())
        .redirect_uri(REDIRECT_URI)
        .scopes(APP_SCOPES.split(' '))
        .allow_insecure_localhost(true)
}

/// A client for a server; unregistered (no client_id) until a scenario registers one.
fn client<C: Client>(op: &OidcProvider) -> C {
    C::new(config(op).build().expect("valid config")).expect("client builds")
}

fn registered<C: Client>(
    op: &OidcProvider,
    registration: &RegisteredClient,
    auth: ClientAuth,
) -> C {
    C::new(
        config(op)
            .client_id(registration.client_id.clone())
            .client_auth(auth)
            .build()
            .expect("valid config"),
    )
    .expect("client builds")
}

fn app_metadata(method: &str) -> ClientMetadata {
    ClientMetadata::new("Safire interop app")
        .redirect_uris([REDIRECT_URI])
        .grant_types(["authorization_code", "refresh_token"])
        .response_types(["code"])
        .token_endpoint_auth_method(method)
        // `launch` too, so the same registration serves EHR launches.
        .scope(format!("{APP_SCOPES} launch"))
}

/// Registers an app with `method`, and for private_key_jwt the JWKS generated from `key`.
fn register_app<C: Client>(
    op: &OidcProvider,
    method: &str,
    key: Option<(&PrivateKey, &str)>,
) -> Result<RegisteredClient, Error> {
    let mut metadata = app_metadata(method);
    if let Some((key, kid)) = key {
        metadata = metadata.jwks(&jwks(key, kid));
    }
    client::<C>(op).register_client(&metadata, None, None)
}

fn jwks(key: &PrivateKey, kid: &str) -> Jwks {
    Jwks::from(vec![
        key.public_jwk()
            .expect("built-in keys export a JWK")
            .with_kid(kid),
    ])
}

/// Authorization request → browserless approval → verified callback → code exchange.
fn launch<C: Client>(
    c: &C,
    params: AuthorizeParams,
) -> Result<(TokenResponse, PendingAuthorization), Box<dyn std::error::Error>> {
    let request = c.authorization_url(params)?;
    let callback = approve(request.url.as_str(), LOGIN)?;
    let token = c.request_access_token(request.pending.clone(), &callback, CallOptions::new())?;
    Ok((token, request.pending))
}

fn refresh_token(token: &TokenResponse) -> SecretString {
    token
        .refresh_token
        .clone()
        .expect("offline_access was granted: a refresh token")
}

fn shared() -> Option<&'static OidcProvider> {
    OidcProvider::shared_or_skip().expect("oidc-provider starts")
}

// 1. Discovery; compliance findings are empty or explained.
fn discovery<C: Client>() -> Outcome {
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
fn registration<C: Client>() -> Outcome {
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

// 3. Public client: PKCE launch, refresh rotation, old refresh token refused.
fn public_client<C: Client>() -> Outcome {
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
fn symmetric_client<C: Client>() -> Outcome {
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

fn es384_key() -> PrivateKey {
    PrivateKey::generate_es384(&mut OsRandom).expect("ES384 key")
}

fn rs384_key() -> PrivateKey {
    // A committed fixture: generating RSA keys in a debug build is slow.
    PrivateKey::from_pem(include_str!(
        "../../../crates/safire-core/testdata/rsa2048.pkcs8.pem"
    ))
    .expect("RSA fixture")
}

fn asymmetric_es384<C: Client>() -> Outcome {
    asymmetric_client::<C>(es384_key())
}

fn asymmetric_rs384<C: Client>() -> Outcome {
    asymmetric_client::<C>(rs384_key())
}

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

fn backend_es384<C: Client>() -> Outcome {
    backend_services::<C>(es384_key())
}

fn backend_rs384<C: Client>() -> Outcome {
    backend_services::<C>(rs384_key())
}

// 7. EHR launch: launch context lands in the typed token response.
fn ehr_launch<C: Client>() -> Outcome {
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

// 8. Error paths: denial, code replay, wrong secret, PKCE mismatch.
fn error_paths<C: Client>() -> Outcome {
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

// 9. POST-based authorization; and a server without it makes the client refuse.
fn post_authorization<C: Client>() -> Outcome {
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

// 10. Introspection and revocation: an active token, the same token revoked, a refresh token
//     revoked and refused afterwards.
fn introspection_and_revocation<C: Client>() -> Outcome {
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

// 11. RFC 7592: read, update and delete a dynamically registered client.
fn registration_management<C: Client>() -> Outcome {
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

// Sessions (issue 12): a user session survives three refresh-token rotations, persisting each
// through the hook; reusing a rotated-out refresh token means re-authorization.
fn session_rotations<C: Client>() -> Outcome {
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
fn session_backend_renewal<C: Client>() -> Outcome {
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

/// The callback parameters, for failure messages.
#[allow(dead_code)]
fn params(callback: &str) -> Result<BTreeMap<String, String>, HarnessError> {
    callback_params(callback)
}

// 12. Identity: oidc-provider's RS256 id_tokens verified (signature, iss, aud, times, the nonce
//     sent), fhirUser typed; the JWK Set fetched once, and once more after a key rotation.
fn identity<C: Client>() -> Outcome {
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

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod ureq {
            $(#[test]
            fn $name() -> super::Outcome {
                super::$name::<super::Ureq>()
            })*
        }
        mod hyper {
            $(#[test]
            fn $name() -> super::Outcome {
                super::$name::<super::Hyper>()
            })*
        }
    };
}

scenarios!(
    discovery,
    registration,
    public_client,
    symmetric_client,
    asymmetric_es384,
    asymmetric_rs384,
    backend_es384,
    backend_rs384,
    ehr_launch,
    error_paths,
    post_authorization,
    introspection_and_revocation,
    registration_management,
    identity,
    session_rotations,
    session_backend_renewal,
);
