//! [`SmartSession`]: a session value kept valid behind a [`SmartClient`], and requests to the
//! FHIR server with its bearer token.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use safire_core::http::{HeaderValue, header};
use safire_core::transport::{
    Acquire, Current, Need, SessionCell, authorized_next_hop, check_transport_security,
    clone_request,
};
use safire_core::{
    BearerPolicy, CallOptions, DEFAULT_REFRESH_MARGIN, Error, HttpRequest, HttpResponse, Operation,
    SecretString, Session, SessionStore, StoreError, StoreErrorKind,
};

use crate::SmartClient;

/// How often a process waiting for another one's renewal looks at the store.
const STORE_POLL: Duration = Duration::from_millis(25);

/// Called with the new session each time this process renews it (to persist a rotated
/// refresh token).
type Hook = Arc<dyn Fn(&Session) + Send + Sync>;

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
#[derive(Clone)]
pub struct SmartSession {
    inner: Arc<Inner>,
}

struct Inner {
    client: SmartClient,
    cell: SessionCell,
    bearer: BearerPolicy,
    store: Option<(Arc<dyn SessionStore>, String)>,
    on_change: Option<Hook>,
    options: CallOptions,
    store_wait: Duration,
    lock_ttl: Duration,
}

impl std::fmt::Debug for SmartSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartSession")
            .field("session", &self.inner.cell.current().session)
            .field("margin", &self.inner.cell.margin())
            .field("store_key", &self.inner.store.as_ref().map(|(_, key)| key))
            .finish_non_exhaustive()
    }
}

/// Where a new [`SmartSession`] gets its session value.
enum Source {
    Value(Box<Session>),
    Stored,
}

/// Builds a [`SmartSession`]: see [`SmartClient::session`] and
/// [`SmartClient::resume_session`].
pub struct SmartSessionBuilder {
    client: SmartClient,
    source: Source,
    margin: Duration,
    store: Option<(Arc<dyn SessionStore>, String)>,
    on_change: Option<Hook>,
    allowed_origins: Vec<String>,
    options: CallOptions,
    store_wait: Option<Duration>,
}

impl std::fmt::Debug for SmartSessionBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartSessionBuilder")
            .field("margin", &self.margin)
            .field("allowed_origins", &self.allowed_origins)
            .finish_non_exhaustive()
    }
}

impl SmartClient {
    /// A session built around `value` (from `request_session`, `request_backend_session`, or
    /// your own storage). The value must have been issued to this client for its server.
    pub fn session(&self, value: Session) -> SmartSessionBuilder {
        SmartSessionBuilder::new(self.clone(), Source::Value(Box::new(value)))
    }

    /// A session read from `store` under `key` when built (another process, or an earlier
    /// run, stored it there).
    pub fn resume_session(
        &self,
        store: Arc<dyn SessionStore>,
        key: impl Into<String>,
    ) -> SmartSessionBuilder {
        let mut builder = SmartSessionBuilder::new(self.clone(), Source::Stored);
        builder.store = Some((store, key.into()));
        builder
    }
}

impl SmartSessionBuilder {
    fn new(client: SmartClient, source: Source) -> Self {
        Self {
            client,
            source,
            margin: DEFAULT_REFRESH_MARGIN,
            store: None,
            on_change: None,
            allowed_origins: Vec::new(),
            options: CallOptions::new(),
            store_wait: None,
        }
    }

    /// Renew this long before expiry (default 60 s; capped at half the token lifetime).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Keeps the session in `store` under `key` (a key with no token or patient identifier,
    /// e.g. [`Session::store_key`]); the value given to [`SmartClient::session`] replaces
    /// what is stored. Processes sharing the store renew once between them.
    pub fn store(mut self, store: Arc<dyn SessionStore>, key: impl Into<String>) -> Self {
        self.store = Some((store, key.into()));
        self
    }

    /// Calls `hook` with the new session each time this process renews it: persist it there
    /// (a rotated refresh token replaces the old one, which the server may now refuse). The
    /// hook runs on the renewing thread, outside any lock; keep it short.
    pub fn on_change(mut self, hook: impl Fn(&Session) + Send + Sync + 'static) -> Self {
        self.on_change = Some(Arc::new(hook));
        self
    }

