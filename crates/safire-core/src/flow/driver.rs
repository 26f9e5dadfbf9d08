//! [`Driver`]: runs any [`Flow`] under the core's policies (discovery, redirects, body cap,
//! call order), and the two loops built on it: [`run_blocking`] and [`run_async`].

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use super::{Env, Flow, Limits, Step, needs_discovery};
use crate::discovery::{DiscoveryFlow, discovery_request};
use crate::error::{Error, NetworkError, NetworkErrorKind, url_for_message};
use crate::metadata::SmartMetadata;
use crate::random::RandomSource;
use crate::redact::SentSecrets;
use crate::redirect::next_hop;
use crate::requests::{HttpRequest, HttpResponse, Operation};

/// Where a driver is in the call contract (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Created; `start` not called yet.
    Created,
    /// Waiting for the response to the driver's own discovery request.
    Discovering,
    /// Waiting for the response to a request of the flow.
    Running,
    /// Done, or failed: nothing more is accepted.
    Finished,
}

/// Runs a [`Flow`] under the core's policies; transports loop on it.
///
/// The call contract: create it, [`start`](Driver::start) it once, then feed the response to
/// each [`Step::Send`] to [`on_response`](Driver::on_response) until [`Step::Done`]. Any other
/// call is an [`Error::Usage`](crate::Error::Usage) and leaves the flow untouched; any `Err`
/// finishes the driver. If sending fails, drop the driver (a token POST is never replayed).
///
/// ```
/// # use safire_core::*;
/// # use std::time::SystemTime;
/// // A flow whose answer is known without the network finishes at once.
/// let config = ClientConfig::builder("https://ehr.example/fhir")
///     .client_id("app")
///     .redirect_uri("https://app.example/cb")
///     .scopes(["openid"])
///     .authorization_endpoint("https://ehr.example/authorize")
///     .build()?;
/// let flow = AuthorizeFlow::new(config.into(), AuthorizeParams::default());
/// let mut driver = Driver::new(flow, Limits::default());
/// let mut random = SeededRandom::new(1);
/// match driver.start(&mut Env::new(SystemTime::now(), &mut random))? {
///     Step::Done(request) => assert!(request.url.as_str().starts_with("https://ehr.example/authorize?")),
///     Step::Send(_) => unreachable!("endpoint is configured"),
/// }
/// // The flow is finished: a stray response is refused, not parsed.
/// let stray = http::Response::new(Vec::new());
/// assert!(matches!(driver.on_response(stray, &mut Env::new(SystemTime::now(), &mut random)), Err(Error::Usage(_))));
/// # Ok::<(), safire_core::Error>(())
/// ```
pub struct Driver<F> {
    flow: F,
    limits: Limits,
    phase: Phase,
    metadata: Option<Arc<SmartMetadata>>,
    discovered: bool,
    /// The discovery in progress (SMART configuration, then issuer metadata). Boxed: it is
    /// rare (once per client) and large, and a driver lives in every call's future.
    discovery: Option<Box<DiscoveryFlow>>,
    in_flight: Option<InFlight>,
    hops: usize,
}

/// What the driver keeps of the request in flight: what a redirect replays and what an
/// error answer is scrubbed of. The parts are copied, not the whole request: the
/// [`Operation`] is kept as a value rather than in a copy of the extensions map (which costs
/// three allocations), and the request is put back together only when a response needs it.
struct InFlight {
    method: http::Method,
    uri: http::Uri,
    version: http::Version,
    headers: http::HeaderMap,
    body: Vec<u8>,
    operation: Option<Operation>,
}

impl InFlight {
    fn of(request: &HttpRequest) -> Self {
        Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            headers: request.headers().clone(),
            body: request.body().clone(),
            operation: request.extensions().get::<Operation>().copied(),
        }
    }

    /// The request as sent (what [`clone_request`] of it would give).
    fn into_request(self) -> HttpRequest {
        let mut request = http::Request::new(self.body);
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers;
        if let Some(operation) = self.operation {
            request.extensions_mut().insert(operation);
        }
        request
    }
}

impl<F: Flow> Driver<F> {
    /// Wraps `flow`.
    pub fn new(flow: F, limits: Limits) -> Self {
        Self {
            flow,
            limits,
            phase: Phase::Created,
            metadata: None,
            discovered: false,
            discovery: None,
            in_flight: None,
            hops: 0,
        }
    }

