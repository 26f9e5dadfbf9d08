//! JWS compact serialization (RFC 7515): parsing, key selection and signature verification.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use rsa::{Pkcs1v15Sign, Pss};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::Verifier;

use super::jwks::{KeyType, Material, ServerJwks, ServerKey};
use super::short_text;
use super::strict_json::{self, StrictJsonError};

/// Longest JWS accepted, in bytes (64 KiB).
pub const MAX_JWS_BYTES: usize = 64 * 1024;

/// The signature algorithms Safire verifies (RFC 7518 names).
///
/// ```
/// use safire_core::{KeyType, VerifyAlgorithm};
/// assert_eq!(VerifyAlgorithm::from_name("RS256"), Some(VerifyAlgorithm::RS256));
/// assert_eq!(VerifyAlgorithm::from_name("HS256"), None);
/// assert_eq!(VerifyAlgorithm::ES256.key_type(), KeyType::EcP256);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms)]
#[non_exhaustive]
pub enum VerifyAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (SMART's mandatory algorithm).
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256 and a 32-byte salt.
    PS256,
    /// ECDSA on P-256 with SHA-256 (signature `r || s`, 64 bytes).
    ES256,
    /// ECDSA on P-384 with SHA-384 (signature `r || s`, 96 bytes).
    ES384,
}

impl VerifyAlgorithm {
    /// Every algorithm, in a fixed order.
    pub const ALL: [VerifyAlgorithm; 6] = [
        VerifyAlgorithm::RS256,
        VerifyAlgorithm::RS384,
        VerifyAlgorithm::RS512,
        VerifyAlgorithm::PS256,
        VerifyAlgorithm::ES256,
        VerifyAlgorithm::ES384,
    ];

    /// The JWS `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyAlgorithm::RS256 => "RS256",
            VerifyAlgorithm::RS384 => "RS384",
            VerifyAlgorithm::RS512 => "RS512",
            VerifyAlgorithm::PS256 => "PS256",
            VerifyAlgorithm::ES256 => "ES256",
            VerifyAlgorithm::ES384 => "ES384",
        }
    }

    /// The algorithm a JWS `alg` value names, if Safire verifies it (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == name)
    }

    /// The kind of key that verifies this algorithm.
    pub fn key_type(self) -> KeyType {
        match self {
            VerifyAlgorithm::RS256
            | VerifyAlgorithm::RS384
            | VerifyAlgorithm::RS512
            | VerifyAlgorithm::PS256 => KeyType::Rsa,
            VerifyAlgorithm::ES256 => KeyType::EcP256,
            VerifyAlgorithm::ES384 => KeyType::EcP384,
        }
    }
}

impl fmt::Display for VerifyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a JWS was refused. Messages never quote the token; a server-chosen `alg` or `kid` is
/// quoted cleaned and cut short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Longer than [`MAX_JWS_BYTES`].
    #[error("the JWS is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// Length of the token.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a JWS compact serialization (parts, base64url, JSON header).
    #[error("malformed JWS: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// The header or the payload repeats a JSON member name.
    #[error("the JWS {part} repeats a JSON member name")]
    DuplicateMember {
        /// `header` or `payload`.
        part: &'static str,
    },
    /// `alg: none`: an unsigned token.
    #[error("unsigned JWS (`alg: none`) refused")]
    AlgNone,
    /// An HMAC algorithm (`HS256`, ...): refused, the server's keys are public.
    #[error("HMAC JWS algorithm `{alg}` refused (a public key is no secret)")]
    HmacAlgorithm {
        /// The `alg` header, cleaned.
        alg: String,
    },
    /// Any other algorithm Safire does not verify.
    #[error("JWS algorithm `{alg}` is not supported")]
    UnsupportedAlgorithm {
        /// The `alg` header, cleaned.
        alg: String,
    },
    /// The header has `crit`: Safire understands no extension, so refuses them all.
    #[error("the JWS header has `crit` (extensions are not supported)")]
    CriticalHeader,
    /// No key in the JWK Set has the token's `kid`: the server may have rotated its keys, so
    /// fetch the set again (once, within [`JwksRefreshPolicy`](super::JwksRefreshPolicy)).
    #[error(
        "no key in the JWK Set has the token's kid `{kid}`; the server may have rotated its keys"
    )]
    UnknownKid {
        /// The `kid` header, cleaned.
        kid: String,
    },
    /// Keys have the token's `kid`, but none fits its `alg` (`kty`, `crv`, `use`, `key_ops`
    /// or `alg` differ).
    #[error("the key with the token's kid does not fit `{alg}` (kty, crv, use, key_ops or alg)")]
    KeyMismatch {
        /// The token's algorithm.
        alg: VerifyAlgorithm,
    },
    /// The token has no `kid` and no key in the set fits its `alg`.
    #[error("the token has no kid and no key in the JWK Set fits `{alg}`")]
    NoCompatibleKey {
        /// The token's algorithm.
        alg: VerifyAlgorithm,
    },
    /// More than one key fits: the token has no `kid` and the set holds several keys for its
    /// `alg` (OIDC Core §10.1 requires a `kid` then), or the set repeats a `kid` within one
    /// key type.
    #[error("several keys in the JWK Set fit the token (`{alg}`); a unique kid is required")]
    AmbiguousKey {
        /// The token's algorithm.
        alg: VerifyAlgorithm,
    },
    /// The signature does not verify with the selected key.
    #[error("the JWS signature does not verify")]
    BadSignature,
}

