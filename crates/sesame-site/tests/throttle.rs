//! The login throttle through the ready-made site: atomic under parallel guesses, keyed by
//! (username, address) so a lockout cannot be turned against the user elsewhere, slowing
//! rather than refusing an address, bounded in memory, shared through one database, and
//! applied to signup and password-reset requests too (issue 15, findings 3, 4, 6 and 9).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use sesame_axum::Sesame;
use sesame_axum::throttle::{Throttle, ThrottleConfig};
use sesame_core::auth::hashers::{Hashers, PasswordHashing};
use sesame_core::auth::store::{AuthStore, UserStore};
use sesame_core::auth::throttle::{
    Count, MemoryThrottleStore, ThrottleError, ThrottleKey, ThrottleStore,
};
use sesame_core::auth::{Auth, MemoryAuthStore, ModelBackend, NewUser};
use sesame_core::session::{MemorySessionStore, SessionCodec, SessionStore};
use sesame_core::settings::{EmailBackend, Settings};
use sesame_site::Site;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const PASSWORD: &str = "alice-pass-1";

fn settings() -> Settings {
    let mut s = Settings {
        secret_key: "throttle-test-key".into(),
        ..Settings::default()
    };
    // The host the test requests carry, as Django's test client's "testserver".
    s.security.allowed_hosts = vec!["testserver".into()];
    s
}

fn hashing() -> PasswordHashing {
    PasswordHashing::new(Hashers::from_names(&["md5"], "5.2").unwrap(), 2)
}

async fn seeded_users() -> Arc<MemoryAuthStore> {
    let users = Arc::new(MemoryAuthStore::new());
    let enc = hashing().make_password(PASSWORD.into()).await.unwrap();
    users
        .create_user(NewUser::new("alice", "alice@example.com", enc))
        .await
        .unwrap();
    users
}

/// The site over memory stores (or the given users), with this throttle.
fn site(settings: Settings, users: Arc<dyn AuthStore>, throttle: Throttle) -> Router {
    let sessions: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::new(
        SessionCodec::from_settings(&settings),
    ));
    let auth = Auth::new(
        ModelBackend::new(users.clone(), hashing()),
        settings.secret_key.clone(),
        vec![],
        settings.auth.backend_path.clone(),
    );
    let sesame = Sesame::builder(settings.clone(), sessions.clone())
        .auth(auth)
        .throttle(throttle)
        .build();
    Site::new(settings, users, sessions, hashing())
        .unwrap()
        .router()
        .layer(sesame.layer())
}

fn config(settings: &Settings) -> ThrottleConfig {
    ThrottleConfig::from_settings(settings).unwrap()
}

struct Reply {
    status: StatusCode,
    retry_after: Option<String>,
    location: Option<String>,
    body: String,
}

/// A POST of a form from `ip`, with a CSRF token (the header and the cookie, as a script
/// would send them).
async fn post(app: &Router, ip: &str, path: &str, form: &[(&str, &str)]) -> Reply {
    let token = "a".repeat(32);
    let body = serde_urlencoded::to_string(form).unwrap();
    let mut req = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "testserver")
        .header("x-csrftoken", &token)
        .header("cookie", format!("csrftoken={token}"))
        .body(Body::from(body))
        .unwrap();
    let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    let resp = app.clone().oneshot(req).await.unwrap();
    let (retry_after, location) = {
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        (header("retry-after"), header("location"))
    };
    let status = resp.status();
    let body =
        String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned();
    Reply {
        status,
        retry_after,
        location,
        body,
    }
}

