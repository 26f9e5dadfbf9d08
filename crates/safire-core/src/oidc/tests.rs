//! Tests for the oidc module: independent vectors (joserfc, see
//! testdata/make_id_token_vectors.py), JWK Set parsing, key selection, claims, `fhirUser`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Value, json};

use super::*;
use crate::{PrivateKey, SeededRandom, Signer};

fn vectors() -> Value {
    let text = include_str!("../../testdata/id_token_vectors.json");
    serde_json::from_str(text).unwrap()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The name of an error variant as the vectors spell it: `Jws.<VerifyError>` or
/// `<IdTokenError>`.
fn variant(e: &IdTokenError) -> String {
    fn head(debug: String) -> String {
        debug
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or_default()
            .to_owned()
    }
    match e {
        IdTokenError::Jws(v) => format!("Jws.{}", head(format!("{v:?}"))),
        other => head(format!("{other:?}")),
    }
}

fn validation_for(v: &Value, vector: &Value) -> IdTokenValidation {
    let mut validation = IdTokenValidation::new(
        v["issuer"].as_str().unwrap(),
        v["client_id"].as_str().unwrap(),
        at(v["now"].as_u64().unwrap()),
    )
    .with_skew(Duration::from_secs(v["skew"].as_u64().unwrap()))
    .with_nonce(v["nonce"].as_str().unwrap())
    .with_fhir_base(v["fhir_base"].as_str().unwrap().parse().unwrap());
    if let Some(overrides) = vector.get("validation")
        && overrides.get("nonce") == Some(&Value::Null)
    {
        validation.nonce = None;
    }
    validation
}

fn payload_of(token: &str) -> serde_json::Map<String, Value> {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(payload).unwrap()).unwrap()
}

/// Base64url runs of the token long enough to be recognisable (16+ characters).
fn token_pieces(token: &str) -> Vec<&str> {
    token
        .split('.')
        .flat_map(|part| {
            (0..part.len().saturating_sub(16))
                .step_by(16)
                .filter_map(move |i| part.get(i..i + 16))
        })
        .collect()
}

#[test]
fn independent_vectors_verify_or_fail_with_the_labelled_error() {
    let v = vectors();
    let jwks = ServerJwks::parse(v["jwks"].to_string().as_bytes()).unwrap();
    let rotated = ServerJwks::parse(v["jwks_rotated"].to_string().as_bytes()).unwrap();
    assert_eq!(jwks.keys().len(), 6);
    assert!(jwks.findings().is_empty(), "{:?}", jwks.findings());
    assert_eq!(rotated.keys().len(), 7);
    let list = v["vectors"].as_array().unwrap();
    assert!(list.len() >= 35);
    let mut seen_ok = std::collections::HashSet::new();
    for vector in list {
        let name = vector["name"].as_str().unwrap();
        let token = vector["token"].as_str().unwrap();
        let expect = vector["expect"].as_str().unwrap();
        let set = match vector.get("jwks").and_then(Value::as_str) {
            Some("rotated") => &rotated,
            _ => &jwks,
        };
        let validation = validation_for(&v, vector);
        let result = verify_id_token(token, set, &validation);
        match (&result, expect) {
            (Ok(id), "ok") => {
                let claims = payload_of(token);
                seen_ok.insert(id.alg);
                assert_eq!(id.sub, claims["sub"], "{name}");
                assert_eq!(id.iss, claims["iss"], "{name}");
                assert_eq!(
                    Value::Object(id.claims.clone()),
                    Value::Object(claims.clone())
                );
                assert_eq!(id.exp, at(claims["exp"].as_u64().unwrap()), "{name}");
                assert_eq!(id.iat, at(claims["iat"].as_u64().unwrap()), "{name}");
                assert_eq!(id.name.as_deref(), claims["name"].as_str(), "{name}");
                assert_eq!(id.email.as_deref(), claims["email"].as_str(), "{name}");
                assert!(id.aud.contains(&"vector-app".to_owned()), "{name}");
                let user = id.fhir_user.as_ref().unwrap();
                let raw = claims["fhirUser"].as_str().unwrap();
                let expected_url = if raw.starts_with("https://") {
                    raw.to_owned()
                } else {
                    format!("https://ehr.example/fhir/{raw}")
                };
                assert_eq!(user.url().as_str(), expected_url, "{name}");
                assert!(expected_url.ends_with(&user.reference()), "{name}");
                assert!(id.findings.is_empty(), "{name}: {:?}", id.findings);
                // Debug names no identifier.
                let debug = format!("{id:?}");
                for secret in [id.sub.as_str(), user.id(), id.email.as_deref().unwrap()] {
                    assert!(!debug.contains(secret), "{name}: {debug}");
                }
                assert!(!debug.contains("Dr. Vector"), "{name}: {debug}");
            }
            (Err(e), expect) if expect != "ok" => {
                assert_eq!(variant(e), expect, "{name}: {e}");
                let shown = format!("{e} {e:?}");
                for piece in token_pieces(token) {
                    assert!(!shown.contains(piece), "{name}: token in error: {shown}");
                }
                assert!(!shown.contains(v["nonce"].as_str().unwrap()), "{name}");
                assert_eq!(
                    e == &IdTokenError::Jws(VerifyError::UnknownKid {
                        kid: "rotated-2026".into()
                    }),
                    name == "unknown_kid_rotation",
                    "{name}"
                );
            }
            (other, _) => panic!("{name}: expected {expect}, got {other:?}"),
        }
    }
    assert_eq!(seen_ok.len(), VerifyAlgorithm::ALL.len(), "{seen_ok:?}");
}

