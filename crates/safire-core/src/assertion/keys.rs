//! Built-in signing keys: parse once (PEM or JWK), sign many times.
//!
//! This file holds [`PrivateKey`] itself: what it stores, how it signs, how it reports its
//! backend. Loading and making keys live next to it:
//!
//! * [`pem_import`]: PEM text (PKCS#8, PKCS#1, SEC1) and the DER inside it;
//! * [`jwk_import`]: private JWKs and JWK Sets;
//! * [`generate`]: fresh ES384 and RS384 keys from a [`RandomSource`].

use std::fmt;

use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use sha2::Sha384;

#[cfg(feature = "aws-lc")]
use super::aws_lc::AwsLcKey;
use super::{Jwk, JwsAlgorithm, Signer};
use crate::error::{ConfigurationError, Error};
use crate::random::{OsRandom, RandomSource, RngAdapter};
use crate::secret::{REDACTED, SecretString};

mod generate;
mod jwk_import;
mod pem_import;

/// The attribute every key-loading error names.
const ATTRIBUTE: &str = "private_key";

/// Smallest RSA modulus accepted (NIST SP 800-131A; SMART servers reject smaller keys).
const MIN_RSA_BITS: u32 = 2048;

/// Largest RSA modulus accepted (the `rsa` crate's own limit).
const MAX_RSA_BITS: u32 = 8192;

/// Length of a P-384 scalar and of each affine coordinate.
const P384_BYTES: usize = 48;

/// A private key parsed once and kept, ready to sign client assertions.
///
/// Parsing a PEM or JWK costs 12–760 µs (RSA keys are validated and CRT values precomputed), so
/// load the key at start-up and share it (`Arc<PrivateKey>` or `&PrivateKey`); signing then
/// costs only the signature itself.
///
/// * RSA keys sign `RS384`: RSASSA-PKCS1-v1_5 with SHA-384, through the blinded private-key
///   operation (RUSTSEC-2023-0071, Marvin attack). The blinding factor comes from the
///   [`RandomSource`] given to [`Signer::sign_with_random`] (a [`ClientAssertion`] passes its
///   own); plain [`Signer::sign`] uses [`OsRandom`]. Blinding does not change the signature,
///   which PKCS#1 v1.5 makes deterministic.
/// * P-384 keys sign `ES384`: ECDSA with SHA-384, JWS `r || s` encoding (96 bytes).
///
/// **Backends.** By default the signatures come from the RustCrypto crates (`rsa`, `p384`;
/// ES384 nonces are RFC 6979 deterministic). With the `aws-lc` cargo feature the same keys sign
/// through aws-lc-rs instead, about 2× faster for ES384 and 5× for RS384 (see BENCHMARKS.md);
/// AWS-LC also blinds RSA and draws ES384 nonces from its own generator, not from the
/// [`RandomSource`] (the one exception to the rule in its docs), so ES384 signatures
/// then differ from run to run. [`PrivateKey::backend`] tells which one a key uses and
/// [`PrivateKey::into_rust_crypto`] forces RustCrypto.
///
/// Its `Debug` output never shows key material.
///
/// [`ClientAssertion`]: super::ClientAssertion
///
/// ```
/// use safire_core::{JwsAlgorithm, PrivateKey, SeededRandom, Signer};
/// let key = PrivateKey::generate_es384(&mut SeededRandom::new(7)).unwrap();
/// let pem = key.to_pkcs8_pem().unwrap();
/// let loaded = PrivateKey::from_pem(pem.expose()).unwrap();
/// assert_eq!(loaded.algorithm(), JwsAlgorithm::ES384);
/// assert_eq!(format!("{loaded:?}"), "PrivateKey { algorithm: ES384, key: [REDACTED] }");
/// assert_eq!(loaded.sign(b"header.claims").unwrap().len(), 96);
/// ```
pub struct PrivateKey {
    /// Always present: it gives the public JWK and the PKCS#8 export, and signs unless `fast`
    /// does.
    inner: KeyInner,
    /// Computed once at load time: the public half never changes.
    public: Jwk,
    /// The same key loaded into AWS-LC once, when the `aws-lc` feature is on.
    #[cfg(feature = "aws-lc")]
    fast: Option<AwsLcKey>,
}

