//! Tests of the client assertion, with the SMART App Launch specification's published examples
//! as golden vectors.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Value, json};

use super::*;
use crate::random::{OsRandom, SeededRandom};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/", $name))
    };
}
pub(crate) use fixture;

pub(crate) const TOKEN_URL: &str = "https://ehr.example.com/auth/token";

pub(crate) fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

pub(crate) fn b64(text: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(text).unwrap()
}

/// Verifies a JWS signature with nothing but the public JWK, as a server would.
pub(crate) fn verify(jwk: &Jwk, signing_input: &[u8], signature: &[u8]) -> bool {
    use signature::Verifier;
    match jwk.kty.as_str() {
        "RSA" => {
            let n = b64(jwk.n.as_deref().unwrap());
            let e = b64(jwk.e.as_deref().unwrap());
            let n = rsa::BoxedUint::from_be_slice(&n, (n.len() * 8) as u32).unwrap();
            let e = rsa::BoxedUint::from_be_slice(&e, (e.len() * 8) as u32).unwrap();
            let key = rsa::pkcs1v15::VerifyingKey::<sha2::Sha384>::new(
                rsa::RsaPublicKey::new(n, e).unwrap(),
            );
            let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else {
                return false;
            };
            key.verify(signing_input, &signature).is_ok()
        }
        "EC" => {
            assert_eq!(jwk.crv.as_deref(), Some("P-384"));
            let mut point = vec![4u8];
            point.extend(b64(jwk.x.as_deref().unwrap()));
            point.extend(b64(jwk.y.as_deref().unwrap()));
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
            let Ok(signature) = p384::ecdsa::Signature::from_slice(signature) else {
                return false;
            };
            key.verify(signing_input, &signature).is_ok()
        }
        other => panic!("unexpected kty {other}"),
    }
}

/// A compact JWS taken apart: header, claims, signing input, signature.
pub(crate) struct Decoded {
    pub header: Value,
    pub claims: Value,
    pub signing_input: String,
    pub signature: Vec<u8>,
}

pub(crate) fn decode(jwt: &str) -> Decoded {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "compact JWS has three parts");
    for part in &parts {
        assert!(
            part.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "base64url without padding"
        );
    }
    Decoded {
        header: serde_json::from_slice(&b64(parts[0])).unwrap(),
        claims: serde_json::from_slice(&b64(parts[1])).unwrap(),
        signing_input: format!("{}.{}", parts[0], parts[1]),
        signature: b64(parts[2]),
    }
}

fn es384_key() -> PrivateKey {
    PrivateKey::from_pem(fixture!("p384.pkcs8.pem")).unwrap()
}

fn rs384_key() -> PrivateKey {
    PrivateKey::from_pem(fixture!("rsa2048.pkcs8.pem")).unwrap()
}

fn assertion<'a>(signer: &'a dyn Signer) -> ClientAssertion<'a> {
    ClientAssertion {
        signer,
        kid: "key-1",
        jku: None,
        client_id: "backend-client",
        audience: TOKEN_URL,
        lifetime: MAX_ASSERTION_LIFETIME,
    }
}

#[test]
fn algorithm_names_parse_and_serialize() {
    for (alg, name) in [
        (JwsAlgorithm::RS384, "RS384"),
        (JwsAlgorithm::ES384, "ES384"),
    ] {
        assert_eq!(alg.as_str(), name);
        assert_eq!(alg.to_string(), name);
        assert_eq!(name.parse::<JwsAlgorithm>().unwrap(), alg);
        assert_eq!(name.to_lowercase().parse::<JwsAlgorithm>().unwrap(), alg);
        assert_eq!(serde_json::to_string(&alg).unwrap(), format!("\"{name}\""));
        assert_eq!(
            serde_json::from_str::<JwsAlgorithm>(&format!("\"{name}\"")).unwrap(),
            alg
        );
    }
    let err = "RS256".parse::<JwsAlgorithm>().unwrap_err();
    assert_eq!(
        err,
        ConfigurationError::invalid(
            "jwt_algorithm",
            "unsupported algorithm \"RS256\"; valid: RS384, ES384"
        )
    );
    assert_eq!(
        err.to_string(),
        "Invalid jwt_algorithm: unsupported algorithm \"RS256\"; valid: RS384, ES384"
    );
}

