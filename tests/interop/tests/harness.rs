//! Smoke tests of the interop harness: they drive the oidc-provider test server with plain HTTP
//! (no Safire crates) and prove it behaves the way the SMART client scenarios expect.
//!
//! Every test prints `[timing] <name>: <ms> ms` (see with `-- --nocapture`).

use std::time::Instant;

use base64ct::{Base64UrlUnpadded, Encoding};
use p384::ecdsa::signature::Signer;
use p384::ecdsa::{Signature, SigningKey};
use safire_interop::{
    DEFAULT_PATIENT, HarnessError, HttpRequest, LaunchContext, OidcProvider, REDIRECT_URI, approve,
    approve_post, callback_params, deny, static_clients,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

type TestResult = Result<(), HarnessError>;

/// Prints the test's wall-clock duration when dropped.
struct Timer(&'static str, Instant);

impl Timer {
    fn start(name: &'static str) -> Self {
        Self(name, Instant::now())
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        println!("[timing] {}: {} ms", self.0, self.1.elapsed().as_millis());
    }
}

fn b64url(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("getrandom");
    b
}

/// (code_verifier, S256 code_challenge)
fn pkce() -> (String, String) {
    let verifier = b64url(&random_bytes::<32>());
    let challenge = b64url(&Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn authorization_params(
    op: &OidcProvider,
    client_id: &str,
    scope: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", scope),
        ("state", "state-123"),
        ("aud", op.fhir_base_url()),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    p.dedup();
    p
}

fn authorization_url(op: &OidcProvider, params: &[(String, String)]) -> String {
    let mut url = url::Url::parse(&op.authorization_endpoint()).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

fn jwt_payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("JWT payload");
    let bytes = Base64UrlUnpadded::decode_vec(part).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON payload")
}

/// Authorization-code exchange for a public client.
fn exchange_code(op: &OidcProvider, client_id: &str, code: &str, verifier: &str) -> HttpRequest {
    HttpRequest::post(op.token_endpoint()).form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier),
        ("client_id", client_id),
    ])
}

fn refresh(op: &OidcProvider, client_id: &str, refresh_token: &str) -> HttpRequest {
    HttpRequest::post(op.token_endpoint()).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ])
}

/// An ES384 client key, signing RFC 7523 client assertions the way a SMART backend client must.
struct Es384Key {
    key: SigningKey,
    kid: String,
}

impl Es384Key {
    fn generate() -> Self {
        let key = loop {
            if let Ok(k) = SigningKey::from_slice(&random_bytes::<48>()) {
                break k;
            }
        };
        Self {
            key,
            kid: format!("es384-{}", b64url(&random_bytes::<6>())),
        }
    }

    fn public_jwk(&self) -> Value {
        let point = self.key.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes(); // 0x04 || x (48) || y (48)
        json!({
            "kty": "EC", "crv": "P-384", "kid": self.kid, "alg": "ES384", "use": "sig",
            "x": b64url(&bytes[1..49]), "y": b64url(&bytes[49..97]),
        })
    }

    fn assertion(&self, client_id: &str, aud: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = json!({"alg": "ES384", "typ": "JWT", "kid": self.kid});
        let claims = json!({
            "iss": client_id, "sub": client_id, "aud": aud,
            "jti": b64url(&random_bytes::<16>()), "iat": now, "exp": now + 300,
        });
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let sig: Signature = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", b64url(&sig.to_bytes())) // JOSE: raw r || s
    }
}

