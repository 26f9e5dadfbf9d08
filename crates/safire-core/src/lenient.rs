//! Reading lenient JSON documents: one policy for discovery, token and registration responses.
//!
//! Each document declares its known members once, with [`document!`]: the member's name and
//! the [`Form`] it must have. The declared type deserializes in one pass over the bytes (no
//! `serde_json::Value` for the whole document) under one policy:
//!
//! - a known member of the right shape is typed ([`Read::Ok`]);
//! - `null` counts as absent ([`Read::Null`]);
//! - a known member of any other shape is kept as sent ([`Read::Wrong`]) and is absent from
//!   the typed result; what the document does with it is its own rule (discovery metadata and
//!   registered clients keep it in `extra`, a token response reports it as a finding);
//! - unknown members are kept, as sent, in `extra`;
//! - when a member is sent twice the last one wins;
//! - nesting is bounded by serde_json's own recursion limit (see [`crate::json`]).

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::json::type_name;

/// One known member as sent.
pub(crate) enum Read<T> {
    /// `null`, which counts as absent.
    Null,
    /// The expected shape, typed.
    Ok(T),
    /// Any other shape, as sent.
    Wrong(Value),
}

/// A JSON shape a known member may have, and how it is typed.
///
/// Each hook gets one JSON shape; the defaults keep the value as sent ([`Read::Wrong`]), so a
/// form overrides only the shapes it accepts. `null` never reaches a hook.
pub(crate) trait Form: Sized {
    /// What the member must be, for findings (`a string`, `an array of strings`, ...).
    const EXPECTED: &'static str;

    /// A JSON string.
    fn string(s: String) -> Read<Self> {
        Read::Wrong(Value::String(s))
    }

    /// A JSON number or boolean, as `serde_json::Value` holds it.
    fn scalar(value: Value) -> Read<Self> {
        Read::Wrong(value)
    }

    /// A JSON array; a form that accepts arrays must read all of it.
    fn seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Read<Self>, A::Error> {
        as_sent(SeqAccessDeserializer::new(seq))
    }

    /// A JSON object; a form that accepts objects must read all of it.
    fn map<'de, A: MapAccess<'de>>(map: A) -> Result<Read<Self>, A::Error> {
        as_sent(MapAccessDeserializer::new(map))
    }
}

/// The rest of a value, kept as sent.
pub(crate) fn as_sent<'de, D: Deserializer<'de>, T>(deserializer: D) -> Result<Read<T>, D::Error> {
    Value::deserialize(deserializer).map(Read::Wrong)
}

impl<'de, T: Form> Deserialize<'de> for Read<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FormVisitor(PhantomData))
    }
}

/// Hands each JSON shape to its [`Form`] hook; scalars become the `Value` serde_json's own
/// `Value` visitor would make.
struct FormVisitor<T>(PhantomData<T>);

