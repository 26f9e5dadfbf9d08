//! The cheap parts of a SMART client, each next to a hand-written baseline: PKCE, authorize
//! start, the token request, and parsing discovery and token documents (see BENCHMARKS.md).
//! Absolute times; the `paired` target measures the same pairs interleaved for the ratios.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use safire_benches::{
    AUTHORIZE, DISCOVERY_URL, SMART_CONFIGURATION, TOKEN_RESPONSE, authorization_code,
    authorize_baseline, baseline_token_request, check_same_output, now, pkce_baseline,
    protocol_config, start,
};
use safire_core::protocol::Pkce;
use safire_core::{
    AuthorizeFlow, AuthorizeParams, OsRandom, SmartMetadata, TokenFlow, TokenResponse,
};

fn pkce(c: &mut Criterion) {
    let mut group = c.benchmark_group("pkce");
    group.bench_function("safire", |b| b.iter(|| Pkce::generate(&mut OsRandom)));
    group.bench_function("baseline", |b| b.iter(|| pkce_baseline(&mut OsRandom)));
    group.finish();
}

fn authorize(c: &mut Criterion) {
    let config = protocol_config();
    let mut group = c.benchmark_group("authorize-start");
    group.bench_function("safire", |b| {
        b.iter_batched_ref(
            || AuthorizeFlow::new(config.clone(), AuthorizeParams::default()),
            |flow| start(flow, &mut OsRandom),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("baseline", |b| {
        b.iter(|| authorize_baseline(black_box(&AUTHORIZE), &mut OsRandom))
    });
    group.finish();
}

fn token_form(c: &mut Criterion) {
    let config = protocol_config();
    let code = authorization_code();
    let mut group = c.benchmark_group("token-request");
    group.bench_function("safire", |b| {
        b.iter_batched_ref(
            || TokenFlow::authorization_code(config.clone(), code.clone()),
            |flow| start(flow, &mut OsRandom),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("baseline", |b| b.iter(baseline_token_request));
    group.finish();
}

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse-discovery");
    group.bench_function("safire", |b| {
        b.iter(|| SmartMetadata::from_response(DISCOVERY_URL, 200, black_box(SMART_CONFIGURATION)))
    });
    group.bench_function("serde_json-value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(SMART_CONFIGURATION)))
    });
    group.finish();

    let mut group = c.benchmark_group("parse-token");
    group.bench_function("safire", |b| {
        b.iter(|| TokenResponse::parse(200, black_box(TOKEN_RESPONSE), now()))
    });
    group.bench_function("serde_json-value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(TOKEN_RESPONSE)))
    });
    group.finish();
}

fn checked(c: &mut Criterion) {
    check_same_output();
    pkce(c);
    authorize(c);
    token_form(c);
    parsing(c);
}

criterion_group!(benches, checked);
criterion_main!(benches);
