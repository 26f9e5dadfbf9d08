//! # safire-ureq
//!
//! The blocking SMART on FHIR client: [`safire_core`]'s flows sent over [`ureq`] 3 with rustls.
//!
//! All protocol logic (discovery, PKCE, client authentication, redirect policy, response
//! parsing) lives in `safire-core`; this crate only moves the bytes the core's
//! [`Driver`] asks for, enforcing [`Limits`] (connect and whole-request
//! timeouts, a response body cap) on the way.
//!
//! ## Backend services
//!
//! ```no_run
//! use std::sync::Arc;
//! use safire_ureq::SmartClient;
//! use safire_ureq::safire_core::{CallOptions, ClientAuth, ClientConfig, Signer};
//!
//! # fn run(signer: impl Signer + 'static) -> Result<(), safire_ureq::Error> {
//! // `signer` is the client's ES384 or RS384 key (any `safire_core::Signer`).
//! let config = ClientConfig::builder("https://ehr.example/fhir")
//!     .client_id("bulk-export-service")
//!     .scopes(["system/Patient.rs", "system/Observation.rs"])
//!     .client_auth(ClientAuth::private_key_jwt(signer, "key-2024-01"))
//!     .build()?;
//! let client = SmartClient::new(config)?;
//! // Discovers the token endpoint once, signs a fresh assertion, posts client_credentials.
//! let token = client.request_backend_token(CallOptions::new())?;
//! println!("token expires in {:?} s", token.expires_in);
//! let _bearer = token.access_token.expose(); // send as `Authorization: Bearer …`
//! # Ok(()) }
//! ```
//!
//! ## Standalone launch: redirect, then handle the callback
//!
//! ```no_run
//! use safire_ureq::SmartClient;
//! use safire_ureq::safire_core::{
//!     AuthorizeParams, CallOptions, ClientConfig, PendingAuthorization, TokenResponse,
//! };
//!
//! fn client() -> Result<SmartClient, safire_ureq::Error> {
//!     let config = ClientConfig::builder("https://ehr.example/fhir")
//!         .client_id("my-app")
//!         .redirect_uri("https://app.example/callback")
//!         .scopes(["openid", "fhirUser", "launch/patient", "patient/*.rs"])
//!         .build()?;
//!     SmartClient::new(config)
//! }
//!
//! /// Step 1: send the browser to `request.url` and keep `request.pending` in the session
//! /// (it serializes; its secrets are redacted from `Debug`).
//! fn login(client: &SmartClient) -> Result<(String, PendingAuthorization), safire_ureq::Error> {
//!     let request = client.authorization_url(AuthorizeParams::default())?;
//!     Ok((request.url.to_string(), request.pending))
//! }
//!
//! /// Step 2: the EHR redirects back to the `redirect_uri`. State, `iss` and errors are checked
//! /// against what was stored before the code is exchanged (with its PKCE verifier).
//! fn callback(
//!     client: &SmartClient,
//!     callback_url: &str,
//!     pending: PendingAuthorization,
//! ) -> Result<TokenResponse, safire_ureq::Error> {
//!     let token = client.request_access_token(pending, callback_url, CallOptions::new())?;
//!     if let Some(patient) = &token.launch.patient {
//!         println!("launched for patient {patient}");
//!     }
//!     // The id_token was verified (server's JWK Set, iss, aud, times, nonce): who signed in.
//!     if let Some(user) = token.identity.as_ref().and_then(|id| id.fhir_user.as_ref()) {
//!         println!("signed in as {} ({})", user.reference(), user.url());
//!     }
//!     Ok(token)
//! }
//! # let c = client().unwrap();
//! # let (_url, pending) = login(&c).unwrap();
//! # callback(&c, "https://app.example/callback?code=x&state=y", pending).unwrap();
//! ```
//!
//! ## Sessions
//!
//! [`SmartSession`] keeps a [`Session`] valid behind the client: `access_token()` refreshes (a
//! user session) or signs a new assertion (a backend one) before expiry, with one token
//! request however many callers ask at once; `send`/`get` attach the bearer token only to URLs
//! under the session's FHIR base and refresh once on a 401; `on_change` sees every rotated
//! session to persist; a shared store ([`SmartSessionBuilder::store`]) lets a fleet of
//! processes renew once between them. See [`SmartSession`] for a runnable example against the
//! sandbox.
//!
//! ## Behaviour on the wire
//!
//! - Redirects are never followed by ureq: the core's redirect policy decides (token and
//!   registration POSTs are never redirected; discovery follows at most
//!   [`Limits::redirects`] hops, https only, dropping `Authorization` across origins).
//! - Every status reaches the core, which turns error bodies into typed errors.
//! - [`Limits::connect_timeout`] bounds opening a connection, [`Limits::call_timeout`] the
//!   whole exchange up to the last body byte; [`Limits::max_response_bytes`] caps the body,
//!   which is read incrementally and abandoned at the cap.
//! - TLS is rustls with Mozilla's roots, plus any root added with
//!   [`SmartClientBuilder::add_root_certificate_pem`].
//! - All clones of a [`SmartClient`] share one connection pool.
//!
//! ## Logging
//!
//! Each request emits one `tracing` event at DEBUG (target `safire_ureq::transport`) with the
//! method, the URL without its query, the status or error, and the duration; never header
//! values or bodies.
//!
//! ureq itself logs through the `log` crate. At DEBUG it redacts header values and paths, but
//! at **TRACE** `ureq_proto` hex-dumps the raw request, Authorization header and form body
//! included (client secrets, codes, tokens). Keep the `ureq` and `ureq_proto` log targets at
//! DEBUG or lower in any environment whose logs are not secret.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// `safire_core::Error` carries structured OAuth fields; see the note in safire-core.

