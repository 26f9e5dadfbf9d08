//! `ServerJwks::parse`, `verify_jws` and `verify_id_token`.
//!
//! Input: one mode byte, then the rest. Modes (byte value, readable letters in the seeds):
//! - `j`: the rest is a JWK Set body for `ServerJwks::parse`;
//! - `t`: the rest is a token, verified with `verify_jws` and `verify_id_token` against the
//!   JWK Set of `crates/safire-core/testdata/id_token_vectors.json` (plus one ES384 key
//!   generated here) at the vectors' fixed time, so the vector tokens are realistic seeds;
//! - `p`: the rest is a payload, signed here with the ES384 key (`{"alg":"ES384","kid":...}`)
//!   so the claim checks run on arbitrary signed payloads; `n`: the same, expecting a nonce;
//! - `h`: the rest is `<header JSON>\n<payload>`, both signed here (header parsing after a
//!   valid signature: `crit`, duplicates, `alg`/`kid` confusion);
//! - any other byte: picks one of the above by its value modulo 5.
//!
//! Invariants:
//! - never panics;
//! - `ServerJwks::parse`: Ok ⇒ at most `MAX_JWKS_KEYS` keys, RSA keys have ≥ `MIN_RSA_BITS`
//!   bits, `fits(alg)` ⇒ the key type is the algorithm's, parsing is deterministic, findings
//!   have no control characters and never contain key material (`n`, `x`, `y`, `d`, `k`, ...
//!   values of ≥ 16 characters that occur nowhere else in the input);
//! - `verify_id_token` agrees with `verify_jws`: the JWS error is the id_token error
//!   `Jws(...)`, and an Ok token has the JWS's `alg` and `kid`;
//! - errors never quote the token: no 16-character run of its parts appears in `Display` or
//!   `Debug` of an error (unless the decoded header or payload itself contains that run);
//! - signed here ⇒ `verify_jws` is Ok with exactly the input payload (mode `h`: or an error
//!   about the header), and an Ok id_token matches an independent model of the claim checks:
//!   `iss` equal, `aud` contains the client id, `exp`/`iat`/`nbf` within the skew, nonce;
//! - an Ok id_token's `Debug` never shows `sub`, `email` or the `fhirUser` id (when they are
//!   ≥ 8 characters and occur nowhere that `Debug` may show).
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use safire_core::{
    IdTokenError, IdTokenValidation, MAX_JWKS_KEYS, MIN_RSA_BITS, PrivateKey, SeededRandom,
    ServerJwks, Signer, VerifyAlgorithm, verify_id_token, verify_jws,
};
use serde_json::{Map, Value, json};

const VECTORS: &str = include_str!("../../crates/safire-core/testdata/id_token_vectors.json");
const KID: &str = "fuzz-es384";
const NONCE: &str = "fuzz-nonce-1";

struct Fixture {
    key: PrivateKey,
    jwks: ServerJwks,
    validation: IdTokenValidation,
    with_nonce: IdTokenValidation,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let v: Value = serde_json::from_str(VECTORS).unwrap();
        let key = PrivateKey::generate_es384(&mut SeededRandom::new(1)).unwrap();
        let mut set = v["jwks"].clone();
        let jwk = serde_json::to_value(key.public_jwk().unwrap().with_kid(KID)).unwrap();
        set["keys"].as_array_mut().unwrap().push(jwk);
        let jwks = ServerJwks::parse(set.to_string().as_bytes()).unwrap();
        assert!(jwks.findings().is_empty());
        let validation = IdTokenValidation::new(
            v["issuer"].as_str().unwrap(),
            v["client_id"].as_str().unwrap(),
            UNIX_EPOCH + Duration::from_secs(v["now"].as_u64().unwrap()),
        )
        .with_fhir_base(v["fhir_base"].as_str().unwrap().parse().unwrap());
        let with_nonce = validation.clone().with_nonce(NONCE);
        Fixture {
            key,
            jwks,
            validation,
            with_nonce,
        }
    })
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, &b| acc << 8 | b as u32) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn b64_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32;
        bits = bits << 6 | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    Some(out)
}

