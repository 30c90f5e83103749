//! The SQL stores pass the shared conformance suite on SQLite, PostgreSQL and MariaDB.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Kind, fresh};
use sesame_core::conformance::{SizeLimit, auth_store_suite, session_store_suite};
use sesame_core::session::SessionCodec;
use sesame_sql::{SqlAuthStore, SqlSessionStore, migrate};
use std::sync::Arc;

async fn suite(kind: Kind) {
    let Some(t) = fresh(kind).await else { return };
    migrate(&t.db).await.expect("migrate");
    let sessions = SqlSessionStore::new(t.db.clone(), SessionCodec::new("k"));
    session_store_suite(Arc::new(sessions), SizeLimit::Unlimited).await;
    let limited = SqlSessionStore::new(t.db.clone(), SessionCodec::new("k")).with_max_size(100_000);
    t.db.execute_raw("DELETE FROM django_session")
        .await
        .unwrap();
    session_store_suite(Arc::new(limited), SizeLimit::Bytes(100_000)).await;
    auth_store_suite(Arc::new(SqlAuthStore::new(t.db.clone()).await.unwrap())).await;
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    suite(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    suite(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    suite(Kind::MySql).await;
}

async fn throttle_suite(kind: Kind) {
    let Some(t) = fresh(kind).await else { return };
    migrate(&t.db).await.expect("migrate");
    sesame_core::conformance::throttle_store_suite(Arc::new(sesame_sql::SqlThrottleStore::new(
        t.db.clone(),
    )))
    .await;
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_throttle_store() {
    throttle_suite(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_throttle_store() {
    throttle_suite(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_throttle_store() {
    throttle_suite(Kind::MySql).await;
}
