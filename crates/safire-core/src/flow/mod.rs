//! The one contract every flow follows, and the [`Driver`] that runs flows for transports.
//!
//! # The call contract
//!
//! A flow is a state machine that hands out `http::Request`s and consumes `http::Response`s.
//! Applications and transports do not call a flow directly; they wrap it in a [`Driver`] and
//! follow this contract (quinn-proto's `Connection` is the model):
//!
//! 1. **Create** the driver with [`Driver::new`]. If the server's metadata is already known
//!    (cached, or handed over by the user), give it with [`Driver::with_metadata`].
//! 2. **Start** it once with [`Driver::start`]. The result is a [`Step`]:
//!    - [`Step::Send`]: send this request, exactly once, and go to 3;
//!    - [`Step::Done`]: the flow is finished; its output is the result.
//! 3. **Feed** the response to the request just sent with [`Driver::on_response`] and act on
//!    the next [`Step`] as in 2. Redirects, the body cap and discovery happen inside the driver:
//!    a transport sees only "send this" and "done".
//! 4. If sending fails, stop: drop the driver and report the transport error. A flow cannot
//!    resume after a lost response (a token POST must never be replayed blindly).
//!
//! What happens otherwise:
//! - `start` called twice, or `on_response` called before `start`, with no request
//!   outstanding, or after [`Step::Done`]: an [`Error::Usage`](crate::Error::Usage), and the
//!   flow is not touched (a stray or repeated response is never parsed a second time).
//! - Any `Err` from `start` or `on_response` finishes the driver: later calls return
//!   [`Error::Usage`](crate::Error::Usage).
//!
//! # Who discovers the server
//!
//! A flow declares the [`ServerEndpoint`]s it sends to ([`Flow::endpoints`]). Before starting
//! it, the driver checks the flow's configuration: when every endpoint is configured, no
//! discovery happens; otherwise it uses the metadata given with [`Driver::with_metadata`], or
//! fetches `/.well-known/smart-configuration` itself first. Either way the flow receives the
//! metadata through [`Flow::provide_metadata`] and resolves its endpoint with one shared rule
//! (configured first, then discovered, https checked), so no flow carries discovery states.

mod driver;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::ClientConfig;
use crate::error::Error;
use crate::metadata::SmartMetadata;
use crate::random::RandomSource;
use crate::redirect::RedirectPolicy;
use crate::requests::{HttpRequest, HttpResponse};

use crate::discovery::ServerEndpoint;
pub use driver::{
    Driver, body_too_large, check_transport_security, clone_request, run_async, run_blocking,
};

/// What a flow wants next.
///
/// Its `Debug` shows the method, the URL without query, the operation and the body length,
/// never the body (which carries codes, tokens and assertions). `http::Request`'s own `Debug`
/// prints the body: don't log requests with it.
#[must_use = "a Step::Send request must be sent and its response fed back"]
#[allow(clippy::large_enum_variant)] // one value per round trip; boxing buys nothing
pub enum Step<T> {
    /// Send this request and feed the response back.
    Send(HttpRequest),
    /// The flow is finished.
    Done(T),
}

impl<T: std::fmt::Debug> std::fmt::Debug for Step<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Send(request) => f
                .debug_struct("Send")
                .field("method", request.method())
                .field(
                    "url",
                    &crate::error::url_for_message(&request.uri().to_string()),
                )
                .field(
                    "operation",
                    &request.extensions().get::<crate::requests::Operation>(),
                )
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

/// A protocol operation as a state machine. Run it with a [`Driver`]; see the module docs
/// for the call contract.
pub trait Flow {
    /// What the flow produces.
    type Output;

    /// The configuration the flow runs under: the driver reads the discovery URL and the
    /// explicitly configured endpoints from it. A flow that names no [`ServerEndpoint`] and
    /// needs no metadata may have none.
    fn config(&self) -> Option<&ClientConfig> {
        None
    }

    /// The server endpoints this flow sends to. Those not configured explicitly are
    /// discovered by the driver before [`Flow::start`].
    fn endpoints(&self) -> &[ServerEndpoint] {
        &[]
    }

    /// True when the flow needs the server's metadata even with every endpoint configured
    /// (e.g. to check that a capability is advertised).
    fn needs_metadata(&self) -> bool {
        false
    }

    /// Problems the flow can find without the network (missing configuration or
    /// credentials). The driver calls it before discovering, so they surface first.
    fn preflight(&self) -> Result<(), Error> {
        Ok(())
    }

    /// Receives the server's metadata (discovered or cached) before [`Flow::start`].
    fn provide_metadata(&mut self, metadata: Arc<SmartMetadata>) {
        let _ = metadata;
    }

    /// The first step: a request, or an immediate result when nothing needs the network.
    fn start(&mut self, env: &mut Env<'_>) -> Result<Step<Self::Output>, Error>;

    /// Feeds the final (non-redirect) response to the last request.
    fn on_response(
        &mut self,
        response: HttpResponse,
        env: &mut Env<'_>,
    ) -> Result<Step<Self::Output>, Error>;
}

/// The error a transport returns when a call's deadline has passed.
///
/// ```
/// use std::time::Duration;
/// let err = safire_core::transport::call_timed_out(Duration::from_secs(3));
/// assert!(err.to_string().contains("call_timeout of 3s"));
/// ```
pub fn call_timed_out(limit: Duration) -> crate::error::NetworkError {
    crate::error::NetworkError::new(
        crate::error::NetworkErrorKind::Timeout,
        format!(
            "The call did not finish within its call_timeout of {limit:?} (discovery, redirects \
             and the request all count against it; raise Limits::call_timeout if the server is \
             that slow)"
        ),
    )
}

/// Whether `flow` needs the server's metadata before it can start: one of its endpoints is
/// not configured, or it asks for the metadata itself.
pub fn needs_discovery<F: Flow + ?Sized>(flow: &F) -> bool {
    flow.needs_metadata()
        || flow.endpoints().iter().any(|endpoint| {
            flow.config()
                .is_none_or(|config| endpoint.configured(config).is_none())
        })
}

/// Limits transports must enforce.
///
/// ```
/// use std::time::Duration;
/// use safire_core::Limits;
/// let limits = Limits::default().call_timeout(Duration::from_secs(5));
/// assert_eq!(limits.max_response_bytes, 1024 * 1024);
/// assert_eq!(limits.redirects.max_hops, 5);
/// assert_eq!(limits.call_timeout, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest response body accepted; transports stop reading past it.
    pub max_response_bytes: usize,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one whole call of a client method: discovery, every redirect and the
    /// request itself, up to the last body byte, all count against this one deadline.
    pub call_timeout: Duration,
    /// What redirects may be followed.
    pub redirects: RedirectPolicy,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_response_bytes: 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(30),
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

    /// The same limits with another body cap.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// The same limits with another connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The same limits with another deadline for one whole call (discovery, redirects and
    /// the request together).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The older name of [`Limits::call_timeout`]: the deadline covers the whole call.
    pub fn request_timeout(self, timeout: Duration) -> Self {
        self.call_timeout(timeout)
    }

    /// The same limits with cross-origin discovery redirects allowed or not (default: not).
    pub fn allow_cross_origin_discovery_redirects(mut self, allow: bool) -> Self {
        self.redirects.allow_cross_origin_discovery = allow;
        self
    }

    /// The same limits with another redirect hop limit.
    pub fn max_redirects(mut self, hops: usize) -> Self {
        self.redirects.max_hops = hops;
        self
    }
}

#[cfg(test)]
mod tests;