    /// Supplies the server's metadata (cached, or obtained elsewhere), so that the driver
    /// does not discover it.
    pub fn with_metadata(mut self, metadata: Option<Arc<SmartMetadata>>) -> Self {
        self.metadata = metadata;
        self
    }

    /// True when the flow needs metadata that was not supplied: [`Driver::start`] will send a
    /// discovery request first. Transports with a metadata cache ask this before starting.
    pub fn will_discover(&self) -> bool {
        self.metadata.is_none() && needs_discovery(&self.flow)
    }

    /// The metadata this driver fetched itself, for the caller's cache (`None` when it was
    /// supplied or not needed).
    pub fn discovered_metadata(&self) -> Option<Arc<SmartMetadata>> {
        self.metadata.clone().filter(|_| self.discovered)
    }

    /// The wrapped flow.
    pub fn flow(&self) -> &F {
        &self.flow
    }

    /// The limits the transport must enforce.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The first step. Call once.
    pub fn start(&mut self, env: &mut Env<'_>) -> Result<Step<F::Output>, Error> {
        if self.phase != Phase::Created {
            return Err(Error::Usage("Driver::start was called twice"));
        }
        if let Err(error) = self.flow.preflight() {
            return self.outcome(Err(error));
        }
        if self.will_discover() {
            self.phase = Phase::Discovering;
            let request = match self.flow.config() {
                Some(config) => {
                    self.discovery = Some(Box::new(DiscoveryFlow::new(config)));
                    discovery_request(config)
                }
                None => Err(Error::Usage(
                    "a flow that needs the server's metadata must return its configuration from Flow::config",
                )),
            };
            return self.outcome(request.map(Step::Send));
        }
        self.phase = Phase::Running;
        if let Some(metadata) = self
            .metadata
            .clone()
            .filter(|_| needs_discovery(&self.flow))
        {
            self.flow.provide_metadata(metadata);
        }
        let step = self.flow.start(env);
        self.outcome(step)
    }

    /// Feeds the response to the request last handed out: redirects are followed or refused
    /// here, discovery is applied here, and only final responses reach the flow.
    pub fn on_response(
        &mut self,
        response: HttpResponse,
        env: &mut Env<'_>,
    ) -> Result<Step<F::Output>, Error> {
        let Some(sent) = self.in_flight.take() else {
            return Err(Error::Usage(match self.phase {
                Phase::Created => "Driver::on_response was called before Driver::start",
                _ => {
                    "Driver::on_response was called with no request outstanding (the flow is finished)"
                }
            }));
        };
        let step = self.answer(sent, response, env);
        self.outcome(step)
    }

    fn answer(
        &mut self,
        sent: InFlight,
        response: HttpResponse,
        env: &mut Env<'_>,
    ) -> Result<Step<F::Output>, Error> {
        if response.body().len() > self.limits.max_response_bytes {
            return Err(body_too_large(self.limits.max_response_bytes).into());
        }
        // Servers echo requests: what the request carried is scrubbed from an error answer
        // before anything reads it, and from any error made of the answer. A success is read
        // as sent; the request is only put back together when a redirect or an error needs
        // it. (A 2xx is never a redirect: `next_hop` would hand it to the flow.)
        if response.status().is_success() {
            self.hops = 0;
            return self
                .respond(response, env)
                .map_err(|error| SentSecrets::of(&sent.into_request()).scrub_error(error));
        }
        let sent = sent.into_request();
        if let Some(next) = next_hop(&sent, &response, self.hops, &self.limits.redirects)? {
            self.hops += 1;
            return Ok(Step::Send(next));
        }
        self.hops = 0;
        let secrets = SentSecrets::of(&sent);
        let response = if secrets.is_empty() {
            response
        } else {
            response.map(|body| secrets.scrub_bytes(body))
        };
        self.respond(response, env)
            .map_err(|error| secrets.scrub_error(error))
    }

    fn respond(
        &mut self,
        response: HttpResponse,
        env: &mut Env<'_>,
    ) -> Result<Step<F::Output>, Error> {
        if self.phase == Phase::Discovering {
            let Some(discovery) = self.discovery.as_mut() else {
                return Err(Error::Usage("the driver lost its discovery state"));
            };
            let metadata = match discovery.step(response)? {
                Step::Send(next) => return Ok(Step::Send(next)),
                Step::Done(metadata) => Arc::new(metadata),
            };
            self.discovery = None;
            self.metadata = Some(metadata.clone());
            self.discovered = true;
            self.phase = Phase::Running;
            self.flow.provide_metadata(metadata);
            return self.flow.start(env);
        }
        self.flow.on_response(response, env)
    }

