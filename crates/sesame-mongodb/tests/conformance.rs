//! The MongoDB stores pass the shared conformance suite, with each kind of user id.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fresh;
use sesame_core::auth::IdKind;
use sesame_core::conformance::{SizeLimit, auth_store_suite, session_store_suite};
use sesame_core::session::SessionCodec;
use sesame_mongodb::{MongoAuthStore, MongoSessionStore, migrate};
use std::sync::Arc;

async fn suite(kind: IdKind) {
    let Some(t) = fresh(kind).await else { return };
    migrate(&t.db).await.expect("migrate");
    let sessions = MongoSessionStore::new(t.db.clone(), SessionCodec::new("k"));
    session_store_suite(Arc::new(sessions), SizeLimit::Unlimited).await;
    let limited =
        MongoSessionStore::new(t.db.clone(), SessionCodec::new("k")).with_max_size(100_000);
    t.db.database()
        .collection::<mongodb::bson::Document>("django_session")
        .delete_many(mongodb::bson::doc! {})
        .await
        .unwrap();
    session_store_suite(Arc::new(limited), SizeLimit::Bytes(100_000)).await;
    auth_store_suite(Arc::new(MongoAuthStore::new(t.db.clone()))).await;
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objectid_users() {
    suite(IdKind::ObjectId).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integer_users_from_counters() {
    suite(IdKind::Int).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_users() {
    suite(IdKind::Str).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_store() {
    let Some(t) = fresh(IdKind::ObjectId).await else {
        return;
    };
    migrate(&t.db).await.expect("migrate");
    sesame_core::conformance::throttle_store_suite(Arc::new(
        sesame_mongodb::MongoThrottleStore::new(t.db.clone()),
    ))
    .await;
    t.drop_db().await;
}
