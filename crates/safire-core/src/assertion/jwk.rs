//! Public JSON Web Keys (RFC 7517) for registering a client's key with an authorization server.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};

use super::JwsAlgorithm;

/// A public JWK (RFC 7517) in the "bare key" form SMART registration requires.
///
/// SMART servers find the key that verifies a client assertion by `kid` and `kty`, so a JWK
/// published in a JWK Set needs `kty`, `kid` and the key itself (`n`/`e` for RSA, `crv`/`x`/`y`
/// for EC). It never carries private material: `d`, `p`, `q` and friends are not fields, so
/// deserializing a private JWK into it drops them.
///
/// ```
/// use safire_core::{Jwk, PrivateKey, SeededRandom, Signer};
/// let key = PrivateKey::generate_es384(&mut SeededRandom::new(1)).unwrap();
/// let jwk = key.public_jwk().unwrap().with_kid("key-2024");
/// assert_eq!(jwk.kty, "EC");
/// assert_eq!(jwk.alg.as_deref(), Some("ES384"));
/// assert_eq!(jwk.use_.as_deref(), Some("sig"));
/// assert_eq!(jwk.x.as_ref().map(String::len), Some(64));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA` or `EC`.
    pub kty: String,
    /// Key identifier; the client assertion's `kid` header names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The JWS algorithm the key is used with: `RS384` or `ES384`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Public key use; `sig` for client assertion keys.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Permitted operations, e.g. `["verify"]`; some tools publish this instead of `use`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// RSA modulus, base64url without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url without padding (`AQAB` for 65537).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// EC curve name; `P-384` for ES384.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate, base64url without padding (48 bytes, 64 characters for P-384).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate, base64url without padding (48 bytes, 64 characters for P-384).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

impl Jwk {
    /// A public RSA JWK from the big-endian modulus and exponent.
    pub(crate) fn rsa(n: &[u8], e: &[u8]) -> Self {
        Self {
            n: Some(Base64UrlUnpadded::encode_string(strip_leading_zeros(n))),
            e: Some(Base64UrlUnpadded::encode_string(strip_leading_zeros(e))),
            ..Self::empty("RSA")
        }
    }

    /// A public P-384 JWK from the fixed-size (48-byte) affine coordinates.
    pub(crate) fn p384(x: &[u8], y: &[u8]) -> Self {
        Self {
            crv: Some("P-384".to_owned()),
            x: Some(Base64UrlUnpadded::encode_string(x)),
            y: Some(Base64UrlUnpadded::encode_string(y)),
            ..Self::empty("EC")
        }
    }

    fn empty(kty: &str) -> Self {
        Self {
            kty: kty.to_owned(),
            kid: None,
            alg: None,
            use_: None,
            key_ops: None,
            n: None,
            e: None,
            crv: None,
            x: None,
            y: None,
        }
    }

    /// Names the key and marks it for signing, as a JWK Set entry for registration needs.
    ///
    /// Sets `kid`, `use: "sig"` and `alg` (`RS384` for RSA keys, `ES384` for EC keys; left as
    /// it was for other key types). The `kid` must equal the one the client assertion is signed
    /// with.
    ///
    /// ```
    /// use safire_core::{Jwk, Jwks, PrivateKey, SeededRandom, Signer};
    /// let key = PrivateKey::generate_es384(&mut SeededRandom::new(2)).unwrap();
    /// let jwks = Jwks { keys: vec![key.public_jwk().unwrap().with_kid("k1")] };
    /// let json = serde_json::to_string(&jwks).unwrap();
    /// assert!(json.starts_with(r#"{"keys":[{"kty":"EC","kid":"k1","alg":"ES384","use":"sig","#));
    /// ```
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        if let Some(alg) = self.algorithm() {
            self.alg = Some(alg.as_str().to_owned());
        }
        self.use_ = Some("sig".to_owned());
        self
    }

    /// The key's RFC 7638 thumbprint: base64url (no padding) of the SHA-256 of its required
    /// members (`crv`, `kty`, `x`, `y` for EC; `e`, `kty`, `n` for RSA) as canonical JSON. A
    /// `kid` derived from the key itself, so one key file always gets the same `kid`. `None`
    /// for another key type or when a required member is missing.
    ///
    /// ```
    /// use safire_core::Jwk;
    /// // The example of RFC 7638 §3.1.
    /// let jwk: Jwk = serde_json::from_value(serde_json::json!({
    ///     "kty": "RSA",
    ///     "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    ///     "e": "AQAB",
    ///     "alg": "RS256",
    ///     "kid": "2011-04-29"
    /// }))?;
    /// assert_eq!(jwk.thumbprint().as_deref(), Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn thumbprint(&self) -> Option<String> {
        use sha2::{Digest, Sha256};
        let quote = |s: &str| serde_json::Value::from(s).to_string();
        // Required members only, in lexicographic order, no whitespace (RFC 7638 §3.2, §3.3).
        let canonical = match self.kty.as_str() {
            "EC" => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                quote(self.crv.as_deref()?),
                quote(self.x.as_deref()?),
                quote(self.y.as_deref()?)
            ),
            "RSA" => format!(
                r#"{{"e":{},"kty":"RSA","n":{}}}"#,
                quote(self.e.as_deref()?),
                quote(self.n.as_deref()?)
            ),
            _ => return None,
        };
        Some(Base64UrlUnpadded::encode_string(&Sha256::digest(
            canonical.as_bytes(),
        )))
    }

    /// The SMART algorithm this key signs with, judged from `kty` (and `crv` for EC keys).
    ///
    /// ```
    /// use safire_core::{JwsAlgorithm, PrivateKey, SeededRandom, Signer};
    /// let key = PrivateKey::generate_es384(&mut SeededRandom::new(3)).unwrap();
    /// assert_eq!(key.public_jwk().unwrap().algorithm(), Some(JwsAlgorithm::ES384));
    /// ```
    pub fn algorithm(&self) -> Option<JwsAlgorithm> {
        match (self.kty.as_str(), self.crv.as_deref()) {
            ("RSA", _) => Some(JwsAlgorithm::RS384),
            ("EC", Some("P-384") | None) => Some(JwsAlgorithm::ES384),
            _ => None,
        }
    }
}

