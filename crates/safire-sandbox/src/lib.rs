//! # safire-sandbox
//!
//! An embeddable, **strict** SMART App Launch 2.2 authorization server for
//! development and tests. It listens on `127.0.0.1`, runs its own tokio
//! runtime on a background thread (so blocking and async tests can both embed
//! it), and stops when the [`Sandbox`] is dropped. It is an independent
//! implementation: it shares no code with the safire client crates, so it can
//! catch their bugs instead of mirroring them.
//!
//! ## A test in five lines
//!
//! ```
//! use safire_sandbox::{Endpoint, Sandbox};
//!
//! let sandbox = Sandbox::builder().start()?;
//! let base = sandbox.fhir_base_url(); // e.g. http://127.0.0.1:40123/fhir
//! let app = &sandbox.clients().public; // pre-registered public client
//! // ... point your SMART client at `base` with `app.client_id` and run it ...
//! assert!(base.ends_with("/fhir") && !app.client_id.is_empty());
//! assert_eq!(sandbox.requests(Endpoint::Token), 0);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## Endpoints
//!
//! All below the FHIR base URL `{base}` (which is also the `iss` returned
//! with every authorization response, RFC 9207, and the only accepted `aud`):
//!
//! | endpoint | method | what |
//! |---|---|---|
//! | `{base}/.well-known/smart-configuration` | GET | discovery; advertises only what is implemented |
//! | `{base}/smart-style.json` | GET | the default `smart_style_url` (SMART styling document) |
//! | `{base}/authorize` | GET query, POST form | auto-approving authorization endpoint |
//! | `{base}/token` | POST form | `authorization_code`, `refresh_token`, `client_credentials` |
//! | `{base}/register` | POST JSON | RFC 7591 dynamic registration (open or initial access token) |
//! | `{base}/register/<client_id>` | GET, PUT JSON, DELETE | RFC 7592 client configuration (registration access token) |
//! | `{base}/introspect` | POST form | RFC 7662 + SMART introspection, confidential clients only |
//! | `{base}/revoke` | POST form | RFC 7009 revocation (client authenticated as at the token endpoint) |
//! | `{base}/launch` | GET query | EHR launcher: starts an EHR launch for a registered app |
//! | `{base}/Patient/<id>` | GET, Bearer | minimal FHIR read ([`Endpoint::FhirPatient`]) |
//! | `{base}/.well-known/jwks.json` | GET | `jwks_uri`: the id_token signing keys |
//! | `{base}/.well-known/openid-configuration` | GET | OpenID Connect discovery |
//! | `{base}/launcher` | GET | EHR launcher HTML page (submits to `{base}/launch`) |
//! | `{base}/interact` | POST form | interactive mode steps: login, patient picker, consent |
//!
//! **FHIR read.** `GET {base}/Patient/<id>` serves a few built-in patients
//! (`sandbox-patient-1` Amy Shaw 1987-02-20, `sandbox-patient-2`,
//! `sandbox-patient-3`; add more with [`SandboxBuilder::fhir_patient`]) as
//! FHIR R4 JSON (`application/fhir+json`). The bearer token must be known,
//! not revoked and not expired (else `401` with `WWW-Authenticate: Bearer
//! error="invalid_token"`; no token at all is a bare `Bearer` challenge).
//! A scope must allow the read (else `403` `insufficient_scope`):
//! `patient/Patient.r`, `.rs`, `.read`, `.*` or `patient/*.…` only for the
//! token's own `patient` context; `user/` and `system/` equivalents for any
//! patient; scopes with a `?query` never grant a read by id. Unknown ids are
//! `404` (an `OperationOutcome`). Access-token lifetime:
//! [`SandboxBuilder::access_token_lifetime`] (binary
//! `--access-token-lifetime SECONDS`).
//!
//! No other FHIR resources are served.
//!
//! **OpenID Connect** (`sso-openid-connect`). When `openid` is granted, the
//! token response (code exchange and refresh) carries an `id_token`: a
//! compact JWS, `alg` RS256, `typ` JWT, `kid` of the sandbox's own RSA-2048
//! key, with `iss` (`{base}`, also the discovery `issuer`), `sub`, `aud` (the
//! client id), `exp`, `iat`, `auth_time`, `nonce` (the authorization
//! request's, byte-exact; never on refresh, OIDC Core §12.2), `fhirUser`
//! (absolute URL, only with scope `fhirUser` and a user in the launch
//! context, e.g. `Practitioner/…` or `Patient/…`) and `name` (scope
//! `profile`). The key is generated on first use (seconds in debug builds)
//! unless given with [`SandboxBuilder::id_token_signing_key_pem`]; it is
//! published at `jwks_uri` = `{base}/.well-known/jwks.json`, and
//! `{base}/.well-known/openid-configuration` serves OIDC discovery.
//! [`Sandbox::rotate_signing_key`] / [`Sandbox::rotate_signing_key_pem`]
//! switch to a new key with a new `kid` (the JWKS keeps the previous key
//! too); [`Sandbox::signing_kid`] tells the current one.
//!
//! ## Discovery tells the truth
//!
//! Every advertised capability is implemented (a test walks the list).
//! `authorization_response_iss_parameter_supported` is `true` because `iss`
//! is on every authorization response; `issuer` is published only together
//! with `sso-openid-connect`. `context-style`: app token responses carry
//! `smart_style_url` (the launch context's, else
//! [`SandboxBuilder::smart_style_url`], else `{base}/smart-style.json`).
//! Every `401` carries `WWW-Authenticate` (`Basic` for client
//! authentication, `Bearer` for bearer tokens). Redirect URIs match exactly,
//! except that an `http` loopback IP literal (`127.0.0.1`, `[::1]`) matches
//! with any port (RFC 8252 §7.3); `localhost` is matched exactly.
//!
//! ## Strictness
//!
//! **Authorize.** Unknown `client_id`, missing or not exactly registered
//! `redirect_uri` → `400` JSON, never a redirect. Everything else is redirected
//! back as `error`, `error_description`, `state`, `iss`:
//! `response_type` must be `code` (`unsupported_response_type`); `state`,
//! `scope`, `aud` (== `{base}` exactly), `code_challenge` and
//! `code_challenge_method=S256` are required (`invalid_request`; `plain` is
//! rejected); repeated parameters → `invalid_request`; unknown or `system/`
//! scopes → `invalid_scope`; a `launch` parameter needs the `launch` scope
//! (`invalid_scope`), scope `launch` needs a `launch` parameter and an unknown
//! `launch` value is `invalid_request`; clients not registered for
//! `authorization_code` → `unauthorized_client`; deny mode → `access_denied`.
//! `state` must be printable ASCII (RFC 6749 Appendix A.5 VSCHAR): anything
//! else (bytes that are not UTF-8, control characters, non-ASCII) is
//! `invalid_request` without `state`, never echoed altered; a valid `state`
//! comes back byte-exact.
//! Success: `302` to the redirect URI with `code`, `state`, `iss`.
//!
//! **Scopes are down-scoped, not refused.** An app client gets at most what
//! it is registered for ([`ClientRegistration::scope`]; empty means every
//! launch, identity, `offline_access`/`online_access`, `patient/` and
//! `user/` scope): requested scopes its registration does not cover are
//! dropped and the token response's `scope` says what was granted (RFC 6749
//! §3.3), so a client that ignores the granted scope is caught. If nothing
//! requested is covered, the answer is `invalid_scope`. (Backend
//! `client_credentials` requests are refused with `invalid_scope` instead.)
//!
//! **EHR launch values** are single use (any presentation consumes them),
//! expire after 5 minutes, and when made for a client
//! ([`Sandbox::ehr_launch_for_client`], the `{base}/launch` launcher) are
//! accepted only from that client (`invalid_request`).
//!
//! **Token.** Form POST only, parameters never in the query and never
//! repeated (`invalid_request`); unknown `grant_type` → `unsupported_grant_type`.
//! Client authentication is verified for real (failures → `401
//! invalid_client`, with `WWW-Authenticate: Basic` where Basic applies):
//! - `client_secret_basic` with the RFC 6749 §2.3.1 form-encoding of id and
//!   secret, decoded strictly (raw credentials whose secret contains
//!   `+ % / :` … fail; see [`Quirk::BasicNotUrlDecoded`]). Every secret the
//!   sandbox issues contains characters that the encoding changes, so a
//!   client that skips it fails here rather than in production;
//! - public clients send `client_id` in the body and must not send a secret;
//! - `private_key_jwt`: `client_assertion_type` must be the JWT-bearer URN;
//!   `alg` RS384 or ES384 only (`none`, `HS*`, `RS256` … rejected), `kid`
//!   required and looked up in the registered JWKS, header `typ` must be
//!   `JWT` (missing or `at+jwt` … rejected), `iss` == `sub` ==
//!   client_id, `aud` == `{base}/token`, `exp` in the future and at most
//!   300 s ahead, `jti` single use (replay → `invalid_client`).
//! - more than one method at once → `invalid_request`; `client_secret_post`
//!   is not supported.
//!
//! Authorization codes live 60 s and are single use: a replay is
//! `invalid_grant` **and revokes every token issued from that code**.
//! `redirect_uri` must equal the authorize one, the PKCE `code_verifier` must
//! be 43–128 unreserved characters with `BASE64URL(SHA256(verifier))` equal
//! to the challenge (else `invalid_grant`).
//!
//! A refresh token is issued **only when the granted scope contains
//! `offline_access` or `online_access` and the client is registered for the
//! `refresh_token` grant** (the `refresh_token` grant of a client not
//! registered for it is `unauthorized_client`). Refresh tokens rotate by default:
//! the old one becomes `invalid_grant`, and presenting a rotated token again
//! revokes the whole grant. A narrower `scope` on refresh must be covered by
//! the original grant (else `invalid_scope`).
//!
//! `client_credentials` is for `private_key_jwt` clients registered for that
//! grant (else `unauthorized_client`); every requested scope must be a
//! `system/` scope covered by the client's registered scope (else
//! `invalid_scope`); backend tokens live at most 300 s and have no refresh
//! token. Token responses carry `Cache-Control: no-store` and the bound
//! launch context (`patient`, `encounter`, `fhirContext`,
//! `need_patient_banner`, `smart_style_url`, `intent`).
//!
//! **Registration.** With [`SandboxBuilder::initial_access_token`] a missing
//! or wrong Bearer token is `401 invalid_token`. `redirect_uris` must be
//! https (http only for loopback) without fragment (`invalid_redirect_uri`);
//! `token_endpoint_auth_method` ∈ `none`, `client_secret_basic` (the default),
//! `private_key_jwt`; `private_key_jwt` needs an inline `jwks` (`jwks_uri` is
//! rejected) of RSA ≥ 2048-bit or EC P-384 public keys with a `kid`
//! (otherwise `invalid_client_metadata`). `grant_types` ⊆
//! `authorization_code`, `refresh_token` (only with `authorization_code`),
//! `client_credentials`; `scope` must be SMART scopes (`system/` only with
//! `client_credentials`, the others only with `authorization_code`).
//! Server-assigned members (`client_id`, `client_secret`,
//! `client_secret_expires_at`, …) are never taken from the request.
//!
//! **Revocation** (RFC 7009). The client authenticates as at the token
//! endpoint (public clients with `client_id`). `token_type_hint` is optional
//! and not trusted (the token is looked up everywhere). Revoking a refresh
//! token revokes its whole grant (its access tokens become inactive at
//! introspection and `401` at the FHIR endpoint, the refresh token
//! `invalid_grant`); revoking an access token revokes that token. Unknown
//! tokens: `200`. A token of another client: `400 invalid_request`.
//!
//! **Introspection** (RFC 7662, SMART 2.2 profile). Confidential clients
//! only (`401 invalid_client` otherwise). Inactive, expired, revoked or
//! unknown tokens are `{"active": false}`; active ones carry `active`,
//! `scope`, `client_id`, `exp`, `iat` (access tokens), `sub` (the user,
//! derived from `fhirUser`; the client for backend tokens), `aud` and `iss`
//! (both `{base}`), `token_type` (`Bearer`, or `refresh_token`), `patient`,
//! `encounter`, `fhirContext`, `fhirUser` (absolute URL).
//!
//! **Client configuration** (RFC 7592). Registration responses carry
//! `registration_client_uri` (`{base}/register/<client_id>`) and
//! `registration_access_token`. With that Bearer token: `GET` reads the
//! configuration; `PUT` replaces it (body with the same `client_id`, and the
//! current `client_secret` if any; validated like a registration; the secret
//! and the token are kept); `DELETE` removes the client and revokes its
//! tokens (`204`). A wrong or missing token, or an unknown client, is `401
//! invalid_token` with a `Bearer` challenge. Pre-registered clients have no
//! registration access token.
//!
//! ## Interactive mode (browsers)
//!
//! Auto-approval is the default. With [`SandboxBuilder::interactive`]
//! (binary `--interactive`) the authorization endpoint, once the request is
//! valid, answers with server-rendered HTML (no JavaScript): a login page
//! (users `clinician` / `sandbox`, and `amy` / `sandbox`, the patient
//! `sandbox-patient-1`, who is then her own patient and `fhirUser`), a
//! patient picker (standalone launches asking for `launch/patient`, not
//! for `amy` nor EHR launches), and a consent page listing the granted
//! scopes with Approve / Deny. Approve redirects with `code`, `state`,
//! `iss`; Deny with `error=access_denied`. Each step is a form POST to
//! `{base}/interact` with the pending request's unguessable id (10 minutes,
//! single use; out-of-order or unknown steps are a `400` page). Every value
//! shown is HTML-escaped. `{base}/launcher` is an EHR launcher page that
//! opens a registered app with `iss` and a fresh `launch`.
//!
//! ## Launch context and EHR launch
//!
//! [`SandboxBuilder::launch_context`] sets the context for standalone
//! launches (`patient` only with scope `launch/patient`, `encounter` only with
//! `launch/encounter`). [`Sandbox::ehr_launch`] and
//! [`Sandbox::ehr_launch_for_client`] return the URL an EHR would open; its
//! `launch` value binds the given context. Over HTTP (e.g. with the binary),
//! `GET {base}/launch?client_id=ID&launch_uri=URL[&patient=P][&encounter=E]`
//! redirects to `URL?iss={base}&launch=…` (without `launch_uri` it answers
//! JSON `{"iss", "launch", "expires_in"}`).
//!
//! ## Pre-registered clients
//!
//! [`Sandbox::clients`] holds one client of each kind, with fresh
//! credentials per sandbox (keys from the OS RNG): `public`, `symmetric`
//! (`client_secret_basic`, [`ClientInfo::client_secret`]), `asymmetric`
//! (ES384 `private_key_jwt`, [`ClientInfo::private_key_pem`] PKCS#8 and
//! [`ClientInfo::kid`]), optionally `asymmetric_rs384`
//! ([`SandboxBuilder::rs384_client`]) and `backend` (ES384,
//! `client_credentials`, registered for `system/*.rs system/*.read`). App
//! clients accept the redirect URI [`DEFAULT_REDIRECT_URI`] unless
//! [`SandboxBuilder::redirect_uris`] says otherwise. Add your own with
//! [`SandboxBuilder::register_client`] / [`Sandbox::register_client`].
//!
//! ## Binary
//!
//! `cargo run -p safire-sandbox -- --port 0 [--rs384] [--redirect-uri URI]...
//! [--initial-access-token T] [--quirk NAME]... [--access-token-lifetime SECONDS]
//! [--interactive]`
//! prints the base URL, the EHR launcher URL and the clients, writes
//! their private keys as PEM files to `$TMPDIR/safire-sandbox-PORT/`, and runs
//! until Ctrl-C.
//!
//! ## Quirk profiles
//!
//! Strict is the default. [`SandboxBuilder::quirk`] (repeatable; binary:
//! `--quirk NAME`, repeatable) switches on one named behaviour of real
//! servers that clients must survive, each documented on [`Quirk`] with the
//! server family it imitates: `basic-not-url-decoded`, `reusable-codes`,
//! `error-redirect-without-state`, `non-rfc-token-error-status`,
//! `expires-in-string`, `scope-omitted`, `refresh-not-rotated`,
//! `discovery-from-host-header`. A quirk never switches on by itself.
//!
//! ```
//! use safire_sandbox::{Quirk, Sandbox};
//!
//! let sandbox = Sandbox::builder()
//!     .quirk(Quirk::ExpiresInString)
//!     .quirk(Quirk::RefreshNotRotated)
//!     .start()?;
//! # drop(sandbox);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## Fault injection and observation
//!
//! ```
//! use std::time::Duration;
//! use safire_sandbox::{Endpoint, Fault, Sandbox};
//!
//! let sandbox = Sandbox::builder().start()?;
//! sandbox.faults()
//!     .fail_next(Endpoint::Token, 2, Fault::OAuth { status: 400, error: "invalid_grant" })
//!     .fail_next(Endpoint::Token, 1, Fault::Delay(Duration::from_millis(200)))
//!     .fail_next(Endpoint::SmartConfiguration, 1, Fault::MalformedJson)
//!     .fail_next(Endpoint::Authorize, 1, Fault::Redirect {
//!         status: 302,
//!         location: "https://elsewhere.example/".into(),
//!     });
//! assert_eq!(sandbox.requests(Endpoint::Token), 0);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Faults for one endpoint are consumed in order; each request to an
//! endpoint is counted ([`Sandbox::requests`]) whether or not it was faulted.
//! The clock is injectable ([`SandboxBuilder::fixed_time`],
//! [`Sandbox::set_time`], [`Sandbox::advance_time`]) to test expiry.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod builder;
mod jose;
mod keys;
mod oauth;
mod server;
mod types;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

