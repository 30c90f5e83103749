//! The `sesame` binary on MongoDB: `migrate`, the management commands, `mongo import-mango`,
//! and the ready-made site over HTTP, including NoSQL-injection attempts through its forms.
//! Needs `MONGODB_URI` (`.ci/run` runs the tests under `with-mongo.sh`): without it each test
//! says SKIPPED, and under `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Browser, serve_with};
use mongodb::bson::{Document, doc, oid::ObjectId};
use sha1::Digest;
use std::process::{Command, Output};

fn mongo_url() -> Option<String> {
    let Ok(base) = std::env::var("MONGODB_URI") else {
        let why = "MONGODB_URI is not set; run the tests under ../shared/tools/mongo/with-mongo.sh";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{why} (CI=true: the MongoDB tests must run)");
        }
        eprintln!("SKIPPED: {why}");
        return None;
    };
    let name = format!(
        "sesame_cli_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let (scheme, rest) = base.split_once("://").unwrap();
    let (hosts, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    Some(format!("{scheme}://{hosts}/{name}{query}"))
}

fn sesame(url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sesame"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SESAME_")) {
        cmd.env_remove(k);
    }
    cmd.args(args)
        .env("SESAME_DATABASE_URL", url)
        .env("SESAME_SECRET_KEY", "mongo-cli-test-key")
        .env("SESAME_CONFIG", "/nonexistent/sesame.toml")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn database(url: &str) -> mongodb::Database {
    let client = mongodb::Client::with_uri_str(url).await.unwrap();
    client.default_database().unwrap()
}

