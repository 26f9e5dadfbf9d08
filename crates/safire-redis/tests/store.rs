//! The store contract of `safire_core::store` on a real Redis, both stores; what Redis holds.

mod harness;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use harness::RedisServer;
use redis::Commands;
use safire_redis::{
    AsyncRedisStore, AsyncSessionStore, EncryptionKey, RedisConfig, RedisStore, SessionStore,
    StoreErrorKind,
};

const KEY: [u8; 32] = [0x5a; 32];

fn config(server: &RedisServer) -> RedisConfig {
    RedisConfig::new(&server.url()).unwrap()
}

fn store(server: &RedisServer) -> RedisStore {
    RedisStore::new(config(server), EncryptionKey::from_bytes(KEY)).unwrap()
}

#[test]
fn blocking_contract() {
    let server = RedisServer::start();
    let store = store(&server);
    store.ping().unwrap();
    assert_eq!(store.load("s1").unwrap(), None);
    assert_eq!(store.version("s1").unwrap(), None);
    // Writing "from a version" when the key is absent loses.
    assert_eq!(store.compare_and_swap("s1", Some(5), b"x").unwrap(), None);

    let v1 = store.compare_and_swap("s1", None, b"one").unwrap().unwrap();
    assert!(
        v1 > 1_600_000_000_000,
        "first version is the time in ms: {v1}"
    );
    // Creating again loses: it exists now.
    assert_eq!(store.compare_and_swap("s1", None, b"other").unwrap(), None);
    let loaded = store.load("s1").unwrap().unwrap();
    assert_eq!((loaded.version, loaded.bytes.as_slice()), (v1, &b"one"[..]));
    assert_eq!(store.version("s1").unwrap(), Some(v1));

    let v2 = store
        .compare_and_swap("s1", Some(v1), b"two")
        .unwrap()
        .unwrap();
    assert_eq!(v2, v1 + 1);
    // A stale writer from v1 loses and writes nothing.
    assert_eq!(
        store.compare_and_swap("s1", Some(v1), b"stale").unwrap(),
        None
    );
    assert_eq!(store.load("s1").unwrap().unwrap().bytes, b"two");
    assert_eq!(store.version("s1").unwrap(), Some(v2));

    // An empty value is a value.
    let v3 = store
        .compare_and_swap("s1", Some(v2), b"")
        .unwrap()
        .unwrap();
    assert_eq!(store.load("s1").unwrap().unwrap().bytes, b"");

    store.delete("s1").unwrap();
    assert_eq!(store.load("s1").unwrap(), None);
    assert_eq!(store.compare_and_swap("s1", Some(v3), b"x").unwrap(), None);
    store.delete("s1").unwrap(); // deleting nothing is fine

    // Leases: exclusive, released only by their holder.
    let lease = store
        .try_lock("s1", Duration::from_secs(30))
        .unwrap()
        .unwrap();
    assert_eq!(lease.key, "s1");
    assert_eq!(lease.holder.len(), 32);
    assert_eq!(store.try_lock("s1", Duration::from_secs(30)).unwrap(), None);
    let mut forged = lease.clone();
    forged.holder = "0".repeat(32);
    store.release(&forged).unwrap();
    assert_eq!(store.try_lock("s1", Duration::from_secs(30)).unwrap(), None);
    store.release(&lease).unwrap();
    let again = store
        .try_lock("s1", Duration::from_secs(30))
        .unwrap()
        .unwrap();
    assert_ne!(again.holder, lease.holder);
    // The old holder's late release does not free the new holder's lease.
    store.release(&lease).unwrap();
    assert_eq!(store.try_lock("s1", Duration::from_secs(30)).unwrap(), None);
    // The lease is independent of the value.
    assert!(store.compare_and_swap("s1", None, b"v").unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_contract() {
    let server = RedisServer::start();
    let store = AsyncRedisStore::new(config(&server), EncryptionKey::from_bytes(KEY)).unwrap();
    store.ping().await.unwrap();
    assert_eq!(store.load("a1").await.unwrap(), None);
    let v1 = store
        .compare_and_swap("a1", None, b"one")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.compare_and_swap("a1", None, b"x").await.unwrap(),
        None
    );
    let v2 = store
        .compare_and_swap("a1", Some(v1), b"two")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v2, v1 + 1);
    assert_eq!(
        store.compare_and_swap("a1", Some(v1), b"x").await.unwrap(),
        None
    );
    let loaded = store.load("a1").await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.bytes.as_slice()), (v2, &b"two"[..]));
    assert_eq!(store.version("a1").await.unwrap(), Some(v2));

    // The blocking store reads what the async one wrote (same key, same format).
    let blocking = self::store(&server);
    let from_blocking = tokio::task::spawn_blocking(move || blocking.load("a1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(from_blocking.bytes, b"two");

    let lease = store
        .try_lock("a1", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.try_lock("a1", Duration::from_secs(30)).await.unwrap(),
        None
    );
    store.release(&lease).await.unwrap();
    assert!(
        store
            .try_lock("a1", Duration::from_secs(30))
            .await
            .unwrap()
            .is_some()
    );
    store.delete("a1").await.unwrap();
    assert_eq!(store.load("a1").await.unwrap(), None);
}

/// 64 tasks on one async store and 16 threads on one blocking store race from the same
/// version: exactly one wins each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_races_have_one_winner_per_version() {
    let server = RedisServer::start();
    let store =
        Arc::new(AsyncRedisStore::new(config(&server), EncryptionKey::from_bytes(KEY)).unwrap());
    let mut version = store
        .compare_and_swap("race", None, b"0")
        .await
        .unwrap()
        .unwrap();
    for round in 0..5 {
        let barrier = Arc::new(tokio::sync::Barrier::new(64));
        let tasks: Vec<_> = (0..64)
            .map(|task| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let bytes = format!("{round}-{task}");
                    store
                        .compare_and_swap("race", Some(version), bytes.as_bytes())
                        .await
                        .unwrap()
                        .map(|new| (new, bytes))
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            winners.extend(task.await.unwrap());
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let (new, bytes) = winners.pop().unwrap();
        assert_eq!(new, version + 1);
        assert_eq!(
            store.load("race").await.unwrap().unwrap().bytes,
            bytes.as_bytes()
        );
        version = new;
    }

    let blocking = Arc::new(self::store(&server));
    let winners = tokio::task::spawn_blocking(move || {
        let barrier = Arc::new(Barrier::new(16));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (store, barrier) = (blocking.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store
                        .compare_and_swap("race", Some(version), b"thread")
                        .unwrap()
                })
            })
            .collect();
        threads
            .into_iter()
            .filter_map(|thread| thread.join().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert_eq!(winners, vec![version + 1]);
}

#[test]
fn what_redis_holds_is_unreadable_without_the_key() {
    let server = RedisServer::start();
    let store = store(&server);
    let token = b"eyJhbGciOiJSUzI1NiJ9.patient-4711-access-token.c2lnbmF0dXJl";
    let session = [
        &br#"{"access_token":""#[..],
        token,
        br#"","patient":"patient-4711"}"#,
    ]
    .concat();
    let name = EncryptionKey::from_bytes(KEY).key_name("patient-4711");
    let version = store
        .compare_and_swap(&name, None, &session)
        .unwrap()
        .unwrap();

    let mut raw = server.raw();
    let keys: Vec<String> = raw.keys("*").unwrap();
    assert_eq!(keys, vec![format!("safire:s:{name}")]);
    assert!(!keys[0].contains("4711"));
    let blob: Vec<u8> = raw.get(&keys[0]).unwrap();
    assert_eq!(blob, store.load_raw(&name).unwrap().unwrap());
    // Format byte, version in clear, then 12 + len + 16 bytes of nonce, ciphertext and tag.
    assert_eq!(blob.len(), 1 + 8 + 12 + session.len() + 16);
    assert_eq!(blob[0], 1);
    assert_eq!(blob[1..9], version.to_be_bytes());
    for needle in [
        &token[..],
        b"access_token",
        b"4711",
        b"patient",
        b"eyJ",
        b"signature",
    ] {
        assert!(
            !blob.windows(needle.len()).any(|window| window == needle),
            "plaintext {:?} visible in Redis",
            String::from_utf8_lossy(needle)
        );
    }

    // Another key cannot read it: Corrupt, not a panic, and the message shows no value.
    let other = RedisStore::new(config(&server), EncryptionKey::from_bytes([1; 32])).unwrap();
    let err = other.load(&name).unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Corrupt);
    assert!(!format!("{err} {err:?}").contains("4711"));
    // The owner still can.
    assert_eq!(store.load(&name).unwrap().unwrap().bytes, session);

    // Tampering with any part is Corrupt: the version (rollback), the nonce, the ciphertext,
    // the tag; a truncated value; a value that is not ours at all.
    for offset in [1usize, 8, 9, 20, 21, blob.len() - 1] {
        let mut bad = blob.clone();
        bad[offset] ^= 0x01;
        let _: () = raw.set(&keys[0], bad).unwrap();
        assert_eq!(
            store.load(&name).unwrap_err().kind,
            StoreErrorKind::Corrupt,
            "flipped byte {offset}"
        );
    }
    let _: () = raw.set(&keys[0], &blob[..30]).unwrap();
    assert_eq!(store.load(&name).unwrap_err().kind, StoreErrorKind::Corrupt);
    let _: () = raw.set(&keys[0], "hello").unwrap();
    assert_eq!(store.load(&name).unwrap_err().kind, StoreErrorKind::Corrupt);
    assert_eq!(
        store.version(&name).unwrap_err().kind,
        StoreErrorKind::Corrupt
    );
    // A copy of a valid value under another name does not decrypt either (the name is bound).
    let _: () = raw.set(&keys[0], &blob).unwrap();
    let _: () = raw.set("safire:s:elsewhere", &blob).unwrap();
    assert_eq!(
        store.load("elsewhere").unwrap_err().kind,
        StoreErrorKind::Corrupt
    );
    // A key of another Redis type: a typed error, not a panic.
    let _: () = raw.hset("safire:s:hash", "f", "v").unwrap();
    let err = store.load("hash").unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Other);
    assert!(store.compare_and_swap("hash", None, b"x").is_err());
}

