//! A real Django 5.2 (`scripts/django-peer`, installed from PyPI into `.venv/django52`) on the
//! same database as Sesame, on every SQL backend:
//! - after `sesame migrate`, Django sees its own schema and has nothing to migrate;
//! - on a database Django migrated, Sesame works without changing Django's schema;
//! - users, passwords and permissions written by one side are read by the other.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Kind, TestDb, fresh};
use sesame_core::auth::hashers::{Hashers, PasswordHashing};
use sesame_core::auth::store::{AuthStore, PermissionStore, UserStore};
use sesame_core::auth::{Auth, ModelBackend, NewUser};
use sesame_core::session::{Session, SessionCodec, SessionConfig, SessionStore};
use sesame_sql::{SqlAuthStore, SqlSessionStore, migrate};
use std::process::Command;
use std::sync::Arc;

fn peer(t: &TestDb, args: &[&str]) -> Option<(i32, String)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/django-peer");
    let out = match Command::new(script)
        .env("SESAME_SECRET_KEY", SECRET_KEY)
        .env("SESAME_TIME_ZONE", "UTC")
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

const SECRET_KEY: &str = "shared-by-django-and-sesame";

fn auth(t: &TestDb, store: Arc<dyn AuthStore>) -> (Auth, Arc<dyn SessionStore>) {
    let sessions: Arc<dyn SessionStore> = Arc::new(SqlSessionStore::new(
        t.db.clone(),
        SessionCodec::new(SECRET_KEY),
    ));
    let auth = Auth::new(
        ModelBackend::new(store, hashing()),
        SECRET_KEY.into(),
        vec![],
        sesame_core::auth::MODEL_BACKEND_PATH.into(),
    );
    (auth, sessions)
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
    // Sesame logs the user in; Django's middleware accepts that session as that user.
    let store: Arc<dyn AuthStore> = Arc::new(SqlAuthStore::new(t.db.clone()).await.unwrap());
    let (auth, sessions) = auth(&t, store);
    let mut user = auth
        .authenticate("from_sesame", "Sesame-made-pw-1")
        .await
        .unwrap()
        .unwrap();
    let mut session = Session::new(sessions, SessionConfig::default(), None);
    session
        .insert("cart", serde_json::json!(["Jörg’s 🐍"]))
        .await
        .unwrap();
    auth.login(&mut session, &mut user).await.unwrap();
    session.save().await.unwrap();
    let key = session.session_key().unwrap().to_owned();
    let (code, out) = peer(&t, &["whoami", &key]).unwrap();
    assert_eq!(code, 0, "{out}");
    let who: serde_json::Value = serde_json::from_str(out.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(who["authenticated"], true, "{out}");
    assert_eq!(who["username"], "from_sesame");
    assert_eq!(who["id"], user.id.to_string());
    assert_eq!(
        who["session_keys"],
        serde_json::json!([
            "_auth_user_backend",
            "_auth_user_hash",
            "_auth_user_id",
            "cart"
        ])
    );
    assert!(user.last_login.is_some());

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

    // Django deletes users Sesame made, with and without profile fields (Sesame's own
    // table cascades; Django does not know it).
    let store = SqlAuthStore::new(t.db.clone()).await.unwrap();
    let mut extra = serde_json::Map::new();
    extra.insert("bio".into(), "hi".into());
    let with_extra = store
        .create_user(NewUser {
            extra,
            ..NewUser::new("with_extra", "", "x")
        })
        .await
        .unwrap();
    store
        .create_user(NewUser::new("plain", "", "x"))
        .await
        .unwrap();
    for name in ["with_extra", "plain"] {
        let (code, out) = peer(&t, &["deleteuser", name]).unwrap();
        assert_eq!(code, 0, "Django deletes {name}: {out}");
    }
    assert!(store.get_user(&with_extra.id).await.unwrap().is_none());
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

    // Django logs the user in (LoginView's authenticate + login); Sesame reads that session.
    let (code, out) = peer(&t, &["login", "dj", "Django-made-pw-1"]).unwrap();
    assert_eq!(code, 0, "{out}");
    let key = out.lines().next().unwrap_or_default().trim().to_owned();
    let (auth, sessions) = auth(&t, store);
    let mut session = Session::new(sessions, SessionConfig::default(), Some(&key));
    let who = auth
        .get_user(&mut session)
        .await
        .unwrap()
        .expect("Django's session is a login on Sesame");
    assert_eq!(who.username, "dj");
    // The same session under another SECRET_KEY is anonymous, as in Django.
    let other: Arc<dyn SessionStore> = Arc::new(SqlSessionStore::new(
        t.db.clone(),
        SessionCodec::new("another-key"),
    ));
    let mut forged = Session::new(other, SessionConfig::default(), Some(&key));
    assert!(
        forged
            .get(sesame_core::auth::SESSION_KEY)
            .await
            .unwrap()
            .is_none()
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
