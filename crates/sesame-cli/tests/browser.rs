//! The headless-browser walk (`scripts/browser-test`: Debian's Chromium driven by
//! playwright-core) through the real `sesame serve`. Without Chromium or npm the test says
//! SKIPPED, except under `CI=true`, where the script installs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn signup_login_change_reset_in_chromium() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let have = |cmd: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {cmd}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let runnable = ci || (have("chromium") && have("npm"));
    if !runnable {
        eprintln!(
            "SKIPPED: the browser test needs chromium and npm (scripts/browser-test installs them; CI=true runs it)"
        );
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/browser-test");
    let out = Command::new(script)
        .env("SESAME_BIN", env!("CARGO_BIN_EXE_sesame"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("browser walk: OK"), "{text}");
}
