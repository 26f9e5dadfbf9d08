//! The JWT client assertion (`private_key_jwt`, RFC 7523) that SMART confidential asymmetric
//! clients and Backend Services use to authenticate at the token endpoint.
//!
//! * [`ClientAssertion`] builds and signs the JWT.
//! * [`Signer`] is what signs it: a built-in [`PrivateKey`], or a KMS/HSM behind the trait.
//! * [`Jwk`] / [`Jwks`] carry the public key for registration.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};

use crate::error::{ConfigurationError, Error, server_text};
use crate::random::RandomSource;
use crate::secret::SecretString;

#[cfg(feature = "aws-lc")]
mod aws_lc;
mod jwk;
mod keys;
pub(crate) mod pem;

pub use jwk::{Jwk, Jwks};
pub use keys::{PrivateKey, SigningBackend};

/// The longest lifetime SMART allows a client assertion: `exp` no more than five minutes
/// after it is made.
pub const MAX_ASSERTION_LIFETIME: Duration = Duration::from_secs(300);

/// The lifetime of the assertions Safire's flows sign: four minutes, one under SMART's cap,
/// so that a server whose clock runs a few seconds (up to a minute) ahead of the client's
/// still finds `exp` within five minutes of its own now.
pub const DEFAULT_ASSERTION_LIFETIME: Duration = Duration::from_secs(240);

/// Random bytes in a `jti`: 128 bits, so that two assertions never share one.
const JTI_BYTES: usize = 16;

/// The JWS algorithms SMART allows for client assertions (SMART App Launch 2.2,
/// client-confidential-asymmetric: clients support both, servers at least one).
///
/// ```
/// use safire_core::JwsAlgorithm;
/// let alg: JwsAlgorithm = "ES384".parse().unwrap();
/// assert_eq!(alg.as_str(), "ES384");
/// assert!("HS256".parse::<JwsAlgorithm>().unwrap_err().to_string().contains("valid: RS384, ES384"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum JwsAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-384 (RSA keys of 2048 bits or more).
    RS384,
    /// ECDSA on P-384 with SHA-384.
    ES384,
}

impl JwsAlgorithm {
    /// The JWS `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            JwsAlgorithm::RS384 => "RS384",
            JwsAlgorithm::ES384 => "ES384",
        }
    }
}

impl fmt::Display for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JwsAlgorithm {
    type Err = ConfigurationError;

    /// Parses `RS384` or `ES384` (ASCII case-insensitive, so `es384` from an environment
    /// variable works too).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("RS384") {
            Ok(JwsAlgorithm::RS384)
        } else if s.eq_ignore_ascii_case("ES384") {
            Ok(JwsAlgorithm::ES384)
        } else {
            Err(ConfigurationError::invalid(
                "jwt_algorithm",
                format!(
                    "unsupported algorithm \"{}\"; valid: RS384, ES384",
                    server_text(s)
                ),
            ))
        }
    }
}

/// Anything that can sign a JWS signing input: the built-in [`PrivateKey`], a cloud KMS, an
/// HSM.
///
/// Safire builds the assertion and asks the signer only for the signature, so keys that never
/// leave their hardware work the same way as a PEM file.
///
/// ```
/// use safire_core::{Error, Jwk, JwsAlgorithm, Signer};
///
/// /// Forwards to a remote KMS (sketch).
/// #[derive(Debug)]
/// struct Kms;
///
/// impl Signer for Kms {
///     fn algorithm(&self) -> JwsAlgorithm {
///         JwsAlgorithm::ES384
///     }
///     fn sign(&self, _signing_input: &[u8]) -> Result<Vec<u8>, Error> {
///         Err(Error::Signing("KMS unreachable".into()))
///     }
///     fn public_jwk(&self) -> Option<Jwk> {
///         None
///     }
/// }
/// assert!(Kms.sign(b"x").is_err());
/// ```
pub trait Signer: Send + Sync + fmt::Debug {
    /// The algorithm of the signatures [`Signer::sign`] makes; it goes in the JWT `alg` header.
    fn algorithm(&self) -> JwsAlgorithm;