/// Runs of 16 characters of the token's parts, minus those the decoded header or payload
/// contains (an error may quote the header's `alg` or `kid`, or the payload's `iss`).
fn token_pieces(token: &str) -> Vec<String> {
    let decoded: String = token
        .split('.')
        .take(2)
        .filter_map(b64_decode)
        .map(|part| String::from_utf8_lossy(&part).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    let mut pieces = Vec::new();
    for part in token.split('.') {
        let chars: Vec<char> = part.chars().collect();
        for window in chars.chunks(16).filter(|w| w.len() == 16) {
            let piece: String = window.iter().collect();
            if !decoded.contains(&piece) {
                pieces.push(piece);
            }
        }
    }
    pieces
}

fn check_jwks(body: &[u8]) {
    let Ok(jwks) = ServerJwks::parse(body) else {
        return;
    };
    assert!(jwks.keys().len() <= MAX_JWKS_KEYS);
    for key in jwks.keys() {
        if let Some(bits) = key.rsa_bits() {
            assert!(bits >= MIN_RSA_BITS);
        }
        for alg in VerifyAlgorithm::ALL {
            if key.fits(alg) {
                assert_eq!(alg.key_type(), key.key_type());
                assert!(key.alg().is_none_or(|a| a == alg.as_str()));
                assert!(key.key_use().is_none_or(|u| u == "sig"));
            }
        }
    }
    let again = ServerJwks::parse(body).unwrap();
    assert_eq!(again.keys().len(), jwks.keys().len());
    assert_eq!(again.findings(), jwks.findings());
    let shown = format!("{:?}", jwks.findings());
    for f in jwks.findings() {
        assert!(!f.message.chars().any(char::is_control), "{f}");
    }
    // Key material never shows in findings.
    if let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(body) {
        let mut material = Vec::new();
        let mut others = Vec::new();
        if let Some(Value::Array(keys)) = doc.get("keys") {
            for key in keys {
                if let Value::Object(map) = key {
                    for (k, v) in map {
                        others.push(k.clone());
                        if let Value::String(s) = v {
                            if ["n", "e", "x", "y", "d", "p", "q", "dp", "dq", "qi", "k"]
                                .contains(&k.as_str())
                            {
                                material.push(s.clone());
                            } else {
                                others.push(s.clone());
                            }
                        }
                    }
                }
            }
        }
        for m in material.iter().filter(|m| m.len() >= 16) {
            if !others.iter().any(|o| o.contains(m.as_str())) {
                assert!(!shown.contains(m.as_str()), "key material in findings: {shown}");
            }
        }
    }
}

fn check_token(token: &str, validation: &IdTokenValidation) -> Result<(), IdTokenError> {
    let f = fixture();
    let jws = verify_jws(token, &f.jwks);
    let id = verify_id_token(token, &f.jwks, validation);
    match (&jws, &id) {
        (Err(e), Err(IdTokenError::Jws(same))) => assert_eq!(e, same),
        (Err(e), other) => panic!("verify_jws failed with {e:?} but verify_id_token gave {other:?}"),
        (Ok(_), Err(IdTokenError::Jws(e))) => panic!("verify_jws Ok but verify_id_token {e:?}"),
        (Ok(j), Ok(t)) => {
            assert_eq!(j.alg, t.alg);
            assert_eq!(j.kid, t.kid);
        }
        (Ok(_), Err(_)) => {}
    }
    match &id {
        Err(e) => {
            let shown = format!("{e} | {e:?}");
            for piece in token_pieces(token) {
                assert!(!shown.contains(&piece), "token run {piece:?} in the error: {shown}");
            }
            if let Some(nonce) = &validation.nonce {
                assert!(!shown.contains(nonce.as_str()));
            }
        }
        Ok(t) => {
            let debug = format!("{t:?}");
            let visible: Vec<&str> = [t.iss.as_str()]
                .into_iter()
                .chain(t.aud.iter().map(String::as_str))
                .chain(t.kid.as_deref())
                .chain(t.claims.keys().map(String::as_str))
                .collect();
            let finding_text = format!("{:?}", t.findings);
            let mut secrets: Vec<&str> = vec![t.sub.as_str()];
            secrets.extend(t.email.as_deref());
            secrets.extend(t.name.as_deref());
            secrets.extend(t.fhir_user.as_ref().map(|u| u.id()));
            for s in secrets {
                if s.len() >= 8
                    && !visible.iter().any(|v| v.contains(s))
                    && !finding_text.contains(s)
                    && !"[REDACTED]SystemTimetv_sectv_nsecVerifiedIdToken".contains(s)
                {
                    assert!(!debug.contains(s), "identifier in Debug: {debug}");
                }
            }
        }
    }
    id.map(|_| ())
}

fn number(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

/// An independent model of the claim checks, for payloads signed here.
fn model_accepts(payload: &[u8], validation: &IdTokenValidation) -> Option<bool> {
    let Ok(Value::Object(c)) = serde_json::from_slice::<Value>(payload) else {
        return None; // the model does not judge non-objects (or duplicates, NaN forms, ...)
    };
    let now = validation
        .now
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let skew = validation.skew.as_secs_f64();
    let iss_ok = c.get("iss").and_then(Value::as_str) == Some(validation.issuer.as_str());
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => *a == validation.client_id,
        Some(Value::Array(items)) => {
            items.iter().all(Value::is_string)
                && items.iter().any(|a| a == validation.client_id.as_str())
                && match c.get("azp") {
                    Some(azp) => azp == validation.client_id.as_str(),
                    None => items.len() == 1,
                }
        }
        _ => false,
    };
    let azp_ok = c.get("azp").is_none_or(|a| a == validation.client_id.as_str());
    // Far-future times (beyond what the model's f64 compares exactly) are not judged.
    if ["exp", "iat", "nbf", "auth_time"]
        .iter()
        .any(|name| number(c.get(*name)).is_some_and(|t| t >= 1e15))
    {
        return None;
    }
    let time = |name: &str| number(c.get(name)).filter(|t| *t >= 0.0);
    let exp_ok = time("exp").is_some_and(|exp| exp + skew > now);
    let iat_ok = time("iat").is_some_and(|iat| iat <= now + skew);
    let nbf_ok = match c.get("nbf") {
        None => true,
        Some(_) => time("nbf").is_some_and(|nbf| nbf <= now + skew),
    };
    let nonce_ok = match &validation.nonce {
        None => true,
        Some(n) => c.get("nonce").and_then(Value::as_str) == Some(n.as_str()),
    };
    let sub_ok = c.get("sub").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    let auth_time_ok = match c.get("auth_time") {
        None => true,
        Some(_) => time("auth_time").is_some(),
    };
    // Numbers within one second of a boundary can round either way in the model's f64: skip.
    let near = |name: &str, edge: f64| time(name).is_some_and(|t| (t - edge).abs() < 1.0);
    if near("exp", now - skew) || near("iat", now + skew) || near("nbf", now + skew) {
        return None;
    }
    Some(iss_ok && aud_ok && azp_ok && exp_ok && iat_ok && nbf_ok && nonce_ok && sub_ok && auth_time_ok)
}

fn sign(header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = fixture().key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&signature))
}

