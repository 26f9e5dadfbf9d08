//! Identity: the id_token verified with the server's JWK Set (one fetch, one for many cold
//! code exchanges, rotation and rate-limited bogus kids, a wrong nonce refused).

use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use safire_core::{AuthorizeParams, CallOptions, Error, PrivateKey, SecretString, Signer};
use serde_json::{Value, json};

use super::super::TestClient;
use super::super::servers::{Reply, TestServer};
use super::{
    DISCOVERY, assert_common_headers, callback, client, config_for, smart_configuration, token_json,
};

/// An OpenID Connect server: SMART discovery (issuer `{base}/fhir`, `jwks_uri` `{base}/jwks`),
/// a JWK Set of ES384 keys it can rotate, and a token endpoint that signs an id_token with the
/// nonce the test hands it and the kid it is told.
struct OidcServer {
    server: TestServer,
    state: Arc<std::sync::Mutex<OidcState>>,
}

struct OidcState {
    keys: Vec<(String, PrivateKey)>,
    nonce: Option<String>,
    /// The nonce for each code, for launches running side by side.
    nonces: std::collections::HashMap<String, String>,
    kid_override: Option<String>,
    /// How long the JWK Set takes to come back (so that concurrent fetches would overlap).
    jwks_delay: Duration,
}

impl OidcServer {
    fn start() -> Self {
        let key = PrivateKey::generate_es384(&mut safire_core::OsRandom).unwrap();
        let state = Arc::new(std::sync::Mutex::new(OidcState {
            keys: vec![("key-1".into(), key)],
            nonce: None,
            nonces: Default::default(),
            kid_override: None,
            jwks_delay: Duration::ZERO,
        }));
        let shared = state.clone();
        let server = TestServer::http(move |request, base| {
            let state = shared.lock().unwrap();
            match request.path() {
                DISCOVERY => Reply::json(200, smart_configuration(base)),
                "/jwks" => {
                    let keys: Vec<Value> = state
                        .keys
                        .iter()
                        .map(|(kid, key)| json!(key.public_jwk().unwrap().with_kid(kid)))
                        .collect();
                    let delay = state.jwks_delay;
                    drop(state);
                    std::thread::sleep(delay);
                    Reply::json(200, json!({ "keys": keys }))
                }
                "/token" => {
                    let (kid, key) = state.keys.last().unwrap();
                    let kid = state.kid_override.as_deref().unwrap_or(kid);
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs();
                    let mut claims = json!({
                        "iss": format!("{base}/fhir"), "aud": "app", "sub": "user-7",
                        "iat": now, "exp": now + 300, "fhirUser": "Practitioner/dr-7",
                    });
                    let code = request.form().get("code").cloned().unwrap_or_default();
                    if let Some(nonce) = state.nonces.get(&code).or(state.nonce.as_ref()) {
                        claims["nonce"] = json!(nonce);
                    }
                    let input = format!(
                        "{}.{}",
                        Base64UrlUnpadded::encode_string(
                            json!({"alg": "ES384", "kid": kid}).to_string().as_bytes()
                        ),
                        Base64UrlUnpadded::encode_string(claims.to_string().as_bytes())
                    );
                    let signature = key.sign(input.as_bytes()).unwrap();
                    let mut token = token_json("at-oidc", None);
                    token["id_token"] = json!(format!(
                        "{input}.{}",
                        Base64UrlUnpadded::encode_string(&signature)
                    ));
                    Reply::json(200, token)
                }
                _ => Reply::text(404, "text/plain", "not found"),
            }
        });
        Self { server, state }
    }

    fn rotate(&self) {
        let key = PrivateKey::generate_es384(&mut safire_core::OsRandom).unwrap();
        let mut state = self.state.lock().unwrap();
        let kid = format!("key-{}", state.keys.len() + 1);
        state.keys.push((kid, key));
    }

    /// Authorize, hand the nonce sent to the server (or another), exchange the code.
    fn launch<C: TestClient>(
        &self,
        client: &C,
        nonce: Option<&str>,
    ) -> Result<safire_core::TokenResponse, Error> {
        self.launch_with_code(client, nonce, "code-oidc")
    }

