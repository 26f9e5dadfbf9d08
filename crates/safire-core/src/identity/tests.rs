//! The identity flows over a canned authorization server with a controlled clock.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded as B64, Encoding};
use serde_json::{Value, json};

use crate::assertion::{PrivateKey, Signer};
use crate::authorize::{AuthorizeParams, PendingAuthorization};
use crate::client::FlowFactory;
use crate::config::{CallOptions, ClientConfig, ClientConfigBuilder};
use crate::discovery::DiscoveryFlow;
use crate::error::{Error, IdentityError};
use crate::flow::{Flow, Limits, Step, run_blocking};
use crate::oidc::{IdTokenError, JwksRefreshPolicy, ResourceType, VerifyError};
use crate::random::SeededRandom;
use crate::requests::{HttpRequest, HttpResponse, Operation};

use super::JwksCache;

const ISSUER: &str = "https://as.example";
const T0: u64 = 1_767_225_600;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + seconds)
}

/// A canned authorization server: its published keys, which one signs, what it counts.
struct Server {
    keys: Vec<(String, PrivateKey)>,
    signing: usize,
    /// The `kid` header of the next id_token (a bogus one to test the rate limit).
    kid_override: Option<String>,
    nonce_override: Option<String>,
    /// The nonce of the authorization request being answered.
    nonce: Option<String>,
    id_token: bool,
    /// Claims of the next id_token replaced (`sub`, `iss`, `exp`, …).
    claim_overrides: serde_json::Map<String, Value>,
    /// Signs with this key while still naming the published `kid` (a forged signature).
    forger: Option<PrivateKey>,
    jwks_fetches: usize,
    requests: Vec<String>,
}

impl Server {
    fn new() -> Self {
        let mut random = SeededRandom::new(7);
        Self {
            keys: vec![(
                "k1".into(),
                PrivateKey::generate_es384(&mut random).unwrap(),
            )],
            signing: 0,
            kid_override: None,
            nonce_override: None,
            nonce: None,
            id_token: true,
            claim_overrides: serde_json::Map::new(),
            forger: None,
            jwks_fetches: 0,
            requests: Vec::new(),
        }
    }

    fn rotate(&mut self, kid: &str, seed: u64) {
        let key = PrivateKey::generate_es384(&mut SeededRandom::new(seed)).unwrap();
        self.keys.push((kid.into(), key));
        self.signing = self.keys.len() - 1;
    }

    fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|(kid, key)| {
                serde_json::to_value(key.public_jwk().unwrap().with_kid(kid)).unwrap()
            })
            .collect();
        json!({ "keys": keys })
    }

    fn id_token(&self, now: u64) -> String {
        let (kid, key) = &self.keys[self.signing];
        let kid = self.kid_override.as_deref().unwrap_or(kid);
        let mut claims = json!({
            "iss": ISSUER, "aud": "app", "sub": "u-1", "iat": now, "exp": now + 300,
            "fhirUser": "Practitioner/dr-1", "name": "Dr One",
        });
        if let Some(nonce) = self.nonce_override.as_ref().or(self.nonce.as_ref()) {
            claims["nonce"] = json!(nonce);
        }
        for (name, value) in &self.claim_overrides {
            claims[name] = value.clone();
        }
        let key = self.forger.as_ref().unwrap_or(key);
        let input = format!(
            "{}.{}",
            B64::encode_string(json!({"alg": "ES384", "kid": kid}).to_string().as_bytes()),
            B64::encode_string(claims.to_string().as_bytes())
        );
        format!(
            "{input}.{}",
            B64::encode_string(&key.sign(input.as_bytes()).unwrap())
        )
    }

    fn answer(&mut self, request: &HttpRequest, now: u64) -> HttpResponse {
        self.requests.push(request.uri().path().to_owned());
        let body = match request.uri().path() {
            "/jwks" => {
                assert_eq!(
                    request.extensions().get::<Operation>(),
                    Some(&Operation::Jwks)
                );
                self.jwks_fetches += 1;
                self.jwks()
            }
            "/token" => {
                let mut body = json!({
                    "access_token": format!("at-{now}"), "token_type": "Bearer",
                    "expires_in": 300, "refresh_token": "rt",
                    "scope": "openid fhirUser patient/*.rs",
                });
                if self.id_token {
                    body["id_token"] = json!(self.id_token(now));
                }
                body
            }
            other => panic!("unexpected request to {other}"),
        };
        http::Response::builder()
            .status(200)
            .body(body.to_string().into_bytes())
            .unwrap()
    }
}

