//! safire-hyper against in-process hyper servers on 127.0.0.1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use safire_hyper::{
    AuthorizeParams, CallOptions, ClientConfig, Error, ErrorSource, NetworkErrorKind, SmartClient,
};
use tokio::net::TcpListener;

type TestBody = BoxBody<Bytes, Infallible>;
type Handler = Arc<dyn Fn(&Seen) -> Response<TestBody> + Send + Sync>;

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    user_agent: Option<String>,
    body: String,
}

struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn hits(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .count()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn text(status: u16, body: impl Into<Bytes>) -> Response<TestBody> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(body.into()).boxed())
        .unwrap()
}

/// Serves `handler` on 127.0.0.1, waiting `delay` before each answer; `tls` wraps connections.
async fn serve(
    delay: Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handler: impl Fn(&Seen) -> Response<TestBody> + Send + Sync + 'static,
) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let handler: Handler = Arc::new(handler);
    let (log, count) = (seen.clone(), connections.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let (handler, log, tls) = (handler.clone(), log.clone(), tls.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let (handler, log) = (handler.clone(), log.clone());
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let seen = Seen {
                            method: parts.method.to_string(),
                            path: parts.uri.path().to_owned(),
                            user_agent: parts
                                .headers
                                .get("user-agent")
                                .map(|v| v.to_str().unwrap().to_owned()),
                            body: String::from_utf8_lossy(&body).into_owned(),
                        };
                        log.lock().unwrap().push(seen.clone());
                        tokio::time::sleep(delay).await;
                        Ok::<_, Infallible>(handler(&seen))
                    }
                });
                let http = hyper::server::conn::http1::Builder::new();
                let _ = match tls {
                    Some(tls) => match tls.accept(stream).await {
                        Ok(stream) => http.serve_connection(TokioIo::new(stream), service).await,
                        Err(_) => return,
                    },
                    None => http.serve_connection(TokioIo::new(stream), service).await,
                };
            });
        }
    });
    Server {
        addr,
        seen,
        connections,
    }
}

/// A SMART configuration pointing at `server`.
fn smart_configuration(server_base: &str) -> String {
    format!(
        r#"{{"issuer":"{server_base}/fhir","authorization_endpoint":"{server_base}/authorize","token_endpoint":"{server_base}/token","capabilities":["launch-standalone","client-public"],"code_challenge_methods_supported":["S256"]}}"#
    )
}

fn config(base: &str) -> ClientConfig {
    ClientConfig::builder(format!("{base}/fhir"))
        .client_id("test-app")
        .redirect_uri("http://127.0.0.1:9/callback")
        .scopes(["openid", "launch/patient", "patient/*.rs"])
        .allow_insecure_localhost(true)
        .build()
        .unwrap()
}

fn network_kind(error: &Error) -> Option<NetworkErrorKind> {
    match error {
        Error::Network(e) => Some(e.kind),
        _ => None,
    }
}

const DISCOVERY: &str = "/fhir/.well-known/smart-configuration";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_is_cached_and_concurrent_first_calls_send_one_request() {
    let base = Arc::new(Mutex::new(String::new()));
    let b = base.clone();
    let server = serve(Duration::from_millis(150), None, move |_| {
        text(200, smart_configuration(&b.lock().unwrap()))
    })
    .await;
    *base.lock().unwrap() = server.url("");

    let client = SmartClient::new(config(&server.url(""))).unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.server_metadata().await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap().unwrap());
    }
    assert_eq!(
        server.hits(DISCOVERY),
        1,
        "one discovery request for 8 callers"
    );
    assert!(results.iter().all(|m| Arc::ptr_eq(m, &results[0])));
    assert_eq!(
        results[0].token_endpoint.as_deref(),
        Some(server.url("/token").as_str())
    );

    // Later calls are served from the cache.
    client.server_metadata().await.unwrap();
    assert_eq!(server.hits(DISCOVERY), 1);
    let seen = server.seen();
    assert_eq!(
        seen[0].user_agent.as_deref(),
        Some(safire_hyper::safire_core::USER_AGENT)
    );
}

#[tokio::test]
async fn failed_discovery_is_not_cached() {
    let calls = Arc::new(AtomicUsize::new(0));
    let base = Arc::new(Mutex::new(String::new()));
    let (c, b) = (calls.clone(), base.clone());
    let server = serve(Duration::ZERO, None, move |_| {
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            text(503, "{}")
        } else {
            text(200, smart_configuration(&b.lock().unwrap()))
        }
    })
    .await;
    *base.lock().unwrap() = server.url("");

    let client = SmartClient::new(config(&server.url(""))).unwrap();
    let first = client.server_metadata().await.unwrap_err();
    assert!(matches!(first, Error::Discovery(_)), "{first:?}");
    client.server_metadata().await.unwrap();
    client.server_metadata().await.unwrap();
    assert_eq!(server.hits(DISCOVERY), 2);
}