/// The library that computes a [`PrivateKey`]'s signatures.
///
/// ```
/// use safire_core::SigningBackend;
/// use safire_core::{PrivateKey, SeededRandom};
/// let key = PrivateKey::generate_es384(&mut SeededRandom::new(1)).unwrap();
/// let expected = if cfg!(feature = "aws-lc") {
///     SigningBackend::AwsLc
/// } else {
///     SigningBackend::RustCrypto
/// };
/// assert_eq!(key.backend(), expected);
/// assert_eq!(key.into_rust_crypto().backend(), SigningBackend::RustCrypto);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningBackend {
    /// The pure-Rust `rsa` and `p384` crates (the default).
    RustCrypto,
    /// aws-lc-rs (the `aws-lc` cargo feature).
    AwsLc,
}

impl SigningBackend {
    /// A short name for logs and benchmark labels: `rustcrypto` or `aws-lc`.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningBackend::RustCrypto => "rustcrypto",
            SigningBackend::AwsLc => "aws-lc",
        }
    }
}

impl fmt::Display for SigningBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

enum KeyInner {
    Rsa(Box<rsa::pkcs1v15::SigningKey<Sha384>>),
    Ec(Box<p384::ecdsa::SigningKey>),
}

impl PrivateKey {
    /// The key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), to save a generated key.
    ///
    /// ```
    /// use safire_core::{PrivateKey, SeededRandom};
    /// let key = PrivateKey::generate_es384(&mut SeededRandom::new(4)).unwrap();
    /// assert!(key.to_pkcs8_pem().unwrap().expose().starts_with("-----BEGIN PRIVATE KEY-----\n"));
    /// ```
    pub fn to_pkcs8_pem(&self) -> Result<SecretString, Error> {
        let pem = match &self.inner {
            KeyInner::Rsa(key) => key.to_pkcs8_pem(LineEnding::LF),
            KeyInner::Ec(key) => key.to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(|_| Error::Signing("encoding the private key as PKCS#8 failed".to_owned()))?;
        Ok(SecretString::new(pem.as_str()))
    }

    fn from_rsa(key: RsaPrivateKey) -> Result<Self, ConfigurationError> {
        let bits = key.n().bits();
        if bits < MIN_RSA_BITS {
            return Err(invalid(format!(
                "the RSA key has {bits} bits; SMART servers need at least {MIN_RSA_BITS} \
                 (generate one with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072`)"
            )));
        }
        let public = Jwk::rsa(&key.n_bytes(), &key.e_bytes());
        #[cfg(feature = "aws-lc")]
        let fast = Some(AwsLcKey::rsa(
            key.to_pkcs8_der()
                .map_err(|_| reencode_failed())?
                .as_bytes(),
        )?);
        Ok(Self {
            inner: KeyInner::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(key))),
            public,
            #[cfg(feature = "aws-lc")]
            fast,
        })
    }

    fn from_ec(key: p384::ecdsa::SigningKey) -> Result<Self, ConfigurationError> {
        let point = key.verifying_key().to_sec1_point(false);
        let empty = [0u8; 0];
        let x = point.x().map_or(&empty[..], |x| x.as_slice());
        let y = point.y().map_or(&empty[..], |y| y.as_slice());
        let public = Jwk::p384(x, y);
        #[cfg(feature = "aws-lc")]
        let fast = Some(AwsLcKey::ec(
            key.to_pkcs8_der()
                .map_err(|_| reencode_failed())?
                .as_bytes(),
        )?);
        Ok(Self {
            inner: KeyInner::Ec(Box::new(key)),
            public,
            #[cfg(feature = "aws-lc")]
            fast,
        })
    }

    /// The library this key signs with: [`SigningBackend::AwsLc`] when the `aws-lc` feature is
    /// on (unless [`Self::into_rust_crypto`] was called), [`SigningBackend::RustCrypto`]
    /// otherwise.
    pub fn backend(&self) -> SigningBackend {
        #[cfg(feature = "aws-lc")]
        if self.fast.is_some() {
            return SigningBackend::AwsLc;
        }
        SigningBackend::RustCrypto
    }

    /// The same key, signing with the RustCrypto crates even when the `aws-lc` feature is on
    /// (the AWS-LC copy is dropped). Useful for deterministic RFC 6979 ES384 signatures and for
    /// comparing backends; without the feature it returns the key unchanged.
    ///
    /// ```
    /// use safire_core::{PrivateKey, SeededRandom, Signer};
    /// let key = PrivateKey::generate_es384(&mut SeededRandom::new(5)).unwrap().into_rust_crypto();
    /// assert_eq!(key.sign(b"a.b").unwrap(), key.sign(b"a.b").unwrap(), "RFC 6979");
    /// ```
    #[must_use]
    pub fn into_rust_crypto(self) -> Self {
        Self {
            inner: self.inner,
            public: self.public,
            #[cfg(feature = "aws-lc")]
            fast: None,
        }
    }
}

