//! [`SmartSession`]: a session value kept valid behind a [`SmartClient`], and requests to the
//! FHIR server with its bearer token. The type is written by [`safire_core::smart_session!`]
//! (one source with safire-hyper's); this module gives it its blocking I/O.

use std::sync::Arc;

use safire_core::transport::{Acquire, Current, Need};
use safire_core::{Error, HttpRequest, HttpResponse, Limits, SessionStore};

use crate::SmartClient;

safire_core::smart_session! {
    io: [] [],
    store: dyn SessionStore,
    instant: std::time::Instant,
    sleep: std::thread::sleep,
    inner: {},
/// A blocking SMART session: a [`Session`] value kept valid behind a [`SmartClient`].
///
/// - [`access_token`](Self::access_token) returns a token valid for at least the refresh
///   margin, renewing first when needed: a refresh for a user session, a new signed
///   assertion for a backend one. The hit path (a fresh token) takes no lock.
/// - **Single-flight:** when many threads ask at expiry, one token request goes out and all
///   of them get its result, error included; the next call after a failure tries again. A
///   refresh answered `invalid_grant` makes the session fail with "re-authorization required"
///   ([`Error::is_reauthorization_required`]) from then on.
/// - [`send`](Self::send) sends a request to the FHIR server with the bearer token, only to
///   URLs under the session's FHIR base (or an origin allowed with
///   [`SmartSessionBuilder::allow_origin`]); on a 401 it renews once and retries once.
///   Redirects never carry the token to another origin or out of the base.
/// - [`SmartSessionBuilder::on_change`] is called with every session this process renews:
///   persist it there (rotated refresh tokens). With a
///   [`SessionStore`](SmartSessionBuilder::store) shared by several processes, one of them
///   renews (`try_lock` → re-load → refresh → `compare_and_swap` → `release`) and the others
///   pick the result up from the store.
///
/// Cheap to clone (one `Arc`); clones share the session.
///
/// ```
/// use std::time::SystemTime;
/// use safire_ureq::safire_core::{
///     http, CallOptions, ClientAuth, ClientConfig, Jwks, OsRandom, PrivateKey, Signer,
/// };
/// use safire_ureq::SmartClient;
/// use safire_sandbox::{ClientRegistration, Sandbox};
///
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
/// let mut value = client.request_backend_session(CallOptions::new())?;
/// let first = value.access_token.clone();
/// value.expires_at = Some(SystemTime::now()); // pretend it ran out
/// let session = client.session(value).build()?;
/// // Renewed with a freshly signed assertion before it is handed out.
/// assert_ne!(session.access_token()?, first);
/// // Authorized requests: under the FHIR base only.
/// assert_eq!(session.get("Patient/sandbox-patient-1")?.status(), 200);
/// let elsewhere = http::Request::get("http://127.0.0.1:9/steal").body(Vec::new())?;
/// assert!(session.send(elsewhere).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
}

fn limits(client: &SmartClient) -> &Limits {
    &client.inner.limits
}

fn http_send(
    client: &SmartClient,
    request: HttpRequest,
    deadline: std::time::Instant,
) -> Result<HttpResponse, Error> {
    Ok(client.inner.http.send(request, deadline)?)
}

impl SmartSession {
    /// The slow path: single-flight renewal through the cell; a caller waits on the cell's
    /// condition variable while another thread renews.
    fn ensure(&self, need: Need<'_>) -> Result<Arc<Current>, Error> {
        let cell = &self.inner.cell;
        loop {
            match cell.acquire(need) {
                Acquire::Ready(current) => return Ok(current),
                Acquire::Failed(error) => return Err(error),
                Acquire::Wait(generation) => {
                    if let Some(error) = cell.wait_blocking(generation) {
                        return Err(error);
                    }
                }
                Acquire::Renew(ticket) => {
                    let outcome = self.renew_from(ticket.base(), need);
                    // The hook runs before the waiters are woken: one that reads the renewed
                    // session finds it persisted too.
                    if let (Ok(renewed), Some(hook)) = (&outcome, &self.inner.on_change)
                        && renewed.by_us
                    {
                        hook(&renewed.session);
                    }
                    return cell.finish(ticket, outcome.map(|r| (r.session, r.version)));
                }
            }
        }
    }
}
