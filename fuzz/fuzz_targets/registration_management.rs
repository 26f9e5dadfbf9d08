//! `parse_registration_management_response(status, body, secrets)` (RFC 7592 read/update).
//!
//! Input: optional `"<status>\n"` line (default 200), then the body.
//! Invariants:
//! - with no secret it is exactly `RegisteredClient::parse` (same client, or same error);
//! - with secrets, Ok/Err agree with `RegisteredClient::parse`; only the error texts and
//!   field names differ (scrubbed; a scrubbed name may merge with an existing `[REDACTED]`);
//! - a registration access token / client secret canary planted in `error`,
//!   `error_description`, `error_uri` and as a member name (merged into the object, and as a
//!   raw text prefix of the mutated bytes) never shows in `Display`/`Debug` of an error; as
//!   the `registration_access_token` value it never shows in `Debug` of a client.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use safire_core::protocol::parse_registration_management_response;
use safire_core::{RegisteredClient, RegistrationError};
use serde_json::Value;

const RAT: &str = "CANARY-RAT-c9f0f895fb98ab91";
const SECRET: &str = "CANARY-SECRET-45c48cce2e2d7fbd";

fn check(
    status: u16,
    body: &[u8],
    secrets: &[&str],
) -> Result<RegisteredClient, RegistrationError> {
    let result = parse_registration_management_response(status, body, secrets);
    let reference = RegisteredClient::parse(status, body);
    match (&result, &reference) {
        (Ok(a), Ok(b)) => assert!(a == b, "client differs from RegisteredClient::parse"),
        (Err(a), Err(b)) => {
            assert_eq!(a.oauth.status, Some(status));
            // Scrubbed names may coincide with a name already there ("[REDACTED]").
            assert!(a.received_fields.len() <= b.received_fields.len());
            assert_eq!(a.received_fields.is_empty(), b.received_fields.is_empty());
            assert_eq!(a.detail, b.detail);
            if secrets.is_empty() {
                assert_eq!(a, b, "error differs from RegisteredClient::parse");
            }
            common::assert_server_texts(&a.oauth);
        }
        _ => panic!("Ok/Err differs from RegisteredClient::parse"),
    }
    if !(200..300).contains(&status) {
        assert!(result.is_err());
    }
    result
}

fn assert_no_canary_in_error(result: &Result<RegisteredClient, RegistrationError>) {
    if let Err(e) = result {
        let shown = format!("{e} | {e:?}");
        assert!(
            !shown.contains(RAT) && !shown.contains(SECRET),
            "canary leaked: {shown}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let (status, body) = common::split_status(data, 200);
    let _ = check(status, body, &[]);

    let planted_by_input = body.windows(6).any(|w| w == b"CANARY");
    if planted_by_input {
        return;
    }
    let rest = body.strip_prefix(b"{").unwrap_or(body);
    let mut prefixed = format!(
        r#"{{"{RAT}":1,"error_description":"{RAT} / {SECRET} refused","error":"invalid_{SECRET}","#
    )
    .into_bytes();
    prefixed.extend_from_slice(rest);
    assert_no_canary_in_error(&check(status, &prefixed, &[RAT, SECRET]));

    let Some(map) = common::loose_object(body) else {
        return;
    };
    let mut planted = map.clone();
    for key in ["error", "error_description", "error_uri"] {
        planted.insert(key.into(), Value::String(format!("a {RAT} b {SECRET} c")));
    }
    planted.insert(SECRET.into(), Value::Null);
    assert_no_canary_in_error(&check(
        status,
        &serde_json::to_vec(&planted).unwrap(),
        &[RAT, SECRET],
    ));

    // A client's Debug never shows its registration access token.
    let mut with_token = map;
    with_token.insert(
        "registration_access_token".into(),
        Value::String(RAT.into()),
    );
    let result = check(status, &serde_json::to_vec(&with_token).unwrap(), &[RAT]);
    if let Ok(client) = &result {
        assert!(!format!("{client:?}").contains(RAT), "{client:?}");
    }
    assert_no_canary_in_error(&result);
});
