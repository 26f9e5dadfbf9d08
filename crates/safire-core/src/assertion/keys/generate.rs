//! Making fresh keys. Every random bit comes from the caller's [`RandomSource`], so a seeded
//! source gives the same key on every run (tests, sandboxes) and [`OsRandom`] a fresh one.
//!
//! [`OsRandom`]: crate::OsRandom

use rsa::RsaPrivateKey;
use zeroize::Zeroizing;

use super::{MAX_RSA_BITS, MIN_RSA_BITS, P384_BYTES, PrivateKey, invalid};
use crate::error::Error;
use crate::random::{RandomSource, seeded_from};

impl PrivateKey {
    /// Generates a fresh P-384 key for `ES384` from `random`.
    ///
    /// For quick starts, sandboxes and tests: with [`SeededRandom`](crate::SeededRandom) the key
    /// is the same on every run. Production keys should come from [`OsRandom`](crate::OsRandom).
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

    /// Generates a fresh RSA key of `bits` bits (2048–8192) for `RS384` from `random`.
    ///
    /// 256 bits are drawn from `random` up front and expanded with ChaCha20 for the prime
    /// search (which needs a generator that cannot fail half-way), so a failing source is an
    /// [`Error::Random`], and [`SeededRandom`](crate::SeededRandom) gives the same key on every
    /// run.
    ///
    /// Slow (hundreds of milliseconds to seconds); meant for tests and examples. Deployments
    /// should generate keys once with their usual tooling and load them with
    /// [`Self::from_pem`].
    ///
    /// ```no_run
    /// use safire_core::{JwsAlgorithm, OsRandom, PrivateKey, Signer};
    /// let key = PrivateKey::generate_rs384(2048, &mut OsRandom).unwrap();
    /// assert_eq!(key.algorithm(), JwsAlgorithm::RS384);
    /// ```
    pub fn generate_rs384(bits: usize, random: &mut dyn RandomSource) -> Result<Self, Error> {
        let wanted = u32::try_from(bits).unwrap_or(u32::MAX);
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&wanted) {
            return Err(invalid(format!(
                "cannot generate a {bits}-bit RSA key; use 2048 to {MAX_RSA_BITS} bits \
                 (3072 or more recommended)"
            ))
            .into());
        }
        let mut rng = seeded_from(random)?;
        let key = RsaPrivateKey::new(&mut rng, bits)
            .map_err(|_| Error::Signing("generating the RSA key failed".to_owned()))?;
        Self::from_rsa(key).map_err(Error::from)
    }
}
