//! What the blocking and the async store share, without I/O: the Redis client, the key names
//! and the cipher; the command each store operation sends and what it makes of the answer.
//! Each store only sends the command (its own way) and hands the answer back.

use std::time::Duration;

use aes_gcm::Aes256Gcm;
use redis::{Client, Cmd};
use safire_core::{Lease, StoreError, StoreErrorKind, Versioned};

use crate::config::{self, Names, RedisConfig};
use crate::crypto::{self, EncryptionKey};

pub(crate) struct Keyspace {
    pub(crate) client: Client,
    pub(crate) config: RedisConfig,
    names: Names,
    cipher: Aes256Gcm,
}

impl Keyspace {
    /// The client for the Redis of `config`, encrypting with `key`. Does not connect yet.
    pub(crate) fn new(config: RedisConfig, key: &EncryptionKey) -> Result<Self, StoreError> {
        let client = Client::open(config.info.clone()).map_err(|err| {
            StoreError::new(StoreErrorKind::Other, "the Redis address is unusable").with_source(err)
        })?;
        Ok(Self {
            client,
            cipher: key.cipher(),
            names: Names::new(&config, key),
            config,
        })
    }

    /// What a `PING` answer means.
    pub(crate) fn pong(answer: &str) -> Result<(), StoreError> {
        if answer == "PONG" {
            Ok(())
        } else {
            Err(StoreError::new(
                StoreErrorKind::Other,
                "PING: Redis answered something else",
            ))
        }
    }

    /// `GET` of the value under `key`, and its Redis key (to open the answer with).
    pub(crate) fn get(&self, key: &str) -> Result<(Cmd, String), StoreError> {
        let redis_key = self.names.value_key(key)?;
        Ok((config::get_cmd(&redis_key), redis_key))
    }

    /// Decrypts what a [`get`](Self::get) answered.
    pub(crate) fn open(
        &self,
        redis_key: &str,
        blob: Option<Vec<u8>>,
    ) -> Result<Option<Versioned>, StoreError> {
        blob.map(|blob| {
            crypto::open(&self.cipher, redis_key, blob)
                .map(|(version, bytes)| Versioned { version, bytes })
        })
        .transpose()
    }

    /// Decrypts raw bytes read under `key`.
    pub(crate) fn open_raw(&self, key: &str, raw: Vec<u8>) -> Result<Versioned, StoreError> {
        let redis_key = self.names.value_key(key)?;
        crypto::open(&self.cipher, &redis_key, raw)
            .map(|(version, bytes)| Versioned { version, bytes })
    }

    /// The 9-byte `GETRANGE` that reads the version under `key` (see [`config::parse_version`]).
    pub(crate) fn version(&self, key: &str) -> Result<Cmd, StoreError> {
        Ok(config::version_cmd(&self.names.value_key(key)?))
    }

    /// The compare-and-swap script writing `bytes` sealed as the next version after
    /// `expected`, and that version (the script answers 1 when it wrote).
    pub(crate) fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<u64>,
        bytes: &[u8],
    ) -> Result<(Cmd, u64), StoreError> {
        let redis_key = self.names.value_key(key)?;
        let version = config::next_version(expected)?;
        let blob = crypto::seal(&self.cipher, &redis_key, version, bytes)?;
        let cmd = config::cas_cmd(&redis_key, expected, &blob, self.config.ttl_arg());
        Ok((cmd, version))
    }

    /// The `SET NX PX` taking the lease on `key`, and the lease it is when Redis answers `OK`.
    pub(crate) fn try_lock(&self, key: &str, ttl: Duration) -> Result<(Cmd, Lease), StoreError> {
        let lock_key = self.names.lock_key(key)?;
        let holder = config::new_holder()?;
        let cmd = config::lock_cmd(&lock_key, &holder, ttl);
        Ok((
            cmd,
            Lease {
                key: key.to_owned(),
                holder,
                ttl,
            },
        ))
    }

    /// The script releasing `lease` if it is still ours.
    pub(crate) fn release(&self, lease: &Lease) -> Result<Cmd, StoreError> {
        Ok(config::release_cmd(
            &self.names.lock_key(&lease.key)?,
            &lease.holder,
        ))
    }

    /// `DEL` of the value under `key`.
    pub(crate) fn delete(&self, key: &str) -> Result<Cmd, StoreError> {
        Ok(config::del_cmd(&self.names.value_key(key)?))
    }
}