#[test]
fn es384_assertion_has_every_claim_and_verifies() {
    let key = es384_key();
    let jwt = assertion(&key)
        .sign(at(1_700_000_000), &mut SeededRandom::new(42))
        .unwrap();
    let d = decode(jwt.expose());
    assert_eq!(
        d.header,
        json!({"alg": "ES384", "kid": "key-1", "typ": "JWT"})
    );
    let claims = d.claims.as_object().unwrap();
    assert_eq!(
        claims.len(),
        6,
        "iss, sub, aud, exp, iat, jti and nothing else"
    );
    assert_eq!(claims["iss"], "backend-client");
    assert_eq!(claims["sub"], "backend-client");
    assert_eq!(claims["aud"], TOKEN_URL);
    assert_eq!(claims["iat"], 1_700_000_000u64);
    assert_eq!(claims["exp"], 1_700_000_300u64);
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(jti.len(), 22);
    assert_eq!(b64(jti).len(), 16, "128 random bits");
    assert_eq!(d.signature.len(), 96, "ES384 is r || s, not DER");
    let public = key.public_jwk().unwrap();
    assert!(verify(&public, d.signing_input.as_bytes(), &d.signature));
    assert!(!verify(&public, b"tampered", &d.signature));
}

#[test]
fn rs384_assertion_with_jku_verifies() {
    let key = rs384_key();
    let jwt = ClientAssertion {
        jku: Some("https://client.example.com/.well-known/jwks.json"),
        ..assertion(&key)
    }
    .sign(at(1_600_000_000), &mut SeededRandom::new(1))
    .unwrap();
    let d = decode(jwt.expose());
    assert_eq!(
        d.header,
        json!({
            "alg": "RS384",
            "kid": "key-1",
            "typ": "JWT",
            "jku": "https://client.example.com/.well-known/jwks.json"
        })
    );
    assert_eq!(
        d.claims["exp"].as_u64().unwrap() - d.claims["iat"].as_u64().unwrap(),
        300
    );
    assert_eq!(d.signature.len(), 256);
    assert!(verify(
        &key.public_jwk().unwrap(),
        d.signing_input.as_bytes(),
        &d.signature
    ));
}

#[test]
fn lifetime_is_capped_at_five_minutes() {
    let key = es384_key();
    for (lifetime, expected) in [(3600, 300), (301, 300), (300, 300), (60, 60), (1, 1)] {
        let jwt = ClientAssertion {
            lifetime: Duration::from_secs(lifetime),
            ..assertion(&key)
        }
        .sign(at(1_000), &mut SeededRandom::new(3))
        .unwrap();
        let claims = decode(jwt.expose()).claims;
        let exp = claims["exp"].as_u64().unwrap();
        let iat = claims["iat"].as_u64().unwrap();
        assert_eq!(exp - iat, expected, "lifetime {lifetime}");
        assert!(exp - iat <= MAX_ASSERTION_LIFETIME.as_secs());
    }
    // Sub-second clocks are truncated to whole seconds for iat.
    let jwt = assertion(&key)
        .sign(
            at(1_000) + Duration::from_millis(999),
            &mut SeededRandom::new(3),
        )
        .unwrap();
    assert_eq!(decode(jwt.expose()).claims["iat"], 1_000);
}

#[test]
fn zero_lifetime_is_a_configuration_error() {
    let key = es384_key();
    for lifetime in [Duration::ZERO, Duration::from_millis(999)] {
        let err = ClientAssertion {
            lifetime,
            ..assertion(&key)
        }
        .sign(at(1_000), &mut SeededRandom::new(3))
        .unwrap_err();
        assert!(matches!(err, Error::Configuration(_)), "{err}");
        assert!(err.to_string().contains("assertion_lifetime"));
    }
}

