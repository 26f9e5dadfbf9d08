//! STUB.
use crate::error::{OAuthErrorFields, TokenError};
use crate::secret::SecretString;
use std::time::SystemTime;
/// stub
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFlowKind {
    /** a */
    AppLaunch,
    /** b */
    Refresh,
    /** c */
    BackendServices,
}
/// stub
#[derive(Debug, Clone)]
pub struct TokenResponse {
    /// stub
    pub access_token: SecretString,
    /// stub
    pub refresh_token: Option<SecretString>,
    /// stub
    pub scope: Option<String>,
    /// stub
    pub patient: Option<String>,
    /// stub
    pub findings: Vec<String>,
}
impl TokenResponse {
    /// stub
    pub fn parse(status: u16, body: &[u8], _at: SystemTime) -> Result<Self, TokenError> {
        let map = crate::json::parse_object(body).ok_or(TokenError {
            oauth: OAuthErrorFields {
                status: Some(status),
                ..Default::default()
            },
            received_fields: vec![],
            detail: Some("response is not a JSON object".into()),
        })?;
        let s = |k: &str| map.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        Ok(Self {
            access_token: SecretString::new(s("access_token").unwrap_or_default()),
            refresh_token: s("refresh_token").map(SecretString::new),
            scope: s("scope"),
            patient: s("patient"),
            findings: vec![],
        })
    }
    /// stub
    pub fn compliance_findings(&self, _k: TokenFlowKind) -> Vec<String> {
        vec![]
    }
}
