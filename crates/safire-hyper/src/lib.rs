//! # safire-hyper
//!
//! The async SMART on FHIR client: [`safire_core`]'s flows sent over hyper 1 on tokio.
//!
//! A [`SmartClient`] is cheap to clone, `Send + Sync`, and every future it returns is `Send`,
//! so it lives happily in an axum (or any tokio) application's state. All SMART logic —
//! discovery, PKCE, the callback checks, token parsing, the redirect policy — is in
//! `safire-core`; this crate only moves bytes: one pooled connection set per client, rustls
//! with the Mozilla roots (plus any private CA you add), a connect timeout, a whole-request
//! deadline, and a response-size cap enforced while the body streams in.
//!
//! ## Standalone launch
//!
//! Build the authorization URL, keep its [`PendingAuthorization`] in the user's session,
//! redirect the browser; at the callback, hand both back:
//!
//! ```
//! use safire_hyper::{AuthorizeParams, ClientConfig, SmartClient};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), safire_hyper::Error> {
//! let config = ClientConfig::builder("https://ehr.example/fhir")
//!     .client_id("my-app")
//!     .redirect_uri("https://app.example/callback")
//!     .scopes(["openid", "fhirUser", "launch/patient", "patient/*.rs"])
//!     // Configured endpoints skip discovery; leave them out to discover them.
//!     .authorization_endpoint("https://ehr.example/authorize")
//!     .token_endpoint("https://ehr.example/token")
//!     .build()?;
//! let client = SmartClient::new(config)?;
//!
//! let request = client.authorization_url(AuthorizeParams::default()).await?;
//! assert!(request.url.as_str().starts_with("https://ehr.example/authorize?"));
//! // Store `request.pending` in the session, then redirect the browser to `request.url`.
//! # Ok(()) }
//! ```
//!
//! The callback handler, e.g. an axum handler body (the client sits in the router state):
//!
//! ```no_run
//! use safire_hyper::{CallOptions, Error, PendingAuthorization, SmartClient};
//!
//! /// `callback_url` is the full URL the browser came back on (with `code`, `state`, `iss`).
//! async fn callback(
//!     client: &SmartClient,
//!     pending: PendingAuthorization, // taken out of the session: a code is redeemed once
//!     callback_url: &str,
//! ) -> Result<String, Error> {
//!     // Verifies state and issuer, then exchanges the code with the PKCE verifier.
//!     let token = client
//!         .request_access_token(pending, callback_url, CallOptions::new())
//!         .await?;
//!     Ok(token.access_token.expose().to_owned())
//! }
//! # fn main() {}
//! ```
//!
//! ## Backend services
//!
//! ```no_run
//! use safire_hyper::{CallOptions, ClientAuth, ClientConfig, Error, Signer, SmartClient};
//!
//! async fn system_token(signer: impl Signer + 'static) -> Result<(), Error> {
//!     let config = ClientConfig::builder("https://ehr.example/fhir")
//!         .client_id("bulk-exporter")
//!         .scopes(["system/Patient.rs", "system/Observation.rs"])
//!         .client_auth(ClientAuth::private_key_jwt(signer, "key-2024"))
//!         .build()?;
//!     let client = SmartClient::builder(config)
//!         .call_timeout(std::time::Duration::from_secs(15))
//!         .build()?;
//!     // Discovers the token endpoint once, signs an assertion, asks for the token.
//!     let token = client.request_backend_token(CallOptions::new()).await?;
//!     let _bearer = token.access_token.expose();
//!     Ok(())
//! }
//! # fn main() {}
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
//! ## Logging
//!
//! Each HTTP exchange emits a `tracing` debug event with the method, the URL without its
//! query, the operation, the status (or error kind) and the elapsed milliseconds. Header
//! values and bodies are never logged.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod session;
mod transport;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use tokio::sync::Notify;