#[tokio::test]
async fn standalone_launch_discovers_then_exchanges_the_code() {
    let base = Arc::new(Mutex::new(String::new()));
    let b = base.clone();
    let server = serve(Duration::ZERO, None, move |seen| match seen.path.as_str() {
        DISCOVERY => text(200, smart_configuration(&b.lock().unwrap())),
        "/token" => text(
            200,
            r#"{"access_token":"at-123","token_type":"Bearer","expires_in":300,"scope":"openid launch/patient patient/*.rs","patient":"p-42","refresh_token":"rt-9"}"#,
        ),
        _ => text(404, "{}"),
    })
    .await;
    *base.lock().unwrap() = server.url("");

    let client = SmartClient::new(config(&server.url(""))).unwrap();
    let request = client
        .authorization_url(AuthorizeParams::default())
        .await
        .unwrap();
    assert!(request.url.as_str().starts_with(&server.url("/authorize?")));
    let state = request
        .url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();

    let callback = format!("http://127.0.0.1:9/callback?code=the-code&state={state}");
    let token = client
        .request_access_token(request.pending.clone(), &callback, CallOptions::new())
        .await
        .unwrap();
    assert_eq!(token.access_token.expose(), "at-123");
    assert_eq!(token.launch.patient.as_deref(), Some("p-42"));

    let seen = server.seen();
    assert_eq!(
        seen.len(),
        2,
        "one discovery (cached for the exchange), one token request"
    );
    let exchange = &seen[1];
    assert_eq!(exchange.method, "POST");
    assert!(exchange.body.contains("code=the-code"), "{}", exchange.body);
    assert!(exchange.body.contains("code_verifier="));
    // Reused connection: discovery and token exchange went over one TCP connection.
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream); // accept, read nothing, answer nothing
        }
    });

    let client = SmartClient::builder(config(&format!("http://{addr}")))
        .call_timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client.server_metadata().await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(
        network_kind(&error),
        Some(NetworkErrorKind::Timeout),
        "{error}"
    );
    assert!(elapsed < Duration::from_millis(1400), "took {elapsed:?}");
    assert!(
        error.to_string().contains("call_timeout of 400ms"),
        "{error}"
    );
    assert!(!error.to_string().contains('?'));
    hold.abort();
}

#[tokio::test]
async fn the_connect_timeout_applies_to_opening_the_connection() {
    // A listener whose accept queue is full and never drained: further SYNs go unanswered.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let connect = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(Duration::from_millis(100), connect).await {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => break, // the queue is full
        }
    }

    let client = SmartClient::builder(config(&format!("http://{addr}")))
        .connect_timeout(Duration::from_millis(300))
        .call_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client.server_metadata().await.unwrap_err();
    assert_eq!(
        network_kind(&error),
        Some(NetworkErrorKind::Timeout),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("Connecting timed out after 300ms"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_millis(1300));
    drop((listener, fillers));
}

/// A body of spaces without a length, in 64 KiB frames, `left` bytes long.
struct Endless {
    left: usize,
}

impl Body for Endless {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(64 * 1024);
        self.left -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b' '; n])))))
    }
}

#[tokio::test]
async fn a_huge_streamed_body_is_cut_at_the_cap() {
    let server = serve(Duration::ZERO, None, |seen| {
        let builder = Response::builder().status(200);
        if seen.path == DISCOVERY {
            // 50 MiB, chunked: no Content-Length to refuse up front.
            builder.body(Endless { left: 50 << 20 }.boxed()).unwrap()
        } else {
            builder
                .header("content-length", (50u64 << 20).to_string())
                .body(Endless { left: 50 << 20 }.boxed())
                .unwrap()
        }
    })
    .await;

    let client = SmartClient::new(config(&server.url(""))).unwrap();
    let started = Instant::now();
    let error = client.server_metadata().await.unwrap_err();
    assert_eq!(
        network_kind(&error),
        Some(NetworkErrorKind::BodyTooLarge),
        "{error}"
    );
    assert!(error.to_string().contains("1048576-byte limit"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));

    // A body announced too large is refused before it is read.
    let small = SmartClient::builder(config(&server.url("")))
        .max_response_bytes(1000)
        .build()
        .unwrap();
    let error = small
        .register_client(
            &safire_hyper::ClientMetadata::new("app"),
            Some(&server.url("/register")),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        network_kind(&error),
        Some(NetworkErrorKind::BodyTooLarge),
        "{error}"
    );
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let client = SmartClient::new(config(&format!("http://{addr}"))).unwrap();
    let error = client.server_metadata().await.unwrap_err();
    assert_eq!(
        network_kind(&error),
        Some(NetworkErrorKind::Connect),
        "{error}"
    );
    assert_eq!(error.to_string(), "HTTP request failed: Connection refused");
    assert_eq!(error.source_of_fault(), ErrorSource::Network);
}