#[cfg(feature = "aws-lc")]
fn reencode_failed() -> ConfigurationError {
    invalid("re-encoding the key as PKCS#8 for aws-lc failed")
}

impl Signer for PrivateKey {
    fn algorithm(&self) -> JwsAlgorithm {
        match self.inner {
            KeyInner::Rsa(_) => JwsAlgorithm::RS384,
            KeyInner::Ec(_) => JwsAlgorithm::ES384,
        }
    }

    /// Signs with blinding from [`OsRandom`]; see [`Signer::sign_with_random`].
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, Error> {
        self.sign_with_random(signing_input, &mut OsRandom)
    }

    /// Signs; an RS384 key (RustCrypto backend) blinds with `random`, and a failure of
    /// `random` is returned as it is ([`Error::Random`]). ES384 (RFC 6979) and the `aws-lc`
    /// backend do not use `random`.
    fn sign_with_random(
        &self,
        signing_input: &[u8],
        random: &mut dyn RandomSource,
    ) -> Result<Vec<u8>, Error> {
        use signature::SignatureEncoding;
        #[cfg(feature = "aws-lc")]
        if let Some(fast) = &self.fast {
            return fast.sign(signing_input);
        }
        match &self.inner {
            KeyInner::Rsa(key) => {
                use signature::RandomizedSigner;
                let mut rng = RngAdapter::new(random);
                match key.try_sign_with_rng(&mut rng, signing_input) {
                    Ok(signature) => Ok(signature.to_vec()),
                    Err(_) => Err(rng
                        .into_error()
                        .unwrap_or_else(|| Error::Signing("RS384 signing failed".to_owned()))),
                }
            }
            KeyInner::Ec(key) => {
                use signature::Signer as _;
                let signature: p384::ecdsa::Signature = key
                    .try_sign(signing_input)
                    .map_err(|_| Error::Signing("ES384 signing failed".to_owned()))?;
                Ok(signature.to_bytes().to_vec())
            }
        }
    }

    fn public_jwk(&self) -> Option<Jwk> {
        Some(self.public.clone())
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm())
            .field("key", &format_args!("{REDACTED}"))
            .finish()
    }
}

fn invalid(reason: impl Into<String>) -> ConfigurationError {
    ConfigurationError::invalid(ATTRIBUTE, reason)
}

fn wrong_curve(found: &str) -> ConfigurationError {
    invalid(format!(
        "the EC key is on {found}, but ES384 requires P-384 (secp384r1) curve; \
         generate one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384`"
    ))
}

#[cfg(test)]
mod tests;
