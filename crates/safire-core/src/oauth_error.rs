//! STUB.
use crate::error::OAuthErrorFields;
/// stub
pub fn parse_oauth_error(status: u16, body: &[u8]) -> OAuthErrorFields {
    let map = crate::json::parse_object(body);
    let s = |k: &str| {
        map.as_ref()
            .and_then(|m| m.get(k))
            .and_then(|v| v.as_str())
            .map(crate::error::server_text)
    };
    OAuthErrorFields {
        status: Some(status),
        error_code: s("error"),
        error_description: s("error_description"),
        error_uri: s("error_uri"),
    }
}
