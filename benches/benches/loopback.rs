//! A token request over loopback HTTP/1.1: Safire's transports (safire-ureq, safire-hyper)
//! against a bare ureq / hyper POST of the same bytes to the same in-process server
//! (see BENCHMARKS.md). Both sides keep their connection alive, as in production.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use safire_benches::TOKEN_RESPONSE;
use safire_benches::paired::{Routine, Settings, measure, plain};
use safire_core::{CallOptions, ClientConfig, Env, Flow, SeededRandom, Step, TokenFlow};

const REFRESH_TOKEN: &str = "tGzv3JOkF0XG5Qx2TlKWIA.refresh.7c1e";

/// Connections the server has accepted: each client should open one and keep reusing it.
static ACCEPTED: AtomicUsize = AtomicUsize::new(0);

/// Runs `requests`, then says how many connections they opened (pooling at work: 0 or 1).
fn connections_opened(label: &str, requests: impl FnOnce()) {
    let before = ACCEPTED.load(Ordering::SeqCst);
    requests();
    let opened = ACCEPTED.load(Ordering::SeqCst) - before;
    eprintln!("{label}: {opened} connection(s) opened");
}

/// Serves TOKEN_RESPONSE to every request, on its own thread and runtime, until the process ends.
fn start_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                ACCEPTED.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(
                        |request: hyper::Request<hyper::body::Incoming>| async move {
                            let _ = request.into_body().collect().await;
                            Ok::<_, Infallible>(
                                hyper::Response::builder()
                                    .header("content-type", "application/json")
                                    .header("cache-control", "no-store")
                                    .body(Full::new(Bytes::from_static(TOKEN_RESPONSE)))
                                    .expect("response"),
                            )
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    addr
}

fn config(addr: SocketAddr) -> ClientConfig {
    ClientConfig::builder(format!("http://{addr}/fhir"))
        .client_id("bench-app")
        .token_endpoint(format!("http://{addr}/token"))
        .allow_insecure_localhost(true)
        .build()
        .expect("config")
}

/// The exact request Safire sends for the refresh, built sans-IO: the raw clients send it too.
fn safire_request(config: &ClientConfig) -> http::Request<Vec<u8>> {
    let mut flow = TokenFlow::refresh(Arc::new(config.clone()), REFRESH_TOKEN);
    let mut random = SeededRandom::new(1);
    match flow.start(&mut Env::new(safire_benches::now(), &mut random)) {
        Ok(Step::Send(request)) => request,
        _ => unreachable!("a token request"),
    }
}

/// Safire's request as the bare clients send it: URL, the two headers and the body, taken
/// apart once so that no bare request pays for it.
struct RawPost {
    url: String,
    accept: String,
    content_type: String,
    body: Vec<u8>,
}

impl RawPost {
    fn of(request: &http::Request<Vec<u8>>) -> Self {
        let header = |name| request.headers()[name].to_str().expect("ascii").to_owned();
        Self {
            url: request.uri().to_string(),
            accept: header(http::header::ACCEPT),
            content_type: header(http::header::CONTENT_TYPE),
            body: request.body().clone(),
        }
    }

    /// POSTs with a bare ureq agent; returns the body.
    fn ureq(&self, agent: &ureq::Agent) -> Vec<u8> {
        agent
            .post(&self.url)
            .header("accept", &self.accept)
            .header("content-type", &self.content_type)
            .send(&self.body[..])
            .expect("raw ureq")
            .body_mut()
            .read_to_vec()
            .expect("body")
    }

    /// The same request for the bare hyper client.
    fn hyper(&self) -> hyper::Request<Full<Bytes>> {
        hyper::Request::post(&self.url)
            .header("accept", &self.accept)
            .header("content-type", &self.content_type)
            .body(Full::new(Bytes::copy_from_slice(&self.body)))
            .expect("request")
    }
}

/// Safire's round trip against the bare client's, measured **interleaved** (alternating
/// batches, `safire_benches::paired`), so that load and frequency changes between criterion's
/// separate groups do not enter the ratio: prints the ratios BENCHMARKS.md reports (time ÷ raw
/// time; throughput ratio = 1 ÷ this). Takes `--warm-up-time`, `--measurement-time` and the
/// name filter from the command line, like the groups.
fn paired<'r>(
    transport: &str,
    safire: &mut dyn Routine,
    raw: &'r mut dyn Routine,
    raw_json: &'r mut dyn Routine,
) {
    let settings = Settings::from_args();
    for (baseline, routine) in [("raw", raw), ("raw+json", raw_json)] {
        let name = format!("{transport}/safire ÷ {baseline} (paired)");
        if settings.selects(&name) {
            let result = measure(&name, &settings, safire, routine);
            println!("{}", result.markdown_row());
        }
    }
}

