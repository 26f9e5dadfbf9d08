//! Hermetic HTTP(S) servers on 127.0.0.1: scripted replies, every request recorded.
//!
//! HTTP/1.1 is parsed by hand (request line, headers, `Content-Length` body; keep-alive), so
//! the servers share no code with any transport under test. TLS is rustls (ring) with a
//! certificate from a CA generated per test by rcgen.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, as on the request line.
    pub target: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Which accepted connection it came on (numbered from 0 per server): shows pooling.
    pub connection: u64,
}

impl Recorded {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as an `application/x-www-form-urlencoded` map (later duplicates win).
    pub fn form(&self) -> BTreeMap<String, String> {
        safire_core::url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// What the server does with a request.
pub enum Reply {
    /// A complete response (`Content-Length` is added).
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Read the request, then never answer (the connection stays open until the server drops).
    Hang,
    /// Send this complete raw response one byte per `interval`.
    Trickle { raw: Vec<u8>, interval: Duration },
    /// `200` with a body of `len` spaces, streamed in 64 KiB writes from one static buffer;
    /// stops when the client goes away. Bytes written are counted in [`TestServer::streamed`].
    Stream { len: u64 },
}

impl Reply {
    /// A JSON response.
    pub fn json(status: u16, value: serde_json::Value) -> Self {
        Reply::Full {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    /// A response with a content type.
    pub fn text(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Reply::Full {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Reply::Full {
            status,
            headers: vec![("location".into(), location.into())],
            body: Vec::new(),
        }
    }
}

type Handler = dyn Fn(&Recorded, &str) -> Reply + Send + Sync;

/// A running server; stops accepting (and releases hanging connections) when dropped.
pub struct TestServer {
    addr: SocketAddr,
    scheme: &'static str,
    requests: Arc<Mutex<Vec<Recorded>>>,
    streamed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl TestServer {
    /// A plain-HTTP server. `handler(request, base_url)` decides each reply.
    pub fn http(handler: impl Fn(&Recorded, &str) -> Reply + Send + Sync + 'static) -> Self {
        Self::start(None, Arc::new(handler))
    }

    /// An HTTPS server with a certificate for `127.0.0.1` and `localhost` issued by `ca`.
    pub fn https(
        ca: &TestCa,
        handler: impl Fn(&Recorded, &str) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::start(Some(ca.server_config()), Arc::new(handler))
    }

    fn start(tls: Option<Arc<rustls::ServerConfig>>, handler: Arc<Handler>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = Self {
            addr,
            scheme,
            requests: Arc::default(),
            streamed: Arc::default(),
            stop: Arc::default(),
        };
        let ctx = Conn {
            base: server.base_url(),
            handler,
            requests: server.requests.clone(),
            streamed: server.streamed.clone(),
            stop: server.stop.clone(),
            id: 0,
        };
        thread::spawn(move || {
            let mut next_id = 0;
            while !ctx.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let mut ctx = ctx.clone();
                        ctx.id = next_id;
                        next_id += 1;
                        let tls = tls.clone();
                        thread::spawn(move || ctx.serve(stream, tls));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => break,
                }
            }
        });
        server
    }

    /// `http(s)://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// `base_url() + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Requests received whose path is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }

    /// Bytes written so far by [`Reply::Stream`] replies.
    pub fn streamed(&self) -> u64 {
        self.streamed.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[derive(Clone)]
struct Conn {
    base: String,
    handler: Arc<Handler>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    streamed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    id: u64,
}

impl Conn {
    fn serve(self, stream: TcpStream, tls: Option<Arc<rustls::ServerConfig>>) {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_nodelay(true);
        // Bounded: a test's client that goes silent must not pin a thread for ever.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
        match tls {
            None => self.serve_stream(stream),
            Some(config) => {
                let Ok(connection) = rustls::ServerConnection::new(config) else {
                    return;
                };
                self.serve_stream(rustls::StreamOwned::new(connection, stream));
            }
        }
    }

    fn serve_stream<S: Read + Write>(&self, stream: S) {
        let mut reader = BufReader::new(stream);
        loop {
            let Some(request) = read_request(&mut reader, self.id) else {
                return;
            };
            self.requests.lock().unwrap().push(request.clone());
            let reply = (self.handler)(&request, &self.base);
            let stream = reader.get_mut();
            let keep_going = match reply {
                Reply::Full {
                    status,
                    headers,
                    body,
                } => {
                    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
                    for (name, value) in headers {
                        head.push_str(&format!("{name}: {value}\r\n"));
                    }
                    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
                    stream.write_all(head.as_bytes()).is_ok()
                        && stream.write_all(&body).is_ok()
                        && stream.flush().is_ok()
                }
                Reply::Hang => {
                    let until = Instant::now() + Duration::from_secs(30);
                    while !self.stop.load(Ordering::SeqCst) && Instant::now() < until {
                        thread::sleep(Duration::from_millis(20));
                    }
                    false
                }
                Reply::Trickle { raw, interval } => {
                    for byte in raw {
                        if self.stop.load(Ordering::SeqCst)
                            || stream.write_all(&[byte]).is_err()
                            || stream.flush().is_err()
                        {
                            break;
                        }
                        thread::sleep(interval);
                    }
                    false
                }
                Reply::Stream { len } => {
                    static CHUNK: [u8; 64 * 1024] = [b' '; 64 * 1024];
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
                    );
                    if stream.write_all(head.as_bytes()).is_ok() {
                        let mut left = len;
                        while left > 0 && !self.stop.load(Ordering::SeqCst) {
                            let n = left.min(CHUNK.len() as u64) as usize;
                            if stream.write_all(&CHUNK[..n]).is_err() {
                                break;
                            }
                            self.streamed.fetch_add(n as u64, Ordering::SeqCst);
                            left -= n as u64;
                        }
                        let _ = stream.flush();
                    }
                    false
                }
            };
            if !keep_going {
                return;
            }
        }
    }
}

fn read_request(reader: &mut impl BufRead, connection: u64) -> Option<Recorded> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    assert!(
        !headers.iter().any(|(n, _)| n == "transfer-encoding"),
        "the test server reads Content-Length bodies only"
    );
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded {
        method,
        target,
        headers,
        body,
        connection,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        500 => "Internal Server Error",
        _ => "Whatever",
    }
}

/// A throw-away CA and a server certificate for `127.0.0.1` / `localhost` signed by it.
pub struct TestCa {
    ca_pem: String,
    leaf_der: Vec<u8>,
    leaf_key_der: Vec<u8>,
}

impl TestCa {
    /// Generates a fresh CA (ECDSA P-256) and server certificate.
    pub fn new() -> Self {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Safire transport-suite test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

        let mut leaf_params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .unwrap();
        leaf_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "127.0.0.1");
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        Self {
            ca_pem: ca.pem(),
            leaf_der: leaf.der().to_vec(),
            leaf_key_der: leaf_key.serialize_der(),
        }
    }

    /// The CA certificate in PEM, for `add_root_certificate_pem`.
    pub fn ca_pem(&self) -> &[u8] {
        self.ca_pem.as_bytes()
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![rustls::pki_types::CertificateDer::from(
                    self.leaf_der.clone(),
                )],
                rustls::pki_types::PrivateKeyDer::Pkcs8(self.leaf_key_der.clone().into()),
            )
            .unwrap();
        Arc::new(config)
    }
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A listener on 127.0.0.1 whose accept queue is full and never drained, so further SYNs go
/// unanswered and a connect attempt can only time out. Keep it alive while the test runs.
pub struct SaturatedListener {
    addr: SocketAddr,
    _listener: socket2::Socket,
    _fillers: Vec<TcpStream>,
}

impl SaturatedListener {
    /// Listens with a backlog of 0 and fills the queue.
    pub fn new() -> Self {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .expect("bind");
        socket.listen(0).expect("listen");
        let addr = socket
            .local_addr()
            .unwrap()
            .as_socket()
            .expect("an IP address");
        let mut fillers = Vec::new();
        for _ in 0..8 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                Ok(stream) => fillers.push(stream),
                Err(_) => break, // the queue is full
            }
        }
        Self {
            addr,
            _listener: socket,
            _fillers: fillers,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
