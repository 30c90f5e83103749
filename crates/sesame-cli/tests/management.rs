//! The management commands on every SQL URL, run as a user runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sesame_sql::{Db, PoolSettings};
use std::process::{Command, Output, Stdio};

struct Site {
    url: String,
    cleanup: Option<(String, String)>,
}

async fn site(kind: &str) -> Option<Site> {
    let name = format!("sesame_cli_{}_{}", kind, std::process::id());
    if kind == "sqlite" {
        let path = std::env::temp_dir().join(format!("{name}.sqlite3"));
        let _ = std::fs::remove_file(&path);
        return Some(Site {
            url: format!("sqlite://{}", path.display()),
            cleanup: None,
        });
    }
    let admin = match kind {
        "postgres" => std::env::var("SESAME_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        _ => std::env::var("SESAME_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into()),
    };
    let db = match Db::connect(&admin, PoolSettings::default()).await {
        Ok(db) => db,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{kind} unreachable under CI=true: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: {kind} is not reachable at {admin}: {e}");
            return None;
        }
    };
    db.execute_raw(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .unwrap();
    db.execute_raw(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    db.close().await;
    let base = admin.rsplit_once('/').unwrap().0;
    Some(Site {
        url: format!("{base}/{name}"),
        cleanup: Some((admin, name)),
    })
}

impl Site {
    fn run(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sesame"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SESAME_")) {
            cmd.env_remove(k);
        }
        cmd.args(args)
            .current_dir(std::env::temp_dir())
            .env(
                "SESAME_CONFIG",
                std::env::temp_dir().join("sesame-cli-absent.toml"),
            )
            .env("SESAME_DATABASE_URL", &self.url)
            .env("SESAME_SECRET_KEY", "cli-test-key")
            .env("SESAME_PASSWORD_HASHERS", "pbkdf2_sha256,md5")
            .env("SESAME_DJANGO_VERSION", "5.2")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> String {
        let out = self.run(args, env, stdin);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn fails(&self, args: &[&str], code: i32, needle: &str) {
        let out = self.run(args, &[], "");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    }

    async fn drop(self) {
        if let Some((admin, name)) = self.cleanup {
            let db = Db::connect(&admin, PoolSettings::default()).await.unwrap();
            let force = if admin.starts_with("postgres") {
                " WITH (FORCE)"
            } else {
                ""
            };
            db.execute_raw(&format!("DROP DATABASE IF EXISTS {name}{force}"))
                .await
                .unwrap();
        } else if let Some(path) = self.url.strip_prefix("sqlite://") {
            for s in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{s}"));
            }
        }
    }
}

