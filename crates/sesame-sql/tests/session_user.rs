//! The session and its user in one round trip (the join through `sesame_session_user`),
//! with the fallbacks for sessions the index does not know.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{TimeDelta, Utc};
use common::{Kind, fresh};
use serde_json::json;
use sesame_core::auth::store::{GroupStore, PermissionStore, UserStore};
use sesame_core::auth::{NewUser, UserField, UserPermissions};
use sesame_core::session::{SessionCodec, SessionData, SessionRecord, SessionStore};
use sesame_sql::{SqlAuthStore, SqlSessionStore, migrate};

async fn join(kind: Kind) {
    let Some(t) = fresh(kind).await else { return };
    migrate(&t.db).await.unwrap();
    let sessions = SqlSessionStore::new(t.db.clone(), SessionCodec::new("k"));
    let auth = SqlAuthStore::new(t.db.clone()).await.unwrap();
    assert!(sessions.has_user_index().await);
    let alice = auth
        .create_user(NewUser::new("alice", "a@example.com", "x"))
        .await
        .unwrap();
    let bob = auth
        .create_user(NewUser::new("bob", "b@example.com", "x"))
        .await
        .unwrap();
    let expires = Utc::now() + TimeDelta::hours(1);

    let logged_in: SessionData = json!({"_auth_user_id": alice.id.to_string(), "cart": [1]})
        .as_object()
        .unwrap()
        .clone();
    sessions
        .create(
            "loggedinsession000000000000001",
            SessionRecord {
                data: &logged_in,
                expire_date: expires,
            },
        )
        .await
        .unwrap();
    let (data, user) = auth
        .load_session_with_user(&sessions, "loggedinsession000000000000001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(data, logged_in);
    assert_eq!(user.unwrap().username, "alice");
    assert_eq!(
        auth.load_then_user(&sessions, "loggedinsession000000000000001")
            .await
            .unwrap()
            .unwrap()
            .1
            .unwrap()
            .id,
        alice.id
    );

    // Anonymous sessions have no user; logging out (a save without the id) clears the index.
    let anon: SessionData = json!({"cart": [2]}).as_object().unwrap().clone();
    sessions
        .save(
            "loggedinsession000000000000001",
            SessionRecord {
                data: &anon,
                expire_date: expires,
            },
            true,
        )
        .await
        .unwrap();
    let (_, user) = auth
        .load_session_with_user(&sessions, "loggedinsession000000000000001")
        .await
        .unwrap()
        .unwrap();
    assert!(user.is_none());

    // A session Django wrote is not in the index: the user still comes, by a second query.
    let by_django: SessionData = json!({"_auth_user_id": bob.id.to_string()})
        .as_object()
        .unwrap()
        .clone();
    sessions
        .create(
            "djangowrotethissession00000001",
            SessionRecord {
                data: &by_django,
                expire_date: expires,
            },
        )
        .await
        .unwrap();
    t.db.execute_raw(
        "DELETE FROM sesame_session_user WHERE session_key = 'djangowrotethissession00000001'",
    )
    .await
    .unwrap();
    let (_, user) = auth
        .load_session_with_user(&sessions, "djangowrotethissession00000001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.unwrap().username, "bob");

    // A stale index row never yields the wrong user.
    t.db.execute_raw(&format!(
        "UPDATE sesame_session_user SET user_id = {} WHERE session_key = 'loggedinsession000000000000001'",
        bob.id
    ))
    .await
    .ok();
    sessions
        .save(
            "loggedinsession000000000000001",
            SessionRecord {
                data: &logged_in,
                expire_date: expires,
            },
            true,
        )
        .await
        .unwrap();
    t.db.execute_raw(&format!(
        "UPDATE sesame_session_user SET user_id = {}",
        bob.id
    ))
    .await
    .unwrap();
    let (_, user) = auth
        .load_session_with_user(&sessions, "loggedinsession000000000000001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        user.unwrap().username,
        "alice",
        "the session's own _auth_user_id decides"
    );

    assert!(
        auth.load_session_with_user(&sessions, "nosuchsession0000000000000001")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth.load_session_with_user(&sessions, "x'; DROP TABLE auth_user; --")
            .await
            .unwrap()
            .is_none()
    );
    sessions
        .delete("loggedinsession000000000000001")
        .await
        .unwrap();
    assert!(
        auth.load_session_with_user(&sessions, "loggedinsession000000000000001")
            .await
            .unwrap()
            .is_none()
    );
    t.drop_db().await;
}

/// The permissions fetched in the joined statement are exactly `ModelBackend`'s: direct and
/// group permissions, all of them for a superuser, none fetched without a joined user.
async fn prefetched_permissions(kind: Kind) {
    let Some(t) = fresh(kind).await else { return };
    migrate(&t.db).await.unwrap();
    let sessions = SqlSessionStore::new(t.db.clone(), SessionCodec::new("k"));
    let auth = SqlAuthStore::new(t.db.clone()).await.unwrap();
    let expires = Utc::now() + TimeDelta::hours(1);
    let mut users = Vec::new();
    for name in ["plain", "direct", "grouped", "both", "super"] {
        users.push(
            auth.create_user(NewUser::new(name, format!("{name}@example.com"), "x"))
                .await
                .unwrap(),
        );
    }
    let change = auth
        .get_permission("auth", "change_user")
        .await
        .unwrap()
        .unwrap();
    let view = auth
        .get_permission("auth", "view_group")
        .await
        .unwrap()
        .unwrap();
    let editors = auth.create_group("editors").await.unwrap();
    auth.grant_group_permission(&editors.id, &view.id)
        .await
        .unwrap();
    auth.grant_user_permission(&users[1].id, &change.id)
        .await
        .unwrap();
    auth.add_user_to_group(&users[2].id, &editors.id)
        .await
        .unwrap();
    auth.grant_user_permission(&users[3].id, &change.id)
        .await
        .unwrap();
    auth.add_user_to_group(&users[3].id, &editors.id)
        .await
        .unwrap();
    auth.update_user(&users[4].id, &[UserField::IsSuperuser(true)])
        .await
        .unwrap();
    for (i, user) in users.iter().enumerate() {
        let user = auth.get_user(&user.id).await.unwrap().unwrap();
        let key = format!("prefetchsession00000000000000{i}");
        let data: SessionData = json!({"_auth_user_id": user.id.to_string()})
            .as_object()
            .unwrap()
            .clone();
        sessions
            .create(
                &key,
                SessionRecord {
                    data: &data,
                    expire_date: expires,
                },
            )
            .await
            .unwrap();
        let got = auth
            .load_session_with_user_and_permissions(&sessions, &key)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.data, data);
        assert_eq!(got.user.as_ref().map(|u| &u.id), Some(&user.id));
        let expected = UserPermissions::load(&auth, &user).await.unwrap();
        assert_eq!(
            got.permissions.as_ref(),
            Some(expected.all()),
            "{kind:?} {}",
            user.username
        );
    }
    let all = auth.all_permission_strings().await.unwrap();
    assert!(all.len() >= 20, "Django's default permissions: {all:?}");
    // An anonymous session: no user, so nothing fetched.
    let anon: SessionData = json!({"cart": [1]}).as_object().unwrap().clone();
    sessions
        .create(
            "prefetchanonymous0000000000000",
            SessionRecord {
                data: &anon,
                expire_date: expires,
            },
        )
        .await
        .unwrap();
    let got = auth
        .load_session_with_user_and_permissions(&sessions, "prefetchanonymous0000000000000")
        .await
        .unwrap()
        .unwrap();
    assert!(got.user.is_none() && got.permissions.is_none());
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    join(Kind::Sqlite).await;
    prefetched_permissions(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    join(Kind::Postgres).await;
    prefetched_permissions(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    join(Kind::MySql).await;
    prefetched_permissions(Kind::MySql).await;
}
