//! A real Django 5.2 (`scripts/django-peer`, installed from PyPI into `.venv/django52`) on the
//! same database as Sesame, on every SQL backend:
//! - after `sesame migrate`, Django sees its own schema and has nothing to migrate;
//! - on a database Django migrated, Sesame works without changing Django's schema;
//! - users, passwords and permissions written by one side are read by the other.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Kind, TestDb, fresh};
use sesame_core::auth::hashers::{Hashers, PasswordHashing};
use sesame_core::auth::store::AuthStore;
use sesame_core::auth::{ModelBackend, NewUser};
use sesame_sql::{SqlAuthStore, migrate};
use std::process::Command;
use std::sync::Arc;

fn peer(t: &TestDb, args: &[&str]) -> Option<(i32, String)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/django-peer");
    let out = match Command::new(script)
        .arg("--database-url")
        .arg(&t.url)
        .args(args)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            let msg = format!("cannot run the Django peer {script}: {e}");
            assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "{msg}");
            eprintln!("SKIPPED: {msg}");
            return None;
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.code().unwrap_or(-1), text))
}

fn schema_file(kind: Kind) -> String {
    let name = match kind {
        Kind::Sqlite => "sqlite",
        Kind::Postgres => "postgres",
        Kind::MySql => "mysql",
    };
    format!("{}/schema/{name}.sql", env!("CARGO_MANIFEST_DIR"))
}

fn hashing() -> PasswordHashing {
    // Django 5.2's default list and parameters, so that Django sees no need to rehash.
    PasswordHashing::new(Hashers::django_default("5.2").unwrap(), 2)
}

async fn sesame_first(kind: Kind) {
    let Some(t) = fresh(kind).await else { return };
    let report = migrate(&t.db).await.unwrap();
    assert!(report.created_schema);
    let Some((code, out)) = peer(&t, &["check-schema", "--expect-sql", &schema_file(kind)]) else {
        return;
    };
    assert_eq!(code, 0, "Django's view of Sesame's schema:\n{out}");
    let (code, out) = peer(&t, &["migrate"]).unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No migrations to apply"), "{out}");

    // A user made by Sesame logs in on Django, with the permission Sesame granted.
    let store = SqlAuthStore::new(t.db.clone()).await.unwrap();
    let encoded = hashing()
        .make_password("Sesame-made-pw-1".into())
        .await
        .unwrap();
    let u = store
        .create_user(NewUser::new("from_sesame", "s@example.com", encoded))
        .await
        .unwrap();
    let perm = store
        .get_permission("auth", "view_user")
        .await
        .unwrap()
        .unwrap();
    store.grant_user_permission(&u.id, &perm.id).await.unwrap();
    assert_eq!(
        peer(&t, &["checkpassword", "from_sesame", "Sesame-made-pw-1"])
            .unwrap()
            .0,
        0
    );
    assert_eq!(
        peer(&t, &["checkpassword", "from_sesame", "wrong"])
            .unwrap()
            .0,
        1
    );
    let (code, perms) = peer(&t, &["perms", "from_sesame"]).unwrap();
    assert_eq!((code, perms.trim()), (0, "auth.view_user"));
    // Django can still add rows after Sesame's (sequences and counters are right).
    let (code, out) = peer(
        &t,
        &[
            "createuser",
            "from_django",
            "Django-made-pw-1",
            "--email",
            "d@example.com",
        ],
    )
    .unwrap();
    assert_eq!(code, 0, "{out}");
    t.drop_db().await;
}

async fn django_first(kind: Kind) {
    let Some(t) = fresh(kind).await else { return };
    let Some((code, out)) = peer(&t, &["migrate"]) else {
        return;
    };
    assert_eq!(code, 0, "{out}");
    let report = migrate(&t.db).await.unwrap();
    assert!(!report.created_schema, "Django's schema is left alone");
    assert_eq!(
        report.created_permissions, 0,
        "Django already made the default permissions"
    );
    // Sesame added only its own table; Django still sees exactly its schema.
    let (code, out) = peer(&t, &["check-schema", "--expect-sql", &schema_file(kind)]).unwrap();
    assert_eq!(code, 0, "{out}");

    let (code, out) = peer(&t, &["createuser", "dj", "Django-made-pw-1", "--superuser"]).unwrap();
    assert_eq!(code, 0, "{out}");
    let store: Arc<dyn AuthStore> = Arc::new(SqlAuthStore::new(t.db.clone()).await.unwrap());
    let backend = ModelBackend::new(store.clone(), hashing());
    let user = backend
        .authenticate("dj", "Django-made-pw-1")
        .await
        .unwrap()
        .expect("Django's user logs in on Sesame");
    assert!(user.is_superuser && user.is_staff);
    assert!(backend.authenticate("dj", "nope").await.unwrap().is_none());
    assert_eq!(
        backend.user_permissions(&user).await.unwrap().all().len(),
        20
    );
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sesame_then_django() {
    sesame_first(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_django_then_sesame() {
    django_first(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sesame_then_django() {
    sesame_first(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_django_then_sesame() {
    django_first(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_sesame_then_django() {
    sesame_first(Kind::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_django_then_sesame() {
    django_first(Kind::MySql).await;
}
