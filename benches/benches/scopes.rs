//! Parsing a realistic 20-scope string into typed `Scopes`, next to splitting the same string
//! on spaces (see BENCHMARKS.md, "Scopes").
//!
//! The three operations are measured **interleaved** in one loop (blocks of [`BLOCK`]
//! iterations, alternating which goes first), so a change of CPU frequency or load during the
//! run hits all of them alike. Every criterion benchmark of the `scope-parse` group runs the
//! same interleaved loop and reports its own share. The bench also prints paired ratios: in
//! each sample of the `safire` benchmark, the fastest block of Safire ÷ the fastest block of the
//! baseline (a preempted block is only ever slower), summarized as median and interquartile
//! range over the samples.

use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use safire_core::scope::{Context, Permission, Scopes};

/// 20 scopes a real patient-facing app might be granted: launch and identity scopes, v2
/// resource scopes (two with the specification's search-parameter restriction), a v1 one.
const SCOPES_20: &str = "launch/patient openid fhirUser offline_access patient/Patient.rs \
patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory \
patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs \
patient/Condition.rs patient/AllergyIntolerance.rs patient/MedicationRequest.rs \
patient/Immunization.rs patient/Procedure.rs patient/DiagnosticReport.rs \
patient/DocumentReference.rs patient/Encounter.rs patient/CarePlan.rs patient/Goal.rs \
user/Practitioner.r patient/*.read launch";

/// Iterations per block before switching to the other operation.
const BLOCK: u64 = 32;

#[derive(Clone, Copy)]
enum Which {
    Safire,
    Split,
    SplitOwned,
}

thread_local! {
    /// (Safire ÷ split, Safire ÷ owned split), fastest blocks, of every sample of the `safire`
    /// benchmark.
    static RATIOS: RefCell<Vec<(f64, f64)>> = const { RefCell::new(Vec::new()) };
}

fn split(text: &str) -> Vec<&str> {
    text.split(' ').filter(|t| !t.is_empty()).collect()
}

fn split_owned(text: &str) -> Vec<String> {
    text.split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Runs `iters` of each operation interleaved; returns the time of `which`.
fn interleaved(iters: u64, which: Which, record: bool) -> Duration {
    let mut times = [Duration::ZERO; 3];
    // Fastest full block of each operation: a block the scheduler preempted is slower, never
    // faster, so the minima compare the operations without the load of other processes.
    let mut fastest = [Duration::MAX; 3];
    let mut done = 0;
    let mut round = 0usize;
    while done < iters {
        let n = BLOCK.min(iters - done);
        for k in 0..3 {
            // Rotate the order so no operation always runs first (warm caches) or last.
            let op = (k + round) % 3;
            let start = Instant::now();
            for _ in 0..n {
                match op {
                    0 => drop(black_box(Scopes::parse(black_box(SCOPES_20)))),
                    1 => drop(black_box(split(black_box(SCOPES_20)))),
                    _ => drop(black_box(split_owned(black_box(SCOPES_20)))),
                }
            }
            let elapsed = start.elapsed();
            times[op] += elapsed;
            if n == BLOCK {
                fastest[op] = fastest[op].min(elapsed);
            }
        }
        done += n;
        round += 1;
    }
    if record && fastest[0] != Duration::MAX {
        let [ours, split, owned] = fastest.map(|t| t.as_secs_f64());
        RATIOS.with(|r| r.borrow_mut().push((ours / split, ours / owned)));
    }
    times[which as usize]
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("scope-parse");
    group.bench_function("safire", |b| {
        b.iter_custom(|iters| interleaved(iters, Which::Safire, true))
    });
    group.bench_function("split", |b| {
        b.iter_custom(|iters| interleaved(iters, Which::Split, false))
    });
    group.bench_function("split-owned", |b| {
        b.iter_custom(|iters| interleaved(iters, Which::SplitOwned, false))
    });
    group.finish();

    // Queries on the parsed list: no baseline, for scale.
    let scopes = Scopes::parse(SCOPES_20);
    let mut group = c.benchmark_group("scope-query");
    group.bench_function("allows", |b| {
        b.iter(|| {
            black_box(&scopes).allows(
                Context::Patient,
                black_box("MedicationRequest"),
                Permission::Read,
            )
        })
    });
    group.bench_function("findings", |b| b.iter(|| black_box(&scopes).findings()));
    group.bench_function("display", |b| b.iter(|| black_box(&scopes).to_string()));
    group.finish();

    report();
}

/// Median and interquartile range of the per-sample ratios from the interleaved loop.
fn report() {
    let ratios = RATIOS.with(|r| r.borrow().clone());
    if ratios.is_empty() {
        return;
    }
    let summary = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        (at(0.5), at(0.25), at(0.75))
    };
    let (m, lo, hi) = summary(ratios.iter().map(|r| r.0).collect());
    println!(
        "scope-parse paired ratio (fastest blocks) safire/split: {m:.3} (IQR {lo:.3}–{hi:.3}) over {} samples",
        ratios.len()
    );
    let (m, lo, hi) = summary(ratios.iter().map(|r| r.1).collect());
    println!(
        "scope-parse paired ratio (fastest blocks) safire/split-owned: {m:.3} (IQR {lo:.3}–{hi:.3})"
    );
}

/// Sanity (checked once, before timing): the string has 20 scopes, all typed as intended.
fn checked(c: &mut Criterion) {
    let scopes = Scopes::parse(SCOPES_20);
    assert_eq!(scopes.len(), 20);
    assert_eq!(split(SCOPES_20).len(), 20);
    assert_eq!(scopes.to_string(), SCOPES_20);
    assert!(scopes.findings().is_empty(), "{:?}", scopes.findings());
    assert_eq!(scopes.resources().count(), 15);
    assert!(scopes.allows(Context::Patient, "MedicationRequest", Permission::Read));
    parse(c);
}

criterion_group!(benches, checked);
criterion_main!(benches);
