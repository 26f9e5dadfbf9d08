//! Values that must never be printed: client secrets, tokens, codes, PKCE verifiers.

use std::fmt;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The text every redacted value prints as.
pub const REDACTED: &str = "[REDACTED]";

/// A string whose `Debug` and `Display` print `[REDACTED]`.
///
/// It still serializes to its real value, because applications store tokens and pending
/// authorizations in sessions; reading it in code needs the explicit [`SecretString::expose`].
///
/// * **Equality is constant-time** in the contents (`subtle`), so comparing a received value
///   with an expected one (a `state`, a client secret) does not tell an attacker how many
///   leading bytes matched. Only the lengths are compared in the ordinary way.
/// * **Its memory is zeroed on drop** ([`ZeroizeOnDrop`]), and [`Zeroize`] wipes it on demand.
///   That covers the buffer the value lives in when it is dropped; copies made before it was
///   wrapped (the `String` it came from, if that grew) or after [`SecretString::expose`] are
///   the caller's.
///
/// ```
/// use safire_core::SecretString;
/// let secret = SecretString::new("s3cr3t");
/// assert_eq!(format!("{secret:?}"), "[REDACTED]");
/// assert_eq!(secret.expose(), "s3cr3t");
/// assert_eq!(secret, SecretString::from("s3cr3t"));
/// ```
#[derive(Clone, Serialize, Deserialize)]
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

impl PartialEq for SecretString {
    /// Constant-time in the contents; only the lengths are compared in variable time.
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SecretString {}

impl Zeroize for SecretString {
    /// Overwrites the whole buffer (spare capacity included) with zeros and leaves the secret
    /// empty.
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for SecretString {}

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

    #[test]
    fn equality_compares_the_whole_value() {
        let s = SecretString::new("state-0123456789");
        assert_eq!(s, SecretString::new("state-0123456789"));
        assert_eq!(s, s.clone());
        for other in [
            "",
            "state-012345678",
            "state-01234567890",
            "state-0123456788",
            "xtate-0123456789",
            "STATE-0123456789",
        ] {
            assert_ne!(s, SecretString::new(other), "{other:?}");
            assert_ne!(SecretString::new(other), s, "{other:?}");
        }
        assert_eq!(SecretString::new(""), SecretString::new(""));
        // Multi-byte text compares by bytes.
        assert_ne!(SecretString::new("é"), SecretString::new("e\u{301}"));
        assert_eq!(SecretString::new("ü"), SecretString::new("\u{fc}"));
    }

    #[test]
    fn zeroize_empties_the_secret_and_keeps_its_buffer() {
        let mut s = SecretString::new(String::with_capacity(64) + "canary-7f3a");
        let capacity = s.0.capacity();
        s.zeroize();
        assert_eq!(s.expose(), "");
        assert!(s.is_blank());
        // The buffer is overwritten in place, not freed and replaced by a new one.
        assert_eq!(s.0.capacity(), capacity);
        assert_ne!(s, SecretString::new("canary-7f3a"));
    }

    #[test]
    fn it_is_zeroed_on_drop() {
        /// Compiles only for types that promise to zero themselves on drop.
        fn zeroized_on_drop<T: ZeroizeOnDrop>(value: T) -> T {
            value
        }
        let secret = zeroized_on_drop(SecretString::new("canary-7f3a"));
        assert_eq!(secret.expose(), "canary-7f3a");
        assert!(std::mem::needs_drop::<SecretString>());
        // Drop runs the `zeroize` tested above; reading freed memory to watch it would be UB.
    }
}
