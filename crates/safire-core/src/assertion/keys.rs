//! Built-in signing keys: parse once (PEM or JWK), sign many times.

use std::convert::Infallible;
use std::fmt;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use p384::elliptic_curve::zeroize::Zeroizing;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding, ObjectIdentifier};
use rsa::rand_core::{TryCryptoRng, TryRng};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, RsaPrivateKey};
use sha2::{Digest, Sha384};

#[cfg(feature = "aws-lc")]
use super::aws_lc::AwsLcKey;
use super::{Jwk, JwsAlgorithm, Signer};
use crate::error::{ConfigurationError, Error, server_text};
use crate::random::{OsRandom, RandomSource};
use crate::secret::{REDACTED, SecretString};

/// The attribute every key-loading error names.
const ATTRIBUTE: &str = "private_key";

/// Smallest RSA modulus accepted (NIST SP 800-131A; SMART servers reject smaller keys).
const MIN_RSA_BITS: u32 = 2048;

/// Largest RSA modulus accepted (the `rsa` crate's own limit).
const MAX_RSA_BITS: u32 = 8192;

/// Length of a P-384 scalar and of each affine coordinate.
const P384_BYTES: usize = 48;

const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const OID_SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");

/// A private key parsed once and kept, ready to sign client assertions.
///
/// Parsing a PEM or JWK costs 12–760 µs (RSA keys are validated and CRT values precomputed), so
/// load the key at start-up and share it (`Arc<PrivateKey>` or `&PrivateKey`); signing then
/// costs only the signature itself.
///
/// * RSA keys sign `RS384`: RSASSA-PKCS1-v1_5 with SHA-384, through the blinded private-key
///   operation with fresh OS randomness per signature (RUSTSEC-2023-0071, Marvin attack).
/// * P-384 keys sign `ES384`: ECDSA with SHA-384, JWS `r || s` encoding (96 bytes).
///
/// **Backends.** By default the signatures come from the RustCrypto crates (`rsa`, `p384`;
/// ES384 nonces are RFC 6979 deterministic). With the `aws-lc` cargo feature the same keys sign
/// through aws-lc-rs instead, about 2× faster for ES384 and 5× for RS384 (see BENCHMARKS.md);
/// AWS-LC also blinds RSA and draws ES384 nonces from its own generator, so ES384 signatures
/// then differ from run to run. [`PrivateKey::backend`] tells which one a key uses and
/// [`PrivateKey::into_rust_crypto`] forces RustCrypto.
///
/// Its `Debug` output never shows key material.
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
    /// Loads a private key from PEM text.
    ///
    /// Accepts PKCS#8 `PRIVATE KEY` (RSA or EC P-384), PKCS#1 `RSA PRIVATE KEY` and SEC1
    /// `EC PRIVATE KEY` (an `EC PARAMETERS` block before it is skipped). Encrypted keys, public
    /// keys, certificates, other curves and RSA keys under 2048 bits are refused with a message
    /// that says what would work; the message never contains key material.
    ///
    /// ```
    /// use safire_core::PrivateKey;
    /// let err = PrivateKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("public key"));
    /// ```
    pub fn from_pem(pem: &str) -> Result<Self, ConfigurationError> {
        let block = find_private_key_block(pem)?;
        match block.label {
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.der),
            "RSA PRIVATE KEY" => {
                let key = RsaPrivateKey::from_pkcs1_der(&block.der).map_err(|_| {
                    invalid(
                        "the RSA PRIVATE KEY (PKCS#1) block could not be decoded; \
                         check that the PEM is complete and unmodified",
                    )
                })?;
                Self::from_rsa(key)
            }
            _ => Self::from_sec1_der(&block.der),
        }
    }

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

    /// Generates a fresh P-384 key for `ES384` from `random`.
    ///
    /// For quick starts, sandboxes and tests: with [`SeededRandom`](crate::SeededRandom) the key
    /// is the same on every run. Production keys should come from [`OsRandom`].
    ///
    /// ```
    /// use safire_core::{PrivateKey, SeededRandom, Signer};
    /// let a = PrivateKey::generate_es384(&mut SeededRandom::new(9)).unwrap();
    /// let b = PrivateKey::generate_es384(&mut SeededRandom::new(9)).unwrap();
    /// assert_eq!(a.public_jwk(), b.public_jwk());
    /// ```
    pub fn generate_es384(random: &mut dyn RandomSource) -> Result<Self, Error> {
        // A uniformly random 384-bit string is a valid scalar except with probability ~2^-190;
        // retry a few times rather than fail on that.
        for _ in 0..16 {
            let mut bytes = Zeroizing::new([0u8; P384_BYTES]);
            random.fill_bytes(bytes.as_mut_slice())?;
            if let Ok(key) = p384::ecdsa::SigningKey::from_slice(bytes.as_slice()) {
                return Self::from_ec(key).map_err(Error::from);
            }
        }
        Err(Error::Random(
            "the random source produced no valid P-384 private key in 16 attempts".to_owned(),
        ))
    }

    /// Generates a fresh RSA key of `bits` bits (2048–8192) for `RS384`, seeded from the OS.
    ///
    /// Slow (hundreds of milliseconds to seconds); meant for tests and examples. Deployments
    /// should generate keys once with their usual tooling and load them with [`Self::from_pem`].
    ///
    /// ```no_run
    /// use safire_core::{JwsAlgorithm, PrivateKey, Signer};
    /// let key = PrivateKey::generate_rs384(2048).unwrap();
    /// assert_eq!(key.algorithm(), JwsAlgorithm::RS384);
    /// ```
    pub fn generate_rs384(bits: usize) -> Result<Self, Error> {
        let wanted = u32::try_from(bits).unwrap_or(u32::MAX);
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&wanted) {
            return Err(invalid(format!(
                "cannot generate a {bits}-bit RSA key; use 2048 to {MAX_RSA_BITS} bits \
                 (3072 or more recommended)"
            ))
            .into());
        }
        let mut seed = Zeroizing::new([0u8; 48]);
        OsRandom.fill_bytes(seed.as_mut_slice())?;
        let mut rng = KeygenRng::new(&seed);
        let key = RsaPrivateKey::new(&mut rng, bits)
            .map_err(|_| Error::Signing("generating the RSA key failed".to_owned()))?;
        Self::from_rsa(key).map_err(Error::from)
    }

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

    fn from_pkcs8_der(der: &[u8]) -> Result<Self, ConfigurationError> {
        let info = rsa::pkcs8::PrivateKeyInfoRef::try_from(der).map_err(|_| {
            invalid(
                "the PRIVATE KEY (PKCS#8) block could not be decoded; \
                 check that the PEM is complete and unmodified",
            )
        })?;
        let oid = info.algorithm.oid;
        if oid == OID_RSA_ENCRYPTION {
            let key = RsaPrivateKey::from_pkcs8_der(der).map_err(|_| {
                invalid("the PKCS#8 RSA key could not be decoded or is not a valid RSA key")
            })?;
            Self::from_rsa(key)
        } else if oid == OID_EC_PUBLIC_KEY {
            check_curve(info.algorithm.parameters_oid().ok())?;
            let key = p384::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|_| {
                invalid("the PKCS#8 P-384 key could not be decoded or is not a valid P-384 key")
            })?;
            Self::from_ec(key)
        } else if oid == OID_RSASSA_PSS {
            Err(invalid(
                "RSASSA-PSS keys are restricted to PS* signatures; RS384 needs a plain RSA key \
                 (rsaEncryption), e.g. `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`",
            ))
        } else if oid == OID_ED25519 || oid == OID_ED448 {
            Err(invalid(
                "EdDSA keys are not allowed for SMART client assertions; \
                 use an RSA key (RS384) or a P-384 EC key (ES384)",
            ))
        } else {
            Err(invalid(format!(
                "unsupported key algorithm (OID {oid}); \
                 use an RSA key (RS384) or a P-384 EC key (ES384)"
            )))
        }
    }

    fn from_sec1_der(der: &[u8]) -> Result<Self, ConfigurationError> {
        let sec1_key = sec1::EcPrivateKey::try_from(der).map_err(|_| {
            invalid(
                "the EC PRIVATE KEY (SEC1) block could not be decoded; \
                 check that the PEM is complete and unmodified",
            )
        })?;
        check_curve(
            sec1_key
                .parameters
                .and_then(sec1::EcParameters::named_curve),
        )?;
        let secret = p384::SecretKey::try_from(sec1_key)
            .map_err(|_| invalid("the EC PRIVATE KEY is not a valid P-384 key"))?;
        Self::from_ec(p384::ecdsa::SigningKey::from(&secret))
    }

    fn from_rsa_jwk(
        jwk: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, ConfigurationError> {
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

    fn from_ec_jwk(
        jwk: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, ConfigurationError> {
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

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, Error> {
        use signature::SignatureEncoding;
        #[cfg(feature = "aws-lc")]
        if let Some(fast) = &self.fast {
            return fast.sign(signing_input);
        }
        match &self.inner {
            KeyInner::Rsa(key) => {
                use signature::RandomizedSigner;
                // Blinded private-key operation with fresh OS randomness (RUSTSEC-2023-0071).
                let signature = key
                    .try_sign_with_rng(&mut OsRng, signing_input)
                    .map_err(|_| {
                        Error::Signing(
                            "RS384 signing failed (the OS random number generator may be \
                             unavailable)"
                                .to_owned(),
                        )
                    })?;
                Ok(signature.to_vec())
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

/// Accepts the P-384 OID; a missing curve is left to the P-384 decoder to judge.
fn check_curve(curve: Option<ObjectIdentifier>) -> Result<(), ConfigurationError> {
    let Some(curve) = curve else {
        return Ok(());
    };
    if curve == OID_SECP384R1 {
        return Ok(());
    }
    let name = if curve == OID_PRIME256V1 {
        "P-256 (prime256v1)".to_owned()
    } else if curve == OID_SECP521R1 {
        "P-521 (secp521r1)".to_owned()
    } else if curve == OID_SECP256K1 {
        "secp256k1".to_owned()
    } else {
        format!("the curve with OID {curve}")
    };
    Err(wrong_curve(&name))
}

/// One PEM block, base64 already decoded.
struct PemBlock<'a> {
    label: &'a str,
    der: Zeroizing<Vec<u8>>,
}

/// Finds the private key in PEM text, tolerating what real key files contain: an
/// `EC PARAMETERS` block first, certificates after, CRLF line ends, indentation, and `\n`
/// escapes from environment variables.
fn find_private_key_block(pem: &str) -> Result<PemBlock<'_>, ConfigurationError> {
    const BEGIN: &str = "-----BEGIN ";
    let mut first_label = None;
    let mut saw_parameters = false;
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let after_begin = rest.get(start + BEGIN.len()..).unwrap_or_default();
        let Some(label_end) = after_begin.find("-----") else {
            break;
        };
        let label = after_begin.get(..label_end).unwrap_or_default();
        // A real label is a short line of capitals; anything else means the BEGIN line is
        // broken and the "label" may be key material, which must never reach a message.
        if label.len() > 40
            || !label
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b' ' || b.is_ascii_digit())
        {
            return Err(invalid(
                "a PEM BEGIN line is malformed (expected -----BEGIN PRIVATE KEY----- on a line of its own)",
            ));
        }
        let body_and_rest = after_begin.get(label_end + 5..).unwrap_or_default();
        let end_marker = format!("-----END {label}-----");
        let Some(body_end) = body_and_rest.find(&end_marker) else {
            return Err(invalid(format!(
                "the PEM block \"{}\" has no matching END line; the key looks truncated",
                server_text(label)
            )));
        };
        let body = body_and_rest.get(..body_end).unwrap_or_default();
        rest = body_and_rest
            .get(body_end + end_marker.len()..)
            .unwrap_or_default();
        if matches!(label, "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY") {
            return Ok(PemBlock {
                label,
                der: decode_pem_body(label, body)?,
            });
        }
        if label == "EC PARAMETERS" {
            saw_parameters = true;
        } else {
            first_label.get_or_insert(label);
        }
    }
    Err(match first_label {
        Some("ENCRYPTED PRIVATE KEY") => invalid(
            "the key is encrypted (ENCRYPTED PRIVATE KEY); decrypt it first, e.g. \
             `openssl pkey -in encrypted.pem -out key.pem`",
        ),
        Some("PUBLIC KEY" | "RSA PUBLIC KEY" | "EC PUBLIC KEY") => invalid(
            "this is a public key; signing client assertions needs the private key \
             (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
        ),
        Some("CERTIFICATE") => invalid(
            "this is a certificate; signing client assertions needs the private key \
             (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
        ),
        Some("OPENSSH PRIVATE KEY") => invalid(
            "OpenSSH private keys are not supported; convert to PKCS#8 with \
             `ssh-keygen -p -m PKCS8 -f <keyfile>`",
        ),
        Some(other) => invalid(format!(
            "unsupported PEM block \"{}\"; expected PRIVATE KEY, RSA PRIVATE KEY or \
             EC PRIVATE KEY",
            server_text(other)
        )),
        None if saw_parameters => invalid(
            "the PEM holds only EC PARAMETERS; the EC PRIVATE KEY block that should follow is \
             missing",
        ),
        None if pem.trim_start().starts_with('{') => {
            invalid("this looks like a JWK, not PEM; load it with PrivateKey::from_jwk")
        }
        None => invalid(
            "no PEM block found; expected text starting with -----BEGIN PRIVATE KEY----- \
             (or RSA PRIVATE KEY / EC PRIVATE KEY)",
        ),
    })
}

fn decode_pem_body(label: &str, body: &str) -> Result<Zeroizing<Vec<u8>>, ConfigurationError> {
    // Legacy OpenSSL encryption puts "Proc-Type: 4,ENCRYPTED" headers in the body.
    if body.contains(':') {
        return Err(invalid(format!(
            "the {label} block has headers, so it is encrypted; decrypt it first, e.g. \
             `openssl pkey -in encrypted.pem -out key.pem`"
        )));
    }
    let mut text = Zeroizing::new(String::with_capacity(body.len()));
    let body = Zeroizing::new(body.replace("\\n", "\n").replace("\\r", "\r"));
    text.extend(body.chars().filter(|c| !c.is_ascii_whitespace()));
    Base64::decode_vec(&text).map(Zeroizing::new).map_err(|_| {
        invalid(format!(
            "the {label} block is not valid base64; check that the PEM is complete and unmodified"
        ))
    })
}

/// From a JWK Set, the one key that has a private part.
fn single_private_key(
    keys: &serde_json::Value,
) -> Result<&serde_json::Map<String, serde_json::Value>, ConfigurationError> {
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

fn string_member<'a>(
    jwk: &'a serde_json::Map<String, serde_json::Value>,
    member: &str,
) -> Result<Option<&'a str>, ConfigurationError> {
    match jwk.get(member) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(invalid(format!("JWK member \"{member}\" must be a string"))),
    }
}

fn optional_b64(
    jwk: &serde_json::Map<String, serde_json::Value>,
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

fn required_b64(
    jwk: &serde_json::Map<String, serde_json::Value>,
    member: &str,
) -> Result<Zeroizing<Vec<u8>>, ConfigurationError> {
    optional_b64(jwk, member)?
        .ok_or_else(|| invalid(format!("the JWK lacks the required member \"{member}\"")))
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

/// The OS random number generator in the shape the `rsa` crate wants, with errors instead of
/// panics.
struct OsRng;

#[derive(Debug)]
struct OsRngError;

impl fmt::Display for OsRngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the OS random number generator failed")
    }
}

impl std::error::Error for OsRngError {}

impl TryRng for OsRng {
    type Error = OsRngError;

    fn try_next_u32(&mut self) -> Result<u32, OsRngError> {
        getrandom::u32().map_err(|_| OsRngError)
    }

    fn try_next_u64(&mut self) -> Result<u64, OsRngError> {
        getrandom::u64().map_err(|_| OsRngError)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), OsRngError> {
        getrandom::fill(dst).map_err(|_| OsRngError)
    }
}

impl TryCryptoRng for OsRng {}

/// Key generation needs an infallible CSPRNG; rather than panic if the OS generator fails
/// mid-way, draw a 384-bit seed up front (fallibly) and expand it Hash_DRBG-style:
/// block_i = SHA-384(seed || i).
struct KeygenRng {
    seed: Zeroizing<[u8; 48]>,
    counter: u64,
    block: Zeroizing<[u8; 48]>,
    used: usize,
}

impl KeygenRng {
    fn new(seed: &[u8; 48]) -> Self {
        Self {
            seed: Zeroizing::new(*seed),
            counter: 0,
            block: Zeroizing::new([0u8; 48]),
            used: 48,
        }
    }

    fn fill(&mut self, mut dst: &mut [u8]) {
        while !dst.is_empty() {
            if self.used >= self.block.len() {
                let mut hasher = Sha384::new();
                hasher.update(self.seed.as_slice());
                hasher.update(self.counter.to_be_bytes());
                for (out, byte) in self.block.iter_mut().zip(hasher.finalize()) {
                    *out = byte;
                }
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            let available = self.block.get(self.used..).unwrap_or_default();
            let take = available.len().min(dst.len());
            let (head, tail) = dst.split_at_mut(take);
            for (out, byte) in head.iter_mut().zip(available) {
                *out = *byte;
            }
            self.used += take;
            dst = tail;
        }
    }
}

impl TryRng for KeygenRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0u8; 4];
        self.fill(&mut bytes);
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0u8; 8];
        self.fill(&mut bytes);
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dst);
        Ok(())
    }
}