fn config() -> ClientConfigBuilder {
    ClientConfig::builder("https://ehr.example/fhir")
        .client_id("app")
        .redirect_uri("https://app.example/cb")
        .scopes(["openid", "fhirUser", "patient/*.rs"])
        .authorization_endpoint(format!("{ISSUER}/authorize"))
        .token_endpoint(format!("{ISSUER}/token"))
        .server_jwks_uri(format!("{ISSUER}/jwks"))
        .authorization_server_issuer(ISSUER)
}

fn factory(config: ClientConfigBuilder) -> FlowFactory {
    FlowFactory::new(config.build().unwrap()).with_jwks_cache(JwksCache::new(
        Duration::from_secs(3600),
        JwksRefreshPolicy::default(),
    ))
}

fn run<F: Flow>(flow: F, server: &Mutex<Server>, now: u64) -> Result<F::Output, Error> {
    run_blocking(
        flow,
        &Limits::default(),
        &mut SeededRandom::new(now),
        || at(now),
        |request: HttpRequest| Ok::<_, Error>(server.lock().unwrap().answer(&request, T0 + now)),
    )
}

fn authorize(flows: &FlowFactory, server: &Mutex<Server>, now: u64) -> PendingAuthorization {
    let request = run(flows.authorize(AuthorizeParams::default()), server, now).unwrap();
    let sent_nonce = request
        .params()
        .iter()
        .find(|(name, _)| name == "nonce")
        .map(|(_, value)| value.clone());
    assert_eq!(
        sent_nonce.as_deref(),
        request.pending.nonce().map(|n| n.expose()),
        "the pending authorization keeps the nonce it sent"
    );
    server.lock().unwrap().nonce = sent_nonce;
    request.pending
}

/// One whole launch: authorize, callback, exchange.
fn launch(
    flows: &FlowFactory,
    server: &Mutex<Server>,
    now: u64,
) -> Result<crate::TokenResponse, Error> {
    let pending = authorize(flows, server, now);
    let callback = format!("?code=c&state={}&iss={ISSUER}", pending.state());
    let exchange = flows.exchange_code(pending, &callback, CallOptions::new())?;
    run(exchange, server, now)
}

fn refused(result: Result<crate::TokenResponse, Error>) -> IdTokenError {
    match result {
        Err(Error::Identity(e)) => match *e {
            IdentityError::Refused(e) => e,
            other => panic!("expected a refused id_token, got {other:?}"),
        },
        other => panic!("expected an identity error, got {other:?}"),
    }
}

#[test]
fn the_exchange_verifies_the_id_token_and_types_the_user() {
    let server = Mutex::new(Server::new());
    let flows = factory(config());
    let token = launch(&flows, &server, 0).unwrap();
    let identity = token.identity.as_ref().expect("verified identity");
    assert_eq!(identity.sub, "u-1");
    assert_eq!(identity.name.as_deref(), Some("Dr One"));
    let user = identity.fhir_user.as_ref().unwrap();
    assert_eq!(user.resource_type(), &ResourceType::Practitioner);
    assert_eq!(
        user.url().as_str(),
        "https://ehr.example/fhir/Practitioner/dr-1"
    );
    assert!(token.id_token.is_some(), "the raw id_token is kept");
    assert!(!format!("{token:?}").contains("dr-1"));
    assert_eq!(server.lock().unwrap().jwks_fetches, 1);
}

#[test]
fn the_key_set_is_fetched_once_for_several_verifications() {
    let server = Mutex::new(Server::new());
    let flows = factory(config());
    for second in 0..4 {
        assert!(launch(&flows, &server, second).unwrap().identity.is_some());
    }
    assert_eq!(server.lock().unwrap().jwks_fetches, 1);
    // After the cache's lifetime, fetched again.
    launch(&flows, &server, 3600).unwrap();
    assert_eq!(server.lock().unwrap().jwks_fetches, 2);
}

