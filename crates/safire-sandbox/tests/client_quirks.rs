//! Safire's own clients against the sandbox's quirk profiles, through both transports
//! (`safire_ureq::SmartClient`, blocking, and `safire_hyper::SmartClient`, async).
//!
//! Each scenario shows (a) the *naive expectation* a simple client holds failing against the
//! quirky server, on the raw HTTP response, and (b) what Safire's client does with the same
//! server: it copes, or refuses with a typed error where coping would be unsafe.
//! `tests/quirks.rs` covers the server side (each quirk on and off, raw HTTP only). The file
//! lives here, not in `tests/interop`, because the quirks are the sandbox's: it runs
//! in-process and offline (no Node.js), and the raw checks reuse `tests/common`.
//!
//! | quirk | naive expectation (fails) | Safire's client |
//! |---|---|---|
//! | `BasicNotUrlDecoded` | RFC 6749 §2.3.1 form-encoded Basic credentials are accepted | default encoding: `Error::Token`, `invalid_client`, 401, and the message names `ClientAuth::client_secret_basic_raw`, which works |
//! | `ReusableCodes` | a code cannot be redeemed twice | `request_access_token` consumes the `PendingAuthorization`, so the same value cannot redeem twice; a *copy* replayed is accepted by this server (no client can tell) and refused by a strict one (`invalid_grant`): deleting stored copies is the app's job |
//! | `ErrorRedirectWithoutState` | an error redirect carries `state` | `AuthErrorKind::Denied` with the server's `error`, saying `state` was absent; no token request |
//! | `NonRfcTokenErrorStatus` | `invalid_grant` comes with 400 | `Error::error_code()` is `invalid_grant` whatever the status (401, 403 in `Error::status()`) |
//! | `ExpiresInString` | `expires_in` is a JSON number | `expires_in` and `expires_at` read, with a warning finding on `expires_in` |
//! | `ScopeOmitted` | the token response says which `scope` was granted | `token.scope` is the requested scope (RFC 6749 §5.1) with a warning finding; a refresh that asks for no scope gets `None` and an error finding (the original grant is the caller's to keep) |
//! | `RefreshNotRotated` | a refresh returns a new refresh token and voids the old one | refreshing twice with the same token works; each response hands the same refresh token back |
//! | `DiscoveryFromHostHeader` | discovered endpoints are under the configured FHIR base | behind a proxy forwarding `Host: ehr.internal:8080`: refused before any request (`Error::Configuration`, plain http off loopback); forwarding a loopback `Host`: the callback `iss` is not the discovered issuer (`AuthErrorKind::IssuerMismatch`), the code is never redeemed; configured endpoints and `authorization_server_issuer` cope |

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use common::flow::*;
use common::*;
use safire_core::{
    AuthErrorKind, AuthorizeParams, CallOptions, ClientAuth, ClientConfig, ClientConfigBuilder,
    Error, PendingAuthorization, PrivateKey, SmartMetadata, TokenResponse,
};
use safire_sandbox::{DEFAULT_REDIRECT_URI, Endpoint, Quirk, Sandbox};
use serde_json::Value;

/// What the apps ask for: enough for a refresh token.
const SCOPE: &str = "patient/*.rs offline_access";

// ---------------------------------------------------------------------------------------------
// Both transports behind one blocking trait, generated from the core's list of operations.

