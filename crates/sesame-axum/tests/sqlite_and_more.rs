//! The layer over the SQLite stores, and the remaining Django rules: a login by another user
//! flushes, `user_passes_test`, `CSRF_USE_SESSIONS`, and Referer checks on HTTPS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde_json::json;
use sesame_axum::*;
use sesame_core::auth::hashers::{Hashers, PasswordHashing};
use sesame_core::auth::store::{PermissionStore, UserStore};
use sesame_core::auth::{Auth, ModelBackend, NewUser, User};
use sesame_core::session::SessionCodec;
use sesame_core::settings::Settings;
use sesame_sql::{Db, PoolSettings, SqlAuthStore, SqlSessionStore, migrate};
use std::sync::Arc;
use tower::ServiceExt;

struct IsStaff;
impl UserTest for IsStaff {
    fn test(user: Option<&User>) -> bool {
        user.is_some_and(|u| u.is_staff)
    }
}

async fn app(settings: Settings) -> (Router, Arc<SqlAuthStore>, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!(
        "sesame-axum-{}-{}.sqlite3",
        std::process::id(),
        rand_suffix()
    ));
    let db = Db::connect(
        &format!("sqlite://{}", path.display()),
        PoolSettings::default(),
    )
    .await
    .unwrap();
    migrate(&db).await.unwrap();
    let users = Arc::new(SqlAuthStore::new(db.clone()).await.unwrap());
    let hashing = PasswordHashing::new(Hashers::from_names(&["md5"], "5.2").unwrap(), 2);
    for name in ["alice", "bob"] {
        let enc = hashing
            .make_password(format!("{name}-pass-1"))
            .await
            .unwrap();
        users
            .create_user(NewUser::new(name, "", enc))
            .await
            .unwrap();
    }
    let sessions = Arc::new(SqlSessionStore::new(
        db,
        SessionCodec::from_settings(&settings),
    ));
    // The session and its user in one round trip.
    let joined = Arc::new(sesame_sql::SqlSessionWithUser {
        sessions: (*sessions).clone(),
        auth: (*users).clone(),
    });
    let auth = Auth::new(
        ModelBackend::new(users.clone(), hashing),
        settings.secret_key.clone(),
        vec![],
        sesame_core::auth::MODEL_BACKEND_PATH.into(),
    );
    let sesame = Sesame::builder(settings, sessions)
        .auth(auth)
        .session_user_store(joined)
        .prefetched_permissions(true)
        .build();
    let router = Router::new()
        .route("/login/{name}", post(|a: AuthContext, axum::extract::Path(name): axum::extract::Path<String>| async move {
            let mut u = a.authenticate(&name, &format!("{name}-pass-1")).await.map_err(|e| e.to_string())?;
            a.login(&mut u).await.map_err(|e| e.to_string())?;
            Ok::<_, String>("in")
        }))
        // Who the request is for, before and after a login or logout in the same handler.
        .route("/switch/{name}", post(|a: AuthContext, axum::extract::Path(name): axum::extract::Path<String>| async move {
            let who = |u: Option<sesame_core::auth::User>| u.map(|u| u.username).unwrap_or_default();
            let before = format!("{}:{}", who(a.user().await.map_err(|e| e.to_string())?), a.permissions().await.map_err(|e| e.to_string())?.all().len());
            if name == "nobody" {
                a.logout().await.map_err(|e| e.to_string())?;
            } else {
                let mut u = a.authenticate(&name, &format!("{name}-pass-1")).await.map_err(|e| e.to_string())?;
                a.login(&mut u).await.map_err(|e| e.to_string())?;
            }
            let after = format!("{}:{}", who(a.user().await.map_err(|e| e.to_string())?), a.permissions().await.map_err(|e| e.to_string())?.all().len());
            Ok::<_, String>(format!("{before}->{after}"))
        }))
        .route("/set", get(|s: SessionHandle| async move { s.insert("cart", json!([1])).await.map(|_| "set") }))
        .route("/cart", get(|s: SessionHandle| async move { s.get("cart").await.map(|v| v.map(|v| v.to_string()).unwrap_or_default()) }))
        .route("/whoami", get(|u: CurrentUser| async move { u.0.map(|u| u.username).unwrap_or_default() }))
        .route("/staff", get(|_: UserPassesTest<IsStaff>| async { "staff" }))
        .route("/csrf", get(|t: CsrfToken| async move { t.0 }))
        .route("/echo", post(|| async { "posted" }))
        .layer(sesame.layer());
    (router, users, path)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

struct Client {
    app: Router,
    cookies: std::collections::HashMap<String, String>,
}

