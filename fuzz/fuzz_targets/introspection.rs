//! `parse_introspection_response(status, body, secrets)` and `Introspection::parse`.
//!
//! Input: optional `"<status>\n"` line (default 200), then the body.
//! Invariants:
//! - both entry points agree when no secret is involved; non-2xx ⇒ Err carrying the status;
//! - Ok ⇒ 2xx, `active` is what the body said (`true`/`"true"`), `is_active_at` and `scopes`
//!   run, and `Debug` does not depend on the values of `sub`, `patient`, `encounter`,
//!   `fhirUser` or any string inside `fhirContext` (identifiers never show);
//! - Err ⇒ server texts bounded and clean; `received_fields` exactly the sorted key names;
//! - a token canary planted in `error`/`error_description`/`error_uri` and as a member name
//!   (merged into the object, and as a raw prefix of the mutated bytes), and echoed into
//!   `client_id`/`iss`/`scope`/`aud`, never shows in any output when it is passed as the secret.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use safire_core::protocol::parse_introspection_response;
use safire_core::{Introspection, IntrospectionError};
use serde_json::{Map, Value};

const TOKEN: &str = "CANARY-TOKEN-8f14e45fceea167a";
const IDENTIFIERS: [&str; 4] = ["sub", "patient", "encounter", "fhirUser"];

fn render(result: &Result<Introspection, IntrospectionError>) -> String {
    match result {
        Ok(token) => format!("{token:?}"),
        Err(e) => format!("{e} | {e:?}"),
    }
}

fn check(status: u16, body: &[u8], secrets: &[&str]) -> Result<Introspection, IntrospectionError> {
    let result = parse_introspection_response(status, body, secrets);
    match &result {
        Ok(token) => {
            assert!((200..300).contains(&status));
            let map = common::model_parse_object(body).expect("Ok without an object");
            let said = match map.get("active") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s == "true",
                other => panic!("Ok with active {other:?}"),
            };
            assert_eq!(token.active, said);
            let _ = token.is_active_at(std::time::SystemTime::now());
            let _ = token.scopes().count();
            assert!(token.findings.len() <= 65);
        }
        Err(e) => common::check_endpoint_error(&e.oauth, &e.received_fields, status, body, secrets),
    }
    result
}

/// Every string below `value` replaced by a numbered tag (types kept).
fn replace_strings(value: &Value, n: &mut usize) -> Value {
    match value {
        Value::String(_) => {
            *n += 1;
            Value::String(format!("ID-REPLACED-{n}"))
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| replace_strings(v, n)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), replace_strings(v, n)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn assert_no_canary(result: &Result<Introspection, IntrospectionError>) {
    let shown = render(result);
    assert!(!shown.contains(TOKEN), "token leaked: {shown}");
}

fuzz_target!(|data: &[u8]| {
    let (status, body) = common::split_status(data, 200);
    let result = check(status, body, &[]);
    let plain = Introspection::parse(status, body);
    assert_eq!(render(&result), render(&plain), "entry points disagree");

    let planted_by_input = body.windows(6).any(|w| w == b"CANARY");
    if !planted_by_input {
        // The token as a raw prefix: a member name and an error description.
        let rest = body.strip_prefix(b"{").unwrap_or(body);
        let mut prefixed =
            format!(r#"{{"{TOKEN}":1,"error_description":"bad token {TOKEN}","#).into_bytes();
        prefixed.extend_from_slice(rest);
        assert_no_canary(&check(status, &prefixed, &[TOKEN]));
    }

    let Some(map) = common::loose_object(body) else {
        return;
    };

    // Identifiers never show in Debug.
    if result.is_ok() {
        let mut replaced: Map<String, Value> = map.clone();
        let mut n = 0;
        for key in IDENTIFIERS.iter().chain(["fhirContext"].iter()) {
            if let Some(value) = replaced.get(*key) {
                let new = replace_strings(value, &mut n);
                replaced.insert((*key).to_owned(), new);
            }
        }
        let a = Introspection::parse(status, &serde_json::to_vec(&map).unwrap());
        let b = Introspection::parse(status, &serde_json::to_vec(&replaced).unwrap());
        assert_eq!(render(&a), render(&b), "Debug depends on an identifier");
    }

    // The token merged into the error members and as a member name.
    if !planted_by_input {
        let mut planted = map.clone();
        for key in ["error", "error_description", "error_uri"] {
            let text = match planted.get(key) {
                Some(Value::String(s)) => format!("{s}{TOKEN}"),
                _ => format!("x {TOKEN} y"),
            };
            planted.insert(key.into(), Value::String(text));
        }
        planted.insert(TOKEN.into(), Value::Bool(true));
        assert_no_canary(&check(
            status,
            &serde_json::to_vec(&planted).unwrap(),
            &[TOKEN],
        ));
        // An Ok (or missing-active) body echoing the token into members Debug shows.
        planted.remove("error");
        for key in ["client_id", "iss", "scope"] {
            planted.insert(key.into(), Value::String(format!("{TOKEN}-{key}")));
        }
        planted.insert(
            "aud".into(),
            Value::Array(vec![Value::String(TOKEN.into())]),
        );
        assert_no_canary(&check(
            status,
            &serde_json::to_vec(&planted).unwrap(),
            &[TOKEN],
        ));
        planted.remove("active");
        assert_no_canary(&check(
            status,
            &serde_json::to_vec(&planted).unwrap(),
            &[TOKEN],
        ));
    }
});
