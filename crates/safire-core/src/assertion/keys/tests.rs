//! Tests of [`PrivateKey`]: every PEM and JWK form, the refusals and their messages, key
//! generation, and the randomness each operation draws.

use base64ct::{Base64UrlUnpadded, Encoding};

use super::*;
use crate::assertion::tests::{b64, fixture, verify};
use crate::random::SeededRandom;

fn load(pem: &str) -> PrivateKey {
    PrivateKey::from_pem(pem).unwrap()
}

fn reason(err: ConfigurationError) -> String {
    match err {
        ConfigurationError::Invalid { attribute, reason } => {
            assert_eq!(attribute, "private_key");
            reason
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn pem_err(pem: &str) -> String {
    reason(PrivateKey::from_pem(pem).unwrap_err())
}

fn jwk_err(jwk: &str) -> String {
    reason(PrivateKey::from_jwk(jwk).unwrap_err())
}

fn signs_and_verifies(key: &PrivateKey) {
    let input = b"eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0";
    let signature = key.sign(input).unwrap();
    assert!(verify(&key.public_jwk().unwrap(), input, &signature));
}

#[test]
fn every_pem_form_loads_and_signs() {
    let rsa8 = load(fixture!("rsa2048.pkcs8.pem"));
    let rsa1 = load(fixture!("rsa2048.pkcs1.pem"));
    let ec8 = load(fixture!("p384.pkcs8.pem"));
    let sec1 = load(fixture!("p384.sec1.pem"));
    let with_params = load(fixture!("p384.with-params.sec1.pem"));
    assert_eq!(rsa8.algorithm(), JwsAlgorithm::RS384);
    assert_eq!(rsa1.algorithm(), JwsAlgorithm::RS384);
    assert_eq!(ec8.algorithm(), JwsAlgorithm::ES384);
    assert_eq!(sec1.algorithm(), JwsAlgorithm::ES384);
    assert_eq!(with_params.algorithm(), JwsAlgorithm::ES384);
    // The same key in two encodings.
    assert_eq!(rsa8.public_jwk(), rsa1.public_jwk());
    assert_eq!(ec8.public_jwk(), sec1.public_jwk());
    for key in [&rsa8, &rsa1, &ec8, &sec1, &with_params] {
        signs_and_verifies(key);
    }
}

#[test]
fn pem_tolerates_crlf_indentation_and_escaped_newlines() {
    let pem = fixture!("p384.pkcs8.pem");
    let expected = load(pem).public_jwk();
    let crlf = pem.replace('\n', "\r\n");
    let indented: String = pem.lines().map(|l| format!("    {l}\n")).collect();
    let escaped = pem.trim_end().replace('\n', "\\n");
    let surrounded =
        format!("# my key\n{pem}\n-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n");
    for variant in [crlf, indented, escaped, surrounded] {
        assert_eq!(load(&variant).public_jwk(), expected, "{variant}");
    }
}

#[test]
fn signatures_have_jws_shape() {
    let ec = load(fixture!("p384.sec1.pem"));
    let a = ec.sign(b"input").unwrap();
    assert_eq!(a.len(), 96);
    let b = ec.sign(b"input").unwrap();
    if ec.backend() == SigningBackend::RustCrypto {
        assert_eq!(a, b, "RFC 6979: deterministic");
    } else {
        // AWS-LC draws a fresh nonce each time; both must verify.
        let public = ec.public_jwk().unwrap();
        assert!(verify(&public, b"input", &a) && verify(&public, b"input", &b));
    }
    let ec = ec.into_rust_crypto();
    assert_eq!(
        ec.sign(b"input").unwrap(),
        ec.sign(b"input").unwrap(),
        "RFC 6979: deterministic"
    );
    let rsa = load(fixture!("rsa2048.pkcs1.pem"));
    let s = rsa.sign(b"input").unwrap();
    assert_eq!(s.len(), 256);
    assert_eq!(
        s,
        rsa.sign(b"input").unwrap(),
        "PKCS#1 v1.5 is deterministic"
    );
}

#[test]
fn exported_jwks_have_the_right_shape() {
    let ec = load(fixture!("p384.pkcs8.pem")).public_jwk().unwrap();
    assert_eq!(ec.kty, "EC");
    assert_eq!(ec.crv.as_deref(), Some("P-384"));
    for coordinate in [&ec.x, &ec.y] {
        let text = coordinate.as_deref().unwrap();
        assert_eq!(text.len(), 64);
        assert!(!text.contains('='));
        assert_eq!(b64(text).len(), 48);
    }
    assert!(ec.n.is_none() && ec.e.is_none() && ec.kid.is_none() && ec.alg.is_none());

    let rsa = load(fixture!("rsa2048.pkcs8.pem")).public_jwk().unwrap();
    assert_eq!(rsa.kty, "RSA");
    assert_eq!(rsa.e.as_deref(), Some("AQAB"));
    let n = rsa.n.as_deref().unwrap();
    assert_eq!(n.len(), 342, "256 bytes, unpadded");
    assert!(!n.contains('='));
    assert_eq!(b64(n).len(), 256);
    assert_ne!(b64(n)[0], 0, "no leading zero octet");
    assert!(rsa.crv.is_none() && rsa.x.is_none() && rsa.y.is_none());

    let named = rsa.with_kid("rsa-1");
    assert_eq!(named.kid.as_deref(), Some("rsa-1"));
    assert_eq!(named.alg.as_deref(), Some("RS384"));
    assert_eq!(named.use_.as_deref(), Some("sig"));
}

#[test]
fn exported_jwk_loads_into_a_verifying_key_that_verifies() {
    // Through JSON, as a server would receive it at registration.
    for pem in [fixture!("p384.sec1.pem"), fixture!("rsa2048.pkcs1.pem")] {
        let key = load(pem);
        let jwks = crate::assertion::Jwks {
            keys: vec![key.public_jwk().unwrap().with_kid("k")],
        };
        let json = serde_json::to_string(&jwks).unwrap();
        let received: crate::assertion::Jwks = serde_json::from_str(&json).unwrap();
        let signature = key.sign(b"a.b").unwrap();
        assert!(verify(&received.keys[0], b"a.b", &signature));
        assert!(!verify(&received.keys[0], b"a.c", &signature));
    }
}

#[test]
fn jwk_forms_load() {
    // EC with and without x/y.
    let ec = PrivateKey::from_jwk(fixture!("smart-es384.private.jwk.json")).unwrap();
    let d_only = r#"{"kty":"EC","crv":"P-384","d":"hQCNmfvZEUjOon8zLc0bULlmrDPFHrieFHRVZUGMuiQscx9IO7MT03TsaCPdPv0u"}"#;
    assert_eq!(
        PrivateKey::from_jwk(d_only).unwrap().public_jwk(),
        ec.public_jwk()
    );
    signs_and_verifies(&ec);

    // RSA: full, without CRT values, without primes (recovered from n, e, d).
    let full: serde_json::Value =
        serde_json::from_str(fixture!("smart-rs384.private.jwk.json")).unwrap();
    let rsa = PrivateKey::from_jwk(&full.to_string()).unwrap();
    let mut no_crt = full.clone();
    for member in ["dp", "dq", "qi"] {
        no_crt.as_object_mut().unwrap().remove(member);
    }
    let mut no_primes = no_crt.clone();
    for member in ["p", "q"] {
        no_primes.as_object_mut().unwrap().remove(member);
    }
    for variant in [no_crt, no_primes] {
        let key = PrivateKey::from_jwk(&variant.to_string()).unwrap();
        assert_eq!(key.public_jwk(), rsa.public_jwk());
        signs_and_verifies(&key);
    }

    // A JWK Set with the public and private entries, as the SMART example files are.
    let set = serde_json::json!({"keys": [
        {"kty": "EC", "crv": "P-384", "x": ec.public.x, "y": ec.public.y, "key_ops": ["verify"]},
        serde_json::from_str::<serde_json::Value>(fixture!("smart-es384.private.jwk.json")).unwrap(),
    ]});
    let from_set = PrivateKey::from_jwk(&set.to_string()).unwrap();
    assert_eq!(from_set.public_jwk(), ec.public_jwk());
}

#[test]
fn exported_pkcs8_round_trips() {
    for pem in [fixture!("p384.sec1.pem"), fixture!("rsa2048.pkcs1.pem")] {
        let key = load(pem);
        let exported = key.to_pkcs8_pem().unwrap();
        assert!(
            exported
                .expose()
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        assert_eq!(format!("{exported:?}"), "[REDACTED]");
        assert_eq!(load(exported.expose()).public_jwk(), key.public_jwk());
    }
}

#[test]
fn generated_keys_work() {
    let a = PrivateKey::generate_es384(&mut SeededRandom::new(1)).unwrap();
    let b = PrivateKey::generate_es384(&mut SeededRandom::new(1)).unwrap();
    let c = PrivateKey::generate_es384(&mut SeededRandom::new(2)).unwrap();
    assert_eq!(a.public_jwk(), b.public_jwk());
    assert_ne!(a.public_jwk(), c.public_jwk());
    signs_and_verifies(&a);

    let rsa = PrivateKey::generate_rs384(2048, &mut OsRandom).unwrap();
    assert_eq!(rsa.algorithm(), JwsAlgorithm::RS384);
    assert_eq!(b64(rsa.public.n.as_deref().unwrap()).len(), 256);
    signs_and_verifies(&rsa);
    let exported = rsa.to_pkcs8_pem().unwrap();
    assert_eq!(load(exported.expose()).public_jwk(), rsa.public_jwk());
}

#[test]
fn generate_rejects_bad_sizes_and_failing_random() {
    for bits in [0, 1024, 2047, 8193, usize::MAX] {
        let err = PrivateKey::generate_rs384(bits, &mut OsRandom).unwrap_err();
        assert!(matches!(err, Error::Configuration(_)), "{bits}: {err}");
    }
    #[derive(Debug)]
    struct Zeros;
    impl RandomSource for Zeros {
        fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
            dest.fill(0);
            Ok(())
        }
    }
    // Zero is not a valid scalar: the generator gives up instead of looping forever.
    assert!(matches!(
        PrivateKey::generate_es384(&mut Zeros),
        Err(Error::Random(_))
    ));
    // A failing source is reported as it is, for both kinds of key.
    assert_eq!(
        PrivateKey::generate_rs384(2048, &mut FailingRandom).unwrap_err(),
        Error::Random("no entropy".into())
    );
    assert_eq!(
        PrivateKey::generate_es384(&mut FailingRandom).unwrap_err(),
        Error::Random("no entropy".into())
    );
}

#[derive(Debug)]
struct FailingRandom;

impl RandomSource for FailingRandom {
    fn fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Error> {
        Err(Error::Random("no entropy".into()))
    }
}

/// Counts the bytes drawn, and hands out the seeded stream.
#[derive(Debug)]
struct Counting {
    inner: SeededRandom,
    drawn: usize,
}

impl RandomSource for Counting {
    fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        self.drawn += dest.len();
        self.inner.fill_bytes(dest)
    }
}

#[test]
fn the_same_seed_gives_the_same_rsa_key_and_another_seed_another() {
    let a = PrivateKey::generate_rs384(2048, &mut SeededRandom::new(1)).unwrap();
    let b = PrivateKey::generate_rs384(2048, &mut SeededRandom::new(1)).unwrap();
    let c = PrivateKey::generate_rs384(2048, &mut SeededRandom::new(2)).unwrap();
    assert_eq!(a.public_jwk(), b.public_jwk());
    assert_eq!(a.to_pkcs8_pem().unwrap(), b.to_pkcs8_pem().unwrap());
    assert_ne!(a.public_jwk(), c.public_jwk());
    assert_eq!(b64(a.public.n.as_deref().unwrap()).len(), 256);
    // PKCS#1 v1.5 is deterministic: the same key gives the same signature, whatever blinds it.
    let input = b"header.claims";
    let signature = a
        .sign_with_random(input, &mut SeededRandom::new(7))
        .unwrap();
    assert_eq!(
        signature,
        b.sign_with_random(input, &mut SeededRandom::new(8))
            .unwrap()
    );
    assert_eq!(signature, a.sign(input).unwrap());
    assert_ne!(signature, c.sign(input).unwrap());
    signs_and_verifies(&a);
}

#[test]
fn key_generation_draws_only_from_the_given_source() {
    let mut es = Counting {
        inner: SeededRandom::new(3),
        drawn: 0,
    };
    let key = PrivateKey::generate_es384(&mut es).unwrap();
    assert_eq!(es.drawn, 48, "one P-384 scalar");
    assert_eq!(
        key.public_jwk(),
        PrivateKey::generate_es384(&mut SeededRandom::new(3))
            .unwrap()
            .public_jwk()
    );
    let mut rs = Counting {
        inner: SeededRandom::new(3),
        drawn: 0,
    };
    PrivateKey::generate_rs384(2048, &mut rs).unwrap();
    assert_eq!(rs.drawn, 32, "one ChaCha20 seed");
}

#[test]
fn rsa_blinding_draws_from_the_given_source() {
    let key = load(fixture!("rsa2048.pkcs8.pem")).into_rust_crypto();
    let input = b"header.claims";
    // The source is asked for the blinding factor, and its failure comes back unchanged.
    assert_eq!(
        key.sign_with_random(input, &mut FailingRandom).unwrap_err(),
        Error::Random("no entropy".into())
    );
    let mut counting = Counting {
        inner: SeededRandom::new(1),
        drawn: 0,
    };
    let signature = key.sign_with_random(input, &mut counting).unwrap();
    assert!(counting.drawn >= 256, "a blinding factor as wide as n");
    assert!(verify(&key.public_jwk().unwrap(), input, &signature));
    assert_eq!(signature, key.sign(input).unwrap());

    // ES384 (RFC 6979) needs no randomness at all.
    let ec = load(fixture!("p384.pkcs8.pem")).into_rust_crypto();
    let a = ec.sign_with_random(input, &mut FailingRandom).unwrap();
    assert_eq!(a, ec.sign(input).unwrap());
}

#[test]
fn client_assertions_blind_with_their_own_source() {
    use crate::assertion::ClientAssertion;
    use std::time::{Duration, UNIX_EPOCH};
    /// Gives the `jti` its bytes, then fails.
    #[derive(Debug)]
    struct JtiOnly(bool);
    impl RandomSource for JtiOnly {
        fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
            if std::mem::replace(&mut self.0, true) {
                return Err(Error::Random("blinding asked".into()));
            }
            dest.fill(1);
            Ok(())
        }
    }
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let assertion = |key| ClientAssertion {
        signer: key,
        kid: "k",
        jku: None,
        client_id: "c",
        audience: "https://ehr.example.com/token",
        lifetime: Duration::from_secs(60),
    };
    let rsa = load(fixture!("rsa2048.pkcs8.pem")).into_rust_crypto();
    assert_eq!(
        assertion(&rsa).sign(now, &mut JtiOnly(false)).unwrap_err(),
        Error::Random("blinding asked".into())
    );
    let ec = load(fixture!("p384.pkcs8.pem")).into_rust_crypto();
    let jwt = assertion(&ec).sign(now, &mut JtiOnly(false)).unwrap();
    assert_eq!(jwt.expose().split('.').count(), 3);
}

#[test]
fn other_curves_are_refused_with_the_p384_message() {
    for pem in [
        fixture!("p256.pkcs8.pem"),
        fixture!("p256.sec1.pem"),
        fixture!("p521.pkcs8.pem"),
        fixture!("p521.sec1.pem"),
    ] {
        let message = pem_err(pem);
        assert!(
            message.contains("ES384 requires P-384 (secp384r1) curve"),
            "{message}"
        );
    }
    assert!(pem_err(fixture!("p256.sec1.pem")).contains("P-256"));
    assert!(pem_err(fixture!("p521.pkcs8.pem")).contains("P-521"));
    for crv in ["P-256", "P-521", "secp256k1"] {
        let jwk = format!(r#"{{"kty":"EC","crv":"{crv}","d":"AQ","x":"AQ","y":"AQ"}}"#);
        let message = jwk_err(&jwk);
        assert!(
            message.contains("ES384 requires P-384 (secp384r1) curve"),
            "{message}"
        );
        assert!(message.contains(crv));
    }
    // A 66-byte d is a P-521 key even if it claims P-384.
    let big = format!(
        r#"{{"kty":"EC","crv":"P-384","d":"{}"}}"#,
        Base64UrlUnpadded::encode_string(&[1u8; 66])
    );
    assert!(jwk_err(&big).contains("ES384 requires P-384 (secp384r1) curve"));
}

#[test]
fn small_rsa_keys_are_refused() {
    let message = pem_err(fixture!("rsa1024.pkcs8.pem"));
    assert!(message.contains("1024 bits"), "{message}");
    assert!(message.contains("at least 2048"), "{message}");
}

#[test]
fn unusable_pem_is_refused_with_a_hint() {
    let cases = [
        ("", "no PEM block found"),
        (
            "-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n",
            "only EC PARAMETERS",
        ),
        ("hello world", "no PEM block found"),
        (r#"{"kty":"EC"}"#, "from_jwk"),
        (fixture!("p384.public.pem"), "public key"),
        (fixture!("p384.encrypted.pem"), "encrypted"),
        (fixture!("ed25519.pkcs8.pem"), "EdDSA"),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "certificate",
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            "ssh-keygen",
        ),
        ("-----BEGIN PRIVATE KEY-----\nMIIB\n", "truncated"),
        (
            "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
            "not valid base64",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "could not be decoded",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            "could not be decoded",
        ),
        (
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
            "could not be decoded",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            "encrypted",
        ),
    ];
    for (pem, expected) in cases {
        let message = pem_err(pem);
        assert!(message.contains(expected), "{pem:?}: {message}");
    }
    // The PKCS#8 RSA key presented as PKCS#1 (wrong label) fails cleanly.
    let relabelled = fixture!("rsa2048.pkcs8.pem").replace("PRIVATE KEY", "RSA PRIVATE KEY");
    assert!(pem_err(&relabelled).contains("could not be decoded"));
}

#[test]
fn unusable_jwk_is_refused_with_a_hint() {
    let ec = r#""kty":"EC","crv":"P-384""#;
    let cases = [
        ("not json".to_owned(), "not valid JSON (line 1, column 2)"),
        ("[1]".to_owned(), "JSON object"),
        (
            r#"{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}"#.to_owned(),
            "no private part",
        ),
        (r#"{"d":"AA"}"#.to_owned(), "no \"kty\""),
        (
            r#"{"kty":"OKP","crv":"Ed25519","d":"AA"}"#.to_owned(),
            "unsupported JWK kty \"OKP\"",
        ),
        (
            r#"{"kty":7,"d":"AA"}"#.to_owned(),
            "\"kty\" must be a string",
        ),
        (format!(r#"{{{ec},"d":"***"}}"#), "\"d\" is not base64url"),
        (format!(r#"{{{ec},"d":""}}"#), "\"d\" is empty"),
        (format!(r#"{{{ec},"d":42}}"#), "\"d\" must be a string"),
        (r#"{"kty":"EC","d":"AQ"}"#.to_owned(), "no \"crv\""),
        (
            format!(r#"{{{ec},"d":"AQ"}}"#),
            "not a valid P-384 private key",
        ),
        (
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB","p":"AQ"}"#.to_owned(),
            "only one of",
        ),
        (
            r#"{"kty":"RSA","e":"AQAB","d":"AQAB"}"#.to_owned(),
            "required member \"n\"",
        ),
        (
            r#"{"kty":"RSA","n":"wAE","e":"AQAB","d":"AQAB"}"#.to_owned(),
            "longer than the modulus",
        ),
        (
            r#"{"kty":"RSA","n":"wAE","e":"AQAB","d":"AQ"}"#.to_owned(),
            "do not form a valid RSA",
        ),
        (r#"{"keys":{}}"#.to_owned(), "must be an array"),
        (r#"{"keys":[{"kty":"EC"}]}"#.to_owned(), "no private key"),
        (
            r#"{"keys":[{"d":"AA"},{"d":"AA"}]}"#.to_owned(),
            "more than one private key",
        ),
    ];
    for (jwk, expected) in cases {
        let message = jwk_err(&jwk);
        assert!(message.contains(expected), "{jwk}: {message}");
    }
    // x/y from a different key.
    let mut mixed: serde_json::Value =
        serde_json::from_str(fixture!("smart-es384.private.jwk.json")).unwrap();
    let other: serde_json::Value =
        serde_json::from_str(fixture!("smart-backend-es384.private.jwk.json")).unwrap();
    mixed["x"] = other["x"].clone();
    assert!(jwk_err(&mixed.to_string()).contains("do not match"));
    // Primes from a different key.
    let mut rsa: serde_json::Value =
        serde_json::from_str(fixture!("smart-rs384.private.jwk.json")).unwrap();
    rsa["p"] = rsa["q"].clone();
    assert!(jwk_err(&rsa.to_string()).contains("do not form a valid RSA"));
}

#[test]
fn no_key_material_in_errors_or_debug() {
    const CANARY: &str = "CANARYc4n4ryCANARY";
    let mut messages = Vec::new();
    // Canary in every private member, with wrong types, bad base64 and bad values.
    for member in ["d", "p", "q", "n", "e", "x", "y"] {
        for value in [
            format!("\"{CANARY}\""),
            format!("\"{CANARY}!!\""),
            format!("[\"{CANARY}\"]"),
            format!("{{\"{CANARY}\":1}}"),
        ] {
            for kty in ["RSA", "EC"] {
                let jwk = format!(
                    r#"{{"kty":"{kty}","crv":"P-384","n":"wAE","e":"AQAB","d":"AQ","{member}":{value}}}"#
                );
                messages.push(PrivateKey::from_jwk(&jwk).unwrap_err().to_string());
            }
        }
    }
    messages.push(
        PrivateKey::from_jwk(&format!("{{\"d\": {CANARY}}}"))
            .unwrap_err()
            .to_string(),
    );
    messages.push(
        PrivateKey::from_jwk(&format!("\"{CANARY}\""))
            .unwrap_err()
            .to_string(),
    );
    // Canary as PEM bodies.
    for label in [
        "PRIVATE KEY",
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "PUBLIC KEY",
    ] {
        for body in [
            CANARY.to_owned(),
            format!("{CANARY}AA=="),
            format!("{CANARY}!"),
        ] {
            let pem = format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n");
            messages.push(PrivateKey::from_pem(&pem).unwrap_err().to_string());
        }
    }
    messages.push(PrivateKey::from_pem(CANARY).unwrap_err().to_string());
    for message in &messages {
        assert!(!message.contains("CANARY"), "{message}");
        assert!(!message.contains("c4n4ry"), "{message}");
    }

    // Real key material never shows in Debug or in errors about that key.
    let jwk: serde_json::Value =
        serde_json::from_str(fixture!("smart-rs384.private.jwk.json")).unwrap();
    let secrets: Vec<String> = ["d", "p", "q", "dp", "dq", "qi"]
        .iter()
        .map(|m| jwk[m].as_str().unwrap()[..16].to_owned())
        .collect();
    let key = PrivateKey::from_jwk(&jwk.to_string()).unwrap();
    let mut broken = jwk.clone();
    broken["q"] = jwk["p"].clone();
    let texts = [
        format!("{key:?}"),
        format!("{key:#?}"),
        PrivateKey::from_jwk(&broken.to_string())
            .unwrap_err()
            .to_string(),
        format!(
            "{:?}",
            PrivateKey::from_jwk(&broken.to_string()).unwrap_err()
        ),
    ];
    for text in &texts {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{text}");
        }
    }
    let pem = fixture!("p384.sec1.pem");
    let body_line = pem.lines().nth(1).unwrap();
    let truncated = &pem[..pem.len() - 10];
    for text in [
        format!("{:?}", load(pem)),
        PrivateKey::from_pem(truncated).unwrap_err().to_string(),
    ] {
        assert!(!text.contains(&body_line[..20]), "{text}");
    }
}

#[cfg(feature = "aws-lc")]
#[test]
fn aws_lc_holds_the_same_public_key() {
    let ec = load(fixture!("p384.sec1.pem"));
    let mut point = vec![4u8];
    point.extend(b64(ec.public.x.as_deref().unwrap()));
    point.extend(b64(ec.public.y.as_deref().unwrap()));
    assert_eq!(ec.fast.as_ref().unwrap().public_key_bytes(), point);

    let rsa = load(fixture!("rsa2048.pkcs1.pem"));
    let der = rsa.fast.as_ref().unwrap().public_key_bytes();
    let n = b64(rsa.public.n.as_deref().unwrap());
    assert!(der.windows(n.len()).any(|window| window == n));
    assert!(rsa.into_rust_crypto().fast.is_none());
}

#[test]
fn debug_is_redacted() {
    assert_eq!(
        format!("{:?}", load(fixture!("rsa2048.pkcs8.pem"))),
        "PrivateKey { algorithm: RS384, key: [REDACTED] }"
    );
    assert_eq!(
        format!("{:?}", load(fixture!("p384.pkcs8.pem"))),
        "PrivateKey { algorithm: ES384, key: [REDACTED] }"
    );
}

#[test]
fn fuzz_regression_begin_line_without_dashes_does_not_echo_key_material() {
    // Found by fuzz target private_key (fuzz/regressions/private_key/begin-line-without-dashes):
    // a BEGIN line missing its closing dashes made the key body part of the "label",
    // which the error message quoted.
    let pem = "-----BEGIN PRIVATE KEY\nMIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbCANARY\n-----END PRIVATE KEY-----\n";
    let err = PrivateKey::from_pem(pem).unwrap_err().to_string();
    assert!(!err.contains("CANARY"), "{err}");
    assert!(!err.contains("MIG2"), "{err}");
    assert!(err.contains("BEGIN line is malformed"), "{err}");
}
