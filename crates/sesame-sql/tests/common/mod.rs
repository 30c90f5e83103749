//! Test databases: each test gets its own, created and dropped here, so runs never see each
//! other's data. PostgreSQL and MariaDB are the machine's services; when one is absent the
//! test says SKIPPED, except under `CI=true`, where it fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use sesame_sql::{Db, PoolSettings};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Sqlite,
    Postgres,
    MySql,
}

/// A database that exists for one test.
pub(crate) struct TestDb {
    pub kind: Kind,
    pub url: String,
    pub db: Db,
    admin_url: Option<String>,
    name: String,
}

fn unique_name() -> String {
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

fn admin_url(kind: Kind) -> String {
    match kind {
        Kind::Postgres => std::env::var("SESAME_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        Kind::MySql => std::env::var("SESAME_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into()),
        Kind::Sqlite => String::new(),
    }
}

fn with_database(url: &str, name: &str) -> String {
    let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
    format!("{base}/{name}")
}

/// Create a fresh database, or `None` (SKIPPED) when the service is absent outside CI.
pub(crate) async fn fresh(kind: Kind) -> Option<TestDb> {
    let name = unique_name();
    if kind == Kind::Sqlite {
        let path = std::env::temp_dir().join(format!("{name}.sqlite3"));
        let url = format!("sqlite://{}", path.display());
        let db = Db::connect(&url, PoolSettings::default()).await.unwrap();
        return Some(TestDb {
            kind,
            url,
            db,
            admin_url: None,
            name: path.display().to_string(),
        });
    }
    let admin = admin_url(kind);
    let settings = PoolSettings {
        max_connections: 2,
        acquire_timeout: std::time::Duration::from_secs(3),
        ..PoolSettings::default()
    };
    let admin_db = match Db::connect(&admin, settings).await {
        Ok(db) => db,
        Err(e) => {
            let msg = format!("{kind:?} is not reachable at {admin}: {e}");
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{msg} (CI=true: services must be up)");
            }
            eprintln!("SKIPPED: {msg}");
            return None;
        }
    };
    admin_db
        .execute_raw(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    admin_db.close().await;
    let url = with_database(&admin, &name);
    let db = Db::connect(&url, PoolSettings::default()).await.unwrap();
    Some(TestDb {
        kind,
        url,
        db,
        admin_url: Some(admin),
        name,
    })
}

impl TestDb {
    /// Drop the database (call at the end of the test).
    pub(crate) async fn drop_db(self) {
        self.db.close().await;
        match self.admin_url {
            Some(admin) => {
                let admin_db = Db::connect(&admin, PoolSettings::default()).await.unwrap();
                let sql = match self.kind {
                    Kind::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
                    _ => format!("DROP DATABASE IF EXISTS {}", self.name),
                };
                admin_db.execute_raw(&sql).await.unwrap();
                admin_db.close().await;
            }
            None => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.name));
                }
            }
        }
    }
}