fn loopback(c: &mut Criterion) {
    let addr = start_server();
    let config = config(addr);
    let raw_post = RawPost::of(&safire_request(&config));

    // ureq: blocking.
    let safire = safire_ureq::SmartClient::builder(config.clone())
        .build()
        .expect("client");
    let agent = ureq::Agent::new_with_defaults();
    let raw_ureq = || raw_post.ureq(&agent);
    let token = safire
        .refresh_token(REFRESH_TOKEN, CallOptions::new())
        .expect("safire-ureq");
    assert!(token.refresh_token.is_some());
    assert_eq!(raw_ureq(), TOKEN_RESPONSE);
    let mut group = c.benchmark_group("loopback-ureq");
    connections_opened("loopback-ureq/safire", || {
        group.bench_function("safire", |b| {
            b.iter(|| {
                safire
                    .refresh_token(REFRESH_TOKEN, CallOptions::new())
                    .expect("safire-ureq")
            })
        });
    });
    connections_opened("loopback-ureq/raw", || {
        group.bench_function("raw", |b| b.iter(raw_ureq));
    });
    group.bench_function("raw+json", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(&raw_ureq()).expect("json"))
    });
    // Diagnostic: the bare agent with a whole-request timeout and ureq's default resolver, which
    // then resolves every request on a new thread (safire-ureq defers resolution to connecting).
    let timed_agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .new_agent();
    group.bench_function("raw-with-global-timeout", |b| {
        b.iter(|| raw_post.ureq(&timed_agent))
    });
    group.finish();
    paired(
        "loopback-ureq",
        &mut plain(|| {
            safire
                .refresh_token(REFRESH_TOKEN, CallOptions::new())
                .expect("safire-ureq")
        }),
        &mut plain(raw_ureq),
        &mut plain(|| serde_json::from_slice::<serde_json::Value>(&raw_ureq()).expect("json")),
    );

    // hyper: async, on one current-thread runtime for both.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let safire = safire_hyper::SmartClient::builder(config)
        .build()
        .expect("client");
    let raw: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();
    let raw_hyper = || async {
        let response = raw.request(raw_post.hyper()).await.expect("raw hyper");
        response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
    };
    let token = runtime
        .block_on(safire.refresh_token(REFRESH_TOKEN, CallOptions::new()))
        .expect("safire-hyper");
    assert!(token.refresh_token.is_some());
    assert_eq!(runtime.block_on(raw_hyper()), TOKEN_RESPONSE);
    let mut group = c.benchmark_group("loopback-hyper");
    connections_opened("loopback-hyper/safire", || {
        group.bench_function("safire", |b| {
            b.iter(|| {
                runtime
                    .block_on(safire.refresh_token(REFRESH_TOKEN, CallOptions::new()))
                    .expect("safire-hyper")
            })
        });
    });
    connections_opened("loopback-hyper/raw", || {
        group.bench_function("raw", |b| b.iter(|| runtime.block_on(raw_hyper())));
    });
    group.bench_function("raw+json", |b| {
        b.iter(|| {
            serde_json::from_slice::<serde_json::Value>(&runtime.block_on(raw_hyper()))
                .expect("json")
        })
    });
    group.finish();
    paired(
        "loopback-hyper",
        &mut plain(|| {
            runtime
                .block_on(safire.refresh_token(REFRESH_TOKEN, CallOptions::new()))
                .expect("safire-hyper")
        }),
        &mut plain(|| runtime.block_on(raw_hyper())),
        &mut plain(|| {
            serde_json::from_slice::<serde_json::Value>(&runtime.block_on(raw_hyper()))
                .expect("json")
        }),
    );
}

criterion_group!(benches, loopback);
criterion_main!(benches);
