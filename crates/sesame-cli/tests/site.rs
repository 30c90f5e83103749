//! `sesame serve` as an operator runs it: the real binary, over HTTP, on a fresh SQLite file,
//! with no configuration at all (plus a directory outbox for the reset mail).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Browser, serve, serve_with};
use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};

#[test]
fn the_whole_site() {
    let server = serve();
    let secret = server.dir.join(".sesame-secret-key");
    let meta = std::fs::metadata(&secret).expect("a generated key file");
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    assert!(server.dir.join("sesame.sqlite3").exists());

    let mut b = Browser {
        server: &server,
        cookies: HashMap::new(),
    };
    assert_eq!(b.get("/").status, 200);
    assert_eq!(b.get("/healthz").status, 200);

    // Signup: validators and duplicates reported clearly; success logs in.
    let r = b.post(
        "/accounts/signup/",
        &[
            ("username", "alice"),
            ("email", "alice@example.com"),
            ("password1", "123"),
            ("password2", "123"),
        ],
    );
    assert_eq!(r.status, 400);
    assert!(r.body.contains("This password is too short"), "{}", r.body);
    let r = b.post(
        "/accounts/signup/",
        &[
            ("username", "alice"),
            ("email", "alice@example.com"),
            ("password1", "Tr0ub4dor&3-long"),
            ("password2", "Tr0ub4dor&3-long"),
        ],
    );
    assert_eq!(r.status, 302, "{}", r.body);
    assert!(b.get("/").body.contains("Welcome, alice"));
    let who: serde_json::Value = serde_json::from_str(&b.get("/api/whoami").body).unwrap();
    assert_eq!(who["authenticated"], true);
    assert_eq!(who["username"], "alice");

    let mut other = Browser {
        server: &server,
        cookies: HashMap::new(),
    };
    let r = other.post(
        "/accounts/signup/",
        &[
            ("username", "ALICE"),
            ("email", "Alice@Example.com"),
            ("password1", "Tr0ub4dor&3-long"),
            ("password2", "Tr0ub4dor&3-long"),
        ],
    );
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("A user with that username already exists."),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("A user with that email address already exists.")
    );

    // Logout by POST; login with a safe `next`; an unsafe `next` is ignored.
    assert_eq!(b.post("/accounts/logout/", &[]).status, 302);
    assert_eq!(
        b.get("/accounts/profile/").header("location"),
        Some("/accounts/login/?next=/accounts/profile/")
    );
    let r = b.post(
        "/accounts/login/",
        &[
            ("username", "alice"),
            ("password", "wrong"),
            ("next", "/accounts/profile/"),
        ],
    );
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .contains("Please enter a correct username and password.")
    );
    let r = b.post(
        "/accounts/login/",
        &[
            ("username", "alice"),
            ("password", "Tr0ub4dor&3-long"),
            ("next", "/accounts/profile/"),
        ],
    );
    assert_eq!(r.header("location"), Some("/accounts/profile/"));
    assert!(
        b.get("/accounts/profile/")
            .body
            .contains("alice@example.com")
    );
    assert_eq!(b.post("/accounts/logout/", &[]).status, 302);
    let r = b.post(
        "/accounts/login/",
        &[
            ("username", "alice"),
            ("password", "Tr0ub4dor&3-long"),
            ("next", "//evil.example/"),
        ],
    );
    assert_eq!(r.header("location"), Some("/accounts/profile/"));

    // Password change.
    let r = b.post(
        "/accounts/password_change/",
        &[
            ("old_password", "nope"),
            ("new_password1", "N3w-passw0rd-long"),
            ("new_password2", "N3w-passw0rd-long"),
        ],
    );
    assert!(
        r.body
            .contains("Your old password was entered incorrectly.")
    );
    let r = b.post(
        "/accounts/password_change/",
        &[
            ("old_password", "Tr0ub4dor&3-long"),
            ("new_password1", "N3w-passw0rd-long"),
            ("new_password2", "N3w-passw0rd-long"),
        ],
    );
    assert_eq!(
        r.header("location"),
        Some("/accounts/password_change/done/")
    );
    assert!(
        b.get("/accounts/password_change/done/")
            .body
            .contains("Password change successful")
    );
    assert_eq!(b.post("/accounts/logout/", &[]).status, 302);

    // Password reset through the directory outbox.
    let r = b.post(
        "/accounts/password_reset/",
        &[("email", "ALICE@example.com")],
    );
    assert_eq!(r.header("location"), Some("/accounts/password_reset/done/"));
    let r = b.post(
        "/accounts/password_reset/",
        &[("email", "nobody@example.com")],
    );
    assert_eq!(
        r.header("location"),
        Some("/accounts/password_reset/done/"),
        "no user enumeration"
    );
    let outbox = server.dir.join("sesame-outbox");
    let mails: Vec<_> = std::fs::read_dir(&outbox).unwrap().collect();
    assert_eq!(mails.len(), 1, "one mail, for the one account");
    let mail = std::fs::read_to_string(mails[0].as_ref().unwrap().path()).unwrap();
    assert!(mail.contains("To: alice@example.com"));
    let link = mail
        .lines()
        .find(|l| l.contains("/accounts/reset/"))
        .unwrap()
        .trim()
        .to_owned();
    let path = &link[link.find("/accounts/reset/").unwrap()..];
    let r = b.get(path);
    assert_eq!(r.status, 302);
    let set = r.header("location").unwrap().to_owned();
    assert!(set.ends_with("/set-password/"), "the token leaves the URL");
    let r = b.post(
        &set,
        &[
            ("new_password1", "Reset-passw0rd-long"),
            ("new_password2", "Reset-passw0rd-long"),
        ],
    );
    assert_eq!(
        r.header("location"),
        Some("/accounts/reset/done/"),
        "{}",
        r.body
    );
    assert_eq!(b.get(path).status, 400, "a used link is invalid");
    let r = b.post(
        "/accounts/login/",
        &[("username", "alice"), ("password", "Reset-passw0rd-long")],
    );
    assert_eq!(r.status, 302);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&b.get("/api/whoami").body).unwrap()["username"],
        "alice"
    );
}

