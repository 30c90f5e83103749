//! A real Django 5.2 (`scripts/django-peer`, from PyPI into `.venv/django52`) with
//! `SESSION_ENGINE` = `cache` and `cached_db` on Django's own `RedisCache`, sharing Redis
//! (under a `KEY_PREFIX` of this test's own) and a SQLite database with Sesame:
//! - a session Django logs in is a login on Sesame, and the other way round;
//! - every plain type survives both ways (Django pickles, Sesame reads; Sesame pickles,
//!   Django reads);
//! - with `cached_db`, each side reads the other's database row and the other's cached copy,
//!   and a logout on one side is a logout on the other.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{TestRedis, fresh};
use redis::AsyncCommands;
use serde_json::{Value, json};
use sesame_core::auth::hashers::{Hashers, PasswordHashing};
use sesame_core::auth::store::AuthStore;
use sesame_core::auth::{Auth, ModelBackend};
use sesame_core::session::{Session, SessionCodec, SessionConfig, SessionStore};
use sesame_redis::{
    CACHE_KEY_PREFIX, CACHED_DB_KEY_PREFIX, CachedDbSessionStore, RedisSessionStore,
};
use sesame_sql::{Db, PoolSettings, SqlAuthStore, SqlSessionStore};
use std::process::Command;
use std::sync::Arc;

const SECRET_KEY: &str = "shared-by-django-and-sesame";

/// Everything a session may hold, with the edges of each type.
fn rich() -> Value {
    let mut v = json!({
        "cart": ["Jörg’s 🐍", {"qty": 3, "price": 9.99}],
        "ints": [0, 255, 256, 65536, -1, 2147483647, -2147483648, 2147483648_i64,
                 9223372036854775807_i64, -9223372036854775808_i64, 18446744073709551615_u64],
        "floats": [0.1, -2.5, 1e300],
        "flags": [true, false, null],
        "text": "naïve ключ 日本 \u{1F600} \u{0} \"q\" \\",
        "long": "é".repeat(400),
        "deep": {"a": {"b": {"c": [[], {}]}}},
    });
    // Python ints beyond 64 bits: 2**64, -(2**100) and a 1,000-digit one (a LONG4 pickle),
    // with the `big-ints` feature (the `sesame` binary's build, and so `cargo test --workspace`).
    if !cfg!(feature = "big-ints") {
        return v;
    }
    let big: Vec<Value> = [
        "18446744073709551616".to_owned(),
        "-1267650600228229401496703205376".to_owned(),
        format!("9{}", "0".repeat(999)),
    ]
    .iter()
    .map(|d| Value::Number(d.parse().unwrap()))
    .collect();
    v["big"] = Value::Array(big);
    v
}

struct Peer {
    sqlite_url: String,
    redis_url: String,
    key_prefix: String,
}

impl Peer {
    /// Run the Django peer with an engine; `None` (SKIPPED) when it cannot run at all.
    fn run(&self, engine: &str, args: &[&str]) -> Option<(i32, String)> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/django-peer");
        let out = match Command::new(script)
            .env("SESAME_SECRET_KEY", SECRET_KEY)
            .env("SESAME_TIME_ZONE", "UTC")
            .args(["--database-url", &self.sqlite_url])
            .args(["--session-engine", engine])
            .args(["--cache-url", &self.redis_url])
            .args(["--key-prefix", &self.key_prefix])
            .args(args)
            .output()
        {
            Ok(o) => o,
            Err(e) => {
                common::skip(&format!("cannot run the Django peer {script}: {e}"));
                return None;
            }
        };
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
        Some((out.status.code().unwrap_or(-1), stdout))
    }

    /// Run and require success; the first line of stdout.
    fn ok(&self, engine: &str, args: &[&str]) -> String {
        let (code, out) = self.run(engine, args).unwrap();
        assert_eq!(code, 0, "django-peer {args:?}: {out}");
        out.lines().next().unwrap_or_default().trim().to_owned()
    }

    fn json(&self, engine: &str, args: &[&str]) -> Value {
        let line = self.ok(engine, args);
        sesame_core::pyjson::loads(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }
}

struct Setup {
    t: TestRedis,
    peer: Peer,
    db: Db,
    path: std::path::PathBuf,
    auth: Auth,
}