    /// Records what was handed out: the request in flight, or the end of the flow.
    fn outcome(&mut self, step: Result<Step<F::Output>, Error>) -> Result<Step<F::Output>, Error> {
        // Inspected in place: a step can be large (a flow's whole output), so it is not
        // moved more than it must be.
        if let Ok(Step::Send(request)) = &step {
            match check_transport_security(request, self.limits.redirects.allow_insecure_localhost)
            {
                Ok(()) => {
                    self.in_flight = Some(InFlight::of(request));
                    return step;
                }
                Err(error) => {
                    self.finish();
                    return Err(error.into());
                }
            }
        }
        self.finish();
        step
    }

    /// Nothing more is accepted.
    fn finish(&mut self) {
        self.phase = Phase::Finished;
        self.in_flight = None;
    }
}

/// Defence in depth: whatever built it, no request leaves over plain http unless it goes to a
/// loopback host with the opt-in.
pub fn check_transport_security(
    request: &HttpRequest,
    allow_insecure_localhost: bool,
) -> Result<(), NetworkError> {
    // Fast path for every production request: an https URI with a host needs no URL parse.
    // (An `http::Uri` has a host exactly when it has an authority; asking for the authority
    // spares splitting off user info and port.)
    let scheme = request.uri().scheme_str();
    if scheme == Some("https") && request.uri().authority().is_some() {
        return Ok(());
    }
    // And for the opted-in loopback: a plain loopback host (no user info) needs none either.
    // Anything else, including hosts the URL parser would normalize, takes the full check.
    if allow_insecure_localhost
        && scheme == Some("http")
        && request
            .uri()
            .authority()
            .map(http::uri::Authority::as_str)
            .filter(|authority| !authority.contains('@'))
            .and_then(host_of)
            .is_some_and(is_plain_loopback)
    {
        return Ok(());
    }
    let uri = request.uri().to_string();
    match crate::config::classify_uri(&uri, allow_insecure_localhost) {
        crate::config::UriClass::Ok => Ok(()),
        _ => Err(NetworkError::new(
            NetworkErrorKind::RedirectRefused,
            format!(
                "Refused to send a request to non-HTTPS URL: {} (http is only allowed to loopback hosts with allow_insecure_localhost)",
                url_for_message(&uri)
            ),
        )),
    }
}

/// The host of an authority without user info: up to the port, brackets kept for IPv6 (what
/// `Authority::host` gives, without its search for user info).
pub(super) fn host_of(authority: &str) -> Option<&str> {
    if authority.starts_with('[') {
        return authority.find(']').and_then(|end| authority.get(..=end));
    }
    Some(
        authority
            .split_once(':')
            .map_or(authority, |(host, _)| host),
    )
}

/// `localhost`, a dotted-quad 127.0.0.0/8 address or `[::1]`, written the one plain way
/// (what [`crate::config::classify_uri`] accepts for loopback, without parsing a URL).
fn is_plain_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(ip) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return ip
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// The error transports return when a body passes the cap.
pub fn body_too_large(limit: usize) -> NetworkError {
    NetworkError::new(
        NetworkErrorKind::BodyTooLarge,
        format!(
            "Response body exceeds the {limit}-byte limit (raise Limits::max_response_bytes if the server really sends more)"
        ),
    )
}

/// Copies a request with its body and the extensions the core uses.
pub fn clone_request(request: &HttpRequest) -> HttpRequest {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    if let Some(operation) = request.extensions().get::<Operation>() {
        copy.extensions_mut().insert(*operation);
    }
    copy
}

