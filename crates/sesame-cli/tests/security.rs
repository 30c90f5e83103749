//! Issue 15's findings against the real `sesame serve`, each test named after the attack it
//! defends against: Host-header poisoning of reset links, open redirects through characters
//! browsers drop, and the headers of Django's `SecurityMiddleware`, `XFrameOptionsMiddleware`,
//! `CommonMiddleware` (`APPEND_SLASH`) and `never_cache`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Browser, serve, serve_with};
use std::process::Command;

const PASSWORD: &str = "Tr0ub4dor&3-long";

fn outbox(server: &common::Server) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(server.dir.join("sesame-outbox")) else {
        return Vec::new();
    };
    dir.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

/// Finding 1: `Host: evil.example` used to mail a valid reset link to evil.example.
#[test]
fn password_reset_poisoning_through_the_host_header_is_refused() {
    let mut server = serve();
    let mut b = Browser::new(&server);
    assert_eq!(
        b.signup("victim", "victim@example.com", PASSWORD).status,
        302
    );
    let mut anon = Browser::new(&server);
    for host in [
        "evil.example",
        "evil.example/steal?x=",
        "127.0.0.1:1@evil.example",
    ] {
        let r = anon.post_with(
            "/accounts/password_reset/",
            &[("email", "victim@example.com")],
            &[("Host", host)],
        );
        assert_eq!(r.status, 400, "Host {host:?}: {}", r.body);
        assert!(r.body.contains("Bad Request (400)"));
    }
    assert!(outbox(&server).is_empty(), "no mail for a foreign host");
    // With the server's own host, the link is to the server's own host.
    let r = anon.post(
        "/accounts/password_reset/",
        &[("email", "victim@example.com")],
    );
    assert_eq!(r.header("location"), Some("/accounts/password_reset/done/"));
    let mails = outbox(&server);
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].contains(&format!("http://{}/accounts/reset/", server.addr)),
        "{}",
        mails[0]
    );
    // A login on a foreign host cannot be reached either, so its `next` never counts.
    let r = anon.request(
        "GET",
        "/accounts/login/?next=http://evil.example/x",
        "",
        &[("Host", "evil.example")],
    );
    assert_eq!(r.status, 400);
    let log = server.stop_and_log();
    assert!(log.contains("django.security.DisallowedHost"), "{log}");
    assert!(
        log.contains("You may need to add \\\"evil.example\\\" to ALLOWED_HOSTS")
            || log.contains("evil.example"),
        "{log}"
    );
    assert!(
        log.contains("ALLOWED_HOSTS is empty"),
        "the start-up warning: {log}"
    );
}

/// Finding 8: behind a TLS-terminating proxy the links are `https://` on the proxy's host,
/// and the Referer check of CSRF runs (it never did, as the request looked like plain HTTP).
#[test]
fn password_reset_link_behind_a_tls_proxy_is_https_and_csrf_checks_the_referer() {
    let server = serve_with(&[
        ("SESAME_ALLOWED_HOSTS", "www.example.com,127.0.0.1"),
        (
            "SESAME_SECURE_PROXY_SSL_HEADER",
            "HTTP_X_FORWARDED_PROTO,https",
        ),
        ("SESAME_SECURE_HSTS_SECONDS", "3600"),
    ]);
    let mut b = Browser::new(&server);
    assert_eq!(b.signup("tls", "tls@example.com", PASSWORD).status, 302);
    let proxied = [("Host", "www.example.com"), ("X-Forwarded-Proto", "https")];
    let mut anon = Browser::new(&server);
    // No Referer on a secure POST: Django's "Referer checking failed - no Referer."
    let r = anon.post_with(
        "/accounts/password_reset/",
        &[("email", "tls@example.com")],
        &proxied,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("no Referer"), "{}", r.body);
    let mut with_referer = proxied.to_vec();
    with_referer.push((
        "Referer",
        "https://www.example.com/accounts/password_reset/",
    ));
    let r = anon.post_with(
        "/accounts/password_reset/",
        &[("email", "tls@example.com")],
        &with_referer,
    );
    assert_eq!(
        r.header("location"),
        Some("/accounts/password_reset/done/"),
        "{}",
        r.body
    );
    assert_eq!(r.header("strict-transport-security"), Some("max-age=3600"));
    let mails = outbox(&server);
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].contains("https://www.example.com/accounts/reset/"),
        "{}",
        mails[0]
    );
    // HSTS only on secure requests (finding 7: SESAME_SECURE_HSTS_SECONDS gave no header).
    assert_eq!(b.get("/").header("strict-transport-security"), None);
}

