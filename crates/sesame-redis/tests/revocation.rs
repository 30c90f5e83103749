//! A logout is final, whatever fails: `cached_db` over SQLite with a persistent Redis of the
//! test's own (AOF on), killed and started again mid-flow. After every run the rule holds:
//! an error means nothing changed (the session still opens, also once Redis is back), and
//! success means the key opens nothing, also after Redis comes back with its AOF.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::server::PersistentRedis;
use serde_json::{Value, json};
use sesame_core::session::{
    Session, SessionCodec, SessionConfig, SessionData, SessionRecord, SessionStore, StoreError,
};
use sesame_redis::{CACHED_DB_KEY_PREFIX, CachedDbSessionStore, RedisConfig, pickle};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

fn dict(v: Value) -> SessionData {
    v.as_object().cloned().unwrap()
}

fn logged_in() -> SessionData {
    dict(json!({
        "_auth_user_id": "1",
        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
        "_auth_user_hash": "0".repeat(64),
    }))
}

/// Short timeouts, so that the outage answers quickly.
fn config(redis: &PersistentRedis) -> RedisConfig {
    RedisConfig::new(redis.url())
        .with_key_prefix(common::unique_prefix())
        .with_timeouts(Duration::from_millis(250), Duration::from_millis(500))
        .with_reconnect_retries(0)
}

async fn sqlite() -> Arc<dyn SessionStore> {
    let db = common::migrated_sqlite().await;
    Arc::new(sesame_sql::SqlSessionStore::new(db, SessionCodec::new("k")))
}

fn session(store: &Arc<CachedDbSessionStore>, key: Option<&str>) -> Session {
    Session::new(store.clone(), SessionConfig::default(), key)
}

/// A logged-in session, saved (database and cache) and loaded once more.
async fn log_in(store: &Arc<CachedDbSessionStore>) -> String {
    let mut s = session(store, None);
    s.update(logged_in()).await.unwrap();
    s.save().await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    assert_eq!(store.load(&key).await.unwrap(), Some(logged_in()));
    key
}