impl TryCryptoRng for KeygenRng {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assertion::tests::{b64, fixture, verify};
    use crate::random::SeededRandom;

    fn load(pem: &str) -> PrivateKey {
        PrivateKey::from_pem(pem).unwrap()
    }

    fn reason(err: ConfigurationError) -> String {
        match err {
            ConfigurationError::Invalid { attribute, reason } => {
                assert_eq!(attribute, "private_key");
                reason
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    fn pem_err(pem: &str) -> String {
        reason(PrivateKey::from_pem(pem).unwrap_err())
    }

    fn jwk_err(jwk: &str) -> String {
        reason(PrivateKey::from_jwk(jwk).unwrap_err())
    }

    fn signs_and_verifies(key: &PrivateKey) {
        let input = b"eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0";
        let signature = key.sign(input).unwrap();
        assert!(verify(&key.public_jwk().unwrap(), input, &signature));
    }

    #[test]
    fn every_pem_form_loads_and_signs() {
        let rsa8 = load(fixture!("rsa2048.pkcs8.pem"));
        let rsa1 = load(fixture!("rsa2048.pkcs1.pem"));
        let ec8 = load(fixture!("p384.pkcs8.pem"));
        let sec1 = load(fixture!("p384.sec1.pem"));
        let with_params = load(fixture!("p384.with-params.sec1.pem"));
        assert_eq!(rsa8.algorithm(), JwsAlgorithm::RS384);
        assert_eq!(rsa1.algorithm(), JwsAlgorithm::RS384);
        assert_eq!(ec8.algorithm(), JwsAlgorithm::ES384);
        assert_eq!(sec1.algorithm(), JwsAlgorithm::ES384);
        assert_eq!(with_params.algorithm(), JwsAlgorithm::ES384);
        // The same key in two encodings.
        assert_eq!(rsa8.public_jwk(), rsa1.public_jwk());
        assert_eq!(ec8.public_jwk(), sec1.public_jwk());
        for key in [&rsa8, &rsa1, &ec8, &sec1, &with_params] {
            signs_and_verifies(key);
        }
    }

    #[test]
    fn pem_tolerates_crlf_indentation_and_escaped_newlines() {
        let pem = fixture!("p384.pkcs8.pem");
        let expected = load(pem).public_jwk();
        let crlf = pem.replace('\n', "\r\n");
        let indented: String = pem.lines().map(|l| format!("    {l}\n")).collect();
        let escaped = pem.trim_end().replace('\n', "\\n");
        let surrounded = format!(
            "# my key\n{pem}\n-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"
        );
        for variant in [crlf, indented, escaped, surrounded] {
            assert_eq!(load(&variant).public_jwk(), expected, "{variant}");
        }
    }

    #[test]
    fn signatures_have_jws_shape() {
        let ec = load(fixture!("p384.sec1.pem"));
        let a = ec.sign(b"input").unwrap();
        assert_eq!(a.len(), 96);
        let b = ec.sign(b"input").unwrap();
        if ec.backend() == SigningBackend::RustCrypto {
            assert_eq!(a, b, "RFC 6979: deterministic");
        } else {
            // AWS-LC draws a fresh nonce each time; both must verify.
            let public = ec.public_jwk().unwrap();
            assert!(verify(&public, b"input", &a) && verify(&public, b"input", &b));
        }
        let ec = ec.into_rust_crypto();
        assert_eq!(
            ec.sign(b"input").unwrap(),
            ec.sign(b"input").unwrap(),
            "RFC 6979: deterministic"
        );
        let rsa = load(fixture!("rsa2048.pkcs1.pem"));
        let s = rsa.sign(b"input").unwrap();
        assert_eq!(s.len(), 256);
        assert_eq!(
            s,
            rsa.sign(b"input").unwrap(),
            "PKCS#1 v1.5 is deterministic"
        );
    }

    #[test]
    fn exported_jwks_have_the_right_shape() {
        let ec = load(fixture!("p384.pkcs8.pem")).public_jwk().unwrap();
        assert_eq!(ec.kty, "EC");
        assert_eq!(ec.crv.as_deref(), Some("P-384"));
        for coordinate in [&ec.x, &ec.y] {
            let text = coordinate.as_deref().unwrap();
            assert_eq!(text.len(), 64);
            assert!(!text.contains('='));
            assert_eq!(b64(text).len(), 48);
        }
        assert!(ec.n.is_none() && ec.e.is_none() && ec.kid.is_none() && ec.alg.is_none());

        let rsa = load(fixture!("rsa2048.pkcs8.pem")).public_jwk().unwrap();
        assert_eq!(rsa.kty, "RSA");
        assert_eq!(rsa.e.as_deref(), Some("AQAB"));
        let n = rsa.n.as_deref().unwrap();
        assert_eq!(n.len(), 342, "256 bytes, unpadded");
        assert!(!n.contains('='));
        assert_eq!(b64(n).len(), 256);
        assert_ne!(b64(n)[0], 0, "no leading zero octet");
        assert!(rsa.crv.is_none() && rsa.x.is_none() && rsa.y.is_none());

        let named = rsa.with_kid("rsa-1");
        assert_eq!(named.kid.as_deref(), Some("rsa-1"));
        assert_eq!(named.alg.as_deref(), Some("RS384"));
        assert_eq!(named.use_.as_deref(), Some("sig"));
    }

    #[test]
    fn exported_jwk_loads_into_a_verifying_key_that_verifies() {
        // Through JSON, as a server would receive it at registration.
        for pem in [fixture!("p384.sec1.pem"), fixture!("rsa2048.pkcs1.pem")] {
            let key = load(pem);
            let jwks = crate::assertion::Jwks {
                keys: vec![key.public_jwk().unwrap().with_kid("k")],
            };
            let json = serde_json::to_string(&jwks).unwrap();
            let received: crate::assertion::Jwks = serde_json::from_str(&json).unwrap();
            let signature = key.sign(b"a.b").unwrap();
            assert!(verify(&received.keys[0], b"a.b", &signature));
            assert!(!verify(&received.keys[0], b"a.c", &signature));
        }
    }

    #[test]
    fn jwk_forms_load() {
        // EC with and without x/y.
        let ec = PrivateKey::from_jwk(fixture!("smart-es384.private.jwk.json")).unwrap();
        let d_only = r#"{"kty":"EC","crv":"P-384","d":"hQCNmfvZEUjOon8zLc0bULlmrDPFHrieFHRVZUGMuiQscx9IO7MT03TsaCPdPv0u"}"#;
        assert_eq!(
            PrivateKey::from_jwk(d_only).unwrap().public_jwk(),
            ec.public_jwk()
        );
        signs_and_verifies(&ec);

        // RSA: full, without CRT values, without primes (recovered from n, e, d).
        let full: serde_json::Value =
            serde_json::from_str(fixture!("smart-rs384.private.jwk.json")).unwrap();
        let rsa = PrivateKey::from_jwk(&full.to_string()).unwrap();
        let mut no_crt = full.clone();
        for member in ["dp", "dq", "qi"] {
            no_crt.as_object_mut().unwrap().remove(member);
        }
        let mut no_primes = no_crt.clone();
        for member in ["p", "q"] {
            no_primes.as_object_mut().unwrap().remove(member);
        }
        for variant in [no_crt, no_primes] {
            let key = PrivateKey::from_jwk(&variant.to_string()).unwrap();
            assert_eq!(key.public_jwk(), rsa.public_jwk());
            signs_and_verifies(&key);
        }

        // A JWK Set with the public and private entries, as the SMART example files are.
        let set = serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-384", "x": ec.public.x, "y": ec.public.y, "key_ops": ["verify"]},
            serde_json::from_str::<serde_json::Value>(fixture!("smart-es384.private.jwk.json")).unwrap(),
        ]});
        let from_set = PrivateKey::from_jwk(&set.to_string()).unwrap();
        assert_eq!(from_set.public_jwk(), ec.public_jwk());
    }