#[test]
fn names_that_are_not_plain_reach_redis_only_hashed() {
    let server = RedisServer::start();
    let store = store(&server);
    let mut raw = server.raw();
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig";
    let url = "safire:session:svc@https://ehr.example/fhir#patient-4711";
    let long = "a".repeat(129);
    let names = [jwt, url, "has space", "slash/in", "ünïcode", &long];
    for (i, name) in names.iter().enumerate() {
        let bytes = format!("value {i}");
        let v = store
            .compare_and_swap(name, None, bytes.as_bytes())
            .unwrap()
            .unwrap();
        let loaded = store.load(name).unwrap().unwrap();
        assert_eq!((loaded.version, loaded.bytes), (v, bytes.into_bytes()));
        assert_eq!(store.version(name).unwrap(), Some(v));
        let lease = store
            .try_lock(name, Duration::from_secs(30))
            .unwrap()
            .unwrap();
        assert_eq!(lease.key, *name);
        assert_eq!(store.try_lock(name, Duration::from_secs(30)).unwrap(), None);
        store.release(&lease).unwrap();
        // The Redis key is the keyed hash, the same one `key_name` gives.
        let hashed = EncryptionKey::from_bytes(KEY).key_name(name);
        let stored: Vec<u8> = raw.get(format!("safire:s:#{hashed}")).unwrap();
        assert!(!stored.is_empty());
    }
    let keys: Vec<String> = raw.keys("*").unwrap();
    assert_eq!(keys.len(), names.len(), "{keys:?}");
    for key in &keys {
        let hash = key.strip_prefix("safire:s:#").expect(key);
        assert!(
            hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{key}"
        );
    }
    // Plain names are kept as they are (operators can read them), up to 128 bytes.
    store
        .compare_and_swap("backend:ehr-a_1", None, b"x")
        .unwrap()
        .unwrap();
    store
        .compare_and_swap(&"a".repeat(128), None, b"x")
        .unwrap()
        .unwrap();
    let keys: Vec<String> = raw.keys("safire:s:[ab]*").unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.contains(&"safire:s:backend:ehr-a_1".to_owned()));
    // A plain name cannot collide with a hashed one (`#` is not plain).
    assert_eq!(
        store
            .load(&format!(
                "#{}",
                EncryptionKey::from_bytes(KEY).key_name(jwt)
            ))
            .unwrap(),
        None
    );

    // Empty and over-long names are refused without being echoed.
    let huge = "x".repeat(1025);
    for bad in ["", huge.as_str()] {
        let err = store.load(bad).unwrap_err();
        assert_eq!(err.kind, StoreErrorKind::Other);
        assert!(!bad.is_empty() || err.to_string().contains("1 to 1024 bytes"));
        assert!(!err.to_string().contains("xxxx"), "{err}");
        assert!(store.compare_and_swap(bad, None, b"x").is_err());
        assert!(store.try_lock(bad, Duration::from_secs(1)).is_err());
    }
    assert!(store.load(&"x".repeat(1024)).unwrap().is_none());
}