fn client_credentials(op: &OidcProvider, assertion: &str, extra: &[(&str, &str)]) -> HttpRequest {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("scope", "system/*.rs"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    HttpRequest::post(op.token_endpoint()).form(&form)
}

#[test]
fn server_starts_and_prints_ready() -> TestResult {
    let _t = Timer::start("server_starts_and_prints_ready");
    let Some(op) = OidcProvider::start_or_skip()? else {
        return Ok(());
    };
    println!(
        "[timing] node start-up to READY: {} ms",
        op.startup_time().as_millis()
    );
    assert!(op.ready_line().starts_with("READY http://127.0.0.1:"));
    assert!(op.issuer().starts_with("http://127.0.0.1:"));
    assert_ne!(op.issuer(), "http://127.0.0.1:0");
    assert_eq!(op.fhir_base_url(), format!("{}/fhir", op.issuer()));
    // /fhir/metadata advertises the OAuth endpoints (SMART v1 style)
    let cs = op
        .http()
        .get(&format!("{}/metadata", op.fhir_base_url()))?
        .expect_json(200, "metadata")?;
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    Ok(())
}

#[test]
fn parallel_servers_get_distinct_ports() -> TestResult {
    let _t = Timer::start("parallel_servers_get_distinct_ports");
    let Some(a) = OidcProvider::start_or_skip()? else {
        return Ok(());
    };
    let b = OidcProvider::start()?;
    assert_ne!(a.issuer(), b.issuer());
    let pid = b.pid();
    drop(b);
    // dropped => process gone (reaped), port closed
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists() || cfg!(not(target_os = "linux"))
    );
    Ok(())
}

#[test]
fn smart_configuration_is_served_at_fhir_base() -> TestResult {
    let _t = Timer::start("smart_configuration_is_served_at_fhir_base");
    let Some(op) = OidcProvider::start_or_skip()? else {
        return Ok(());
    };
    let d = op
        .http()
        .get(&op.smart_configuration_url())?
        .expect_json(200, "smart-configuration")?;
    let has = |field: &str, value: &str| {
        d[field]
            .as_array()
            .unwrap_or_else(|| panic!("{field} missing in {d}"))
            .iter()
            .any(|v| v == value)
    };
    assert_eq!(d["issuer"], op.issuer());
    assert_eq!(d["authorization_endpoint"], op.authorization_endpoint());
    assert_eq!(d["token_endpoint"], op.token_endpoint());
    assert_eq!(d["registration_endpoint"], op.registration_endpoint());
    assert_eq!(d["introspection_endpoint"], op.introspection_endpoint());
    assert_eq!(d["revocation_endpoint"], op.revocation_endpoint());
    assert_eq!(d["jwks_uri"], op.jwks_uri());
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["response_types_supported"], json!(["code"]));
    for g in ["authorization_code", "refresh_token", "client_credentials"] {
        assert!(has("grant_types_supported", g), "grant type {g}");
    }
    for m in ["none", "client_secret_basic", "private_key_jwt"] {
        assert!(has("token_endpoint_auth_methods_supported", m), "auth {m}");
    }
    for a in ["RS384", "ES384"] {
        assert!(
            has("token_endpoint_auth_signing_alg_values_supported", a),
            "alg {a}"
        );
    }
    for c in [
        "authorize-post",
        "launch-ehr",
        "launch-standalone",
        "client-public",
        "client-confidential-symmetric",
        "client-confidential-asymmetric",
        "context-ehr-patient",
        "context-passthrough-banner",
        "context-passthrough-style",
        "permission-offline",
        "permission-v2",
        "sso-openid-connect",
    ] {
        assert!(has("capabilities", c), "capability {c}");
    }
    assert!(has("scopes_supported", "system/*.rs"));
    // also at the issuer root, identical
    let root = op
        .http()
        .get(&format!("{}/.well-known/smart-configuration", op.issuer()))?
        .expect_json(200, "root smart-configuration")?;
    assert_eq!(root, d);
    Ok(())
}