#[test]
fn a_rotated_key_is_fetched_once_and_a_stream_of_bogus_kids_is_rate_limited() {
    let server = Mutex::new(Server::new());
    let flows = factory(config());
    launch(&flows, &server, 0).unwrap();
    server.lock().unwrap().rotate("k2", 99);
    let token = launch(&flows, &server, 5).unwrap();
    assert_eq!(token.identity.unwrap().kid.as_deref(), Some("k2"));
    assert_eq!(
        server.lock().unwrap().jwks_fetches,
        2,
        "one re-fetch for the new kid"
    );

    server.lock().unwrap().kid_override = Some("bogus".into());
    for second in 6..40 {
        let err = refused(launch(&flows, &server, second));
        assert!(
            matches!(err, IdTokenError::Jws(VerifyError::UnknownKid { .. })),
            "{err:?}"
        );
    }
    // The re-fetch for the rotation at 5 s blocks others until 35 s: one more at 35.
    assert_eq!(server.lock().unwrap().jwks_fetches, 3);
    // A re-fetched set that still lacks the kid is not fetched again in the same exchange.
    let requests = server.lock().unwrap().requests.clone();
    assert!(
        !requests.windows(2).any(|w| w == ["/jwks", "/jwks"]),
        "{requests:?}"
    );
}

#[test]
fn a_wrong_or_missing_nonce_is_refused() {
    let server = Mutex::new(Server::new());
    let flows = factory(config());
    server.lock().unwrap().nonce_override = Some("not-the-nonce".into());
    assert_eq!(
        refused(launch(&flows, &server, 0)),
        IdTokenError::NonceMismatch
    );

    let server = Mutex::new(Server::new());
    let pending = authorize(&flows, &server, 0);
    server.lock().unwrap().nonce = None;
    let callback = format!("?code=c&state={}", pending.state());
    let exchange = flows
        .exchange_code(pending, &callback, CallOptions::new())
        .unwrap();
    let err = run(exchange, &server, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "The id_token was refused: ID token: `nonce` is missing (one was sent in the authorization request)"
    );
}

#[test]
fn no_id_token_when_openid_was_granted_is_a_finding() {
    let server = Mutex::new(Server::new());
    server.lock().unwrap().id_token = false;
    let token = launch(&factory(config()), &server, 0).unwrap();
    assert!(token.identity.is_none());
    assert!(
        token
            .findings
            .iter()
            .any(|f| f.field.as_deref() == Some("id_token")),
        "{:?}",
        token.findings
    );
    assert_eq!(server.lock().unwrap().jwks_fetches, 0);
}

#[test]
fn without_openid_no_nonce_is_sent_and_nothing_is_verified() {
    let server = Mutex::new(Server::new());
    let flows = factory(config().scopes(["patient/*.rs"]));
    let pending = authorize(&flows, &server, 0);
    assert!(pending.nonce().is_none());
    let callback = format!("?code=c&state={}", pending.state());
    let exchange = flows
        .exchange_code(pending, &callback, CallOptions::new())
        .unwrap();
    assert_eq!(exchange.endpoints(), &[crate::ServerEndpoint::Token]);
    let token = run(exchange, &server, 0).unwrap();
    assert!(token.identity.is_none());
    assert_eq!(server.lock().unwrap().jwks_fetches, 0);
}

#[test]
fn verification_can_be_switched_off() {
    let server = Mutex::new(Server::new());
    let token = launch(&factory(config().verify_id_tokens(false)), &server, 0).unwrap();
    assert!(token.identity.is_none() && token.id_token.is_some());
    assert_eq!(server.lock().unwrap().jwks_fetches, 0);
}

#[test]
fn an_unusable_key_set_is_a_typed_error() {
    let flows = factory(config());
    let server = Mutex::new(Server::new());
    let pending = authorize(&flows, &server, 0);
    let callback = format!("?code=c&state={}", pending.state());
    let exchange = flows
        .exchange_code(pending, &callback, CallOptions::new())
        .unwrap();
    let err = run_blocking(
        exchange,
        &Limits::default(),
        &mut SeededRandom::new(1),
        || at(0),
        |request: HttpRequest| {
            if request.uri().path() == "/jwks" {
                return Ok::<_, Error>(
                    http::Response::builder()
                        .status(503)
                        .body(Vec::new())
                        .unwrap(),
                );
            }
            Ok(server.lock().unwrap().answer(&request, T0))
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Identity(e) if matches!(**e, IdentityError::Jwks { status: Some(503), .. })),
        "{err:?}"
    );
}

