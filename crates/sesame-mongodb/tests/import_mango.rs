//! `import-mango` on a fixture in the legacy layout: users keep their hashes and are rehashed
//! at their next login; pickled sessions are not imported, and counted; a second run imports
//! nothing new.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fresh;
use md5::Digest;
use mongodb::bson::{DateTime, Document, doc, oid::ObjectId};
use sesame_core::auth::backend::ModelBackend;
use sesame_core::auth::hashers::{Hashers, PasswordHashing};
use sesame_core::auth::store::UserStore;
use sesame_core::auth::{Id, IdKind};
use sesame_core::settings::Settings;
use sesame_mongodb::import::{ImportReport, MangoSource, import_mango};
use sesame_mongodb::{MongoAuthStore, migrate};
use std::sync::{Arc, Mutex};

fn sha1_hash(salt: &str, password: &str) -> String {
    let digest = sha1::Sha1::digest(format!("{salt}{password}").as_bytes());
    format!("sha1${salt}${}", hex::encode(digest))
}

fn md5_hash(password: &str) -> String {
    hex::encode(md5::Md5::digest(password.as_bytes()))
}

/// mango's documents, as its `Model.save` and session engine wrote them (spec §6a).
async fn write_legacy(db: &sesame_mongodb::MongoDb) -> ObjectId {
    let users = db.database().collection::<Document>("users");
    let ann = ObjectId::new();
    let joined = DateTime::from_millis(1_262_304_000_000);
    users
        .insert_many([
            doc! {"_id": ann, "username": "ann", "first_name": "", "last_name": "", "email": "ann@example.com",
                  "password": sha1_hash("a1b2c", "old secret"), "is_staff": false, "is_active": true,
                  "is_superuser": false, "last_login": joined, "date_joined": joined},
            doc! {"_id": ObjectId::new(), "username": "ben", "first_name": "Ben", "last_name": "", "email": "ben@example.com",
                  "password": md5_hash("md5 secret"), "is_staff": true, "is_active": true,
                  "is_superuser": false, "last_login": joined, "date_joined": joined},
            doc! {"_id": ObjectId::new(), "username": "cyd", "first_name": "", "last_name": "", "email": "cyd@example.com",
                  "password": "!", "is_staff": false, "is_active": false,
                  "is_superuser": false, "last_login": joined, "date_joined": joined},
            doc! {"_id": ObjectId::new(), "note": "not a user"},
        ])
        .await
        .unwrap();
    let sessions = db.database().collection::<Document>("sessions");
    sessions
        .insert_many([
            doc! {"session_key": "0123456789abcdef0123456789abcdef",
                  "session_data": "gAJ9cQEuY2U0ODdkNmZjZWE1MGE5NjY3YjQ3YjkzMWFmYTc4ZjE=", "expire_date": joined},
            doc! {"session_key": "fedcba9876543210fedcba9876543210",
                  "session_data": "gAJ9cQEoVQ1fYXV0aF91c2VyX2lkcQJjYnNvbi5vYmplY3RpZApPYmplY3RJZApxAymBcQR9cQVVBV9faWRxBlUMSw==",
                  "expire_date": joined},
        ])
        .await
        .unwrap();
    ann
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_users_are_imported_once_and_rehashed_at_login() {
    let Some(t) = fresh(IdKind::ObjectId).await else {
        return;
    };
    migrate(&t.db).await.unwrap();
    let ann_id = write_legacy(&t.db).await;
    let store = MongoAuthStore::new(t.db.clone());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let progress = move |phase: &str, done: u64, total: u64| {
        log.lock().unwrap().push((phase.to_owned(), done, total));
    };
    let report = import_mango(&t.db, &store, &MangoSource::default(), &progress)
        .await
        .unwrap();
    assert_eq!(
        report,
        ImportReport {
            users_seen: 4,
            users_imported: 3,
            users_already_present: 0,
            users_invalid: 1,
            legacy_hashes: 2,
            sessions_dropped: 2,
        }
    );
    let steps = seen.lock().unwrap().clone();
    assert!(steps.contains(&("users".to_owned(), 4, 4)), "{steps:?}");
    assert!(steps.contains(&("sessions".to_owned(), 2, 2)), "{steps:?}");

    // Ids, flags and timestamps are kept.
    let ann = store.get_user_by_username("ann").await.unwrap().unwrap();
    assert_eq!(
        ann.id,
        Id::ObjectId(sesame_core::auth::ObjectId(ann_id.bytes()))
    );
    assert_eq!(ann.date_joined.timestamp_millis(), 1_262_304_000_000);
    let ben = store.get_user_by_username("ben").await.unwrap().unwrap();
    assert!(ben.is_staff && ben.first_name == "Ben");
    let cyd = store.get_user_by_username("cyd").await.unwrap().unwrap();
    assert!(!cyd.is_active && !cyd.has_usable_password());

    // A second run imports nothing new.
    let again = import_mango(&t.db, &store, &MangoSource::default(), &|_, _, _| {})
        .await
        .unwrap();
    assert_eq!((again.users_imported, again.users_already_present), (0, 3));
    assert_eq!(store.list_users(0, 100).await.unwrap().len(), 3);

    // With the legacy hashers enabled, a login verifies the old hash and rehashes it.
    let mut settings = Settings::default();
    settings
        .auth
        .password_hashers
        .extend(["sha1".to_owned(), "unsalted_md5".to_owned()]);
    let hashing = PasswordHashing::new(Hashers::from_settings(&settings).unwrap(), 1);
    let backend = ModelBackend::new(Arc::new(store.clone()), hashing);
    assert!(
        backend
            .authenticate("ann", "wrong")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .get_user_by_username("ann")
            .await
            .unwrap()
            .unwrap()
            .password,
        ann.password
    );
    let user = backend
        .authenticate("ann", "old secret")
        .await
        .unwrap()
        .expect("ann logs in");
    assert!(
        user.password.starts_with("pbkdf2_sha256$"),
        "{}",
        user.password
    );
    let stored = store.get_user_by_username("ann").await.unwrap().unwrap();
    assert_eq!(stored.password, user.password, "the new hash is saved");
    let user = backend
        .authenticate("ben", "md5 secret")
        .await
        .unwrap()
        .expect("ben logs in");
    assert!(user.password.starts_with("pbkdf2_sha256$"));
    assert!(
        backend
            .authenticate("ann", "old secret")
            .await
            .unwrap()
            .is_some(),
        "the new hash verifies"
    );
    t.drop_db().await;
}
