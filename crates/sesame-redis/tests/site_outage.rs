//! End to end through the ready-made site (the router inside `SesameLayer`), on SQLite with
//! `cached_db` or `cache` on a persistent Redis of the test's own (AOF on), killed in the
//! middle of a logout or a password change and started again: a 503 has changed nothing (the
//! old cookie and the old password still work once Redis is back), and a success is final
//! (the old cookie is anonymous once Redis is back, the new password is the one that works).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::server::PersistentRedis;
use http_body_util::BodyExt;
use sesame_axum::Sesame;
use sesame_core::auth::hashers::{Hashers, PasswordHashing};
use sesame_core::auth::store::AuthStore;
use sesame_core::auth::{Auth, ModelBackend, NewUser};
use sesame_core::session::{SessionCodec, SessionStore};
use sesame_core::settings::Settings;
use sesame_redis::{CachedDbSessionStore, RedisConfig, RedisSessionStore};
use sesame_site::Site;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const OLD: &str = "first-Secret-pass-81";
const NEW: &str = "second-Secret-pass-92";

struct Reply {
    status: StatusCode,
    set_cookies: Vec<String>,
    body: String,
}

/// A tiny browser: cookies by name.
#[derive(Clone, Default)]
struct Browser(HashMap<String, String>);

impl Browser {
    async fn send(&mut self, app: &Router, method: &str, path: &str, body: String) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        if !self.0.is_empty() {
            let cookie: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header("cookie", cookie.join("; "));
        }
        if method == "POST" {
            req = req.header("content-type", "application/x-www-form-urlencoded");
        }
        let resp = app
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let set_cookies: Vec<String> = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set_cookies {
            let (name, value) = c.split(';').next().unwrap().split_once('=').unwrap();
            if c.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            set_cookies,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    async fn get(&mut self, app: &Router, path: &str) -> Reply {
        self.send(app, "GET", path, String::new()).await
    }

    /// A form post with the CSRF token of the page at `form_page`.
    async fn post(
        &mut self,
        app: &Router,
        form_page: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Reply {
        let page = self.get(app, form_page).await;
        assert_eq!(page.status, StatusCode::OK, "{form_page}: {}", page.body);
        let at = page
            .body
            .find("name=\"csrfmiddlewaretoken\" value=\"")
            .expect("a CSRF field")
            + 34;
        let token = page.body[at..at + 64].to_owned();
        let mut body = format!("csrfmiddlewaretoken={token}");
        for (k, v) in form {
            body.push_str(&format!("&{k}={v}"));
        }
        self.send(app, "POST", path, body).await
    }

    async fn log_in(&mut self, app: &Router, password: &str) -> StatusCode {
        let login = "/accounts/login/";
        let r = self
            .post(
                app,
                login,
                login,
                &[("username", "alice"), ("password", password)],
            )
            .await;
        r.status
    }

    /// Whether this browser's session is logged in, asked once Redis answers again.
    async fn logged_in(&mut self, app: &Router) -> bool {
        let r = self.get(app, "/accounts/profile/").await;
        match r.status {
            StatusCode::OK => true,
            StatusCode::FOUND => false,
            other => panic!("profile answered {other}: {}", r.body),
        }
    }

    fn session_cookie(&self) -> Option<String> {
        self.0.get("sessionid").cloned()
    }
}

enum Engine {
    CachedDb,
    Cache,
}

/// The site over SQLite (users, and sessions for `cached_db`) and the test's own Redis.
async fn site(redis: &PersistentRedis, engine: Engine) -> Router {
    let db = common::migrated_sqlite().await;
    let settings = Settings {
        secret_key: "site-outage-test-key".into(),
        ..Settings::default()
    };
    let hashing = PasswordHashing::new(Hashers::from_names(&["md5"], "5.2").unwrap(), 2);
    let users: Arc<dyn AuthStore> =
        Arc::new(sesame_sql::SqlAuthStore::new(db.clone()).await.unwrap());
    let encoded = hashing.make_password(OLD.into()).await.unwrap();
    users
        .create_user(NewUser::new("alice", "alice@example.com", encoded))
        .await
        .unwrap();
    let config = RedisConfig::new(redis.url())
        .with_key_prefix(common::unique_prefix())
        .with_timeouts(Duration::from_millis(250), Duration::from_millis(500))
        .with_reconnect_retries(0);
    let sessions: Arc<dyn SessionStore> = match engine {
        Engine::CachedDb => {
            let rows = Arc::new(sesame_sql::SqlSessionStore::new(
                db,
                SessionCodec::from_settings(&settings),
            ));
            Arc::new(CachedDbSessionStore::connect(config, rows).unwrap())
        }
        Engine::Cache => Arc::new(RedisSessionStore::connect(config).unwrap()),
    };
    let auth = Auth::new(
        ModelBackend::new(users.clone(), hashing.clone()),
        settings.secret_key.clone(),
        vec![],
        sesame_core::auth::MODEL_BACKEND_PATH.into(),
    );
    let sesame = Sesame::builder(settings.clone(), sessions.clone())
        .auth(auth)
        .build();
    Site::new(settings, users, sessions, hashing)
        .unwrap()
        .router()
        .layer(sesame.layer())
}

/// Wait until the site answers again after Redis restarted.
async fn until_back(app: &Router) {
    for _ in 0..50 {
        if Browser::default().get(app, "/accounts/login/").await.status == StatusCode::OK {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the site did not come back");
}

async fn logout_during_outage(engine: Engine) {
    let Some(mut redis) = PersistentRedis::start() else {
        return;
    };
    let app = site(&redis, engine).await;
    let mut browser = Browser::default();
    assert_eq!(browser.log_in(&app, OLD).await, StatusCode::FOUND);
    assert!(browser.logged_in(&app).await);
    // What an attacker copied, or the browser before the logout.
    let mut copy = browser.clone();
    // The logout form is on the home page, which needs Redis for the `cache` engine: take
    // its token now, then post it during the outage.
    let page = browser.get(&app, "/").await;
    let at = page
        .body
        .find("name=\"csrfmiddlewaretoken\" value=\"")
        .unwrap()
        + 34;
    let token = page.body[at..at + 64].to_owned();

    redis.kill();
    let r = browser
        .send(
            &app,
            "POST",
            "/accounts/logout/",
            format!("csrfmiddlewaretoken={token}"),
        )
        .await;
    redis.restart();
    until_back(&app).await;
    match r.status {
        StatusCode::SERVICE_UNAVAILABLE => {
            // Nothing changed: not even the cookie, and the session still opens.
            assert!(
                !r.set_cookies.iter().any(|c| c.starts_with("sessionid=")),
                "a 503 deletes no cookie: {:?}",
                r.set_cookies
            );
            assert_eq!(browser.session_cookie(), copy.session_cookie());
            assert!(copy.logged_in(&app).await, "the 503 logged nobody out");
        }
        StatusCode::FOUND => {
            assert!(!copy.logged_in(&app).await, "done everywhere");
        }
        other => panic!("logout answered {other}: {}", r.body),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_db_logout_during_outage_answers_503_and_changes_nothing_or_is_final() {
    logout_during_outage(Engine::CachedDb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_engine_logout_during_outage_answers_503_and_changes_nothing() {
    logout_during_outage(Engine::Cache).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_during_cache_outage_changes_nothing_or_everything() {
    let Some(mut redis) = PersistentRedis::start() else {
        return;
    };
    let app = site(&redis, Engine::CachedDb).await;
    let mut browser = Browser::default();
    let mut elsewhere = Browser::default();
    for b in [&mut browser, &mut elsewhere] {
        assert_eq!(b.log_in(&app, OLD).await, StatusCode::FOUND);
        assert!(b.logged_in(&app).await);
    }
    let before = browser.clone();

    redis.kill();
    let change = "/accounts/password_change/";
    let r = browser
        .post(
            &app,
            change,
            change,
            &[
                ("old_password", OLD),
                ("new_password1", NEW),
                ("new_password2", NEW),
            ],
        )
        .await;
    redis.restart();
    until_back(&app).await;
    let (works, fails) = match r.status {
        StatusCode::SERVICE_UNAVAILABLE => {
            // Nothing changed: the session and the other one still open, the old password
            // is the one that works.
            assert_eq!(browser.session_cookie(), before.session_cookie());
            assert!(browser.logged_in(&app).await);
            assert!(elsewhere.logged_in(&app).await);
            (OLD, NEW)
        }
        StatusCode::FOUND => {
            // Everything done: this browser under its new key, every other session out,
            // including the key this browser held before.
            assert_ne!(browser.session_cookie(), before.session_cookie());
            assert!(browser.logged_in(&app).await);
            assert!(!before.clone().logged_in(&app).await);
            assert!(!elsewhere.logged_in(&app).await);
            (NEW, OLD)
        }
        other => panic!("password change answered {other}: {}", r.body),
    };
    assert_eq!(
        Browser::default().log_in(&app, works).await,
        StatusCode::FOUND
    );
    assert_eq!(
        Browser::default().log_in(&app, fails).await,
        StatusCode::BAD_REQUEST
    );
}