#[test]
fn pending_authorizations_stored_before_nonces_still_deserialize() {
    let server = Mutex::new(Server::new());
    let pending = authorize(&factory(config()), &server, 0);
    let mut stored = serde_json::to_value(&pending).unwrap();
    assert!(stored.get("nonce").is_some());
    stored.as_object_mut().unwrap().remove("nonce");
    let old: PendingAuthorization = serde_json::from_value(stored).unwrap();
    assert!(old.nonce().is_none());
    assert!(!format!("{pending:?}").contains(pending.nonce().unwrap().expose()));
}

#[test]
fn the_server_keys_flow_discovers_jwks_uri_and_caches_the_set() {
    let flows = FlowFactory::new(
        ClientConfig::builder("https://ehr.example/fhir")
            .build()
            .unwrap(),
    );
    let count = Arc::new(Mutex::new(0));
    for _ in 0..2 {
        let count = count.clone();
        let jwks = run_blocking(
            flows.server_keys(),
            &Limits::default(),
            &mut SeededRandom::new(1),
            || at(0),
            move |request: HttpRequest| {
                *count.lock().unwrap() += 1;
                let body = match request.uri().path() {
                    "/fhir/.well-known/smart-configuration" => {
                        json!({"issuer": ISSUER, "jwks_uri": format!("{ISSUER}/jwks")})
                    }
                    "/jwks" => Server::new().jwks(),
                    other => panic!("{other}"),
                };
                Ok::<_, Error>(http::Response::new(body.to_string().into_bytes()))
            },
        )
        .unwrap();
        assert_eq!(jwks.keys().len(), 1);
    }
    // Discovery twice (run_blocking has no metadata cache), the key set once.
    assert_eq!(*count.lock().unwrap(), 3);
}

fn discover(
    config: ClientConfigBuilder,
    documents: &[(&str, u16, Value)],
) -> (Result<crate::SmartMetadata, Error>, Vec<String>) {
    let asked = Mutex::new(Vec::new());
    let result = run_blocking(
        DiscoveryFlow::new(&config.build().unwrap()),
        &Limits::default(),
        &mut SeededRandom::new(1),
        || at(0),
        |request: HttpRequest| {
            let url = request.uri().to_string();
            asked.lock().unwrap().push(url.clone());
            let (status, body) = documents
                .iter()
                .find(|(u, _, _)| *u == url)
                .map_or((404, Value::Null), |(_, s, b)| (*s, b.clone()));
            Ok::<_, Error>(
                http::Response::builder()
                    .status(status)
                    .body(if body.is_null() {
                        Vec::new()
                    } else {
                        body.to_string().into_bytes()
                    })
                    .unwrap(),
            )
        },
    );
    (result, asked.into_inner().unwrap())
}

#[test]
fn issuer_metadata_replaces_a_missing_smart_configuration() {
    let base = || ClientConfig::builder("https://api.example/fhir");
    let tenant = || base().authorization_server_issuer("https://login.example/tenant");
    let oauth = "https://login.example/.well-known/oauth-authorization-server/tenant";
    let openid = "https://login.example/tenant/.well-known/openid-configuration";
    let doc = |issuer: &str| json!({"issuer": issuer, "token_endpoint": "https://login.example/t", "jwks_uri": "https://login.example/k"});

    // RFC 8414 first (well-known segment before the issuer's path).
    let (found, asked) = discover(
        tenant(),
        &[(oauth, 200, doc("https://login.example/tenant"))],
    );
    assert_eq!(
        found.unwrap().jwks_uri.as_deref(),
        Some("https://login.example/k")
    );
    assert_eq!(
        asked,
        [
            "https://api.example/fhir/.well-known/smart-configuration",
            oauth
        ]
    );

    // Then OpenID Connect (appended to the issuer).
    let (found, asked) = discover(
        tenant(),
        &[(openid, 200, doc("https://login.example/tenant"))],
    );
    assert_eq!(
        found.unwrap().token_endpoint.as_deref(),
        Some("https://login.example/t")
    );
    assert_eq!(asked.len(), 3);

    // The issuer must be identical.
    let (found, _) = discover(
        tenant(),
        &[(oauth, 200, doc("https://login.example/tenant/"))],
    );
    let err = found.unwrap_err().to_string();
    assert!(err.contains("is not the configured issuer"), "{err}");

    // Without a configured issuer, a 404 is the end, with a hint.
    let (found, asked) = discover(base(), &[]);
    assert!(
        found
            .unwrap_err()
            .to_string()
            .contains("authorization_server_issuer")
    );
    assert_eq!(asked.len(), 1);

    // A SMART configuration, when there is one, wins.
    let smart = json!({"issuer": "https://elsewhere.example", "token_endpoint": "https://e/t"});
    let (found, asked) = discover(
        base().authorization_server_issuer("https://login.example"),
        &[(
            "https://api.example/fhir/.well-known/smart-configuration",
            200,
            smart,
        )],
    );
    assert_eq!(
        found.unwrap().token_endpoint.as_deref(),
        Some("https://e/t")
    );
    assert_eq!(asked.len(), 1);
}