#[test]
fn mutated_vector_tokens_are_refused_without_panic() {
    let v = vectors();
    let jwks = ServerJwks::parse(v["jwks"].to_string().as_bytes()).unwrap();
    let mut rng = 0x1234_5678_9abc_def0_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    for vector in v["vectors"].as_array().unwrap() {
        if vector["expect"] != "ok" || vector.get("jwks").is_some() {
            continue;
        }
        let token = vector["token"].as_str().unwrap();
        let validation = validation_for(&v, vector);
        assert!(verify_id_token(token, &jwks, &validation).is_ok());
        for _ in 0..40 {
            let mut bytes = token.as_bytes().to_vec();
            let i = (next() as usize) % bytes.len();
            bytes[i] = ALPHABET[(next() as usize) % ALPHABET.len()];
            let mutated = String::from_utf8(bytes).unwrap();
            if mutated == token {
                continue;
            }
            assert!(
                verify_id_token(&mutated, &jwks, &validation).is_err(),
                "{}: a one-character change at {i} still verifies",
                vector["name"]
            );
        }
    }
}

// ---- JWK Set parsing ----

const P256_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const P256_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

fn rsa_jwk(key: &PrivateKey, kid: &str) -> Value {
    let mut jwk = serde_json::to_value(key.public_jwk().unwrap()).unwrap();
    jwk["kid"] = json!(kid);
    jwk.as_object_mut().unwrap().remove("alg");
    jwk
}

fn rsa_key() -> PrivateKey {
    PrivateKey::from_pem(include_str!("../../testdata/rsa2048.pkcs8.pem")).unwrap()
}

