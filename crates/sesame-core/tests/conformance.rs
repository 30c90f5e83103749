//! The memory stores pass the shared conformance suite.
#![cfg(feature = "conformance")]

use sesame_core::auth::MemoryAuthStore;
use sesame_core::conformance::{SizeLimit, auth_store_suite, session_store_suite};
use sesame_core::session::{MemorySessionStore, SessionCodec};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_session_store() {
    session_store_suite(
        Arc::new(MemorySessionStore::new(SessionCodec::new("k"))),
        SizeLimit::Unlimited,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_session_store_with_limit() {
    let store = MemorySessionStore::new(SessionCodec::new("k")).with_max_size(64 * 1024);
    session_store_suite(Arc::new(store), SizeLimit::Bytes(64 * 1024)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_auth_store() {
    auth_store_suite(Arc::new(MemoryAuthStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_throttle_store() {
    sesame_core::conformance::throttle_store_suite(Arc::new(
        sesame_core::auth::throttle::MemoryThrottleStore::new(10_000),
    ))
    .await;
}
