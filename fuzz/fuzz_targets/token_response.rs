//! `TokenResponse::parse(status, body, received_at)`.
//!
//! Input: optional `"<status>\n"` line (default 200), then the body. `received_at` is picked
//! from the input length (a normal time, before the epoch, near the end of `SystemTime`).
//! Invariants:
//! - non-2xx ⇒ Err carrying the status; error texts are bounded and free of control characters;
//!   `received_fields` are exactly the sorted, cleaned key names (never values);
//! - on Ok: `compliance_findings` for all three flow kinds; `is_expired`, `scopes` run;
//!   `expires_at` = whole second received + `expires_in`; serde round trip is the identity;
//! - parsing the re-serialized JSON object gives the same result as the raw bytes;
//! - the access token never shows: replacing its value in the body changes neither `Debug` of
//!   the response nor `Display`/`Debug` of the error, and when the value (≥ 8 characters) does
//!   not occur in the output for the replaced body, it does not occur in the output at all.
#![no_main]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use safire_core::{GrantType, TokenError, TokenResponse};
use serde_json::Value;

const REPLACEMENT: &str = "replaced-access-token-value-0000";

fn render(result: &Result<TokenResponse, TokenError>) -> String {
    match result {
        Ok(t) => format!("{t:?}"),
        Err(e) => format!("{e} | {e:?}"),
    }
}

fn check_ok(t: &TokenResponse, received_at: SystemTime) {
    assert!(!t.access_token.is_blank());
    for kind in [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ] {
        for f in t.compliance_findings(kind) {
            assert!(!f.message.is_empty());
            let _ = f.to_string();
        }
    }
    let _ = t.scopes().count();
    let _ = t.is_expired(received_at, Duration::from_secs(60));
    let _ = t.is_expired(received_at, Duration::MAX);
    match (t.expires_in, t.expires_at) {
        (None, at) => assert_eq!(at, None),
        (Some(secs), Some(at)) => {
            let base = received_at.duration_since(UNIX_EPOCH).unwrap().as_secs();
            assert_eq!(at, UNIX_EPOCH + Duration::from_secs(base + secs));
            assert!(
                !t.is_expired(UNIX_EPOCH + Duration::from_secs(base), Duration::ZERO) || secs == 0
            );
        }
        (Some(_), None) => {} // overflow or received before the epoch
    }
    let bytes = serde_json::to_vec(t).unwrap();
    let back: TokenResponse = serde_json::from_slice(&bytes).unwrap();
    assert!(&back == t, "serde round trip differs:\n{t:?}\n{back:?}");
}

fn check_err(e: &TokenError, status: u16, body: &[u8]) {
    common::check_endpoint_error(&e.oauth, &e.received_fields, status, body, &[]);
    let _ = e.to_string();
}

fuzz_target!(|data: &[u8]| {
    let (status, body) = common::split_status(data, 200);
    let received_at = match data.len() % 5 {
        0 => UNIX_EPOCH.checked_sub(Duration::from_secs(5)).unwrap(),
        1 => UNIX_EPOCH
            .checked_add(Duration::from_secs(i64::MAX as u64 / 2))
            .unwrap_or(UNIX_EPOCH),
        _ => UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
    };
    let result = TokenResponse::parse(status, body, received_at);
    if !(200..300).contains(&status) {
        assert!(result.is_err());
    }
    match &result {
        Ok(t) => check_ok(t, received_at),
        Err(e) => check_err(e, status, body),
    }

    // Differential checks need the body as a JSON object.
    let Some(map) = common::loose_object(body) else {
        return;
    };
    let reserialized = serde_json::to_vec(&map).unwrap();
    let again = TokenResponse::parse(status, &reserialized, received_at);
    assert!(
        again == result,
        "raw and re-serialized bodies parse differently"
    );

    let Some(Value::String(token)) = map.get("access_token") else {
        return;
    };
    if token.trim().is_empty() || token == REPLACEMENT {
        return;
    }
    let mut replaced = map.clone();
    replaced.insert("access_token".into(), Value::String(REPLACEMENT.into()));
    let other = TokenResponse::parse(status, &serde_json::to_vec(&replaced).unwrap(), received_at);
    let shown = render(&result);
    let shown_other = render(&other);
    assert_eq!(
        shown, shown_other,
        "output depends on the access token value"
    );
    if token.chars().count() >= 8 && !shown_other.contains(token.as_str()) {
        assert!(
            !shown.contains(token.as_str()),
            "access token leaked: {shown}"
        );
    }
    if let Ok(t) = &result {
        assert_eq!(t.access_token.expose(), token);
    }
});