#[test]
fn jwks_skips_unusable_keys_with_findings() {
    let rsa = rsa_key();
    let small = {
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::traits::PublicKeyParts;
        let k =
            rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("../../testdata/rsa1024.pkcs8.pem"))
                .unwrap();
        json!({"kty": "RSA", "kid": "small", "n": b64(&k.n().to_be_bytes()), "e": b64(&k.e().to_be_bytes())})
    };
    let set = json!({"keys": [
        rsa_jwk(&rsa, "good-rsa"),
        {"kty": "EC", "crv": "P-256", "kid": "good-ec", "x": P256_X, "y": P256_Y},
        small,
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"},
        {"kty": "EC", "crv": "P-256", "kid": "off-curve", "x": P256_X, "y": P256_X},
        {"kty": "EC", "crv": "P-256", "kid": "short", "x": "AAAA", "y": P256_Y},
        {"kty": "EC", "crv": "P-256", "kid": "private", "x": P256_X, "y": P256_Y, "d": "AAAA"},
        {"kty": "RSA", "kid": "no-e", "n": "AQAB"},
        {"kty": "RSA", "kid": 7, "n": "AQAB", "e": "AQAB"},
        {"kty": "EC", "crv": "P-256", "kid": "ops", "x": P256_X, "y": P256_Y, "key_ops": "verify"},
        "not an object",
        {"kid": "no-kty"},
        {"kty": "EC", "crv": "P-256", "kid": "b64", "x": "not base64!", "y": P256_Y},
    ]});
    let jwks = ServerJwks::parse(set.to_string().as_bytes()).unwrap();
    let kids: Vec<_> = jwks.keys().iter().map(|k| k.kid().unwrap()).collect();
    assert_eq!(kids, ["good-rsa", "good-ec"]);
    assert_eq!(jwks.keys()[0].rsa_bits(), Some(2048));
    assert_eq!(jwks.keys()[0].key_type(), KeyType::Rsa);
    let findings = jwks.findings();
    assert_eq!(findings.len(), 13, "{findings:#?}");
    let fields: Vec<_> = findings.iter().map(|f| f.field.clone().unwrap()).collect();
    assert_eq!(fields.first().map(String::as_str), Some("keys[2]"));
    // Unsupported types and curves are warnings; broken or dangerous keys are errors.
    let warnings: Vec<_> = findings
        .iter()
        .filter(|f| !f.is_error())
        .map(|f| f.field.clone().unwrap())
        .collect();
    assert_eq!(warnings, ["keys[4]", "keys[5]"]);
    assert!(findings[0].message.contains("1024 bits"), "{}", findings[0]);
    assert!(findings[6].message.contains("`d`"), "{}", findings[6]);
    // No key material in the findings.
    let all = format!("{findings:?}");
    assert!(!all.contains(P256_X) && !all.contains("c2VjcmV0"));
}

#[test]
fn jwks_refusals() {
    assert_eq!(ServerJwks::parse(b"[]").unwrap_err(), JwksError::Malformed);
    assert_eq!(
        ServerJwks::parse(b"{}").unwrap_err(),
        JwksError::MissingKeys
    );
    assert_eq!(
        ServerJwks::parse(br#"{"keys":{}}"#).unwrap_err(),
        JwksError::MissingKeys
    );
    assert_eq!(
        ServerJwks::parse(br#"{"keys":[{"kty":"RSA","kty":"EC"}]}"#).unwrap_err(),
        JwksError::DuplicateMember
    );
    let many = json!({"keys": vec![json!({"kty": "oct"}); MAX_JWKS_KEYS + 1]});
    assert_eq!(
        ServerJwks::parse(many.to_string().as_bytes()).unwrap_err(),
        JwksError::TooManyKeys {
            count: MAX_JWKS_KEYS + 1,
            max: MAX_JWKS_KEYS
        }
    );
    let mut big = br#"{"keys":[],"x":""#.to_vec();
    big.resize(MAX_JWKS_BYTES + 1, b'a');
    assert!(matches!(
        ServerJwks::parse(&big).unwrap_err(),
        JwksError::TooLarge { .. }
    ));
    let bom = b"\xEF\xBB\xBF{\"keys\":[]}";
    assert!(ServerJwks::parse(bom).unwrap().keys().is_empty());
}

#[test]
fn jwks_notes_a_repeated_kid_within_one_key_type() {
    let rsa = rsa_key();
    let set = json!({"keys": [rsa_jwk(&rsa, "k"), rsa_jwk(&rsa, "k"),
        {"kty": "EC", "crv": "P-256", "kid": "k", "x": P256_X, "y": P256_Y}]});
    let jwks = ServerJwks::parse(set.to_string().as_bytes()).unwrap();
    assert_eq!(jwks.keys().len(), 3);
    assert_eq!(jwks.findings().len(), 1, "{:?}", jwks.findings());
    assert_eq!(jwks.findings()[0].field.as_deref(), Some("keys[1]"));
    assert_eq!(jwks.find("k").count(), 3);
}

// ---- JWS with keys made here (safire-core's own ES384/RS384 signer) ----

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn signed(key: &PrivateKey, header: &Value, payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload));
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&signature))
}

fn es384() -> (PrivateKey, ServerJwks) {
    let key = PrivateKey::generate_es384(&mut SeededRandom::new(7)).unwrap();
    let jwk = key.public_jwk().unwrap().with_kid("es");
    let set = json!({"keys": [jwk]});
    (key, ServerJwks::parse(set.to_string().as_bytes()).unwrap())
}

fn base_claims() -> Value {
    json!({"iss": "https://ehr.example", "aud": "app", "sub": "s-1",
           "exp": 1_000_300, "iat": 1_000_000})
}