#[test]
fn bad_input_gets_4xx() {
    let server = serve();
    let mut b = Browser {
        server: &server,
        cookies: HashMap::new(),
    };
    // NoSQL-style and missing fields.
    let r = b.post(
        "/accounts/login/",
        &[("username[$ne]", ""), ("password", "x")],
    );
    assert_eq!(r.status, 400);
    assert!(r.body.contains("This field is required."));
    // Forged or missing CSRF.
    let r = b.request(
        "POST",
        "/accounts/login/",
        "username=a&password=b&csrfmiddlewaretoken=forged",
        &[],
    );
    assert_eq!(r.status, 403);
    assert!(r.body.contains("CSRF"));
    // Malformed and oversized bodies, malformed cookies.
    let token = b.token("/accounts/login/");
    let r = b.request(
        "POST",
        "/accounts/login/",
        &format!("csrfmiddlewaretoken={token}&%zz=%"),
        &[],
    );
    assert!((400..500).contains(&r.status), "{}", r.status);
    let big = format!(
        "csrfmiddlewaretoken={token}&username={}",
        "a".repeat(3_000_000)
    );
    assert_eq!(b.request("POST", "/accounts/login/", &big, &[]).status, 413);
    let mut bad = Browser {
        server: &server,
        cookies: HashMap::new(),
    };
    bad.cookies.insert("sessionid".into(), "\"garbage".into());
    bad.cookies.insert("csrftoken".into(), "x".repeat(100));
    assert_eq!(bad.get("/").status, 200);
    assert_eq!(bad.get("/api/whoami").status, 200);
    // Invalid reset links.
    assert_eq!(b.get("/accounts/reset/!!!/abc-def/").status, 400);
    assert_eq!(
        b.get("/accounts/reset/MQ/zzzzzzzzzzzzzzzzzz-1/").status,
        400
    );
    // GET logout is not allowed (Django 5.0+).
    assert_eq!(b.get("/accounts/logout/").status, 405);
}

