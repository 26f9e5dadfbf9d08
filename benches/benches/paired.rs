//! Every same-run ratio of BENCHMARKS.md, measured as interleaved pairs (see
//! `safire_benches::paired`): assertion and `PrivateKey::sign` against the raw signature for
//! each key and backend, and the protocol work against its hand-written baseline. Two control
//! pairs (a routine against itself) show what "no difference" looks like on this machine.
//!
//! ```sh
//! cargo bench --bench paired -- [--warm-up-time S] [--measurement-time S] [FILTER]
//! ```
//!
//! Prints one markdown row per pair: Safire, baseline (median per-iteration times), the
//! median of the per-sample ratios with its 95% interval, and samples × iterations per batch.

use std::hint::black_box;

use safire_benches::paired::{PairResult, Settings, batched, measure, plain};
use safire_benches::{
    AUTHORIZE, DISCOVERY_URL, KEYS, RawSigner, SMART_CONFIGURATION, TOKEN_RESPONSE, assertion,
    authorization_code, authorize_baseline, baseline_token_request, check_same_output, now,
    pkce_baseline, protocol_config, safire_authorize_start, safire_token_request, signing_input,
};
use safire_core::protocol::Pkce;
use safire_core::{
    AuthorizeFlow, AuthorizeParams, OsRandom, PrivateKey, SeededRandom, Signer, SmartMetadata,
    TokenFlow, TokenResponse,
};

fn main() {
    let settings = Settings::from_args();
    check_same_output();
    println!(
        "paired: warm-up {:?}, measurement {:?} per pair, batches ≥ {:?}",
        settings.warm_up, settings.measurement, settings.batch_target
    );
    println!("| pair | Safire | baseline | Safire ÷ baseline (95% CI) | samples × iterations |");
    println!("|---|---|---|---|---|");
    let mut results = Vec::new();
    let mut run = |name: &str, result: &mut dyn FnMut(&str) -> PairResult| {
        if settings.selects(name) {
            let result = result(name);
            println!("{}", result.markdown_row());
            results.push(result);
        }
    };

    // Signing: the assertion, and the signer alone, against the raw library signature.
    for (label, pem) in KEYS {
        let fast = PrivateKey::from_pem(pem).expect("key");
        let slow = PrivateKey::from_pem(pem).expect("key").into_rust_crypto();
        for (backend, key, raw) in [
            ("rustcrypto", &slow, RawSigner::rustcrypto(pem)),
            ("aws-lc", &fast, RawSigner::aws_lc(pem)),
        ] {
            assert_eq!(key.backend().as_str(), backend);
            let input = signing_input(key, &mut SeededRandom::new(1));
            run(
                &format!("{label} {backend}: assertion ÷ raw"),
                &mut |name| {
                    measure(
                        name,
                        &settings,
                        &mut plain(|| assertion(black_box(key)).sign(now(), &mut OsRandom)),
                        &mut plain(|| raw.sign(black_box(&input))),
                    )
                },
            );
            run(&format!("{label} {backend}: signer ÷ raw"), &mut |name| {
                measure(
                    name,
                    &settings,
                    &mut plain(|| Signer::sign(key, black_box(&input))),
                    &mut plain(|| raw.sign(black_box(&input))),
                )
            });
        }
        if label == "ES384" {
            let raw = RawSigner::aws_lc(pem);
            let input = signing_input(&fast, &mut SeededRandom::new(1));
            run("control: ES384 aws-lc raw ÷ itself", &mut |name| {
                measure(
                    name,
                    &settings,
                    &mut plain(|| raw.sign(black_box(&input))),
                    &mut plain(|| raw.sign(black_box(&input))),
                )
            });
        }
    }

    // Protocol work against the same work by hand.
    let config = protocol_config();
    let code = authorization_code();
    run("pkce", &mut |name| {
        measure(
            name,
            &settings,
            &mut plain(|| Pkce::generate(&mut OsRandom)),
            &mut plain(|| pkce_baseline(&mut OsRandom)),
        )
    });
    run("authorize start", &mut |name| {
        measure(
            name,
            &settings,
            &mut batched(
                || AuthorizeFlow::new(config.clone(), AuthorizeParams::default()),
                |flow| safire_authorize_start(flow, &mut OsRandom),
            ),
            &mut plain(|| authorize_baseline(black_box(&AUTHORIZE), &mut OsRandom)),
        )
    });
    run("token request", &mut |name| {
        measure(
            name,
            &settings,
            &mut batched(
                || TokenFlow::authorization_code(config.clone(), code.clone()),
                |flow| safire_token_request(flow, &mut OsRandom),
            ),
            &mut plain(baseline_token_request),
        )
    });
    run("control: token request baseline ÷ itself", &mut |name| {
        measure(
            name,
            &settings,
            &mut plain(baseline_token_request),
            &mut plain(baseline_token_request),
        )
    });
    run(
        "parse smart-configuration ÷ serde_json::Value",
        &mut |name| {
            measure(
                name,
                &settings,
                &mut plain(|| {
                    SmartMetadata::from_response(DISCOVERY_URL, 200, black_box(SMART_CONFIGURATION))
                }),
                &mut plain(|| {
                    serde_json::from_slice::<serde_json::Value>(black_box(SMART_CONFIGURATION))
                }),
            )
        },
    );
    run("parse token response ÷ serde_json::Value", &mut |name| {
        measure(
            name,
            &settings,
            &mut plain(|| TokenResponse::parse(200, black_box(TOKEN_RESPONSE), now())),
            &mut plain(|| serde_json::from_slice::<serde_json::Value>(black_box(TOKEN_RESPONSE))),
        )
    });
    if results.is_empty() {
        eprintln!("no pair matches {:?}", settings.filter);
    }
}