    #[test]
    fn exported_pkcs8_round_trips() {
        for pem in [fixture!("p384.sec1.pem"), fixture!("rsa2048.pkcs1.pem")] {
            let key = load(pem);
            let exported = key.to_pkcs8_pem().unwrap();
            assert!(
                exported
                    .expose()
                    .starts_with("-----BEGIN PRIVATE KEY-----\n")
            );
            assert_eq!(format!("{exported:?}"), "[REDACTED]");
            assert_eq!(load(exported.expose()).public_jwk(), key.public_jwk());
        }
    }

    #[test]
    fn generated_keys_work() {
        let a = PrivateKey::generate_es384(&mut SeededRandom::new(1)).unwrap();
        let b = PrivateKey::generate_es384(&mut SeededRandom::new(1)).unwrap();
        let c = PrivateKey::generate_es384(&mut SeededRandom::new(2)).unwrap();
        assert_eq!(a.public_jwk(), b.public_jwk());
        assert_ne!(a.public_jwk(), c.public_jwk());
        signs_and_verifies(&a);

        let rsa = PrivateKey::generate_rs384(2048).unwrap();
        assert_eq!(rsa.algorithm(), JwsAlgorithm::RS384);
        assert_eq!(b64(rsa.public.n.as_deref().unwrap()).len(), 256);
        signs_and_verifies(&rsa);
        let exported = rsa.to_pkcs8_pem().unwrap();
        assert_eq!(load(exported.expose()).public_jwk(), rsa.public_jwk());
    }

