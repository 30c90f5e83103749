//! The shared Redis server for tests: `SESAME_REDIS_URL`, else `REDIS_URL`, else
//! redis://127.0.0.1:6379. Every test works under a `KEY_PREFIX` of its own, so runs never
//! see each other's keys, and removes its keys at the end. When the server is absent the test
//! says SKIPPED, except under `CI=true`, where it fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub(crate) mod server;

use sesame_redis::{DEFAULT_URL, RedisCache, RedisConfig};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The server the tests use.
pub(crate) fn redis_url() -> String {
    std::env::var("SESAME_REDIS_URL")
        .or_else(|_| std::env::var("REDIS_URL"))
        .unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// A `KEY_PREFIX` no other test or run uses.
pub(crate) fn unique_prefix() -> String {
    format!(
        "sesame_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

/// Outside CI a missing service skips the test; under `CI=true` it is a failure.
pub(crate) fn skip(msg: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg} (CI=true: services must be up)");
    }
    eprintln!("SKIPPED: {msg}");
}

/// A configuration on the shared server with a fresh prefix, or `None` (SKIPPED) when the
/// server does not answer.
pub(crate) async fn fresh() -> Option<TestRedis> {
    let url = redis_url();
    let config = RedisConfig::new(url.clone()).with_key_prefix(unique_prefix());
    let cache = RedisCache::new(config.clone()).unwrap();
    if let Err(e) = cache.ping().await {
        skip(&format!("Redis is not reachable at {url}: {e}"));
        return None;
    }
    Some(TestRedis { config, cache })
}

/// A prefix on the shared server for one test.
pub(crate) struct TestRedis {
    pub config: RedisConfig,
    pub cache: RedisCache,
}

impl TestRedis {
    /// A plain connection, to look at and change keys behind the stores' backs.
    pub(crate) async fn raw(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.config.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// The full Redis key of a session key under an engine's prefix.
    pub(crate) fn key(&self, engine_prefix: &str, session_key: &str) -> String {
        self.config
            .make_key(&format!("{engine_prefix}{session_key}"))
    }

    /// Every key under this test's prefix.
    pub(crate) async fn keys(&self) -> Vec<String> {
        let mut conn = self.raw().await;
        let pattern = format!("{}:*", self.config.key_prefix);
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .unwrap();
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys
    }

    /// Remove this test's keys (call at the end).
    pub(crate) async fn cleanup(&self) {
        let keys = self.keys().await;
        let mut conn = self.raw().await;
        for chunk in keys.chunks(500) {
            let _: i64 = redis::cmd("DEL")
                .arg(chunk)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    }
}

/// A fresh SQLite file in the temporary directory with Django's schema, for the database side
/// of `cached_db` and for the site's users.
pub(crate) async fn migrated_sqlite() -> sesame_sql::Db {
    let path = std::env::temp_dir().join(format!("{}.sqlite3", unique_prefix()));
    let db = sesame_sql::Db::connect(
        &format!("sqlite://{}", path.display()),
        sesame_sql::PoolSettings::default(),
    )
    .await
    .unwrap();
    sesame_sql::migrate(&db).await.unwrap();
    db
}