impl Client {
    async fn send(&mut self, mut req: Request<Body>) -> (StatusCode, String) {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        if !cookie.is_empty() {
            req.headers_mut().insert("cookie", cookie.parse().unwrap());
        }
        // As a browser sends it (a request with no Host is refused, as Django refuses it).
        if !req.headers().contains_key("host") {
            req.headers_mut()
                .insert("host", "localhost".parse().unwrap());
        }
        let resp = self.app.clone().oneshot(req).await.unwrap();
        for c in resp.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (name, value) = c.split(';').next().unwrap().split_once('=').unwrap();
            if c.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        let status = resp.status();
        (
            status,
            String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes())
                .into_owned(),
        )
    }

    async fn get(&mut self, uri: &str) -> (StatusCode, String) {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    async fn post(&mut self, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
        let mut b = Request::post(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }
}

fn settings() -> Settings {
    Settings {
        secret_key: "sqlite-axum-key".into(),
        ..Settings::default()
    }
}

#[tokio::test]
async fn sqlite_stores_and_user_switch_flush() {
    let (app, users, path) = app(settings()).await;
    let mut c = Client {
        app,
        cookies: Default::default(),
    };
    c.get("/set").await;
    let token = c.get("/csrf").await.1;
    assert_eq!(
        c.post("/login/alice", &[("x-csrftoken", &token)]).await.1,
        "in"
    );
    assert_eq!(c.get("/whoami").await.1, "alice");
    assert_eq!(
        c.get("/cart").await.1,
        "[1]",
        "anonymous data kept across login (cycle_key)"
    );
    let token = c.get("/csrf").await.1;
    assert_eq!(
        c.post("/login/bob", &[("x-csrftoken", &token)]).await.1,
        "in"
    );
    assert_eq!(c.get("/whoami").await.1, "bob");
    assert_eq!(
        c.get("/cart").await.1,
        "",
        "another user's login flushes the session"
    );

    // A login or logout inside a request changes whom the rest of it is for, permissions
    // included (the prefetched set belongs to the user before).
    let alice = users.get_user_by_username("alice").await.unwrap().unwrap();
    let perm = users
        .get_permission("auth", "view_user")
        .await
        .unwrap()
        .unwrap();
    users
        .grant_user_permission(&alice.id, &perm.id)
        .await
        .unwrap();
    let token = c.get("/csrf").await.1;
    assert_eq!(
        c.post("/switch/alice", &[("x-csrftoken", &token)]).await.1,
        "bob:0->alice:1"
    );
    let token = c.get("/csrf").await.1;
    assert_eq!(
        c.post("/switch/nobody", &[("x-csrftoken", &token)]).await.1,
        "alice:1->:0"
    );
    let token = c.get("/csrf").await.1;
    assert_eq!(
        c.post("/login/bob", &[("x-csrftoken", &token)]).await.1,
        "in"
    );

    // user_passes_test redirects, never 403.
    let (status, _) = c.get("/staff").await;
    assert_eq!(status, StatusCode::FOUND);
    let bob = users.get_user_by_username("bob").await.unwrap().unwrap();
    users
        .update_user(&bob.id, &[sesame_core::auth::UserField::IsStaff(true)])
        .await
        .unwrap();
    assert_eq!(c.get("/staff").await.1, "staff");
    // Deactivating a user logs them out on the next request.
    users
        .update_user(&bob.id, &[sesame_core::auth::UserField::IsActive(false)])
        .await
        .unwrap();
    assert_eq!(c.get("/whoami").await.1, "");
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn csrf_use_sessions() {
    let mut s = settings();
    s.csrf.use_sessions = true;
    let (app, _, path) = app(s).await;
    let mut c = Client {
        app,
        cookies: Default::default(),
    };
    let token = c.get("/csrf").await.1;
    assert!(
        !c.cookies.contains_key("csrftoken"),
        "no CSRF cookie with CSRF_USE_SESSIONS"
    );
    assert!(
        c.cookies.contains_key("sessionid"),
        "the secret lives in the session"
    );
    assert_eq!(
        c.post("/echo", &[("x-csrftoken", &token)]).await,
        (StatusCode::OK, "posted".into())
    );
    let wrong = sesame_core::csrf::mask_cipher_secret(&sesame_core::csrf::get_new_csrf_secret());
    assert_eq!(
        c.post("/echo", &[("x-csrftoken", &wrong)]).await.0,
        StatusCode::FORBIDDEN
    );
    let mut fresh = Client {
        app: c.app.clone(),
        cookies: Default::default(),
    };
    assert!(
        fresh
            .post("/echo", &[("x-csrftoken", &token)])
            .await
            .1
            .contains("CSRF token missing.")
    );
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn referer_checks_on_https() {
    let mut s = settings();
    s.csrf.trusted_origins = vec!["https://*.trusted.example".into()];
    s.security.allowed_hosts = vec!["site.example".into(), "localhost".into()];
    let (app, _, path) = app(s).await;
    let mut c = Client {
        app,
        cookies: Default::default(),
    };
    let token = c.get("/csrf").await.1;
    let req = |referer: Option<&str>| {
        let mut b = Request::post("https://site.example/echo")
            .header("host", "site.example")
            .header("x-csrftoken", &token);
        if let Some(r) = referer {
            b = b.header("referer", r);
        }
        b.body(Body::empty()).unwrap()
    };
    assert!(
        c.send(req(None))
            .await
            .1
            .contains("Referer checking failed - no Referer.")
    );
    assert!(
        c.send(req(Some("http://site.example/form")))
            .await
            .1
            .contains("Referer is insecure")
    );
    assert!(
        c.send(req(Some("https://evil.example/")))
            .await
            .1
            .contains("does not match any trusted origins")
    );
    assert_eq!(
        c.send(req(Some("https://site.example/form"))).await.1,
        "posted"
    );
    assert_eq!(
        c.send(req(Some("https://a.trusted.example/x"))).await.1,
        "posted"
    );
    let _ = std::fs::remove_file(path);
}
