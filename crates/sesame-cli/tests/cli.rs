//! The `sesame` binary, run as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn sesame(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = std::env::temp_dir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sesame"));
    cmd.args(args).current_dir(&dir);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SESAME_")) {
        cmd.env_remove(k);
    }
    cmd.env("SESAME_CONFIG", dir.join("sesame-cli-test-absent.toml"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const H01: &str = "pbkdf2_sha256$1$seasalt$YQUqaoGGIdcjQtCPUVvu1oIcyb7WgPW9b7k/hvRudOk=";

#[test]
fn password_check_exit_codes() {
    let ok = sesame(
        &[
            "password",
            "check",
            "--encoded",
            H01,
            "--password",
            "password",
        ],
        &[],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let bad = sesame(
        &["password", "check", "--encoded", H01, "--password", "nope"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(1));
    let usage = sesame(&["password", "check", "--encoded", H01], &[]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(stderr(&usage).contains("--password"));
    let garbage = sesame(
        &[
            "password",
            "check",
            "--encoded",
            "not a hash",
            "--password",
            "x",
        ],
        &[],
    );
    assert_eq!(garbage.status.code(), Some(1));
}

#[test]
fn password_hash_matches_django() {
    let out = sesame(
        &[
            "password",
            "hash",
            "--password",
            "password",
            "--algorithm",
            "pbkdf2_sha256",
            "--salt",
            "seasalt",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Django 5.2's 1,000,000 iterations by default (H05b in the spec, other salt).
    assert!(
        stdout(&out).starts_with("pbkdf2_sha256$1000000$seasalt$"),
        "{}",
        stdout(&out)
    );
    let v6 = sesame(
        &[
            "password",
            "hash",
            "--password",
            "correct horse battery staple",
            "--salt",
            "xKhVqWoLDzFvGz4tJ3cIbM",
        ],
        &[("SESAME_DJANGO_VERSION", "6.0")],
    );
    assert_eq!(
        stdout(&v6).trim(),
        "pbkdf2_sha256$1200000$xKhVqWoLDzFvGz4tJ3cIbM$43luA8mGOzBfUgrAlmTMUNS6inoRpfVMRP/Eu/wmtt8="
    );
    let unknown = sesame(
        &[
            "password",
            "hash",
            "--password",
            "x",
            "--algorithm",
            "rot13",
        ],
        &[],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("rot13"));
}

#[test]
fn password_hash_reads_stdin() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .args([
            "password",
            "hash",
            "--algorithm",
            "md5",
            "--salt",
            "seasalt",
        ])
        .env(
            "SESAME_CONFIG",
            std::env::temp_dir().join("sesame-cli-test-absent.toml"),
        )
        .env("SESAME_PASSWORD_HASHERS", "pbkdf2_sha256,md5")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        stdout(&out).trim(),
        "md5$seasalt$1e9bf2bf5606aa5c39852cc30f0f6f22"
    );
}

const V5: &str =
    "eyJhIHRlc3Qga2V5IjoiYSB0ZXN0IHZhbHVlIn0:1r31eq:z3T5kuYwaLspnAAUpfRWpbinC-rn6c6P1Qf9PsCyZ2s";

#[test]
fn session_decode() {
    let ok = sesame(
        &["session", "decode", V5],
        &[("SESAME_SECRET_KEY", "django_tests_secret_key")],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let v: serde_json::Value = serde_json::from_str(&stdout(&ok)).unwrap();
    assert_eq!(v, serde_json::json!({"a test key": "a test value"}));

    let rotated = sesame(
        &["session", "decode", V5],
        &[
            ("SESAME_SECRET_KEY", "new-key"),
            (
                "SESAME_SECRET_KEY_FALLBACKS",
                "other,django_tests_secret_key",
            ),
        ],
    );
    assert_eq!(rotated.status.code(), Some(0), "{}", stderr(&rotated));

    let forged = sesame(
        &["session", "decode", V5],
        &[("SESAME_SECRET_KEY", "wrong")],
    );
    assert_eq!(forged.status.code(), Some(1));
    assert!(
        stderr(&forged).contains("does not verify"),
        "{}",
        stderr(&forged)
    );
    assert!(stdout(&forged).is_empty());

    let no_key = sesame(&["session", "decode", V5], &[]);
    assert_eq!(no_key.status.code(), Some(2));
    assert!(stderr(&no_key).contains("SESAME_SECRET_KEY"));
}

#[test]
fn bad_configuration_is_named() {
    let out = sesame(
        &["password", "check", "--encoded", H01, "--password", "x"],
        &[("SESAME_SESSION_COOKIE_AGE", "soon")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("SESAME_SESSION_COOKIE_AGE"),
        "{}",
        stderr(&out)
    );
}