    /// Also sends the token to every URL of `origin` (scheme, host and port), e.g. a
    /// separate binary server the EHR documents. Redirects still never carry it across
    /// origins.
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origins.push(origin.into());
        self
    }

    /// Per-call options for renewals (a narrower refresh scope, overriding credentials).
    pub fn renew_options(mut self, options: CallOptions) -> Self {
        self.options = options;
        self
    }

    /// How long to wait for another process's renewal through the store (default: the
    /// client's request timeout).
    pub fn store_wait(mut self, wait: Duration) -> Self {
        self.store_wait = Some(wait);
        self
    }

    /// The session. Fails when the value belongs to another client or server, when the
    /// store cannot be read or written, or (resuming) when nothing is stored under the key.
    pub fn build(self) -> Result<SmartSession, Error> {
        let config = self.client.config();
        let (session, version) = match (self.source, &self.store) {
            (Source::Value(session), None) => (*session, None),
            (Source::Value(session), Some((store, key))) => {
                let session = *session;
                session.check_belongs_to(config)?;
                let version = write_replacing(store.as_ref(), key, &session)?;
                (session, Some(version))
            }
            (Source::Stored, Some((store, key))) => {
                let stored = store.load(key)?.ok_or_else(|| {
                    StoreError::new(
                        StoreErrorKind::Other,
                        "no session is stored under this key (log the user in again)",
                    )
                })?;
                (Session::from_bytes(&stored.bytes)?, Some(stored.version))
            }
            (Source::Stored, None) => return Err(Error::Usage("resume_session needs a store")),
        };
        session.check_belongs_to(config)?;
        let mut bearer = session.bearer_policy()?;
        for origin in &self.allowed_origins {
            bearer = bearer.allow_origin(origin)?;
        }
        let store_wait = self
            .store_wait
            .unwrap_or(self.client.inner.limits.call_timeout);
        let lock_ttl = self.client.inner.limits.call_timeout * 2;
        Ok(SmartSession {
            inner: Arc::new(Inner {
                cell: SessionCell::new(session, version, self.margin),
                client: self.client,
                bearer,
                store: self.store,
                on_change: self.on_change,
                options: self.options,
                store_wait,
                lock_ttl,
            }),
        })
    }
}

/// Writes `session` under `key` whatever is stored there; its new version.
fn write_replacing(store: &dyn SessionStore, key: &str, session: &Session) -> Result<u64, Error> {
    let bytes = session.to_bytes();
    for _ in 0..8 {
        let expected = store.load(key)?.map(|v| v.version);
        if let Some(version) = store.compare_and_swap(key, expected, &bytes)? {
            return Ok(version);
        }
    }
    Err(StoreError::new(
        StoreErrorKind::Other,
        "the stored session kept changing while it was being replaced",
    )
    .into())
}

/// What a renewal produced, and whether this process made it (then the hook runs).
struct Renewed {
    session: Session,
    version: Option<u64>,
    by_us: bool,
}

impl SmartSession {
    /// An access token valid for at least the refresh margin (or, for a user session without
    /// a refresh token, until it expires), renewing first when needed.
    #[inline]
    pub fn access_token(&self) -> Result<SecretString, Error> {
        if let Some(token) = self.inner.cell.fresh_token(SystemTime::now()) {
            return Ok(token);
        }
        Ok(self
            .ensure(Need::Fresh(SystemTime::now()))?
            .session
            .access_token
            .clone())
    }

    /// The current session value (to read scopes, launch context, or to persist it).
    pub fn session(&self) -> Session {
        self.inner.cell.current().session.clone()
    }

    /// Renews now, whatever the expiry says (single-flight like
    /// [`access_token`](Self::access_token)); the new session.
    pub fn renew(&self) -> Result<Session, Error> {
        let current = self.inner.cell.current();
        Ok(self
            .ensure(Need::Rejected(&current.session.access_token))?
            .session
            .clone())
    }

    /// The client this session renews through.
    pub fn client(&self) -> &SmartClient {
        &self.inner.client
    }

    /// Sends `request` to the FHIR server with `Authorization: Bearer <token>`.
    ///
    /// Refused before sending ([`safire_core::SessionErrorKind::DestinationNotAllowed`])
    /// unless the URL is under the session's FHIR base or an allowed origin. A 401 answer
    /// renews the token once and retries once; the second answer is returned whatever it
    /// is. Redirects are followed under the core's policy (GET/HEAD only), and the token is
    /// dropped from any hop outside the allowed destinations. The client's limits apply
    /// (timeouts, body cap).
    pub fn send(&self, request: HttpRequest) -> Result<HttpResponse, Error> {
        self.inner.bearer.check(&request)?;
        let token = self.access_token()?;
        let response = self.send_with(&request, &token)?;
        if response.status() != 401 {
            return Ok(response);
        }
        let current = self.ensure(Need::Rejected(&token))?;
        self.send_with(&request, &current.session.access_token)
    }

    /// [`send`](Self::send) a GET of `url`, absolute or relative to the FHIR base
    /// (`Patient/123`), accepting FHIR JSON.
    pub fn get(&self, url: &str) -> Result<HttpResponse, Error> {
        let target = self.inner.bearer.resolve(url)?;
        let request = safire_core::http::Request::get(target.as_str())
            .header(header::ACCEPT, "application/fhir+json")
            .body(Vec::new())
            .map_err(|_| Error::Usage("the URL is not a valid request URI"))?;
        self.send(request)
    }