impl VerifyError {
    /// True for [`VerifyError::UnknownKid`]: the one error a fresh JWK Set can cure.
    pub fn is_unknown_kid(&self) -> bool {
        matches!(self, VerifyError::UnknownKid { .. })
    }
}

/// A JWS whose signature verified with a key of the set.
///
/// The payload is the decoded bytes as signed; [`verify_id_token`](super::verify_id_token)
/// parses and checks them as ID token claims.
///
/// ```
/// use base64ct::{Base64UrlUnpadded as B64, Encoding};
/// use safire_core::{PrivateKey, SeededRandom, ServerJwks, Signer, VerifyAlgorithm, verify_jws};
/// let key = PrivateKey::generate_es384(&mut SeededRandom::new(2))?;
/// let set = serde_json::json!({"keys": [key.public_jwk().unwrap().with_kid("k")]});
/// let jwks = ServerJwks::parse(set.to_string().as_bytes()).unwrap();
/// let input = format!("{}.{}", B64::encode_string(br#"{"alg":"ES384"}"#), B64::encode_string(b"hi"));
/// let token = format!("{input}.{}", B64::encode_string(&key.sign(input.as_bytes())?));
/// let jws = verify_jws(&token, &jwks).unwrap();
/// assert_eq!((jws.alg, jws.kid, jws.payload), (VerifyAlgorithm::ES384, None, b"hi".to_vec()));
/// # Ok::<(), safire_core::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct VerifiedJws {
    /// The verified algorithm.
    pub alg: VerifyAlgorithm,
    /// The `kid` header, if any.
    pub kid: Option<String>,
    /// The whole protected header.
    pub header: Map<String, Value>,
    /// The decoded payload.
    pub payload: Vec<u8>,
}

impl fmt::Debug for VerifiedJws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedJws")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("payload", &format_args!("[{} bytes]", self.payload.len()))
            .finish_non_exhaustive()
    }
}

fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, VerifyError> {
    Base64UrlUnpadded::decode_vec(part).map_err(|_| VerifyError::Malformed { reason: what })
}

/// Verifies a JWS compact serialization against a JWK Set.
///
/// Steps, each with its own [`VerifyError`]: size and shape (three base64url parts), the header
/// (a JSON object without duplicate members, a string `alg`, no `crit`), the algorithm (refused:
/// `none`, `HS*`, anything not in [`VerifyAlgorithm`]), the key, then the signature.
///
/// **Key selection.** With a `kid`: the keys with that `kid` that [fit](ServerKey::fits) the
/// algorithm; none with that `kid` at all is [`VerifyError::UnknownKid`] (re-fetch the set),
/// some but none fitting is [`VerifyError::KeyMismatch`]. So one `kid` shared by an RSA and an
/// EC key selects by the token's `alg`. Without a `kid`: the keys that fit the algorithm; none
/// is [`VerifyError::NoCompatibleKey`]. In both cases more than one candidate is
/// [`VerifyError::AmbiguousKey`]: Safire never tries keys one after another. Header members
/// that point at keys (`jwk`, `jku`, `x5u`, `x5c`) are ignored: only the set's keys are trusted.
///
/// ```
/// use safire_core::{ServerJwks, VerifyError, verify_jws};
/// let jwks = ServerJwks::parse(br#"{"keys":[]}"#).unwrap();
/// // {"alg":"none"}.{}.
/// let err = verify_jws("eyJhbGciOiJub25lIn0.e30.", &jwks).unwrap_err();
/// assert_eq!(err, VerifyError::AlgNone);
/// ```
pub fn verify_jws(token: &str, jwks: &ServerJwks) -> Result<VerifiedJws, VerifyError> {
    if token.len() > MAX_JWS_BYTES {
        return Err(VerifyError::TooLarge {
            len: token.len(),
            max: MAX_JWS_BYTES,
        });
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        let reason = if token.split('.').count() == 5 {
            "five parts: an encrypted (JWE) token, which is not supported"
        } else {
            "not three dot-separated parts"
        };
        return Err(VerifyError::Malformed { reason });
    };
    let header_bytes = b64(header_b64, "the header is not unpadded base64url")?;
    let mut header = strict_json::parse_object(&header_bytes).map_err(|e| match e {
        StrictJsonError::Duplicate => VerifyError::DuplicateMember { part: "header" },
        StrictJsonError::Malformed => VerifyError::Malformed {
            reason: "the header is not a JSON object",
        },
    })?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => algorithm(alg)?,
        Some(_) => {
            return Err(VerifyError::Malformed {
                reason: "the header's `alg` is not a string",
            });
        }
        None => {
            return Err(VerifyError::Malformed {
                reason: "the header has no `alg`",
            });
        }
    };
    if header.contains_key("crit") {
        return Err(VerifyError::CriticalHeader);
    }
    let kid = match header.remove("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid),
        Some(_) => {
            return Err(VerifyError::Malformed {
                reason: "the header's `kid` is not a string",
            });
        }
    };
    let key = select_key(jwks, kid.as_deref(), alg)?;
    if let Some(kid) = &kid {
        header.insert("kid".to_owned(), Value::String(kid.clone()));
    }
    let payload = b64(payload_b64, "the payload is not unpadded base64url")?;
    let signature = b64(signature_b64, "the signature is not unpadded base64url")?;
    let signing_input = token
        .get(
            ..header_b64
                .len()
                .saturating_add(1)
                .saturating_add(payload_b64.len()),
        )
        .unwrap_or_default()
        .as_bytes();
    if !verify_signature(key, alg, signing_input, &signature) {
        return Err(VerifyError::BadSignature);
    }
    Ok(VerifiedJws {
        alg,
        kid,
        header,
        payload,
    })
}