#[test]
fn the_driver_discovers_through_issuer_metadata_too() {
    let config = ClientConfig::builder("https://api.example/fhir")
        .client_id("app")
        .authorization_server_issuer("https://login.example")
        .client_auth(crate::ClientAuth::client_secret_basic("s"))
        .build()
        .unwrap();
    let flows = FlowFactory::new(config);
    let token = run_blocking(
        flows.backend_token(CallOptions::new()),
        &Limits::default(),
        &mut SeededRandom::new(1),
        || at(0),
        |request: HttpRequest| {
            let (status, body) = match request.uri().to_string().as_str() {
                "https://login.example/.well-known/oauth-authorization-server" => (
                    200,
                    json!({"issuer": "https://login.example", "token_endpoint": "https://login.example/token"}),
                ),
                "https://login.example/token" => (
                    200,
                    json!({"access_token": "at", "token_type": "Bearer", "expires_in": 60, "scope": "system/*.rs"}),
                ),
                _ => (404, json!({})),
            };
            Ok::<_, Error>(
                http::Response::builder()
                    .status(status)
                    .body(body.to_string().into_bytes())
                    .unwrap(),
            )
        },
    );
    assert_eq!(token.unwrap().access_token.expose(), "at");
}

#[test]
fn step_debug_names_the_jwks_operation() {
    let flows = factory(config());
    let mut flow = flows.server_keys();
    let mut random = SeededRandom::new(1);
    let step = flow
        .start(&mut crate::Env::new(at(0), &mut random))
        .unwrap();
    assert!(matches!(&step, Step::Send(r) if r.method() == http::Method::GET));
    assert!(format!("{step:?}").contains("Jwks"));
}

/// A session started by a verified code exchange at second 0.
fn started_session(flows: &FlowFactory, server: &Mutex<Server>) -> crate::Session {
    let pending = authorize(flows, server, 0);
    let callback = format!("?code=c&state={}&iss={ISSUER}", pending.state());
    let flow = flows
        .start_session(pending, &callback, CallOptions::new())
        .unwrap();
    let session = run(flow, server, 0).unwrap();
    assert_eq!(
        session.id_token_subject,
        Some(crate::IdTokenSubject::new(ISSUER, "u-1")),
        "the verified subject is kept"
    );
    session
}

fn renew(
    flows: &FlowFactory,
    session: &crate::Session,
    server: &Mutex<Server>,
    now: u64,
) -> Result<crate::Session, Error> {
    run(
        flows.renew_session(session, CallOptions::new()).unwrap(),
        server,
        now,
    )
}

fn identity_error(result: Result<crate::Session, Error>) -> IdentityError {
    match result {
        Err(Error::Identity(e)) => {
            assert_eq!(
                Error::Identity(e.clone()).source_of_fault(),
                crate::ErrorSource::Server
            );
            *e
        }
        other => panic!("expected an identity error, got {other:?}"),
    }
}

#[test]
fn a_refresh_id_token_is_verified_and_replaces_the_sessions() {
    let server = Mutex::new(Server::new());
    let flows = factory(config());
    let session = started_session(&flows, &server);
    // Servers may repeat the nonce or leave it out; the practitioner's fhirUser may change.
    server.lock().unwrap().nonce = None;
    server
        .lock()
        .unwrap()
        .claim_overrides
        .insert("fhirUser".into(), json!("Practitioner/dr-2"));
    let renewed = renew(&flows, &session, &server, 100).unwrap();
    assert_eq!(renewed.access_token.expose(), format!("at-{}", T0 + 100));
    assert_ne!(
        renewed.id_token, session.id_token,
        "the new id_token is kept"
    );
    assert_eq!(renewed.id_token_subject, session.id_token_subject);
    assert_eq!(
        renewed.fhir_user.as_deref(),
        Some("https://ehr.example/fhir/Practitioner/dr-2")
    );
    assert_eq!(server.lock().unwrap().jwks_fetches, 1, "one cache for both");
    assert_eq!(
        server.lock().unwrap().requests,
        ["/token", "/jwks", "/token"],
        "the refresh verified with the cached keys"
    );
}