#[test]
fn jti_is_fresh_for_every_assertion() {
    let key = es384_key();
    let mut random = SeededRandom::new(5);
    let a = assertion(&key).sign(at(1_000), &mut random).unwrap();
    let b = assertion(&key).sign(at(1_000), &mut random).unwrap();
    let c = assertion(&key).sign(at(1_000), &mut OsRandom).unwrap();
    let jti = |jwt: &SecretString| decode(jwt.expose()).claims["jti"].clone();
    assert_ne!(jti(&a), jti(&b));
    assert_ne!(jti(&a), jti(&c));
    assert_ne!(jti(&b), jti(&c));
}

#[test]
fn es384_assertions_are_reproducible_with_a_seed() {
    // RFC 6979 nonces plus a seeded jti make the whole JWT deterministic (RustCrypto backend;
    // AWS-LC draws its own nonces).
    let key = es384_key().into_rust_crypto();
    let a = assertion(&key)
        .sign(at(7), &mut SeededRandom::new(9))
        .unwrap();
    let b = assertion(&key)
        .sign(at(7), &mut SeededRandom::new(9))
        .unwrap();
    assert_eq!(a, b);
}

#[test]
fn empty_identifiers_are_reported_together() {
    let key = es384_key();
    let err = ClientAssertion {
        kid: "",
        client_id: "",
        audience: "",
        ..assertion(&key)
    }
    .sign(at(1), &mut SeededRandom::new(1))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Configuration missing: client_id, kid, token_endpoint"
    );
}

#[test]
fn clock_before_1970_fails() {
    let key = es384_key();
    let err = assertion(&key)
        .sign(
            UNIX_EPOCH - Duration::from_secs(1),
            &mut SeededRandom::new(1),
        )
        .unwrap_err();
    assert!(matches!(err, Error::Signing(_)));
}

#[test]
fn json_special_characters_are_escaped() {
    let key = es384_key();
    let jwt = ClientAssertion {
        kid: "k\"1\\",
        client_id: "app \"quoted\" ünïcode\n",
        ..assertion(&key)
    }
    .sign(at(1), &mut SeededRandom::new(1))
    .unwrap();
    let d = decode(jwt.expose());
    assert_eq!(d.header["kid"], "k\"1\\");
    assert_eq!(d.claims["iss"], "app \"quoted\" ünïcode\n");
    assert_eq!(d.claims["sub"], "app \"quoted\" ünïcode\n");
}

#[derive(Debug)]
struct FailingSigner;

impl Signer for FailingSigner {
    fn algorithm(&self) -> JwsAlgorithm {
        JwsAlgorithm::RS384
    }
    fn sign(&self, _: &[u8]) -> Result<Vec<u8>, Error> {
        Err(Error::Signing("HSM offline".into()))
    }
    fn public_jwk(&self) -> Option<Jwk> {
        None
    }
}

#[derive(Debug)]
struct FailingRandom;

impl RandomSource for FailingRandom {
    fn fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Error> {
        Err(Error::Random("no entropy".into()))
    }
}

#[test]
fn signer_and_random_failures_propagate() {
    let err = assertion(&FailingSigner)
        .sign(at(1), &mut SeededRandom::new(1))
        .unwrap_err();
    assert_eq!(err, Error::Signing("HSM offline".into()));
    let key = es384_key();
    let err = assertion(&key).sign(at(1), &mut FailingRandom).unwrap_err();
    assert_eq!(err, Error::Random("no entropy".into()));
}

