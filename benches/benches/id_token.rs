//! ID token verification against the raw signature verification of the same bytes (see
//! BENCHMARKS.md).
//!
//! The tokens and the JWK Set are the independent joserfc vectors of safire-core
//! (`crates/safire-core/testdata/id_token_vectors.json`): `rs256_valid` (RSA-2048) and
//! `es256_valid` (P-256). `id_token` is `verify_id_token` with the JWK Set parsed once
//! (base64url, strict JSON header and payload, key selection, signature, claim checks, the
//! typed `fhirUser`); `raw` is the bare `rsa` / `p256` verification of the same signing input
//! with the signature decoded and the key built beforehand.
//!
//! Both benchmarks of a pair run the **same interleaved loop** (id_token, raw, id_token, raw,
//! ...) inside `iter_custom` and each times only its own half, so machine drift hits both
//! alike. The loop also records every (id_token, raw) pair and prints, at the end, the ratio of
//! the two medians over all pairs and the median of the per-pair difference (the cost of
//! everything but the signature); medians of pairs shrug off the preemption spikes of a
//! shared machine.

use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use criterion::{Criterion, criterion_group, criterion_main};
use safire_core::{IdTokenValidation, ServerJwks, verify_id_token};
use serde_json::Value;
use signature::Verifier;

const VECTORS: &str = include_str!("../../crates/safire-core/testdata/id_token_vectors.json");

enum Raw {
    Rs256(
        rsa::pkcs1v15::VerifyingKey<sha2::Sha256>,
        rsa::pkcs1v15::Signature,
    ),
    Es256(p256::ecdsa::VerifyingKey, p256::ecdsa::Signature),
}

impl Raw {
    fn verify(&self, input: &[u8]) -> bool {
        match self {
            Raw::Rs256(key, sig) => key.verify(input, sig).is_ok(),
            Raw::Es256(key, sig) => key.verify(input, sig).is_ok(),
        }
    }
}

fn b64(text: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(text).expect("base64url")
}

fn raw_for(alg: &str, jwk: &Value, signature: &[u8]) -> Raw {
    let member = |name: &str| b64(jwk[name].as_str().expect("jwk member"));
    match alg {
        "RS256" => {
            let n = member("n");
            let e = member("e");
            let key = rsa::RsaPublicKey::new(
                rsa::BoxedUint::from_be_slice(&n, (n.len() * 8) as u32).unwrap(),
                rsa::BoxedUint::from_be_slice(&e, 64).unwrap(),
            )
            .unwrap();
            Raw::Rs256(
                rsa::pkcs1v15::VerifyingKey::new(key),
                rsa::pkcs1v15::Signature::try_from(signature).unwrap(),
            )
        }
        _ => {
            let mut point = vec![4u8];
            point.extend(member("x"));
            point.extend(member("y"));
            Raw::Es256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap(),
                p256::ecdsa::Signature::from_slice(signature).unwrap(),
            )
        }
    }
}

fn id_token(c: &mut Criterion) {
    let v: Value = serde_json::from_str(VECTORS).unwrap();
    let jwks = ServerJwks::parse(v["jwks"].to_string().as_bytes()).unwrap();
    let validation = IdTokenValidation::new(
        v["issuer"].as_str().unwrap(),
        v["client_id"].as_str().unwrap(),
        UNIX_EPOCH + Duration::from_secs(v["now"].as_u64().unwrap()),
    )
    .with_nonce(v["nonce"].as_str().unwrap())
    .with_fhir_base(v["fhir_base"].as_str().unwrap().parse().unwrap());
    let find = |name: &str| {
        v["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for (label, vector, kid, alg) in [
        ("RS256-2048", "rs256_valid", "rsa-1", "RS256"),
        ("ES256", "es256_valid", "ec256-1", "ES256"),
    ] {
        let token = find(vector);
        let (input, signature) = token.rsplit_once('.').unwrap();
        let jwk = v["jwks"]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap();
        let raw = raw_for(alg, jwk, &b64(signature));
        // Same bytes, both verify (and the id_token path really checks the signature).
        assert!(raw.verify(input.as_bytes()));
        let verified = verify_id_token(&token, &jwks, &validation).unwrap();
        assert_eq!(verified.alg.as_str(), alg);
        assert!(
            verify_id_token(&format!("{input}.{}", &signature[2..]), &jwks, &validation).is_err()
        );

        // Every measured (id_token, raw) pair, in nanoseconds.
        let pairs: RefCell<Vec<(u64, u64)>> = RefCell::new(Vec::new());
        let interleaved = |iters: u64, own_is_id_token: bool| {
            let mut own = Duration::ZERO;
            let mut pairs = pairs.borrow_mut();
            for _ in 0..iters {
                let t0 = Instant::now();
                let ok = verify_id_token(black_box(&token), &jwks, &validation).is_ok();
                let t1 = Instant::now();
                let raw_ok = raw.verify(black_box(input.as_bytes()));
                let t2 = Instant::now();
                assert!(ok && raw_ok);
                if pairs.len() < 10_000_000 {
                    pairs.push(((t1 - t0).as_nanos() as u64, (t2 - t1).as_nanos() as u64));
                }
                own += if own_is_id_token { t1 - t0 } else { t2 - t1 };
            }
            own
        };
        let mut group = c.benchmark_group(format!("id_token/{label}"));
        group.bench_function("id_token", |b| {
            b.iter_custom(|iters| interleaved(iters, true))
        });
        group.bench_function("raw", |b| b.iter_custom(|iters| interleaved(iters, false)));
        group.finish();
        let pairs = pairs.into_inner();
        if !pairs.is_empty() {
            let median = |mut v: Vec<i64>| {
                v.sort_unstable();
                v[v.len() / 2]
            };
            let id = median(pairs.iter().map(|p| p.0 as i64).collect());
            let raw = median(pairs.iter().map(|p| p.1 as i64).collect());
            let diff = median(pairs.iter().map(|p| p.0 as i64 - p.1 as i64).collect());
            println!(
                "id_token/{label}: {} interleaved pairs: median id_token {:.2} µs, median raw {:.2} µs, \
                 ratio {:.3}, median per-pair overhead {:.2} µs",
                pairs.len(),
                id as f64 / 1e3,
                raw as f64 / 1e3,
                id as f64 / raw as f64,
                diff as f64 / 1e3
            );
        }
    }
}

criterion_group!(benches, id_token);
criterion_main!(benches);