/// A JWK Set (RFC 7517 §5): what a client hosts at its `jwks_uri` or sends as `jwks` when it
/// registers.
///
/// ```
/// use safire_core::Jwks;
/// let jwks = Jwks { keys: vec![] };
/// assert_eq!(serde_json::to_string(&jwks).unwrap(), r#"{"keys":[]}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The public keys.
    pub keys: Vec<Jwk>,
}

impl From<Vec<Jwk>> for Jwks {
    fn from(keys: Vec<Jwk>) -> Self {
        Self { keys }
    }
}

/// JWK integers are minimal big-endian octets (RFC 7518 §6.3.1): no leading zero bytes.
fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    bytes.get(first..).unwrap_or(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_jwk_strips_leading_zeros_and_encodes_unpadded() {
        let jwk = Jwk::rsa(&[0, 0, 0xC0, 0xFF], &[0, 1, 0, 1]);
        assert_eq!(jwk.kty, "RSA");
        assert_eq!(jwk.n.as_deref(), Some("wP8"));
        assert_eq!(jwk.e.as_deref(), Some("AQAB"));
        assert!(jwk.crv.is_none() && jwk.x.is_none() && jwk.y.is_none());
    }

    #[test]
    fn with_kid_sets_kid_alg_and_use() {
        let jwk = Jwk::rsa(&[0xC0], &[1, 0, 1]).with_kid("k");
        assert_eq!(jwk.kid.as_deref(), Some("k"));
        assert_eq!(jwk.alg.as_deref(), Some("RS384"));
        assert_eq!(jwk.use_.as_deref(), Some("sig"));
        let json = serde_json::to_value(&jwk).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kty":"RSA","kid":"k","alg":"RS384","use":"sig","n":"wA","e":"AQAB"})
        );
    }

    #[test]
    fn unknown_kty_keeps_alg() {
        let mut jwk = Jwk::empty("OKP");
        jwk.alg = Some("EdDSA".into());
        let jwk = jwk.with_kid("k");
        assert_eq!(jwk.alg.as_deref(), Some("EdDSA"));
        assert_eq!(jwk.algorithm(), None);
    }

    #[test]
    fn deserializing_a_private_jwk_drops_private_members() {
        let jwk: Jwk = serde_json::from_str(
            r#"{"kty":"EC","crv":"P-384","x":"AA","y":"AQ","d":"canary-d","kid":"k","key_ops":["sign"]}"#,
        )
        .unwrap();
        let back = serde_json::to_string(&jwk).unwrap();
        assert!(!back.contains("canary"));
        assert!(!back.contains("\"d\""));
        assert_eq!(jwk.key_ops, Some(vec!["sign".to_owned()]));
    }

    #[test]
    fn jwks_round_trips() {
        let jwks = Jwks::from(vec![Jwk::p384(&[1; 48], &[2; 48]).with_kid("a")]);
        let json = serde_json::to_string(&jwks).unwrap();
        assert!(json.starts_with(r#"{"keys":[{"kty":"EC""#));
        let back: Jwks = serde_json::from_str(&json).unwrap();
        assert_eq!(back, jwks);
    }
}
