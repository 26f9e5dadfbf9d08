//! Values at rest: AES-256-GCM with a random 96-bit nonce per write, bound to the Redis key name
//! and the version by the associated data.
//!
//! Stored blob (the whole Redis string value):
//!
//! ```text
//! byte 0        format (1)
//! bytes 1..9    version, u64 big-endian (in clear: the compare-and-swap script reads it)
//! bytes 9..21   nonce (random, 12 bytes)
//! bytes 21..    ciphertext, then the 16-byte GCM tag
//! ```
//!
//! Associated data: `"safire-redis/1" 0x00 <redis key name> 0x00 <format> <version BE>`. A value
//! copied to another key, or put back under another version (a rollback of the version bytes), no
//! longer decrypts.

use std::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use safire_core::{StoreError, StoreErrorKind};
use sha2::Sha256;
use zeroize::Zeroize;

pub(crate) const FORMAT: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes before the ciphertext.
pub(crate) const HEADER_LEN: usize = 1 + 8 + NONCE_LEN;

/// The application's 32-byte key for values at rest (AES-256-GCM).
///
/// Every process of a fleet must use the same key. It is wiped from memory on drop and never
/// printed (`Debug` shows `EncryptionKey(..)`).
///
/// ```
/// use safire_redis::EncryptionKey;
/// let key = EncryptionKey::from_bytes([7u8; 32]);
/// assert_eq!(format!("{key:?}"), "EncryptionKey(..)");
/// assert!(EncryptionKey::from_slice(&[1, 2, 3]).is_err());
/// ```
#[derive(Clone)]
pub struct EncryptionKey {
    bytes: [u8; 32],
}

impl EncryptionKey {
    /// A key from its 32 bytes (e.g. decoded from a secret manager).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self { bytes }
    }

    /// A key from a slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, StoreError> {
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
            StoreError::new(
                StoreErrorKind::Other,
                format!(
                    "an AES-256-GCM key is 32 bytes, this one is {}",
                    bytes.len()
                ),
            )
        })?;
        Ok(Self { bytes })
    }

    /// A new random key from the operating system (for tests and first-time setup; a fleet
    /// shares one key, so store it in your secret manager).
    pub fn generate() -> Result<Self, StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| {
            StoreError::new(StoreErrorKind::Other, "the OS random generator failed")
        })?;
        Ok(Self { bytes })
    }

    /// An opaque key name for an arbitrary identifier (a user id, a patient id, an OAuth
    /// `sub`): 32 hex characters of HMAC-SHA-256 under a subkey derived from this key.
    ///
    /// Use it when the natural key of a session is something that must not appear in Redis.
    /// Being keyed, the name cannot be reversed by hashing a dictionary of likely ids. The
    /// same id gives the same name in every process that has the same key.
    ///
    /// ```
    /// use safire_redis::EncryptionKey;
    /// let key = EncryptionKey::from_bytes([7u8; 32]);
    /// let name = key.key_name("patient-123");
    /// assert_eq!(name.len(), 32);
    /// assert!(!name.contains("123"));
    /// assert_eq!(name, key.key_name("patient-123"));
    /// assert_ne!(name, key.key_name("patient-124"));
    /// ```
    pub fn key_name(&self, id: &str) -> String {
        KeyNamer::new(self).name(id)
    }

    pub(crate) fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.bytes.into())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// [`EncryptionKey::key_name`] with its subkey derived once (the stores hash every name that
/// is not plain this way).
#[derive(Clone)]
pub(crate) struct KeyNamer(Hmac<Sha256>);

impl KeyNamer {
    pub(crate) fn new(key: &EncryptionKey) -> Self {
        let mut derive = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.bytes)
            .expect("HMAC accepts keys of any length");
        derive.update(b"safire-redis/1 key names");
        let mut subkey: [u8; 32] = derive.finalize().into_bytes().into();
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&subkey)
            .expect("HMAC accepts keys of any length");
        subkey.zeroize();
        Self(mac)
    }

    /// 32 hex characters of HMAC-SHA-256(subkey, id).
    pub(crate) fn name(&self, id: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut name = String::with_capacity(32);
        for byte in &digest[..16] {
            name.push(char::from(HEX[usize::from(byte >> 4)]));
            name.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        name
    }
}

impl Drop for EncryptionKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(..)")
    }
}

