//! A real axum app over HTTP: cookie rules, login/logout with key rotation, the session hash
//! with fallback keys, guards, CSRF, messages across requests, throttling, bad input, and
//! store calls counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Form, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{Value, json};
use sesame_axum::*;
use sesame_core::auth::hashers::{Hashers, PasswordHashing};
use sesame_core::auth::store::{PermissionStore, UserStore};
use sesame_core::auth::{Auth, MemoryAuthStore, ModelBackend, NewUser, create_default_permissions};
use sesame_core::session::{
    Expiry, MemorySessionStore, SessionCodec, SessionData, SessionRecord, SessionStore, StoreError,
};
use sesame_core::settings::{SameSite, Settings};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A session store that counts every call, around the memory store.
struct Counting {
    inner: MemorySessionStore,
    calls: AtomicUsize,
}

#[async_trait]
impl SessionStore for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(SessionData, Option<DateTime<Utc>>)>, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.load_with_expiry(key).await
    }
    async fn create(&self, key: &str, r: SessionRecord<'_>) -> Result<String, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.create(key, r).await
    }
    async fn update(&self, key: &str, r: SessionRecord<'_>) -> Result<bool, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.update(key, r).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.exists(key).await
    }
    async fn clear_expired(&self) -> Result<u64, StoreError> {
        self.inner.clear_expired().await
    }
}

struct CanPublish;
impl PermissionSet for CanPublish {
    const PERMISSIONS: &'static [&'static str] = &["blog.publish_post"];
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

async fn login(auth: AuthContext, Form(f): Form<LoginForm>) -> Response {
    match auth.authenticate(&f.username, &f.password).await {
        Ok(mut user) => {
            if let Err(e) = auth.login(&mut user).await {
                return e.into_response();
            }
            Redirect::to(auth.safe_next(f.next.as_deref(), "/accounts/profile/")).into_response()
        }
        Err(e) => e.into_response(),
    }
}

struct App {
    base: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<bytes::Bytes>>,
    sessions: Arc<Counting>,
    users: Arc<MemoryAuthStore>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }
    fn vary_cookie(&self) -> bool {
        self.headers
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().contains("Cookie"))
    }
}

/// A tiny browser: a cookie jar by name.
#[derive(Default, Clone)]
struct Jar(HashMap<String, String>);