    #[test]
    fn generate_rejects_bad_sizes_and_failing_random() {
        for bits in [0, 1024, 2047, 8193, usize::MAX] {
            let err = PrivateKey::generate_rs384(bits).unwrap_err();
            assert!(matches!(err, Error::Configuration(_)), "{bits}: {err}");
        }
        #[derive(Debug)]
        struct Zeros;
        impl RandomSource for Zeros {
            fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
                dest.fill(0);
                Ok(())
            }
        }
        // Zero is not a valid scalar: the generator gives up instead of looping forever.
        assert!(matches!(
            PrivateKey::generate_es384(&mut Zeros),
            Err(Error::Random(_))
        ));
    }

    #[test]
    fn keygen_rng_is_deterministic_across_block_boundaries() {
        let seed = [7u8; 48];
        let mut one = KeygenRng::new(&seed);
        let mut whole = [0u8; 100];
        one.fill(&mut whole);
        let mut two = KeygenRng::new(&seed);
        let mut pieces = [0u8; 100];
        let (a, rest) = pieces.split_at_mut(47);
        two.fill(a);
        let (b, c) = rest.split_at_mut(2);
        two.fill(b);
        two.fill(c);
        assert_eq!(whole, pieces);
        let first_block: [u8; 48] = {
            let mut h = Sha384::new();
            h.update(seed);
            h.update(0u64.to_be_bytes());
            h.finalize().into()
        };
        assert_eq!(&whole[..48], &first_block);
        assert_ne!(&whole[..48], &whole[48..96]);
    }

    #[test]
    fn other_curves_are_refused_with_the_p384_message() {
        for pem in [
            fixture!("p256.pkcs8.pem"),
            fixture!("p256.sec1.pem"),
            fixture!("p521.pkcs8.pem"),
            fixture!("p521.sec1.pem"),
        ] {
            let message = pem_err(pem);
            assert!(
                message.contains("ES384 requires P-384 (secp384r1) curve"),
                "{message}"
            );
        }
        assert!(pem_err(fixture!("p256.sec1.pem")).contains("P-256"));
        assert!(pem_err(fixture!("p521.pkcs8.pem")).contains("P-521"));
        for crv in ["P-256", "P-521", "secp256k1"] {
            let jwk = format!(r#"{{"kty":"EC","crv":"{crv}","d":"AQ","x":"AQ","y":"AQ"}}"#);
            let message = jwk_err(&jwk);
            assert!(
                message.contains("ES384 requires P-384 (secp384r1) curve"),
                "{message}"
            );
            assert!(message.contains(crv));
        }
        // A 66-byte d is a P-521 key even if it claims P-384.
        let big = format!(
            r#"{{"kty":"EC","crv":"P-384","d":"{}"}}"#,
            Base64UrlUnpadded::encode_string(&[1u8; 66])
        );
        assert!(jwk_err(&big).contains("ES384 requires P-384 (secp384r1) curve"));
    }

    #[test]
    fn small_rsa_keys_are_refused() {
        let message = pem_err(fixture!("rsa1024.pkcs8.pem"));
        assert!(message.contains("1024 bits"), "{message}");
        assert!(message.contains("at least 2048"), "{message}");
    }

    #[test]
    fn unusable_pem_is_refused_with_a_hint() {
        let cases = [
            ("", "no PEM block found"),
            (
                "-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n",
                "only EC PARAMETERS",
            ),
            ("hello world", "no PEM block found"),
            (r#"{"kty":"EC"}"#, "from_jwk"),
            (fixture!("p384.public.pem"), "public key"),
            (fixture!("p384.encrypted.pem"), "encrypted"),
            (fixture!("ed25519.pkcs8.pem"), "EdDSA"),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "certificate",
            ),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
                "ssh-keygen",
            ),
            ("-----BEGIN PRIVATE KEY-----\nMIIB\n", "truncated"),
            (
                "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
                "not valid base64",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "could not be decoded",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                "could not be decoded",
            ),
            (
                "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
                "could not be decoded",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                "encrypted",
            ),
        ];
        for (pem, expected) in cases {
            let message = pem_err(pem);
            assert!(message.contains(expected), "{pem:?}: {message}");
        }
        // The PKCS#8 RSA key presented as PKCS#1 (wrong label) fails cleanly.
        let relabelled = fixture!("rsa2048.pkcs8.pem").replace("PRIVATE KEY", "RSA PRIVATE KEY");
        assert!(pem_err(&relabelled).contains("could not be decoded"));
    }

    #[test]
    fn unusable_jwk_is_refused_with_a_hint() {
        let ec = r#""kty":"EC","crv":"P-384""#;
        let cases = [
            ("not json".to_owned(), "not valid JSON (line 1, column 2)"),
            ("[1]".to_owned(), "JSON object"),
            (
                r#"{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}"#.to_owned(),
                "no private part",
            ),
            (r#"{"d":"AA"}"#.to_owned(), "no \"kty\""),
            (
                r#"{"kty":"OKP","crv":"Ed25519","d":"AA"}"#.to_owned(),
                "unsupported JWK kty \"OKP\"",
            ),
            (
                r#"{"kty":7,"d":"AA"}"#.to_owned(),
                "\"kty\" must be a string",
            ),
            (format!(r#"{{{ec},"d":"***"}}"#), "\"d\" is not base64url"),
            (format!(r#"{{{ec},"d":""}}"#), "\"d\" is empty"),
            (format!(r#"{{{ec},"d":42}}"#), "\"d\" must be a string"),
            (r#"{"kty":"EC","d":"AQ"}"#.to_owned(), "no \"crv\""),
            (
                format!(r#"{{{ec},"d":"AQ"}}"#),
                "not a valid P-384 private key",
            ),
            (
                r#"{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB","p":"AQ"}"#.to_owned(),
                "only one of",
            ),
            (
                r#"{"kty":"RSA","e":"AQAB","d":"AQAB"}"#.to_owned(),
                "required member \"n\"",
            ),
            (
                r#"{"kty":"RSA","n":"wAE","e":"AQAB","d":"AQAB"}"#.to_owned(),
                "longer than the modulus",
            ),
            (
                r#"{"kty":"RSA","n":"wAE","e":"AQAB","d":"AQ"}"#.to_owned(),
                "do not form a valid RSA",
            ),
            (r#"{"keys":{}}"#.to_owned(), "must be an array"),
            (r#"{"keys":[{"kty":"EC"}]}"#.to_owned(), "no private key"),
            (
                r#"{"keys":[{"d":"AA"},{"d":"AA"}]}"#.to_owned(),
                "more than one private key",
            ),
        ];
        for (jwk, expected) in cases {
            let message = jwk_err(&jwk);
            assert!(message.contains(expected), "{jwk}: {message}");
        }
        // x/y from a different key.
        let mut mixed: serde_json::Value =
            serde_json::from_str(fixture!("smart-es384.private.jwk.json")).unwrap();
        let other: serde_json::Value =
            serde_json::from_str(fixture!("smart-backend-es384.private.jwk.json")).unwrap();
        mixed["x"] = other["x"].clone();
        assert!(jwk_err(&mixed.to_string()).contains("do not match"));
        // Primes from a different key.
        let mut rsa: serde_json::Value =
            serde_json::from_str(fixture!("smart-rs384.private.jwk.json")).unwrap();
        rsa["p"] = rsa["q"].clone();
        assert!(jwk_err(&rsa.to_string()).contains("do not form a valid RSA"));
    }

    #[test]
    fn no_key_material_in_errors_or_debug() {
        const CANARY: &str = "CANARYc4n4ryCANARY";
        let mut messages = Vec::new();
        // Canary in every private member, with wrong types, bad base64 and bad values.
        for member in ["d", "p", "q", "n", "e", "x", "y"] {
            for value in [
                format!("\"{CANARY}\""),
                format!("\"{CANARY}!!\""),
                format!("[\"{CANARY}\"]"),
                format!("{{\"{CANARY}\":1}}"),
            ] {
                for kty in ["RSA", "EC"] {
                    let jwk = format!(
                        r#"{{"kty":"{kty}","crv":"P-384","n":"wAE","e":"AQAB","d":"AQ","{member}":{value}}}"#
                    );
                    messages.push(PrivateKey::from_jwk(&jwk).unwrap_err().to_string());
                }
            }
        }
        messages.push(
            PrivateKey::from_jwk(&format!("{{\"d\": {CANARY}}}"))
                .unwrap_err()
                .to_string(),
        );
        messages.push(
            PrivateKey::from_jwk(&format!("\"{CANARY}\""))
                .unwrap_err()
                .to_string(),
        );
        // Canary as PEM bodies.
        for label in [
            "PRIVATE KEY",
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "PUBLIC KEY",
        ] {
            for body in [
                CANARY.to_owned(),
                format!("{CANARY}AA=="),
                format!("{CANARY}!"),
            ] {
                let pem = format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n");
                messages.push(PrivateKey::from_pem(&pem).unwrap_err().to_string());
            }
        }
        messages.push(PrivateKey::from_pem(CANARY).unwrap_err().to_string());
        for message in &messages {
            assert!(!message.contains("CANARY"), "{message}");
            assert!(!message.contains("c4n4ry"), "{message}");
        }

        // Real key material never shows in Debug or in errors about that key.
        let jwk: serde_json::Value =
            serde_json::from_str(fixture!("smart-rs384.private.jwk.json")).unwrap();
        let secrets: Vec<String> = ["d", "p", "q", "dp", "dq", "qi"]
            .iter()
            .map(|m| jwk[m].as_str().unwrap()[..16].to_owned())
            .collect();
        let key = PrivateKey::from_jwk(&jwk.to_string()).unwrap();
        let mut broken = jwk.clone();
        broken["q"] = jwk["p"].clone();
        let texts = [
            format!("{key:?}"),
            format!("{key:#?}"),
            PrivateKey::from_jwk(&broken.to_string())
                .unwrap_err()
                .to_string(),
            format!(
                "{:?}",
                PrivateKey::from_jwk(&broken.to_string()).unwrap_err()
            ),
        ];
        for text in &texts {
            for secret in &secrets {
                assert!(!text.contains(secret.as_str()), "{text}");
            }
        }
        let pem = fixture!("p384.sec1.pem");
        let body_line = pem.lines().nth(1).unwrap();
        let truncated = &pem[..pem.len() - 10];
        for text in [
            format!("{:?}", load(pem)),
            PrivateKey::from_pem(truncated).unwrap_err().to_string(),
        ] {
            assert!(!text.contains(&body_line[..20]), "{text}");
        }
    }

    #[cfg(feature = "aws-lc")]
    #[test]
    fn aws_lc_holds_the_same_public_key() {
        let ec = load(fixture!("p384.sec1.pem"));
        let mut point = vec![4u8];
        point.extend(b64(ec.public.x.as_deref().unwrap()));
        point.extend(b64(ec.public.y.as_deref().unwrap()));
        assert_eq!(ec.fast.as_ref().unwrap().public_key_bytes(), point);

        let rsa = load(fixture!("rsa2048.pkcs1.pem"));
        let der = rsa.fast.as_ref().unwrap().public_key_bytes();
        let n = b64(rsa.public.n.as_deref().unwrap());
        assert!(der.windows(n.len()).any(|window| window == n));
        assert!(rsa.into_rust_crypto().fast.is_none());
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", load(fixture!("rsa2048.pkcs8.pem"))),
            "PrivateKey { algorithm: RS384, key: [REDACTED] }"
        );
        assert_eq!(
            format!("{:?}", load(fixture!("p384.pkcs8.pem"))),
            "PrivateKey { algorithm: ES384, key: [REDACTED] }"
        );
    }

    #[test]
    fn fuzz_regression_begin_line_without_dashes_does_not_echo_key_material() {
        // Found by fuzz target private_key (fuzz/regressions/private_key/begin-line-without-dashes):
        // a BEGIN line missing its closing dashes made the key body part of the "label",
        // which the error message quoted.
        let pem = "-----BEGIN PRIVATE KEY\nMIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbCANARY\n-----END PRIVATE KEY-----\n";
        let err = PrivateKey::from_pem(pem).unwrap_err().to_string();
        assert!(!err.contains("CANARY"), "{err}");
        assert!(!err.contains("MIG2"), "{err}");
        assert!(err.contains("BEGIN line is malformed"), "{err}");
    }
}
