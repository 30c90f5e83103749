//! `sesame serve` with Redis session engines (`cache`, `cached_db`) and the configuration
//! errors around them. Needs Redis at 127.0.0.1:6379 (or `SESAME_TEST_REDIS_URL`): without
//! it the test says SKIPPED, and under `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Browser, serve_with};
use std::process::Command;

fn redis_url() -> Option<String> {
    let url = std::env::var("SESAME_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    let addr = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379")
        .to_owned();
    if std::net::TcpStream::connect(&addr).is_err() {
        let why = format!("Redis is not reachable at {addr}");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{why} (CI=true: services must be up)");
        }
        eprintln!("SKIPPED: {why}");
        return None;
    }
    Some(url)
}

#[test]
fn cache_and_cached_db_engines_serve_logins() {
    let Some(url) = redis_url() else { return };
    for engine in ["cache", "cached_db"] {
        let prefix = format!("sesame-cli-{}-{engine}", std::process::id());
        let server = serve_with(&[
            ("SESAME_SESSION_ENGINE", engine),
            ("SESAME_CACHE_URL", &url),
            ("SESAME_CACHE_KEY_PREFIX", &prefix),
        ]);
        let mut b = Browser::new(&server);
        let r = b.signup("alice", "alice@example.com", "Tr0ub4dor&3-long");
        assert_eq!(r.status, 302, "{engine}: {}", r.body);
        let key = b
            .cookies
            .get("sessionid")
            .cloned()
            .expect("a session cookie");
        let who = b.whoami();
        assert_eq!(who["authenticated"], true, "{engine}");
        // The session is in Redis under Django's key.
        let stored = Command::new("redis-cli")
            .args([
                "-u",
                &url,
                "EXISTS",
                &format!("{prefix}:1:django.contrib.sessions.{engine}{key}"),
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        if let Ok(n) = stored {
            assert_eq!(n, "1", "{engine}: the key is in Redis");
        }
        b.post("/accounts/logout/", &[]);
        let who = b.whoami();
        assert_eq!(who["authenticated"], false, "{engine}");
    }
}

#[test]
fn a_cache_engine_without_a_cache_url_is_a_usage_error() {
    let dir = std::env::temp_dir().join(format!("sesame-engines-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sesame"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SESAME_")) {
        cmd.env_remove(k);
    }
    let out = cmd
        .arg("serve")
        .current_dir(&dir)
        .env("SESAME_SECRET_KEY", "k")
        .env("SESAME_SESSION_ENGINE", "cache")
        .env("SESAME_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SESAME_CACHE_URL"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn signup_logs_in_with_the_configured_backend_path() {
    let server = serve_with(&[("SESAME_AUTH_BACKEND_PATH", "myproject.backends.RustBackend")]);
    let mut b = Browser::new(&server);
    let r = b.signup("bea", "bea@example.com", "Tr0ub4dor&3-long");
    assert_eq!(r.status, 302, "{}", r.body);
    let who = b.whoami();
    assert_eq!(who["authenticated"], true);
    let r = b.post("/accounts/logout/", &[]);
    assert_eq!(r.status, 302);
    let r = b.post(
        "/accounts/login/",
        &[("username", "bea"), ("password", "Tr0ub4dor&3-long")],
    );
    assert_eq!(r.status, 302, "{}", r.body);
}
