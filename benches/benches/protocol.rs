//! The cheap parts of a SMART client, each next to a hand-written baseline: PKCE, authorize
//! start, the token request, and parsing discovery and token documents (see BENCHMARKS.md).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use safire_benches::{
    AUTHORIZE, SMART_CONFIGURATION, TOKEN_RESPONSE, authorize_baseline, now, pkce_baseline,
    token_form_baseline,
};
use safire_core::protocol::Pkce;
use safire_core::{AuthorizationCode, AuthorizeFlow};
use safire_core::{
    AuthorizeParams, ClientConfig, Env, Flow, OsRandom, SmartMetadata, Step, TokenFlow,
    TokenResponse,
};

const DISCOVERY_URL: &str = "https://ehr.example.com/fhir/r4/.well-known/smart-configuration";
const CODE: &str = "SplxlOBeZQQYbYS6WxSbIA.eyJ0aWQiOiI4ZjE0In0";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K6ZW3bD7TCrrUeXs3WAwcVbq8M";

fn config() -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder(AUTHORIZE.aud)
            .client_id(AUTHORIZE.client_id)
            .redirect_uri(AUTHORIZE.redirect_uri)
            .scopes(AUTHORIZE.scopes)
            .authorization_endpoint(AUTHORIZE.endpoint)
            .token_endpoint(safire_benches::TOKEN_URL)
            .build()
            .expect("config"),
    )
}

fn pkce(c: &mut Criterion) {
    let mut group = c.benchmark_group("pkce");
    group.bench_function("safire", |b| b.iter(|| Pkce::generate(&mut OsRandom)));
    group.bench_function("baseline", |b| b.iter(|| pkce_baseline(&mut OsRandom)));
    group.finish();
}

fn authorize(c: &mut Criterion) {
    let config = config();
    let mut group = c.benchmark_group("authorize-start");
    group.bench_function("safire", |b| {
        b.iter_batched(
            || AuthorizeFlow::new(config.clone(), AuthorizeParams::default()),
            |mut flow| {
                let mut random = OsRandom;
                match flow.start(&mut Env::new(now(), &mut random)) {
                    Ok(Step::Done(request)) => request,
                    _ => unreachable!("no discovery needed"),
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("baseline", |b| {
        b.iter(|| authorize_baseline(black_box(&AUTHORIZE), &mut OsRandom))
    });
    group.finish();
}

fn token_form(c: &mut Criterion) {
    let config = config();
    let code = AuthorizationCode::new(CODE, VERIFIER, AUTHORIZE.redirect_uri);
    let mut group = c.benchmark_group("token-request");
    group.bench_function("safire", |b| {
        b.iter_batched(
            || TokenFlow::authorization_code(config.clone(), code.clone()),
            |mut flow| {
                let mut random = OsRandom;
                match flow.start(&mut Env::new(now(), &mut random)) {
                    Ok(Step::Send(request)) => request,
                    _ => unreachable!("a request"),
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("baseline", |b| {
        b.iter(|| {
            token_form_baseline(
                black_box(safire_benches::TOKEN_URL),
                CODE,
                AUTHORIZE.redirect_uri,
                VERIFIER,
                AUTHORIZE.client_id,
            )
        })
    });
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

/// Sanity: Safire and the baselines produce the same things (checked once, before timing).
fn same_output() {
    let mut random = safire_core::SeededRandom::new(1);
    let mut flow = AuthorizeFlow::new(config(), AuthorizeParams::default());
    let Ok(Step::Done(request)) = flow.start(&mut Env::new(now(), &mut random)) else {
        panic!("authorize")
    };
    let mut random = safire_core::SeededRandom::new(1);
    let (url, state, verifier) = authorize_baseline(&AUTHORIZE, &mut random);
    assert_eq!(request.url, url);
    assert_eq!(request.pending.state(), state);
    assert_eq!(request.pending.code_verifier().expose(), verifier);

    let code = AuthorizationCode::new(CODE, VERIFIER, AUTHORIZE.redirect_uri);
    let mut flow = TokenFlow::authorization_code(config(), code);
    let Ok(Step::Send(ours)) = flow.start(&mut Env::new(now(), &mut random)) else {
        panic!("token")
    };
    let theirs = token_form_baseline(
        safire_benches::TOKEN_URL,
        CODE,
        AUTHORIZE.redirect_uri,
        VERIFIER,
        AUTHORIZE.client_id,
    );
    assert_eq!(ours.body(), theirs.body());
    assert_eq!(ours.uri(), theirs.uri());
    assert_eq!(ours.headers(), theirs.headers());
    assert!(SmartMetadata::from_response(DISCOVERY_URL, 200, SMART_CONFIGURATION).is_ok());
    assert!(TokenResponse::parse(200, TOKEN_RESPONSE, now()).is_ok());
}

fn checked(c: &mut Criterion) {
    same_output();
    pkce(c);
    authorize(c);
    token_form(c);
    parsing(c);
}

criterion_group!(benches, checked);
criterion_main!(benches);
