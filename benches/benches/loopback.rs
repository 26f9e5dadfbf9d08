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

fn header(request: &http::Request<Vec<u8>>, name: http::header::HeaderName) -> &str {
    request.headers()[name].to_str().expect("ascii")
}

fn loopback(c: &mut Criterion) {
    let addr = start_server();
    let config = config(addr);
    let request = safire_request(&config);
    let url = request.uri().to_string();
    let body = request.body().clone();
    let accept = header(&request, http::header::ACCEPT).to_owned();
    let content_type = header(&request, http::header::CONTENT_TYPE).to_owned();

    // ureq: blocking.
    let safire = safire_ureq::SmartClient::builder(config.clone())
        .build()
        .expect("client");
    let agent = ureq::Agent::new_with_defaults();
    let raw_ureq = || {
        agent
            .post(&url)
            .header("accept", &accept)
            .header("content-type", &content_type)
            .send(&body[..])
            .expect("raw ureq")
            .body_mut()
            .read_to_vec()
            .expect("body")
    };
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
        b.iter(|| {
            timed_agent
                .post(&url)
                .header("accept", &accept)
                .header("content-type", &content_type)
                .send(&body[..])
                .expect("raw ureq")
                .body_mut()
                .read_to_vec()
                .expect("body")
        })
    });
    group.finish();

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
        let request = hyper::Request::post(&url)
            .header("accept", &accept)
            .header("content-type", &content_type)
            .body(Full::new(Bytes::copy_from_slice(&body)))
            .expect("request");
        let response = raw.request(request).await.expect("raw hyper");
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
}

criterion_group!(benches, loopback);
criterion_main!(benches);
