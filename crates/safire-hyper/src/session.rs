//! [`SmartSession`]: a session value kept valid behind a [`SmartClient`], and requests to the
//! FHIR server with its bearer token (async). The type is written by
//! [`safire_core::smart_session!`] (one source with safire-ureq's); this module gives it its
//! async I/O.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::Notify;

use safire_core::transport::{Acquire, Current, Need, RenewTicket};
use safire_core::{AsyncSessionStore, Error, HttpRequest, HttpResponse, Limits, SecretString};

use crate::SmartClient;

safire_core::smart_session! {
    io: [async] [.await],
    store: dyn AsyncSessionStore,
    instant: tokio::time::Instant,
    sleep: tokio::time::sleep,
    inner: {
        // Wakes the tasks waiting for a renewal when it ends (finished or cancelled).
        ended: Notify = Notify::new(),
    },
/// An async SMART session: a [`Session`] value kept valid behind a [`SmartClient`].
///
/// - [`access_token`](Self::access_token) returns a token valid for at least the refresh
///   margin, renewing first when needed: a refresh for a user session, a new signed
///   assertion for a backend one. The hit path (a fresh token) takes no lock.
/// - **Single-flight:** when many tasks ask at expiry, one token request goes out and all
///   of them get its result, error included; the next call after a failure tries again. A
///   refresh answered `invalid_grant` makes the session fail with "re-authorization required"
///   ([`Error::is_reauthorization_required`]) from then on.
/// - [`send`](Self::send) sends a request to the FHIR server with the bearer token, only to
///   URLs under the session's FHIR base (or an origin allowed with
///   [`SmartSessionBuilder::allow_origin`]); on a 401 it renews once and retries once.
///   Redirects never carry the token to another origin or out of the base.
/// - [`SmartSessionBuilder::on_change`] is called with every session this process renews:
///   persist it there (rotated refresh tokens). With a
///   [`AsyncSessionStore`](SmartSessionBuilder::store) shared by several processes, one of them
///   renews (`try_lock` → re-load → refresh → `compare_and_swap` → `release`) and the others
///   pick the result up from the store.
///
/// Cheap to clone (one `Arc`); clones share the session.
///
/// ```
/// use std::time::SystemTime;
/// use safire_hyper::safire_core::{
///     http, CallOptions, ClientAuth, ClientConfig, Jwks, OsRandom, PrivateKey, Signer,
/// };
/// use safire_hyper::SmartClient;
/// use safire_sandbox::{ClientRegistration, Sandbox};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A local sandbox with a backend client registered by its public key.
/// let key = PrivateKey::generate_es384(&mut OsRandom)?;
/// let jwks = Jwks::from(vec![key.public_jwk().unwrap().with_kid("k1")]);
/// let sandbox = Sandbox::builder()
///     .register_client(ClientRegistration::backend("svc", serde_json::to_value(&jwks)?, "system/*.rs"))
///     .start()?;
/// let client = SmartClient::new(
///     ClientConfig::builder(sandbox.fhir_base_url())
///         .client_id("svc")
///         .client_auth(ClientAuth::private_key_jwt(key, "k1"))
///         .scopes(["system/Patient.rs"])
///         .allow_insecure_localhost(true)
///         .build()?,
/// )?;
/// let mut value = client.request_backend_session(CallOptions::new()).await?;
/// let first = value.access_token.clone();
/// value.expires_at = Some(SystemTime::now()); // pretend it ran out
/// let session = client.session(value).build().await?;
/// // Renewed with a freshly signed assertion before it is handed out.
/// assert_ne!(session.access_token().await?, first);
/// // Authorized requests: under the FHIR base only.
/// assert_eq!(session.get("Patient/sandbox-patient-1").await?.status(), 200);
/// let elsewhere = http::Request::get("http://127.0.0.1:9/steal").body(Vec::new())?;
/// assert!(session.send(elsewhere).await.is_err());
/// # Ok(()) }
/// ```
}

fn limits(client: &SmartClient) -> &Limits {
    client.inner.transport.limits()
}

async fn http_send(
    client: &SmartClient,
    request: HttpRequest,
    deadline: tokio::time::Instant,
) -> Result<HttpResponse, Error> {
    client.inner.transport.send(request, deadline).await
}

impl SmartSession {
    /// The access token when it is valid for longer than the refresh margin, without waiting
    /// (no lock, no future); `None` when [`access_token`](Self::access_token) would renew.
    #[inline]
    pub fn fresh_token(&self) -> Option<SecretString> {
        self.inner.cell.fresh_token(SystemTime::now())
    }

    /// The slow path: single-flight renewal through the cell; a caller waits for the
    /// `ended` notification while another task renews.
    async fn ensure(&self, need: Need<'_>) -> Result<Arc<Current>, Error> {
        let cell = &self.inner.cell;
        loop {
            // Created before the look, so an end signalled in between is not missed.
            let ended = self.inner.ended.notified();
            match cell.acquire(need) {
                Acquire::Ready(current) => return Ok(current),
                Acquire::Failed(error) => return Err(error),
                Acquire::Wait(generation) => {
                    ended.await;
                    if let Some(error) = cell.outcome_after(generation) {
                        return Err(error);
                    }
                }
                Acquire::Renew(ticket) => {
                    // Cancelled here, the ticket is dropped first and the waiters woken
                    // after, so one of them renews.
                    let mut renewing = Renewing {
                        ticket: Some(ticket),
                        ended: &self.inner.ended,
                    };
                    let base = match &renewing.ticket {
                        Some(ticket) => ticket.base().clone(),
                        None => return Err(Error::Usage("renewal ticket missing")),
                    };
                    let outcome = self.renew_from(&base, need).await;
                    // The hook runs before anyone can see the renewed session: a waiter that
                    // reads it finds it persisted too.
                    if let (Ok(renewed), Some(hook)) = (&outcome, &self.inner.on_change)
                        && renewed.by_us
                    {
                        hook(&renewed.session);
                    }
                    let Some(ticket) = renewing.ticket.take() else {
                        return Err(Error::Usage("renewal ticket missing"));
                    };
                    let current = cell.finish(ticket, outcome.map(|r| (r.session, r.version)));
                    drop(renewing);
                    return current;
                }
            }
        }
    }
}

/// A renewal in progress: when it ends, finished or cancelled, the ticket goes first and the
/// waiters are woken after, so they find the cell already updated.
struct Renewing<'a> {
    ticket: Option<RenewTicket>,
    ended: &'a Notify,
}

impl Drop for Renewing<'_> {
    fn drop(&mut self) {
        drop(self.ticket.take());
        self.ended.notify_waiters();
    }
}
