//! `Auth` over a chain of backends, as Django's `AUTHENTICATION_BACKENDS`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sesame_core::auth::hashers::{Hashers, PasswordHashing};
use sesame_core::auth::*;
use sesame_core::session::{MemorySessionStore, Session, SessionCodec, SessionConfig};
use std::sync::Arc;

/// A backend for one service account, checked before the database.
struct RobotBackend {
    robot: User,
}

#[async_trait]
impl AuthenticationBackend for RobotBackend {
    fn path(&self) -> &str {
        "myproject.auth.RobotBackend"
    }
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, AuthError> {
        Ok((username == "robot" && password == "beep").then(|| self.robot.clone()))
    }
    async fn get_user(&self, id: &str) -> Result<Option<User>, AuthError> {
        Ok((id == self.robot.id.to_string()).then(|| self.robot.clone()))
    }
    async fn user_permissions(&self, _: &User) -> Result<UserPermissions, AuthError> {
        Ok(UserPermissions::new(
            true,
            false,
            ["robots.beep".to_owned()],
        ))
    }
    async fn user_logged_in(&self, _: &User, _: DateTime<Utc>) -> Result<(), AuthError> {
        Ok(())
    }
}

#[tokio::test]
async fn first_backend_that_accepts_wins() {
    let store = Arc::new(MemoryAuthStore::new());
    let hashing = PasswordHashing::new(Hashers::from_names(&["md5"], "5.2").unwrap(), 1);
    let enc = hashing.make_password("alice-pass".into()).await.unwrap();
    let alice = store
        .create_user(NewUser::new("alice", "", enc))
        .await
        .unwrap();
    let robot = store
        .create_user(NewUser::new("robot", "", "!"))
        .await
        .unwrap();
    let model: Arc<dyn AuthenticationBackend> = Arc::new(ModelBackend::new(store.clone(), hashing));
    let auth = Auth::with_backends(
        vec![Arc::new(RobotBackend { robot }), model],
        "k".into(),
        vec![],
    );
    let sessions = Arc::new(MemorySessionStore::new(SessionCodec::new("k")));

    let mut r = auth.authenticate("robot", "beep").await.unwrap().unwrap();
    assert_eq!(r.backend.as_deref(), Some("myproject.auth.RobotBackend"));
    let mut s = Session::new(sessions.clone(), SessionConfig::default(), None);
    auth.login(&mut s, &mut r).await.unwrap();
    assert_eq!(
        s.get(BACKEND_SESSION_KEY).await.unwrap().unwrap(),
        "myproject.auth.RobotBackend"
    );
    let back = auth.get_user(&mut s).await.unwrap().unwrap();
    assert!(
        auth.user_permissions(&back)
            .await
            .unwrap()
            .has_perm("robots.beep")
    );

    let mut a = auth
        .authenticate("alice", "alice-pass")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.id, alice.id);
    assert_eq!(a.backend.as_deref(), Some(MODEL_BACKEND_PATH));
    let mut s2 = Session::new(sessions.clone(), SessionConfig::default(), None);
    auth.login(&mut s2, &mut a).await.unwrap();
    assert_eq!(
        auth.get_user(&mut s2).await.unwrap().unwrap().username,
        "alice"
    );
    assert!(auth.authenticate("alice", "beep").await.unwrap().is_none());

    // A session naming a backend this site does not have is anonymous, and left alone.
    s2.insert(BACKEND_SESSION_KEY, "elsewhere.Backend".into())
        .await
        .unwrap();
    assert!(auth.get_user(&mut s2).await.unwrap().is_none());
    assert!(s2.get(SESSION_KEY).await.unwrap().is_some());
}

/// An unknown username costs one hash, like a wrong password (no user enumeration by timing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_user_costs_a_hash() {
    let store = Arc::new(MemoryAuthStore::new());
    let hashing = PasswordHashing::new(Hashers::django_default("5.2").unwrap(), 1);
    let enc = hashing
        .make_password("right-password".into())
        .await
        .unwrap();
    store
        .create_user(NewUser::new("alice", "", enc))
        .await
        .unwrap();
    let backend = ModelBackend::new(store, hashing);
    let time = |username: &'static str| {
        let backend = backend.clone();
        async move {
            let t = std::time::Instant::now();
            assert!(
                backend
                    .authenticate(username, "wrong")
                    .await
                    .unwrap()
                    .is_none()
            );
            t.elapsed().as_secs_f64()
        }
    };
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        known.push(time("alice").await);
        unknown.push(time("nobody").await);
    }
    known.sort_by(f64::total_cmp);
    unknown.sort_by(f64::total_cmp);
    let ratio = unknown[1] / known[1];
    assert!(
        (0.6..1.6).contains(&ratio),
        "unknown {unknown:?} vs wrong password {known:?}"
    );
}