fn validation() -> IdTokenValidation {
    IdTokenValidation::new("https://ehr.example", "app", at(1_000_000))
}

#[test]
fn header_checks() {
    let (key, jwks) = es384();
    let payload = base_claims().to_string();
    let ok = signed(
        &key,
        &json!({"alg": "ES384", "kid": "es"}),
        payload.as_bytes(),
    );
    let jws = verify_jws(&ok, &jwks).unwrap();
    assert_eq!(jws.alg, VerifyAlgorithm::ES384);
    assert_eq!(jws.kid.as_deref(), Some("es"));
    assert_eq!(jws.payload, payload.as_bytes());
    assert!(!format!("{jws:?}").contains("s-1"));
    for (header, expected) in [
        (
            json!({"alg": "ES384", "kid": "es", "crit": []}),
            VerifyError::CriticalHeader,
        ),
        (json!({"alg": "none"}), VerifyError::AlgNone),
        (json!({"alg": "NONE"}), VerifyError::AlgNone),
        (
            json!({"alg": "HS512"}),
            VerifyError::HmacAlgorithm {
                alg: "HS512".into(),
            },
        ),
        (
            json!({"alg": "ES512"}),
            VerifyError::UnsupportedAlgorithm {
                alg: "ES512".into(),
            },
        ),
        (
            json!({"alg": "es384"}),
            VerifyError::UnsupportedAlgorithm {
                alg: "es384".into(),
            },
        ),
        (
            json!({"alg": 1}),
            VerifyError::Malformed {
                reason: "the header's `alg` is not a string",
            },
        ),
        (
            json!({"typ": "JWT"}),
            VerifyError::Malformed {
                reason: "the header has no `alg`",
            },
        ),
        (
            json!({"alg": "ES384", "kid": 5}),
            VerifyError::Malformed {
                reason: "the header's `kid` is not a string",
            },
        ),
        (
            json!({"alg": "ES384", "kid": "other"}),
            VerifyError::UnknownKid {
                kid: "other".into(),
            },
        ),
        (
            json!({"alg": "RS256", "kid": "es"}),
            VerifyError::KeyMismatch {
                alg: VerifyAlgorithm::RS256,
            },
        ),
        (
            json!({"alg": "RS256"}),
            VerifyError::NoCompatibleKey {
                alg: VerifyAlgorithm::RS256,
            },
        ),
    ] {
        let token = signed(&key, &header, payload.as_bytes());
        assert_eq!(verify_jws(&token, &jwks).unwrap_err(), expected, "{header}");
    }
    // Without a kid, the only ES384 key is used.
    let token = signed(&key, &json!({"alg": "ES384"}), payload.as_bytes());
    assert!(verify_jws(&token, &jwks).is_ok());
    // An embedded `jwk` header is ignored: the attacker's key is not trusted.
    let attacker = PrivateKey::generate_es384(&mut SeededRandom::new(99)).unwrap();
    let header = json!({"alg": "ES384", "kid": "es", "jwk": attacker.public_jwk().unwrap()});
    let token = signed(&attacker, &header, payload.as_bytes());
    assert_eq!(
        verify_jws(&token, &jwks).unwrap_err(),
        VerifyError::BadSignature
    );
}