/// The `smtp` outbox, against a real SMTP server (Python's `smtpd` debugging server).
#[test]
fn password_reset_mail_over_smtp() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let smtpd = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-u",
            "-m",
            "smtpd",
            "-n",
            "-c",
            "DebuggingServer",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut smtpd) = smtpd else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "python3 is needed for the SMTP test"
        );
        eprintln!("SKIPPED: no python3 for the SMTP debugging server");
        return;
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    let server = serve_with(&[
        ("SESAME_EMAIL_BACKEND", "smtp"),
        ("SESAME_EMAIL_HOST", "127.0.0.1"),
        ("SESAME_EMAIL_PORT", &port),
    ]);
    let mut b = Browser {
        server: &server,
        cookies: HashMap::new(),
    };
    let r = b.post(
        "/accounts/signup/",
        &[
            ("username", "mailer"),
            ("email", "mailer@example.com"),
            ("password1", "Sm7p-test-passw0rd"),
            ("password2", "Sm7p-test-passw0rd"),
        ],
    );
    assert_eq!(r.status, 302);
    let mut anon = Browser {
        server: &server,
        cookies: HashMap::new(),
    };
    assert_eq!(
        anon.post(
            "/accounts/password_reset/",
            &[("email", "mailer@example.com")]
        )
        .header("location"),
        Some("/accounts/password_reset/done/")
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = smtpd.kill();
    let mut out = String::new();
    smtpd
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    if out.contains("No module named smtpd")
        || out.is_empty() && !std::env::var("CI").is_ok_and(|v| v == "true")
    {
        eprintln!("SKIPPED: this python3 has no smtpd module");
        return;
    }
    assert!(out.contains("To: mailer@example.com"), "{out}");
    assert!(out.contains("/accounts/reset/"), "{out}");
}

/// Two `sesame serve` processes over one SQLite file, as two instances behind a proxy: the
/// failures counted by one are seen by the other, so together they allow five, not ten.
#[test]
fn throttle_is_shared_by_two_sesame_serve_processes() {
    let db = std::env::temp_dir().join(format!(
        "sesame-shared-throttle-{}-{}.sqlite3",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let url = format!("sqlite://{}", db.display());
    let env = [
        ("SESAME_DATABASE_URL", url.as_str()),
        ("SESAME_SECRET_KEY", "shared-throttle-key"),
        ("SESAME_PASSWORD_HASHERS", "md5"),
    ];
    let first = serve_with(&env);
    let second = serve_with(&env);
    let mut a = Browser::new(&first);
    assert_eq!(
        a.signup("alice", "", "Tr0ub4dor&3-long").status,
        302,
        "signed up on the first"
    );
    let mut b = Browser::new(&second);
    let login = |br: &mut Browser, password: &str| {
        br.post(
            "/accounts/login/",
            &[("username", "alice"), ("password", password)],
        )
    };
    for i in 0..5 {
        let br = if i % 2 == 0 { &mut a } else { &mut b };
        assert_eq!(login(br, "guess").status, 400, "failure {i}");
    }
    for br in [&mut a, &mut b] {
        let r = login(br, "Tr0ub4dor&3-long");
        assert_eq!(r.status, 429, "{}", r.body);
        assert!(r.header("retry-after").is_some());
        assert!(r.body.contains("Try again in 15 minutes."), "{}", r.body);
    }
    drop((first, second));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

/// A throttle setting that cannot work stops `sesame serve` with a message naming it.
#[test]
fn invalid_throttle_settings_are_refused_at_start_up() {
    let out = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .arg("serve")
        .env("SESAME_AXES_FAILURE_LIMIT", "0")
        .env("SESAME_BIND", "127.0.0.1:0")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("axes_failure_limit"), "{err}");
}