pub use safire_core;
use safire_core::transport::{
    BuildClient, ClientBuilder, ClientSettings, FetchTicket, Lookup, MetadataCache, SharedFetch,
    call_timed_out, needs_discovery,
};
pub use safire_core::{
    AsyncSessionStore, AuthorizationRequest, AuthorizeParams, CallOptions, ClientAuth,
    ClientConfig, ClientMetadata, ConfigurationError, Error, ErrorSource, Limits, MemoryStore,
    NetworkError, NetworkErrorKind, PendingAuthorization, RegisteredClient, SecretString, Session,
    Signer, TokenResponse,
};
use safire_core::{Driver, Env, Flow, FlowFactory, OsRandom, SmartMetadata, Step};
pub use session::{SmartSession, SmartSessionBuilder};

use crate::transport::Transport;

/// A shared fetch in progress: when it ends, finished or cancelled, the ticket goes first and
/// the waiters are woken after, so they find the cache already updated.
struct Fetching<'a> {
    ticket: Option<FetchTicket>,
    ended: &'a Notify,
}

impl Drop for Fetching<'_> {
    fn drop(&mut self) {
        drop(self.ticket.take());
        self.ended.notify_waiters();
    }
}

/// An async SMART on FHIR client for one server and one client registration.
///
/// Cloning is cheap (an `Arc`); clones share the connection pool and the discovered metadata.
#[derive(Clone)]
pub struct SmartClient {
    inner: Arc<Inner>,
}

struct Inner {
    flows: FlowFactory,
    transport: Transport,
    metadata: MetadataCache,
    /// Signalled when a shared fetch (discovery, the JWK Set) ends.
    fetch_ended: Notify,
}

impl fmt::Debug for SmartClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmartClient")
            .field("config", self.config())
            .field("limits", self.inner.transport.limits())
            .field("metadata_cached", &self.inner.metadata.cached().is_some())
            .finish()
    }
}

