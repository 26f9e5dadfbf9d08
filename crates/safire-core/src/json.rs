//! Turning untrusted response bytes into a JSON object, safely.
//!
//! Every response parser starts here. Servers send discovery documents and registration
//! responses with wrong or missing content types, so the bytes are parsed whatever the
//! `Content-Type` says; anything but a JSON object is refused.

use serde_json::{Map, Value};

use crate::error::server_text;

/// Deepest nesting of arrays and objects accepted (the top-level object counts as 1).
pub const MAX_DEPTH: usize = 64;

/// Most field names copied into an error's `received_fields`.
pub const MAX_FIELD_NAMES: usize = 64;

/// Parses bytes into a JSON object; `None` for anything else.
///
/// Refused: arrays, scalars, `null`, empty or malformed input, invalid UTF-8, lone surrogate
/// escapes, numbers out of `f64` range, and nesting deeper than [`MAX_DEPTH`]. A leading UTF-8
/// byte order mark is skipped. Duplicate keys keep the last value. The size of `body` is the
/// transport's to cap.
///
/// ```
/// use safire_core::json::parse_object;
/// let obj = parse_object(br#"{"token_endpoint": "https://ehr.example/token"}"#).unwrap();
/// assert_eq!(obj["token_endpoint"], "https://ehr.example/token");
/// assert!(parse_object(b"[1, 2]").is_none());
/// assert!(parse_object(b"<html>oops</html>").is_none());
/// ```
pub fn parse_object(body: &[u8]) -> Option<Map<String, Value>> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if !nesting_within(body, MAX_DEPTH) {
        return None;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// The field names of `map`, sorted, cleaned with [`server_text`] and capped at
/// [`MAX_FIELD_NAMES`]: what an error may say about a body it could not use (never values).
///
/// ```
/// use safire_core::json::{field_names, parse_object};
/// let obj = parse_object(br#"{"token_type": "Bearer", "expires_in": 3600}"#).unwrap();
/// assert_eq!(field_names(&obj), ["expires_in", "token_type"]);
/// ```
pub fn field_names(map: &Map<String, Value>) -> Vec<String> {
    let mut names: Vec<&String> = map.keys().collect();
    names.sort();
    names
        .into_iter()
        .take(MAX_FIELD_NAMES)
        .map(|name| server_text(name))
        .collect()
}

/// True when no array or object in `body` nests deeper than `max` (strings are skipped).
///
/// Runs before the real parser so that a hostile body is refused in one linear pass.
fn nesting_within(body: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// The JSON type name of a value, for findings.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A string array, or `None` when `value` is not an array of strings.
pub(crate) fn string_array(value: &Value) -> Option<Vec<String>> {
    let Value::Array(items) = value else {
        return None;
    };
    items
        .iter()
        .map(|item| item.as_str().map(str::to_owned))
        .collect()
}

/// A non-negative integer from a JSON number or a numeric string, with a note saying how
/// sloppy the form was. `Err` carries what was wrong.
pub(crate) enum LenientInt {
    /// A JSON integer: fine.
    Exact(u64),
    /// A numeric string such as `"3600"`.
    FromString(u64),
    /// A JSON float with no fractional part such as `3600.0`.
    FromFloat(u64),
    /// Anything else; the text says what it was.
    Invalid(&'static str),
}

/// Largest float that converts to `u64` exactly enough (2^53).
const MAX_SAFE_FLOAT: f64 = 9_007_199_254_740_992.0;

pub(crate) fn lenient_u64(value: &Value) -> LenientInt {
    match value {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                LenientInt::Exact(u)
            } else if n.is_i64() {
                LenientInt::Invalid("a negative number")
            } else {
                match n.as_f64() {
                    Some(f) if f.is_finite() && f >= 0.0 && f.fract() == 0.0 => {
                        if f <= MAX_SAFE_FLOAT {
                            // In range and integral, so the conversion is exact.
                            LenientInt::FromFloat(f as u64)
                        } else {
                            LenientInt::Invalid("a number too large to be exact")
                        }
                    }
                    Some(f) if f < 0.0 => LenientInt::Invalid("a negative number"),
                    _ => LenientInt::Invalid("a number with a fractional part"),
                }
            }
        }
        Value::String(s) => match s.trim().parse::<u64>() {
            Ok(u) if !s.trim().starts_with('+') => LenientInt::FromString(u),
            _ => LenientInt::Invalid("a string that is not a non-negative integer"),
        },
        other => LenientInt::Invalid(type_name(other)),
    }
}

/// Random JSON for the property tests: server-shaped objects with known field names, hostile
/// scalars and nesting, deterministic per seed.
#[cfg(test)]
pub(crate) mod testgen {
    use serde_json::{Map, Number, Value};

    const KEYS: [&str; 40] = [
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "refresh_token",
        "id_token",
        "patient",
        "encounter",
        "fhirContext",
        "need_patient_banner",
        "smart_style_url",
        "intent",
        "tenant",
        "authorization_details",
        "expires_at",
        "findings",
        "extra",
        "error",
        "error_description",
        "client_id",
        "client_secret",
        "registration_access_token",
        "client_id_issued_at",
        "client_secret_expires_at",
        "redirect_uris",
        "grant_types",
        "jwks",
        "issuer",
        "capabilities",
        "token_endpoint",
        "associated_endpoints",
        "code_challenge_methods_supported",
        "token_endpoint_auth_signing_alg_values_supported",
        "reference",
        "canonical",
        "identifier",
        "type",
        "role",
        "url",
        "x-vendor",
    ];
    const STRINGS: [&str; 14] = [
        "",
        "  ",
        "Bearer",
        "bearer",
        "BEARER",
        "3600",
        "-1",
        "launch patient/*.rs",
        "S256",
        "plain",
        "https://ehr.example/token",
        "http://127.0.0.1/x",
        "\u{0}\u{7}\n",
        "é✓😀",
    ];

    pub(crate) struct Gen(u64);

    impl Gen {
        pub(crate) fn new(seed: u64) -> Self {
            Gen(seed)
        }

        pub(crate) fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> usize {
            (self.next() % n) as usize
        }

        fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
            list[self.below(list.len() as u64)]
        }

        pub(crate) fn value(&mut self, depth: usize) -> Value {
            let kinds = if depth == 0 { 7 } else { 9 };
            match self.below(kinds) {
                0 => Value::Null,
                1 => Value::Bool(self.next().is_multiple_of(2)),
                2 => Value::from(self.next() >> self.below(64)),
                3 => Value::from(-((self.next() >> 2) as i64)),
                4 => {
                    let f = f64::from_bits(self.next());
                    Number::from_f64(f).map_or(Value::Null, Value::Number)
                }
                5 | 6 => Value::from(self.pick(&STRINGS)),
                7 => Value::Array((0..self.below(4)).map(|_| self.value(depth - 1)).collect()),
                _ => Value::Object(self.object(depth - 1)),
            }
        }

        pub(crate) fn object(&mut self, depth: usize) -> Map<String, Value> {
            let mut map = Map::new();
            for _ in 0..self.below(8) {
                let key = self.pick(&KEYS).to_owned();
                let value = self.value(depth);
                map.insert(key, value);
            }
            map
        }

        /// A body: usually an object with the given must-have string members, sometimes
        /// mutated bytes.
        pub(crate) fn body(&mut self, must_have: &[&str]) -> Vec<u8> {
            let mut map = self.object(4);
            for key in must_have {
                if self.below(8) != 0 {
                    map.insert((*key).to_owned(), Value::from(format!("v{}", self.next())));
                }
            }
            let mut bytes = serde_json::to_vec(&Value::Object(map)).unwrap_or_default();
            if self.below(6) == 0 && !bytes.is_empty() {
                for _ in 0..=self.below(4) {
                    let i = self.below(bytes.len() as u64);
                    bytes[i] = self.next() as u8;
                }
            }
            bytes
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_objects_only() {
        assert!(parse_object(br#"{}"#).is_some());
        assert!(parse_object(b" \n{\"a\":1}\n ").is_some());
        for bad in [
            &b""[..],
            b"   ",
            b"null",
            b"[]",
            b"\"str\"",
            b"42",
            b"true",
            b"{",
            b"{\"a\":}",
            b"{} {}",
            b"<html><body>500</body></html>",
        ] {
            assert!(
                parse_object(bad).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn skips_bom() {
        assert!(parse_object(b"\xEF\xBB\xBF{\"a\":1}").is_some());
    }

    #[test]
    fn depth_limit() {
        let ok = format!("{}{}{}", "{\"a\":".repeat(63), "{}", "}".repeat(63));
        assert!(parse_object(ok.as_bytes()).is_some());
        let deep = format!("{}{}{}", "{\"a\":".repeat(64), "{}", "}".repeat(64));
        assert!(parse_object(deep.as_bytes()).is_none());
        let brackets = format!("{{\"a\":{}", "[".repeat(10_000));
        assert!(parse_object(brackets.as_bytes()).is_none());
        let closed = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_object(closed.as_bytes()).is_none());
        // Brackets inside strings do not count.
        let in_string = format!("{{\"a\":\"{}\"}}", "[".repeat(10_000));
        assert!(parse_object(in_string.as_bytes()).is_some());
        let escaped = format!("{{\"a\":\"\\\"{}\"}}", "[".repeat(100));
        assert!(parse_object(escaped.as_bytes()).is_some());
    }

    #[test]
    fn hostile_scalars() {
        assert!(parse_object(b"{\"a\":1e400}").is_none());
        assert!(parse_object(b"{\"a\":-1e400}").is_none());
        let big = parse_object(b"{\"a\":123456789012345678901234567890}").unwrap();
        assert!(big["a"].is_f64());
        assert!(parse_object(b"{\"a\":\"\xff\xfe\"}").is_none());
        assert!(parse_object(b"{\"a\":\"\\ud800\"}").is_none());
        assert!(parse_object(b"{\"a\":NaN}").is_none());
    }

    #[test]
    fn duplicate_keys_keep_last() {
        let obj = parse_object(br#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(obj["a"], 2);
    }

    #[test]
    fn field_names_are_sorted_cleaned_and_capped() {
        let obj = parse_object(b"{\"z\":1,\"a\\nb\":2}").unwrap();
        assert_eq!(field_names(&obj), ["a b", "z"]);
        let many: Map<String, Value> = (0..1000)
            .map(|i| (format!("k{i:04}"), Value::Null))
            .collect();
        assert_eq!(field_names(&many).len(), MAX_FIELD_NAMES);
    }

    #[test]
    fn lenient_integers() {
        use serde_json::json;
        assert!(matches!(lenient_u64(&json!(3600)), LenientInt::Exact(3600)));
        assert!(matches!(
            lenient_u64(&json!("3600")),
            LenientInt::FromString(3600)
        ));
        assert!(matches!(
            lenient_u64(&json!(" 60 ")),
            LenientInt::FromString(60)
        ));
        assert!(matches!(
            lenient_u64(&json!(3600.0)),
            LenientInt::FromFloat(3600)
        ));
        assert!(matches!(lenient_u64(&json!(-1)), LenientInt::Invalid(_)));
        assert!(matches!(lenient_u64(&json!(-1.0)), LenientInt::Invalid(_)));
        assert!(matches!(lenient_u64(&json!(1.5)), LenientInt::Invalid(_)));
        assert!(matches!(lenient_u64(&json!(1e300)), LenientInt::Invalid(_)));
        assert!(matches!(lenient_u64(&json!("+5")), LenientInt::Invalid(_)));
        assert!(matches!(
            lenient_u64(&json!("99999999999999999999999")),
            LenientInt::Invalid(_)
        ));
        assert!(matches!(
            lenient_u64(&json!(true)),
            LenientInt::Invalid("boolean")
        ));
    }
}