#[test]
fn boxed_and_shared_signers_work() {
    let shared: Arc<dyn Signer> = Arc::new(es384_key());
    let boxed: Box<dyn Signer> = Box::new(es384_key());
    for signer in [&shared as &dyn Signer, &boxed as &dyn Signer] {
        assert_eq!(signer.algorithm(), JwsAlgorithm::ES384);
        let jwt = assertion(signer)
            .sign(at(1), &mut SeededRandom::new(1))
            .unwrap();
        let d = decode(jwt.expose());
        assert!(verify(
            &signer.public_jwk().unwrap(),
            d.signing_input.as_bytes(),
            &d.signature
        ));
    }
}

#[test]
fn the_random_source_reaches_the_signer_through_boxes_and_arcs() {
    // RS384 with the RustCrypto backend blinds with the source it is given.
    let shared: Arc<dyn Signer> = Arc::new(rs384_key().into_rust_crypto());
    let boxed: Box<dyn Signer> = Box::new(rs384_key().into_rust_crypto());
    for signer in [&shared as &dyn Signer, &boxed as &dyn Signer] {
        assert_eq!(
            signer
                .sign_with_random(b"a.b", &mut FailingRandom)
                .unwrap_err(),
            Error::Random("no entropy".into())
        );
    }
    // A signer that does not override it just signs, without touching the source.
    assert_eq!(
        FailingSigner
            .sign_with_random(b"a.b", &mut FailingRandom)
            .unwrap_err(),
        Error::Signing("HSM offline".into())
    );
}

#[test]
fn assertion_debug_shows_no_secret() {
    let key = es384_key();
    let text = format!("{:?}", assertion(&key));
    assert!(text.contains("PrivateKey { algorithm: ES384, key: [REDACTED] }"));
    let jwt = assertion(&key)
        .sign(at(1), &mut SeededRandom::new(1))
        .unwrap();
    assert_eq!(format!("{jwt:?}"), "[REDACTED]");
}

// --- Golden vectors from the SMART App Launch specification (HL7/smart-app-launch) ---------
//
// * "Example: JWKS and signatures" (authorization-example-jwks-and-signatures): RS384 and ES384
//   JWTs signed with the spec's RS384.private.json / ES384.private.json keys
//   (kid eee9f17a…, cd520211…).
// * "Example: SMART Backend Services" (example-backend-services): an ES384 client assertion
//   (kid afb27c28…), signed with the ES384 key published in the SMART launcher / client-js
//   test suites.

/// Signs and verifies a fresh assertion with `key`.
fn sign_and_verify_new(key: &PrivateKey, kid: &str) {
    let jwt = ClientAssertion {
        kid,
        ..assertion(key)
    }
    .sign(at(1_700_000_000), &mut SeededRandom::new(11))
    .unwrap();
    let d = decode(jwt.expose());
    assert_eq!(d.header["kid"], kid);
    assert!(verify(
        &key.public_jwk().unwrap(),
        d.signing_input.as_bytes(),
        &d.signature
    ));
}

#[test]
fn golden_spec_rs384_signature_is_reproduced_exactly() {
    let key = PrivateKey::from_jwk(fixture!("smart-rs384.private.jwk.json")).unwrap();
    assert_eq!(key.algorithm(), JwsAlgorithm::RS384);
    let public = key.public_jwk().unwrap();
    assert_eq!(
        public.n.as_deref(),
        Some(
            "wJq2RHIA-7RT6q4go7wjcbHdW7ck7Kz22A8wf-kN7Wi5CWvhFG2_Y7nQp1lDpb2IKMQr-Q4n_vgJ6d5rWPspJpSPY7iffUK4ipQCEbzID5DJ6fQMBZOfCTXyxkuMh3jYGKEF3Ziw2oxbM1H9j-eJAPtrj5stUG6kVoXowegdox-bSjWP0iI5PnkwUNzcekLMug4M3LRluEQgGR9O_BAML6-w3igZ_rZA_gunyrLAMbfmCVaceW5ohLp679kyM7U6W2gDK_NbkDKcINUakVmPeoG5h8RzgGzvGrySR0k0VDFiZv60Ua07DqHTeDGH9e4NV07AECae-oykIj5NDCs3pw"
        )
    );
    assert_eq!(public.e.as_deref(), Some("AQAB"));

    let example = decode(fixture!("smart-rs384.example.jwt"));
    assert_eq!(example.header["kid"], "eee9f17a3b598fd86417a980b591fbe6");
    assert_eq!(
        example.claims["aud"],
        "https://authorize.smarthealthit.org/token"
    );
    assert!(verify(
        &public,
        example.signing_input.as_bytes(),
        &example.signature
    ));
    // PKCS#1 v1.5 is deterministic (blinding does not change the result): same bytes as the spec.
    let ours = key.sign(example.signing_input.as_bytes()).unwrap();
    assert_eq!(ours, example.signature);

    sign_and_verify_new(&key, "eee9f17a3b598fd86417a980b591fbe6");
}