impl SmartClient {
    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        self.inner.flows.config()
    }

    /// A client with the default [`Limits`] and the Mozilla root certificates.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        Self::builder(config).build()
    }

    /// A builder for timeouts, size limits and private root certificates.
    pub fn builder(config: ClientConfig) -> SmartClientBuilder {
        ClientBuilder::new(config)
    }

    /// The server's SMART configuration, discovered on first use and cached for the client's
    /// lifetime. Concurrent first calls share one request and its outcome; a failure is not
    /// cached, and a cancelled first call lets the next one fetch.
    pub async fn server_metadata(&self) -> Result<Arc<SmartMetadata>, Error> {
        self.server_metadata_until(self.deadline()).await
    }

    /// The deadline of a call starting now.
    fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.inner.transport.limits().call_timeout
    }

    async fn server_metadata_until(
        &self,
        deadline: tokio::time::Instant,
    ) -> Result<Arc<SmartMetadata>, Error> {
        let discover = || async {
            self.drive(self.inner.flows.discovery(), None, deadline)
                .await
                .map(Arc::new)
        };
        self.shared(&self.inner.metadata, discover, deadline).await
    }

    /// A cached value, or one fetch shared by every concurrent caller (its failure too); a
    /// cancelled fetch lets the next caller fetch.
    async fn shared<C: SharedFetch, Fut: Future<Output = Result<C::Value, Error>>>(
        &self,
        cache: &C,
        fetch: impl Fn() -> Fut,
        deadline: tokio::time::Instant,
    ) -> Result<C::Value, Error> {
        loop {
            // Registered before the lookup, so an end signalled in between is not missed.
            let ended = self.inner.fetch_ended.notified();
            match cache.lookup(SystemTime::now()) {
                Lookup::Ready(value) => return Ok(value),
                Lookup::Fetch(ticket) => {
                    let mut fetching = Fetching {
                        ticket: Some(ticket),
                        ended: &self.inner.fetch_ended,
                    };
                    let outcome = fetch().await;
                    return match fetching.ticket.take() {
                        Some(ticket) => cache.finish(ticket, outcome, SystemTime::now()),
                        None => outcome,
                    };
                }
                Lookup::Wait(generation) => {
                    if tokio::time::timeout_at(deadline, ended).await.is_err() {
                        let limit = self.inner.transport.limits().call_timeout;
                        return Err(call_timed_out(limit).into());
                    }
                    if let Some(outcome) = cache.outcome_after(generation, SystemTime::now()) {
                        return outcome;
                    }
                }
            }
        }
    }

    safire_core::client_operations!(safire_core::async_client_methods);

    /// Runs any core [`Flow`] (also one of your own) over this client's connection pool,
    /// with its limits, its discovery cache and the core's redirect policy.
    pub async fn run<F: Flow>(&self, flow: F) -> Result<F::Output, Error> {
        // One deadline (Limits::call_timeout) covers discovery, redirects and the request.
        let deadline = self.deadline();
        let metadata = if needs_discovery(&flow) {
            Some(self.server_metadata_until(deadline).await?)
        } else {
            None
        };
        let flows = &self.inner.flows;
        if let Some(keys) = flows.keys_to_prefetch(&flow, metadata.as_deref(), SystemTime::now()) {
            // One fetch for every caller finding the key set cold; a failure is left to the
            // flow, which fetches (and reports) itself if it needs the keys after all.
            let fetch = || self.drive(flows.server_keys(), metadata.clone(), deadline);
            let _ = self.shared(&keys, fetch, deadline).await;
        }
        self.drive(flow, metadata, deadline).await
    }

    fn flows(&self) -> &FlowFactory {
        &self.inner.flows
    }

    /// The transport loop: send what the driver asks for, feed back what comes back.
    async fn drive<F: Flow>(
        &self,
        flow: F,
        metadata: Option<Arc<SmartMetadata>>,
        deadline: tokio::time::Instant,
    ) -> Result<F::Output, Error> {
        let transport = &self.inner.transport;
        let mut driver = Driver::new(flow, transport.limits().clone()).with_metadata(metadata);
        // Only the request is held across the await, not the step (the size of a whole
        // token response): a smaller future is cheaper to move.
        let mut request = match driver.start(&mut Env::new(SystemTime::now(), &mut OsRandom))? {
            Step::Done(output) => return Ok(output),
            Step::Send(request) => request,
        };
        loop {
            let response = transport.send(request, deadline).await?;
            request = match driver
                .on_response(response, &mut Env::new(SystemTime::now(), &mut OsRandom))?
            {
                Step::Done(output) => return Ok(output),
                Step::Send(request) => request,
            };
        }
    }
}

/// Configures a [`SmartClient`]: limits, timeouts and extra trusted root certificates.
///
/// ```
/// use std::time::Duration;
/// use safire_hyper::{ClientConfig, SmartClient};
/// let config = ClientConfig::builder("https://ehr.example/fhir").client_id("app").build()?;
/// let client = SmartClient::builder(config)
///     .connect_timeout(Duration::from_secs(3))
///     .call_timeout(Duration::from_secs(10))
///     .max_response_bytes(256 * 1024)
///     .build()?;
/// assert_eq!(client.config().client_id(), Some("app"));
/// # Ok::<(), safire_hyper::Error>(())
/// ```
pub type SmartClientBuilder = ClientBuilder<SmartClient>;

impl BuildClient for SmartClient {
    /// Builds the client. Needs no runtime; requests must run inside tokio.
    fn build_client(settings: ClientSettings) -> Result<Self, Error> {
        let flows = settings.flows();
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for der in settings.extra_roots_der {
            roots.add(CertificateDer::from(der)).map_err(|e| {
                ConfigurationError::invalid(
                    "root_certificate_pem",
                    format!("unusable as a trust anchor: {e}"),
                )
            })?;
        }
        Ok(SmartClient {
            inner: Arc::new(Inner {
                flows,
                transport: Transport::new(roots, settings.limits)?,
                metadata: settings.metadata,
                fetch_ended: Notify::new(),
            }),
        })
    }
}
