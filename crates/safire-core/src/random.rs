//! Randomness comes in from outside so that every flow is reproducible in tests.
//!
//! # Where Safire uses randomness
//!
//! Every random value the core makes is drawn from the [`RandomSource`] the caller passes in
//! (the one in [`Env`](crate::Env), or the argument of the function):
//!
//! * the `state`, PKCE verifier and `nonce` of an authorization request;
//! * the `jti` of a client assertion ([`ClientAssertion::sign`](crate::ClientAssertion::sign));
//! * the blinding of the RSA private-key operation when a [`PrivateKey`](crate::PrivateKey)
//!   signs `RS384` (RUSTSEC-2023-0071, the Marvin attack): [`ClientAssertion::sign`] hands
//!   its source to [`Signer::sign_with_random`](crate::Signer::sign_with_random);
//! * key generation ([`PrivateKey::generate_es384`](crate::PrivateKey::generate_es384),
//!   [`PrivateKey::generate_rs384`](crate::PrivateKey::generate_rs384)).
//!
//! `ES384` signatures from the default (RustCrypto) backend need no randomness: their nonces
//! are derived from the key and the message (RFC 6979).
//!
//! **The one exception is the `aws-lc` signing backend.** AWS-LC blinds RSA and draws ECDSA
//! nonces from its own generator, seeded by the operating system, and aws-lc-rs offers no way
//! to hand it another one (its signing functions take a generator and ignore it). With that
//! cargo feature on, signatures therefore do not come from your source; a key converted with
//! [`PrivateKey::into_rust_crypto`](crate::PrivateKey::into_rust_crypto) signs with the
//! RustCrypto backend and follows the rule above.
//!
//! Calling [`Signer::sign`](crate::Signer::sign) on a [`PrivateKey`](crate::PrivateKey)
//! yourself, with no source at hand, blinds with [`OsRandom`].
//!
//! Like rustls's `SecureRandom`, a [`RandomSource`] must be a cryptographically secure
//! generator in production: [`OsRandom`] is; [`SeededRandom`] is for tests only.
//!
//! [`ClientAssertion::sign`]: crate::ClientAssertion::sign

use std::fmt;

use chacha20::ChaCha20Rng;
use chacha20::rand_core::{SeedableRng, TryCryptoRng, TryRng};

use crate::error::Error;

/// A source of cryptographically secure random bytes.
///
/// Production code uses [`OsRandom`]; tests pass a seeded source so that states, PKCE
/// verifiers and `jti` values are known in advance.
///
/// Everything random the core makes comes from the source the caller passes in (the one in
/// [`Env`](crate::Env), or a function's argument): the `state`, PKCE verifier and `nonce` of an
/// authorization request, the `jti` of a client assertion, the blinding of RSA signatures made
/// by a [`PrivateKey`](crate::PrivateKey) (RUSTSEC-2023-0071), and key generation. The one
/// exception is the `aws-lc` signing backend: AWS-LC blinds RSA and draws ECDSA nonces from its
/// own OS-seeded generator; a key converted with
/// [`PrivateKey::into_rust_crypto`](crate::PrivateKey::into_rust_crypto) follows the rule.
///
/// ```
/// use safire_core::{OsRandom, RandomSource};
/// let mut bytes = [0u8; 16];
/// OsRandom.fill_bytes(&mut bytes).unwrap();
/// ```
pub trait RandomSource {
    /// Fills `dest` with random bytes.
    fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error>;
}

/// The operating system's random number generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        getrandom::fill(dest).map_err(|e| Error::Random(e.to_string()))
    }
}

/// A deterministic generator for tests and simulations: ChaCha20 keyed from a `u64` seed.
///
/// The stream is the `chacha20` crate's `ChaCha20Rng` seeded with `seed_from_u64`, so it is
/// the same on every platform and run. **Not secure:** a 64-bit seed can be guessed. Use
/// [`OsRandom`] in production.
///
/// ```
/// use safire_core::{RandomSource, SeededRandom};
/// let (mut a, mut b) = (SeededRandom::new(7), SeededRandom::new(7));
/// let (mut x, mut y) = ([0u8; 8], [0u8; 8]);
/// a.fill_bytes(&mut x).unwrap();
/// b.fill_bytes(&mut y).unwrap();
/// assert_eq!(x, y);
/// ```
pub struct SeededRandom {
    rng: ChaCha20Rng,
}

impl SeededRandom {
    /// A generator that always produces the same bytes for the same seed.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha20Rng::seed_from_u64(seed),
        }
    }
}

impl Clone for SeededRandom {
    /// A generator at the same position of the same stream.
    fn clone(&self) -> Self {
        Self {
            rng: ChaCha20Rng::deserialize_state(&self.rng.serialize_state()),
        }
    }
}

impl fmt::Debug for SeededRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeededRandom { .. }")
    }
}

impl RandomSource for SeededRandom {
    fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        let Ok(()) = self.rng.try_fill_bytes(dest);
        Ok(())
    }
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        (**self).fill_bytes(dest)
    }
}

/// A [`RandomSource`] in the shape the RustCrypto crates want (`rand_core`'s fallible
/// [`TryCryptoRng`]), for RSA blinding.
///
/// The source's own [`Error`] cannot travel through `rand_core` (the `rsa` crate replaces it
/// with its own), so the adapter keeps the first one: after a failed operation,
/// [`RngAdapter::into_error`] returns it to the caller unchanged.
pub(crate) struct RngAdapter<'a> {
    source: &'a mut dyn RandomSource,
    failure: Option<Error>,
}

