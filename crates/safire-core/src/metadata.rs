//! STUB.
use serde_json::{Map, Value};
/// stub
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SmartMetadata {
    /// stub
    pub issuer: Option<String>,
    /// stub
    pub authorization_endpoint: Option<String>,
    /// stub
    pub token_endpoint: Option<String>,
    /// stub
    pub registration_endpoint: Option<String>,
    /// stub
    pub capabilities: Vec<String>,
    /// stub
    pub extra: Map<String, Value>,
}
impl SmartMetadata {
    /// stub
    pub fn from_json_object(map: Map<String, Value>) -> Self {
        let s = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
        Self {
            issuer: s("issuer"),
            authorization_endpoint: s("authorization_endpoint"),
            token_endpoint: s("token_endpoint"),
            registration_endpoint: s("registration_endpoint"),
            capabilities: map
                .get("capabilities")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            extra: map,
        }
    }
    /// stub
    pub fn supports_post_based_authorization(&self) -> bool {
        self.capabilities.iter().any(|c| c == "authorize-post")
    }
}