fn check_signed_payload(payload: &[u8], validation: &IdTokenValidation) {
    let header = json!({"alg": "ES384", "kid": KID, "typ": "JWT"}).to_string();
    let token = sign(header.as_bytes(), payload);
    let jws = verify_jws(&token, &fixture().jwks).expect("signed here");
    assert_eq!(jws.payload, payload);
    let accepted = check_token(&token, validation).is_ok();
    if let Some(model) = model_accepts(payload, validation) {
        // Duplicate members and nesting deeper than 64 are refused by Safire but not by the
        // model's serde_json.
        let strict_refusal = matches!(
            verify_id_token(&token, &fixture().jwks, validation),
            Err(IdTokenError::DuplicateClaim | IdTokenError::MalformedPayload)
        );
        if !strict_refusal {
            assert_eq!(accepted, model, "model and verify_id_token disagree");
        }
    }
}

fn check_signed_header(data: &[u8]) {
    let (header, payload) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"{}"[..]),
    };
    let token = sign(header, payload);
    let jws = verify_jws(&token, &fixture().jwks);
    let _ = check_token(&token, &fixture().validation);
    let parsed: Option<Map<String, Value>> = serde_json::from_slice(header).ok();
    if let (Ok(jws), Some(h)) = (&jws, &parsed) {
        // Verified with our key ⇒ the header asked for it (ES384, our kid or none).
        assert_eq!(jws.alg, VerifyAlgorithm::ES384);
        assert!(!h.contains_key("crit"));
        assert_eq!(h.get("alg").and_then(Value::as_str), Some("ES384"));
        assert!(matches!(h.get("kid").and_then(Value::as_str), Some(KID) | None));
        assert_eq!(jws.payload, payload);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mode = match mode {
        b'j' | b't' | b'p' | b'n' | b'h' => mode,
        other => b"jtpnh"[(other % 5) as usize],
    };
    let f = fixture();
    match mode {
        b'j' => check_jwks(rest),
        b't' => {
            if let Ok(token) = std::str::from_utf8(rest) {
                let _ = check_token(token, &f.validation);
                let _ = check_token(token, &f.with_nonce);
            }
        }
        b'p' => check_signed_payload(rest, &f.validation),
        b'n' => check_signed_payload(rest, &f.with_nonce),
        _ => check_signed_header(rest),
    }
});
