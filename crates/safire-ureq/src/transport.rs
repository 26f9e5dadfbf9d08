//! Moving bytes: one pooled ureq `Agent`, configured so that every decision stays in the core
//! (no redirects followed, no status turned into an error), with the body read under a cap.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use crate::resolve::{DeferredResolver, ResolvingConnector};
use safire_core::transport::{body_too_large, call_timed_out, url_for_message};
use safire_core::{
    HttpRequest, HttpResponse, Limits, NetworkError, NetworkErrorKind, Operation, USER_AGENT,
};
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, NextTimeout, Transport as UreqTransport, time,
};
use ureq::{Agent, AsSendBody};

pub(crate) struct Transport {
    agent: Agent,
    max_body: usize,
    connect_timeout: Duration,
    call_timeout: Duration,
    /// The agent's own whole-request limit (see [`agent_timeout`]).
    agent_timeout: Duration,
}

/// How much earlier than the call's deadline a request may give up, so that the agent's own
/// configuration serves the first request of a call.
const DEADLINE_SLACK: Duration = Duration::from_millis(1);

/// The agent's whole-request limit: the call's, less [`DEADLINE_SLACK`]. A request with at
/// least this much time left runs on the agent's configuration, and gives up at most the
/// slack before the call's deadline; a later one (after a redirect, a discovery, a slow
/// assertion signature) gets a per-request configuration with exactly the time left, which
/// costs ureq a copy of its configuration in the request's extensions (~1,500 instructions).
fn agent_timeout(call_timeout: Duration) -> Duration {
    if call_timeout > 2 * DEADLINE_SLACK {
        call_timeout - DEADLINE_SLACK
    } else {
        call_timeout
    }
}

