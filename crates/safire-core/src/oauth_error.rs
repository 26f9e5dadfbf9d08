//! OAuth 2.0 error bodies (RFC 6749 §5.2, RFC 7591 §3.2.2).
//!
//! Token and registration endpoints explain refusals with `error`, `error_description` and
//! `error_uri`. The body may be JSON, HTML from a proxy, or empty; whatever it is, the status is
//! kept and the OAuth fields are taken only from a JSON object.

use serde_json::{Map, Value};

use crate::error::{OAuthErrorFields, server_text};
use crate::json::parse_object;

/// OAuth error fields from any response body.
///
/// A JSON object's `error`, `error_description` and `error_uri` are used when they are
/// non-blank strings; anything else (HTML, malformed JSON, an array) gives only the status.
/// All text passes through [`server_text`].
///
/// ```
/// use safire_core::protocol::parse_oauth_error;
/// let body = br#"{"error":"invalid_grant","error_description":"Authorization code has expired"}"#;
/// let fields = parse_oauth_error(400, body);
/// assert_eq!(fields.status, Some(400));
/// assert_eq!(fields.error_code.as_deref(), Some("invalid_grant"));
///
/// let html = parse_oauth_error(502, b"<html>Bad Gateway</html>");
/// assert_eq!(html.error_code, None);
/// assert_eq!(html.status, Some(502));
/// ```
pub fn parse_oauth_error(status: u16, body: &[u8]) -> OAuthErrorFields {
    match parse_object(body) {
        Some(map) => oauth_error_from_object(status, &map),
        None => OAuthErrorFields {
            status: Some(status),
            ..OAuthErrorFields::default()
        },
    }
}

/// OAuth error fields from an already parsed JSON object (see [`parse_oauth_error`]).
///
/// ```
/// use safire_core::protocol::oauth_error_from_object;
/// let map = serde_json::json!({"error": "invalid_client", "error_uri": 7});
/// let fields = oauth_error_from_object(200, map.as_object().unwrap());
/// assert_eq!(fields.error_code.as_deref(), Some("invalid_client"));
/// assert_eq!(fields.error_uri, None);
/// ```
pub fn oauth_error_from_object(status: u16, map: &Map<String, Value>) -> OAuthErrorFields {
    OAuthErrorFields {
        status: Some(status),
        error_code: text(map, "error"),
        error_description: text(map, "error_description"),
        error_uri: text(map, "error_uri"),
    }
}

/// [`parse_oauth_error`] for a response to a request that carried `secrets` (the token being
/// introspected or revoked, a registration access token): every exact occurrence of one in
/// the server's text is replaced with `[REDACTED]` before the text is cleaned and cut, so an
/// echoing server cannot put them into an error.
pub(crate) fn parse_oauth_error_scrubbed(
    status: u16,
    body: &[u8],
    secrets: &[&str],
) -> OAuthErrorFields {
    match parse_object(body) {
        Some(map) => oauth_error_from_object_scrubbed(status, map, secrets),
        None => OAuthErrorFields {
            status: Some(status),
            ..OAuthErrorFields::default()
        },
    }
}

/// [`oauth_error_from_object`] with `secrets` scrubbed (see [`parse_oauth_error_scrubbed`]).
pub(crate) fn oauth_error_from_object_scrubbed(
    status: u16,
    mut map: Map<String, Value>,
    secrets: &[&str],
) -> OAuthErrorFields {
    for key in ["error", "error_description", "error_uri"] {
        if let Some(Value::String(text)) = map.get_mut(key) {
            *text = scrub(text, secrets);
        }
    }
    oauth_error_from_object(status, &map)
}

/// `text` with every exact occurrence of a non-empty secret replaced by `[REDACTED]`.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if out.contains(secret) {
            out = out.replace(secret, crate::secret::REDACTED);
        }
    }
    out
}

/// [`field_names`](crate::json::field_names) with `secrets` scrubbed from the names first
/// (a hostile server could send a secret as a member name).
pub(crate) fn field_names_scrubbed(map: &Map<String, Value>, secrets: &[&str]) -> Vec<String> {
    let named = |key: &String| secrets.iter().any(|s| !s.is_empty() && key.contains(s));
    if map.keys().any(named) {
        let scrubbed: Map<String, Value> = map
            .keys()
            .map(|key| (scrub(key, secrets), Value::Null))
            .collect();
        crate::json::field_names(&scrubbed)
    } else {
        crate::json::field_names(map)
    }
}