#[tokio::test]
async fn a_307_from_the_token_endpoint_is_refused_without_touching_the_target() {
    let target = serve(Duration::ZERO, None, |_| {
        text(200, r#"{"access_token":"x"}"#)
    })
    .await;
    let location = target.url("/token");
    let server = serve(Duration::ZERO, None, move |_| {
        Response::builder()
            .status(307)
            .header("location", &location)
            .body(Full::new(Bytes::new()).boxed())
            .unwrap()
    })
    .await;

    let config = ClientConfig::builder(server.url("/fhir"))
        .client_id("test-app")
        .token_endpoint(server.url("/token"))
        .allow_insecure_localhost(true)
        .build()
        .unwrap();
    let client = SmartClient::new(config).unwrap();
    let error = client
        .refresh_token("rt-secret", CallOptions::new())
        .await
        .unwrap_err();
    assert_eq!(
        network_kind(&error),
        Some(NetworkErrorKind::RedirectRefused),
        "{error}"
    );
    assert_eq!(server.hits("/token"), 1);
    assert_eq!(target.seen().len(), 0, "the redirect target got nothing");
    assert!(!error.to_string().contains("rt-secret"));
}

mod tls {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    /// A private CA and a TLS listener for 127.0.0.1 with a certificate it issued.
    async fn tls_server() -> (Server, String) {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let base = Arc::new(Mutex::new(String::new()));
        let b = base.clone();
        let server = serve(Duration::ZERO, Some(acceptor), move |_| {
            text(200, smart_configuration(&b.lock().unwrap()))
        })
        .await;
        *base.lock().unwrap() = format!("https://{}", server.addr);
        (server, ca.pem())
    }

    fn https_config(server: &Server) -> ClientConfig {
        ClientConfig::builder(format!("https://{}/fhir", server.addr))
            .client_id("test-app")
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn an_untrusted_certificate_is_a_tls_error() {
        let (server, _) = tls_server().await;
        let client = SmartClient::new(https_config(&server)).unwrap();
        let error = client.server_metadata().await.unwrap_err();
        assert_eq!(network_kind(&error), Some(NetworkErrorKind::Tls), "{error}");
        assert!(error.to_string().contains("certificate"), "{error}");
        assert_eq!(server.seen().len(), 0);
    }

    #[tokio::test]
    async fn a_private_root_added_from_pem_is_trusted() {
        let (server, ca_pem) = tls_server().await;
        let client = SmartClient::builder(https_config(&server))
            .add_root_certificate_pem(ca_pem.as_bytes())
            .unwrap()
            .build()
            .unwrap();
        let metadata = client.server_metadata().await.unwrap();
        assert_eq!(
            metadata.token_endpoint.as_deref(),
            Some(format!("https://{}/token", server.addr).as_str())
        );
        assert_eq!(server.hits(DISCOVERY), 1);
    }

    #[test]
    fn garbage_pem_is_a_configuration_error() {
        let builder = SmartClient::builder(
            ClientConfig::builder("https://ehr.example/fhir")
                .build()
                .unwrap(),
        );
        let error = builder.add_root_certificate_pem(b"not a pem").unwrap_err();
        assert_eq!(error.source_of_fault(), ErrorSource::Caller);
        assert!(error.to_string().contains("root_certificate"), "{error}");
    }
}

/// Compile-time: the client and every future it returns can live in axum state and handlers.
#[allow(dead_code)]
fn futures_are_send(client: SmartClient, pending: safire_hyper::PendingAuthorization) {
    fn send<T: Send>(_: T) {}
    fn shared<T: Send + Sync + Clone + 'static>() {}
    shared::<SmartClient>();
    let metadata = safire_hyper::ClientMetadata::new("app");
    send(client.server_metadata());
    send(client.authorization_url(AuthorizeParams::default()));
    send(client.request_access_token(pending.clone(), "https://a.example/cb", CallOptions::new()));
    send(client.refresh_token("rt", CallOptions::new()));
    send(client.request_backend_token(CallOptions::new()));
    send(client.register_client(&metadata, None, None));
    let flows = safire_hyper::safire_core::FlowFactory::new(client.config().clone());
    send(client.run(flows.discovery()));
}