impl Transport {
    pub(crate) fn new(limits: &Limits, extra_roots: Vec<Vec<u8>>) -> Self {
        let roots = if extra_roots.is_empty() {
            RootCerts::WebPki
        } else {
            // ureq takes either its webpki trust anchors or a certificate list: build the list
            // from Mozilla's roots plus the extra ones, so public servers stay trusted.
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned())
                .chain(
                    extra_roots
                        .iter()
                        .map(|der| Certificate::from_der(der).to_owned()),
                )
                .collect::<Vec<_>>()
                .into()
        };
        let config = Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .timeout_connect(Some(limits.connect_timeout))
            .timeout_global(Some(agent_timeout(limits.call_timeout)))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build();
        // Host names are resolved when a connection is opened, not on every request: ureq's
        // own resolver would spawn a thread per request to honour the timeout (see `resolve`).
        // Socket timeouts move in whole milliseconds (see `CoarseTimeouts`).
        let agent = Agent::with_parts(
            config,
            ResolvingConnector::default().chain(CoarseTimeouts),
            DeferredResolver,
        );
        Self {
            agent,
            max_body: limits.max_response_bytes,
            connect_timeout: limits.connect_timeout,
            call_timeout: limits.call_timeout,
            agent_timeout: agent_timeout(limits.call_timeout),
        }
    }

    /// Sends one request exactly as the core built it and reads the response under the cap,
    /// giving up at `deadline` (the call's one deadline).
    pub(crate) fn send(
        &self,
        request: HttpRequest,
        deadline: Instant,
    ) -> Result<HttpResponse, NetworkError> {
        let started = Instant::now();
        // Kept for the log event, when one can be emitted (a subscriber wants it, or none is
        // set and tracing's `log` feature may hand it to a logger); the redacted URL string
        // is only built if it is.
        let logged = (tracing::event_enabled!(tracing::Level::DEBUG)
            || !tracing::dispatcher::has_been_set())
        .then(|| {
            let operation = request.extensions().get::<Operation>().map(|op| op.label());
            (request.method().clone(), request.uri().clone(), operation)
        });
        let left = deadline.saturating_duration_since(started);
        let result = if left.is_zero() {
            Err(call_timed_out(self.call_timeout))
        } else {
            self.exchange(request, left)
        };
        let Some((method, uri, operation)) = logged else {
            return result;
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(response) => tracing::debug!(
                %method, url = %url_for_message(&uri.to_string()), operation,
                status = response.status().as_u16(), elapsed_ms,
                "safire HTTP request"
            ),
            Err(error) => tracing::debug!(
                %method, url = %url_for_message(&uri.to_string()), operation,
                error = ?error.kind, elapsed_ms,
                "safire HTTP request failed"
            ),
        }
        result
    }

    fn exchange(&self, request: HttpRequest, left: Duration) -> Result<HttpResponse, NetworkError> {
        let (parts, body) = request.into_parts();
        let response = if body.is_empty() {
            self.run(http::Request::from_parts(parts, ()), left)
        } else {
            self.run(http::Request::from_parts(parts, body), left)
        }
        .map_err(|e| self.network_error(e))?;
        let (parts, body) = response.into_parts();
        let body = body
            .into_with_config()
            .limit(self.max_body as u64)
            .read_to_vec()
            .map_err(|e| self.network_error(e))?;
        Ok(http::Response::from_parts(parts, body))
    }

    /// Runs `request` on the agent. The agent's own limit is the whole call (less the
    /// slack); a request with less time left than that gets exactly what is left.
    fn run<B: AsSendBody>(
        &self,
        request: http::Request<B>,
        left: Duration,
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        if left < self.agent_timeout {
            let request = self
                .agent
                .configure_request(request)
                .timeout_global(Some(left))
                .build();
            self.agent.run(request)
        } else {
            self.agent.run(request)
        }
    }

    fn network_error(&self, error: ureq::Error) -> NetworkError {
        use NetworkErrorKind as Kind;
        let timeout = |connect: bool| {
            if connect {
                let limit = self.connect_timeout;
                NetworkError::new(
                    Kind::Timeout,
                    format!("Connecting timed out after {limit:?}"),
                )
            } else {
                call_timed_out(self.call_timeout)
            }
        };
        match error {
            ureq::Error::BodyExceedsLimit(_) => body_too_large(self.max_body),
            ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => timeout(true),
            ureq::Error::Timeout(_) => timeout(false),
            ureq::Error::HostNotFound => NetworkError::new(Kind::Connect, "Host not found"),
            ureq::Error::ConnectionFailed => NetworkError::new(Kind::Connect, "Connection failed"),
            ureq::Error::Tls(reason) => NetworkError::new(Kind::Tls, format!("TLS: {reason}")),
            ureq::Error::Rustls(e) => {
                NetworkError::new(Kind::Tls, format!("TLS: {e}")).with_source(e)
            }
            ureq::Error::Pem(e) => NetworkError::new(Kind::Tls, format!("TLS: {e}")),
            ureq::Error::Io(e) => {
                if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    return NetworkError::new(Kind::Tls, format!("TLS: {tls}"))
                        .with_source(tls.clone());
                }
                let error = match e.kind() {
                    ErrorKind::ConnectionRefused => {
                        NetworkError::new(Kind::Connect, "Connection refused")
                    }
                    ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
                    | ErrorKind::AddrNotAvailable => {
                        NetworkError::new(Kind::Connect, e.to_string())
                    }
                    // std's getaddrinfo failure has no stable ErrorKind, only this message.
                    _ if e.to_string().starts_with("failed to lookup address") => {
                        NetworkError::new(Kind::Connect, format!("Host not found ({e})"))
                    }
                    ErrorKind::TimedOut | ErrorKind::WouldBlock => timeout(false),
                    ErrorKind::ConnectionReset => NetworkError::new(Kind::Io, "Connection reset"),
                    ErrorKind::UnexpectedEof => {
                        NetworkError::new(Kind::Io, "Connection closed before the response ended")
                    }
                    _ => NetworkError::new(Kind::Io, e.to_string()),
                };
                // io errors name no URL or secret: keep the original as the source.
                error.with_source(e)
            }
            // Remaining variants (protocol errors, oversized headers, bad URIs) carry no secrets
            // but may quote a URI: say what kind of failure it was, not the URI.
            ureq::Error::Protocol(e) => NetworkError::new(Kind::Io, format!("HTTP protocol: {e}")),
            ureq::Error::LargeResponseHeader(..) => {
                NetworkError::new(Kind::Io, "Response headers are too large")
            }
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
                NetworkError::new(Kind::Io, "The request URI or headers are not valid")
            }
            _ => NetworkError::new(Kind::Io, "HTTP transport failure"),
        }
    }
}

