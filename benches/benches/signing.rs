//! Client assertion signing: Safire's assertion against the raw signature of the same bytes,
//! for each backend and key (see BENCHMARKS.md).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use safire_benches::{KEYS, NullSigner, RawSigner, assertion, now, signing_input};
use safire_core::{OsRandom, PrivateKey, SeededRandom};

fn signing(c: &mut Criterion) {
    for (label, pem) in KEYS {
        let mut group = c.benchmark_group(label);
        let fast = PrivateKey::from_pem(pem).expect("key");
        let slow = PrivateKey::from_pem(pem).expect("key").into_rust_crypto();
        for (backend, key, raw) in [
            ("rustcrypto", &slow, RawSigner::rustcrypto(pem)),
            ("aws-lc", &fast, RawSigner::aws_lc(pem)),
        ] {
            assert_eq!(key.backend().as_str(), backend);
            let input = signing_input(key, &mut SeededRandom::new(1));
            group.bench_function(format!("{backend}/raw"), |b| {
                b.iter(|| raw.sign(black_box(&input)))
            });
            group.bench_function(format!("{backend}/signer"), |b| {
                b.iter(|| safire_core::Signer::sign(key, black_box(&input)))
            });
            group.bench_function(format!("{backend}/assertion"), |b| {
                b.iter(|| assertion(black_box(key)).sign(now(), &mut OsRandom))
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
