//! Both Redis engines pass the shared store conformance suite: `cache` alone, and `cached_db`
//! in front of the memory store, SQLite and MongoDB.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fresh;
use sesame_core::conformance::{SizeLimit, session_store_suite};
use sesame_core::session::{MemorySessionStore, SessionCodec, SessionStore};
use sesame_redis::{CachedDbSessionStore, RedisCache, RedisSessionStore};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_engine() {
    let Some(t) = fresh().await else { return };
    session_store_suite(
        Arc::new(RedisSessionStore::new(t.cache.clone())),
        SizeLimit::Unlimited,
    )
    .await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_engine_with_a_size_limit() {
    let Some(t) = fresh().await else { return };
    let limited = RedisCache::new(t.config.clone().with_max_size(100_000)).unwrap();
    session_store_suite(
        Arc::new(RedisSessionStore::new(limited)),
        SizeLimit::Bytes(100_000),
    )
    .await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_db_over_memory() {
    let Some(t) = fresh().await else { return };
    let db: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::new(SessionCodec::new("k")));
    session_store_suite(
        Arc::new(CachedDbSessionStore::new(t.cache.clone(), db)),
        SizeLimit::Unlimited,
    )
    .await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_db_over_sqlite() {
    let Some(t) = fresh().await else { return };
    let path = std::env::temp_dir().join(format!("{}.sqlite3", common::unique_prefix()));
    let url = format!("sqlite://{}", path.display());
    let sql = sesame_sql::Db::connect(&url, sesame_sql::PoolSettings::default())
        .await
        .unwrap();
    sesame_sql::migrate(&sql).await.unwrap();
    let db: Arc<dyn SessionStore> = Arc::new(sesame_sql::SqlSessionStore::new(
        sql.clone(),
        SessionCodec::new("k"),
    ));
    session_store_suite(
        Arc::new(CachedDbSessionStore::new(t.cache.clone(), db)),
        SizeLimit::Unlimited,
    )
    .await;
    sql.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_db_over_mongodb() {
    let Some(t) = fresh().await else { return };
    let Some(base) = std::env::var("MONGODB_URI").ok().filter(|u| !u.is_empty()) else {
        common::skip(
            "MONGODB_URI is not set; run the test under ../shared/tools/mongo/with-mongo.sh",
        );
        return;
    };
    // The server's address with a database of this test's own (the path is the database).
    let (scheme, rest) = base.split_once("://").unwrap_or(("mongodb", &base));
    let hosts = rest.split(['/', '?']).next().unwrap_or(rest);
    let url = format!("{scheme}://{hosts}/{}", common::unique_prefix());
    let mongo = sesame_mongodb::MongoConfig::new(&url)
        .with_timeout(std::time::Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    sesame_mongodb::migrate(&mongo).await.unwrap();
    let db: Arc<dyn SessionStore> = Arc::new(sesame_mongodb::MongoSessionStore::new(
        mongo.clone(),
        SessionCodec::new("k"),
    ));
    session_store_suite(
        Arc::new(CachedDbSessionStore::new(t.cache.clone(), db)),
        SizeLimit::Unlimited,
    )
    .await;
    let _ = mongo.database().drop().await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_store() {
    let Some(t) = fresh().await else { return };
    sesame_core::conformance::throttle_store_suite(Arc::new(
        sesame_redis::RedisThrottleStore::new(t.cache.clone()),
    ))
    .await;
    t.cleanup().await;
}
