//! The one driver contract shared by every flow, and the loop that runs it.
//!
//! A flow is a state machine: it hands out `http::Request`s and consumes `http::Response`s.
//! [`Driver`] wraps any flow and adds what every transport would otherwise repeat: following
//! redirects under the core's [`RedirectPolicy`] and refusing oversized bodies. A transport is
//! then a loop that sends what the driver asks for, with no SMART knowledge at all.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::{Error, NetworkError, NetworkErrorKind, url_for_message};
use crate::metadata::SmartMetadata;
use crate::random::RandomSource;
use crate::redirect::{RedirectPolicy, next_hop};

/// The request type every flow emits.
pub type HttpRequest = http::Request<Vec<u8>>;
/// The response type every flow consumes.
pub type HttpResponse = http::Response<Vec<u8>>;

/// What a flow wants next.
///
/// Its `Debug` shows the method, the URL without query, the operation and the body length,
/// never the body (which carries codes, tokens and assertions). `http::Request`'s own `Debug`
/// prints the body: don't log requests with it.
#[allow(clippy::large_enum_variant)] // one value per round trip; boxing buys nothing
pub enum Step<T> {
    /// Send this request and feed the response back.
    Send(HttpRequest),
    /// The flow is finished.
    Done(T),
}

impl<T: fmt::Debug> fmt::Debug for Step<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Send(request) => f
                .debug_struct("Send")
                .field("method", request.method())
                .field("url", &url_for_message(&request.uri().to_string()))
                .field("operation", &request.extensions().get::<Operation>())
                .field("body_bytes", &request.body().len())
                .finish(),
            Step::Done(output) => f.debug_tuple("Done").field(output).finish(),
        }
    }
}

/// The outside world a flow may consult: the current time and a random source.
///
/// ```
/// use std::time::SystemTime;
/// use safire_core::{Env, SeededRandom};
/// let mut random = SeededRandom::new(42);
/// let env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
/// assert_eq!(env.now, SystemTime::UNIX_EPOCH);
/// ```
pub struct Env<'a> {
    /// The current time (injected so tests are deterministic).
    pub now: SystemTime,
    /// Where random bytes come from.
    pub random: &'a mut dyn RandomSource,
}

impl<'a> Env<'a> {
    /// An environment at `now` drawing from `random`.
    pub fn new(now: SystemTime, random: &'a mut dyn RandomSource) -> Self {
        Self { now, random }
    }
}

/// A protocol operation as a state machine. See the crate docs for a hand-driven example.
pub trait Flow {
    /// What the flow produces.
    type Output;

    /// True when the flow would have to discover the server's metadata first. Clients that
    /// cache metadata call [`Flow::provide_metadata`] instead of letting the flow fetch it.
    fn wants_metadata(&self) -> bool {
        false
    }

    /// Supplies already discovered metadata, so that no discovery request is sent.
    fn provide_metadata(&mut self, metadata: Arc<SmartMetadata>) {
        let _ = metadata;
    }

    /// The first step: a request, or an immediate result when nothing needs the network.
    fn start(&mut self, env: &mut Env<'_>) -> Result<Step<Self::Output>, Error>;

    /// Feeds the response to the last request.
    fn on_response(
        &mut self,
        response: HttpResponse,
        env: &mut Env<'_>,
    ) -> Result<Step<Self::Output>, Error>;
}

/// What a request is for; carried in the request's extensions so the redirect policy and
/// transports can name it in errors and logs without knowing SMART.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `GET /.well-known/smart-configuration`.
    Discovery,
    /// A token request (code exchange, refresh, client credentials).
    Token,
    /// Dynamic client registration.
    Registration,
}

impl Operation {
    /// A human name for messages and logs.
    pub fn label(self) -> &'static str {
        match self {
            Operation::Discovery => "discovery",
            Operation::Token => "token endpoint",
            Operation::Registration => "registration endpoint",
        }
    }
}

/// Limits transports must enforce.
///
/// ```
/// use safire_core::Limits;
/// let limits = Limits::default();
/// assert_eq!(limits.max_response_bytes, 1024 * 1024);
/// assert_eq!(limits.redirects.max_hops, 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest response body accepted; transports stop reading past it.
    pub max_response_bytes: usize,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, from send to the last body byte.
    pub request_timeout: Duration,
    /// What redirects may be followed.
    pub redirects: RedirectPolicy,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_response_bytes: 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            redirects: RedirectPolicy::default(),
        }
    }
}

impl Limits {
    /// The same limits with http loopback redirects allowed or not.
    pub fn allow_insecure_localhost(mut self, allow: bool) -> Self {
        self.redirects.allow_insecure_localhost = allow;
        self
    }
}

/// Runs a [`Flow`] under the redirect policy and body cap. Transports loop on it.
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
/// # Ok::<(), safire_core::Error>(())
/// ```
pub struct Driver<F> {
    flow: F,
    limits: Limits,
    in_flight: Option<HttpRequest>,
    hops: usize,
}

