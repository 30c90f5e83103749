//! User ids of every kind (ObjectId, counter integers, string keys) travel as strings through
//! reset tokens and `uidb64` and come back to the same user; duplicate e-mails are typed; and
//! operator-shaped text in place of an integer id is refused, never a query.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{base_uri, fresh, unique_name, with_database};
use sesame_core::auth::store::{AuthStoreError, UserStore};
use sesame_core::auth::tokens::{PasswordResetTokenGenerator, TokenUser, uid_decode, uid_encode};
use sesame_core::auth::{Id, IdKind, NewUser};
use sesame_mongodb::{MongoAuthStore, MongoConfig, migrate};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_id_kind_survives_uidb64_and_reset_tokens() {
    let tokens = PasswordResetTokenGenerator::new("token-secret", vec![], 3600, "UTC").unwrap();
    for kind in [IdKind::ObjectId, IdKind::Int, IdKind::Str] {
        let Some(t) = fresh(kind).await else { return };
        migrate(&t.db).await.unwrap();
        let store = MongoAuthStore::new(t.db.clone());
        let _other = store
            .create_user(NewUser::new("bob", "bob@example.com", "x"))
            .await
            .unwrap();
        let alice = store
            .create_user(NewUser::new("alice", "alice@example.com", "x"))
            .await
            .unwrap();
        assert_eq!(alice.id.kind(), kind);
        let pk = alice.id.to_string();
        match kind {
            IdKind::ObjectId => assert_eq!(pk.len(), 24, "{pk}"),
            IdKind::Int => assert_eq!(pk, "2", "the counter's second value"),
            IdKind::Str => assert_eq!(pk, "alice@example.com"),
        }
        // What the reset view does: uidb64 in the link, decoded back to a string, parsed
        // into this store's kind, looked up, and the token checked against that user.
        let uidb64 = uid_encode(&pk);
        let token = tokens.make_token(TokenUser::new(&alice, &pk));
        let decoded = uid_decode(&uidb64).unwrap();
        let id = Id::parse(&decoded, kind).unwrap();
        let found = store
            .get_user(&id)
            .await
            .unwrap()
            .expect("the user of the link");
        assert_eq!(found.username, "alice", "{kind:?}");
        let found_pk = found.id.to_string();
        assert!(tokens.check_token(TokenUser::new(&found, &found_pk), &token));
        // The other user's link does not carry this token.
        let bob = store.get_user_by_username("bob").await.unwrap().unwrap();
        let bob_pk = bob.id.to_string();
        assert!(!tokens.check_token(TokenUser::new(&bob, &bob_pk), &token));
        // After a password change the token is spent.
        store
            .set_password(&alice.id, "pbkdf2_sha256$1$salt$changed")
            .await
            .unwrap();
        let changed = store.get_user(&alice.id).await.unwrap().unwrap();
        assert!(!tokens.check_token(TokenUser::new(&changed, &pk), &token));
        t.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_emails_are_typed_where_emails_are_unique() {
    // With string ids taken from the e-mail, the e-mail is the key: a second account with
    // it is a DuplicateEmail, not an anonymous id clash.
    let Some(t) = fresh(IdKind::Str).await else {
        return;
    };
    migrate(&t.db).await.unwrap();
    let store = MongoAuthStore::new(t.db.clone());
    store
        .create_user(NewUser::new("alice", "alice@example.com", "x"))
        .await
        .unwrap();
    let again = store
        .create_user(NewUser::new("alice2", "alice@example.com", "x"))
        .await;
    assert!(
        matches!(&again, Err(AuthStoreError::DuplicateEmail(e)) if e == "alice@example.com"),
        "{again:?}"
    );
    let same_name = store
        .create_user(NewUser::new("alice", "other@example.com", "x"))
        .await;
    assert!(
        matches!(same_name, Err(AuthStoreError::DuplicateUsername(_))),
        "{same_name:?}"
    );
    t.drop_db().await;

    // With ObjectIds and `with_unique_email(true)`: a unique index on `email`, and the same
    // typed error (Django allows duplicate e-mails by default, and so does the default here).
    let Some(base) = base_uri() else { return };
    let url = with_database(&base, &unique_name());
    let db = MongoConfig::new(&url)
        .with_unique_email(true)
        .with_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    migrate(&db).await.unwrap();
    let store = MongoAuthStore::new(db.clone());
    store
        .create_user(NewUser::new("carol", "carol@example.com", "x"))
        .await
        .unwrap();
    let again = store
        .create_user(NewUser::new("carol2", "carol@example.com", "x"))
        .await;
    assert!(
        matches!(&again, Err(AuthStoreError::DuplicateEmail(e)) if e == "carol@example.com"),
        "{again:?}"
    );
    // Users without an e-mail never clash with each other.
    store
        .create_user(NewUser::new("dave", "", "x"))
        .await
        .unwrap();
    store
        .create_user(NewUser::new("erin", "", "x"))
        .await
        .unwrap();
    let _ = db.database().drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_shaped_integer_ids_are_refused_not_queried() {
    let Some(t) = fresh(IdKind::Int).await else {
        return;
    };
    migrate(&t.db).await.unwrap();
    let store = MongoAuthStore::new(t.db.clone());
    let alice = store
        .create_user(NewUser::new("alice", "alice@example.com", "x"))
        .await
        .unwrap();
    for hostile in ["{\"$ne\": 0}", "$gt", "1 || 1", "0x1", "1.0", " 1", ""] {
        // An id from a session or a URL: a typed refusal, or nothing found; never a match.
        match store.get_user(&Id::Str(hostile.into())).await {
            Ok(None) | Err(AuthStoreError::InvalidId(_)) => {}
            other => panic!("{hostile:?} gave {other:?}"),
        }
        assert!(store.get_user_by_username(hostile).await.unwrap().is_none());
    }
    // The id's own spelling as text is the same user: ids travel as strings.
    let found = store.get_user(&Id::Str("1".into())).await.unwrap();
    assert_eq!(found.map(|u| u.id), Some(alice.id));
    t.drop_db().await;
}
