//! STUB (replaced by the parsers module).
use serde_json::{Map, Value};
/// Parses a JSON object.
pub fn parse_object(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}