/// True when the object carries an OAuth `error` member (anything but absent or `null`).
pub(crate) fn has_error_member(map: &Map<String, Value>) -> bool {
    map.get("error").is_some_and(|v| !v.is_null())
}

/// A cleaned string member; absent when it is blank once control characters are gone.
fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key) {
        Some(Value::String(s)) => Some(server_text(s)).filter(|t| !t.trim().is_empty()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_regression_blank_after_cleaning_is_absent() {
        // Found by fuzz target oauth_error (fuzz/regressions/oauth_error/blank-after-cleaning):
        // control characters only are not whitespace, so the member passed the blank check and
        // became a blank error code once cleaned.
        let f = parse_oauth_error(
            400,
            br#"{"error":"\u0007","error_description":"\u007f\u007f"}"#,
        );
        assert_eq!(f.error_code, None);
        assert_eq!(f.error_description, None);
        assert_eq!(f.status, Some(400));
    }

    #[test]
    fn full_error_body() {
        let f = parse_oauth_error(
            400,
            br#"{"error":"invalid_redirect_uri","error_description":"Redirect URI must use HTTPS","error_uri":"https://as.example/errors#redirect"}"#,
        );
        assert_eq!(
            f,
            OAuthErrorFields {
                status: Some(400),
                error_code: Some("invalid_redirect_uri".into()),
                error_description: Some("Redirect URI must use HTTPS".into()),
                error_uri: Some("https://as.example/errors#redirect".into()),
            }
        );
    }

    #[test]
    fn unusable_bodies_give_status_only() {
        let unusable = crate::json::unusable_bodies();
        for body in unusable.iter().map(Vec::as_slice).chain([
            &b"[{\"error\":\"x\"}]"[..],
            b"<html><h1>500 Internal Server Error</h1></html>",
            b"{\"error\":",
            b"\xff\xfe\xfd",
        ]) {
            assert_eq!(
                parse_oauth_error(500, body),
                OAuthErrorFields {
                    status: Some(500),
                    ..Default::default()
                }
            );
        }
    }

    #[test]
    fn non_string_and_blank_members_are_ignored() {
        let f = parse_oauth_error(401, br#"{"error":{"code":1},"error_description":"   "}"#);
        assert_eq!(f.error_code, None);
        assert_eq!(f.error_description, None);
    }

    #[test]
    fn text_is_cleaned_and_bounded() {
        let long = "x".repeat(5000);
        let body = format!(r#"{{"error":"bad\u0007code","error_description":"{long}"}}"#);
        let f = parse_oauth_error(400, body.as_bytes());
        assert_eq!(f.error_code.as_deref(), Some("bad code"));
        assert!(f.error_description.unwrap().chars().count() <= 301);
    }

    #[test]
    fn secrets_are_scrubbed_before_cleaning_and_cutting() {
        let token = "tok-SECRET-1234567890";
        let padding = "x".repeat(290);
        let body = format!(
            r#"{{"error":"invalid_{token}","error_description":"{padding}{token}","error_uri":"https://as.example/e?t={token}"}}"#
        );
        let f = parse_oauth_error_scrubbed(400, body.as_bytes(), &[token, ""]);
        let shown = format!("{f:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert_eq!(f.error_code.as_deref(), Some("invalid_[REDACTED]"));
        // Cut after scrubbing: no prefix of the token survives the 300-character cut.
        assert!(!f.error_description.unwrap().contains("tok-"));
        assert_eq!(scrub("abc", &[""]), "abc");
        assert_eq!(
            parse_oauth_error_scrubbed(502, b"<html>", &[token]),
            parse_oauth_error(502, b"<html>")
        );
    }

    #[test]
    fn error_member_detection() {
        let m = parse_object(br#"{"error":null}"#).unwrap();
        assert!(!has_error_member(&m));
        let m = parse_object(br#"{"error":5}"#).unwrap();
        assert!(has_error_member(&m));
    }
}