#[test]
fn golden_spec_es384_signature_verifies() {
    let key = PrivateKey::from_jwk(fixture!("smart-es384.private.jwk.json")).unwrap();
    assert_eq!(key.algorithm(), JwsAlgorithm::ES384);
    let public = key.public_jwk().unwrap();
    assert_eq!(
        public.x.as_deref(),
        Some("pyqburM9y8HPcFhNosDW6ngoVEJitqXi_HJgI5hYqX21PoFDwCbYirGy_o0oapIU")
    );
    assert_eq!(
        public.y.as_deref(),
        Some("95bxkCnMKoHvgbcPAIAcgzzu8scd81mXfM_IzuJFNfkUNkGYBFGvuEU1KPi5j1ob")
    );

    let example = decode(fixture!("smart-es384.example.jwt"));
    assert_eq!(
        example.header,
        json!({"alg": "ES384", "kid": "cd520211e5661dbba2256f67f6d53f97", "typ": "JWT"})
    );
    assert!(verify(
        &public,
        example.signing_input.as_bytes(),
        &example.signature
    ));
    // ECDSA signatures differ per signer (python-jose used random nonces), so only verify ours.
    let ours = key.sign(example.signing_input.as_bytes()).unwrap();
    assert!(verify(&public, example.signing_input.as_bytes(), &ours));

    sign_and_verify_new(&key, "cd520211e5661dbba2256f67f6d53f97");
}

#[test]
fn golden_spec_backend_services_assertion_verifies() {
    let key = PrivateKey::from_jwk(fixture!("smart-backend-es384.private.jwk.json")).unwrap();
    let public = key.public_jwk().unwrap();
    let example = decode(fixture!("smart-backend-es384.example.jwt"));
    assert_eq!(
        example.header,
        json!({"typ": "JWT", "kid": "afb27c284f2d93959c18fa0320e32060", "alg": "ES384"})
    );
    assert_eq!(example.claims["iss"], "demo_app_whatever");
    assert_eq!(example.claims["sub"], "demo_app_whatever");
    assert!(verify(
        &public,
        example.signing_input.as_bytes(),
        &example.signature
    ));
    sign_and_verify_new(&key, "afb27c284f2d93959c18fa0320e32060");
}

/// Every built-in key form, loaded fresh (keys are not `Clone`).
fn every_key() -> Vec<(&'static str, PrivateKey)> {
    let jwk: Value = serde_json::from_str(fixture!("smart-rs384.private.jwk.json")).unwrap();
    let mut no_primes = jwk.clone();
    for member in ["p", "q", "dp", "dq", "qi"] {
        no_primes.as_object_mut().unwrap().remove(member);
    }
    vec![
        ("rsa2048.pkcs8", rs384_key()),
        (
            "rsa2048.pkcs1",
            PrivateKey::from_pem(fixture!("rsa2048.pkcs1.pem")).unwrap(),
        ),
        (
            "smart-rs384.jwk",
            PrivateKey::from_jwk(&jwk.to_string()).unwrap(),
        ),
        (
            "rs384.jwk-no-primes",
            PrivateKey::from_jwk(&no_primes.to_string()).unwrap(),
        ),
        ("p384.pkcs8", es384_key()),
        (
            "p384.sec1",
            PrivateKey::from_pem(fixture!("p384.sec1.pem")).unwrap(),
        ),
        (
            "p384.with-params",
            PrivateKey::from_pem(fixture!("p384.with-params.sec1.pem")).unwrap(),
        ),
        (
            "smart-es384.jwk",
            PrivateKey::from_jwk(fixture!("smart-es384.private.jwk.json")).unwrap(),
        ),
        (
            "generated",
            PrivateKey::generate_es384(&mut SeededRandom::new(3)).unwrap(),
        ),
    ]
}

