//! STUB.
use crate::error::{OAuthErrorFields, RegistrationError};
use crate::secret::SecretString;
/// stub
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    /// stub
    pub client_id: String,
    /// stub
    pub client_secret: Option<SecretString>,
}
impl RegisteredClient {
    /// stub
    pub fn parse(status: u16, body: &[u8]) -> Result<Self, RegistrationError> {
        let map = crate::json::parse_object(body);
        let s = |k: &str| {
            map.as_ref()
                .and_then(|m| m.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        match s("client_id") {
            Some(id) if (200..300).contains(&status) => Ok(Self {
                client_id: id,
                client_secret: s("client_secret").map(SecretString::new),
            }),
            _ => Err(RegistrationError {
                oauth: crate::oauth_error::parse_oauth_error(status, body),
                received_fields: vec![],
                detail: None,
            }),
        }
    }
}
#[allow(dead_code)]
fn _f(_: OAuthErrorFields) {}