/// Runs a flow to completion with a blocking `send` function: the whole transport loop for
/// synchronous HTTP clients, and for tests with canned responses.
///
/// `send` must not follow redirects itself: the driver decides (a client that follows a 307
/// would replay a token POST, secret included, to wherever the server points). It may return
/// its own error type: anything that converts into [`Error`] (wrap a foreign error with
/// [`NetworkError::other`](crate::NetworkError::other) to keep it as the `source()`).
///
/// ```
/// # use safire_core::*;
/// # use std::time::SystemTime;
/// let config = ClientConfig::builder("https://ehr.example/fhir").build()?;
/// let metadata = run_blocking(
///     DiscoveryFlow::new(&config),
///     &Limits::default(),
///     &mut SeededRandom::new(1),
///     SystemTime::now,
///     |request| {
///         assert_eq!(request.uri(), "https://ehr.example/fhir/.well-known/smart-configuration");
///         Ok::<_, Error>(http::Response::builder()
///             .status(200)
///             .body(br#"{"token_endpoint":"https://ehr.example/token","capabilities":[]}"#.to_vec())
///             .unwrap())
///     },
/// )?;
/// assert_eq!(metadata.token_endpoint.as_deref(), Some("https://ehr.example/token"));
/// # Ok::<(), safire_core::Error>(())
/// ```
pub fn run_blocking<F, S, E>(
    flow: F,
    limits: &Limits,
    random: &mut dyn RandomSource,
    clock: impl Fn() -> SystemTime,
    mut send: S,
) -> Result<F::Output, Error>
where
    F: Flow,
    S: FnMut(HttpRequest) -> Result<HttpResponse, E>,
    E: Into<Error>,
{
    // The async loop, with a `send` whose future is ready at once: one poll finishes it.
    let run = drive(flow, limits, random, clock, |request| {
        std::future::ready(send(request))
    });
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(run).poll(&mut context) {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => Err(Error::Usage(
            "run_blocking's loop waited, though nothing in it can",
        )),
    }
}

/// [`run_blocking`] for any async HTTP client: `send` returns a future.
///
/// The same rule holds: the client must not follow redirects itself (reqwest follows them by
/// default; build it with `redirect::Policy::none()`), or a 307 would replay a token POST.
///
/// ```
/// # use safire_core::*;
/// # use std::time::SystemTime;
/// # fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// let config = ClientConfig::builder("https://ehr.example/fhir").build()?;
/// let metadata = block_on(run_async(
///     DiscoveryFlow::new(&config),
///     &Limits::default(),
///     &mut OsRandom,
///     SystemTime::now,
///     |request| async move {
///         assert_eq!(request.method(), http::Method::GET);
///         Ok::<_, Error>(http::Response::new(br#"{"capabilities":[]}"#.to_vec()))
///     },
/// ))?;
/// assert!(metadata.capabilities.is_empty());
/// # Ok::<(), safire_core::Error>(())
/// ```
pub async fn run_async<F, S, Fut, E>(
    flow: F,
    limits: &Limits,
    random: &mut (dyn RandomSource + Send),
    clock: impl Fn() -> SystemTime,
    send: S,
) -> Result<F::Output, Error>
where
    F: Flow,
    S: FnMut(HttpRequest) -> Fut,
    Fut: Future<Output = Result<HttpResponse, E>>,
    E: Into<Error>,
{
    drive(flow, limits, random, clock, send).await
}

/// The transport loop of [`run_blocking`] and [`run_async`]: start, then send each request
/// and feed its response back until the flow is done.
async fn drive<F: Flow, R: Random + ?Sized, Fut, E: Into<Error>>(
    flow: F,
    limits: &Limits,
    random: &mut R,
    clock: impl Fn() -> SystemTime,
    mut send: impl FnMut(HttpRequest) -> Fut,
) -> Result<F::Output, Error>
where
    Fut: Future<Output = Result<HttpResponse, E>>,
{
    let mut driver = Driver::new(flow, limits.clone());
    // Only the request is held across the await, not the step (which may be the size of
    // the flow's whole output): the loop's future stays small.
    let mut request = match driver.start(&mut Env::new(clock(), random.source()))? {
        Step::Done(output) => return Ok(output),
        Step::Send(request) => request,
    };
    loop {
        let response = send(request).await.map_err(Into::into)?;
        request = match driver.on_response(response, &mut Env::new(clock(), random.source()))? {
            Step::Done(output) => return Ok(output),
            Step::Send(request) => request,
        };
    }
}

/// The random source of [`drive`]: plain for [`run_blocking`], `Send` for [`run_async`] (so
/// that its future is `Send`).
trait Random {
    fn source(&mut self) -> &mut dyn RandomSource;
}

impl Random for dyn RandomSource + '_ {
    fn source(&mut self) -> &mut dyn RandomSource {
        self
    }
}

impl Random for dyn RandomSource + Send + '_ {
    fn source(&mut self) -> &mut dyn RandomSource {
        self
    }
}