#[test]
fn both_backends_sign_the_same_vectors() {
    // The default backend (AWS-LC with the `aws-lc` feature) against RustCrypto, key by key.
    let expected = if cfg!(feature = "aws-lc") {
        SigningBackend::AwsLc
    } else {
        SigningBackend::RustCrypto
    };
    let input = b"eyJhbGciOiJSUzM4NCJ9.eyJpc3MiOiJ4In0";
    for ((name, fast), (_, slow)) in every_key().into_iter().zip(every_key()) {
        assert_eq!(fast.backend(), expected, "{name}");
        let slow = slow.into_rust_crypto();
        assert_eq!(slow.backend(), SigningBackend::RustCrypto, "{name}");
        assert_eq!(fast.public_jwk(), slow.public_jwk(), "{name}");
        assert_eq!(fast.algorithm(), slow.algorithm(), "{name}");
        let public = fast.public_jwk().unwrap();
        let (a, b) = (fast.sign(input).unwrap(), slow.sign(input).unwrap());
        assert!(verify(&public, input, &a), "{name}");
        assert!(verify(&public, input, &b), "{name}");
        assert!(!verify(&public, b"other", &a), "{name}");
        match fast.algorithm() {
            // PKCS#1 v1.5 is deterministic: both libraries give the very same bytes.
            JwsAlgorithm::RS384 => assert_eq!(a, b, "{name}"),
            JwsAlgorithm::ES384 => assert_eq!(a.len(), 96, "{name}"),
        }
        // And whole assertions verify on both.
        for key in [&fast, &slow] {
            let d = decode(
                assertion(key)
                    .sign(at(1_700_000_000), &mut SeededRandom::new(8))
                    .unwrap()
                    .expose(),
            );
            assert_eq!(d.header["alg"], fast.algorithm().as_str());
            assert!(
                verify(&public, d.signing_input.as_bytes(), &d.signature),
                "{name}"
            );
        }
    }
}

#[test]
fn golden_spec_rs384_signature_is_reproduced_by_both_backends() {
    let example = decode(fixture!("smart-rs384.example.jwt"));
    let key = || PrivateKey::from_jwk(fixture!("smart-rs384.private.jwk.json")).unwrap();
    for key in [key(), key().into_rust_crypto()] {
        let ours = key.sign(example.signing_input.as_bytes()).unwrap();
        assert_eq!(ours, example.signature, "{}", key.backend());
    }
}

#[test]
fn backend_names() {
    assert_eq!(SigningBackend::RustCrypto.to_string(), "rustcrypto");
    assert_eq!(SigningBackend::AwsLc.as_str(), "aws-lc");
}

#[test]
fn rfc7638_thumbprint_example() {
    // RFC 7638 §3.1.
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    }))
    .unwrap();
    assert_eq!(
        jwk.thumbprint().as_deref(),
        Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    );
}

#[test]
fn incomplete_or_unknown_keys_have_no_thumbprint() {
    let jwk: Jwk = serde_json::from_value(json!({"kty": "EC", "crv": "P-384"})).unwrap();
    assert_eq!(jwk.thumbprint(), None);
    let jwk: Jwk = serde_json::from_value(json!({"kty": "OKP"})).unwrap();
    assert_eq!(jwk.thumbprint(), None);
}