impl<'a> RngAdapter<'a> {
    pub(crate) fn new(source: &'a mut dyn RandomSource) -> Self {
        Self {
            source,
            failure: None,
        }
    }

    /// The error of the source, if it failed.
    pub(crate) fn into_error(self) -> Option<Error> {
        self.failure
    }
}

/// The error [`RngAdapter`] reports to `rand_core`; the real one stays in the adapter.
#[derive(Debug, thiserror::Error)]
#[error("the random source failed")]
pub(crate) struct SourceFailed;

impl TryRng for RngAdapter<'_> {
    type Error = SourceFailed;

    fn try_next_u32(&mut self) -> Result<u32, SourceFailed> {
        let mut bytes = [0u8; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, SourceFailed> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), SourceFailed> {
        if self.failure.is_some() {
            return Err(SourceFailed);
        }
        self.source.fill_bytes(dst).map_err(|e| {
            self.failure = Some(e);
            SourceFailed
        })
    }
}

/// Only as good as the [`RandomSource`] behind it, which the trait requires to be secure.
impl TryCryptoRng for RngAdapter<'_> {}

/// An infallible CSPRNG expanded from 256 bits of `source`, for the RustCrypto operations that
/// cannot take a fallible generator (RSA key generation): the seed is drawn up front, where a
/// failure is an error instead of a panic half-way through.
pub(crate) fn seeded_from(source: &mut dyn RandomSource) -> Result<ChaCha20Rng, Error> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    source.fill_bytes(seed.as_mut_slice())?;
    Ok(ChaCha20Rng::from_seed(*seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_deterministic_and_seed_dependent() {
        let mut a = [0u8; 20];
        let mut b = [0u8; 20];
        let mut c = [0u8; 20];
        SeededRandom::new(1).fill_bytes(&mut a).unwrap();
        SeededRandom::new(1).fill_bytes(&mut b).unwrap();
        SeededRandom::new(2).fill_bytes(&mut c).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn seeded_is_the_standard_chacha20_stream() {
        // The ChaCha20 keystream for an all-zero key and nonce (RFC 7539 §A.1 test vector 1),
        // reached through `from_seed`, proves the generator is the standard one; `new` keys
        // it from the seed with rand_core's `seed_from_u64`.
        let mut rng = ChaCha20Rng::from_seed([0u8; 32]);
        let mut block = [0u8; 16];
        let Ok(()) = rng.try_fill_bytes(&mut block);
        assert_eq!(
            block,
            [
                0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90, 0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86,
                0xbd, 0x28
            ]
        );
        let mut ours = [0u8; 48];
        let mut expected = [0u8; 48];
        SeededRandom::new(5).fill_bytes(&mut ours).unwrap();
        let Ok(()) = ChaCha20Rng::seed_from_u64(5).try_fill_bytes(&mut expected);
        assert_eq!(ours, expected);
    }

    #[test]
    fn a_clone_continues_the_same_stream() {
        let mut a = SeededRandom::new(3);
        let mut skip = [0u8; 13];
        a.fill_bytes(&mut skip).unwrap();
        let mut b = a.clone();
        let (mut x, mut y) = ([0u8; 40], [0u8; 40]);
        a.fill_bytes(&mut x).unwrap();
        b.fill_bytes(&mut y).unwrap();
        assert_eq!(x, y);
        assert_eq!(format!("{a:?}"), "SeededRandom { .. }");
    }

    #[test]
    fn os_random_fills() {
        let mut a = [0u8; 32];
        OsRandom.fill_bytes(&mut a).unwrap();
        assert_ne!(a, [0u8; 32]);
    }

    #[derive(Debug)]
    struct FailAfter(usize);

    impl RandomSource for FailAfter {
        fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
            if self.0 == 0 {
                return Err(Error::Random("exhausted".into()));
            }
            self.0 -= 1;
            dest.fill(0xAB);
            Ok(())
        }
    }

    #[test]
    fn adapter_forwards_bytes_and_keeps_the_first_error() {
        let mut source = FailAfter(1);
        let mut adapter = RngAdapter::new(&mut source);
        assert_eq!(adapter.try_next_u32().unwrap(), 0xABAB_ABAB);
        assert!(adapter.try_next_u64().is_err());
        assert!(adapter.try_fill_bytes(&mut [0u8; 4]).is_err());
        assert_eq!(
            adapter.into_error(),
            Some(Error::Random("exhausted".into()))
        );

        let mut fine = SeededRandom::new(1);
        let mut adapter = RngAdapter::new(&mut fine);
        let mut bytes = [0u8; 8];
        adapter.try_fill_bytes(&mut bytes).unwrap();
        assert_eq!(adapter.into_error(), None);
        let mut direct = [0u8; 8];
        SeededRandom::new(1).fill_bytes(&mut direct).unwrap();
        assert_eq!(bytes, direct, "the adapter adds nothing of its own");
    }

    #[test]
    fn seeded_from_draws_its_seed_from_the_source() {
        let mut a = seeded_from(&mut SeededRandom::new(4)).unwrap();
        let mut b = seeded_from(&mut SeededRandom::new(4)).unwrap();
        let mut c = seeded_from(&mut SeededRandom::new(5)).unwrap();
        let (mut x, mut y, mut z) = ([0u8; 32], [0u8; 32], [0u8; 32]);
        let (Ok(()), Ok(()), Ok(())) = (
            a.try_fill_bytes(&mut x),
            b.try_fill_bytes(&mut y),
            c.try_fill_bytes(&mut z),
        );
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_eq!(
            seeded_from(&mut FailAfter(0)).err(),
            Some(Error::Random("exhausted".into()))
        );
    }
}
