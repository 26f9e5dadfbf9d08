//! Turning untrusted response bytes into a JSON object, safely.
//!
//! Every response parser starts here. Servers send discovery documents and registration
//! responses with wrong or missing content types, so the bytes are parsed whatever the
//! `Content-Type` says; anything but a JSON object is refused.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::server_text;

/// Deepest nesting of arrays and objects accepted (the top-level object counts as 1).
pub(crate) const MAX_DEPTH: usize = 64;

/// Most field names copied into an error's `received_fields`.
pub(crate) const MAX_FIELD_NAMES: usize = 64;

/// Parses bytes into a JSON object; `None` for anything else.
///
/// Refused: arrays, scalars, `null`, empty or malformed input, invalid UTF-8, lone surrogate
/// escapes, numbers out of `f64` range, and nesting deeper than [`MAX_DEPTH`]. A leading UTF-8
/// byte order mark is skipped. Duplicate keys keep the last value. The size of `body` is the
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
    match parse_value(strip_bom(body))? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

/// `serde_json::from_slice::<Value>`, refusing nesting deeper than [`MAX_DEPTH`] while it
/// parses (no separate pass over the bytes).
fn parse_value(body: &[u8]) -> Option<Value> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = ValueSeed(0).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

/// Builds a [`Value`] exactly as `Value`'s own `Deserialize` does, but refuses arrays and
/// objects nested deeper than [`MAX_DEPTH`]. The number is how many arrays and objects
/// enclose the value (the top-level object's members are at 1).
#[derive(Clone, Copy)]
pub(crate) struct ValueSeed(pub(crate) usize);