mod resolve;
mod session;
mod transport;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use safire_core::transport::{
    BuildClient, ClientBuilder, ClientSettings, Lookup, MetadataCache, SharedFetch, call_timed_out,
    needs_discovery,
};
use safire_core::{Driver, Env, Flow, FlowFactory, OsRandom, SmartMetadata, Step};

pub use safire_core;
pub use safire_core::{
    AuthorizationRequest, AuthorizeParams, CallOptions, ClientAuth, ClientConfig, ClientMetadata,
    ConfigurationError, Error, ErrorSource, Limits, MemoryStore, NetworkError, NetworkErrorKind,
    PendingAuthorization, RegisteredClient, SecretString, Session, SessionStore, Signer,
    TokenResponse,
};
pub use session::{SmartSession, SmartSessionBuilder};

/// A blocking SMART on FHIR client for one server and one client registration.
///
/// Cheap to clone (one `Arc`), `Send + Sync`; all clones share the connection pool and the
/// discovered metadata. Every method runs one `safire_core` flow to completion.
#[derive(Clone)]
pub struct SmartClient {
    inner: Arc<Inner>,
}

struct Inner {
    flows: FlowFactory,
    limits: Limits,
    http: transport::Transport,
    metadata: MetadataCache,
}

impl std::fmt::Debug for SmartClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartClient")
            .field("config", self.config())
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl SmartClient {
    /// A client with default limits for `config`.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        Self::builder(config).build()
    }

    /// A builder for non-default limits, extra trusted roots, or metadata obtained elsewhere.
    pub fn builder(config: ClientConfig) -> SmartClientBuilder {
        ClientBuilder::new(config)
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &ClientConfig {
        self.inner.flows.config()
    }

    /// The server's SMART configuration: discovered once (concurrent callers share one
    /// request and its outcome, failures included), then reused for its lifetime.
    pub fn server_metadata(&self) -> Result<Arc<SmartMetadata>, Error> {
        self.server_metadata_until(self.deadline())
    }

    /// The deadline of a call starting now.
    fn deadline(&self) -> Instant {
        Instant::now() + self.inner.limits.call_timeout
    }

    fn server_metadata_until(&self, deadline: Instant) -> Result<Arc<SmartMetadata>, Error> {
        self.shared(
            &self.inner.metadata,
            || {
                self.drive(self.inner.flows.discovery(), None, deadline)
                    .map(Arc::new)
            },
            deadline,
        )
    }

    /// A cached value, or one fetch shared by every concurrent caller (its failure too).
    fn shared<C: SharedFetch>(
        &self,
        cache: &C,
        fetch: impl Fn() -> Result<C::Value, Error>,
        deadline: Instant,
    ) -> Result<C::Value, Error> {
        loop {
            match cache.lookup(SystemTime::now()) {
                Lookup::Ready(value) => return Ok(value),
                Lookup::Fetch(ticket) => return cache.finish(ticket, fetch(), SystemTime::now()),
                Lookup::Wait(generation) => match cache.wait_blocking_until(generation, deadline) {
                    Ok(Some(outcome)) => return outcome,
                    Ok(None) => {}
                    Err(()) => return Err(call_timed_out(self.inner.limits.call_timeout).into()),
                },
            }
        }
    }

    safire_core::client_operations!(safire_core::blocking_client_methods);

    /// Runs any flow (also one of your own) over this client's connection pool, with its
    /// limits, its discovery cache and the core's redirect policy.
    /// One deadline ([`Limits::call_timeout`]) covers the whole call: discovery, redirects
    /// and the request.
    pub fn run<F: Flow>(&self, flow: F) -> Result<F::Output, Error> {
        let deadline = self.deadline();
        let metadata = if needs_discovery(&flow) {
            Some(self.server_metadata_until(deadline)?)
        } else {
            None
        };
        let flows = &self.inner.flows;
        if let Some(keys) = flows.keys_to_prefetch(&flow, metadata.as_deref(), SystemTime::now()) {
            // One fetch for every caller finding the key set cold; a failure is left to the
            // flow, which fetches (and reports) itself if it needs the keys after all.
            let fetch = || self.drive(flows.server_keys(), metadata.clone(), deadline);
            let _ = self.shared(&keys, fetch, deadline);
        }
        self.drive(flow, metadata, deadline)
    }

    fn flows(&self) -> &FlowFactory {
        &self.inner.flows
    }

    /// The transport loop: send what the driver asks for until it is done.
    fn drive<F: Flow>(
        &self,
        flow: F,
        metadata: Option<Arc<SmartMetadata>>,
        deadline: Instant,
    ) -> Result<F::Output, Error> {
        let mut driver = Driver::new(flow, self.inner.limits.clone()).with_metadata(metadata);
        // Each step is matched where it is made, not kept and moved (it is the size of a
        // whole token response).
        let mut request = match driver.start(&mut Env::new(SystemTime::now(), &mut OsRandom))? {
            Step::Done(output) => return Ok(output),
            Step::Send(request) => request,
        };
        loop {
            let response = self.inner.http.send(request, deadline)?;
            request = match driver
                .on_response(response, &mut Env::new(SystemTime::now(), &mut OsRandom))?
            {
                Step::Done(output) => return Ok(output),
                Step::Send(request) => request,
            };
        }
    }
}

