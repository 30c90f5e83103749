//! The documents and indexes Sesame writes match what a real Django 5.2 with
//! django-mongodb-backend wrote against the same kind of server: the fixture
//! `fixtures/django-mongodb-backend-dump.json`, captured by `scripts/django-mongo-peer capture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{fresh, with_database};
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use serde_json::Value;
use sesame_core::auth::store::{
    GroupStore, PermissionStore, UserStore, create_default_permissions,
};
use sesame_core::auth::{IdKind, NewUser, SESSION_KEY};
use sesame_core::session::{SessionCodec, SessionRecord, SessionStore, new_session_key};
use sesame_mongodb::{
    IndexProblem, MongoAuthStore, MongoConfig, MongoError, MongoSessionStore, check_indexes,
    list_indexes, migrate,
};
use std::collections::BTreeMap;

fn fixture() -> Value {
    let text = include_str!("fixtures/django-mongodb-backend-dump.json");
    serde_json::from_str(text).unwrap()
}

/// The `$type` alias of a BSON value, as the fixture names them.
fn type_name(b: &Bson) -> &'static str {
    match b {
        Bson::ObjectId(_) => "objectId",
        Bson::String(_) => "string",
        Bson::Boolean(_) => "bool",
        Bson::DateTime(_) => "date",
        Bson::Null => "null",
        Bson::Int32(_) => "int",
        Bson::Int64(_) => "long",
        Bson::Double(_) => "double",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        _ => "other",
    }
}

/// Fields Sesame adds beside Django's, which Django ignores.
const SESAME_FIELDS: &[&str] = &["sesame_user_id", "sesame_extra"];

