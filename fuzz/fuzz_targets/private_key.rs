//! `assertion::PrivateKey::from_pem` and `::from_jwk`.
//!
//! Input: one mode byte, then the key text (UTF-8). Mode bit 0: PEM (0) or JWK (1). Mode bit 1:
//! plant a canary: in PEM mode a base64 line inserted after the first line of the text (inside
//! the body of a mutated PEM); in JWK mode the private members (`d`, `p`, `q`, `dp`, `dq`, `qi`)
//! of the object (or of each key of a JWK Set) are replaced by a base64url canary.
//! Invariants:
//! - never panics;
//! - errors never contain a base64 body line of the input (a line of ≥ 16 base64 characters),
//!   nor the canary, nor (JWK) a private member's value of ≥ 16 characters that does not occur
//!   in another member;
//! - Ok ⇒ `Debug` is exactly `PrivateKey { algorithm: …, key: [REDACTED] }`, the public JWK has
//!   the algorithm's key type, and a PKCS#8 export loads back to the same public JWK.
#![no_main]

use libfuzzer_sys::fuzz_target;
use safire_core::{ConfigurationError, JwsAlgorithm, PrivateKey, Signer};
use serde_json::Value;

/// base64 of "CANARYkeymaterial12345678" (valid base64 and base64url).
const CANARY: &str = "Q0FOQVJZa2V5bWF0ZXJpYWwxMjM0NTY3OA";
const PRIVATE: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

/// Known issue (regressions/private_key/begin-line-without-dashes): `from_pem` quotes the PEM
/// label, and a BEGIN line without its closing dashes makes the "label" run to the next
/// `-----`, i.e. over the whole base64 body. While this is true, the quoted label is cut out
/// of the error before the leak checks; set it to false once safire-core validates labels.
const TOLERATE_PEM_LABEL_ECHO: bool = false;

/// The error text the leak checks look at.
fn leak_view(e: &ConfigurationError) -> String {
    if TOLERATE_PEM_LABEL_ECHO && let ConfigurationError::Invalid { reason, .. } = e {
        for (head, tail) in [
            ("the PEM block \"", "\" has no matching END line"),
            ("unsupported PEM block \"", "\"; expected PRIVATE KEY"),
        ] {
            if let Some(rest) = reason.strip_prefix(head)
                && let Some(end) = rest.rfind(tail)
            {
                return format!("{head}<label>{}", &rest[end..]);
            }
        }
    }
    format!("{e} | {e:?}")
}

fn base64_lines(text: &str) -> Vec<&str> {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| {
            l.len() >= 16
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        })
        .collect()
}

fn plant_jwk(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for m in PRIVATE {
                if map.contains_key(m) {
                    map.insert(m.into(), Value::String(CANARY.into()));
                }
            }
            if let Some(Value::Array(keys)) = map.get_mut("keys") {
                keys.iter_mut().for_each(plant_jwk);
            }
        }
        _ => {}
    }
}

/// Private member values worth checking: long, with a digit and an upper-case letter (so they
/// cannot be a run of the library's fixed English text), and found in no other string.
fn private_values(value: &Value) -> Vec<String> {
    fn strings(v: &Value, private: bool, out_private: &mut Vec<String>, others: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                if private {
                    out_private.push(s.clone())
                } else {
                    others.push(s.clone())
                }
            }
            Value::Array(items) => items
                .iter()
                .for_each(|i| strings(i, false, out_private, others)),
            Value::Object(map) => {
                for (k, v) in map {
                    others.push(k.clone());
                    let is_private = PRIVATE.contains(&k.as_str()) && v.is_string();
                    strings(v, is_private, out_private, others);
                }
            }
            _ => {}
        }
    }
    let (mut private, mut others) = (Vec::new(), Vec::new());
    strings(value, false, &mut private, &mut others);
    private
        .into_iter()
        .filter(|v| {
            v.len() >= 16
                && v.bytes().any(|b| b.is_ascii_digit())
                && v.bytes().any(|b| b.is_ascii_uppercase())
                && !others.iter().any(|o| o.contains(v.as_str()))
        })
        .collect()
}

fn check_ok(key: &PrivateKey) {
    let alg = key.algorithm();
    assert_eq!(
        format!("{key:?}"),
        format!("PrivateKey {{ algorithm: {alg:?}, key: [REDACTED] }}")
    );
    let jwk = key.public_jwk().expect("a loaded key has a public JWK");
    let json = serde_json::to_string(&jwk).unwrap();
    assert!(
        !json.contains("\"d\""),
        "private part in the public JWK: {json}"
    );
    match alg {
        JwsAlgorithm::RS384 => assert_eq!(jwk.kty, "RSA"),
        JwsAlgorithm::ES384 => assert_eq!(jwk.kty, "EC"),
        other => panic!("a key type this target does not know yet: {other:?}"),
    }
    let pem = key.to_pkcs8_pem().unwrap();
    let again = PrivateKey::from_pem(pem.expose()).unwrap();
    assert_eq!(again.public_jwk(), Some(jwk));
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let plant = mode & 2 != 0 && !text.contains(CANARY);

    if mode & 1 == 0 {
        let text = if plant {
            match text.split_once('\n') {
                Some((first, tail)) => format!("{first}\n{CANARY}\n{tail}"),
                None => format!("{text}\n{CANARY}\n"),
            }
        } else {
            text.to_owned()
        };
        match PrivateKey::from_pem(&text) {
            Ok(key) => check_ok(&key),
            Err(e) => {
                let shown = leak_view(&e);
                if plant {
                    assert!(
                        !shown.contains(CANARY),
                        "planted PEM line in the error: {shown}"
                    );
                }
                for line in base64_lines(&text) {
                    assert!(
                        !shown.contains(line),
                        "PEM body line {line:?} in the error: {shown}"
                    );
                }
            }
        }
    } else {
        let mut text = text.to_owned();
        if plant && let Ok(mut value) = serde_json::from_str::<Value>(&text) {
            plant_jwk(&mut value);
            text = serde_json::to_string(&value).unwrap();
        }
        match PrivateKey::from_jwk(&text) {
            Ok(key) => check_ok(&key),
            Err(e) => {
                let shown = leak_view(&e);
                if plant {
                    assert!(
                        !shown.contains(CANARY),
                        "planted JWK member in the error: {shown}"
                    );
                }
                if let Ok(value) = serde_json::from_str::<Value>(&text) {
                    for v in private_values(&value) {
                        assert!(
                            !shown.contains(&v),
                            "private JWK member in the error: {shown}"
                        );
                    }
                }
            }
        }
    }
});
