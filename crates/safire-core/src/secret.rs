//! Values that must never be printed: client secrets, tokens, codes, PKCE verifiers.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The text every redacted value prints as.
pub const REDACTED: &str = "[REDACTED]";

/// A string whose `Debug` and `Display` print `[REDACTED]`.
///
/// It still serializes to its real value, because applications store tokens and pending
/// authorizations in sessions; reading it in code needs the explicit [`SecretString::expose`].
///
/// ```
/// use safire_core::SecretString;
/// let secret = SecretString::new("s3cr3t");
/// assert_eq!(format!("{secret:?}"), "[REDACTED]");
/// assert_eq!(secret.expose(), "s3cr3t");
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call this only where the value must go on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is empty or only whitespace.
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = SecretString::new("canary-7f3a");
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{:?}", Some(s.clone())), "Some([REDACTED])");
    }

    #[test]
    fn serializes_real_value_for_session_storage() {
        let s = SecretString::new("canary-7f3a");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"canary-7f3a\"");
        let back: SecretString = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}