#[test]
fn a_refresh_id_token_naming_another_user_or_issuer_is_refused() {
    for (claim, value) in [
        ("sub", json!("u-2")),
        ("iss", json!("https://other.example")),
    ] {
        let server = Mutex::new(Server::new());
        let flows = factory(config());
        let session = started_session(&flows, &server);
        server
            .lock()
            .unwrap()
            .claim_overrides
            .insert(claim.into(), value);
        let err = identity_error(renew(&flows, &session, &server, 100));
        assert_eq!(err, IdentityError::IdentityChanged { claim }, "{claim}");
        assert!(!err.to_string().contains("u-2"), "no claim values: {err}");
    }
}

#[test]
fn a_forged_or_expired_refresh_id_token_is_refused() {
    let server = Mutex::new(Server::new());
    let flows = factory(config());
    let session = started_session(&flows, &server);
    server.lock().unwrap().forger =
        Some(PrivateKey::generate_es384(&mut SeededRandom::new(99)).unwrap());
    let err = identity_error(renew(&flows, &session, &server, 100));
    assert!(
        matches!(err, IdentityError::Refused(IdTokenError::Jws(_))),
        "{err:?}"
    );
    server.lock().unwrap().forger = None;
    server
        .lock()
        .unwrap()
        .claim_overrides
        .insert("exp".into(), json!(T0));
    let err = identity_error(renew(&flows, &session, &server, 1000));
    assert_eq!(err, IdentityError::Refused(IdTokenError::Expired));
    // The same server answering with no id_token renews: a refresh need not carry one.
    server.lock().unwrap().id_token = false;
    let renewed = renew(&flows, &session, &server, 1000).unwrap();
    assert_eq!(
        renewed.id_token, session.id_token,
        "the previous one is kept"
    );
    assert!(
        renewed
            .findings
            .iter()
            .all(|f| f.field.as_deref() != Some("id_token"))
    );
}

#[test]
fn a_session_stored_before_the_subject_was_kept_loads_and_is_checked_by_its_id_token() {
    let server = Mutex::new(Server::new());
    let flows = factory(config());
    let session = started_session(&flows, &server);
    let mut stored = serde_json::to_value(&session).unwrap();
    assert!(stored.get("id_token_subject").is_some());
    stored.as_object_mut().unwrap().remove("id_token_subject");
    let old: crate::Session = serde_json::from_value(stored).unwrap();
    assert_eq!(old.id_token_subject, None);
    assert_eq!(old.original_subject(), session.id_token_subject);
    server
        .lock()
        .unwrap()
        .claim_overrides
        .insert("sub".into(), json!("u-2"));
    let err = identity_error(renew(&flows, &old, &server, 100));
    assert_eq!(err, IdentityError::IdentityChanged { claim: "sub" });
    server.lock().unwrap().claim_overrides.clear();
    let renewed = renew(&flows, &old, &server, 100).unwrap();
    assert_eq!(renewed.id_token_subject, session.id_token_subject);
}

#[test]
fn a_refresh_id_token_for_a_session_without_openid_is_not_kept() {
    let server = Mutex::new(Server::new());
    let flows = factory(config());
    let token = crate::TokenResponse::parse(
        200,
        br#"{"access_token":"a","refresh_token":"r","scope":"patient/*.rs","expires_in":60}"#,
        at(0),
    )
    .unwrap();
    let session = flows.session_from_token(token, crate::SessionKind::User);
    let renewed = renew(&flows, &session, &server, 100).unwrap();
    assert_eq!(renewed.id_token, None);
    assert_eq!(renewed.id_token_subject, None);
    assert!(
        renewed
            .findings
            .iter()
            .any(|f| f.field.as_deref() == Some("id_token")),
        "{:?}",
        renewed.findings
    );
    assert_eq!(server.lock().unwrap().jwks_fetches, 0);
}
