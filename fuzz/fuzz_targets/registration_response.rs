//! `RegisteredClient::parse(status, body)`.
//!
//! Input: optional `"<status>\n"` line (default 201), then the body.
//! Invariants:
//! - non-2xx ⇒ Err carrying the status; Ok ⇒ `client_id` non-blank;
//! - on Ok: serde round trip is the identity; `Debug` shows neither secret;
//! - on Err: `received_fields` are exactly the sorted, cleaned key names; the error does not
//!   depend on any string value other than the top-level `client_id`, `error`,
//!   `error_description` and `error_uri` (replacing all other values leaves Display and Debug
//!   unchanged), so no other value can leak into it;
//! - planted canaries: the body with `client_secret` and `registration_access_token` canaries
//!   merged in (as a JSON object, and as a raw text prefix of the mutated bytes) never shows a
//!   canary in `Display`/`Debug` of the error or `Debug` of the client.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use safire_core::{RegisteredClient, RegistrationError};
use serde_json::Value;

const SECRET: &str = "CANARY-SECRET-5d41402abc4b2a76";
const RAT: &str = "CANARY-RAT-7d793037a0760186";
const KEEP: [&str; 4] = ["client_id", "error", "error_description", "error_uri"];

fn render(result: &Result<RegisteredClient, RegistrationError>) -> String {
    match result {
        Ok(c) => format!("{c:?}"),
        Err(e) => format!("{e} | {e:?}"),
    }
}

fn check(status: u16, body: &[u8]) -> Result<RegisteredClient, RegistrationError> {
    let result = RegisteredClient::parse(status, body);
    match &result {
        Ok(c) => {
            assert!((200..300).contains(&status));
            assert!(!c.client_id.trim().is_empty());
            let bytes = serde_json::to_vec(c).unwrap();
            let back: RegisteredClient = serde_json::from_slice(&bytes).unwrap();
            assert!(&back == c, "serde round trip differs:\n{c:?}\n{back:?}");
            let _ = format!("{c:?}");
        }
        Err(e) => common::check_endpoint_error(&e.oauth, &e.received_fields, status, body, &[]),
    }
    result
}

fn assert_no_canary(result: &Result<RegisteredClient, RegistrationError>) {
    let shown = render(result);
    assert!(
        !shown.contains(SECRET) && !shown.contains(RAT),
        "canary leaked: {shown}"
    );
}

fuzz_target!(|data: &[u8]| {
    let (status, body) = common::split_status(data, 201);
    let result = check(status, body);

    // Canary as a raw prefix: `{"client_secret":"CANARY…","registration_access_token":"CANARY…",`
    // followed by the input without its opening brace (valid JSON when the input is an object).
    let planted_by_input = body.windows(6).any(|w| w == b"CANARY");
    if !planted_by_input {
        let rest = body.strip_prefix(b"{").unwrap_or(body);
        let mut prefixed =
            format!(r#"{{"client_secret":"{SECRET}","registration_access_token":"{RAT}","#)
                .into_bytes();
        prefixed.extend_from_slice(rest);
        assert_no_canary(&check(status, &prefixed));
    }

    let Some(map) = common::loose_object(body) else {
        return;
    };

    // Errors depend on no value but the kept ones.
    if result.is_err() {
        let replaced = common::replace_values(&map, &KEEP, "VALUE-REPLACED");
        let reserialized = serde_json::to_vec(&map).unwrap();
        let a = RegisteredClient::parse(status, &reserialized);
        let b = RegisteredClient::parse(status, &serde_json::to_vec(&replaced).unwrap());
        assert!(a.is_err() && b.is_err());
        assert_eq!(
            render(&a),
            render(&b),
            "registration error depends on a value"
        );
    }

    // Debug of a client does not depend on the secrets' values.
    if result.is_ok() {
        let mut replaced = map.clone();
        for key in ["client_secret", "registration_access_token"] {
            if let Some(Value::String(_)) = replaced.get(key) {
                replaced.insert(key.into(), Value::String(format!("{key}-replaced")));
            }
        }
        let a = RegisteredClient::parse(status, &serde_json::to_vec(&map).unwrap());
        let b = RegisteredClient::parse(status, &serde_json::to_vec(&replaced).unwrap());
        assert_eq!(
            render(&a),
            render(&b),
            "client Debug depends on a secret value"
        );
    }

    // Canaries merged into the object (overriding any secret the input had).
    if !planted_by_input {
        let mut planted = map.clone();
        planted.insert("client_secret".into(), Value::String(SECRET.into()));
        planted.insert(
            "registration_access_token".into(),
            Value::String(RAT.into()),
        );
        assert_no_canary(&check(status, &serde_json::to_vec(&planted).unwrap()));
    }
});