    /// The JWS signature over `signing_input` (`base64url(header) "." base64url(claims)`).
    ///
    /// For `ES384` this is the 96-byte `r || s` of RFC 7518 §3.4, **not** DER; for `RS384` the
    /// PKCS#1 v1.5 signature, as long as the modulus. Fails with [`Error::Signing`].
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, Error>;

    /// The public key as a JWK for registration, without `kid`/`alg`/`use` (add them with
    /// [`Jwk::with_kid`]); `None` when the signer cannot tell (e.g. a remote KMS).
    fn public_jwk(&self) -> Option<Jwk>;

    /// [`Signer::sign`], drawing whatever randomness the signature needs from `random`.
    ///
    /// [`ClientAssertion::sign`] calls this with its own source (the flows' `Env` source),
    /// so that everything random in an assertion comes from one place (see
    /// [`RandomSource`](crate::RandomSource)). [`PrivateKey`] blinds its RSA operation with `random`. The default
    /// ignores `random` and calls [`Signer::sign`]: right for signers that need no randomness
    /// or must use their own (an HSM, a KMS; say so in your signer's docs).
    fn sign_with_random(
        &self,
        signing_input: &[u8],
        random: &mut dyn RandomSource,
    ) -> Result<Vec<u8>, Error> {
        let _ = random;
        self.sign(signing_input)
    }
}

/// `Box<S>` and `Arc<S>` sign as the `S` inside does.
macro_rules! forward_signer {
    ($($pointer:ident),*) => {$(
        impl<S: Signer + ?Sized> Signer for $pointer<S> {
            fn algorithm(&self) -> JwsAlgorithm {
                (**self).algorithm()
            }
            fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, Error> {
                (**self).sign(signing_input)
            }
            fn public_jwk(&self) -> Option<Jwk> {
                (**self).public_jwk()
            }
            fn sign_with_random(
                &self,
                signing_input: &[u8],
                random: &mut dyn RandomSource,
            ) -> Result<Vec<u8>, Error> {
                (**self).sign_with_random(signing_input, random)
            }
        }
    )*};
}

forward_signer!(Box, Arc);

/// The header and claims of a SMART client assertion (Backend Services and
/// client-confidential-asymmetric), ready to be signed.
///
/// Header: `alg` (from the signer), `kid`, `typ: "JWT"`, and `jku` when given. Claims:
/// `iss` = `sub` = `client_id`, `aud` = the token endpoint, `exp`, `iat` and a fresh random
/// `jti`.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use safire_core::{ClientAssertion, PrivateKey, SeededRandom};
///
/// let key = PrivateKey::generate_es384(&mut SeededRandom::new(1)).unwrap();
/// let assertion = ClientAssertion {
///     signer: &key,
///     kid: "key-1",
///     jku: None,
///     client_id: "my-backend-service",
///     audience: "https://ehr.example.com/auth/token",
///     lifetime: Duration::from_secs(300),
/// };
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let jwt = assertion.sign(now, &mut SeededRandom::new(2)).unwrap();
/// assert_eq!(jwt.expose().split('.').count(), 3);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ClientAssertion<'a> {
    /// Signs the assertion and decides its `alg`.
    pub signer: &'a dyn Signer,
    /// The `kid` of the registered public key that verifies the signature.
    pub kid: &'a str,
    /// The registered JWK Set URL, sent as the `jku` header; optional in SMART.
    pub jku: Option<&'a str>,
    /// The client's `client_id`: both `iss` and `sub`.
    pub client_id: &'a str,
    /// The token endpoint URL, exactly as the assertion will be posted to it (`aud`).
    pub audience: &'a str,
    /// How long the assertion is valid; capped at [`MAX_ASSERTION_LIFETIME`], at least 1 s.
    pub lifetime: Duration,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    kid: &'a str,
    typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    jku: Option<&'a str>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    iat: u64,
    jti: &'a str,
}

