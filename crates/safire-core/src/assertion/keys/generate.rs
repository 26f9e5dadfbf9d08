//! Making fresh keys: ES384 from the caller's [`RandomSource`], RS384 from the OS.

use std::convert::Infallible;

use rsa::RsaPrivateKey;
use rsa::rand_core::{TryCryptoRng, TryRng};
use sha2::{Digest, Sha384};
use zeroize::Zeroizing;

use super::{MAX_RSA_BITS, MIN_RSA_BITS, P384_BYTES, PrivateKey, invalid};
use crate::error::Error;
use crate::random::{OsRandom, RandomSource};

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
}

/// Key generation needs an infallible CSPRNG; rather than panic if the OS generator fails
/// mid-way, draw a 384-bit seed up front (fallibly) and expand it Hash_DRBG-style:
/// block_i = SHA-384(seed || i).
pub(super) struct KeygenRng {
    seed: Zeroizing<[u8; 48]>,
    counter: u64,
    block: Zeroizing<[u8; 48]>,
    used: usize,
}

impl KeygenRng {
    pub(super) fn new(seed: &[u8; 48]) -> Self {
        Self {
            seed: Zeroizing::new(*seed),
            counter: 0,
            block: Zeroizing::new([0u8; 48]),
            used: 48,
        }
    }

    pub(super) fn fill(&mut self, mut dst: &mut [u8]) {
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