macro_rules! client_trait {
    ([] $(
        $(#[$meta:meta])*
        fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $output:ty = |$flows:ident| $make:expr;
    )*) => {
        /// A Safire `SmartClient` with blocking calls (safire-hyper blocks on its runtime).
        #[allow(dead_code)]
        trait Client: Sized {
            fn new(config: ClientConfig) -> Result<Self, Error>;
            fn server_metadata(&self) -> Result<Arc<SmartMetadata>, Error>;
            $( $(#[$meta])* fn $name(&self, $($arg: $ty),*) -> Result<$output, Error>; )*
        }
    };
}
safire_core::client_operations!(client_trait);

/// `impl Client` for a wrapper with a `client` field, an inherent `build(config)` and an
/// inherent `wait(call)` that turns one call (a `Result`, or a future) into its `Result`.
macro_rules! impl_client {
    ([$wrapper:ident] $(
        $(#[$meta:meta])*
        fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $output:ty = |$flows:ident| $make:expr;
    )*) => {
        impl Client for $wrapper {
            fn new(config: ClientConfig) -> Result<Self, Error> {
                $wrapper::build(config)
            }
            fn server_metadata(&self) -> Result<Arc<SmartMetadata>, Error> {
                self.wait(self.client.server_metadata())
            }
            $(
                fn $name(&self, $($arg: $ty),*) -> Result<$output, Error> {
                    self.wait(self.client.$name($($arg),*))
                }
            )*
        }
    };
}

struct Ureq {
    client: safire_ureq::SmartClient,
}

impl Ureq {
    fn build(config: ClientConfig) -> Result<Self, Error> {
        safire_ureq::SmartClient::new(config).map(|client| Ureq { client })
    }
    fn wait<T>(&self, call: T) -> T {
        call
    }
}
safire_core::client_operations!(impl_client, Ureq);

struct Hyper {
    client: safire_hyper::SmartClient,
    runtime: tokio::runtime::Runtime,
}

impl Hyper {
    fn build(config: ClientConfig) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let client = runtime.block_on(async { safire_hyper::SmartClient::new(config) })?;
        Ok(Hyper { client, runtime })
    }
    fn wait<F: Future>(&self, call: F) -> F::Output {
        self.runtime.block_on(call)
    }
}
safire_core::client_operations!(impl_client, Hyper);

/// One `#[test]` per scenario and transport: `over_ureq::NAME`, `over_hyper::NAME`.
macro_rules! scenarios {
    ($($scenario:ident),* $(,)?) => {
        mod over_ureq {
            $( #[test] fn $scenario() { super::$scenario::<super::Ureq>(); } )*
        }
        mod over_hyper {
            $( #[test] fn $scenario() { super::$scenario::<super::Hyper>(); } )*
        }
    };
}

scenarios!(
    basic_not_url_decoded,
    reusable_codes,
    error_redirect_without_state,
    non_rfc_token_error_status,
    expires_in_string,
    scope_omitted,
    refresh_not_rotated,
    discovery_from_host_header,
    discovery_naming_another_loopback_origin,
);

// `request_access_token` takes the pending authorization by value: once redeemed, the value is
// gone (checked by the compiler; the async method is generated from the same list).
const _: fn(
    &safire_ureq::SmartClient,
    PendingAuthorization,
    &str,
    CallOptions,
) -> Result<TokenResponse, Error> = safire_ureq::SmartClient::request_access_token;

// ---------------------------------------------------------------------------------------------
// Helpers.

fn quirky(quirk: Quirk) -> Sandbox {
    Sandbox::builder().quirk(quirk).start().unwrap()
}

/// An app client of `base` (http on loopback allowed) asking for `scope`.
fn app_config(base: &str, client_id: &str, scope: &str) -> ClientConfigBuilder {
    ClientConfig::builder(base)
        .client_id(client_id)
        .redirect_uri(DEFAULT_REDIRECT_URI)
        .scopes(scope.split(' '))
        .allow_insecure_localhost(true)
}

/// The sandbox's pre-registered public app.
fn public_app<C: Client>(sb: &Sandbox) -> C {
    let id = &sb.clients().public.client_id;
    C::new(app_config(sb.fhir_base_url(), id, SCOPE).build().unwrap()).unwrap()
}

fn build<C: Client>(config: ClientConfigBuilder) -> C {
    C::new(config.build().unwrap()).unwrap()
}

/// What a browser does with the sandbox's auto-approval: one GET, and the redirect it answers.
fn approve(authorization_url: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent.get(authorization_url).call().unwrap();
    let location = response.headers().get("location").cloned();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    assert_eq!(response.status(), 302, "{body}");
    location.unwrap().to_str().unwrap().to_owned()
}

/// A standalone launch: authorization URL, approval, callback verified and code exchanged.
fn launch<C: Client>(client: &C) -> Result<TokenResponse, Error> {
    let request = client.authorization_url(AuthorizeParams::default())?;
    let callback = approve(request.url.as_str());
    client.request_access_token(request.pending, &callback, CallOptions::new())
}

/// `url` with its query parameter `name` set to `value`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut url = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.into()
}

fn has_warning(token: &TokenResponse, field: &str, says: &str) -> bool {
    token.findings.iter().any(|f| {
        f.severity == safire_core::Severity::Warning
            && f.field.as_deref() == Some(field)
            && f.message.contains(says)
    })
}

fn token_error(err: &Error) -> (Option<u16>, Option<&str>) {
    assert!(matches!(err, Error::Token(_)), "{err:?}");
    (err.status(), err.error_code())
}

// ---------------------------------------------------------------------------------------------
// The scenarios.

fn basic_not_url_decoded<C: Client>() {
    let sb = quirky(Quirk::BasicNotUrlDecoded);
    let app = sb.clients().symmetric.clone();
    let secret = app.client_secret.clone().unwrap();
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    assert_ne!(
        encoded, secret,
        "the sandbox's secrets change under the encoding"
    );

    // (a) Naive: RFC 6749 §2.3.1 Basic credentials are accepted. They are not.
    let (code, verifier) = code_for(&sb, &app.client_id, SCOPE);
    let raw = exchange_basic(&sb, &code, &verifier, &basic(&app.client_id, &secret));
    assert_eq!((raw.status, raw.error().as_str()), (401, "invalid_client"));

    // (b) Safire's default encoding: a typed invalid_client that names the way out...
    let config = app_config(sb.fhir_base_url(), &app.client_id, SCOPE);
    let rfc: C = build(
        config
            .clone()
            .client_auth(ClientAuth::client_secret_basic(secret.as_str())),
    );
    let err = launch(&rfc).unwrap_err();
    assert_eq!(token_error(&err), (Some(401), Some("invalid_client")));
    let message = err.to_string();
    assert!(message.contains("client_secret_basic_raw"), "{message}");
    assert!(!message.contains(&secret) && !message.contains(&encoded));
    // ...which works.
    let raw: C = build(config.client_auth(ClientAuth::client_secret_basic_raw(secret.as_str())));
    assert_eq!(launch(&raw).unwrap().scope.as_deref(), Some(SCOPE));
}

fn reusable_codes<C: Client>() {
    let sb = quirky(Quirk::ReusableCodes);
    let id = sb.clients().public.client_id.clone();

    // (a) Naive: a code cannot be redeemed twice. Here it can.
    let (code, verifier) = code_for(&sb, &id, SCOPE);
    assert_eq!(exchange(&sb, &id, &code, &verifier).status, 200);
    assert_eq!(exchange(&sb, &id, &code, &verifier).status, 200);

    // (b) Safire: redeeming consumes the pending authorization (see the `const _` above), so
    // one value redeems once. A copy (say, left in a session store) replayed with the same
    // callback is a well-formed request: this server accepts it and no client can tell.
    let (first, replay) = redeem_twice::<C>(&sb);
    let replay = replay.expect("this server redeems a code twice");
    assert_ne!(replay.access_token.expose(), first.access_token.expose());

    // The same replay at a strict server: invalid_grant. Delete stored copies once redeemed.
    let (_, replay) = redeem_twice::<C>(&Sandbox::builder().start().unwrap());
    let err = replay.unwrap_err();
    assert_eq!(token_error(&err), (Some(400), Some("invalid_grant")));
}

/// A launch whose callback is redeemed with the pending authorization, then again with a
/// copy of it kept before: (first token, outcome of the replay).
fn redeem_twice<C: Client>(sb: &Sandbox) -> (TokenResponse, Result<TokenResponse, Error>) {
    let client: C = public_app(sb);
    let request = client
        .authorization_url(AuthorizeParams::default())
        .unwrap();
    let callback = approve(request.url.as_str());
    let copy = request.pending.clone();
    let first = client
        .request_access_token(request.pending, &callback, CallOptions::new())
        .unwrap();
    let replay = client.request_access_token(copy, &callback, CallOptions::new());
    (first, replay)
}

fn error_redirect_without_state<C: Client>() {
    let sb = quirky(Quirk::ErrorRedirectWithoutState);
    let id = sb.clients().public.client_id.clone();

    // (a) Naive: an error redirect carries `state`. It does not.
    let (_, challenge) = pkce("e");
    let refused = authorize(&sb, &auth_params(&sb, &id, "superpowers", &challenge));
    assert_eq!(
        refused.location_param("error").as_deref(),
        Some("invalid_scope")
    );
    assert_eq!(refused.location_param("state"), None);

    // (b) Safire: the server's error, and that the redirect could not be tied to the request.
    let client: C = build(app_config(sb.fhir_base_url(), &id, "superpowers"));
    let err = launch(&client).unwrap_err();
    let Error::Authorization(auth) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(auth.kind, AuthErrorKind::Denied);
    assert_eq!(err.error_code(), Some("invalid_scope"));
    assert!(err.to_string().contains("no 'state' parameter"), "{err}");
    assert_eq!(sb.requests(Endpoint::Token), 0);
}

fn non_rfc_token_error_status<C: Client>() {
    let sb = quirky(Quirk::NonRfcTokenErrorStatus);
    let id = sb.clients().public.client_id.clone();

    // (a) Naive: invalid_grant comes with 400 (RFC 6749 §5.2). Here with 401.
    let (_, verifier) = code_for(&sb, &id, SCOPE);
    let raw = exchange(&sb, &id, "not-a-code", &verifier);
    assert_eq!((raw.status, raw.error().as_str()), (401, "invalid_grant"));

    // (b) Safire: the OAuth error code, whatever the status. A code the server does not know:
    let client: C = public_app(&sb);
    let request = client
        .authorization_url(AuthorizeParams::default())
        .unwrap();
    let callback = with_param(&approve(request.url.as_str()), "code", "not-a-code");
    let err = client
        .request_access_token(request.pending, &callback, CallOptions::new())
        .unwrap_err();
    assert_eq!(token_error(&err), (Some(401), Some("invalid_grant")));
    // An expired refresh token:
    let refresh_token = launch(&client).unwrap().refresh_token.unwrap();
    sb.advance_time(Duration::from_secs(25 * 3600));
    let err = client
        .refresh_token(refresh_token, CallOptions::new())
        .unwrap_err();
    assert_eq!(token_error(&err), (Some(403), Some("invalid_grant")));
}

fn expires_in_string<C: Client>() {
    let sb = quirky(Quirk::ExpiresInString);

    // (a) Naive: expires_in is a JSON number. It is a string.
    let raw = public_token(&sb, SCOPE);
    assert_eq!(raw["expires_in"].as_u64(), None);
    assert_eq!(raw["expires_in"], "3600");

    // (b) Safire reads it, and says what it tolerated.
    let token = launch(&public_app::<C>(&sb)).unwrap();
    assert_eq!(token.expires_in, Some(3600));
    assert!(token.expires_at.is_some());
    assert!(
        has_warning(&token, "expires_in", "sent as a string"),
        "{:?}",
        token.findings
    );
    // Backend services too, where expires_in is required.
    let backend = &sb.clients().backend;
    let key = PrivateKey::from_pem(backend.private_key_pem.as_deref().unwrap()).unwrap();
    let service: C = build(
        ClientConfig::builder(sb.fhir_base_url())
            .client_id(&backend.client_id)
            .client_auth(ClientAuth::private_key_jwt(
                key,
                backend.kid.clone().unwrap(),
            ))
            .allow_insecure_localhost(true),
    );
    let token = service
        .request_backend_token(CallOptions::new().scopes(["system/*.rs"]))
        .unwrap();
    assert_eq!(token.expires_in, Some(300));
    assert!(has_warning(&token, "expires_in", "sent as a string"));
}

fn scope_omitted<C: Client>() {
    let sb = quirky(Quirk::ScopeOmitted);

    // (a) Naive: the token response says which scope was granted. It says nothing.
    let raw = public_token(&sb, SCOPE);
    assert!(raw.get("scope").is_none(), "{raw}");

    // (b) Safire: RFC 6749 §5.1 — absent means "as requested" — with a finding.
    let client: C = public_app(&sb);
    let token = launch(&client).unwrap();
    assert_eq!(token.scope.as_deref(), Some(SCOPE));
    assert!(
        has_warning(&token, "scope", "RFC 6749 §5.1"),
        "{:?}",
        token.findings
    );
    // A refresh asking for no scope asks for the original grant, which only the caller knows:
    // no guess, and the missing field is reported.
    let refreshed = client
        .refresh_token(token.refresh_token.unwrap(), CallOptions::new())
        .unwrap();
    assert_eq!(refreshed.scope, None);
    assert!(
        refreshed
            .findings
            .iter()
            .any(|f| f.field.as_deref() == Some("scope")),
        "{:?}",
        refreshed.findings
    );
    // A narrower refresh is read as what it asked for.
    let narrower = client
        .refresh_token(
            refreshed.refresh_token.unwrap(),
            CallOptions::new().scopes(["patient/*.rs"]),
        )
        .unwrap();
    assert_eq!(narrower.scope.as_deref(), Some("patient/*.rs"));
}

fn refresh_not_rotated<C: Client>() {
    let sb = quirky(Quirk::RefreshNotRotated);
    let id = sb.clients().public.client_id.clone();

    // (a) Naive: a refresh rotates the refresh token and voids the old one. It does neither:
    // the old one comes back, and keeps working.
    let raw = public_token(&sb, SCOPE);
    let old = raw["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&sb, &id, old).json()["refresh_token"], old);
    assert_eq!(refresh(&sb, &id, old).status, 200);

    // (b) Safire: refreshing twice with the same token works, and each response hands back
    // the refresh token as sent (a caller that always keeps the latest one stays right).
    let client: C = public_app(&sb);
    let refresh_token = launch(&client).unwrap().refresh_token.unwrap();
    let mut access_tokens = Vec::new();
    for _ in 0..2 {
        let refreshed = client
            .refresh_token(refresh_token.clone(), CallOptions::new())
            .unwrap();
        let kept = refreshed.refresh_token.as_ref().map(|t| t.expose());
        assert_eq!(kept, Some(refresh_token.expose()));
        access_tokens.push(refreshed.access_token.expose().to_owned());
    }
    assert_ne!(access_tokens[0], access_tokens[1]);
}

/// A reverse proxy on `listener` in front of `upstream` that forwards every request with
/// `Host: {host}`, like a proxy that does not pass the public host on (one request per
/// connection; bodies by `Content-Length`).
fn host_rewriting_proxy(listener: TcpListener, upstream: SocketAddr, host: String) {
    std::thread::spawn(move || {
        for downstream in listener.incoming() {
            let Ok(downstream) = downstream else { return };
            let _ = forward(downstream, upstream, &host);
        }
    });
}

fn forward(mut downstream: TcpStream, upstream: SocketAddr, host: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(downstream.try_clone()?);
    let mut head = String::new();
    reader.read_line(&mut head)?;
    let mut content_length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if name == "content-length" {
            content_length = line[name.len() + 1..].trim().parse().unwrap_or(0);
        }
        if name != "host" && name != "connection" {
            head.push_str(&line);
        }
    }
    head.push_str(&format!("Host: {host}\r\nConnection: close\r\n\r\n"));
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body)?;
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(head.as_bytes())?;
    up.write_all(&body)?;
    std::io::copy(&mut up, &mut downstream)?;
    Ok(())
}

/// A sandbox with [`Quirk::DiscoveryFromHostHeader`] published at a proxy's URL (its
/// configured base), the proxy forwarding `Host: {host}`. Returns the sandbox and its base.
fn behind_proxy(host: impl FnOnce(SocketAddr) -> String) -> (Sandbox, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let sb = Sandbox::builder()
        .public_base_url(&base)
        .quirk(Quirk::DiscoveryFromHostHeader)
        .start()
        .unwrap();
    host_rewriting_proxy(listener, sb.local_addr(), host(sb.local_addr()));
    (sb, base)
}

fn discovery(base: &str) -> Value {
    let url = format!("{base}/.well-known/smart-configuration");
    let body = ureq::get(&url).call().unwrap().body_mut().read_to_string();
    serde_json::from_str(&body.unwrap()).unwrap()
}

fn discovery_from_host_header<C: Client>() {
    // The proxy forwards the upstream's own name, as HAPI-behind-a-proxy setups do.
    let (sb, base) = behind_proxy(|_| "ehr.internal:8080".into());
    let id = sb.clients().public.client_id.clone();

    // (a) Naive: discovered endpoints are under the configured FHIR base. They are not.
    let doc = discovery(&base);
    assert_eq!(doc["token_endpoint"], "http://ehr.internal:8080/fhir/token");
    assert_ne!(doc["token_endpoint"], sb.token_url());

    // (b) Safire: plain http off loopback, advertised by the server, is refused before
    // anything is sent there, and blamed on the server (issue 11.12).
    let client: C = build(app_config(&base, &id, SCOPE));
    let err = client
        .authorization_url(AuthorizeParams::default())
        .unwrap_err();
    assert!(matches!(err, Error::Discovery(_)), "{err:?}");
    assert_eq!(err.source_of_fault(), safire_core::ErrorSource::Server);
    assert!(
        err.to_string()
            .contains("authorization_endpoint http://ehr.internal:8080/fhir/authorize"),
        "{err}"
    );
    let err = client
        .refresh_token("rt-unused", CallOptions::new())
        .unwrap_err();
    assert!(err.to_string().contains("token_endpoint"), "{err}");
    assert_eq!(sb.requests(Endpoint::Token), 0);

    // Coping is a decision the app makes with what it knows: the real endpoints and issuer.
    let client: C = build(
        app_config(&base, &id, SCOPE)
            .authorization_endpoint(format!("{base}/authorize"))
            .token_endpoint(format!("{base}/token"))
            .authorization_server_issuer(&base),
    );
    assert_eq!(launch(&client).unwrap().scope.as_deref(), Some(SCOPE));
}

fn discovery_naming_another_loopback_origin<C: Client>() {
    // The proxy forwards the upstream's loopback address: reachable, allowed on loopback.
    let (sb, base) = behind_proxy(|upstream| upstream.to_string());
    let id = sb.clients().public.client_id.clone();
    let internal = format!("http://{}/fhir", sb.local_addr());

    // (a) Naive: discovered endpoints are under the configured FHIR base. Not even the issuer.
    let doc = discovery(&base);
    assert_eq!(doc["issuer"], internal.as_str());
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{internal}/authorize")
    );

    // (b) Safire: the callback's RFC 9207 `iss` (the configured base) is not the issuer that
    // discovery named, so the callback is refused and its code never redeemed.
    let client: C = build(app_config(&base, &id, SCOPE));
    let err = launch(&client).unwrap_err();
    let Error::Authorization(auth) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(auth.kind, AuthErrorKind::IssuerMismatch, "{err}");
    assert_eq!(sb.requests(Endpoint::Token), 0);

    // Told the real issuer, the client completes the launch (at the discovered endpoints).
    let client: C = build(app_config(&base, &id, SCOPE).authorization_server_issuer(&base));
    assert_eq!(launch(&client).unwrap().scope.as_deref(), Some(SCOPE));
    assert_eq!(sb.requests(Endpoint::Token), 1);
}
