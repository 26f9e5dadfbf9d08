//! Turning untrusted response bytes into a JSON object, safely.
//!
//! Every response parser starts here. Servers send discovery documents and registration
//! responses with wrong or missing content types, so the bytes are parsed whatever the
//! `Content-Type` says; anything but a JSON object is refused.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::server_text;

/// Most field names copied into an error's `received_fields`.
pub(crate) const MAX_FIELD_NAMES: usize = 64;

/// Parses bytes into a JSON object; `None` for anything else.
///
/// Refused: arrays, scalars, `null`, empty or malformed input, invalid UTF-8, lone surrogate
/// escapes, numbers out of `f64` range, and nesting past serde_json's recursion limit (an
/// array or object 128 levels deep, counting the top-level object as 1). A leading UTF-8 byte
/// order mark is skipped. Duplicate keys keep the last value. The size of `body` is the
/// transport's to cap.
///
/// ```
/// use safire_core::protocol::parse_object;
/// let obj = parse_object(br#"{"token_endpoint": "https://ehr.example/token"}"#).unwrap();
/// assert_eq!(obj["token_endpoint"], "https://ehr.example/token");
/// assert!(parse_object(b"[1, 2]").is_none());
/// assert!(parse_object(b"<html>oops</html>").is_none());
/// ```
pub fn parse_object(body: &[u8]) -> Option<Map<String, Value>> {
    from_body(body)
}

/// Deserializes a whole response body in one pass: [`parse_object`]'s rules (one leading
/// byte order mark skipped, nothing but whitespace after the value), any `T`.
pub(crate) fn from_body<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = T::deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

/// The field names of `map`, sorted, cleaned with [`server_text`] and capped at
/// 64 names: what an error may say about a body it could not use (never values).
///
/// ```
/// use safire_core::protocol::{field_names, parse_object};
/// let obj = parse_object(br#"{"token_type": "Bearer", "expires_in": 3600}"#).unwrap();
/// assert_eq!(field_names(&obj), ["expires_in", "token_type"]);
/// ```
pub fn field_names(map: &Map<String, Value>) -> Vec<String> {
    names(map.keys().map(String::as_str).collect())
}

/// [`field_names`] for names already gathered (each once).
pub(crate) fn names(mut names: Vec<&str>) -> Vec<String> {
    names.sort_unstable();
    names
        .into_iter()
        .take(MAX_FIELD_NAMES)
        .map(server_text)
        .collect()
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

/// Bodies that are not a usable JSON object, for every parser's "unusable body" test: empty,
/// `null`, an array, a string, a number, a truncated object, an object followed by another,
/// invalid UTF-8, and an array nested far past serde_json's recursion limit.
#[cfg(test)]
pub(crate) fn unusable_bodies() -> Vec<Vec<u8>> {
    let scalars = [&b""[..], b"null", b"[]", b"\"x\"", b"42"];
    let mut bodies: Vec<Vec<u8>> = scalars
        .into_iter()
        .chain([&b"{"[..], b"{} {}", b"\xff{}"])
        .map(<[u8]>::to_vec)
        .collect();
    bodies.push("[".repeat(10_000).into_bytes());
    bodies
}

/// Random JSON for the property tests: server-shaped objects with known field names, hostile
/// scalars and nesting, deterministic per seed.
#[cfg(test)]
pub(crate) mod testgen {
    use serde_json::{Map, Number, Value};

    /// Member names beyond the token response's own (which come first, from its
    /// declaration): stored-session names, errors, registration, discovery, `fhirContext`
    /// items, unknown ones.
    const OTHER_KEYS: [&str; 26] = [
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
    /// The member names objects are made of.
    fn keys() -> Vec<&'static str> {
        let token = crate::token_response::FIELDS.iter().map(|(name, _)| *name);
        token.chain(OTHER_KEYS).collect()
    }

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
                let key = self.pick(&keys()).to_owned();
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
mod tests;