#[test]
fn authorize_post_capability_follows_the_switch() -> TestResult {
    let _t = Timer::start("authorize_post_capability_follows_the_switch");
    let Some(op) = OidcProvider::builder()
        .authorize_post(false)
        .start_or_skip()?
    else {
        return Ok(());
    };
    let d = op
        .http()
        .get(&op.smart_configuration_url())?
        .expect_json(200, "smart-configuration")?;
    assert!(
        !d["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "authorize-post")
    );
    let resp = op.http().send(
        HttpRequest::post(op.authorization_endpoint()).form(&[("client_id", "public-app")]),
    )?;
    assert_eq!(resp.status, 404, "{}", resp.body);
    Ok(())
}

#[test]
fn dcr_open_and_protected() -> TestResult {
    let _t = Timer::start("dcr_open_and_protected");
    let Some(op) = OidcProvider::start_or_skip()? else {
        return Ok(());
    };
    let meta = json!({
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "openid fhirUser launch/patient patient/*.rs offline_access",
    });
    // open /reg: no token needed; the SMART scope string is echoed back
    let reg = op
        .http()
        .post_json(&op.registration_endpoint(), &meta)?
        .expect_json(201, "open DCR")?;
    assert!(reg["client_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    assert_eq!(reg["scope"], meta["scope"]);
    assert!(reg["registration_access_token"].is_string());

    // protected path: wrong / missing IAT -> 401 invalid_token; right IAT -> 201
    let post = |token: Option<&str>| {
        let req = HttpRequest::post(op.protected_registration_endpoint()).json(&meta);
        op.http().send(match token {
            Some(t) => req.bearer(t),
            None => req,
        })
    };
    let wrong = post(Some("not-the-iat"))?;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()?["error"], "invalid_token");
    let missing = post(None)?;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()?["error"], "invalid_token");
    let ok = post(Some(op.initial_access_token()))?;
    assert_eq!(ok.status, 201, "{}", ok.body);
    Ok(())
}

#[test]
fn dcr_protected_mode_guards_the_advertised_endpoint() -> TestResult {
    let _t = Timer::start("dcr_protected_mode_guards_the_advertised_endpoint");
    let Some(op) = OidcProvider::builder()
        .registration(safire_interop::RegistrationMode::Protected)
        .initial_access_token("custom-iat")
        .start_or_skip()?
    else {
        return Ok(());
    };
    let meta = json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"});
    let wrong = op.http().send(
        HttpRequest::post(op.registration_endpoint())
            .bearer("wrong")
            .json(&meta),
    )?;
    assert_eq!(
        (wrong.status, wrong.json()?["error"].clone()),
        (401, json!("invalid_token"))
    );
    let ok = op.http().send(
        HttpRequest::post(op.registration_endpoint())
            .bearer("custom-iat")
            .json(&meta),
    )?;
    assert_eq!(ok.status, 201, "{}", ok.body);
    Ok(())
}

#[test]
fn public_client_pkce_flow_with_refresh_rotation() -> TestResult {
    let _t = Timer::start("public_client_pkce_flow_with_refresh_rotation");
    let Some(op) = OidcProvider::start_or_skip()? else {
        return Ok(());
    };
    let client_id = op.register_public_client()?;
    let (verifier, challenge) = pkce();
    let scope = "openid fhirUser launch/patient patient/*.rs offline_access";
    let params = authorization_params(&op, &client_id, scope, &challenge, &[]);

    let callback = approve(&authorization_url(&op, &params), "dr-who")?;
    assert!(callback.starts_with(REDIRECT_URI), "{callback}");
    let cb = callback_params(&callback)?;
    assert_eq!(cb["state"], "state-123");
    assert_eq!(cb["iss"], op.issuer()); // RFC 9207

    let tok = op
        .http()
        .send(exchange_code(&op, &client_id, &cb["code"], &verifier))?
        .expect_json(200, "code exchange")?;
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["patient"], DEFAULT_PATIENT);
    let granted: Vec<&str> = tok["scope"].as_str().unwrap().split(' ').collect();
    for s in scope.split(' ') {
        assert!(granted.contains(&s), "{s} not granted: {tok}");
    }
    let id = jwt_payload(tok["id_token"].as_str().expect("id_token"));
    assert_eq!(id["sub"], "dr-who");
    assert_eq!(id["iss"], op.issuer());
    assert_eq!(id["aud"], client_id.as_str());
    assert_eq!(
        id["fhirUser"],
        format!("{}/Practitioner/dr-who", op.fhir_base_url())
    );
    let at = op.introspect(tok["access_token"].as_str().unwrap())?;
    assert_eq!(at["active"], true);
    assert_eq!(at["aud"], op.fhir_base_url());

    // refresh rotates for public clients
    let rt1 = tok["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();
    let tok2 = op
        .http()
        .send(refresh(&op, &client_id, &rt1))?
        .expect_json(200, "refresh")?;
    let rt2 = tok2["refresh_token"]
        .as_str()
        .expect("rotated refresh_token");
    assert_ne!(rt1, rt2, "public client refresh token must rotate");
    assert_eq!(tok2["patient"], DEFAULT_PATIENT);

    // reusing the rotated-out token: invalid_grant, and the whole grant is revoked
    let reuse = op.http().send(refresh(&op, &client_id, &rt1))?;
    assert_eq!(
        (reuse.status, reuse.json()?["error"].clone()),
        (400, json!("invalid_grant"))
    );
    let newest = op.http().send(refresh(&op, &client_id, rt2))?;
    assert_eq!(
        (newest.status, newest.json()?["error"].clone()),
        (400, json!("invalid_grant"))
    );

    // code replay -> invalid_grant (a replay also revokes the grant, so it is checked last)
    let replay = op
        .http()
        .send(exchange_code(&op, &client_id, &cb["code"], &verifier))?;
    assert_eq!(
        (replay.status, replay.json()?["error"].clone()),
        (400, json!("invalid_grant"))
    );
    Ok(())
}

#[test]
fn ehr_launch_context_reaches_the_token_response() -> TestResult {
    let _t = Timer::start("ehr_launch_context_reaches_the_token_response");
    let Some(op) = OidcProvider::start_or_skip()? else {
        return Ok(());
    };
    let launch = op.create_launch(&LaunchContext {
        patient: Some("pat-999".into()),
        encounter: Some("enc-1".into()),
        fhir_context: vec![json!({"reference": "Appointment/a1"})],
        need_patient_banner: Some(true),
        smart_style_url: Some(format!("{}/smart-style.json", op.issuer())),
        ..Default::default()
    })?;
    let (verifier, challenge) = pkce();
    let params = authorization_params(
        &op,
        static_clients::PUBLIC_APP,
        "launch openid fhirUser patient/*.rs",
        &challenge,
        &[("launch", &launch)],
    );
    let cb = callback_params(&approve(&authorization_url(&op, &params), "")?)?;
    let tok = op
        .http()
        .send(exchange_code(
            &op,
            static_clients::PUBLIC_APP,
            &cb["code"],
            &verifier,
        ))?
        .expect_json(200, "code exchange")?;
    assert_eq!(tok["patient"], "pat-999");
    assert_eq!(tok["encounter"], "enc-1");
    assert_eq!(tok["fhirContext"], json!([{"reference": "Appointment/a1"}]));
    assert_eq!(tok["need_patient_banner"], true);
    assert_eq!(
        tok["smart_style_url"],
        format!("{}/smart-style.json", op.issuer())
    );
    assert!(
        tok.get("refresh_token").is_none(),
        "no offline_access, no RT"
    );
    let id = jwt_payload(tok["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], safire_interop::DEFAULT_USER);
    let style = op.http().get(tok["smart_style_url"].as_str().unwrap())?;
    assert_eq!(style.status, 200);
    Ok(())
}

#[test]
fn authorize_post_flow_and_denial() -> TestResult {
    let _t = Timer::start("authorize_post_flow_and_denial");
    let Some(op) = OidcProvider::start_or_skip()? else {
        return Ok(());
    };
    let (verifier, challenge) = pkce();
    let params = authorization_params(
        &op,
        static_clients::PUBLIC_APP,
        "openid fhirUser launch/patient patient/*.rs offline_access",
        &challenge,
        &[],
    );
    // SMART authorize-post: form POST to the authorization endpoint
    let cb = callback_params(&approve_post(
        &op.authorization_endpoint(),
        &params,
        "nurse-1",
    )?)?;
    let tok = op
        .http()
        .send(exchange_code(
            &op,
            static_clients::PUBLIC_APP,
            &cb["code"],
            &verifier,
        ))?
        .expect_json(200, "code exchange after POST authorization")?;
    assert!(
        tok["refresh_token"].is_string(),
        "offline_access honoured on POST too: {tok}"
    );
    assert_eq!(
        jwt_payload(tok["id_token"].as_str().unwrap())["sub"],
        "nurse-1"
    );

    // denial
    let denied = callback_params(&deny(&authorization_url(&op, &params))?)?;
    assert_eq!(denied["error"], "access_denied");
    assert_eq!(denied["state"], "state-123");
    assert_eq!(denied["iss"], op.issuer());

    // unknown aud -> invalid_target at the redirect_uri
    let mut bad = params.clone();
    bad.retain(|(k, _)| k != "aud");
    bad.push(("aud".into(), "http://wrong.example/fhir".into()));
    let e = callback_params(&approve(&authorization_url(&op, &bad), "")?)?;
    assert_eq!(e["error"], "invalid_target");
    Ok(())
}

#[test]
fn backend_client_credentials_with_es384_assertion() -> TestResult {
    let _t = Timer::start("backend_client_credentials_with_es384_assertion");
    let Some(op) = OidcProvider::start_or_skip()? else {
        return Ok(());
    };
    let key = Es384Key::generate();
    let reg = op.register_client(&json!({
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES384",
        "jwks": {"keys": [key.public_jwk()]},
        "scope": "system/*.rs system/Observation.rs",
    }))?;
    let client_id = reg["client_id"].as_str().unwrap();
    assert_eq!(reg["response_types"], json!([]));

    let assertion = key.assertion(client_id, &op.token_endpoint());
    let tok = op
        .http()
        .send(client_credentials(&op, &assertion, &[]))?
        .expect_json(200, "client_credentials ES384")?;
    assert_eq!(tok["scope"], "system/*.rs");
    assert_eq!(tok["token_type"], "Bearer");
    assert!(tok.get("refresh_token").is_none());
    let at = op.introspect(tok["access_token"].as_str().unwrap())?;
    assert_eq!(
        (at["active"].clone(), at["aud"].clone()),
        (json!(true), json!(op.fhir_base_url()))
    );
    assert_eq!(at["client_id"], client_id);

    // the same assertion again: jti replay
    let replay = op.http().send(client_credentials(&op, &assertion, &[]))?;
    assert_eq!(
        (replay.status, replay.json()?["error"].clone()),
        (401, json!("invalid_client"))
    );

    // aud = issuer is accepted too
    let by_issuer = op.http().send(client_credentials(
        &op,
        &key.assertion(client_id, op.issuer()),
        &[],
    ))?;
    assert_eq!(by_issuer.status, 200, "{}", by_issuer.body);

    // resource (RFC 8707) the server does not serve -> invalid_target
    let other = op.http().send(client_credentials(
        &op,
        &key.assertion(client_id, &op.token_endpoint()),
        &[("resource", "http://other.example/fhir")],
    ))?;
    assert_eq!(
        (other.status, other.json()?["error"].clone()),
        (400, json!("invalid_target"))
    );

    // but `aud` is NOT a token-endpoint parameter: it is ignored for client_credentials
    // (the token stays audience-restricted to the FHIR base)
    let aud_param = op
        .http()
        .send(client_credentials(
            &op,
            &key.assertion(client_id, &op.token_endpoint()),
            &[("aud", "http://other.example/fhir")],
        ))?
        .expect_json(200, "client_credentials with aud")?;
    let at = op.introspect(aud_param["access_token"].as_str().unwrap())?;
    assert_eq!(at["aud"], op.fhir_base_url());
    Ok(())
}

#[test]
fn shared_instance_is_started_once() -> TestResult {
    let _t = Timer::start("shared_instance_is_started_once");
    let Some(a) = OidcProvider::shared_or_skip()? else {
        return Ok(());
    };
    let b = OidcProvider::shared()?;
    assert!(std::ptr::eq(a, b));
    assert_eq!(a.issuer(), b.issuer());
    let client_id = a.register_public_client()?;
    assert!(!client_id.is_empty());
    Ok(())
}
