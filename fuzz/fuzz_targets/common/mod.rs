//! Helpers shared by the fuzz targets (each target includes this file with `mod common;`).
#![allow(dead_code)]

use safire_core::OAuthErrorFields;
use serde_json::{Map, Value};

/// Splits an optional status line off the input: `"<digits>\n<body>"` gives the number
/// (truncated to u16) and the rest; anything else is status `default` with the whole input as
/// body. Keeps seeds human-readable (`201\n{"client_id":...}`).
pub fn split_status(data: &[u8], default: u16) -> (u16, &[u8]) {
    let digits = data
        .iter()
        .take(6)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if (1..=5).contains(&digits) && data.get(digits) == Some(&b'\n') {
        let n: u32 = std::str::from_utf8(&data[..digits])
            .unwrap()
            .parse()
            .unwrap();
        (n as u16, &data[digits + 1..])
    } else {
        (default, data)
    }
}

/// Every string in a JSON value: keys and string values, recursively.
pub fn collect_strings<'a>(value: &'a Value, keys: &mut Vec<&'a str>, values: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => values.push(s),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, keys, values)),
        Value::Object(map) => collect_map(map, keys, values),
        _ => {}
    }
}

pub fn collect_map<'a>(
    map: &'a Map<String, Value>,
    keys: &mut Vec<&'a str>,
    values: &mut Vec<&'a str>,
) {
    for (k, v) in map {
        keys.push(k);
        collect_strings(v, keys, values);
    }
}

/// True when the text has no control characters (what `server_text` promises).
pub fn clean(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// `server_text`'s bound: at most 300 characters plus one ellipsis.
pub fn bounded(text: &str) -> bool {
    let n = text.chars().count();
    n <= 300 || (n == 301 && text.ends_with('…'))
}

/// The server's texts an error keeps (`error`, `error_description`, `error_uri`) are bounded
/// and free of control characters.
pub fn assert_server_texts(oauth: &OAuthErrorFields) {
    for text in [
        &oauth.error_code,
        &oauth.error_description,
        &oauth.error_uri,
    ]
    .into_iter()
    .flatten()
    {
        assert!(bounded(text) && clean(text), "{text:?}");
    }
}

/// What every endpoint error keeps, whatever the body: the status it came with (a non-2xx
/// error names no fields), [`assert_server_texts`], and `received_fields` exactly the sorted,
/// cleaned names of the body's members, never values. With `secrets` the names may be
/// scrubbed, so only their presence is checked.
pub fn check_endpoint_error(
    oauth: &OAuthErrorFields,
    received_fields: &[String],
    status: u16,
    body: &[u8],
    secrets: &[&str],
) {
    assert_eq!(oauth.status, Some(status));
    if !(200..300).contains(&status) {
        assert!(received_fields.is_empty());
    }
    assert_server_texts(oauth);
    if !received_fields.is_empty() {
        let map = model_parse_object(body).expect("names without an object");
        if secrets.is_empty() {
            assert_names_only(received_fields, &map);
        }
    }
}

/// Parses bytes the way safire's `parse_object` does for the purposes of an oracle: a JSON
/// object (after an optional BOM) or nothing. Used only to pick candidate canaries, never to
/// decide what the parser under test must accept.
pub fn loose_object(body: &[u8]) -> Option<Map<String, Value>> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// Nesting depth of a JSON value as safire counts it (a scalar is 0, `{}` is 1).
pub fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// An independent model of `safire_core::json::parse_object`: a JSON object (after one optional
/// UTF-8 BOM) nested less than 128 deep (serde_json's own recursion limit, which safire uses).
pub fn model_parse_object(body: &[u8]) -> Option<Map<String, Value>> {
    let map = loose_object(body)?;
    let d = 1 + map.values().map(depth).max().unwrap_or(0);
    (d < 128).then_some(map)
}

/// An independent model of `server_text`: control characters become spaces, at most 300
/// characters, then `…`.
pub fn model_server_text(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .take(300)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if raw.chars().count() > 300 {
        out.push('…');
    }
    out
}

/// `received_fields` says only names: sorted, at most 64, each the cleaned form of a key.
pub fn assert_names_only(received: &[String], map: &Map<String, Value>) {
    assert!(received.len() <= 64, "{} names", received.len());
    let mut cleaned: Vec<String> = map.keys().map(|k| model_server_text(k)).collect();
    cleaned.sort();
    let expected: Vec<String> = {
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        keys.into_iter()
            .take(64)
            .map(|k| model_server_text(k))
            .collect()
    };
    assert_eq!(
        received,
        &expected[..],
        "received_fields are not the sorted key names"
    );
}

/// Replaces every string value (not keys) below `map` except the top-level members named in
/// `keep` with `"<tag>-<n>"`, so that an output that does not depend on values is unchanged.
pub fn replace_values(map: &Map<String, Value>, keep: &[&str], tag: &str) -> Map<String, Value> {
    fn walk(v: &Value, tag: &str, n: &mut usize) -> Value {
        match v {
            Value::String(_) => {
                *n += 1;
                Value::String(format!("{tag}-{n}"))
            }
            Value::Array(items) => Value::Array(items.iter().map(|i| walk(i, tag, n)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), walk(v, tag, n)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let mut n = 0;
    map.iter()
        .map(|(k, v)| {
            let v = if keep.contains(&k.as_str()) {
                v.clone()
            } else {
                walk(v, tag, &mut n)
            };
            (k.clone(), v)
        })
        .collect()
}
