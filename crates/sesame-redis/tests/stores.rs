//! The Redis stores' own behaviour beyond the conformance suite: Django's keys, values and
//! TTLs byte for byte, unreadable values failing closed, `cached_db`'s cache rules, and what
//! an unreachable Redis does to each engine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{TimeDelta, Utc};
use common::fresh;
use redis::AsyncCommands;
use serde_json::{Value, json};
use sesame_core::session::{
    MemorySessionStore, Session, SessionCodec, SessionConfig, SessionData, SessionRecord,
    SessionStore, StoreError, new_session_key,
};
use sesame_redis::{
    CACHE_KEY_PREFIX, CACHED_DB_KEY_PREFIX, CachedDbSessionStore, RedisCache, RedisConfig,
    RedisSessionStore, pickle,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn dict(v: Value) -> SessionData {
    v.as_object().cloned().unwrap()
}

fn until(data: &SessionData, seconds: i64) -> SessionRecord<'_> {
    SessionRecord {
        data,
        expire_date: Utc::now() + TimeDelta::seconds(seconds),
    }
}

/// A URL where nothing listens.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("redis://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_values_and_ttls_are_djangos() {
    let Some(t) = fresh().await else { return };
    let store = RedisSessionStore::new(t.cache.clone());
    let key = new_session_key();
    // The session Django 5.2 stored in spec/django-sessions.md §4.2, byte for byte.
    let data = dict(json!({"_auth_user_id": "42", "n": 7, "_session_expiry": 600}));
    store.create(&key, until(&data, 600)).await.unwrap();
    let mut raw = t.raw().await;
    let full = format!(
        "{}:1:django.contrib.sessions.cache{key}",
        t.config.key_prefix
    );
    assert_eq!(full, t.key(CACHE_KEY_PREFIX, &key));
    let value: Vec<u8> = raw.get(&full).await.unwrap();
    assert_eq!(
        hex::encode(value),
        "80059535000000000000007d94288c0d5f617574685f757365725f6964948c023432948c016e944b078c0f5f73657373696f6e5f657870697279944d5802752e"
    );
    let ttl: i64 = raw.pttl(&full).await.unwrap();
    assert!((598_000..=600_000).contains(&ttl), "PTTL {ttl}");
    // Saving slides the TTL to the new expiry age.
    store.save(&key, until(&data, 60), true).await.unwrap();
    let ttl: i64 = raw.pttl(&full).await.unwrap();
    assert!((58_000..=60_000).contains(&ttl), "PTTL {ttl}");
    // An expiry in the past removes the key, as Django's cache does for a timeout <= 0.
    store.save(&key, until(&data, -5), true).await.unwrap();
    assert!(!store.exists(&key).await.unwrap());
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_and_prefix_are_honoured() {
    let Some(t) = fresh().await else { return };
    let v3 = RedisCache::new(t.config.clone().with_version(3)).unwrap();
    let store = RedisSessionStore::new(v3);
    let key = new_session_key();
    let data = dict(json!({"a": 1}));
    store.create(&key, until(&data, 60)).await.unwrap();
    let full = format!("{}:3:{CACHE_KEY_PREFIX}{key}", t.config.key_prefix);
    assert_eq!(t.keys().await, vec![full]);
    // VERSION 1 does not see VERSION 3's sessions, as in Django.
    let v1 = RedisSessionStore::new(t.cache.clone());
    assert_eq!(v1.load(&key).await.unwrap(), None);
    assert_eq!(store.load(&key).await.unwrap(), Some(data));
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_values_load_as_no_session_and_are_never_overwritten() {
    let Some(t) = fresh().await else { return };
    let store = Arc::new(RedisSessionStore::new(t.cache.clone()));
    let mut raw = t.raw().await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // {"when": datetime.datetime(2024, 1, 2, 3, 4, 5)}, pickled by CPython, protocol 5.
        ("datetime", hex::decode("80059534000000000000007d948c047768656e948c086461746574696d65948c086461746574696d65949394430a07e801020304050000009485945294732e").unwrap()),
        // os.system("true") as a pickle: GLOBAL + REDUCE.
        ("os.system", b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.".to_vec()),
        // What Django's RedisSerializer stores for a bare int.
        ("int", b"42".to_vec()),
        ("list", pickle::dumps_value(&json!([1, 2])).unwrap()),
        ("garbage", b"\x80\x05\xff\xff".to_vec()),
        ("truncated", pickle::dumps(&dict(json!({"a": "b"}))).unwrap()[..10].to_vec()),
    ];
    for (what, value) in cases {
        let key = new_session_key();
        let full = t.key(CACHE_KEY_PREFIX, &key);
        let _: () = raw.set_ex(&full, &value, 60).await.unwrap();
        assert_eq!(store.load(&key).await.unwrap(), None, "{what}");
        assert!(store.exists(&key).await.unwrap(), "{what}: still there");
        // A request with that cookie gets a fresh session; the foreign value stays as it was.
        let mut s = Session::new(store.clone(), SessionConfig::default(), Some(&key));
        assert_eq!(s.get("when").await.unwrap(), None, "{what}");
        s.insert("mine", json!(1)).await.unwrap();
        s.save().await.unwrap();
        assert_ne!(s.session_key(), Some(key.as_str()), "{what}: new key");
        let after: Vec<u8> = raw.get(&full).await.unwrap();
        assert_eq!(after, value, "{what}: untouched");
    }
    // A value over the decoding limit is never transferred in full.
    let small = RedisCache::new(t.config.clone().with_limits(pickle::Limits {
        max_input_bytes: 1000,
        ..pickle::Limits::default()
    }))
    .unwrap();
    let key = new_session_key();
    let big = dict(json!({"blob": "x".repeat(5000)}));
    RedisSessionStore::new(t.cache.clone())
        .create(&key, until(&big, 60))
        .await
        .unwrap();
    assert_eq!(
        small
            .get_raw(&format!("{CACHE_KEY_PREFIX}{key}"))
            .await
            .unwrap()
            .map(|v| v.len()),
        Some(1001)
    );
    assert_eq!(
        RedisSessionStore::new(small).load(&key).await.unwrap(),
        None
    );
    // Keys a server never issues are not looked up at all.
    assert_eq!(store.load("../../etc/passwd").await.unwrap(), None);
    assert_eq!(store.load("SHORT").await.unwrap(), None);
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_db_reads_the_cache_first_and_fills_it_for_the_time_left() {
    let Some(t) = fresh().await else { return };
    let db = Arc::new(MemorySessionStore::new(SessionCodec::new("k")));
    let store = CachedDbSessionStore::new(t.cache.clone(), db.clone());
    let mut raw = t.raw().await;
    let key = new_session_key();
    let full = t.key(CACHED_DB_KEY_PREFIX, &key);
    // A record only in the database (written by a process without the cache).
    let data = dict(json!({"v": 1}));
    db.create(&key, until(&data, 100)).await.unwrap();
    assert!(
        !store
            .cache()
            .has_key(&format!("{CACHED_DB_KEY_PREFIX}{key}"))
            .await
            .unwrap()
    );
    assert_eq!(store.load(&key).await.unwrap(), Some(data.clone()));
    let ttl: i64 = raw.pttl(&full).await.unwrap();
    assert!(
        (98_000..=100_000).contains(&ttl),
        "filled for the time left: {ttl}"
    );
    // The cached copy now answers, even when the database changes behind its back.
    db.save(&key, until(&dict(json!({"v": 2})), 100), true)
        .await
        .unwrap();
    assert_eq!(store.load(&key).await.unwrap(), Some(data));
    // Saving through the store writes both.
    let v3 = dict(json!({"v": 3}));
    store.save(&key, until(&v3, 50), true).await.unwrap();
    assert_eq!(db.load(&key).await.unwrap(), Some(v3.clone()));
    let cached: Vec<u8> = raw.get(&full).await.unwrap();
    assert_eq!(pickle::loads(&cached, &Default::default()).unwrap(), v3);
    // Deleting removes both.
    store.delete(&key).await.unwrap();
    assert!(!db.exists(&key).await.unwrap());
    let exists: bool = raw.exists(&full).await.unwrap();
    assert!(!exists);
    // A value Sesame cannot read in the cache falls back to the database.
    let key = new_session_key();
    db.create(&key, until(&v3, 100)).await.unwrap();
    let _: () = raw
        .set_ex(
            t.key(CACHED_DB_KEY_PREFIX, &key),
            b"\x80\x05cos\nsystem\n.",
            60,
        )
        .await
        .unwrap();
    assert_eq!(store.load(&key).await.unwrap(), Some(v3));
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis() {
    let config = RedisConfig::new(dead_url())
        .with_timeouts(Duration::from_millis(300), Duration::from_millis(300));
    // The cache engine: every operation is a quick 503 (Unavailable), never a hang or a panic.
    let store = RedisSessionStore::connect(config.clone()).unwrap();
    let key = new_session_key();
    let data = dict(json!({"a": 1}));
    let start = Instant::now();
    assert!(matches!(
        store.load(&key).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.create(&key, until(&data, 60)).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.delete(&key).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    // cached_db: the database answers alone; only deleting, which must not leave a cached
    // copy behind, reports the outage, and then it has changed nothing.
    let db = Arc::new(MemorySessionStore::new(SessionCodec::new("k")));
    let store = CachedDbSessionStore::connect(config, db.clone()).unwrap();
    store.create(&key, until(&data, 60)).await.unwrap();
    assert_eq!(store.load(&key).await.unwrap(), Some(data.clone()));
    store.save(&key, until(&data, 60), true).await.unwrap();
    assert!(store.exists(&key).await.unwrap());
    assert!(matches!(
        store.delete(&key).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(
        db.exists(&key).await.unwrap(),
        "a failed delete leaves the row: the cache is revoked first"
    );
}

#[test]
fn setting_up_outside_a_runtime_is_an_error_not_a_panic() {
    assert!(matches!(
        RedisSessionStore::connect(RedisConfig::default()),
        Err(sesame_redis::ConnectError::NoRuntime)
    ));
    assert!(matches!(
        RedisCache::new(RedisConfig::new("http://nope")),
        Err(sesame_redis::ConnectError::NoRuntime)
    ));
}

#[tokio::test]
async fn invalid_urls_are_reported() {
    let err = RedisCache::new(RedisConfig::new("http://user:secret@host")).unwrap_err();
    assert!(matches!(err, sesame_redis::ConnectError::InvalidUrl { .. }));
    assert!(!err.to_string().contains("secret"), "{err}");
}