async fn login(app: &Router, ip: &str, username: &str, password: &str) -> Reply {
    post(
        app,
        ip,
        "/accounts/login/",
        &[("username", username), ("password", password)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_are_throttled_atomically() {
    let s = settings();
    let app = site(
        s.clone(),
        seeded_users().await,
        Throttle::in_memory(config(&s)),
    );
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                login(&app, "10.0.0.1", "alice", &format!("wrong-{i}"))
                    .await
                    .status
            })
        })
        .collect();
    let mut wrong = 0;
    let mut throttled = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::BAD_REQUEST => wrong += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        (wrong, throttled),
        (5, 45),
        "only the failure limit reaches the hasher"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_from_one_address_does_not_lock_out_the_user_elsewhere() {
    let s = settings();
    let app = site(
        s.clone(),
        seeded_users().await,
        Throttle::in_memory(config(&s)),
    );
    for _ in 0..5 {
        assert_eq!(
            login(&app, "203.0.113.66", "alice", "guess").await.status,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        login(&app, "203.0.113.66", "alice", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the attacker's address is locked out, even with the right password"
    );
    let real = login(&app, "198.51.100.7", "alice", PASSWORD).await;
    assert_eq!(real.status, StatusCode::FOUND, "the real user gets in");
    assert_eq!(real.location.as_deref(), Some("/accounts/profile/"));
    // And a success clears the user's own pair: four typos, a login, five more allowed.
    for _ in 0..4 {
        login(&app, "198.51.100.7", "alice", "typo").await;
    }
    assert_eq!(
        login(&app, "198.51.100.7", "alice", PASSWORD).await.status,
        StatusCode::FOUND
    );
    for _ in 0..5 {
        assert_eq!(
            login(&app, "198.51.100.7", "alice", "typo").await.status,
            StatusCode::BAD_REQUEST
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_answers_429_with_retry_after_in_minutes() {
    let s = settings();
    let app = site(
        s.clone(),
        seeded_users().await,
        Throttle::in_memory(config(&s)),
    );
    for _ in 0..5 {
        login(&app, "10.1.1.1", "alice", "guess").await;
    }
    let r = login(&app, "10.1.1.1", "alice", "guess").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let secs: u64 = r.retry_after.expect("Retry-After").parse().unwrap();
    assert!(
        (890..=900).contains(&secs),
        "the 15-minute cool-off: {secs}"
    );
    assert!(
        r.body
            .contains("Too many failed login attempts. Try again in 15 minutes."),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_stuffing_from_one_address_is_slowed_not_refused() {
    let mut s = settings();
    s.throttle.ip_delay_after = 3;
    s.throttle.delay_initial = 0.05;
    s.throttle.delay_max = 0.2;
    let app = site(
        s.clone(),
        seeded_users().await,
        Throttle::in_memory(config(&s)),
    );
    let ip = "192.0.2.10";
    let mut times = Vec::new();
    // More than the 20 failures per address that used to refuse every login from it.
    for i in 0..25 {
        let start = Instant::now();
        let r = login(&app, ip, &format!("user{i}"), "123456").await;
        times.push(start.elapsed());
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "attempt {i}");
    }
    assert!(times[3] >= Duration::from_millis(50), "{:?}", times[3]);
    assert!(times[4] >= Duration::from_millis(100), "{:?}", times[4]);
    assert!(times[24] >= Duration::from_millis(200), "{:?}", times[24]);
    assert!(times[24] < Duration::from_secs(2), "delays are capped");
    // A real user behind the same address still gets in, after the capped delay.
    let start = Instant::now();
    let r = login(&app, ip, "alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(start.elapsed() >= Duration::from_millis(200));
    // Another address is not slowed.
    let start = Instant::now();
    login(&app, "192.0.2.11", "user1", "123456").await;
    assert!(start.elapsed() < Duration::from_millis(50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn username_delay_slows_distributed_guessing_when_enabled() {
    let mut s = settings();
    s.throttle.username_delay_after = 3;
    s.throttle.delay_initial = 0.1;
    s.throttle.delay_max = 0.1;
    let app = site(
        s.clone(),
        seeded_users().await,
        Throttle::in_memory(config(&s)),
    );
    for i in 0..3 {
        login(&app, &format!("10.9.0.{i}"), "alice", "guess").await;
    }
    let start = Instant::now();
    let r = login(&app, "10.9.0.99", "alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::FOUND, "slowed, never refused");
    assert!(start.elapsed() >= Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_usernames_do_not_grow_throttle_memory() {
    let mut s = settings();
    s.throttle.max_keys = 100;
    let store = Arc::new(MemoryThrottleStore::new(100));
    let app = site(
        s.clone(),
        seeded_users().await,
        Throttle::new(config(&s), store.clone()),
    );
    let huge = "u".repeat(1_900_000);
    for i in 0..60 {
        let name = format!("{huge}{i}");
        let r = login(&app, &format!("10.3.{}.{}", i / 200, i % 200), &name, "x").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(store.len() <= 100, "{}", store.len());
    }
    // Each counter is a fixed-size hash, whatever the username's length.
    let key = ThrottleKey::new("pair", &[&huge, "10.3.0.1"]);
    assert!(key.as_str().len() < 100);
    assert!(!store.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_username_enumeration_is_throttled() {
    let mut s = settings();
    s.throttle.signup_limit_per_ip = 3;
    let app = site(
        s.clone(),
        seeded_users().await,
        Throttle::in_memory(config(&s)),
    );
    let probe = |ip: &'static str, name: &'static str| {
        let app = app.clone();
        async move {
            post(
                &app,
                ip,
                "/accounts/signup/",
                &[
                    ("username", name),
                    ("email", ""),
                    ("password1", "x"),
                    ("password2", "y"),
                ],
            )
            .await
        }
    };
    for name in ["alice", "bob", "carol"] {
        let r = probe("10.4.0.1", name).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let r = probe("10.4.0.1", "alice").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.retry_after.is_some());
    assert!(
        !r.body.contains("already exists"),
        "a refused probe learns nothing"
    );
    assert!(r.body.contains("Try again in 15 minutes."), "{}", r.body);
    // Per address: another client can still sign up.
    let r = probe("10.4.0.2", "alice").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("already exists"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_requests_are_throttled_per_address_and_per_email() {
    let mut s = settings();
    s.throttle.password_reset_limit_per_ip = 3;
    s.throttle.password_reset_limit_per_email = 2;
    s.email.backend = EmailBackend::File;
    s.email.file_path = std::env::temp_dir()
        .join(format!("sesame-throttle-outbox-{}", std::process::id()))
        .display()
        .to_string();
    let app = site(
        s.clone(),
        seeded_users().await,
        Throttle::in_memory(config(&s)),
    );
    let reset = |ip: &'static str, email: &'static str| {
        let app = app.clone();
        async move { post(&app, ip, "/accounts/password_reset/", &[("email", email)]).await }
    };
    // Per e-mail, from any address: no mail-bombing a victim from many clients.
    assert_eq!(
        reset("10.5.0.1", "alice@example.com").await.status,
        StatusCode::FOUND
    );
    assert_eq!(
        reset("10.5.0.2", "ALICE@example.com").await.status,
        StatusCode::FOUND
    );
    let r = reset("10.5.0.3", "alice@example.com").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.retry_after.is_some());
    // Per address, over any e-mails.
    for e in ["a@example.com", "b@example.com"] {
        assert_eq!(reset("10.5.0.9", e).await.status, StatusCode::FOUND);
    }
    assert_eq!(
        reset("10.5.0.9", "d@example.com").await.status,
        StatusCode::FOUND
    );
    assert_eq!(
        reset("10.5.0.9", "e@example.com").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// A store that is down.
struct Down;

#[async_trait]
impl ThrottleStore for Down {
    fn name(&self) -> &'static str {
        "down"
    }
    async fn increment(&self, _: &ThrottleKey, _: Duration) -> Result<Count, ThrottleError> {
        Err(ThrottleError::Unavailable("connection refused".into()))
    }
    async fn get(&self, _: &ThrottleKey) -> Result<Option<Count>, ThrottleError> {
        Err(ThrottleError::Unavailable("connection refused".into()))
    }
    async fn reset(&self, _: &ThrottleKey) -> Result<(), ThrottleError> {
        Err(ThrottleError::Unavailable("connection refused".into()))
    }
    async fn clear_expired(&self) -> Result<u64, ThrottleError> {
        Ok(0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_throttle_store_refuses_with_503_not_500_and_never_lets_through() {
    let s = settings();
    let app = site(
        s.clone(),
        seeded_users().await,
        Throttle::new(config(&s), Arc::new(Down)),
    );
    let r = login(&app, "10.6.0.1", "alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let r = post(
        &app,
        "10.6.0.1",
        "/accounts/signup/",
        &[("username", "alice")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_is_shared_by_two_instances_on_one_database() {
    use sesame_sql::{Db, PoolSettings, SqlAuthStore, SqlThrottleStore, migrate};
    let path = std::env::temp_dir().join(format!(
        "sesame-throttle-shared-{}-{}.sqlite3",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let url = format!("sqlite://{}", path.display());
    let s = settings();
    let mut apps = Vec::new();
    for i in 0..2 {
        // Two instances: each with its own pool, as two processes would have.
        let db = Db::connect(&url, PoolSettings::default()).await.unwrap();
        if i == 0 {
            migrate(&db).await.unwrap();
            let users = SqlAuthStore::new(db.clone()).await.unwrap();
            let enc = hashing().make_password(PASSWORD.into()).await.unwrap();
            users
                .create_user(NewUser::new("alice", "", enc))
                .await
                .unwrap();
        }
        let users: Arc<dyn AuthStore> = Arc::new(SqlAuthStore::new(db.clone()).await.unwrap());
        let throttle = Throttle::new(config(&s), Arc::new(SqlThrottleStore::new(db)));
        apps.push(site(s.clone(), users, throttle));
    }
    for i in 0..5 {
        let r = login(&apps[i % 2], "10.7.0.1", "alice", "guess").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "attempt {i}");
    }
    for app in &apps {
        assert_eq!(
            login(app, "10.7.0.1", "alice", PASSWORD).await.status,
            StatusCode::TOO_MANY_REQUESTS,
            "both instances see the five failures"
        );
    }
    assert_eq!(
        login(&apps[1], "10.7.0.2", "alice", PASSWORD).await.status,
        StatusCode::FOUND
    );
    let _ = std::fs::remove_file(&path);
}