/// Wraps every connection so that the timeouts handed to the socket move in whole
/// milliseconds, rounded down.
///
/// ureq re-arms the socket's read and write timeouts whenever the time left changes, and with
/// a whole-call deadline it changes on every operation: three `setsockopt` calls per pooled
/// request, a measurable part of a loopback round trip. Rounded down to the millisecond, the
/// time left is the same from one operation (and one request) to the next, so the socket keeps
/// its timeout; the deadline can only come earlier, by less than a millisecond. Below one
/// millisecond the exact value is kept, so that it never rounds to an instant timeout.
#[derive(Debug)]
struct CoarseTimeouts;

impl Connector<Box<dyn UreqTransport>> for CoarseTimeouts {
    type Out = Box<dyn UreqTransport>;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        chained: Option<Box<dyn UreqTransport>>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| Box::new(Coarse(inner)) as Box<dyn UreqTransport>))
    }
}

/// A connection whose timeouts [`CoarseTimeouts`] rounds.
#[derive(Debug)]
struct Coarse(Box<dyn UreqTransport>);

/// `duration` rounded down to whole milliseconds, unless it is shorter than one.
fn coarse(duration: time::Duration) -> time::Duration {
    match duration {
        time::Duration::Exact(exact) if exact >= Duration::from_millis(1) => time::Duration::Exact(
            Duration::from_millis(u64::try_from(exact.as_millis()).unwrap_or(u64::MAX)),
        ),
        other => other,
    }
}

fn coarse_timeout(timeout: NextTimeout) -> NextTimeout {
    NextTimeout {
        after: coarse(timeout.after),
        per_read: timeout.per_read.map(coarse),
        per_write: timeout.per_write.map(coarse),
        ..timeout
    }
}

impl UreqTransport for Coarse {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.0.transmit_output(amount, coarse_timeout(timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.0.await_input(coarse_timeout(timeout))
    }

    fn is_open(&mut self) -> bool {
        self.0.is_open()
    }

    fn is_tls(&self) -> bool {
        self.0.is_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_down_to_whole_milliseconds_but_never_to_zero() {
        let exact = |d: Duration| time::Duration::Exact(d);
        assert_eq!(
            coarse(exact(Duration::from_micros(29_999_987_654))),
            exact(Duration::from_millis(29_999_987))
        );
        assert_eq!(
            coarse(exact(Duration::from_micros(1_500))),
            exact(Duration::from_millis(1))
        );
        // Below a millisecond the exact value stays: rounding must not expire the call.
        assert_eq!(
            coarse(exact(Duration::from_micros(700))),
            exact(Duration::from_micros(700))
        );
        assert_eq!(coarse(exact(Duration::ZERO)), exact(Duration::ZERO));
        assert_eq!(
            coarse(time::Duration::NotHappening),
            time::Duration::NotHappening
        );
        let timeout = coarse_timeout(NextTimeout {
            after: exact(Duration::from_micros(2_700)),
            reason: ureq::Timeout::Global,
            per_read: Some(exact(Duration::from_micros(5_100))),
            per_write: None,
        });
        assert_eq!(timeout.after, exact(Duration::from_millis(2)));
        assert_eq!(timeout.per_read, Some(exact(Duration::from_millis(5))));
        assert_eq!(timeout.reason, ureq::Timeout::Global);
    }
}