impl<F: Flow> Driver<F> {
    /// Wraps `flow`.
    pub fn new(flow: F, limits: Limits) -> Self {
        Self {
            flow,
            limits,
            in_flight: None,
            hops: 0,
        }
    }

    /// The wrapped flow (e.g. to ask [`Flow::wants_metadata`]).
    pub fn flow_mut(&mut self) -> &mut F {
        &mut self.flow
    }

    /// The limits the transport must enforce.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The first step.
    pub fn start(&mut self, env: &mut Env<'_>) -> Result<Step<F::Output>, Error> {
        let step = self.flow.start(env)?;
        self.remember(step)
    }

    /// Feeds the response to the last request: redirects are followed or refused here, and
    /// only final responses reach the flow.
    pub fn on_response(
        &mut self,
        response: HttpResponse,
        env: &mut Env<'_>,
    ) -> Result<Step<F::Output>, Error> {
        if response.body().len() > self.limits.max_response_bytes {
            return Err(body_too_large(self.limits.max_response_bytes).into());
        }
        let next = match &self.in_flight {
            Some(sent) => next_hop(sent, &response, self.hops, &self.limits.redirects)?,
            None => None,
        };
        if let Some(next) = next {
            self.hops += 1;
            return self.remember(Step::Send(next));
        }
        self.hops = 0;
        let step = self.flow.on_response(response, env)?;
        self.remember(step)
    }

    fn remember(&mut self, step: Step<F::Output>) -> Result<Step<F::Output>, Error> {
        self.in_flight = match &step {
            Step::Send(request) => {
                check_transport_security(request, self.limits.redirects.allow_insecure_localhost)?;
                Some(clone_request(request))
            }
            Step::Done(_) => None,
        };
        Ok(step)
    }
}

/// Defence in depth: whatever built it, no request leaves over plain http unless it goes to a
/// loopback host with the opt-in.
pub fn check_transport_security(
    request: &HttpRequest,
    allow_insecure_localhost: bool,
) -> Result<(), NetworkError> {
    // Fast path for every production request: an https URI with a host needs no URL parse.
    if request.uri().scheme_str() == Some("https") && request.uri().host().is_some() {
        return Ok(());
    }
    let uri = request.uri().to_string();
    match crate::config::classify_uri(&uri, allow_insecure_localhost) {
        crate::config::UriClass::Ok => Ok(()),
        _ => Err(NetworkError::new(
            NetworkErrorKind::RedirectRefused,
            format!(
                "Refused to send a request to non-HTTPS URL: {} (http is only allowed to loopback hosts with allow_insecure_localhost)",
                crate::error::url_for_message(&uri)
            ),
        )),
    }
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
pub(crate) fn clone_request(request: &HttpRequest) -> HttpRequest {
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
///         Ok(http::Response::builder()
///             .status(200)
///             .body(br#"{"token_endpoint":"https://ehr.example/token","capabilities":[]}"#.to_vec())
///             .unwrap())
///     },
/// )?;
/// assert_eq!(metadata.token_endpoint.as_deref(), Some("https://ehr.example/token"));
/// # Ok::<(), safire_core::Error>(())
/// ```
pub fn run_blocking<F, S>(
    flow: F,
    limits: &Limits,
    random: &mut dyn RandomSource,
    clock: impl Fn() -> SystemTime,
    mut send: S,
) -> Result<F::Output, Error>
where
    F: Flow,
    S: FnMut(HttpRequest) -> Result<HttpResponse, Error>,
{
    let mut driver = Driver::new(flow, limits.clone());
    let mut step = driver.start(&mut Env::new(clock(), random))?;
    loop {
        match step {
            Step::Done(output) => return Ok(output),
            Step::Send(request) => {
                let response = send(request)?;
                step = driver.on_response(response, &mut Env::new(clock(), random))?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_opted_in_loopback_http_leaves() {
        let req = |url: &str| http::Request::get(url).body(Vec::new()).unwrap();
        assert!(check_transport_security(&req("https://ehr.example/x"), false).is_ok());
        assert!(check_transport_security(&req("http://ehr.example/x"), true).is_err());
        assert!(check_transport_security(&req("http://127.0.0.1:8080/x"), false).is_err());
        assert!(check_transport_security(&req("http://127.0.0.1:8080/x"), true).is_ok());
        assert!(check_transport_security(&req("http://[::1]/x"), true).is_ok());
        assert!(check_transport_security(&req("/relative"), true).is_err());
    }

    #[test]
    fn step_debug_never_shows_the_body_or_query() {
        let mut request = http::Request::post("https://ehr.example/token?x=query-canary")
            .body(b"refresh_token=body-canary".to_vec())
            .unwrap();
        request.extensions_mut().insert(Operation::Token);
        let text = format!("{:?}", Step::<()>::Send(request));
        assert!(!text.contains("canary"), "{text}");
        assert!(text.contains("https://ehr.example/token"), "{text}");
        assert!(text.contains("body_bytes: 25"), "{text}");
    }
}
