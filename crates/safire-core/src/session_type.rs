//! One source for the transports' `SmartSession`: [`smart_session!`](crate::smart_session)
//! writes the session type, its builder and all their logic (building from a value or a
//! store, the bearer policy, renewal through a shared store, 401 retry, redirects) once, for
//! a blocking or an async transport. What each transport writes itself is only its I/O shape:
//! how one HTTP request is sent, and how a caller waits for another caller's renewal.

use std::time::Duration;

use http::{HeaderValue, header};

use crate::error::Error;
use crate::flow::clone_request;
use crate::requests::{HttpRequest, Operation};
use crate::secret::SecretString;
use crate::session::Session;
use crate::session::cell::Need;

/// `request` with `Authorization: Bearer <token>` (a header marked sensitive) and tagged
/// [`Operation::Fhir`]: what a session sends to the FHIR server. The caller still checks the
/// destination ([`BearerPolicy::check`](crate::BearerPolicy::check)) and the transport
/// security before sending it.
///
/// ```
/// use safire_core::{http, Operation, SecretString};
/// use safire_core::transport::bearer_request;
///
/// let request = http::Request::get("https://ehr.example/fhir/Patient/1").body(Vec::new())?;
/// let outgoing = bearer_request(&request, &SecretString::from("abc"))?;
/// assert_eq!(outgoing.headers()[http::header::AUTHORIZATION], "Bearer abc");
/// assert!(outgoing.headers()[http::header::AUTHORIZATION].is_sensitive());
/// assert_eq!(outgoing.extensions().get::<Operation>(), Some(&Operation::Fhir));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn bearer_request(request: &HttpRequest, token: &SecretString) -> Result<HttpRequest, Error> {
    let mut outgoing = clone_request(request);
    let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose()))
        .map_err(|_| Error::Usage("the access token cannot be sent in a header"))?;
    value.set_sensitive(true);
    outgoing.headers_mut().insert(header::AUTHORIZATION, value);
    outgoing.extensions_mut().insert(Operation::Fhir);
    Ok(outgoing)
}

impl Need<'_> {
    /// True when `session` (found in a shared store, renewed by another process) already
    /// answers this need: fresh for `margin`, or carrying another token than the rejected one.
    pub fn satisfied_by(&self, session: &Session, margin: Duration) -> bool {
        match *self {
            Need::Fresh(now) => session.is_fresh(now, margin),
            Need::Rejected(token) => session.access_token != *token,
        }
    }
}