async fn every_command(kind: &str) {
    let Some(s) = site(kind).await else { return };
    s.fails(&["user", "list"], 1, "sesame migrate");
    let out = s.ok(&["migrate"], &[], "");
    assert!(out.contains("Created Django's tables"), "{out}");
    assert!(s.ok(&["migrate"], &[], "").contains("already there"));
    assert!(s.ok(&["check"], &[], "").contains("no issues"));

    s.ok(
        &[
            "createsuperuser",
            "--noinput",
            "--username",
            "admin",
            "--email",
            "Admin@EXAMPLE.com",
        ],
        &[("SESAME_SUPERUSER_PASSWORD", "Ad-min-pass-42")],
        "",
    );
    let dup = s.run(
        &["createsuperuser", "--noinput", "--username", "admin"],
        &[],
        "",
    );
    assert_eq!(dup.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("That username is already taken."));
    let shown = s.ok(&["user", "show", "admin"], &[], "");
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["email"], "Admin@example.com", "Django's normalize_email");
    assert_eq!(v["is_superuser"], true);
    assert!(v.get("password").is_none(), "never print the hash");

    s.ok(
        &["user", "create", "bob", "--email", "bob@example.com"],
        &[("SESAME_USER_PASSWORD", "correct horse battery")],
        "",
    );
    s.fails(
        &["user", "create", "bad name!", "--no-password"],
        1,
        "Enter a valid username",
    );
    let weak = s.run(
        &["user", "create", "carol", "--email", "c@example.com"],
        &[("SESAME_USER_PASSWORD", "123")],
        "",
    );
    assert_eq!(weak.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&weak.stderr).contains("too short"));
    let list = s.ok(&["user", "list"], &[], "");
    assert!(
        list.contains("admin") && list.contains("bob") && !list.contains("carol"),
        "{list}"
    );

    // changepassword reads the new password twice from standard input.
    let out = s.ok(
        &["changepassword", "bob"],
        &[],
        "Another-long-pass-1\nAnother-long-pass-1\n",
    );
    assert!(out.contains("Password changed successfully for user 'bob'"));
    let bad = s.run(&["changepassword", "bob"], &[], "a1\nb2\nc3\nd4\ne5\nf6\n");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("after 3 attempts"));
    s.fails(
        &["changepassword", "nobody"],
        1,
        "user 'nobody' does not exist",
    );

    // groups and permissions
    s.ok(&["group", "create", "editors"], &[], "");
    s.fails(&["group", "create", "editors"], 1, "already exists");
    s.ok(&["group", "grant", "editors", "auth.change_user"], &[], "");
    s.ok(&["group", "add-user", "editors", "bob"], &[], "");
    s.ok(&["perm", "grant", "bob", "sessions.view_session"], &[], "");
    s.fails(
        &["perm", "grant", "bob", "nonsense"],
        2,
        "app_label.codename",
    );
    s.fails(&["perm", "grant", "bob", "auth.fly"], 1, "does not exist");
    assert_eq!(
        s.ok(&["perm", "list", "--username", "bob"], &[], ""),
        "auth.change_user\nsessions.view_session\n"
    );
    s.ok(&["perm", "check", "bob", "auth.change_user"], &[], "");
    assert_eq!(
        s.run(&["perm", "check", "bob", "auth.delete_user"], &[], "")
            .status
            .code(),
        Some(1)
    );
    s.ok(&["perm", "check", "admin", "auth.delete_user"], &[], "");
    s.ok(&["user", "deactivate", "admin"], &[], "");
    assert_eq!(
        s.run(&["perm", "check", "admin", "auth.delete_user"], &[], "")
            .status
            .code(),
        Some(1),
        "inactive superuser has nothing"
    );
    s.ok(&["user", "activate", "admin"], &[], "");
    s.ok(&["group", "revoke", "editors", "auth.change_user"], &[], "");
    s.ok(&["group", "remove-user", "editors", "bob"], &[], "");
    s.ok(&["perm", "revoke", "bob", "sessions.view_session"], &[], "");
    assert_eq!(s.ok(&["perm", "list", "--username", "bob"], &[], ""), "");
    assert!(s.ok(&["perm", "list"], &[], "").lines().count() >= 20);
    assert!(s.ok(&["group", "list"], &[], "").contains("editors"));

    // sessions: write some through the library, then list, show, delete, clear.
    let db = Db::connect(&s.url, PoolSettings::default()).await.unwrap();
    let store = sesame_sql::SqlSessionStore::new(
        db.clone(),
        sesame::core::session::SessionCodec::new("cli-test-key"),
    );
    use sesame::core::session::{SessionRecord, SessionStore};
    let data: sesame::core::session::SessionData =
        serde_json::from_str(r#"{"cart": [1, 2], "name": "Jörg"}"#).unwrap();
    let live = SessionRecord {
        data: &data,
        expire_date: chrono::Utc::now() + chrono::TimeDelta::hours(1),
    };
    let dead = SessionRecord {
        data: &data,
        expire_date: chrono::Utc::now() - chrono::TimeDelta::hours(1),
    };
    store
        .create("livesessionkey0000000000000001", live)
        .await
        .unwrap();
    for i in 0..2500 {
        store
            .create(&format!("deadsessionkey{i:016}"), dead)
            .await
            .unwrap();
    }
    db.close().await;
    assert!(
        s.ok(&["session", "list"], &[], "")
            .contains("livesessionkey0000000000000001")
    );
    let shown: serde_json::Value = serde_json::from_str(&s.ok(
        &["session", "show", "livesessionkey0000000000000001"],
        &[],
        "",
    ))
    .unwrap();
    assert_eq!(shown["name"], "Jörg");
    s.fails(
        &["session", "show", "nosuchkey00000000"],
        1,
        "no live session",
    );
    let cleared = s.ok(&["clearsessions"], &[], "");
    assert!(
        cleared.contains("Deleted 2500 expired session(s)."),
        "{cleared}"
    );
    s.ok(
        &["session", "delete", "livesessionkey0000000000000001"],
        &[],
        "",
    );
    s.fails(
        &["session", "delete", "livesessionkey0000000000000001"],
        1,
        "no session",
    );

    s.ok(&["user", "delete", "bob"], &[], "");
    s.fails(&["user", "show", "bob"], 1, "does not exist");
    s.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    every_command("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    every_command("postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    every_command("mysql").await;
}

#[test]
fn bad_urls_are_clear() {
    let s = Site {
        url: "oracle://x".into(),
        cleanup: None,
    };
    s.fails(&["migrate"], 1, "unsupported database URL");
    let s = Site {
        url: "postgres://nobody@127.0.0.1:1/none".into(),
        cleanup: None,
    };
    s.fails(&["migrate"], 1, "cannot connect to the postgres database");
}