    /// [`launch`](Self::launch) with `code`: the server answers it with this launch's nonce.
    fn launch_with_code<C: TestClient>(
        &self,
        client: &C,
        nonce: Option<&str>,
        code: &str,
    ) -> Result<safire_core::TokenResponse, Error> {
        let request = client
            .authorization_url(AuthorizeParams::default())
            .unwrap();
        let sent: Option<String> = request
            .url
            .query_pairs()
            .find(|(name, _)| name == "nonce")
            .map(|(_, value)| value.into_owned());
        assert_eq!(
            sent.as_deref(),
            request.pending.nonce().map(SecretString::expose),
            "openid requested: a nonce is sent and kept"
        );
        let nonce = nonce.map(str::to_owned).or(sent);
        let mut state = self.state.lock().unwrap();
        match nonce {
            Some(nonce) => state.nonces.insert(code.to_owned(), nonce),
            None => state.nonces.remove(code),
        };
        drop(state);
        let pending = request.pending;
        client.request_access_token(
            pending.clone(),
            &callback(pending.state(), code),
            CallOptions::new(),
        )
    }
}

fn identity_error(result: Result<safire_core::TokenResponse, Error>) -> safire_core::IdTokenError {
    match result {
        Err(Error::Identity(e)) => match *e {
            safire_core::IdentityError::Refused(e) => e,
            other => panic!("expected a refused id_token, got {other}"),
        },
        other => panic!("expected an identity error, got {other:?}"),
    }
}

pub fn id_token_verified_with_one_jwks_fetch<C: TestClient>() {
    let oidc = OidcServer::start();
    let client: C = client(config_for(&oidc.server));
    for _ in 0..3 {
        let token = oidc.launch(&client, None).unwrap();
        let identity = token.identity.expect("verified identity");
        assert_eq!(identity.sub, "user-7");
        let user = identity.fhir_user.unwrap();
        assert_eq!(
            user.url().as_str(),
            oidc.server.url("/fhir/Practitioner/dr-7")
        );
        assert!(token.id_token.is_some(), "the raw id_token stays");
    }
    let keys = client.server_keys().unwrap();
    assert_eq!(keys.keys().len(), 1);
    let fetches = oidc.server.requests_to("/jwks");
    assert_eq!(
        fetches.len(),
        1,
        "three verifications and server_keys: one fetch"
    );
    assert_eq!(fetches[0].method, "GET");
    assert_common_headers(&fetches[0]);
    assert_eq!(fetches[0].header("authorization"), None);
    assert_eq!(oidc.server.requests_to(DISCOVERY).len(), 1);
}

pub fn concurrent_cold_code_exchanges_fetch_the_key_set_once<C: TestClient + Sync>() {
    let oidc = OidcServer::start();
    oidc.state.lock().unwrap().jwks_delay = Duration::from_millis(300);
    let client: C = client(config_for(&oidc.server));
    let barrier = std::sync::Barrier::new(16);
    let subjects: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (oidc, client, barrier) = (&oidc, &client, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let token = oidc
                        .launch_with_code(client, None, &format!("code-{i}"))
                        .unwrap();
                    token.identity.expect("verified identity").sub
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(subjects.iter().all(|sub| sub == "user-7"), "{subjects:?}");
    assert_eq!(
        oidc.server.requests_to("/jwks").len(),
        1,
        "sixteen concurrent exchanges with a cold cache: one JWK Set fetch"
    );
    assert_eq!(oidc.server.requests_to("/token").len(), 16);
}

pub fn rotated_key_is_fetched_once_and_bogus_kids_are_rate_limited<C: TestClient>() {
    let oidc = OidcServer::start();
    let client: C = client(config_for(&oidc.server));
    oidc.launch(&client, None).unwrap();
    oidc.rotate();
    let token = oidc.launch(&client, None).unwrap();
    assert_eq!(token.identity.unwrap().kid.as_deref(), Some("key-2"));
    assert_eq!(
        oidc.server.requests_to("/jwks").len(),
        2,
        "one re-fetch on rotation"
    );

    oidc.state.lock().unwrap().kid_override = Some("made-up".into());
    for _ in 0..10 {
        let err = identity_error(oidc.launch(&client, None));
        assert!(err.to_string().contains("kid `made-up`"), "{err}");
    }
    assert_eq!(
        oidc.server.requests_to("/jwks").len(),
        2,
        "ten unknown kids within the interval: no further fetch"
    );
}

pub fn id_token_with_another_nonce_is_refused<C: TestClient>() {
    let oidc = OidcServer::start();
    let client: C = client(config_for(&oidc.server));
    let err = identity_error(oidc.launch(&client, Some("replayed-nonce")));
    assert_eq!(err, safire_core::IdTokenError::NonceMismatch);
    assert!(!err.to_string().contains("replayed-nonce"));
}