/// Finding 2: `next=/\t/evil.example/x` came back as `Location: /\t/evil.example/x`, which
/// Chromium follows to `//evil.example/x`; `next=/\n/evil.example` gave a 302 with no
/// Location at all.
#[test]
fn open_redirect_through_a_tab_or_newline_in_next_is_refused() {
    let server = serve();
    let mut b = Browser::new(&server);
    assert_eq!(
        b.signup("walker", "walker@example.com", PASSWORD).status,
        302
    );
    for next in [
        "/\t/evil.example/x",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/\t\\evil.example",
    ] {
        assert_eq!(b.post("/accounts/logout/", &[]).status, 302);
        let r = b.post(
            "/accounts/login/",
            &[
                ("username", "walker"),
                ("password", PASSWORD),
                ("next", next),
            ],
        );
        assert_eq!(r.status, 302, "{next:?}");
        assert_eq!(r.header("location"), Some("/accounts/profile/"), "{next:?}");
    }
    // A safe next with a tab keeps it, percent-encoded as Django's iri_to_uri does.
    assert_eq!(b.post("/accounts/logout/", &[]).status, 302);
    let r = b.post(
        "/accounts/login/",
        &[
            ("username", "walker"),
            ("password", PASSWORD),
            ("next", "/a\tb/"),
        ],
    );
    assert_eq!(r.header("location"), Some("/a%09b/"));
}

/// Finding 7: no `X-Frame-Options` (clickjacking), `X-Content-Type-Options`,
/// `Referrer-Policy`, `Cross-Origin-Opener-Policy`, and no `Cache-Control` on pages with
/// credentials (a shared computer's back button or a proxy cache shows them again).
#[test]
fn clickjacking_sniffing_and_cached_credentials_headers_on_every_page() {
    let server = serve();
    let mut b = Browser::new(&server);
    for path in [
        "/",
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password_reset/",
        "/api/whoami",
        "/healthz",
    ] {
        let r = b.get(path);
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("referrer-policy"), Some("same-origin"), "{path}");
        assert_eq!(
            r.header("cross-origin-opener-policy"),
            Some("same-origin"),
            "{path}"
        );
        if path == "/healthz" {
            assert_eq!(r.header("cache-control"), None);
        } else {
            assert_eq!(
                r.header("cache-control"),
                Some("max-age=0, no-cache, no-store, must-revalidate, private"),
                "{path}"
            );
            assert!(
                r.header("expires").is_some_and(|e| e.ends_with("GMT")),
                "{path}"
            );
        }
    }
    assert_eq!(
        b.signup("cached", "cached@example.com", PASSWORD).status,
        302
    );
    for path in ["/accounts/profile/", "/accounts/password_change/"] {
        let r = b.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("cache-control")
                .is_some_and(|c| c.contains("no-store")),
            "{path}"
        );
    }
    // A refused Host gets the headers too.
    let r = b.request("GET", "/", "", &[("Host", "evil.example")]);
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
}

/// Django's APPEND_SLASH, without becoming an open redirect for `//evil.example`.
#[test]
fn append_slash_redirects_but_never_to_another_host() {
    let server = serve();
    let mut b = Browser::new(&server);
    let r = b.get("/accounts/login");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/accounts/login/"));
    let r = b.get("/accounts/login?next=/accounts/profile/");
    assert_eq!(
        r.header("location"),
        Some("/accounts/login/?next=/accounts/profile/")
    );
    assert_eq!(b.get("/no/such/page").status, 404);
    let r = b.get("//evil.example");
    assert_ne!(r.header("location"), Some("//evil.example/"));
    assert!(!r.header("location").unwrap_or_default().starts_with("//"));
    // A POST is never redirected (its body would be lost).
    let token = b.token("/accounts/login/");
    let body = format!("csrfmiddlewaretoken={token}");
    assert_eq!(b.request("POST", "/accounts/login", &body, &[]).status, 404);
}

#[test]
fn ssl_redirect_sends_plain_http_to_https() {
    let server = serve_with(&[("SESAME_SECURE_SSL_REDIRECT", "true")]);
    let mut b = Browser::new(&server);
    let r = b.get("/accounts/login/?next=/x");
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location").map(str::to_owned),
        Some(format!("https://{}/accounts/login/?next=/x", server.addr))
    );
}

/// A mistyped variable used to be ignored silently, leaving the protection it meant off.
#[test]
fn mistyped_or_invalid_security_settings_are_reported_at_start_up() {
    let out = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .args(["password", "hash", "--password", "x"])
        .env("SESAME_SECURE_HSTS_SECOND", "3600")
        .env("SESAME_PASSWORD_HASHERS", "md5")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SESAME_SECURE_HSTS_SECOND is not a Sesame setting")
            && err.contains("did you mean SESAME_SECURE_HSTS_SECONDS?"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .args(["password", "hash", "--password", "x"])
        .env("SESAME_X_FRAME_OPTIONS", "ALLOWALL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("X_FRAME_OPTIONS must be DENY or SAMEORIGIN")
    );
}