/// Writes `SmartSession` and `SmartSessionBuilder` for a transport, blocking or async.
///
/// Invoked once in each client crate's session module: `io: [] []` for a blocking transport
/// (safire-ureq), `io: [async] [.await]` for an async one (safire-hyper): the tokens written
/// before each I/O function and after each I/O call. The attributes given last (docs) go on
/// `SmartSession`. The module must have in
/// scope:
/// - `SmartClient`, with `config()`, `renew_session(&Session, CallOptions)` (as
///   [`client_operations!`](crate::client_operations) writes it) and `Clone`;
/// - `fn limits(client: &SmartClient) -> &Limits`;
/// - `fn http_send(client: &SmartClient, request: HttpRequest, deadline: <instant>) ->
///   Result<HttpResponse, Error>` (an `async fn` for an async transport), sending one request;
/// - in an `impl SmartSession` block, `fn ensure(&self, need: Need<'_>) ->
///   Result<Arc<Current>, Error>` (async for an async transport): the single-flight loop over
///   [`SessionCell::acquire`](crate::transport::SessionCell::acquire), renewing with the
///   generated `self.renew_from(base, need)` (a `Renewed`) and calling the `on_change` hook
///   when `Renewed::by_us` *before* finishing the ticket, so no caller holds a renewed
///   session the hook has not persisted. Waiting for another caller is the one thing that
///   differs.
///
/// `store` is the store trait object (`dyn SessionStore` or `dyn AsyncSessionStore`),
/// `instant` the clock of `http_send`'s deadline, `sleep` the function that pauses between
/// two looks at a store another process is renewing through, `inner` extra fields of the
/// shared state (`name: Type = initial value`). The crate depends on `tracing` (a lease that
/// cannot be released is logged at DEBUG).
#[macro_export]
macro_rules! smart_session {
    (
        io: [$($async:tt)*] [$($await:tt)*],
        store: $store:ty,
        instant: $instant:ty,
        sleep: $sleep:path,
        inner: { $($field:ident : $fty:ty = $init:expr),* $(,)? },
        $(#[$meta:meta])*
    ) => {
        /// How often a process waiting for another one's renewal looks at the store.
        const STORE_POLL: ::std::time::Duration = ::std::time::Duration::from_millis(25);

        /// Called with the new session each time this process renews it (to persist a
        /// rotated refresh token).
        type Hook = ::std::sync::Arc<dyn Fn(&$crate::Session) + Send + Sync>;

        $(#[$meta])*
        #[derive(Clone)]
        pub struct SmartSession {
            inner: ::std::sync::Arc<Inner>,
        }

        struct Inner {
            client: SmartClient,
            cell: $crate::transport::SessionCell,
            $($field: $fty,)*
            bearer: $crate::BearerPolicy,
            store: Option<(::std::sync::Arc<$store>, String)>,
            on_change: Option<Hook>,
            options: $crate::CallOptions,
            store_wait: ::std::time::Duration,
            lock_ttl: ::std::time::Duration,
        }

        impl ::std::fmt::Debug for SmartSession {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("SmartSession")
                    .field("session", &self.inner.cell.current().session)
                    .field("margin", &self.inner.cell.margin())
                    .field("store_key", &self.inner.store.as_ref().map(|(_, key)| key))
                    .finish_non_exhaustive()
            }
        }

        /// Where a new [`SmartSession`] gets its session value.
        enum Source {
            Value(Box<$crate::Session>),
            Stored,
        }

        /// Builds a [`SmartSession`]: see [`SmartClient::session`] and
        /// [`SmartClient::resume_session`].
        pub struct SmartSessionBuilder {
            client: SmartClient,
            source: Source,
            margin: ::std::time::Duration,
            store: Option<(::std::sync::Arc<$store>, String)>,
            on_change: Option<Hook>,
            allowed_origins: Vec<String>,
            options: $crate::CallOptions,
            store_wait: Option<::std::time::Duration>,
        }

        impl ::std::fmt::Debug for SmartSessionBuilder {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("SmartSessionBuilder")
                    .field("margin", &self.margin)
                    .field("allowed_origins", &self.allowed_origins)
                    .finish_non_exhaustive()
            }
        }

        impl SmartClient {
            /// A session built around `value` (from `request_session`,
            /// `request_backend_session`, or your own storage). The value must have been
            /// issued to this client for its server.
            pub fn session(&self, value: $crate::Session) -> SmartSessionBuilder {
                SmartSessionBuilder::new(self.clone(), Source::Value(Box::new(value)))
            }

            /// A session read from `store` under `key` when built (another process, or an
            /// earlier run, stored it there).
            pub fn resume_session(
                &self,
                store: ::std::sync::Arc<$store>,
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
                    margin: $crate::DEFAULT_REFRESH_MARGIN,
                    store: None,
                    on_change: None,
                    allowed_origins: Vec::new(),
                    options: $crate::CallOptions::new(),
                    store_wait: None,
                }
            }

            /// Renew this long before expiry (default 60 s; capped at half the token
            /// lifetime).
            pub fn refresh_margin(mut self, margin: ::std::time::Duration) -> Self {
                self.margin = margin;
                self
            }

            /// Keeps the session in `store` under `key` (a key with no token or patient
            /// identifier, e.g. [`Session::store_key`]($crate::Session::store_key)); the value
            /// given to [`SmartClient::session`] replaces what is stored. Processes sharing
            /// the store renew once between them.
            pub fn store(mut self, store: ::std::sync::Arc<$store>, key: impl Into<String>) -> Self {
                self.store = Some((store, key.into()));
                self
            }

            /// Calls `hook` with the new session each time this process renews it: persist it
            /// there (a rotated refresh token replaces the old one, which the server may now
            /// refuse). The hook runs before any caller receives the renewed session, on the
            /// renewing thread or task, outside any lock; keep it
            /// short (and, in async code, non-blocking: send the value into a channel to
            /// persist it elsewhere).
            pub fn on_change(
                mut self,
                hook: impl Fn(&$crate::Session) + Send + Sync + 'static,
            ) -> Self {
                self.on_change = Some(::std::sync::Arc::new(hook));
                self
            }

            /// Also sends the token to every URL of `origin` (scheme, host and port), e.g. a
            /// separate binary server the EHR documents. Redirects still never carry it
            /// across origins.
            pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
                self.allowed_origins.push(origin.into());
                self
            }

            /// Per-call options for renewals (a narrower refresh scope, overriding
            /// credentials).
            pub fn renew_options(mut self, options: $crate::CallOptions) -> Self {
                self.options = options;
                self
            }

            /// How long to wait for another process's renewal through the store (default:
            /// the client's request timeout).
            pub fn store_wait(mut self, wait: ::std::time::Duration) -> Self {
                self.store_wait = Some(wait);
                self
            }

            /// The session. Fails when the value belongs to another client or server, when
            /// the store cannot be read or written, or (resuming) when nothing is stored
            /// under the key.
            pub $($async)* fn build(self) -> Result<SmartSession, $crate::Error> {
                let config = self.client.config();
                let (session, version) = match (self.source, &self.store) {
                    (Source::Value(session), None) => (*session, None),
                    (Source::Value(session), Some((store, key))) => {
                        let session = *session;
                        session.check_belongs_to(config)?;
                        let version = write_replacing(store.as_ref(), key, &session) $($await)* ?;
                        (session, Some(version))
                    }
                    (Source::Stored, Some((store, key))) => {
                        let stored = store.load(key) $($await)* ?.ok_or_else(|| {
                            $crate::StoreError::new(
                                $crate::StoreErrorKind::Other,
                                "no session is stored under this key (log the user in again)",
                            )
                        })?;
                        ($crate::Session::from_bytes(&stored.bytes)?, Some(stored.version))
                    }
                    (Source::Stored, None) => {
                        return Err($crate::Error::Usage("resume_session needs a store"));
                    }
                };
                session.check_belongs_to(config)?;
                let mut bearer = session.bearer_policy()?;
                for origin in &self.allowed_origins {
                    bearer = bearer.allow_origin(origin)?;
                }
                let call_timeout = limits(&self.client).call_timeout;
                Ok(SmartSession {
                    inner: ::std::sync::Arc::new(Inner {
                        cell: $crate::transport::SessionCell::new(session, version, self.margin),
                        client: self.client,
                        $($field: $init,)*
                        bearer,
                        store: self.store,
                        on_change: self.on_change,
                        options: self.options,
                        store_wait: self.store_wait.unwrap_or(call_timeout),
                        lock_ttl: call_timeout * 2,
                    }),
                })
            }
        }

        /// Writes `session` under `key` whatever is stored there; its new version.
        $($async)* fn write_replacing(
            store: &$store,
            key: &str,
            session: &$crate::Session,
        ) -> Result<u64, $crate::Error> {
            let bytes = session.to_bytes();
            for _ in 0..8 {
                let expected = store.load(key) $($await)* ?.map(|v| v.version);
                if let Some(version) = store.compare_and_swap(key, expected, &bytes) $($await)* ? {
                    return Ok(version);
                }
            }
            Err($crate::StoreError::new(
                $crate::StoreErrorKind::Other,
                "the stored session kept changing while it was being replaced",
            )
            .into())
        }

        /// What a renewal produced, and whether this process made it (then the hook runs).
        struct Renewed {
            session: $crate::Session,
            version: Option<u64>,
            by_us: bool,
        }

        impl SmartSession {
            /// An access token valid for at least the refresh margin (or, for a user session
            /// without a refresh token, until it expires), renewing first when needed.
            #[inline]
            pub $($async)* fn access_token(&self) -> Result<$crate::SecretString, $crate::Error> {
                if let Some(token) = self.inner.cell.fresh_token(::std::time::SystemTime::now()) {
                    return Ok(token);
                }
                Ok(self
                    .ensure($crate::transport::Need::Fresh(::std::time::SystemTime::now()))
                    $($await)* ?
                    .session
                    .access_token
                    .clone())
            }

            /// The current session value (to read scopes, launch context, or to persist it).
            pub fn session(&self) -> $crate::Session {
                self.inner.cell.current().session.clone()
            }

            /// Renews now, whatever the expiry says (single-flight like
            /// [`access_token`](Self::access_token)); the new session.
            pub $($async)* fn renew(&self) -> Result<$crate::Session, $crate::Error> {
                let current = self.inner.cell.current();
                Ok(self
                    .ensure($crate::transport::Need::Rejected(&current.session.access_token))
                    $($await)* ?
                    .session
                    .clone())
            }

            /// The client this session renews through.
            pub fn client(&self) -> &SmartClient {
                &self.inner.client
            }

            /// Sends `request` to the FHIR server with `Authorization: Bearer <token>`.
            ///
            /// Refused before sending
            /// ([`SessionErrorKind::DestinationNotAllowed`]($crate::SessionErrorKind::DestinationNotAllowed))
            /// unless the URL is under the session's FHIR base or an allowed origin. A 401
            /// answer renews the token once and retries once; the second answer is returned
            /// whatever it is. Redirects are followed under the core's policy (GET/HEAD
            /// only), and the token is dropped from any hop outside the allowed
            /// destinations. The client's limits apply (timeouts, body cap).
            pub $($async)* fn send(
                &self,
                request: $crate::HttpRequest,
            ) -> Result<$crate::HttpResponse, $crate::Error> {
                self.inner.bearer.check(&request)?;
                let token = self.access_token() $($await)* ?;
                let response = self.send_with(&request, &token) $($await)* ?;
                if response.status() != 401 {
                    return Ok(response);
                }
                let current = self.ensure($crate::transport::Need::Rejected(&token)) $($await)* ?;
                self.send_with(&request, &current.session.access_token) $($await)*
            }

            /// [`send`](Self::send) a GET of `url`, absolute or relative to the FHIR base
            /// (`Patient/123`), accepting FHIR JSON.
            pub $($async)* fn get(&self, url: &str) -> Result<$crate::HttpResponse, $crate::Error> {
                let target = self.inner.bearer.resolve(url)?;
                let request = $crate::http::Request::get(target.as_str())
                    .header($crate::http::header::ACCEPT, "application/fhir+json")
                    .body(Vec::new())
                    .map_err(|_| $crate::Error::Usage("the URL is not a valid request URI"))?;
                self.send(request) $($await)*
            }

            $($async)* fn send_with(
                &self,
                request: &$crate::HttpRequest,
                token: &$crate::SecretString,
            ) -> Result<$crate::HttpResponse, $crate::Error> {
                let limits = limits(&self.inner.client);
                let mut outgoing = $crate::transport::bearer_request(request, token)?;
                $crate::transport::check_transport_security(
                    &outgoing,
                    limits.redirects.allow_insecure_localhost,
                )?;
                // One deadline for the request and its redirects.
                let deadline = <$instant>::now() + limits.call_timeout;
                let mut hops = 0;
                loop {
                    let sent = $crate::transport::clone_request(&outgoing);
                    let response = http_send(&self.inner.client, outgoing, deadline) $($await)* ?;
                    match $crate::transport::authorized_next_hop(
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

            /// Renews from `base`: directly, or through the store with its lease.
            $($async)* fn renew_from(
                &self,
                base: &$crate::transport::Current,
                need: $crate::transport::Need<'_>,
            ) -> Result<Renewed, $crate::Error> {
                let Some((store, key)) = &self.inner.store else {
                    let session = self
                        .inner
                        .client
                        .renew_session(&base.session, self.inner.options.clone())
                        $($await)* ?;
                    return Ok(Renewed {
                        session,
                        version: None,
                        by_us: true,
                    });
                };
                let store = store.as_ref();
                let deadline = ::std::time::Instant::now() + self.inner.store_wait;
                loop {
                    if let Some(lease) = store.try_lock(key, self.inner.lock_ttl) $($await)* ? {
                        let result = self.renew_locked(store, key, base, need) $($await)*;
                        // A lease that cannot be released expires by itself after its TTL;
                        // the renewal's outcome stands either way.
                        if let Err(error) = store.release(&lease) $($await)* {
                            ::tracing::debug!(
                                error = %error,
                                "session store: releasing the renewal lease failed"
                            );
                        }
                        return result;
                    }
                    // Another process is renewing: wait for its result in the store.
                    $sleep(STORE_POLL) $($await)*;
                    if let Some(stored) = store.load(key) $($await)* ?
                        && Some(stored.version) != base.version
                    {
                        return Ok(Renewed {
                            session: $crate::Session::from_bytes(&stored.bytes)?,
                            version: Some(stored.version),
                            by_us: false,
                        });
                    }
                    if ::std::time::Instant::now() >= deadline {
                        return Err($crate::StoreError::new(
                            $crate::StoreErrorKind::Timeout,
                            format!(
                                "another process holds the renewal lock and stored no renewed \
                                 session within {:?}",
                                self.inner.store_wait
                            ),
                        )
                        .into());
                    }
                }
            }

            /// Holding the lease: re-load (someone may have renewed), renew,
            /// compare-and-swap.
            $($async)* fn renew_locked(
                &self,
                store: &$store,
                key: &str,
                base: &$crate::transport::Current,
                need: $crate::transport::Need<'_>,
            ) -> Result<Renewed, $crate::Error> {
                let stored = store.load(key) $($await)* ?;
                let (from, version) = match stored {
                    Some(stored) if Some(stored.version) != base.version => {
                        let session = $crate::Session::from_bytes(&stored.bytes)?;
                        if need.satisfied_by(&session, self.inner.cell.margin()) {
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
                    .renew_session(&from, self.inner.options.clone())
                    $($await)* ?;
                match store
                    .compare_and_swap(key, version, &session.to_bytes())
                    $($await)* ?
                {
                    Some(version) => Ok(Renewed {
                        session,
                        version: Some(version),
                        by_us: true,
                    }),
                    // Our lease ran out and someone else wrote: theirs is the session now.
                    None => {
                        let stored = store.load(key) $($await)* ?.ok_or_else(|| {
                            $crate::StoreError::new(
                                $crate::StoreErrorKind::Other,
                                "the session was deleted meanwhile",
                            )
                        })?;
                        Ok(Renewed {
                            session: $crate::Session::from_bytes(&stored.bytes)?,
                            version: Some(stored.version),
                            by_us: false,
                        })
                    }
                }
            }
        }
    };
}