fn algorithm(name: &str) -> Result<VerifyAlgorithm, VerifyError> {
    if let Some(alg) = VerifyAlgorithm::from_name(name) {
        return Ok(alg);
    }
    if name.eq_ignore_ascii_case("none") {
        Err(VerifyError::AlgNone)
    } else if name.len() >= 2 && name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS")) {
        Err(VerifyError::HmacAlgorithm {
            alg: short_text(name),
        })
    } else {
        Err(VerifyError::UnsupportedAlgorithm {
            alg: short_text(name),
        })
    }
}

fn select_key<'a>(
    jwks: &'a ServerJwks,
    kid: Option<&str>,
    alg: VerifyAlgorithm,
) -> Result<&'a ServerKey, VerifyError> {
    let mut named = false;
    let mut chosen = None;
    for key in jwks.keys() {
        if let Some(kid) = kid {
            if key.kid() != Some(kid) {
                continue;
            }
            named = true;
        }
        if key.fits(alg) {
            if chosen.is_some() {
                return Err(VerifyError::AmbiguousKey { alg });
            }
            chosen = Some(key);
        }
    }
    match (chosen, kid) {
        (Some(key), _) => Ok(key),
        (None, Some(kid)) if !named => Err(VerifyError::UnknownKid {
            kid: short_text(kid),
        }),
        (None, Some(_)) => Err(VerifyError::KeyMismatch { alg }),
        (None, None) => Err(VerifyError::NoCompatibleKey { alg }),
    }
}

/// The signature check itself; `key` already fits `alg`.
pub(crate) fn verify_signature(
    key: &ServerKey,
    alg: VerifyAlgorithm,
    signing_input: &[u8],
    signature: &[u8],
) -> bool {
    match (&key.material, alg) {
        (Material::Rsa(rsa), VerifyAlgorithm::RS256) => rsa
            .verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(signing_input),
                signature,
            )
            .is_ok(),
        (Material::Rsa(rsa), VerifyAlgorithm::RS384) => rsa
            .verify(
                Pkcs1v15Sign::new::<Sha384>(),
                &Sha384::digest(signing_input),
                signature,
            )
            .is_ok(),
        (Material::Rsa(rsa), VerifyAlgorithm::RS512) => rsa
            .verify(
                Pkcs1v15Sign::new::<Sha512>(),
                &Sha512::digest(signing_input),
                signature,
            )
            .is_ok(),
        (Material::Rsa(rsa), VerifyAlgorithm::PS256) => rsa
            .verify(
                Pss::<Sha256>::new(),
                &Sha256::digest(signing_input),
                signature,
            )
            .is_ok(),
        (Material::P256(ec), VerifyAlgorithm::ES256) => {
            p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| ec.verify(signing_input, &sig).is_ok())
        }
        (Material::P384(ec), VerifyAlgorithm::ES384) => {
            p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| ec.verify(signing_input, &sig).is_ok())
        }
        _ => false,
    }
}
