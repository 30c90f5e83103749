//! NoSQL injection through the store API: operator-shaped text is data, never query syntax.
//! (The HTTP form side is tested on the real binary in sesame-cli's tests.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fresh;
use mongodb::bson::{Document, doc};
use sesame_core::auth::store::{AuthStoreError, GroupStore, UserStore};
use sesame_core::auth::{Id, IdKind, NewUser, UserField};
use sesame_core::session::{SessionCodec, SessionStore};
use sesame_mongodb::{MongoAuthStore, MongoSessionStore, migrate};

const HOSTILE: &[&str] = &[
    "{\"$ne\": \"\"}",
    "{\"$gt\": \"\"}",
    "$ne",
    "$where",
    "$regex",
    ".*",
    "^a",
    "this.password.length > 0",
    "a.b",
    "{\"$where\": \"sleep(1000)\"}",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_shaped_values_never_change_a_query() {
    for kind in [IdKind::ObjectId, IdKind::Str] {
        let Some(t) = fresh(kind).await else { return };
        migrate(&t.db).await.unwrap();
        let store = MongoAuthStore::new(t.db.clone());
        let alice = store
            .create_user(NewUser::new("alice", "alice@example.com", "x"))
            .await
            .unwrap();
        for h in HOSTILE {
            assert!(
                store.get_user_by_username(h).await.unwrap().is_none(),
                "{kind:?} username {h}"
            );
            assert!(
                store.get_users_by_email(h).await.unwrap().is_empty(),
                "{kind:?} email {h}"
            );
            // An id from a session or a URL: never an operator.
            let found = store.get_user(&Id::Str((*h).into())).await.unwrap();
            assert!(found.is_none(), "{kind:?} id {h}");
            assert!(store.get_group_by_name(h).await.unwrap().is_none());
        }
        // Regex metacharacters in an e-mail match only themselves.
        assert!(
            store
                .get_users_by_email("ALICE@EXAMPLE.COM")
                .await
                .unwrap()
                .len()
                == 1
        );
        assert!(
            store
                .get_users_by_email("alice@example.co.")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .get_users_by_email("alice@example.co?m")
                .await
                .unwrap()
                .is_empty()
        );
        // Stored as text and found again as text.
        let odd = store
            .create_user(NewUser::new("$where", "{\"$ne\": 1}@x.org", "x"))
            .await
            .unwrap();
        assert_eq!(
            store
                .get_user_by_username("$where")
                .await
                .unwrap()
                .map(|u| u.id),
            Some(odd.id.clone())
        );
        // Profile fields cannot smuggle operators into an update.
        let mut extra = serde_json::Map::new();
        extra.insert("$set".into(), serde_json::json!({"is_superuser": true}));
        assert!(matches!(
            store
                .update_user(&alice.id, &[UserField::Extra(extra)])
                .await,
            Err(AuthStoreError::Invalid(_))
        ));
        let mut nested = serde_json::Map::new();
        nested.insert("profile".into(), serde_json::json!({"$inc": {"x": 1}}));
        assert!(matches!(
            store
                .update_user(&alice.id, &[UserField::Extra(nested)])
                .await,
            Err(AuthStoreError::Invalid(_))
        ));
        let users = t.db.database().collection::<Document>("auth_user");
        assert_eq!(
            users
                .count_documents(doc! {"is_superuser": true})
                .await
                .unwrap(),
            0
        );
        t.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_shaped_session_keys_load_nothing() {
    let Some(t) = fresh(IdKind::ObjectId).await else {
        return;
    };
    migrate(&t.db).await.unwrap();
    let sessions = MongoSessionStore::new(t.db.clone(), SessionCodec::new("k"));
    for h in HOSTILE {
        assert!(sessions.load(h).await.unwrap().is_none());
        assert!(!sessions.exists(h).await.unwrap());
        sessions.delete(h).await.unwrap();
    }
    t.drop_db().await;
}