    fn send_with(
        &self,
        request: &HttpRequest,
        token: &SecretString,
    ) -> Result<HttpResponse, Error> {
        let limits = &self.inner.client.inner.limits;
        let mut outgoing = clone_request(request);
        let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose()))
            .map_err(|_| Error::Usage("the access token cannot be sent in a header"))?;
        value.set_sensitive(true);
        outgoing.headers_mut().insert(header::AUTHORIZATION, value);
        outgoing.extensions_mut().insert(Operation::Fhir);
        check_transport_security(&outgoing, limits.redirects.allow_insecure_localhost)?;
        // One deadline for the request and its redirects.
        let deadline = std::time::Instant::now() + limits.call_timeout;
        let mut hops = 0;
        loop {
            let sent = clone_request(&outgoing);
            let response = self.inner.client.inner.http.send(outgoing, deadline)?;
            match authorized_next_hop(
                &sent,
                &response,
                hops,
                &limits.redirects,
                &self.inner.bearer,
            )? {
                None => return Ok(response),
                Some(next) => {
                    hops += 1;
                    outgoing = next;
                }
            }
        }
    }

    /// The slow path: single-flight renewal through the cell.
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
                    let by_us = outcome.as_ref().is_ok_and(|r| r.by_us);
                    let current = cell.finish(ticket, outcome.map(|r| (r.session, r.version)))?;
                    if by_us && let Some(hook) = &self.inner.on_change {
                        hook(&current.session);
                    }
                    return Ok(current);
                }
            }
        }
    }

    fn renew_from(&self, base: &Current, need: Need<'_>) -> Result<Renewed, Error> {
        let Some((store, key)) = &self.inner.store else {
            let session = self
                .inner
                .client
                .renew_session(&base.session, self.inner.options.clone())?;
            return Ok(Renewed {
                session,
                version: None,
                by_us: true,
            });
        };
        let store = store.as_ref();
        let deadline = Instant::now() + self.inner.store_wait;
        loop {
            if let Some(lease) = store.try_lock(key, self.inner.lock_ttl)? {
                let result = self.renew_locked(store, key, base, need);
                // A lease that cannot be released expires by itself after its TTL; the
                // renewal's outcome stands either way.
                if let Err(error) = store.release(&lease) {
                    tracing::debug!(error = %error, "session store: releasing the renewal lease failed");
                }
                return result;
            }
            // Another process is renewing: wait for its result in the store.
            thread::sleep(STORE_POLL);
            if let Some(stored) = store.load(key)?
                && Some(stored.version) != base.version
            {
                return Ok(Renewed {
                    session: Session::from_bytes(&stored.bytes)?,
                    version: Some(stored.version),
                    by_us: false,
                });
            }
            if Instant::now() >= deadline {
                return Err(StoreError::new(
                    StoreErrorKind::Timeout,
                    format!(
                        "another process holds the renewal lock and stored no renewed session \
                         within {:?}",
                        self.inner.store_wait
                    ),
                )
                .into());
            }
        }
    }

    /// Holding the lease: re-load (someone may have renewed), renew, compare-and-swap.
    fn renew_locked(
        &self,
        store: &dyn SessionStore,
        key: &str,
        base: &Current,
        need: Need<'_>,
    ) -> Result<Renewed, Error> {
        let stored = store.load(key)?;
        let (from, version) = match stored {
            Some(stored) if Some(stored.version) != base.version => {
                let session = Session::from_bytes(&stored.bytes)?;
                if satisfies(&session, need, self.inner.cell.margin()) {
                    return Ok(Renewed {
                        session,
                        version: Some(stored.version),
                        by_us: false,
                    });
                }
                (session, Some(stored.version))
            }
            Some(stored) => (base.session.clone(), Some(stored.version)),
            None => (base.session.clone(), None),
        };
        let session = self
            .inner
            .client
            .renew_session(&from, self.inner.options.clone())?;
        match store.compare_and_swap(key, version, &session.to_bytes())? {
            Some(version) => Ok(Renewed {
                session,
                version: Some(version),
                by_us: true,
            }),
            // Our lease ran out and someone else wrote: theirs is the session now.
            None => {
                let stored = store.load(key)?.ok_or_else(|| {
                    StoreError::new(StoreErrorKind::Other, "the session was deleted meanwhile")
                })?;
                Ok(Renewed {
                    session: Session::from_bytes(&stored.bytes)?,
                    version: Some(stored.version),
                    by_us: false,
                })
            }
        }
    }
}

/// True when `session` (found in the store) already answers `need`.
fn satisfies(session: &Session, need: Need<'_>, margin: Duration) -> bool {
    match need {
        Need::Fresh(now) => session.is_fresh(now, margin),
        Need::Rejected(token) => session.access_token != *token,
    }
}