#[test]
fn prefix_and_value_ttl_apply() {
    let server = RedisServer::start();
    let store = RedisStore::new(
        config(&server)
            .prefix("app1:")
            .value_ttl(Some(Duration::from_secs(600))),
        EncryptionKey::from_bytes(KEY),
    )
    .unwrap();
    let v = store.compare_and_swap("k", None, b"x").unwrap().unwrap();
    let lease = store
        .try_lock("k", Duration::from_secs(20))
        .unwrap()
        .unwrap();
    let mut raw = server.raw();
    let ttl: i64 = raw.pttl("app1:s:k").unwrap();
    assert!((599_000..=600_000).contains(&ttl), "{ttl}");
    let lock_ttl: i64 = raw.pttl("app1:l:k").unwrap();
    assert!((19_000..=20_000).contains(&lock_ttl), "{lock_ttl}");
    let holder: String = raw.get("app1:l:k").unwrap();
    assert_eq!(holder, lease.holder);
    // Each write sets the expiry again.
    let _: () = raw.pexpire("app1:s:k", 5_000).unwrap();
    store.compare_and_swap("k", Some(v), b"y").unwrap().unwrap();
    let ttl: i64 = raw.pttl("app1:s:k").unwrap();
    assert!(ttl > 590_000, "{ttl}");
    // Without value_ttl, no expiry.
    let plain = self::store(&server);
    plain.compare_and_swap("k", None, b"x").unwrap().unwrap();
    let ttl: i64 = raw.pttl("safire:s:k").unwrap();
    assert_eq!(ttl, -1);
}

#[test]
fn config_and_store_debug_hide_the_password() {
    let config = RedisConfig::new("redis://user:hunter2@127.0.0.1:1/3").unwrap();
    let store = RedisStore::new(config.clone(), EncryptionKey::from_bytes(KEY)).unwrap();
    for text in [format!("{config:?}"), format!("{store:?}")] {
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("127.0.0.1:1"), "{text}");
    }
    let err = RedisConfig::new("http://user:hunter2@x/").unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}