#[test]
fn shape_checks() {
    let (key, jwks) = es384();
    let ok = signed(&key, &json!({"alg": "ES384"}), b"{}");
    let (h, rest) = ok.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let malformed = |t: &str| matches!(verify_jws(t, &jwks), Err(VerifyError::Malformed { .. }));
    assert!(malformed(""));
    assert!(malformed("a.b"));
    assert!(malformed(&format!("{ok}.x")));
    assert!(malformed("a.b.c.d.e"));
    assert!(malformed(&format!("{h}=.{p}.{s}")));
    assert!(malformed(&format!("{h}.{p}.{s}=")));
    assert!(malformed(&format!("{h}.{p}!.{s}")));
    assert!(malformed(&format!("{}.{p}.{s}", b64(b"[]"))));
    assert!(malformed(&format!("{}.{p}.{s}", b64(b"\xff"))));
    assert_eq!(
        verify_jws(&format!("{h}.{p}."), &jwks).unwrap_err(),
        VerifyError::BadSignature
    );
    assert_eq!(
        verify_jws(&format!("{h}.{p}.{}", b64(&[0u8; 96])), &jwks).unwrap_err(),
        VerifyError::BadSignature
    );
    let dup_header = format!("{}.{p}.{s}", b64(br#"{"alg":"ES384","alg":"ES384"}"#));
    assert_eq!(
        verify_jws(&dup_header, &jwks).unwrap_err(),
        VerifyError::DuplicateMember { part: "header" }
    );
    let long = "a".repeat(MAX_JWS_BYTES + 1);
    assert!(matches!(
        verify_jws(&long, &jwks).unwrap_err(),
        VerifyError::TooLarge { .. }
    ));
    // A DER-encoded ECDSA signature is not a JWS signature.
    let der = {
        let raw = Base64UrlUnpadded::decode_vec(s).unwrap();
        let sig = p384::ecdsa::Signature::from_slice(&raw).unwrap();
        sig.to_der().as_bytes().to_vec()
    };
    assert_eq!(
        verify_jws(&format!("{h}.{p}.{}", b64(&der)), &jwks).unwrap_err(),
        VerifyError::BadSignature
    );
}

#[test]
fn ambiguous_when_kid_repeats_in_one_type() {
    let key = PrivateKey::generate_es384(&mut SeededRandom::new(7)).unwrap();
    let jwk = key.public_jwk().unwrap().with_kid("es");
    let jwks = ServerJwks::parse(json!({"keys": [jwk, jwk]}).to_string().as_bytes()).unwrap();
    let token = signed(&key, &json!({"alg": "ES384", "kid": "es"}), b"{}");
    assert_eq!(
        verify_jws(&token, &jwks).unwrap_err(),
        VerifyError::AmbiguousKey {
            alg: VerifyAlgorithm::ES384
        }
    );
}

#[test]
fn key_fit_rules() {
    let (key, _) = es384();
    let jwk = serde_json::to_value(key.public_jwk().unwrap()).unwrap();
    let with = |extra: Value| {
        let mut j = jwk.clone();
        for (k, v) in extra.as_object().unwrap() {
            j[k] = v.clone();
        }
        let set = ServerJwks::parse(json!({"keys": [j]}).to_string().as_bytes()).unwrap();
        set.keys()[0].fits(VerifyAlgorithm::ES384)
    };
    assert!(with(json!({})));
    assert!(with(
        json!({"use": "sig", "alg": "ES384", "key_ops": ["verify"]})
    ));
    assert!(!with(json!({"use": "enc"})));
    assert!(!with(json!({"alg": "ES256"})));
    assert!(!with(json!({"key_ops": ["sign"]})));
}

#[test]
fn claim_checks() {
    let (key, jwks) = es384();
    let header = json!({"alg": "ES384", "kid": "es"});
    let check = |claims: &Value, v: &IdTokenValidation| {
        verify_id_token(
            &signed(&key, &header, claims.to_string().as_bytes()),
            &jwks,
            v,
        )
    };
    let with = |extra: Value| {
        let mut c = base_claims();
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let v = validation();
    assert!(check(&base_claims(), &v).is_ok());
    use IdTokenError as E;
    let cases = [
        (with(json!({"iss": null})), E::MissingClaim { claim: "iss" }),
        (with(json!({"sub": null})), E::MissingClaim { claim: "sub" }),
        (with(json!({"aud": null})), E::MissingClaim { claim: "aud" }),
        (with(json!({"exp": null})), E::MissingClaim { claim: "exp" }),
        (with(json!({"iat": null})), E::MissingClaim { claim: "iat" }),
        (
            with(json!({"sub": ""})),
            E::InvalidClaim {
                claim: "sub",
                reason: "empty",
            },
        ),
        (
            with(json!({"aud": []})),
            E::InvalidClaim {
                claim: "aud",
                reason: "not a string or a non-empty array of strings",
            },
        ),
        (
            with(json!({"aud": ["app", 1]})),
            E::InvalidClaim {
                claim: "aud",
                reason: "not a string or a non-empty array of strings",
            },
        ),
        (
            with(json!({"azp": 1})),
            E::InvalidClaim {
                claim: "azp",
                reason: "not a string",
            },
        ),
        (
            with(json!({"exp": -5})),
            E::InvalidClaim {
                claim: "exp",
                reason: "before 1970",
            },
        ),
        (
            with(json!({"exp": 1e300})),
            E::InvalidClaim {
                claim: "exp",
                reason: "out of range",
            },
        ),
        (
            with(json!({"exp": u64::MAX})),
            E::InvalidClaim {
                claim: "exp",
                reason: "out of range",
            },
        ),
        (with(json!({"exp": 999_940})), E::Expired),
        (with(json!({"iat": 1_000_061})), E::IssuedInFuture),
        (with(json!({"nbf": 1_000_061})), E::NotYetValid),
        (
            with(json!({"aud": ["app", "x"], "azp": "x"})),
            E::AuthorizedPartyMismatch,
        ),
    ];
    for (claims, expected) in cases {
        assert_eq!(check(&claims, &v).unwrap_err(), expected, "{claims}");
    }
    // Boundaries: the skew is inclusive on each side.
    assert!(check(&with(json!({"exp": 999_940.5, "iat": 1_000_060})), &v).is_ok());
    assert!(check(&with(json!({"nbf": 1_000_060})), &v).is_ok());
    assert!(check(&with(json!({"aud": ["x", "app"], "azp": "app"})), &v).is_ok());
    let strict = validation().with_skew(Duration::ZERO);
    assert_eq!(
        check(&with(json!({"exp": 1_000_000})), &strict).unwrap_err(),
        E::Expired
    );
    assert!(check(&with(json!({"exp": 1_000_001})), &strict).is_ok());

    // Nonce: checked when sent; an unexpected one is accepted.
    let with_nonce = validation().with_nonce("n-1");
    assert_eq!(
        check(&base_claims(), &with_nonce).unwrap_err(),
        E::NonceMissing
    );
    assert_eq!(
        check(&with(json!({"nonce": "n-2"})), &with_nonce).unwrap_err(),
        E::NonceMismatch
    );
    assert_eq!(
        check(&with(json!({"nonce": 1})), &with_nonce).unwrap_err(),
        E::InvalidClaim {
            claim: "nonce",
            reason: "not a string"
        }
    );
    assert!(check(&with(json!({"nonce": "n-1"})), &with_nonce).is_ok());
    assert!(check(&with(json!({"nonce": "n-1"})), &v).is_ok());

    // max_age needs a recent enough auth_time.
    let max_age = validation().with_max_age(Duration::from_secs(600));
    assert_eq!(
        check(&base_claims(), &max_age).unwrap_err(),
        E::MissingClaim { claim: "auth_time" }
    );
    assert_eq!(
        check(&with(json!({"auth_time": 999_339})), &max_age).unwrap_err(),
        E::AuthenticationTooOld
    );
    let id = check(&with(json!({"auth_time": 999_340})), &max_age).unwrap();
    assert_eq!(id.auth_time, Some(at(999_340)));

    // Payload problems.
    let raw = |payload: &[u8]| verify_id_token(&signed(&key, &header, payload), &jwks, &v);
    assert_eq!(raw(b"[1]").unwrap_err(), E::MalformedPayload);
    assert_eq!(raw(b"not json").unwrap_err(), E::MalformedPayload);
    assert_eq!(
        raw(br#"{"iss":"https://ehr.example","iss":"https://ehr.example"}"#).unwrap_err(),
        E::DuplicateClaim
    );
}

#[test]
fn profile_claims_and_findings() {
    let (key, jwks) = es384();
    let header = json!({"alg": "ES384", "kid": "es"});
    let mut claims = base_claims();
    claims["fhirUser"] = json!("Patient/p1");
    claims["name"] = json!(["not", "a", "string"]);
    claims["email"] = json!("a@b.example");
    let token = signed(&key, &header, claims.to_string().as_bytes());
    // No FHIR base: the relative reference cannot be resolved, so it is a finding.
    let id = verify_id_token(&token, &jwks, &validation()).unwrap();
    assert!(id.fhir_user.is_none());
    assert_eq!(id.name, None);
    assert_eq!(id.email.as_deref(), Some("a@b.example"));
    assert_eq!(id.findings.len(), 2, "{:?}", id.findings);
    assert!(id.findings[0].is_error());
    assert!(!format!("{:?}", id.findings).contains("p1"));
    let v = validation().with_fhir_base("https://ehr.example/fhir/".parse().unwrap());
    let id = verify_id_token(&token, &jwks, &v).unwrap();
    let user = id.fhir_user.as_ref().unwrap();
    assert_eq!(user.resource_type(), &ResourceType::Patient);
    assert_eq!(user.url().as_str(), "https://ehr.example/fhir/Patient/p1");
    let debug = format!("{id:?}");
    assert!(debug.contains("sub: \"[REDACTED]\""), "{debug}");
    assert!(debug.contains("fhir_user: Some(\"Patient\")"), "{debug}");
    assert!(
        !debug.contains("a@b.example") && !debug.contains("s-1"),
        "{debug}"
    );

    claims["fhirUser"] = json!("https://ehr.example/fhir/Device/d1");
    let token = signed(&key, &header, claims.to_string().as_bytes());
    let id = verify_id_token(&token, &jwks, &v).unwrap();
    assert_eq!(
        id.fhir_user.unwrap().resource_type(),
        &ResourceType::Other("Device".into())
    );
    assert_eq!(id.findings.len(), 2, "{:?}", id.findings);
    assert!(!id.findings[0].is_error());
}

// ---- fhirUser ----

#[test]
fn fhir_user_forms() {
    let base: url::Url = "https://ehr.example/r4?tenant=1".parse().unwrap();
    let ok = |value: &str| FhirUser::parse(value, Some(&base)).unwrap();
    let u = ok("Practitioner/x.1-2");
    assert_eq!(
        u.url().as_str(),
        "https://ehr.example/r4/Practitioner/x.1-2"
    );
    assert_eq!(u.id(), "x.1-2");
    assert_eq!(u.reference(), "Practitioner/x.1-2");
    let u = ok("https://other.example/fhir/RelatedPerson/rp");
    assert_eq!(u.resource_type(), &ResourceType::RelatedPerson);
    assert_eq!(u.url().host_str(), Some("other.example"));
    let u = ok("https://ehr.example/fhir/Person/p/_history/3");
    assert_eq!(u.resource_type(), &ResourceType::Person);
    assert_eq!(u.id(), "p");
    assert_eq!(u.url().as_str(), "https://ehr.example/fhir/Person/p");
    assert!(u.compliance_findings().is_empty());
    let u = ok("http://localhost:8080/Patient/1");
    assert_eq!(u.resource_type().as_str(), "Patient");

    use FhirUserError as E;
    for (value, expected) in [
        ("", E::Empty),
        ("Patient", E::NotAReference),
        ("/Patient/1", E::NotAReference),
        ("a/Patient/1", E::NotAReference),
        ("Patient/1?x=1", E::NotAReference),
        ("Patient/1#f", E::NotAReference),
        ("Patient/ 1", E::NotAReference),
        ("urn:uuid:1234", E::NotAReference),
        ("ftp://ehr.example/Patient/1", E::NotAReference),
        ("https://ehr.example/", E::NotAReference),
        ("patient/1", E::InvalidResourceType),
        ("Pat1ent/1", E::InvalidResourceType),
        ("https://ehr.example/fhir/Patient/", E::InvalidId),
        ("Patient/a_b", E::InvalidId),
        (&format!("Patient/{}", "1".repeat(65)), E::InvalidId),
    ] {
        assert_eq!(
            FhirUser::parse(value, Some(&base)),
            Err(expected),
            "{value:?}"
        );
    }
    assert_eq!(
        FhirUser::parse("Patient/1", None),
        Err(E::RelativeWithoutBase)
    );
    let debug = format!("{:?}", ok("Patient/secret-id"));
    assert!(!debug.contains("secret-id"), "{debug}");
}

// ---- refresh policy ----

#[test]
fn refresh_policy() {
    let p = JwksRefreshPolicy {
        min_interval: Duration::from_secs(60),
    };
    let t = at(10_000);
    assert!(!p.should_refetch(t, t));
    assert!(!p.should_refetch(t, at(10_059)));
    assert!(p.should_refetch(t, at(10_060)));
    assert!(!p.should_refetch(t, at(9_950)));
    assert!(p.should_refetch(t, at(9_000)));
    let zero = JwksRefreshPolicy {
        min_interval: Duration::ZERO,
    };
    assert!(zero.should_refetch(t, t));
}

#[test]
fn validation_debug_hides_the_nonce() {
    let v = validation().with_nonce("super-secret-nonce");
    assert!(!format!("{v:?}").contains("super-secret-nonce"));
}