impl<'de, T: Form> Visitor<'de> for FormVisitor<T> {
    type Value = Read<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Read<T>, E> {
        Ok(T::scalar(Value::Bool(value)))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Read<T>, E> {
        Ok(T::scalar(Value::Number(value.into())))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Read<T>, E> {
        Ok(T::scalar(Value::Number(value.into())))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Read<T>, E> {
        // `Value` turns a non-finite float into `null`; JSON text cannot hold one.
        Ok(Number::from_f64(value).map_or(Read::Null, |n| T::scalar(Value::Number(n))))
    }

    fn visit_str<E>(self, value: &str) -> Result<Read<T>, E> {
        Ok(T::string(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Read<T>, E> {
        Ok(T::string(value))
    }

    fn visit_none<E>(self) -> Result<Read<T>, E> {
        Ok(Read::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Read<T>, D::Error> {
        Read::deserialize(deserializer)
    }

    fn visit_unit<E>(self) -> Result<Read<T>, E> {
        Ok(Read::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Read<T>, A::Error> {
        T::seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Read<T>, A::Error> {
        T::map(map)
    }
}

/// A known member of a [`document!`]: its name and what was sent (`None`: not sent).
pub(crate) struct Member<T> {
    name: &'static str,
    read: Option<Read<T>>,
}

/// A known member sent with the wrong shape.
pub(crate) struct Wrong {
    /// The member's name.
    pub(crate) name: &'static str,
    /// The value as sent.
    pub(crate) value: Value,
}

impl<T: Form> Member<T> {
    /// A member not sent (yet).
    pub(crate) const fn new(name: &'static str) -> Self {
        Member { name, read: None }
    }

    /// The member's name in the document.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// Records what was sent; a later duplicate replaces an earlier one.
    pub(crate) fn set(&mut self, read: Read<T>) {
        self.read = Some(read);
    }

    /// True when the member was sent, `null` included.
    pub(crate) fn is_sent(&self) -> bool {
        self.read.is_some()
    }

    /// True when the member was not sent or was `null`.
    pub(crate) fn is_missing(&self) -> bool {
        matches!(self.read, None | Some(Read::Null))
    }

    /// The typed value, when it had the expected shape.
    pub(crate) fn value(&self) -> Option<&T> {
        match &self.read {
            Some(Read::Ok(value)) => Some(value),
            _ => None,
        }
    }

    /// The typed value (`None` when missing), or what was wrong with it.
    pub(crate) fn checked(self) -> Result<Option<T>, Wrong> {
        match self.read {
            None | Some(Read::Null) => Ok(None),
            Some(Read::Ok(value)) => Ok(Some(value)),
            Some(Read::Wrong(value)) => Err(Wrong {
                name: self.name,
                value,
            }),
        }
    }

    /// The typed value; a wrong-shaped value goes into `extra`, as sent, under the member's
    /// name (the rule of documents that keep everything the server sent).
    pub(crate) fn keep(self, extra: &mut Map<String, Value>) -> Option<T> {
        self.checked().unwrap_or_else(|wrong| {
            extra.insert(wrong.name.to_owned(), wrong.value);
            None
        })
    }
}

/// The finding text for a wrong-shaped member: one wording for every document.
pub(crate) fn wrong_type(prefix: &str, field: &str, value: &Value, expected: &str) -> String {
    format!(
        "{prefix} field '{field}' has the wrong JSON type ({}; expected {expected}) and was ignored",
        type_name(value)
    )
}

/// Declares a lenient document: a struct with one [`Member`] per known member, in declaration
/// order, plus `extra` for every other member, and its single-pass `Deserialize`.
///
/// ```text
/// document! {
///     /// The members of a discovery document.
///     struct Members {
///         issuer: String,                          // named like the field
///         fhir_context: FhirContext = "fhirContext", // or named explicitly
///     }
/// }
/// ```
///
/// Also generated: `FIELDS` (each member's name and [`Form::EXPECTED`], in declaration order),
/// `sent_names` (every member name sent, `null` included) and `Default` (nothing sent).
macro_rules! document {
    (@key $field:ident) => { stringify!($field) };
    (@key $field:ident $key:literal) => { $key };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $field:ident : $form:ty $(= $key:literal)? ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $vis $field: $crate::lenient::Member<$form>, )*
            /// Every other member, as sent.
            $vis extra: ::serde_json::Map<String, ::serde_json::Value>,
        }

        #[allow(dead_code)]
        impl $name {
            /// Each known member's name and what it must be, in declaration order.
            $vis const FIELDS: &'static [(&'static str, &'static str)] = &[
                $( (
                    $crate::lenient::document!(@key $field $($key)?),
                    <$form as $crate::lenient::Form>::EXPECTED,
                ), )*
            ];

            /// The name of every member sent (`null` included), known ones first.
            $vis fn sent_names(&self) -> Vec<&str> {
                let mut names = Vec::with_capacity(self.extra.len());
                $( if self.$field.is_sent() { names.push(self.$field.name()); } )*
                names.extend(self.extra.keys().map(String::as_str));
                names
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    $( $field: $crate::lenient::Member::new(
                        $crate::lenient::document!(@key $field $($key)?)
                    ), )*
                    extra: ::serde_json::Map::new(),
                }
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                use ::std::fmt;
                use ::serde::de::{DeserializeSeed, MapAccess, Visitor};

                #[allow(non_camel_case_types)]
                enum Key {
                    $( $field, )*
                    Other(String),
                }

                fn known(name: &str) -> Option<Key> {
                    Some(match name {
                        $( $crate::lenient::document!(@key $field $($key)?) => Key::$field, )*
                        _ => return None,
                    })
                }

                /// Reads a member name without copying it when it is a known one.
                struct KeySeed;

                impl<'de> DeserializeSeed<'de> for KeySeed {
                    type Value = Key;

                    fn deserialize<D: ::serde::Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
                        deserializer.deserialize_str(self)
                    }
                }

                impl<'de> Visitor<'de> for KeySeed {
                    type Value = Key;

                    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                        formatter.write_str("a member name")
                    }

                    fn visit_str<E>(self, name: &str) -> Result<Key, E> {
                        Ok(known(name).unwrap_or_else(|| Key::Other(name.to_owned())))
                    }

                    fn visit_string<E>(self, name: String) -> Result<Key, E> {
                        Ok(match known(&name) {
                            Some(key) => key,
                            None => Key::Other(name),
                        })
                    }
                }

                struct DocumentVisitor;

                impl<'de> Visitor<'de> for DocumentVisitor {
                    type Value = $name;

                    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                        formatter.write_str("a map")
                    }

                    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<$name, A::Error> {
                        let mut document = <$name as Default>::default();
                        while let Some(key) = access.next_key_seed(KeySeed)? {
                            match key {
                                $( Key::$field => document.$field.set(access.next_value()?), )*
                                Key::Other(name) => {
                                    let value = access.next_value()?;
                                    document.extra.insert(name, value);
                                }
                            }
                        }
                        Ok(document)
                    }
                }

                deserializer.deserialize_map(DocumentVisitor)
            }
        }
    };
}
pub(crate) use document;

impl Form for String {
    const EXPECTED: &'static str = "a string";

    fn string(s: String) -> Read<Self> {
        Read::Ok(s)
    }
}

/// An array of strings; any other element (`null` included) makes the whole array wrong.
impl Form for Vec<String> {
    const EXPECTED: &'static str = "an array of strings";

    fn seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Read<Self>, A::Error> {
        let mut strings = Vec::new();
        while let Some(item) = seq.next_element::<Read<String>>()? {
            let other = match item {
                Read::Ok(s) => {
                    strings.push(s);
                    continue;
                }
                Read::Null => Value::Null,
                Read::Wrong(value) => value,
            };
            // Not all strings: keep the array as sent, read to its end.
            let mut items: Vec<Value> = strings.into_iter().map(Value::String).collect();
            items.push(other);
            while let Some(value) = seq.next_element::<Value>()? {
                items.push(value);
            }
            return Ok(Read::Wrong(Value::Array(items)));
        }
        Ok(Read::Ok(strings))
    }
}

/// A space-separated list such as `scope`: a string, or (a liberty) an array of strings,
/// joined with spaces.
pub(crate) struct Scope {
    /// The list, space-separated.
    pub(crate) text: String,
    /// True when it was sent as an array.
    pub(crate) from_array: bool,
}

impl Form for Scope {
    const EXPECTED: &'static str = "a string";

    fn string(text: String) -> Read<Self> {
        Read::Ok(Scope {
            text,
            from_array: false,
        })
    }

    fn seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Read<Self>, A::Error> {
        Ok(match Vec::<String>::seq(seq)? {
            Read::Ok(parts) => Read::Ok(Scope {
                text: parts.join(" "),
                from_array: true,
            }),
            Read::Null => Read::Null,
            Read::Wrong(value) => Read::Wrong(value),
        })
    }
}

/// A boolean (`active`, `need_patient_banner`), or (a liberty) the string `"true"` or
/// `"false"`.
pub(crate) struct Flag {
    /// The boolean.
    pub(crate) value: bool,
    /// True when it was sent as a string.
    pub(crate) from_string: bool,
}

impl Form for Flag {
    const EXPECTED: &'static str = "a boolean";

    fn string(s: String) -> Read<Self> {
        match s.as_str() {
            "true" | "false" => Read::Ok(Flag {
                value: s == "true",
                from_string: true,
            }),
            _ => Read::Wrong(Value::String(s)),
        }
    }

    fn scalar(value: Value) -> Read<Self> {
        match value {
            Value::Bool(value) => Read::Ok(Flag {
                value,
                from_string: false,
            }),
            other => Read::Wrong(other),
        }
    }
}

/// A JSON object, as sent.
impl Form for Map<String, Value> {
    const EXPECTED: &'static str = "an object";

    fn map<'de, A: MapAccess<'de>>(map: A) -> Result<Read<Self>, A::Error> {
        Map::deserialize(MapAccessDeserializer::new(map)).map(Read::Ok)
    }
}

/// Anything but `null`, as sent.
impl Form for Value {
    const EXPECTED: &'static str = "any JSON value";

    fn string(s: String) -> Read<Self> {
        Read::Ok(Value::String(s))
    }

    fn scalar(value: Value) -> Read<Self> {
        Read::Ok(value)
    }

    fn seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Read<Self>, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Read::Ok)
    }

    fn map<'de, A: MapAccess<'de>>(map: A) -> Result<Read<Self>, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Read::Ok)
    }
}

