//! Test databases on the MongoDB server named by `MONGODB_URI` (`.ci/run` starts one with
//! `with-mongo.sh`). Each test gets its own database, dropped at the end, so runs never see
//! each other's data. Without `MONGODB_URI` a test says SKIPPED, except under `CI=true`,
//! where it fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sesame_core::auth::IdKind;
use sesame_mongodb::{MongoConfig, MongoDb};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Say why a test cannot run: SKIPPED outside CI, a failure under `CI=true`.
pub(crate) fn skip(why: &str) {
    if ci() {
        panic!(
            "{why} (CI=true: the MongoDB tests must run; .ci/run starts a server with with-mongo.sh)"
        );
    }
    eprintln!("SKIPPED: {why}");
}

pub(crate) fn unique_name() -> String {
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

/// `uri` with its database path replaced by `name`, keeping the options.
pub(crate) fn with_database(uri: &str, name: &str) -> String {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("mongodb", uri));
    let (hosts, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let query = tail.split_once('?').map(|(_, q)| q).unwrap_or("");
    if query.is_empty() {
        format!("{scheme}://{hosts}/{name}")
    } else {
        format!("{scheme}://{hosts}/{name}?{query}")
    }
}

pub(crate) fn base_uri() -> Option<String> {
    match std::env::var("MONGODB_URI") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            skip("MONGODB_URI is not set; run the test under ../shared/tools/mongo/with-mongo.sh");
            None
        }
    }
}

/// A database that exists for one test.
pub(crate) struct TestDb {
    pub url: String,
    pub db: MongoDb,
}

/// A fresh database with users of `kind`, or `None` (SKIPPED) without a server outside CI.
pub(crate) async fn fresh(kind: IdKind) -> Option<TestDb> {
    let base = base_uri()?;
    let url = with_database(&base, &unique_name());
    let db = MongoConfig::new(&url)
        .with_user_id(kind)
        .with_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    Some(TestDb { url, db })
}

impl TestDb {
    pub(crate) async fn drop_db(self) {
        let _ = self.db.database().drop().await;
    }
}