async fn docs(db: &sesame_mongodb::MongoDb, coll: &str) -> Vec<Document> {
    db.database()
        .collection::<Document>(coll)
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_and_indexes_match_django_mongodb_backend() {
    let Some(t) = fresh(IdKind::ObjectId).await else {
        return;
    };
    let fx = fixture();
    let report = migrate(&t.db).await.expect("migrate");
    assert!(!report.created.is_empty());

    // The scenario of the capture: alice in `editors` (auth.change_user) with auth.view_group
    // of her own, a superuser root, and a logged-in session of alice's.
    let store = MongoAuthStore::new(t.db.clone());
    create_default_permissions(&store).await.unwrap();
    let alice = store
        .create_user(NewUser::new(
            "alice",
            "alice@example.com",
            "pbkdf2_sha256$1000000$s$h",
        ))
        .await
        .unwrap();
    store
        .create_user(NewUser {
            is_staff: true,
            is_superuser: true,
            ..NewUser::new("root", "", "pbkdf2_sha256$1000000$s$h")
        })
        .await
        .unwrap();
    let editors = store.create_group("editors").await.unwrap();
    let change_user = store
        .get_permission("auth", "change_user")
        .await
        .unwrap()
        .unwrap();
    let view_group = store
        .get_permission("auth", "view_group")
        .await
        .unwrap()
        .unwrap();
    store
        .grant_group_permission(&editors.id, &change_user.id)
        .await
        .unwrap();
    store
        .add_user_to_group(&alice.id, &editors.id)
        .await
        .unwrap();
    store
        .grant_user_permission(&alice.id, &view_group.id)
        .await
        .unwrap();
    store
        .update_last_login(&alice.id, chrono::Utc::now())
        .await
        .unwrap();
    let sessions = MongoSessionStore::new(t.db.clone(), SessionCodec::new("k"));
    let mut data = sesame_core::session::SessionData::new();
    data.insert(SESSION_KEY.into(), alice.id.to_string().into());
    data.insert(
        "_auth_user_backend".into(),
        "django.contrib.auth.backends.ModelBackend".into(),
    );
    let key = new_session_key();
    sessions
        .create(
            &key,
            SessionRecord {
                data: &data,
                expire_date: chrono::Utc::now() + chrono::TimeDelta::hours(1),
            },
        )
        .await
        .unwrap();

    // Documents: the same fields, in the same order, with the same BSON types.
    let collections = fx["collections"].as_object().unwrap();
    for (name, django) in collections {
        if name == "django_migrations" {
            continue; // Django's migration records: Sesame has no migrations to record.
        }
        let theirs = django["documents"].as_array().unwrap();
        let their_keys: Vec<&str> = theirs[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let their_types: BTreeMap<&str, Vec<&str>> = django["field_types"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    v.as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t.as_str().unwrap())
                        .collect(),
                )
            })
            .collect();
        let ours = docs(&t.db, name).await;
        assert!(!ours.is_empty(), "{name}: Sesame wrote nothing");
        for d in &ours {
            let our_keys: Vec<&str> = d
                .keys()
                .map(String::as_str)
                .filter(|k| !SESAME_FIELDS.contains(k))
                .collect();
            assert_eq!(our_keys, their_keys, "{name}: fields and their order");
            for (k, v) in d {
                if SESAME_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let ty = type_name(v);
                assert!(
                    their_types[k.as_str()].contains(&ty),
                    "{name}.{k}: Sesame wrote a {ty}, Django writes {:?}",
                    their_types[k.as_str()]
                );
            }
        }
    }

    // Indexes: every index Django's migrate created, with the same keys and options. The
    // one difference is deliberate: Sesame's expire_date index is a TTL index.
    let mut checked = 0;
    for cmd in fx["schema_commands"].as_array().unwrap() {
        let Some(coll) = cmd.get("createIndexes").and_then(Value::as_str) else {
            continue;
        };
        let ours = list_indexes(&t.db, coll).await.unwrap();
        for spec in cmd["indexes"].as_array().unwrap() {
            let name = spec["name"].as_str().unwrap();
            let mine = ours
                .iter()
                .find(|i| i.name == name)
                .unwrap_or_else(|| panic!("{coll}: no index named {name}"));
            let their_keys: Vec<(&str, i64)> = spec["key"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_i64().unwrap()))
                .collect();
            let my_keys: Vec<(&str, i64)> = mine
                .keys
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str(),
                        v.as_i32().map(i64::from).or(v.as_i64()).unwrap(),
                    )
                })
                .collect();
            assert_eq!(my_keys, their_keys, "{coll}.{name}: keys");
            assert_eq!(
                mine.unique,
                spec["unique"].as_bool().unwrap_or(false),
                "{coll}.{name}: unique"
            );
            let their_pfe = spec.get("partialFilterExpression").cloned();
            let my_pfe = mine
                .partial_filter_expression
                .clone()
                .map(|d| Bson::Document(d).into_relaxed_extjson());
            assert_eq!(my_pfe, their_pfe, "{coll}.{name}: partialFilterExpression");
            if name == "django_session_expire_date_a5c62663" {
                assert_eq!(
                    mine.expire_after_seconds,
                    Some(0),
                    "Sesame's addition: a TTL"
                );
            } else {
                assert_eq!(mine.expire_after_seconds, None, "{coll}.{name}: no TTL");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 16, "every index of the capture was compared");
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_is_idempotent_and_start_up_checks_find_missing_indexes() {
    let Some(t) = fresh(IdKind::Int).await else {
        return;
    };
    let before = check_indexes(&t.db).await.unwrap();
    assert!(before.iter().any(
        |p| matches!(p, IndexProblem::Missing(s) if s.name == "auth_user_username_6821ab7c_uniq")
    ));
    assert!(before.iter().any(|p| !p.is_tolerable()));
    let first = migrate(&t.db).await.unwrap();
    assert_eq!(first.created.len(), 16, "{first:?}");
    assert!(check_indexes(&t.db).await.unwrap().is_empty());
    let second = migrate(&t.db).await.unwrap();
    assert!(
        second.created.is_empty() && second.warnings.is_empty(),
        "{second:?}"
    );
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_expire_date_index_from_django_becomes_ttl_or_is_reported() {
    // django-mongodb-backend creates `django_session_expire_date_a5c62663` without a TTL.
    // A second index on the same key would conflict (IndexOptionsConflict on mongod), so
    // migrate converts it with collMod, or keeps it with a warning; it never fails.
    let Some(t) = fresh(IdKind::ObjectId).await else {
        return;
    };
    let coll = t.db.database().collection::<Document>("django_session");
    coll.create_index(
        mongodb::IndexModel::builder()
            .keys(doc! {"expire_date": 1})
            .options(
                mongodb::options::IndexOptions::builder()
                    .name("django_session_expire_date_a5c62663".to_owned())
                    .build(),
            )
            .build(),
    )
    .await
    .unwrap();
    let problems = check_indexes(&t.db).await.unwrap();
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, IndexProblem::NotTtl(_))),
        "{problems:?}"
    );
    let report = migrate(&t.db)
        .await
        .expect("migrate never fails over the TTL");
    let indexes = list_indexes(&t.db, "django_session").await.unwrap();
    let on_expiry: Vec<_> = indexes
        .iter()
        .filter(|i| i.keys == doc! {"expire_date": 1})
        .collect();
    assert_eq!(
        on_expiry.len(),
        1,
        "no second index on expire_date: {indexes:?}"
    );
    if report.ttl_converted {
        assert_eq!(on_expiry[0].expire_after_seconds, Some(0));
        assert!(report.warnings.is_empty());
    } else {
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains("not a TTL index")),
            "{report:?}"
        );
        eprintln!("collMod refused by this server; migrate kept the plain index: {report:?}");
    }
    t.drop_db().await;
}

#[tokio::test]
async fn a_url_without_a_database_is_a_clear_error() {
    let Some(base) = common::base_uri() else {
        return;
    };
    let bare = with_database(&base, "");
    let err = MongoConfig::new(&bare).connect().await.unwrap_err();
    assert!(matches!(err, MongoError::NoDatabase), "{err}");
    assert!(err.to_string().contains("names no database"));
    let err = MongoConfig::new("mongodb://").connect().await.unwrap_err();
    assert!(matches!(err, MongoError::InvalidUrl(_)), "{err}");
}