pub use builder::SandboxBuilder;
pub use types::{
    ClientAuth, ClientInfo, ClientKind, ClientRegistration, Clients, Endpoint, Fault,
    LaunchContext, Quirk,
};

use oauth::{ClientRecord, Shared};

/// Default redirect URI of the pre-registered app clients.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// `app_launch_url` with `iss` and `launch` appended to its query.
pub(crate) fn launch_url(app_launch_url: &str, iss: &str, launch: &str) -> String {
    match url::Url::parse(app_launch_url) {
        Ok(mut u) => {
            u.query_pairs_mut()
                .append_pair("iss", iss)
                .append_pair("launch", launch);
            u.to_string()
        }
        Err(_) => {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("iss", iss)
                .append_pair("launch", launch)
                .finish();
            let sep = if app_launch_url.contains('?') {
                '&'
            } else {
                '?'
            };
            format!("{app_launch_url}{sep}{query}")
        }
    }
}

/// A running sandbox authorization server. Stops when dropped.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    clients: Clients,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("fhir_base_url", &self.shared.cfg.base)
            .field("local_addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Runtime handle for fault injection (see [`Sandbox::faults`]).
#[derive(Clone)]
pub struct Faults {
    shared: Arc<Shared>,
}

impl Faults {
    /// Make the next `count` requests to `endpoint` misbehave with `fault`
    /// (queued after faults already pending for that endpoint).
    pub fn fail_next(&self, endpoint: Endpoint, count: usize, fault: Fault) -> &Self {
        if count > 0 {
            self.shared
                .faults()
                .entry(endpoint)
                .or_default()
                .push_back((count, fault));
        }
        self
    }
    /// How many faulted requests are still pending for `endpoint`.
    pub fn pending(&self, endpoint: Endpoint) -> usize {
        self.shared
            .faults()
            .get(&endpoint)
            .map(|q| q.iter().map(|(n, _)| n).sum())
            .unwrap_or(0)
    }
    /// Drop all pending faults.
    pub fn clear(&self) {
        self.shared.faults().clear();
    }
}

impl Sandbox {
    /// A builder with defaults.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// The FHIR base URL, e.g. `http://127.0.0.1:PORT/fhir` (also the issuer).
    pub fn fhir_base_url(&self) -> &str {
        &self.shared.cfg.base
    }

    /// Full URL of one endpoint.
    pub fn url(&self, endpoint: Endpoint) -> String {
        self.shared.cfg.url(endpoint)
    }

    /// The token endpoint URL (the `aud` of client assertions).
    pub fn token_url(&self) -> String {
        self.url(Endpoint::Token)
    }

    /// The authorization endpoint URL.
    pub fn authorize_url(&self) -> String {
        self.url(Endpoint::Authorize)
    }

    /// The socket the server listens on (127.0.0.1).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The pre-registered clients and their credentials.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Register another client while running.
    pub fn register_client(&self, client: ClientRegistration) -> Result<(), String> {
        let rec = ClientRecord::from_registration(&client)?;
        self.shared
            .state()
            .clients
            .insert(client.client_id.clone(), rec);
        Ok(())
    }

    /// The URL an EHR would open to launch the app at `app_launch_url`:
    /// `app_launch_url?iss=<base>&launch=<opaque>`. An authorization request
    /// with scope `launch` and that `launch` value gets `context` bound. The
    /// value is single use and expires after 5 minutes; any client may use it
    /// (see [`Sandbox::ehr_launch_for_client`] to bind it to one).
    pub fn ehr_launch(&self, app_launch_url: &str, context: LaunchContext) -> String {
        let launch = oauth::new_launch(&self.shared, context, None);
        launch_url(app_launch_url, &self.shared.cfg.base, &launch)
    }

    /// Like [`Sandbox::ehr_launch`], but the `launch` value is accepted only
    /// in an authorization request of `client_id` (others get
    /// `invalid_request`).
    pub fn ehr_launch_for_client(
        &self,
        client_id: &str,
        app_launch_url: &str,
        context: LaunchContext,
    ) -> String {
        let launch = oauth::new_launch(&self.shared, context, Some(client_id));
        launch_url(app_launch_url, &self.shared.cfg.base, &launch)
    }

    /// Rotate the id_token signing key to a freshly generated RSA-2048 key
    /// (slow in debug builds) and return its new `kid`. The JWKS then lists
    /// the new key first and keeps the previous one, so id_tokens issued
    /// before still verify.
    pub fn rotate_signing_key(&self) -> io::Result<String> {
        let key = keys::generate_rsa()?;
        Ok(self.install_signing_key(key))
    }

    /// Like [`Sandbox::rotate_signing_key`], with a given RSA private key
    /// (PKCS#8 PEM, ≥ 2048 bits).
    pub fn rotate_signing_key_pem(&self, pem: &str) -> io::Result<String> {
        let key = oauth::parse_rsa_pem(pem)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(self.install_signing_key(key))
    }

    fn install_signing_key(&self, key: rsa::RsaPrivateKey) -> String {
        self.shared
            .signing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .install(key)
    }

    /// The `kid` id_tokens are signed with now (generating the key if none
    /// exists yet).
    pub fn signing_kid(&self) -> io::Result<String> {
        let keys = self
            .shared
            .signing_keys()
            .map_err(|e| io::Error::other(e.description))?;
        Ok(keys
            .current
            .as_ref()
            .map(|k| k.kid.clone())
            .unwrap_or_default())
    }

    /// Fault-injection handle.
    pub fn faults(&self) -> Faults {
        Faults {
            shared: self.shared.clone(),
        }
    }

    /// How many requests reached `endpoint` (faulted ones included).
    pub fn requests(&self, endpoint: Endpoint) -> usize {
        self.shared.counters().get(&endpoint).copied().unwrap_or(0)
    }

    /// Reset all request counters to zero.
    pub fn reset_requests(&self) {
        self.shared.counters().clear();
    }

    /// Toggle deny mode: authorization requests get `access_denied`.
    pub fn set_deny(&self, deny: bool) {
        self.shared.deny.store(deny, Ordering::SeqCst);
    }

    /// The sandbox's current Unix time in seconds.
    pub fn now(&self) -> u64 {
        self.shared.now()
    }

    /// Freeze the clock at `unix_seconds`.
    pub fn set_time(&self, unix_seconds: u64) {
        if let Ok(mut c) = self.shared.clock.lock() {
            c.fixed = Some(unix_seconds);
            c.offset = 0;
        }
    }

    /// Move the clock forward (fixed or system-based).
    pub fn advance_time(&self, by: Duration) {
        if let Ok(mut c) = self.shared.clock.lock() {
            let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
            c.offset = c.offset.saturating_add(secs);
        }
    }

    /// Stop the server and wait for its thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_now();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn handles_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Sandbox>();
        assert_send_sync::<super::Faults>();
        assert_send_sync::<super::SandboxBuilder>();
    }
}
