//! PKCE (RFC 7636) with S256, the only method SMART App Launch 2.2 allows.

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

use crate::error::{ConfigurationError, Error};
use crate::random::RandomSource;
use crate::secret::SecretString;

/// Random bytes in a verifier: 96 bytes = 768 bits, 128 characters (the RFC maximum).
const VERIFIER_BYTES: usize = 96;

/// A PKCE code verifier and its S256 challenge.
///
/// ```
/// use safire_core::{protocol::Pkce, SeededRandom};
/// let pkce = Pkce::generate(&mut SeededRandom::new(1))?;
/// assert_eq!(pkce.verifier().expose().len(), 128);
/// assert_eq!(pkce.challenge(), safire_core::protocol::s256_challenge(pkce.verifier().expose()));
/// # Ok::<(), safire_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pkce {
    verifier: SecretString,
    challenge: String,
}

impl Pkce {
    /// A fresh verifier (128 characters of base64url) and its challenge.
    pub fn generate(random: &mut dyn RandomSource) -> Result<Self, Error> {
        let mut bytes = [0u8; VERIFIER_BYTES];
        random.fill_bytes(&mut bytes)?;
        let verifier = Base64UrlUnpadded::encode_string(&bytes);
        let challenge = s256_challenge(&verifier);
        Ok(Self {
            verifier: SecretString::new(verifier),
            challenge,
        })
    }

    /// Wraps a verifier made elsewhere, after checking RFC 7636's rules.
    pub fn from_verifier(verifier: impl Into<String>) -> Result<Self, ConfigurationError> {
        let verifier = verifier.into();
        validate_verifier(&verifier)?;
        let challenge = s256_challenge(&verifier);
        Ok(Self {
            verifier: SecretString::new(verifier),
            challenge,
        })
    }

    /// The verifier, sent with the code exchange.
    pub fn verifier(&self) -> &SecretString {
        &self.verifier
    }

    /// The challenge, sent with the authorization request.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// Takes the verifier out.
    pub fn into_verifier(self) -> SecretString {
        self.verifier
    }
}

/// `base64url(SHA-256(verifier))` without padding.
pub fn s256_challenge(verifier: &str) -> String {
    Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]`.
pub fn validate_verifier(verifier: &str) -> Result<(), ConfigurationError> {
    let len = verifier.chars().count();
    if !(43..=128).contains(&len) {
        return Err(ConfigurationError::invalid(
            "code_verifier",
            format!("must be between 43 and 128 characters long, got {len}"),
        ));
    }
    if !verifier
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        return Err(ConfigurationError::invalid(
            "code_verifier",
            "contains invalid characters; only unreserved characters [A-Za-z0-9-._~] are allowed",
        ));
    }
    Ok(())
}

/// Lowercase hex of `N` random bytes: used for `state` and `nonce` (16 bytes = 128 bits).
pub(crate) fn random_hex<const N: usize>(random: &mut dyn RandomSource) -> Result<String, Error> {
    let mut bytes = [0u8; N];
    random.fill_bytes(&mut bytes)?;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(N * 2);
    for b in bytes {
        // Nibbles index a 16-entry table: `get` cannot miss, and no `format!` per byte.
        for nibble in [b >> 4, b & 0x0f] {
            out.push(char::from(
                HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn generated_verifier_is_valid_and_fresh() {
        let mut random = SeededRandom::new(9);
        let a = Pkce::generate(&mut random).unwrap();
        let b = Pkce::generate(&mut random).unwrap();
        assert!(validate_verifier(a.verifier().expose()).is_ok());
        assert_ne!(a.verifier(), b.verifier());
        assert_eq!(a.challenge().len(), 43);
    }

    #[test]
    fn invalid_verifiers() {
        assert!(Pkce::from_verifier("short").is_err());
        assert!(Pkce::from_verifier("a".repeat(129)).is_err());
        let err = Pkce::from_verifier(format!("{}+", "a".repeat(50))).unwrap_err();
        assert!(err.to_string().contains("invalid characters"));
        assert!(Pkce::from_verifier("a".repeat(43)).is_ok());
    }

    #[test]
    fn state_is_128_bits_of_hex() {
        let state = random_hex::<16>(&mut SeededRandom::new(3)).unwrap();
        assert_eq!(state.len(), 32);
        assert!(
            state
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
}