fn associated_data(redis_key: &str, version: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + redis_key.len() + 9);
    aad.extend_from_slice(b"safire-redis/1\0");
    aad.extend_from_slice(redis_key.as_bytes());
    aad.push(0);
    aad.push(FORMAT);
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// Encrypts `plaintext` for `redis_key` at `version` into a stored blob.
pub(crate) fn seal(
    cipher: &Aes256Gcm,
    redis_key: &str,
    version: u64,
    plaintext: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce)
        .map_err(|_| StoreError::new(StoreErrorKind::Other, "the OS random generator failed"))?;
    let mut blob = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    blob.push(FORMAT);
    blob.extend_from_slice(&version.to_be_bytes());
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(plaintext);
    let aad = associated_data(redis_key, version);
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(nonce), &aad, (&mut blob[HEADER_LEN..]).into())
        .map_err(|_| StoreError::new(StoreErrorKind::Other, "the value is too large to encrypt"))?;
    blob.extend_from_slice(tag.as_slice());
    Ok(blob)
}

/// The version in a stored blob's header, without decrypting it.
pub(crate) fn blob_version(blob: &[u8]) -> Result<u64, StoreError> {
    if blob.len() < HEADER_LEN + TAG_LEN || blob[0] != FORMAT {
        return Err(corrupt());
    }
    let mut version = [0u8; 8];
    version.copy_from_slice(&blob[1..9]);
    Ok(u64::from_be_bytes(version))
}

/// Decrypts a stored blob read from `redis_key`: its version and plaintext, or `Corrupt`.
pub(crate) fn open(
    cipher: &Aes256Gcm,
    redis_key: &str,
    mut blob: Vec<u8>,
) -> Result<(u64, Vec<u8>), StoreError> {
    let version = blob_version(&blob)?;
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&blob[9..HEADER_LEN]);
    let tag_at = blob.len() - TAG_LEN;
    let tag = Tag::try_from(&blob[tag_at..]).map_err(|_| corrupt())?;
    let aad = associated_data(redis_key, version);
    cipher
        .decrypt_inout_detached(
            &Nonce::from(nonce),
            &aad,
            (&mut blob[HEADER_LEN..tag_at]).into(),
            &tag,
        )
        .map_err(|_| corrupt())?;
    blob.truncate(tag_at);
    blob.drain(..HEADER_LEN);
    Ok((version, blob))
}

fn corrupt() -> StoreError {
    StoreError::new(
        StoreErrorKind::Corrupt,
        "a stored value cannot be decrypted (tampered, truncated, or written with another key)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> EncryptionKey {
        EncryptionKey::from_bytes([42u8; 32])
    }

    #[test]
    fn round_trip_and_header() {
        let cipher = key().cipher();
        let blob = seal(&cipher, "safire:s:a", 7, b"secret token").unwrap();
        assert_eq!(blob.len(), HEADER_LEN + 12 + TAG_LEN);
        assert_eq!(blob_version(&blob).unwrap(), 7);
        assert!(!blob.windows(6).any(|w| w == b"secret"));
        let (version, plain) = open(&cipher, "safire:s:a", blob).unwrap();
        assert_eq!((version, plain.as_slice()), (7, &b"secret token"[..]));
    }

    #[test]
    fn nonces_differ_per_write() {
        let cipher = key().cipher();
        let a = seal(&cipher, "k", 1, b"same").unwrap();
        let b = seal(&cipher, "k", 1, b"same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn wrong_key_other_name_rolled_back_version_or_any_flipped_bit_is_corrupt() {
        let cipher = key().cipher();
        let blob = seal(&cipher, "safire:s:a", 7, b"secret token").unwrap();
        let other = EncryptionKey::from_bytes([1u8; 32]).cipher();
        assert_eq!(
            open(&other, "safire:s:a", blob.clone()).unwrap_err().kind,
            StoreErrorKind::Corrupt
        );
        assert_eq!(
            open(&cipher, "safire:s:b", blob.clone()).unwrap_err().kind,
            StoreErrorKind::Corrupt
        );
        let mut rolled = blob.clone();
        rolled[8] ^= 1;
        assert_eq!(
            open(&cipher, "safire:s:a", rolled).unwrap_err().kind,
            StoreErrorKind::Corrupt
        );
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x80;
            assert_eq!(
                open(&cipher, "safire:s:a", bad).unwrap_err().kind,
                StoreErrorKind::Corrupt,
                "bit flip at {i}"
            );
        }
        for len in 0..blob.len() {
            assert_eq!(
                open(&cipher, "safire:s:a", blob[..len].to_vec())
                    .unwrap_err()
                    .kind,
                StoreErrorKind::Corrupt,
                "truncated to {len}"
            );
        }
    }

    #[test]
    fn key_from_slice_checks_length() {
        assert!(EncryptionKey::from_slice(&[0u8; 31]).is_err());
        assert!(EncryptionKey::from_slice(&[0u8; 32]).is_ok());
    }
}