impl Jar {
    fn absorb(&mut self, r: &Reply) {
        for c in r.set_cookies() {
            let first = c.split(';').next().unwrap();
            let (name, value) = first.split_once('=').unwrap();
            if c.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl App {
    async fn request(
        &self,
        method: &str,
        path: &str,
        jar: &Jar,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if !jar.0.is_empty() {
            req = req.header("cookie", jar.header());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self
            .client
            .request(
                req.body(Full::new(bytes::Bytes::from(body.to_owned())))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes())
            .into_owned();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str, jar: &mut Jar) -> Reply {
        let r = self.request("GET", path, jar, &[], "").await;
        jar.absorb(&r);
        r
    }

    async fn post_form(&self, path: &str, jar: &mut Jar, form: &[(&str, &str)]) -> Reply {
        let body = serde_urlencoded::to_string(form).unwrap();
        let r = self
            .request(
                "POST",
                path,
                jar,
                &[("content-type", "application/x-www-form-urlencoded")],
                &body,
            )
            .await;
        jar.absorb(&r);
        r
    }

    async fn csrf_token(&self, jar: &mut Jar) -> String {
        self.get("/csrf", jar).await.body
    }
}

async fn start(mut settings: Settings) -> App {
    settings.secret_key = "http-test-key".into();
    start_shared(settings, None).await
}

/// An app over existing stores (a restarted process), or fresh ones.
async fn start_shared(
    settings: Settings,
    shared: Option<(MemorySessionStore, Arc<MemoryAuthStore>)>,
) -> App {
    let hashing = PasswordHashing::new(Hashers::from_names(&["md5"], "5.2").unwrap(), 2);
    let (inner, users, fresh) = match shared {
        Some((s, u)) => (s, u, false),
        None => (
            MemorySessionStore::new(SessionCodec::from_settings(&settings)),
            Arc::new(MemoryAuthStore::new()),
            true,
        ),
    };
    let sessions = Arc::new(Counting {
        inner,
        calls: AtomicUsize::new(0),
    });
    if fresh {
        seed(&users, &hashing).await;
    }
    build(settings, sessions, users, hashing).await
}

async fn seed(users: &Arc<MemoryAuthStore>, hashing: &PasswordHashing) {
    for (name, pw) in [("alice", "alice-pass-1"), ("bob", "bob-pass-1")] {
        let enc = hashing.make_password(pw.into()).await.unwrap();
        users
            .create_user(NewUser::new(name, format!("{name}@example.com"), enc))
            .await
            .unwrap();
    }
    create_default_permissions(users.as_ref()).await.unwrap();
    let ct = users
        .get_or_create_content_type("blog", "post")
        .await
        .unwrap();
    let perm = users
        .get_or_create_permission(&ct, "publish_post", "Can publish")
        .await
        .unwrap();
    let alice = users.get_user_by_username("alice").await.unwrap().unwrap();
    users
        .grant_user_permission(&alice.id, &perm.id)
        .await
        .unwrap();
}

async fn build(
    settings: Settings,
    sessions: Arc<Counting>,
    users: Arc<MemoryAuthStore>,
    hashing: PasswordHashing,
) -> App {
    let auth = Auth::new(
        ModelBackend::new(users.clone(), hashing),
        settings.secret_key.clone(),
        settings.secret_key_fallbacks.clone(),
        sesame_core::auth::MODEL_BACKEND_PATH.into(),
    );
    let sesame = Sesame::builder(settings, sessions.clone())
        .auth(auth)
        .throttle(throttle::Throttle::in_memory(throttle::ThrottleConfig {
            failure_limit: 3,
            cooloff: std::time::Duration::from_secs(60),
            ..Default::default()
        }))
        .build();

    let app = Router::new()
        .route("/untouched", get(|| async { "ok" }))
        .route("/set", get(|s: SessionHandle| async move { s.insert("k", json!("v")).await.map(|_| "set") }))
        .route("/get", get(|s: SessionHandle| async move { s.get("k").await.map(|v| v.unwrap_or(Value::Null).to_string()) }))
        .route("/flush", get(|s: SessionHandle| async move { s.flush().await.map(|_| "flushed") }))
        .route("/expiry0", get(|s: SessionHandle| async move { s.set_expiry(Expiry::BrowserClose).await.map(|_| "0") }))
        .route("/expiry60", get(|s: SessionHandle| async move { s.set_expiry(Expiry::Seconds(60)).await.map(|_| "60") }))
        .route("/boom", get(|s: SessionHandle| async move {
            s.insert("k", json!("during-500")).await.unwrap();
            (StatusCode::INTERNAL_SERVER_ERROR, "boom")
        }))
        .route("/csrf", get(|t: CsrfToken| async move { t.0 }))
        .route("/slow-set", get(|s: SessionHandle| async move {
            s.get("k").await?;
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            s.insert("k", json!("late")).await.map(|_| "set")
        }))
        .route("/echo", post(|| async { "posted" }))
        .route("/accounts/login/", post(login))
        .route("/accounts/logout/", post(|a: AuthContext| async move { a.logout().await.map(|_| Redirect::to("/")) }))
        .route("/accounts/profile/", get(|LoginRequired(u): LoginRequired| async move { u.username }))
        .route("/api/whoami", get(|LoginRequired(u): LoginRequired| async move { axum::Json(json!({"username": u.username})) }))
        .route("/publish", get(|p: PermissionRequired<CanPublish>| async move { p.0.username }))
        .route("/whoami", get(|u: CurrentUser| async move { u.0.map(|u| u.username).unwrap_or_default() }))
        .route("/password-change", post({
            let users = users.clone();
            move |a: AuthContext, LoginRequired(mut u): LoginRequired| async move {
                // What PasswordChangeView does after the form validates.
                let encoded = format!("md5$changedsaltchangedsalt12${}", "0".repeat(32));
                users.set_password(&u.id, &encoded).await.unwrap();
                u.password = encoded;
                a.update_session_auth_hash(&u).await.map(|_| "changed")
            }
        }))
        .route("/msg/add", get(|m: Messages| async move { m.success("Saved!"); m.info("Hello ’ 🐍"); "added" }))
        .route("/msg/show", get(|m: Messages| async move {
            m.take().await.map(|ms| ms.iter().map(|m| m.message.clone()).collect::<Vec<_>>().join("|"))
        }))
        .route("/next", get(|a: AuthContext, q: Query<HashMap<String, String>>| async move {
            a.safe_next(q.get("next").map(String::as_str), "/fallback").to_owned()
        }))
        .layer(sesame.layer());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    App {
        base: format!("http://{addr}"),
        client: Client::builder(TokioExecutor::new()).build_http(),
        sessions,
        users,
    }
}

#[tokio::test]
async fn untouched_requests_cost_no_store_call() {
    let app = start(Settings::default()).await;
    let mut jar = Jar::default();
    app.get("/set", &mut jar).await;
    let before = app.sessions.calls.load(Ordering::SeqCst);
    for _ in 0..5 {
        let r = app.get("/untouched", &mut jar).await;
        assert!(r.set_cookies().is_empty());
        assert!(!r.vary_cookie(), "nothing at all for an untouched session");
    }
    assert_eq!(
        app.sessions.calls.load(Ordering::SeqCst),
        before,
        "no store round trip"
    );
}

#[tokio::test]
async fn django_cookie_rules() {
    let app = start(Settings::default()).await;
    let mut jar = Jar::default();
    let r = app.get("/set", &mut jar).await;
    let c = r.cookie("sessionid").expect("new session sets the cookie");
    assert!(
        c.contains("HttpOnly")
            && c.contains("Max-Age=1209600")
            && c.contains("Path=/")
            && c.contains("SameSite=Lax")
            && c.contains("expires="),
        "{c}"
    );
    assert!(r.vary_cookie());
    let key = jar.0["sessionid"].clone();
    assert_eq!(key.len(), 32);

    let r = app.get("/get", &mut jar).await;
    assert_eq!(r.body, "\"v\"");
    assert!(r.set_cookies().is_empty(), "read-only: no Set-Cookie");
    assert!(r.vary_cookie(), "but Vary: Cookie");

    let r = app.get("/expiry0", &mut jar).await;
    let c = r.cookie("sessionid").unwrap();
    assert!(
        !c.contains("Max-Age") && !c.contains("expires"),
        "browser-session cookie: {c}"
    );
    let r = app.get("/expiry60", &mut jar).await;
    assert!(r.cookie("sessionid").unwrap().contains("Max-Age=60"));

    // A 5xx response saves nothing and sets no cookie.
    let r = app.get("/boom", &mut jar).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.cookie("sessionid").is_none());
    assert_eq!(app.get("/get", &mut jar).await.body, "\"v\"");

    // flush deletes the cookie with the same attributes.
    let r = app.get("/flush", &mut jar).await;
    assert_eq!(
        r.cookie("sessionid").unwrap(),
        "sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax"
    );
    assert!(!app.sessions.inner.exists(&key).await.unwrap());

    // An unknown key that is read: the cookie is deleted; a short key: deleted untouched.
    let mut stale = Jar::default();
    stale.0.insert(
        "sessionid".into(),
        "unknownsessionkey000000000000000".into(),
    );
    assert!(
        app.get("/get", &mut stale)
            .await
            .cookie("sessionid")
            .unwrap()
            .contains("Max-Age=0")
    );
    let mut short = Jar::default();
    short.0.insert("sessionid".into(), "abc".into());
    assert!(
        app.get("/untouched", &mut short)
            .await
            .cookie("sessionid")
            .unwrap()
            .contains("Max-Age=0")
    );
    // An unknown key that is written gets a fresh key, never the client's.
    let mut forged = Jar::default();
    forged.0.insert(
        "sessionid".into(),
        "attackerchosenkey000000000000000".into(),
    );
    app.get("/set", &mut forged).await;
    assert_ne!(forged.0["sessionid"], "attackerchosenkey000000000000000");
}

#[tokio::test]
async fn save_every_request_and_secure_settings() {
    let mut settings = Settings::default();
    settings.session.save_every_request = true;
    settings.session.cookie_secure = true;
    settings.session.cookie_samesite = SameSite::Strict;
    settings.session.cookie_name = "__Host-sid".into();
    let app = start(settings).await;
    let mut jar = Jar::default();
    app.get("/set", &mut jar).await;
    let r = app.get("/untouched", &mut jar).await;
    let c = r
        .cookie("__Host-sid")
        .expect("SESSION_SAVE_EVERY_REQUEST refreshes the cookie");
    assert!(c.contains("Secure") && c.contains("SameSite=Strict"), "{c}");
}

#[tokio::test]
async fn vanished_record_is_a_400() {
    let app = start(Settings::default()).await;
    let mut jar = Jar::default();
    app.get("/set", &mut jar).await;
    let key = jar.0["sessionid"].clone();
    // A concurrent logout deletes the record while /slow-set holds the loaded session.
    let sessions = app.sessions.clone();
    let deleter = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        sessions.inner.delete(&key).await.unwrap();
    });
    let r = app.get("/slow-set", &mut jar).await;
    deleter.await.unwrap();
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("session was deleted"), "{}", r.body);
}

