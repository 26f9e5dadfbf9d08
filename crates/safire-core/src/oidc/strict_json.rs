//! JSON for JOSE: an object, nesting bounded, and **duplicate members refused** at every depth
//! (RFC 7515 §4 and RFC 7517 §4 allow parsers to refuse them; two readers picking different
//! duplicates is a classic signature-bypass shape, so Safire refuses).

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Deepest nesting accepted in a JOSE header or claim set (they are flat in practice).
const MAX_DEPTH: usize = 64;

/// Why bytes are not a strict JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrictJsonError {
    /// Some object has the same member name twice (after unescaping).
    Duplicate,
    /// Not JSON, not an object, not UTF-8, or nested deeper than [`MAX_DEPTH`].
    Malformed,
}

/// Parses `bytes` into a JSON object, refusing duplicate member names anywhere.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, StrictJsonError> {
    let duplicate = Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Seed {
        depth: 0,
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|value| de.end().map(|()| value));
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(StrictJsonError::Malformed),
        Err(_) if duplicate.get() => Err(StrictJsonError::Duplicate),
        Err(_) => Err(StrictJsonError::Malformed),
    }
}

#[derive(Clone, Copy)]
struct Seed<'a> {
    depth: usize,
    duplicate: &'a Cell<bool>,
}

impl Seed<'_> {
    fn container<E: de::Error>(self) -> Result<Self, E> {
        let depth = self.depth.saturating_add(1);
        if depth > MAX_DEPTH {
            Err(E::custom("nesting too deep"))
        } else {
            Ok(Seed { depth, ..self })
        }
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
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

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.container()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let inner = self.container()?;
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                self.duplicate.set(true);
                return Err(de::Error::custom("duplicate member"));
            }
            let value = access.next_value_seed(inner)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_refused_at_every_depth() {
        assert!(parse_object(br#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_ok());
        for dup in [
            &br#"{"a":1,"a":1}"#[..],
            br#"{"a":1,"\u0061":2}"#,
            br#"{"x":{"a":1,"a":2}}"#,
            br#"{"x":[{"k":1},{"k":1,"k":2}]}"#,
        ] {
            assert_eq!(parse_object(dup), Err(StrictJsonError::Duplicate));
        }
    }

    #[test]
    fn malformed_refused() {
        let unusable = crate::json::unusable_bodies();
        let bom = b"\xEF\xBB\xBF{}";
        let strict = [&b"1"[..], bom, b"{\"a\":\"\\ud800\"}", b"{\"a\":1e400}"];
        for bad in unusable.iter().map(Vec::as_slice).chain(strict) {
            assert_eq!(parse_object(bad), Err(StrictJsonError::Malformed));
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(64), "]".repeat(64));
        assert_eq!(
            parse_object(deep.as_bytes()),
            Err(StrictJsonError::Malformed)
        );
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(63), "]".repeat(63));
        assert!(parse_object(ok.as_bytes()).is_ok());
    }

    #[test]
    fn same_values_as_serde_json() {
        let body =
            br#"{"a":-0,"b":1.5,"c":18446744073709551615,"d":-9,"e":null,"f":true,"g":"\u00e9"}"#;
        let expected: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(Value::Object(parse_object(body).unwrap()), expected);
    }
}
