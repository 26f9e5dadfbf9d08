//! Every same-run ratio of BENCHMARKS.md, measured as interleaved pairs (see
//! `safire_benches::paired`): assertion and `PrivateKey::sign` against the raw signature for
//! each key and backend, and the protocol work against its hand-written baseline. Two control
//! pairs (a routine against itself) show what "no difference" looks like on this machine.
//!
//! ```sh
//! cargo bench --bench paired -- [--warm-up-time S] [--measurement-time S] [FILTER]
//! ```
//!
//! The process started by `cargo bench` measures nothing itself: it runs the pairs `--runs N`
//! times (default 3), each in a fresh child process with `GLIBC_TUNABLES` set (see
//! [`MALLOC_TUNABLES`]), prints each run's table, then the summary over runs. A run's row:
//! Safire and baseline (median per-iteration times), the median of the per-sample ratios with
//! its 95% interval, samples × iterations per batch.

use std::hint::black_box;

use safire_benches::paired::{PairResult, Settings, batched, measure, plain, summarize};
use safire_benches::{
    AUTHORIZE, Backend, DISCOVERY_URL, KEYS, SMART_CONFIGURATION, TOKEN_RESPONSE, assertion,
    authorization_code, authorize_baseline, backends, baseline_token_request, check_same_output,
    now, pkce_baseline, protocol_config, start,
};
use safire_core::protocol::Pkce;
use safire_core::{
    AuthorizeFlow, AuthorizeParams, OsRandom, Signer, SmartMetadata, TokenFlow, TokenResponse,
};

/// glibc malloc settings that keep the heap from being returned to the kernel (and faulted
/// back in) between batches: the measured loops hold a batch of outputs and free them all
/// after timing, which otherwise makes page faults (kernel time, the same on both sides) a
/// third or more of a sub-microsecond measurement. Other C libraries ignore the variable.
const MALLOC_TUNABLES: &str =
    "glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=1073741824";

/// Set in the child processes that measure; the parent only starts them and summarizes.
const CHILD: &str = "SAFIRE_PAIRED_CHILD";

fn main() {
    let settings = Settings::from_args();
    if std::env::var_os(CHILD).is_some() {
        check_same_output();
        for result in measure_all(&settings) {
            println!("{}", result.to_tsv());
        }
        return;
    }
    // Each run is a fresh process (new memory layout; and the malloc tunables are only read
    // at process start). A GLIBC_TUNABLES already set is respected.
    let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_else(|_| MALLOC_TUNABLES.into());
    println!(
        "paired: {} runs; per pair: warm-up {:?}, measurement {:?}, batches ≥ {:?}; GLIBC_TUNABLES={tunables}",
        settings.runs, settings.warm_up, settings.measurement, settings.batch_target,
    );
    let mut runs = Vec::new();
    for run in 1..=settings.runs {
        println!("\nrun {run}:\n");
        println!(
            "| pair | Safire | baseline | Safire ÷ baseline (95% CI) | samples × iterations |"
        );
        println!("|---|---|---|---|---|");
        let output = std::process::Command::new(std::env::current_exe().expect("own path"))
            .args(std::env::args_os().skip(1))
            .env("GLIBC_TUNABLES", &tunables)
            .env(CHILD, "1")
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("start a measuring run");
        assert!(output.status.success(), "run {run} failed");
        let results: Vec<PairResult> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(PairResult::from_tsv)
            .collect();
        for result in &results {
            println!("{}", result.markdown_row());
        }
        runs.push(results);
    }
    println!("\nsummary over {} runs:\n", settings.runs);
    println!(
        "| pair | Safire | baseline | Safire ÷ baseline (median of runs) | range of runs | runs |"
    );
    println!("|---|---|---|---|---|---|");
    for summary in summarize(&runs) {
        println!("{}", summary.markdown_row());
    }
    if runs.iter().all(Vec::is_empty) {
        eprintln!("no pair matches {:?}", settings.filter);
    }
}

/// Measures every selected pair once, in this process.
fn measure_all(settings: &Settings) -> Vec<PairResult> {
    let mut results = Vec::new();
    let mut run = |name: &str, result: &mut dyn FnMut(&str) -> PairResult| {
        if settings.selects(name) {
            results.push(result(name));
        }
    };

    // Signing: the assertion, and the signer alone, against the raw library signature.
    const SIGNING: [&str; 2] = ["assertion ÷ raw", "signer ÷ raw"];
    const CONTROL: &str = "control: ES384 aws-lc raw ÷ itself";
    for (label, pem) in KEYS {
        let selected = ["rustcrypto", "aws-lc"].iter().any(|backend| {
            SIGNING
                .iter()
                .any(|pair| settings.selects(&format!("{label} {backend}: {pair}")))
        });
        let control = label == "ES384" && settings.selects(CONTROL);
        if !(selected || control) {
            continue; // parsing the keys is slow; skip it when no pair needs them
        }
        let backends = backends(pem);
        for Backend {
            name: backend,
            key,
            raw,
            input,
        } in &backends
        {
            run(&format!("{label} {backend}: {}", SIGNING[0]), &mut |name| {
                measure(
                    name,
                    settings,
                    &mut plain(|| assertion(black_box(key)).sign(now(), &mut OsRandom)),
                    &mut plain(|| raw.sign(black_box(input))),
                )
            });
            run(&format!("{label} {backend}: {}", SIGNING[1]), &mut |name| {
                measure(
                    name,
                    settings,
                    &mut plain(|| Signer::sign(key, black_box(input))),
                    &mut plain(|| raw.sign(black_box(input))),
                )
            });
        }
        if label == "ES384" {
            let Backend { raw, input, .. } = &backends[1];
            run(CONTROL, &mut |name| {
                measure(
                    name,
                    settings,
                    &mut plain(|| raw.sign(black_box(input))),
                    &mut plain(|| raw.sign(black_box(input))),
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
            settings,
            &mut plain(|| Pkce::generate(&mut OsRandom)),
            &mut plain(|| pkce_baseline(&mut OsRandom)),
        )
    });
    run("authorize start", &mut |name| {
        measure(
            name,
            settings,
            &mut batched(
                || AuthorizeFlow::new(config.clone(), AuthorizeParams::default()),
                |flow| start(flow, &mut OsRandom),
            ),
            &mut plain(|| authorize_baseline(black_box(&AUTHORIZE), &mut OsRandom)),
        )
    });
    run("token request", &mut |name| {
        measure(
            name,
            settings,
            &mut batched(
                || TokenFlow::authorization_code(config.clone(), code.clone()),
                |flow| start(flow, &mut OsRandom),
            ),
            &mut plain(baseline_token_request),
        )
    });
    run("control: token request baseline ÷ itself", &mut |name| {
        measure(
            name,
            settings,
            &mut plain(baseline_token_request),
            &mut plain(baseline_token_request),
        )
    });
    run(
        "parse smart-configuration ÷ serde_json::Value",
        &mut |name| {
            measure(
                name,
                settings,
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
            settings,
            &mut plain(|| TokenResponse::parse(200, black_box(TOKEN_RESPONSE), now())),
            &mut plain(|| serde_json::from_slice::<serde_json::Value>(black_box(TOKEN_RESPONSE))),
        )
    });
    results
}
