//! Loading a [`PrivateKey`] from a private JWK (RFC 7517/7518) or a JWK Set holding one.
//!
//! Members are read by hand rather than through serde types, so that no error message can
//! quote a member's value (private members are key material).

use base64ct::{Base64UrlUnpadded, Encoding};
use rsa::{BoxedUint, RsaPrivateKey};
use zeroize::Zeroizing;

use super::{MAX_RSA_BITS, P384_BYTES, PrivateKey, invalid, wrong_curve};
use crate::error::{ConfigurationError, server_text};

/// A JSON object: a JWK.
type Object = serde_json::Map<String, serde_json::Value>;

impl PrivateKey {
    /// Loads a private key from a private JWK (RFC 7517/7518).
    ///
    /// Accepts `kty: "RSA"` with `n`, `e`, `d` and `p`, `q` (`dp`, `dq`, `qi` are recomputed, so
    /// they may be absent), or `kty: "EC"` with `crv: "P-384"`, `d` and optionally `x`, `y`
    /// (checked against `d`). A JWK Set holding exactly one private key is accepted too, since
    /// that is how several SMART tools save keys.
    ///
    /// ```
    /// use safire_core::{JwsAlgorithm, PrivateKey, SeededRandom, Signer};
    /// let err = PrivateKey::from_jwk(r#"{"kty":"EC","crv":"P-256","d":"AA","x":"AA","y":"AA"}"#)
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("ES384 requires P-384 (secp384r1) curve"));
    /// ```
    pub fn from_jwk(jwk_json: &str) -> Result<Self, ConfigurationError> {
        // Syntax errors from serde_json name a line and column only; value errors could quote
        // key material, so fields are read by hand below.
        let value: serde_json::Value = serde_json::from_str(jwk_json).map_err(|e| {
            invalid(format!(
                "the JWK is not valid JSON (line {}, column {}); expected a private JWK object \
                 such as {{\"kty\":\"EC\",\"crv\":\"P-384\",\"d\":…,\"x\":…,\"y\":…}}",
                e.line(),
                e.column()
            ))
        })?;
        let object = value
            .as_object()
            .ok_or_else(|| invalid("the JWK must be a JSON object"))?;
        let jwk = match object.get("keys") {
            Some(keys) => single_private_key(keys)?,
            None => object,
        };
        if !jwk.contains_key("d") {
            return Err(invalid(
                "the JWK has no private part (\"d\"); signing needs the private JWK, \
                 not the public one that is registered with the server",
            ));
        }
        match string_member(jwk, "kty")? {
            Some("RSA") => Self::from_rsa_jwk(jwk),
            Some("EC") => Self::from_ec_jwk(jwk),
            Some(other) => Err(invalid(format!(
                "unsupported JWK kty \"{}\"; SMART client assertions need kty \"RSA\" (RS384) \
                 or \"EC\" with crv \"P-384\" (ES384)",
                server_text(other)
            ))),
            None => Err(invalid(
                "the JWK has no \"kty\"; expected \"RSA\" (RS384) or \"EC\" (ES384)",
            )),
        }
    }

    fn from_rsa_jwk(jwk: &Object) -> Result<Self, ConfigurationError> {
        let n = required_b64(jwk, "n")?;
        let e = required_b64(jwk, "e")?;
        let d = required_b64(jwk, "d")?;
        let p = optional_b64(jwk, "p")?;
        let q = optional_b64(jwk, "q")?;
        let bits = u32::try_from(n.len())
            .ok()
            .and_then(|len| len.checked_mul(8))
            .filter(|bits| *bits <= MAX_RSA_BITS + 8)
            .ok_or_else(|| {
                invalid(format!(
                    "RSA keys larger than {MAX_RSA_BITS} bits are not supported"
                ))
            })?;
        let uint = |bytes: &[u8], bits: u32, member: &str| {
            BoxedUint::from_be_slice(bytes, bits).map_err(|_| {
                invalid(format!(
                    "JWK member \"{member}\" is longer than the modulus; the JWK is malformed"
                ))
            })
        };
        let e_bits = u32::try_from(e.len())
            .ok()
            .and_then(|len| len.checked_mul(8))
            .filter(|bits| *bits <= 64 * 8)
            .ok_or_else(|| invalid("JWK member \"e\" is too long for an RSA public exponent"))?;
        let primes = match (p, q) {
            (Some(p), Some(q)) => vec![uint(&p, bits, "p")?, uint(&q, bits, "q")?],
            (None, None) => Vec::new(),
            _ => {
                return Err(invalid(
                    "the RSA JWK has only one of \"p\" and \"q\"; give both or neither",
                ));
            }
        };
        let key = RsaPrivateKey::from_components(
            uint(&n, bits, "n")?,
            uint(&e, e_bits, "e")?,
            uint(&d, bits, "d")?,
            primes,
        )
        .map_err(|_| {
            invalid(
                "the RSA JWK's members do not form a valid RSA private key \
                 (n, e, d, p and q must belong to the same key)",
            )
        })?;
        Self::from_rsa(key)
    }

    fn from_ec_jwk(jwk: &Object) -> Result<Self, ConfigurationError> {
        match string_member(jwk, "crv")? {
            Some("P-384") => {}
            Some(other) => return Err(wrong_curve(&server_text(other))),
            None => return Err(invalid("the EC JWK has no \"crv\"; expected \"P-384\"")),
        }
        let d = required_b64(jwk, "d")?;
        if d.len() > P384_BYTES {
            return Err(wrong_curve("a curve larger than P-384"));
        }
        let key = p384::ecdsa::SigningKey::from_slice(&d)
            .map_err(|_| invalid("the EC JWK's \"d\" is not a valid P-384 private key"))?;
        let key = Self::from_ec(key)?;
        for member in ["x", "y"] {
            let Some(given) = optional_b64(jwk, member)? else {
                continue;
            };
            let derived = match member {
                "x" => key.public.x.as_deref(),
                _ => key.public.y.as_deref(),
            };
            let derived = derived
                .and_then(|text| Base64UrlUnpadded::decode_vec(text).ok())
                .unwrap_or_default();
            if strip_zeros(&given) != strip_zeros(&derived) {
                return Err(invalid(
                    "the EC JWK's \"x\"/\"y\" do not match its \"d\"; \
                     the public and private parts come from different keys",
                ));
            }
        }
        Ok(key)
    }
}