/// A non-negative integer, and how sloppily it was sent (see [`lenient_u64`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Int {
    /// A JSON integer: fine.
    Exact(u64),
    /// A numeric string such as `"3600"`.
    FromString(u64),
    /// A JSON float with no fractional part such as `3600.0`.
    FromFloat(u64),
}

impl Int {
    /// The number, however it was sent.
    pub(crate) fn value(self) -> u64 {
        match self {
            Int::Exact(n) | Int::FromString(n) | Int::FromFloat(n) => n,
        }
    }

    fn read(value: Value) -> Read<Int> {
        match lenient_u64(&value) {
            Ok(int) => Read::Ok(int),
            Err(_) => Read::Wrong(value),
        }
    }
}

impl Form for Int {
    const EXPECTED: &'static str = "a non-negative integer";

    fn string(s: String) -> Read<Self> {
        Int::read(Value::String(s))
    }

    fn scalar(value: Value) -> Read<Self> {
        Int::read(value)
    }
}

/// Largest float that converts to `u64` exactly enough (2^53).
const MAX_SAFE_FLOAT: f64 = 9_007_199_254_740_992.0;

/// A non-negative integer from a JSON number, a numeric string or an integral float, saying
/// how sloppy the form was; `Err` says what the value was instead.
pub(crate) fn lenient_u64(value: &Value) -> Result<Int, &'static str> {
    match value {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Ok(Int::Exact(u))
            } else if n.is_i64() {
                Err("a negative number")
            } else {
                match n.as_f64() {
                    Some(f) if f.is_finite() && f >= 0.0 && f.fract() == 0.0 => {
                        if f <= MAX_SAFE_FLOAT {
                            // In range and integral, so the conversion is exact.
                            Ok(Int::FromFloat(f as u64))
                        } else {
                            Err("a number too large to be exact")
                        }
                    }
                    Some(f) if f < 0.0 => Err("a negative number"),
                    _ => Err("a number with a fractional part"),
                }
            }
        }
        Value::String(s) => match s.trim().parse::<u64>() {
            Ok(u) if !s.trim().starts_with('+') => Ok(Int::FromString(u)),
            _ => Err("a string that is not a non-negative integer"),
        },
        other => Err(type_name(other)),
    }
}

#[cfg(test)]
mod tests;