impl ValueSeed {
    /// The depth of an array or object read here, or an error past [`MAX_DEPTH`].
    fn container<E: de::Error>(self) -> Result<usize, E> {
        let depth = self.0.saturating_add(1);
        if depth > MAX_DEPTH {
            Err(E::custom("nesting too deep"))
        } else {
            Ok(depth)
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = ValueSeed(self.container()?);
        let mut vec = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            vec.push(item);
        }
        Ok(Value::Array(vec))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let inner = ValueSeed(self.container()?);
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(inner)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// A top-level JSON object split into the members a parser knows (by index, `N` of them)
/// and the rest. What [`parse_object`] gives, without building a map for known members.
pub(crate) struct Fields<const N: usize> {
    /// Known members by index; `Some(Value::Null)` for a member sent as `null`.
    known: [Option<Value>; N],
    /// Every other member.
    pub(crate) extra: Map<String, Value>,
}

/// Which known member a key names: `Some(index < N)`, or `None`.
pub(crate) type KeyIndex = fn(&str) -> Option<usize>;

impl<const N: usize> Fields<N> {
    fn new() -> Self {
        Fields {
            known: std::array::from_fn(|_| None),
            extra: Map::new(),
        }
    }

    /// Parses `body` like [`parse_object`] (same refusals, duplicate keys keep the last value).
    pub(crate) fn parse(body: &[u8], index: KeyIndex) -> Option<Self> {
        let mut de = serde_json::Deserializer::from_slice(strip_bom(body));
        let fields = de.deserialize_map(FieldsVisitor::<N>(index)).ok()?;
        de.end().ok()?;
        Some(fields)
    }

    /// Splits an already parsed object.
    pub(crate) fn from_map(map: Map<String, Value>, index: KeyIndex) -> Self {
        let mut fields = Self::new();
        for (key, value) in map {
            fields.put(index, key, value);
        }
        fields
    }

    fn put(&mut self, index: KeyIndex, key: String, value: Value) {
        match index(&key).and_then(|i| self.known.get_mut(i)) {
            Some(slot) => *slot = Some(value),
            None => {
                self.extra.insert(key, value);
            }
        }
    }

    /// The whole object again; `names` are the known members' names by index.
    pub(crate) fn into_map(self, names: &[&str; N]) -> Map<String, Value> {
        let mut map = self.extra;
        for (name, value) in names.iter().zip(self.known) {
            if let Some(value) = value {
                map.insert((*name).to_owned(), value);
            }
        }
        map
    }

    /// Moves out known member `i` as sent (`null` included).
    pub(crate) fn take_raw(&mut self, i: usize) -> Option<Value> {
        self.known.get_mut(i).and_then(Option::take)
    }

    /// Puts back what [`take_raw`](Self::take_raw) moved out.
    pub(crate) fn put_back(&mut self, i: usize, value: Value) {
        if let Some(slot) = self.known.get_mut(i) {
            *slot = Some(value);
        }
    }

    /// Moves out known member `i`; `None` when absent or `null`.
    pub(crate) fn take(&mut self, i: usize) -> Option<Value> {
        match self.known.get_mut(i).and_then(Option::take) {
            None | Some(Value::Null) => None,
            Some(value) => Some(value),
        }
    }
}

struct FieldsVisitor<const N: usize>(KeyIndex);

impl<'de, const N: usize> Visitor<'de> for FieldsVisitor<N> {
    type Value = Fields<N>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Fields<N>, A::Error> {
        let mut fields = Fields::new();
        let inner = ValueSeed(1);
        while let Some(key) = access.next_key_seed(KeySeed(self.0))? {
            let value = access.next_value_seed(inner)?;
            match key {
                Key::Known(i) => match fields.known.get_mut(i) {
                    Some(slot) => *slot = Some(value),
                    None => return Err(de::Error::custom("bad key index")),
                },
                Key::Other(key) => {
                    fields.extra.insert(key, value);
                }
            }
        }
        Ok(fields)
    }
}

enum Key {
    Known(usize),
    Other(String),
}

/// Reads a member name without allocating when it is a known one.
struct KeySeed(KeyIndex);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Key, E> {
        Ok(match (self.0)(key) {
            Some(i) => Key::Known(i),
            None => Key::Other(key.to_owned()),
        })
    }

    fn visit_string<E>(self, key: String) -> Result<Key, E> {
        Ok(match (self.0)(&key) {
            Some(i) => Key::Known(i),
            None => Key::Other(key),
        })
    }
}

/// The field names of `map`, sorted, cleaned with [`server_text`] and capped at
/// [`MAX_FIELD_NAMES`]: what an error may say about a body it could not use (never values).
///
/// ```
/// use safire_core::protocol::{field_names, parse_object};
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

/// True when no array or object in `body` nests deeper than `max` (strings are skipped): the
/// separate pass [`parse_object`] used to make, kept as the tests' reference.
#[cfg(test)]
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

/// [`string_array`] without copying: the strings of an array of strings, or the value back.
pub(crate) fn into_string_array(value: Value) -> Result<Vec<String>, Value> {
    match value {
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(items
            .into_iter()
            .filter_map(|item| match item {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect()),
        other => Err(other),
    }
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

    /// What `parse_object` did before it tracked depth while parsing: a separate pass, then
    /// `serde_json::from_slice`.
    fn reference(body: &[u8]) -> Option<Map<String, Value>> {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        if !nesting_within(body, MAX_DEPTH) {
            return None;
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        }
    }

    fn index(key: &str) -> Option<usize> {
        ["access_token", "scope", "fhirContext", "capabilities"]
            .iter()
            .position(|k| *k == key)
    }
    const NAMES: [&str; 4] = ["access_token", "scope", "fhirContext", "capabilities"];

    fn check_same(body: &[u8]) {
        let expected = reference(body);
        assert_eq!(
            parse_object(body),
            expected,
            "{:?}",
            String::from_utf8_lossy(body)
        );
        let fields = Fields::<4>::parse(body, index).map(|f| f.into_map(&NAMES));
        assert_eq!(fields, expected, "{:?}", String::from_utf8_lossy(body));
        if let Some(map) = expected {
            let split = Fields::<4>::from_map(map.clone(), index);
            assert_eq!(split.into_map(&NAMES), map);
        }
    }

    #[test]
    fn property_same_as_separate_depth_pass() {
        let mut g = testgen::Gen::new(11);
        for _ in 0..5000 {
            let mut body = g.body(&["access_token", "scope"]);
            if g.next().is_multiple_of(4) {
                body.splice(0..0, b"\xEF\xBB\xBF".iter().copied());
            }
            check_same(&body);
        }
        for depth in 60..=68 {
            for (open, close) in [("[", "]"), ("{\"k\":", "}")] {
                let inner = format!("{}1{}", open.repeat(depth), close.repeat(depth));
                check_same(format!("{{\"scope\":{inner}}}").as_bytes());
                check_same(format!("{{\"x\":{inner}}}").as_bytes());
                check_same(format!("{{\"x\":[\"]\",{inner}]}}").as_bytes());
                check_same(format!("{{\"x\":{inner}").as_bytes());
                check_same(format!("{inner} {{}}").as_bytes());
            }
            let arrays = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
            check_same(arrays.as_bytes());
        }
        for body in [
            &br#"{"scope":null,"scope":"a","x":1,"x":{"y":[]}}"#[..],
            br#"{"sc\u006fpe":"escaped key","access_token":"t"}"#,
            b"{\"a\":1} x",
            b"{\"a\":1}\n\t ",
            b"\xEF\xBB\xBF\xEF\xBB\xBF{}",
            b"{\"a\":-0,\"b\":-0.0,\"c\":1e-400,\"d\":18446744073709551616}",
        ] {
            check_same(body);
        }
    }

    #[test]
    fn depth_limit_counts_arrays() {
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(63), "]".repeat(63));
        assert!(parse_object(ok.as_bytes()).is_some());
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(64), "]".repeat(64));
        assert!(parse_object(deep.as_bytes()).is_none());
        assert!(Fields::<4>::parse(deep.as_bytes(), index).is_none());
        assert!(Fields::<4>::parse(ok.as_bytes(), index).is_some());
    }

    #[test]
    fn into_string_array_moves_or_gives_back() {
        use serde_json::json;
        assert_eq!(
            into_string_array(json!(["a", "b"])),
            Ok(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(into_string_array(json!([])), Ok(vec![]));
        assert_eq!(into_string_array(json!(["a", 1])), Err(json!(["a", 1])));
        assert_eq!(into_string_array(json!("a")), Err(json!("a")));
        for v in [
            json!(["a", "b"]),
            json!(["a", null]),
            json!({}),
            json!(null),
        ] {
            assert_eq!(into_string_array(v.clone()).ok(), string_array(&v));
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