#[test]
fn management_commands_on_mongodb() {
    let Some(url) = mongo_url() else { return };
    let out = sesame(&url, &["user", "list"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `sesame migrate`"));
    let text = ok(&sesame(&url, &["migrate"], &[]));
    assert!(text.contains("Created 16 index(es)"), "{text}");
    assert!(
        text.contains("Created 20 missing default permission(s)"),
        "{text}"
    );
    let text = ok(&sesame(&url, &["migrate"], &[]));
    assert!(
        text.contains("Every index is already there") && text.contains("Created 0 missing"),
        "{text}"
    );
    ok(&sesame(&url, &["check"], &[]));
    ok(&sesame(
        &url,
        &[
            "createsuperuser",
            "--noinput",
            "--username",
            "root",
            "--email",
            "root@example.com",
        ],
        &[("SESAME_SUPERUSER_PASSWORD", "Corr3ct-horse-battery")],
    ));
    ok(&sesame(&url, &["group", "create", "editors"], &[]));
    ok(&sesame(
        &url,
        &["group", "grant", "editors", "auth.change_user"],
        &[],
    ));
    ok(&sesame(
        &url,
        &["group", "add-user", "editors", "root"],
        &[],
    ));
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&sesame(&url, &["user", "show", "root"], &[]))).unwrap();
    let id = shown["id"].as_str().unwrap();
    assert_eq!(id.len(), 24, "an ObjectId, as a string: {shown}");
    assert!(ok(&sesame(&url, &["user", "list"], &[])).contains("root"));
    let out = sesame(&url, &["mongo", "import-mango"], &[]);
    assert!(out.status.success());
    let sql = sesame(
        "sqlite:///tmp/none.sqlite3",
        &["mongo", "import-mango"],
        &[],
    );
    assert!(!sql.status.success());
    assert!(String::from_utf8_lossy(&sql.stderr).contains("needs a MongoDB database_url"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async { database(&url).await.drop().await.unwrap() });
}

#[test]
fn a_url_without_a_database_is_refused() {
    let Some(url) = mongo_url() else { return };
    let bare = format!("{}/", url.split('/').take(3).collect::<Vec<_>>().join("/"));
    let out = sesame(&bare, &["migrate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("names no database"));
}

fn legacy_sha1(salt: &str, password: &str) -> String {
    let digest = sha1::Sha1::digest(format!("{salt}{password}").as_bytes());
    format!("sha1${salt}${}", hex::encode(digest))
}

#[test]
fn import_mango_then_log_in_on_the_site_with_the_old_password() {
    let Some(url) = mongo_url() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = database(&url).await;
        db.collection::<Document>("users")
            .insert_many([
                doc! {"_id": ObjectId::new(), "username": "ann", "email": "ann@example.com", "first_name": "", "last_name": "",
                      "password": legacy_sha1("9f3a1", "an old passphrase"), "is_staff": false, "is_active": true, "is_superuser": false},
                doc! {"_id": ObjectId::new(), "username": "bo", "email": "bo@example.com", "first_name": "", "last_name": "",
                      "password": "!", "is_staff": false, "is_active": true, "is_superuser": false},
            ])
            .await
            .unwrap();
        db.collection::<Document>("sessions")
            .insert_one(doc! {"session_key": "0123456789abcdef0123456789abcdef", "session_data": "gAJ9cQEu", "expire_date": mongodb::bson::DateTime::now()})
            .await
            .unwrap();
    });
    ok(&sesame(&url, &["migrate"], &[]));
    let text = ok(&sesame(&url, &["mongo", "import-mango"], &[]));
    assert!(text.contains("Imported 2 user(s)"), "{text}");
    assert!(text.contains("Dropped 1 legacy session(s)"), "{text}");
    assert!(
        text.contains("add sha1 and unsalted_md5 to password_hashers"),
        "{text}"
    );
    let text = ok(&sesame(&url, &["mongo", "import-mango"], &[]));
    assert!(
        text.contains("Imported 0 user(s)") && text.contains("2 were already imported"),
        "{text}"
    );

    let server = serve_with(&[
        ("SESAME_DATABASE_URL", &url),
        ("SESAME_SECRET_KEY", "mongo-cli-test-key"),
        ("SESAME_PASSWORD_HASHERS", "pbkdf2_sha256,sha1,unsalted_md5"),
    ]);
    let mut b = Browser::new(&server);
    assert_eq!(b.get("/healthz").status, 200);
    let r = b.post(
        "/accounts/login/",
        &[("username", "ann"), ("password", "wrong")],
    );
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .contains("Please enter a correct username and password")
    );
    let r = b.post(
        "/accounts/login/",
        &[("username", "ann"), ("password", "an old passphrase")],
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let who = b.whoami();
    assert_eq!(who["username"], "ann");
    let stored = rt.block_on(async {
        database(&url)
            .await
            .collection::<Document>("auth_user")
            .find_one(doc! {"username": "ann"})
            .await
            .unwrap()
            .unwrap()
    });
    assert!(
        stored
            .get_str("password")
            .unwrap()
            .starts_with("pbkdf2_sha256$"),
        "rehashed at login: {stored}"
    );
    drop(server);
    rt.block_on(async { database(&url).await.drop().await.unwrap() });
}

#[test]
fn the_site_on_mongodb_and_nosql_injection_through_its_forms() {
    let Some(url) = mongo_url() else { return };
    // No migrate: an empty database gets its indexes on first run, as SQLite gets its tables.
    let server = serve_with(&[
        ("SESAME_DATABASE_URL", &url),
        ("SESAME_SECRET_KEY", "mongo-cli-test-key"),
    ]);
    let mut b = Browser::new(&server);
    let r = b.signup("alice", "alice@example.com", "Tr0ub4dor&3-long");
    assert_eq!(r.status, 302, "{}", r.body);
    let who = b.whoami();
    assert_eq!(who["authenticated"], true);
    assert_eq!(who["id"].as_str().unwrap().len(), 24, "{who}");
    b.post("/accounts/logout/", &[]);

    let mut attacker = Browser::new(&server);
    // PHP/Express-style operator fields are unknown fields: the real ones are missing.
    let r = attacker.post(
        "/accounts/login/",
        &[("username[$ne]", ""), ("password[$ne]", "")],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("This field is required."));
    let r = attacker.post(
        "/accounts/login/",
        &[
            ("username[$ne]", "x"),
            ("username", "alice"),
            ("password[$gt]", ""),
        ],
    );
    assert_eq!(r.status, 400);
    // Operator-shaped text is a username like any other: no match, no login.
    for (user, pass) in [
        ("{\"$ne\": \"\"}", "{\"$ne\": \"\"}"),
        ("alice", "{\"$ne\": \"\"}"),
        ("$where", "x"),
        ("{\"$gt\": \"\"}", "x"),
        ("alice' || '1'=='1", "x"),
    ] {
        let r = attacker.post(
            "/accounts/login/",
            &[("username", user), ("password", pass)],
        );
        assert_eq!(r.status, 400, "{user}: {}", r.body);
        assert!(
            r.body
                .contains("Please enter a correct username and password"),
            "{user}"
        );
    }
    // A JSON body is not a form: refused with a 4xx, not parsed into a query.
    let token = attacker.token("/accounts/login/");
    let r = attacker.request(
        "POST",
        "/accounts/login/",
        &format!("{{\"username\": {{\"$ne\": \"\"}}, \"password\": {{\"$ne\": \"\"}}, \"csrfmiddlewaretoken\": \"{token}\"}}"),
        &[("Content-Type", "application/json")],
    );
    assert!((400..500).contains(&r.status), "{}", r.status);
    let who = attacker.whoami();
    assert_eq!(who["authenticated"], false);
    // Signup with operator-shaped names stores them as text.
    let r = attacker.signup("$where", "w@example.com", "Tr0ub4dor&3-long");
    assert!(r.status == 400 || r.status == 302, "{}", r.status);
    let count = tokio::runtime::Runtime::new().unwrap().block_on(async {
        database(&url)
            .await
            .collection::<Document>("auth_user")
            .count_documents(doc! {"is_superuser": true})
            .await
            .unwrap()
    });
    assert_eq!(count, 0);
    drop(server);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { database(&url).await.drop().await.unwrap() });
}
