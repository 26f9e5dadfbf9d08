//! `parse_oauth_error(status, body)` and the `json::parse_object` it is built on.
//!
//! Input: optional `"<status>\n"` line (default 400), then the body.
//! Invariants:
//! - the status is preserved whatever the body;
//! - `parse_object` agrees with an independent model (serde_json + BOM skip + depth < 128);
//! - each of error/error_description/error_uri is present exactly when the object has a
//!   non-blank string member of that name, and then equals the model `server_text` of it:
//!   at most 300 characters plus `…`, no control characters;
//! - `field_names` gives sorted, cleaned key names only.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use safire_core::protocol::{field_names, parse_object};
use safire_core::protocol::parse_oauth_error;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (status, body) = common::split_status(data, 400);
    let fields = parse_oauth_error(status, body);
    assert_eq!(fields.status, Some(status));

    let parsed = parse_object(body);
    assert_eq!(
        parsed,
        common::model_parse_object(body),
        "parse_object disagrees with the model"
    );

    let check = |key: &str, got: &Option<String>| {
        // Cleaned first, then judged: a member that is blank once cleaned is absent.
        let expected = match parsed.as_ref().and_then(|m| m.get(key)) {
            Some(Value::String(s)) => {
                Some(common::model_server_text(s)).filter(|t| !t.trim().is_empty())
            }
            _ => None,
        };
        assert_eq!(got, &expected, "{key}");
        if let Some(text) = got {
            assert!(
                common::bounded(text),
                "unbounded: {} chars",
                text.chars().count()
            );
            assert!(common::clean(text), "control characters in {text:?}");
        }
    };
    check("error", &fields.error_code);
    check("error_description", &fields.error_description);
    check("error_uri", &fields.error_uri);
    if let Some(map) = &parsed {
        common::assert_names_only(&field_names(map), map);
    }
});
