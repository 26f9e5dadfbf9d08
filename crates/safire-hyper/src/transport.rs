//! The HTTP side: one pooled hyper client, the request deadline, the body cap, and the mapping
//! of hyper/rustls failures to [`NetworkError`]s. Nothing here knows SMART.

use std::error::Error as StdError;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, HeaderValue, USER_AGENT};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::RootCertStore;
use safire_core::transport::{body_too_large, call_timed_out, url_for_message};
use safire_core::{
    ConfigurationError, Error, HttpRequest, HttpResponse, Limits, NetworkError, NetworkErrorKind,
    Operation,
};

type HyperClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Validated once, at compile time, instead of on every request.
const USER_AGENT_VALUE: HeaderValue = HeaderValue::from_static(safire_core::USER_AGENT);

/// What the log event of a request needs: when it started, its method, URI and operation.
type Logged = (Instant, hyper::Method, hyper::Uri, Option<&'static str>);

/// Sends requests for one `SmartClient`: a connection pool, TLS roots and limits.
pub(crate) struct Transport {
    client: HyperClient,
    limits: Limits,
}

impl Transport {
    /// A pooled client trusting `roots`, with the connect timeout from `limits`.
    pub(crate) fn new(roots: RootCertStore, limits: Limits) -> Result<Self, Error> {
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigurationError::invalid("tls", e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();

        let mut http = HttpConnector::new();
        // The https connector hands it https URIs too; the core already refused remote http.
        http.enforce_http(false);
        http.set_connect_timeout(Some(limits.connect_timeout));
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(https);
        Ok(Self { client, limits })
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sends `request` and reads the whole body, within the request deadline and the body cap.
    ///
    /// The request is handed to the pool's (lazy, boxed) response future before the returned
    /// future starts, so that future carries neither copy of the request: it is moved whole
    /// into the caller's future, and every byte of it is copied there.
    pub(crate) fn send(
        &self,
        request: HttpRequest,
        deadline: tokio::time::Instant,
    ) -> impl Future<Output = Result<HttpResponse, Error>> + '_ {
        // Kept for the log event, when one can be emitted (a subscriber wants it, or none is
        // set and tracing's `log` feature may hand it to a logger); the redacted URL string
        // is only built if it is.
        let logged = (tracing::event_enabled!(tracing::Level::DEBUG)
            || !tracing::dispatcher::has_been_set())
        .then(|| {
            let operation = request.extensions().get::<Operation>().map(|op| op.label());
            (
                Instant::now(),
                request.method().clone(),
                request.uri().clone(),
                operation,
            )
        });

        let (mut parts, body) = request.into_parts();
        parts.headers.insert(USER_AGENT, USER_AGENT_VALUE);
        // Nothing is sent until the future is polled.
        let response = self.client.request(hyper::Request::from_parts(
            parts,
            Full::new(Bytes::from(body)),
        ));

        self.finish(response, deadline, logged)
    }

    /// The rest of [`Transport::send`]: the exchange within the deadline, then the log event.
    async fn finish(
        &self,
        response: ResponseFuture,
        deadline: tokio::time::Instant,
        logged: Option<Logged>,
    ) -> Result<HttpResponse, Error> {
        let limit = self.limits.call_timeout;
        let result = tokio::time::timeout_at(deadline, self.exchange(response))
            .await
            .unwrap_or_else(|_| Err(call_timed_out(limit)));

        let Some((started, method, uri, operation)) = logged else {
            return result.map_err(Error::from);
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
        result.map_err(Error::from)
    }

    async fn exchange(&self, response: ResponseFuture) -> Result<HttpResponse, NetworkError> {
        let response = response
            .await
            .map_err(|e| classify(e, self.limits.connect_timeout))?;
        let (parts, body) = response.into_parts();
        let limit = self.limits.max_response_bytes;
        let announced = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|len| len > limit as u64) {
            return Err(body_too_large(limit));
        }
        let body = read_capped(body, limit, announced).await?;
        Ok(hyper::Response::from_parts(parts, body))
    }
}

/// Reads `body` frame by frame, failing as soon as it passes `limit` bytes. `announced` (the
/// Content-Length, already checked against `limit`) sizes the buffer once.
async fn read_capped(
    mut body: Incoming,
    limit: usize,
    announced: Option<u64>,
) -> Result<Vec<u8>, NetworkError> {
    let capacity = announced.map_or(0, |len| usize::try_from(len).unwrap_or(limit).min(limit));
    let mut out = Vec::with_capacity(capacity);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| classify_source(&e))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(body_too_large(limit));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// Maps a hyper client error to a [`NetworkError`] by what its source chain holds.
fn classify(error: hyper_util::client::legacy::Error, connect_timeout: Duration) -> NetworkError {
    let mut found = classify_source(&error);
    if error.is_connect() {
        match found.kind {
            NetworkErrorKind::Io => found.kind = NetworkErrorKind::Connect,
            NetworkErrorKind::Timeout => {
                found.description = format!("Connecting timed out after {connect_timeout:?}");
            }
            _ => {}
        }
    }
    found
}

/// Walks the source chain (looking inside `io::Error`s, whose `source()` skips the error they
/// wrap) for a rustls error or a telling `io::ErrorKind`.
fn classify_source(error: &(dyn StdError + 'static)) -> NetworkError {
    let mut current = Some(error);
    let mut innermost = error;
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return NetworkError::new(NetworkErrorKind::Tls, format!("TLS: {tls}"))
                .with_source(tls.clone());
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::ConnectionRefused => {
                    return NetworkError::new(NetworkErrorKind::Connect, "Connection refused")
                        .with_source(io::Error::new(io.kind(), io.to_string()));
                }
                io::ErrorKind::TimedOut => {
                    return NetworkError::new(NetworkErrorKind::Timeout, "Connection timed out");
                }
                _ => {}
            }
        }
        innermost = e;
        current = next_source(e);
    }
    NetworkError::new(NetworkErrorKind::Io, innermost.to_string())
}

fn next_source<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(inner) = error
        .downcast_ref::<io::Error>()
        .and_then(io::Error::get_ref)
    {
        return Some(inner);
    }
    error.source()
}