/// Redis, a SQLite file that Django migrated, and a user `dj` that Django created.
async fn setup() -> Option<Setup> {
    let t = fresh().await?;
    let path = std::env::temp_dir().join(format!("{}.sqlite3", common::unique_prefix()));
    let sqlite_url = format!("sqlite://{}", path.display());
    let peer = Peer {
        sqlite_url: sqlite_url.clone(),
        redis_url: t.config.url.clone(),
        key_prefix: t.config.key_prefix.clone(),
    };
    let (code, out) = peer.run("db", &["migrate"])?;
    assert_eq!(code, 0, "{out}");
    peer.ok("db", &["createuser", "dj", "Django-made-pw-1"]);
    let db = Db::connect(&sqlite_url, PoolSettings::default())
        .await
        .unwrap();
    let users: Arc<dyn AuthStore> = Arc::new(SqlAuthStore::new(db.clone()).await.unwrap());
    let auth = Auth::new(
        ModelBackend::new(
            users,
            PasswordHashing::new(Hashers::django_default("5.2").unwrap(), 2),
        ),
        SECRET_KEY.into(),
        vec![],
        sesame_core::auth::MODEL_BACKEND_PATH.into(),
    );
    Some(Setup {
        t,
        peer,
        db,
        path,
        auth,
    })
}

impl Setup {
    async fn teardown(self) {
        self.db.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
        self.t.cleanup().await;
    }

    /// Sesame logs `dj` in on a session of `store` holding `rich()`; the session key.
    async fn sesame_login(&self, store: Arc<dyn SessionStore>) -> String {
        let mut user = self
            .auth
            .authenticate("dj", "Django-made-pw-1")
            .await
            .unwrap()
            .expect("dj logs in on Sesame");
        let mut session = Session::new(store, SessionConfig::default(), None);
        session.insert("rich", rich()).await.unwrap();
        self.auth.login(&mut session, &mut user).await.unwrap();
        session.save().await.unwrap();
        session.session_key().unwrap().to_owned()
    }

    /// Whether Sesame sees `dj` logged in on `key`.
    async fn sesame_user(&self, store: Arc<dyn SessionStore>, key: &str) -> Option<String> {
        let mut session = Session::new(store, SessionConfig::default(), Some(key));
        self.auth
            .get_user(&mut session)
            .await
            .unwrap()
            .map(|u| u.username)
    }

    async fn sesame_logout(&self, store: Arc<dyn SessionStore>, key: &str) {
        let mut session = Session::new(store, SessionConfig::default(), Some(key));
        self.auth.logout(&mut session).await.unwrap();
    }
}