#[tokio::test]
async fn login_rotates_and_logout_flushes() {
    let app = start(Settings::default()).await;
    let mut jar = Jar::default();
    app.get("/set", &mut jar).await;
    let anonymous_key = jar.0["sessionid"].clone();
    let token = app.csrf_token(&mut jar).await;
    let r = app
        .post_form(
            "/accounts/login/",
            &mut jar,
            &[
                ("username", "alice"),
                ("password", "alice-pass-1"),
                ("csrfmiddlewaretoken", &token),
                ("next", "/whoami"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers["location"], "/whoami");
    assert_ne!(
        jar.0["sessionid"], anonymous_key,
        "the key rotates at login"
    );
    assert!(!app.sessions.inner.exists(&anonymous_key).await.unwrap());
    assert!(
        r.cookie("csrftoken").is_some(),
        "the CSRF token rotates at login"
    );
    assert_eq!(app.get("/whoami", &mut jar).await.body, "alice");
    assert_eq!(
        app.get("/get", &mut jar).await.body,
        "\"v\"",
        "anonymous data survives login"
    );
    let stored = app
        .sessions
        .inner
        .load(&jar.0["sessionid"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored["_auth_user_backend"],
        "django.contrib.auth.backends.ModelBackend"
    );
    assert_eq!(stored["_auth_user_hash"].as_str().unwrap().len(), 64);
    assert!(
        app.users
            .get_user_by_username("alice")
            .await
            .unwrap()
            .unwrap()
            .last_login
            .is_some()
    );

    // An open redirect is refused.
    let mut other = Jar::default();
    let token = app.csrf_token(&mut other).await;
    let r = app
        .post_form(
            "/accounts/login/",
            &mut other,
            &[
                ("username", "bob"),
                ("password", "bob-pass-1"),
                ("csrfmiddlewaretoken", &token),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.headers["location"], "/accounts/profile/");

    // Logout: the session is flushed and the cookie deleted.
    let token = app.csrf_token(&mut jar).await;
    let key = jar.0["sessionid"].clone();
    let r = app
        .post_form(
            "/accounts/logout/",
            &mut jar,
            &[("csrfmiddlewaretoken", &token)],
        )
        .await;
    assert!(r.cookie("sessionid").unwrap().contains("Max-Age=0"));
    assert!(!app.sessions.inner.exists(&key).await.unwrap());
    assert_eq!(app.get("/whoami", &mut jar).await.body, "");
}

#[tokio::test]
async fn password_change_ends_other_sessions() {
    let app = start(Settings::default()).await;
    let mut a = Jar::default();
    let mut b = Jar::default();
    for jar in [&mut a, &mut b] {
        let t = app.csrf_token(jar).await;
        app.post_form(
            "/accounts/login/",
            jar,
            &[
                ("username", "alice"),
                ("password", "alice-pass-1"),
                ("csrfmiddlewaretoken", &t),
            ],
        )
        .await;
        assert_eq!(app.get("/whoami", jar).await.body, "alice");
    }
    let alice = app
        .users
        .get_user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    app.users
        .set_password(
            &alice.id,
            "md5$newsaltnewsaltnewsalt1$00000000000000000000000000000000",
        )
        .await
        .unwrap();
    let r = app.get("/whoami", &mut b).await;
    assert_eq!(
        r.body, "",
        "a changed password ends the session (hash mismatch → flush)"
    );
    assert!(r.cookie("sessionid").unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn update_session_auth_hash_keeps_this_session_only() {
    let app = start(Settings::default()).await;
    let (mut here, mut there) = (Jar::default(), Jar::default());
    for jar in [&mut here, &mut there] {
        let t = app.csrf_token(jar).await;
        app.post_form(
            "/accounts/login/",
            jar,
            &[
                ("username", "alice"),
                ("password", "alice-pass-1"),
                ("csrfmiddlewaretoken", &t),
            ],
        )
        .await;
    }
    let before = here.0["sessionid"].clone();
    let t = app.csrf_token(&mut here).await;
    let r = app
        .post_form(
            "/password-change",
            &mut here,
            &[("csrfmiddlewaretoken", &t)],
        )
        .await;
    assert_eq!(r.body, "changed");
    assert_ne!(here.0["sessionid"], before, "the key is cycled");
    assert_eq!(
        app.get("/whoami", &mut here).await.body,
        "alice",
        "this session stays logged in"
    );
    assert_eq!(
        app.get("/whoami", &mut there).await.body,
        "",
        "the other one ends"
    );
}

#[tokio::test]
async fn fallback_secret_keeps_users_logged_in() {
    let app = start(Settings::default()).await;
    let mut jar = Jar::default();
    let t = app.csrf_token(&mut jar).await;
    app.post_form(
        "/accounts/login/",
        &mut jar,
        &[
            ("username", "alice"),
            ("password", "alice-pass-1"),
            ("csrfmiddlewaretoken", &t),
        ],
    )
    .await;
    let old_key = jar.0["sessionid"].clone();

    // The same stores after a restart with a new SECRET_KEY and the old one as a fallback.
    let settings = Settings {
        secret_key: "brand-new-key".into(),
        secret_key_fallbacks: vec!["http-test-key".into()],
        ..Settings::default()
    };
    let codec = SessionCodec::from_settings(&settings);
    let rotated = start_shared(
        settings,
        Some((app.sessions.inner.with_codec(codec), app.users.clone())),
    )
    .await;
    let r = rotated.get("/whoami", &mut jar).await;
    assert_eq!(
        r.body, "alice",
        "a session signed with the fallback key is still a login"
    );
    assert_ne!(jar.0["sessionid"], old_key, "and its key is cycled");
    let stored = rotated
        .sessions
        .inner
        .load(&jar.0["sessionid"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored["_auth_user_hash"],
        sesame_core::auth::User::session_auth_hash_for(
            &app.users
                .get_user_by_username("alice")
                .await
                .unwrap()
                .unwrap()
                .password,
            "brand-new-key"
        ),
        "the hash is rewritten with the new key"
    );
    assert_eq!(rotated.get("/whoami", &mut jar).await.body, "alice");

    // Without the fallback, the old session is anonymous.
    let mut jar2 = Jar::default();
    let t = app.csrf_token(&mut jar2).await;
    app.post_form(
        "/accounts/login/",
        &mut jar2,
        &[
            ("username", "bob"),
            ("password", "bob-pass-1"),
            ("csrfmiddlewaretoken", &t),
        ],
    )
    .await;
    let settings = Settings {
        secret_key: "brand-new-key".into(),
        ..Settings::default()
    };
    let codec = SessionCodec::from_settings(&settings);
    let strict = start_shared(
        settings,
        Some((app.sessions.inner.with_codec(codec), app.users.clone())),
    )
    .await;
    assert_eq!(strict.get("/whoami", &mut jar2).await.body, "");
}

#[tokio::test]
async fn guards() {
    let app = start(Settings::default()).await;
    let mut anon = Jar::default();
    let r = app.get("/accounts/profile/?tab=1", &mut anon).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(
        r.headers["location"],
        "/accounts/login/?next=/accounts/profile/%3Ftab%3D1"
    );
    let r = app.get("/api/whoami", &mut anon).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap()["detail"],
        "Authentication credentials were not provided."
    );
    assert_eq!(
        app.get("/publish", &mut anon).await.status,
        StatusCode::FOUND
    );

    let mut bob = Jar::default();
    let t = app.csrf_token(&mut bob).await;
    app.post_form(
        "/accounts/login/",
        &mut bob,
        &[
            ("username", "bob"),
            ("password", "bob-pass-1"),
            ("csrfmiddlewaretoken", &t),
        ],
    )
    .await;
    assert_eq!(app.get("/accounts/profile/", &mut bob).await.body, "bob");
    assert_eq!(
        app.get("/publish", &mut bob).await.status,
        StatusCode::FORBIDDEN
    );
    let mut alice = Jar::default();
    let t = app.csrf_token(&mut alice).await;
    app.post_form(
        "/accounts/login/",
        &mut alice,
        &[
            ("username", "alice"),
            ("password", "alice-pass-1"),
            ("csrfmiddlewaretoken", &t),
        ],
    )
    .await;
    assert_eq!(app.get("/publish", &mut alice).await.body, "alice");
}

#[tokio::test]
async fn csrf_accepts_and_rejects() {
    let app = start(Settings::default()).await;
    let mut jar = Jar::default();
    let r = app.request("POST", "/echo", &jar, &[], "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("CSRF cookie not set."), "{}", r.body);

    let token = app.csrf_token(&mut jar).await;
    assert_eq!(token.len(), 64);
    let secret = jar.0["csrftoken"].clone();
    assert_eq!(secret.len(), 32);
    // Form field, masked header, unmasked header.
    assert_eq!(
        app.post_form("/echo", &mut jar, &[("csrfmiddlewaretoken", &token)])
            .await
            .body,
        "posted"
    );
    assert_eq!(
        app.request("POST", "/echo", &jar, &[("x-csrftoken", &token)], "")
            .await
            .body,
        "posted"
    );
    assert_eq!(
        app.request("POST", "/echo", &jar, &[("x-csrftoken", &secret)], "")
            .await
            .body,
        "posted"
    );
    // Missing, malformed, wrong.
    let r = app.request("POST", "/echo", &jar, &[], "").await;
    assert!(r.body.contains("CSRF token missing."));
    let r = app
        .request("POST", "/echo", &jar, &[("x-csrftoken", "short")], "")
        .await;
    assert!(r.body.contains("has incorrect length"), "{}", r.body);
    let wrong = sesame_core::csrf::mask_cipher_secret(&sesame_core::csrf::get_new_csrf_secret());
    let r = app
        .request("POST", "/echo", &jar, &[("x-csrftoken", &wrong)], "")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("incorrect"));
    // A foreign Origin is refused even with a good token.
    let r = app
        .request(
            "POST",
            "/echo",
            &jar,
            &[("x-csrftoken", &token), ("origin", "http://evil.example")],
            "",
        )
        .await;
    assert!(r.body.contains("Origin checking failed"), "{}", r.body);
    let host = app.base.trim_start_matches("http://").to_owned();
    let same = format!("http://{host}");
    assert_eq!(
        app.request(
            "POST",
            "/echo",
            &jar,
            &[("x-csrftoken", &token), ("origin", &same)],
            ""
        )
        .await
        .body,
        "posted"
    );
    // A pre-4.1 masked cookie still works.
    let mut old = jar.clone();
    old.0.insert(
        "csrftoken".into(),
        sesame_core::csrf::mask_cipher_secret(&secret),
    );
    assert_eq!(
        app.request("POST", "/echo", &old, &[("x-csrftoken", &token)], "")
            .await
            .body,
        "posted"
    );
    // An oversized form body is refused, not buffered without bound.
    let big = format!("csrfmiddlewaretoken={token}&x={}", "a".repeat(3_000_000));
    let r = app
        .request(
            "POST",
            "/echo",
            &jar,
            &[("content-type", "application/x-www-form-urlencoded")],
            &big,
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn messages_cross_requests_in_djangos_formats() {
    let app = start(Settings::default()).await;
    let mut jar = Jar::default();
    let r = app.get("/msg/add", &mut jar).await;
    let cookie = jar
        .0
        .get("messages")
        .cloned()
        .expect("FallbackStorage writes the cookie first");
    assert!(r.cookie("messages").unwrap().contains("HttpOnly"));
    let storage = sesame_core::messages::CookieStorage::new("http-test-key", &[] as &[&str]);
    let decoded = storage.decode(&cookie).unwrap();
    assert_eq!(decoded.messages.len(), 2);
    assert_eq!(decoded.messages[0].level, 25);
    let r = app.get("/msg/show", &mut jar).await;
    assert_eq!(r.body, "Saved!|Hello ’ 🐍");
    assert!(
        r.cookie("messages").unwrap().contains("Max-Age=0"),
        "used messages are cleared"
    );
    assert_eq!(app.get("/msg/show", &mut jar).await.body, "");
}

#[tokio::test]
async fn throttling_before_the_hasher() {
    let app = start(Settings::default()).await;
    let mut jar = Jar::default();
    let t = app.csrf_token(&mut jar).await;
    for _ in 0..3 {
        let r = app
            .post_form(
                "/accounts/login/",
                &mut jar,
                &[
                    ("username", "alice"),
                    ("password", "nope"),
                    ("csrfmiddlewaretoken", &t),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = app
        .post_form(
            "/accounts/login/",
            &mut jar,
            &[
                ("username", "alice"),
                ("password", "alice-pass-1"),
                ("csrfmiddlewaretoken", &t),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(r.headers.contains_key("retry-after"));
    // Unknown user and wrong password answer alike.
    let a = app
        .post_form(
            "/accounts/login/",
            &mut jar,
            &[
                ("username", "nobody"),
                ("password", "x"),
                ("csrfmiddlewaretoken", &t),
            ],
        )
        .await;
    let b = app
        .post_form(
            "/accounts/login/",
            &mut jar,
            &[
                ("username", "bob"),
                ("password", "x"),
                ("csrfmiddlewaretoken", &t),
            ],
        )
        .await;
    assert_eq!((a.status, a.body.clone()), (b.status, b.body.clone()));
}

#[tokio::test]
async fn bad_input_is_4xx() {
    let app = start(Settings::default()).await;
    let mut jar = Jar::default();
    for cookie in [
        "sessionid=\"unterminated",
        &format!("sessionid={}", "a".repeat(20_000)),
        "sessionid=../../etc/passwd",
        "=;=;;sessionid",
    ] {
        let r = app
            .request("GET", "/get", &jar, &[("cookie", cookie)], "")
            .await;
        assert!(
            r.status.is_success() || r.status.is_client_error(),
            "{cookie:?}: {}",
            r.status
        );
    }
    for next in [
        "//evil.example",
        "https://evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "\u{1}http://evil",
    ] {
        let q = serde_urlencoded::to_string([("next", next)]).unwrap();
        assert_eq!(
            app.get(&format!("/next?{q}"), &mut jar).await.body,
            "/fallback",
            "{next:?}"
        );
    }
    assert_eq!(
        app.get("/next?next=/ok/path", &mut jar).await.body,
        "/ok/path"
    );
    let t = app.csrf_token(&mut jar).await;
    let r = app
        .request(
            "POST",
            "/accounts/login/",
            &jar,
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("x-csrftoken", &t),
            ],
            "username[$ne]=&password=x",
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
}
