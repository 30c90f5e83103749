//! Interop with a real Django 5.2 on django-mongodb-backend 5.2 (`scripts/django-mongo-peer`),
//! both ways, on one database: Django migrates, Sesame adds its TTL; users, groups,
//! permissions and logged-in sessions written by one side are read by the other.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{TimeDelta, Utc};
use serde_json::Value;
use sesame_core::auth::backend::ModelBackend;
use sesame_core::auth::hashers::{Hashers, PasswordHashing};
use sesame_core::auth::store::{GroupStore, PermissionStore, UserStore};
use sesame_core::auth::{
    BACKEND_SESSION_KEY, HASH_SESSION_KEY, IdKind, MODEL_BACKEND_PATH, NewUser, SESSION_KEY,
};
use sesame_core::session::{
    SessionCodec, SessionData, SessionRecord, SessionStore, new_session_key,
};
use sesame_core::settings::Settings;
use sesame_mongodb::{MongoAuthStore, MongoSessionStore, MongoSessionWithUser, migrate};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

const SECRET: &str = "django-mongo-interop-secret-key-0123456789";

struct Peer {
    uri: String,
    db: String,
}

impl Peer {
    fn run(&self, args: &[&str]) -> (bool, String) {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/django-mongo-peer");
        let out = Command::new(script)
            .args(args)
            .args(["--uri", &self.uri, "--db", &self.db, "--secret-key", SECRET])
            .output()
            .expect("run scripts/django-mongo-peer");
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() && !args.contains(&"checkpassword") {
            panic!(
                "django-mongo-peer {args:?} failed: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        (out.status.success(), stdout)
    }

    fn json(&self, args: &[&str]) -> Value {
        let (_, out) = self.run(args);
        let last = out.lines().last().unwrap_or_default();
        sesame_core::pyjson::loads(last).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_and_sesame_share_users_permissions_and_sessions() {
    let Some(t) = common::fresh(IdKind::ObjectId).await else {
        return;
    };
    let name = t.db.database().name().to_owned();
    let peer = Peer {
        uri: common::base_uri().unwrap(),
        db: name,
    };

    // Django migrates first; Sesame finds every index it needs and adds the TTL.
    peer.run(&["migrate"]);
    let report = migrate(&t.db).await.unwrap();
    assert!(
        report.created.is_empty(),
        "Django made every index: {report:?}"
    );
    assert!(
        report.ttl_converted || !report.warnings.is_empty(),
        "{report:?}"
    );

    let store = MongoAuthStore::new(t.db.clone());
    let settings = Settings {
        secret_key: SECRET.into(),
        ..Settings::default()
    };
    let hashing = PasswordHashing::new(Hashers::from_settings(&settings).unwrap(), 1);
    let backend = ModelBackend::new(Arc::new(store.clone()), hashing.clone());
    let codec = SessionCodec::new(SECRET);
    let sessions = MongoSessionStore::new(t.db.clone(), codec.clone());
    let both = MongoSessionWithUser::new(sessions.clone(), store.clone());

    // Django → Sesame: a user, its groups and permissions, a logged-in session.
    let (_, alice_id) = peer.run(&[
        "createuser",
        "alice",
        "correct horse",
        "--email",
        "alice@example.com",
    ]);
    peer.run(&["creategroup", "editors", "--perm", "auth.change_user"]);
    peer.run(&["addtogroup", "alice", "editors"]);
    peer.run(&["grant", "alice", "auth.view_group"]);
    let alice = backend
        .authenticate("alice", "correct horse")
        .await
        .unwrap()
        .expect("Django's user logs in on Sesame");
    assert_eq!(alice.id.to_string(), alice_id.lines().last().unwrap());
    assert!(
        backend
            .authenticate("alice", "wrong")
            .await
            .unwrap()
            .is_none()
    );
    let perms: Vec<String> = store
        .get_all_permissions(&alice.id)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(perms, ["auth.change_user", "auth.view_group"]);
    assert_eq!(
        store.user_groups(&alice.id).await.unwrap()[0].name,
        "editors"
    );

    let login = peer.json(&["login", "alice", "correct horse"]);
    let key = login["session_key"].as_str().unwrap();
    let (data, user) = both
        .load(key)
        .await
        .unwrap()
        .expect("Django's session loads");
    assert_eq!(data[SESSION_KEY], alice_id.lines().last().unwrap());
    assert_eq!(data[BACKEND_SESSION_KEY], MODEL_BACKEND_PATH);
    let user = user.expect("its user");
    assert_eq!(user.username, "alice");
    assert_eq!(data[HASH_SESSION_KEY], user.get_session_auth_hash(SECRET));

    // Sesame → Django: a user with a permission, and a logged-in session Django accepts.
    let encoded = hashing
        .make_password("battery staple".into())
        .await
        .unwrap();
    let bob = store
        .create_user(NewUser::new("bob", "bob@example.com", &encoded))
        .await
        .unwrap();
    let add_user = store
        .get_permission("auth", "add_user")
        .await
        .unwrap()
        .expect("Django's permission");
    store
        .grant_user_permission(&bob.id, &add_user.id)
        .await
        .unwrap();
    assert!(peer.run(&["checkpassword", "bob", "battery staple"]).0);
    assert!(!peer.run(&["checkpassword", "bob", "wrong"]).0);
    assert_eq!(
        peer.json(&["perms", "bob"]),
        serde_json::json!(["auth.add_user"])
    );

    let mut data = SessionData::new();
    data.insert(SESSION_KEY.into(), bob.id.to_string().into());
    data.insert(BACKEND_SESSION_KEY.into(), MODEL_BACKEND_PATH.into());
    data.insert(
        HASH_SESSION_KEY.into(),
        bob.get_session_auth_hash(SECRET).into(),
    );
    let key = new_session_key();
    sessions
        .create(
            &key,
            SessionRecord {
                data: &data,
                expire_date: Utc::now() + TimeDelta::hours(1),
            },
        )
        .await
        .unwrap();
    let me = peer.json(&["whoami", &key]);
    assert_eq!(me["authenticated"], true, "{me}");
    assert_eq!(me["username"], "bob");
    assert_eq!(me["id"], bob.id.to_string());
    t.drop_db().await;
}
