//! Key generation for the pre-registered clients (OS randomness).

use std::io;

use p384::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::Value;

use crate::jose;

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// A generated client key pair.
pub(crate) struct KeyPair {
    pub(crate) kid: String,
    pub(crate) private_key_pem: String,
    pub(crate) public_jwk: Value,
}

/// Random URL-safe id.
pub(crate) fn random_id(bytes: usize) -> io::Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(io_err)?;
    Ok(jose::b64url(&buf))
}

/// A client secret with characters that RFC 6749 §2.3.1 form-encoding
/// changes (`+ / : % = & space`), so a client that skips the encoding fails
/// against the sandbox instead of passing by luck.
pub(crate) fn random_secret() -> io::Result<String> {
    const SPECIAL: [char; 7] = ['+', '/', ':', '%', '=', '&', ' '];
    let body = random_id(24)?;
    let mut out = String::with_capacity(body.len() + 2 * SPECIAL.len());
    let mut specials = SPECIAL.iter();
    for (i, c) in body.chars().enumerate() {
        out.push(c);
        if i % 4 == 3
            && let Some(s) = specials.next()
        {
            out.push(*s);
        }
    }
    out.push('!');
    Ok(out)
}

/// Fresh P-384 key (rejection-sampled from 48 OS-random bytes).
pub(crate) fn generate_es384(kid_prefix: &str) -> io::Result<KeyPair> {
    for _ in 0..64 {
        let mut seed = [0u8; 48];
        getrandom::fill(&mut seed).map_err(io_err)?;
        let Ok(sk) = p384::ecdsa::SigningKey::from_slice(&seed) else {
            continue;
        };
        let kid = format!("{kid_prefix}-{}", random_id(6)?);
        let pem = sk.to_pkcs8_pem(LineEnding::LF).map_err(io_err)?;
        return Ok(KeyPair {
            public_jwk: jose::p384_public_jwk(sk.verifying_key(), &kid),
            kid,
            private_key_pem: pem.to_string(),
        });
    }
    Err(io_err("could not derive a P-384 scalar from OS randomness"))
}

/// `rand_core` adapter over `getrandom` (the RSA crate wants a `CryptoRng`).
struct OsRng;

impl rsa::rand_core::TryRng for OsRng {
    type Error = getrandom::Error;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        getrandom::u32()
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        getrandom::u64()
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        getrandom::fill(dst)
    }
}

impl rsa::rand_core::TryCryptoRng for OsRng {}

/// Fresh RSA-2048 private key. Slow in debug builds (seconds).
pub(crate) fn generate_rsa() -> io::Result<rsa::RsaPrivateKey> {
    // UnwrapErr panics only if the OS RNG itself fails mid-generation.
    let mut rng = rsa::rand_core::UnwrapErr(OsRng);
    rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(io_err)
}

/// Fresh RSA-2048 key. Slow in debug builds (seconds).
pub(crate) fn generate_rs384(kid_prefix: &str) -> io::Result<KeyPair> {
    let sk = generate_rsa()?;
    let kid = format!("{kid_prefix}-{}", random_id(6)?);
    let pem = sk.to_pkcs8_pem(LineEnding::LF).map_err(io_err)?;
    Ok(KeyPair {
        public_jwk: jose::rsa_public_jwk(sk.as_public_key(), &kid),
        kid,
        private_key_pem: pem.to_string(),
    })
}
