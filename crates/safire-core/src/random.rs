//! Randomness comes in from outside so that every flow is reproducible in tests.

use crate::error::Error;

/// A source of cryptographically secure random bytes.
///
/// Production code uses [`OsRandom`]; tests pass a seeded source so that states, PKCE
/// verifiers and `jti` values are known in advance.
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

/// A deterministic generator for tests and simulations (SplitMix64). **Not secure.**
///
/// ```
/// use safire_core::{RandomSource, SeededRandom};
/// let (mut a, mut b) = (SeededRandom::new(7), SeededRandom::new(7));
/// let (mut x, mut y) = ([0u8; 8], [0u8; 8]);
/// a.fill_bytes(&mut x).unwrap();
/// b.fill_bytes(&mut y).unwrap();
/// assert_eq!(x, y);
/// ```
#[derive(Debug, Clone)]
pub struct SeededRandom {
    state: u64,
}

impl SeededRandom {
    /// A generator that always produces the same bytes for the same seed.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl RandomSource for SeededRandom {
    fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            for (d, s) in chunk.iter_mut().zip(bytes.iter()) {
                *d = *s;
            }
        }
        Ok(())
    }
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    fn fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        (**self).fill_bytes(dest)
    }
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
    fn os_random_fills() {
        let mut a = [0u8; 32];
        OsRandom.fill_bytes(&mut a).unwrap();
        assert_ne!(a, [0u8; 32]);
    }
}