/// Load through the store until Redis answers again (the first commands after a restart may
/// still meet the dead connection).
async fn load_when_back(store: &CachedDbSessionStore, key: &str) -> Option<SessionData> {
    for _ in 0..50 {
        if store.cache().ping().await.is_ok() {
            return store.load(key).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Redis did not come back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_during_cache_outage_is_not_undone_when_the_cache_returns() {
    let Some(mut redis) = PersistentRedis::start() else {
        return;
    };
    let db = sqlite().await;
    let config = config(&redis);
    let store = Arc::new(CachedDbSessionStore::connect(config.clone(), db.clone()).unwrap());
    let key = log_in(&store).await;

    redis.kill();
    let mut s = session(&store, Some(&key));
    let outcome = s.flush().await;
    redis.restart();
    // A second process (no memory of this one) sees what every other server would.
    let other = CachedDbSessionStore::connect(config, db.clone()).unwrap();
    // Either outcome is allowed; what each leaves behind is not.
    if let Err(e) = outcome {
        assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
        // Nothing changed: not the row, not the session, and the cache agrees.
        assert!(db.exists(&key).await.unwrap(), "the row is still there");
        assert_eq!(s.session_key(), Some(key.as_str()), "the key is kept");
        assert!(!s.modified(), "nothing to write, no cookie to delete");
        assert_eq!(load_when_back(&store, &key).await, Some(logged_in()));
        assert_eq!(load_when_back(&other, &key).await, Some(logged_in()));
        // Logging out again with Redis up does it.
        s.flush().await.unwrap();
    }

    assert_eq!(load_when_back(&store, &key).await, None);
    assert_eq!(load_when_back(&other, &key).await, None);
    assert!(!db.exists(&key).await.unwrap());
    // And it stays done through one more crash and restart.
    redis.kill();
    redis.restart();
    assert_eq!(load_when_back(&other, &key).await, None);
}

/// A database store that can hold a load between its database read and its return (to let a
/// logout run in between), and run a hook inside `delete` (between the cache steps).
struct Gated {
    inner: Arc<dyn SessionStore>,
    hold_load: Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
    on_delete: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Gated {
    fn new(inner: Arc<dyn SessionStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            hold_load: Mutex::new(None),
            on_delete: Mutex::new(None),
        })
    }
}

#[async_trait]
impl SessionStore for Gated {
    fn name(&self) -> &'static str {
        "gated"
    }
    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(SessionData, Option<DateTime<Utc>>)>, StoreError> {
        let found = self.inner.load_with_expiry(key).await?;
        let hold = self.hold_load.lock().unwrap().take();
        if let Some((read, go)) = hold {
            read.send(()).unwrap();
            go.await.unwrap();
        }
        Ok(found)
    }
    async fn create(&self, key: &str, r: SessionRecord<'_>) -> Result<String, StoreError> {
        self.inner.create(key, r).await
    }
    async fn update(&self, key: &str, r: SessionRecord<'_>) -> Result<bool, StoreError> {
        self.inner.update(key, r).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let hook = self.on_delete.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        self.inner.delete(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.inner.exists(key).await
    }
    async fn clear_expired(&self) -> Result<u64, StoreError> {
        self.inner.clear_expired().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_save_does_not_resurrect_session_logged_out_in_other_context() {
    let Some(redis) = PersistentRedis::start() else {
        return;
    };
    let gated = Gated::new(sqlite().await);
    let store = Arc::new(CachedDbSessionStore::connect(config(&redis), gated.clone()).unwrap());

    // Django's test: a save after a logout elsewhere is refused and brings nothing back.
    let mut s1 = session(&store, None);
    s1.insert("test_data", json!("value1")).await.unwrap();
    s1.save().await.unwrap();
    let key = s1.session_key().unwrap().to_owned();
    session(&store, Some(&key)).flush().await.unwrap();
    s1.insert("test_data", json!("value2")).await.unwrap();
    assert!(matches!(s1.save().await, Err(StoreError::RecordMissing)));
    let mut again = session(&store, Some(&key));
    assert!(again.load().await.unwrap().is_empty());
    assert_eq!(again.session_key(), None);

    // The race: a request misses the cache and reads the row; a logout runs to the end; then
    // the first request writes the copy it read. That copy must not open the session.
    let key = log_in(&store).await;
    let cache_key = format!("{CACHED_DB_KEY_PREFIX}{key}");
    store.cache().delete(&cache_key).await.unwrap();
    let (read_tx, read_rx) = oneshot::channel();
    let (go_tx, go_rx) = oneshot::channel();
    *gated.hold_load.lock().unwrap() = Some((read_tx, go_rx));
    let loader = tokio::spawn({
        let (store, key) = (store.clone(), key.clone());
        async move { store.load(&key).await }
    });
    read_rx.await.unwrap();
    session(&store, Some(&key)).flush().await.unwrap();
    go_tx.send(()).unwrap();
    // The slow request saw the session as it was when it read it; that is all.
    assert_eq!(loader.await.unwrap().unwrap(), Some(logged_in()));
    assert!(
        !store.cache().has_key(&cache_key).await.unwrap(),
        "no copy came back"
    );
    assert_eq!(store.load(&key).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_refilled_during_logout_never_authenticates_when_the_cache_dies_before_its_delete() {
    let Some(redis) = PersistentRedis::start() else {
        return;
    };
    let redis = Arc::new(Mutex::new(redis));
    let gated = Gated::new(sqlite().await);
    let config = config(&redis.lock().unwrap());
    let store = Arc::new(CachedDbSessionStore::connect(config.clone(), gated.clone()).unwrap());
    let key = log_in(&store).await;

    // Between the first cache step and the database delete, a Django process refills the copy
    // from the row (a plain SET, no marker check); then Redis crashes before the last step.
    let full_key = config.make_key(&format!("{CACHED_DB_KEY_PREFIX}{key}"));
    *gated.on_delete.lock().unwrap() = Some(Box::new({
        let (redis, url, full_key) = (redis.clone(), redis.lock().unwrap().url(), full_key);
        move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            let pickled = pickle::dumps(&logged_in()).unwrap();
            redis::cmd("SET")
                .arg(&full_key)
                .arg(pickled)
                .arg("EX")
                .arg(600)
                .query::<()>(&mut c)
                .unwrap();
            redis.lock().unwrap().kill();
        }
    }));
    let mut s = session(&store, Some(&key));
    let outcome = s.flush().await;
    redis.lock().unwrap().restart();
    match outcome {
        Err(e) => {
            // Then nothing may have changed.
            assert!(
                gated.exists(&key).await.unwrap(),
                "{e}: but the row is gone"
            );
            assert_eq!(load_when_back(&store, &key).await, Some(logged_in()));
        }
        Ok(()) => {
            assert!(!gated.exists(&key).await.unwrap());
            assert_eq!(store.untrusted_keys(), 1, "the copy is not trusted");
            // The copy is back with the AOF, and this process does not trust it: the load
            // asks the database, and deletes the copy now that Redis answers.
            assert_eq!(load_when_back(&store, &key).await, None);
            assert_eq!(store.untrusted_keys(), 0);
            let other = CachedDbSessionStore::connect(config, gated.clone()).unwrap();
            assert_eq!(load_when_back(&other, &key).await, None, "gone for all");
        }
    }
}