impl ClientAssertion<'_> {
    /// Builds and signs the assertion as a compact JWS, issued at `now`.
    ///
    /// `exp` is `now + min(lifetime, 300 s)` and `iat` is `now` (whole seconds); `jti` is 128
    /// bits from `random`, base64url, and the signer gets `random` too
    /// ([`Signer::sign_with_random`]; RSA blinding). The JWT is returned as a [`SecretString`]
    /// because it authenticates the client until it expires.
    ///
    /// Fails with [`Error::Configuration`] when `kid`, `client_id` or `audience` is empty or the
    /// lifetime is under a second, [`Error::Random`] when `random` fails, and
    /// [`Error::Signing`] when the signer fails or the clock is before 1970.
    pub fn sign(
        &self,
        now: SystemTime,
        random: &mut dyn RandomSource,
    ) -> Result<SecretString, Error> {
        let missing: Vec<&str> = [
            ("client_id", self.client_id),
            ("kid", self.kid),
            ("token_endpoint", self.audience),
        ]
        .into_iter()
        .filter(|(_, value)| value.is_empty())
        .map(|(name, _)| name)
        .collect();
        if !missing.is_empty() {
            return Err(ConfigurationError::missing(missing).into());
        }
        let lifetime = self.lifetime.min(MAX_ASSERTION_LIFETIME).as_secs();
        if lifetime == 0 {
            return Err(ConfigurationError::invalid(
                "assertion_lifetime",
                "must be at least 1 second (SMART allows up to 300 seconds)",
            )
            .into());
        }
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::Signing("the system clock is before 1970".to_owned()))?
            .as_secs();

        let mut jti_bytes = [0u8; JTI_BYTES];
        random.fill_bytes(&mut jti_bytes)?;
        let mut jti_text = [0u8; 22]; // ceil(16 * 4 / 3)
        let jti =
            Base64UrlUnpadded::encode(&jti_bytes, &mut jti_text).map_err(|_| encoding_failed())?;

        let algorithm = self.signer.algorithm();
        let header = Header {
            alg: algorithm.as_str(),
            kid: self.kid,
            typ: "JWT",
            jku: self.jku,
        };
        let claims = Claims {
            iss: self.client_id,
            sub: self.client_id,
            aud: self.audience,
            exp: iat.saturating_add(lifetime),
            iat,
            jti,
        };

        // One JSON buffer for header then claims; one output buffer sized for the whole JWT.
        let variable = self.kid.len()
            + self.jku.map_or(0, str::len)
            + 2 * self.client_id.len()
            + self.audience.len();
        let mut json = Vec::with_capacity(160 + variable + variable / 8);
        serde_json::to_writer(&mut json, &header).map_err(json_failed)?;
        let header_len = json.len();
        serde_json::to_writer(&mut json, &claims).map_err(json_failed)?;
        let (header_json, claims_json) = json.split_at(header_len);

        let signature_len = match algorithm {
            JwsAlgorithm::ES384 => 96,
            JwsAlgorithm::RS384 => 512,
        };
        let mut jwt = Vec::with_capacity(
            Base64UrlUnpadded::encoded_len(header_json)
                + Base64UrlUnpadded::encoded_len(claims_json)
                + (signature_len / 3 + 1) * 4
                + 2,
        );
        push_base64url(&mut jwt, header_json)?;
        jwt.push(b'.');
        push_base64url(&mut jwt, claims_json)?;

        let signature = self.signer.sign_with_random(&jwt, random)?;
        jwt.push(b'.');
        push_base64url(&mut jwt, &signature)?;

        String::from_utf8(jwt)
            .map(SecretString::from)
            .map_err(|_| encoding_failed())
    }
}

/// Appends the base64url (unpadded) encoding of `src` to `out` without another allocation.
fn push_base64url(out: &mut Vec<u8>, src: &[u8]) -> Result<(), Error> {
    let start = out.len();
    out.resize(start + Base64UrlUnpadded::encoded_len(src), 0);
    let dst = out.get_mut(start..).ok_or_else(encoding_failed)?;
    Base64UrlUnpadded::encode(src, dst).map_err(|_| encoding_failed())?;
    Ok(())
}

fn encoding_failed() -> Error {
    Error::Signing("base64url-encoding the client assertion failed".to_owned())
}

fn json_failed(_: serde_json::Error) -> Error {
    Error::Signing("serializing the client assertion failed".to_owned())
}

#[cfg(test)]
mod tests;