/// From a JWK Set, the one key that has a private part.
fn single_private_key(keys: &serde_json::Value) -> Result<&Object, ConfigurationError> {
    let keys = keys
        .as_array()
        .ok_or_else(|| invalid("the JWK Set's \"keys\" must be an array"))?;
    let mut private = keys
        .iter()
        .filter_map(serde_json::Value::as_object)
        .filter(|key| key.contains_key("d"));
    match (private.next(), private.next()) {
        (Some(key), None) => Ok(key),
        (None, _) => Err(invalid(
            "the JWK Set contains no private key (no member \"d\"); \
             signing needs the private JWK",
        )),
        (Some(_), Some(_)) => Err(invalid(
            "the JWK Set contains more than one private key; pass the single private JWK to use",
        )),
    }
}

fn string_member<'a>(jwk: &'a Object, member: &str) -> Result<Option<&'a str>, ConfigurationError> {
    match jwk.get(member) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(invalid(format!("JWK member \"{member}\" must be a string"))),
    }
}

fn optional_b64(
    jwk: &Object,
    member: &str,
) -> Result<Option<Zeroizing<Vec<u8>>>, ConfigurationError> {
    let Some(text) = string_member(jwk, member)? else {
        return Ok(None);
    };
    // RFC 7515 base64url has no padding; some tools add it anyway.
    let bytes = Base64UrlUnpadded::decode_vec(text.trim_end_matches('=')).map_err(|_| {
        invalid(format!(
            "JWK member \"{member}\" is not base64url (RFC 7515 §2, no padding)"
        ))
    })?;
    if bytes.is_empty() {
        return Err(invalid(format!("JWK member \"{member}\" is empty")));
    }
    Ok(Some(Zeroizing::new(bytes)))
}

fn required_b64(jwk: &Object, member: &str) -> Result<Zeroizing<Vec<u8>>, ConfigurationError> {
    optional_b64(jwk, member)?
        .ok_or_else(|| invalid(format!("the JWK lacks the required member \"{member}\"")))
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}