fn whoami(peer: &Peer, engine: &str, key: &str) -> Value {
    peer.json(engine, &["whoami", key])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_engine_both_ways() {
    let Some(s) = setup().await else { return };
    let store: Arc<dyn SessionStore> = Arc::new(RedisSessionStore::new(s.t.cache.clone()));
    let mut raw = s.t.raw().await;

    // Django logs in (authenticate + login + save, as LoginView); Sesame reads that session.
    let key = s.peer.ok("cache", &["login", "dj", "Django-made-pw-1"]);
    let ttl: i64 = raw.ttl(s.t.key(CACHE_KEY_PREFIX, &key)).await.unwrap();
    assert!((1_209_500..=1_209_600).contains(&ttl), "TTL {ttl}");
    assert_eq!(
        s.sesame_user(store.clone(), &key).await.as_deref(),
        Some("dj")
    );
    // Every plain type Django pickles, Sesame reads as the same JSON.
    let data = rich().to_string();
    let key = s
        .peer
        .ok("cache", &["session-set", &data, "--expiry", "300"]);
    let got = store.load(&key).await.unwrap().expect("Django's session");
    let mut want = rich().as_object().cloned().unwrap();
    want.insert("_session_expiry".into(), json!(300));
    assert_eq!(Value::Object(got), Value::Object(want.clone()));

    // Sesame logs in; Django's middleware accepts it, and reads back exactly Sesame's dict.
    let key = s.sesame_login(store.clone()).await;
    let who = whoami(&s.peer, "cache", &key);
    assert_eq!(who["authenticated"], true, "{who}");
    assert_eq!(who["username"], "dj");
    assert_eq!(
        who["session_keys"],
        json!([
            "_auth_user_backend",
            "_auth_user_hash",
            "_auth_user_id",
            "rich"
        ])
    );
    let got = s.peer.json("cache", &["session-get", &key]);
    assert_eq!(got["session_key"], json!(key));
    assert_eq!(got["data"]["rich"], rich());

    // A logout on Sesame is a logout on Django.
    s.sesame_logout(store.clone(), &key).await;
    let who = whoami(&s.peer, "cache", &key);
    assert_eq!(who["authenticated"], false, "{who}");
    // And the other way: Django logs out a session Sesame created.
    let key = s.sesame_login(store.clone()).await;
    s.peer.ok("cache", &["logout", &key]);
    let exists: bool = raw.exists(s.t.key(CACHE_KEY_PREFIX, &key)).await.unwrap();
    assert!(!exists);
    assert_eq!(s.sesame_user(store, &key).await, None);
    s.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_db_engine_both_ways() {
    let Some(s) = setup().await else { return };
    let sql: Arc<dyn SessionStore> = Arc::new(SqlSessionStore::new(
        s.db.clone(),
        SessionCodec::new(SECRET_KEY),
    ));
    let store: Arc<dyn SessionStore> =
        Arc::new(CachedDbSessionStore::new(s.t.cache.clone(), sql.clone()));
    let mut raw = s.t.raw().await;
    let cached = |key: &str| s.t.key(CACHED_DB_KEY_PREFIX, key);

    // Django logs in: Sesame reads the cached copy, then (with the copy gone) the row, and
    // fills the cache again.
    let key = s.peer.ok("cached_db", &["login", "dj", "Django-made-pw-1"]);
    let exists: bool = raw.exists(cached(&key)).await.unwrap();
    assert!(exists, "Django wrote the cached copy");
    assert_eq!(
        s.sesame_user(store.clone(), &key).await.as_deref(),
        Some("dj")
    );
    let _: i64 = raw.del(cached(&key)).await.unwrap();
    assert_eq!(
        s.sesame_user(store.clone(), &key).await.as_deref(),
        Some("dj")
    );
    let ttl: i64 = raw.ttl(cached(&key)).await.unwrap();
    assert!(
        (1_209_500..=1_209_600).contains(&ttl),
        "refilled for the time left: {ttl}"
    );
    // Django reads the copy Sesame filled (the row gone, only the cache can answer).
    sql.delete(&key).await.unwrap();
    assert_eq!(whoami(&s.peer, "cached_db", &key)["authenticated"], true);

    // Sesame logs in; Django reads Sesame's cached copy alone, then Sesame's row alone.
    let key = s.sesame_login(store.clone()).await;
    let rows: Value = s.peer.json("db", &["session-get", &key]);
    assert_eq!(
        rows["data"]["rich"],
        rich(),
        "the row, read by Django's db engine"
    );
    let got = s.peer.json("cached_db", &["session-get", &key]);
    assert_eq!(got["data"]["rich"], rich());
    let who = whoami(&s.peer, "cached_db", &key);
    assert_eq!(
        (&who["authenticated"], &who["username"]),
        (&json!(true), &json!("dj"))
    );
    let _: i64 = raw.del(cached(&key)).await.unwrap();
    let who = whoami(&s.peer, "cached_db", &key);
    assert_eq!(who["authenticated"], true, "from the row: {who}");

    // A logout on Sesame removes both copies: Django sees an anonymous user.
    s.sesame_logout(store.clone(), &key).await;
    let exists: bool = raw.exists(cached(&key)).await.unwrap();
    assert!(!exists);
    assert_eq!(whoami(&s.peer, "cached_db", &key)["authenticated"], false);
    // A logout on Django (flush through its cached_db engine) is one on Sesame.
    let key = s.peer.ok("cached_db", &["login", "dj", "Django-made-pw-1"]);
    assert_eq!(
        s.sesame_user(store.clone(), &key).await.as_deref(),
        Some("dj")
    );
    s.peer.ok("cached_db", &["logout", &key]);
    assert_eq!(s.sesame_user(store, &key).await, None);
    s.teardown().await;
}
