//! Client assertion signing: Safire's assertion against the raw signature of the same bytes,
//! for each backend and key (see BENCHMARKS.md).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use safire_benches::{Backend, KEYS, NullSigner, assertion, backends, now};
use safire_core::OsRandom;

fn signing(c: &mut Criterion) {
    for (label, pem) in KEYS {
        let mut group = c.benchmark_group(label);
        for Backend {
            name: backend,
            key,
            raw,
            input,
        } in backends(pem)
        {
            group.bench_function(format!("{backend}/raw"), |b| {
                b.iter(|| raw.sign(black_box(&input)))
            });
            group.bench_function(format!("{backend}/signer"), |b| {
                b.iter(|| safire_core::Signer::sign(&key, black_box(&input)))
            });
            group.bench_function(format!("{backend}/assertion"), |b| {
                b.iter(|| assertion(black_box(&key)).sign(now(), &mut OsRandom))
            });
        }
        group.finish();
    }
    c.bench_function("assertion-without-signature", |b| {
        b.iter(|| assertion(black_box(&NullSigner)).sign(now(), &mut OsRandom))
    });
}

criterion_group!(benches, signing);
criterion_main!(benches);