/// Builds a [`SmartClient`] with non-default limits or extra trusted root certificates.
pub type SmartClientBuilder = ClientBuilder<SmartClient>;

impl BuildClient for SmartClient {
    fn build_client(settings: ClientSettings) -> Result<Self, Error> {
        let flows = settings.flows();
        let http = transport::Transport::new(&settings.limits, settings.extra_roots_der);
        Ok(SmartClient {
            inner: Arc::new(Inner {
                flows,
                limits: settings.limits,
                http,
                metadata: settings.metadata,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn client_is_cheap_to_clone_and_shareable_across_threads() {
        fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync_clone::<SmartClient>();
        let config = ClientConfig::builder("https://ehr.example/fhir")
            .build()
            .unwrap();
        let client = SmartClient::new(config).unwrap();
        let clone = client.clone();
        assert!(Arc::ptr_eq(&client.inner, &clone.inner));
        assert_eq!(clone.config().base_url(), "https://ehr.example/fhir");
    }

    #[test]
    fn builder_sets_limits_and_follows_the_loopback_opt_in() {
        let config = ClientConfig::builder("http://127.0.0.1:1/fhir")
            .allow_insecure_localhost(true)
            .build()
            .unwrap();
        let client = SmartClient::builder(config)
            .connect_timeout(Duration::from_secs(3))
            .call_timeout(Duration::from_secs(7))
            .max_response_bytes(4096)
            .build()
            .unwrap();
        let limits = &client.inner.limits;
        assert_eq!(limits.connect_timeout, Duration::from_secs(3));
        assert_eq!(limits.call_timeout, Duration::from_secs(7));
        assert_eq!(limits.max_response_bytes, 4096);
        assert!(limits.redirects.allow_insecure_localhost);
    }

    #[test]
    fn root_certificate_pem_must_hold_a_certificate() {
        let config = ClientConfig::builder("https://ehr.example")
            .build()
            .unwrap();
        for pem in [
            &b"garbage"[..],
            b"",
            b"-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n",
        ] {
            let err = SmartClient::builder(config.clone())
                .add_root_certificate_pem(pem)
                .unwrap_err();
            assert!(matches!(err, Error::Configuration(_)), "{err:?}");
        }
    }
}
