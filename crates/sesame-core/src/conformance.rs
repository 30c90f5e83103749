//! The store conformance suite: one set of cases that every [`SessionStore`] and every
//! [`AuthStore`] in the project must pass. Each store's tests call
//! [`session_store_suite`] and [`auth_store_suite`] with a fresh, empty store.
//!
//! Enabled by the `conformance` feature (tests only). The cases panic with a message naming
//! the store and the case.

// A test suite: a failure is a panic naming the store and the case.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::auth::store::{AuthStore, AuthStoreError, create_default_permissions};
use crate::auth::{Id, NewUser, UserField};
use crate::session::{SessionData, SessionRecord, SessionStore, StoreError, new_session_key};
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

fn dict(v: Value) -> SessionData {
    v.as_object().cloned().unwrap_or_default()
}

fn record(data: &SessionData) -> SessionRecord<'_> {
    SessionRecord {
        data,
        expire_date: Utc::now() + TimeDelta::seconds(3600),
    }
}

/// How a store treats very large sessions.
#[derive(Debug, Clone, Copy)]
pub enum SizeLimit {
    /// It stores them (up to at least 1 MiB).
    Unlimited,
    /// It refuses encoded sessions over this many bytes with [`StoreError::TooLarge`].
    Bytes(usize),
}

/// Every behaviour of [`SessionStore`], including concurrency. `store` must be empty.
pub async fn session_store_suite(store: Arc<dyn SessionStore>, limit: SizeLimit) {
    let name = store.name();

    // create / load / exists
    let key = new_session_key();
    let data = dict(json!({"a": 1, "nested": {"list": [1, "two", null, true, 1.5]}}));
    let got = store.create(&key, record(&data)).await.expect("create");
    assert_eq!(got, key, "{name}: create returns the key");
    assert_eq!(
        store.load(&key).await.expect("load"),
        Some(data.clone()),
        "{name}: load after create"
    );
    assert!(store.exists(&key).await.expect("exists"), "{name}: exists");

    // create never overwrites
    let other = dict(json!({"b": 2}));
    assert!(
        matches!(
            store.create(&key, record(&other)).await,
            Err(StoreError::KeyExists)
        ),
        "{name}: create on an existing key reports KeyExists"
    );
    assert_eq!(
        store.load(&key).await.expect("load"),
        Some(data.clone()),
        "{name}: create did not overwrite"
    );

    // update: in place, never creating
    assert!(
        store.update(&key, record(&other)).await.expect("update"),
        "{name}: update of an existing record reports true"
    );
    assert_eq!(
        store.load(&key).await.expect("load"),
        Some(other.clone()),
        "{name}: update replaces"
    );
    let absent = new_session_key();
    assert!(
        !store.update(&absent, record(&other)).await.expect("update"),
        "{name}: update of a missing record reports false"
    );
    assert!(
        !store.exists(&absent).await.expect("exists"),
        "{name}: update of a missing record created nothing"
    );
    assert!(
        store.update(&key, record(&data)).await.expect("update"),
        "{name}: update back"
    );

    // save
    store
        .save(&key, record(&other), true)
        .await
        .expect("save existing");
    assert_eq!(
        store.load(&key).await.expect("load"),
        Some(other.clone()),
        "{name}: save replaces"
    );
    let missing = new_session_key();
    assert!(
        matches!(
            store.save(&missing, record(&other), true).await,
            Err(StoreError::RecordMissing)
        ),
        "{name}: save(must_exist) of a missing record reports RecordMissing"
    );
    assert!(
        !store.exists(&missing).await.expect("exists"),
        "{name}: failed save created nothing"
    );
    store
        .save(&missing, record(&other), false)
        .await
        .expect("save without must_exist");
    assert!(
        store.exists(&missing).await.expect("exists"),
        "{name}: save without must_exist writes"
    );
    store
        .save(&missing, record(&data), false)
        .await
        .expect("save without must_exist over an existing record");
    assert_eq!(
        store.load(&missing).await.expect("load"),
        Some(data.clone()),
        "{name}: save without must_exist replaces an existing record"
    );

    // delete
    store.delete(&missing).await.expect("delete");
    store.delete(&missing).await.expect("delete twice is fine");
    assert_eq!(
        store.load(&missing).await.expect("load"),
        None,
        "{name}: deleted"
    );
    assert!(
        !store.exists(&missing).await.expect("exists"),
        "{name}: deleted"
    );

    // unknown and invalid keys
    assert_eq!(
        store.load(&new_session_key()).await.expect("load"),
        None,
        "{name}: unknown key"
    );

    // expiry
    let expired_key = new_session_key();
    let old = SessionRecord {
        data: &data,
        expire_date: Utc::now() - TimeDelta::seconds(10),
    };
    store
        .create(&expired_key, old)
        .await
        .expect("create expired");
    assert_eq!(
        store.load(&expired_key).await.expect("load"),
        None,
        "{name}: expired record does not load"
    );
    // A store that expires records by itself (Redis) holds nothing left to clear.
    let expired_still_stored = store.exists(&expired_key).await.expect("exists");
    let cleared = store.clear_expired().await.expect("clear_expired");
    assert!(
        cleared >= 1 || !expired_still_stored,
        "{name}: clear_expired removed the expired record"
    );
    assert!(
        !store.exists(&expired_key).await.expect("exists"),
        "{name}: expired record gone"
    );
    assert_eq!(
        store.load(&key).await.expect("load"),
        Some(other.clone()),
        "{name}: live record kept"
    );

    // unicode
    let ukey = new_session_key();
    let udata = dict(
        json!({"naïve ключ 🐍": "Jörg ’ 日本 \u{0} \u{7f} \"quoted\" \\", "emoji": ["🐍", "é"]}),
    );
    store
        .create(&ukey, record(&udata))
        .await
        .expect("create unicode");
    assert_eq!(
        store.load(&ukey).await.expect("load"),
        Some(udata),
        "{name}: unicode round trip"
    );

    // a large session
    let big = dict(
        json!({"blob": crate::crypto::get_random_string(1 << 20, crate::crypto::RANDOM_STRING_CHARS)}),
    );
    let bkey = new_session_key();
    match (limit, store.create(&bkey, record(&big)).await) {
        (SizeLimit::Unlimited, Ok(_)) => {
            assert_eq!(
                store.load(&bkey).await.expect("load"),
                Some(big),
                "{name}: 1 MiB session"
            )
        }
        (SizeLimit::Bytes(l), Err(StoreError::TooLarge { limit, .. })) => {
            assert_eq!(l, limit, "{name}: the configured limit");
            assert!(
                !store.exists(&bkey).await.expect("exists"),
                "{name}: refused session not stored"
            );
        }
        (l, other) => panic!("{name}: large session with {l:?} gave {other:?}"),
    }

    concurrent_creates(store.clone()).await;
    concurrent_saves(store).await;
}

/// 100 tasks create sessions, all drawing keys from the same short list, so that most of
/// their first attempts collide; every task must end with its own data under its own key.
async fn concurrent_creates(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let keys: Arc<Vec<String>> = Arc::new((0..130).map(|_| new_session_key()).collect());
    let mut tasks = Vec::new();
    for task in 0..100usize {
        let (store, keys) = (store.clone(), keys.clone());
        tasks.push(tokio::spawn(async move {
            let data = dict(json!({"task": task}));
            for attempt in 0..keys.len() {
                // The first ten attempts all aim at the same ten keys; then each task walks
                // the rest of the list from its own offset, so every task meets every key.
                let key = if attempt < 10 {
                    &keys[(task * 7 + attempt) % 10]
                } else {
                    &keys[10 + (task + attempt) % (keys.len() - 10)]
                };
                match store.create(key, record(&data)).await {
                    Ok(k) => return Some((k, task)),
                    Err(StoreError::KeyExists) => continue,
                    Err(e) => panic!("{name}: create failed: {e}"),
                }
            }
            None
        }));
    }
    let mut won = std::collections::BTreeMap::new();
    for t in tasks {
        let (key, task) = t
            .await
            .expect("task")
            .unwrap_or_else(|| panic!("{name}: a task found no free key"));
        assert!(
            won.insert(key, task).is_none(),
            "{name}: two tasks own one key"
        );
    }
    assert_eq!(won.len(), 100, "{name}: 100 sessions created");
    for (key, task) in won {
        assert_eq!(
            store.load(&key).await.expect("load"),
            Some(dict(json!({"task": task}))),
            "{name}: the owner's data survived under {key}"
        );
    }
}

/// 40 tasks save different whole dicts to one session; the record must end as one of them.
async fn concurrent_saves(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let key = new_session_key();
    store
        .create(&key, record(&SessionData::new()))
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for task in 0..40usize {
        let (store, key) = (store.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let data: SessionData = (0..20).map(|i| (format!("k{i}"), json!(task))).collect();
            store.save(&key, record(&data), true).await.expect("save");
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let end = store
        .load(&key)
        .await
        .expect("load")
        .expect("record still there");
    let values: BTreeSet<String> = end.values().map(Value::to_string).collect();
    assert_eq!(end.len(), 20, "{name}: whole dict");
    assert_eq!(
        values.len(),
        1,
        "{name}: one writer's dict, not a mix: {end:?}"
    );
}

/// Every behaviour of [`AuthStore`]. `store` must be empty.
pub async fn auth_store_suite(store: Arc<dyn AuthStore>) {
    let name = store.name();
    let alice = store
        .create_user(NewUser {
            first_name: "Alice".into(),
            extra: dict(json!({"bio": "Jörg's friend 🐍"})),
            ..NewUser::new("alice", "Alice@Example.com", "md5$salt$hash")
        })
        .await
        .expect("create alice");
    assert!(
        alice.is_active && !alice.is_staff && !alice.is_superuser,
        "{name}: flags"
    );
    assert!(
        matches!(
            store.create_user(NewUser::new("alice", "other@example.com", "x")).await,
            Err(AuthStoreError::DuplicateUsername(u)) if u == "alice"
        ),
        "{name}: duplicate username is typed"
    );

    let got = store
        .get_user(&alice.id)
        .await
        .expect("get")
        .expect("alice by id");
    assert_eq!(got.username, "alice");
    assert_eq!(got.first_name, "Alice");
    assert_eq!(
        got.extra.get("bio"),
        Some(&json!("Jörg's friend 🐍")),
        "{name}: extra fields"
    );
    assert_eq!(
        store
            .get_user_by_username("alice")
            .await
            .expect("get")
            .map(|u| u.id),
        Some(alice.id.clone())
    );
    assert!(
        store
            .get_user_by_username("Alice")
            .await
            .expect("get")
            .is_none(),
        "{name}: exact username match"
    );
    let by_mail = store
        .get_users_by_email("alice@example.COM")
        .await
        .expect("email");
    assert_eq!(
        by_mail.len(),
        1,
        "{name}: e-mail lookup is case-insensitive"
    );

    // Hostile usernames are data, never query syntax.
    assert!(
        store
            .get_user_by_username("alice\0")
            .await
            .expect("lookup")
            .is_none(),
        "{name}: NUL lookup"
    );
    assert!(
        matches!(
            store.create_user(NewUser::new("nul\0name", "", "x")).await,
            Err(AuthStoreError::Invalid(_))
        ),
        "{name}: NUL in a username is refused with a typed error (PostgreSQL cannot store it)"
    );
    for hostile in [
        "' OR '1'='1",
        "{\"$ne\": \"\"}",
        "$where",
        "ünï 🐍 \"quoted\"",
        "a;DROP TABLE auth_user;--",
    ] {
        assert!(
            store
                .get_user_by_username(hostile)
                .await
                .expect("lookup")
                .is_none(),
            "{name}: {hostile:?}"
        );
        let u = store
            .create_user(NewUser::new(hostile, "", "x"))
            .await
            .expect("create hostile-looking name");
        assert_eq!(
            store
                .get_user_by_username(hostile)
                .await
                .expect("get")
                .map(|x| x.id),
            Some(u.id.clone())
        );
        assert!(store.delete_user(&u.id).await.expect("delete"));
    }

    // updates
    let login = Utc::now();
    store
        .update_user(
            &alice.id,
            &[
                UserField::Email("a@example.org".into()),
                UserField::IsStaff(true),
            ],
        )
        .await
        .expect("update");
    store
        .set_password(&alice.id, "pbkdf2_sha256$1$s$x")
        .await
        .expect("set_password");
    store
        .update_last_login(&alice.id, login)
        .await
        .expect("last_login");
    let got = store
        .get_user(&alice.id)
        .await
        .expect("get")
        .expect("alice");
    assert_eq!(
        (got.email.as_str(), got.is_staff, got.password.as_str()),
        ("a@example.org", true, "pbkdf2_sha256$1$s$x")
    );
    let stored_login = got.last_login.expect("last_login set");
    assert!(
        (stored_login - login).num_milliseconds().abs() <= 1,
        "{name}: last_login within 1 ms"
    );
    let ghost = match alice.id {
        Id::Int(_) => Id::Int(987_654_321),
        Id::Str(_) => Id::Str("ghost".into()),
        Id::ObjectId(_) => Id::ObjectId(crate::auth::ObjectId([7; 12])),
    };
    assert!(
        matches!(
            store
                .update_user(&ghost, &[UserField::IsActive(false)])
                .await,
            Err(AuthStoreError::NotFound(_))
        ),
        "{name}: update of a missing user"
    );
    assert!(store.get_user(&ghost).await.expect("get").is_none());

    // permissions and groups
    let defaults = create_default_permissions(store.as_ref())
        .await
        .expect("default permissions");
    assert_eq!(defaults.len(), 20, "{name}: 5 models × 4 actions");
    let again = create_default_permissions(store.as_ref())
        .await
        .expect("idempotent");
    assert_eq!(
        defaults.iter().map(|p| &p.id).collect::<Vec<_>>(),
        again.iter().map(|p| &p.id).collect::<Vec<_>>(),
        "{name}: creating default permissions twice changes nothing"
    );
    assert_eq!(store.list_permissions().await.expect("list").len(), 20);
    let add_user = store
        .get_permission("auth", "add_user")
        .await
        .expect("get")
        .expect("auth.add_user");
    assert_eq!(add_user.name, "Can add user");
    let blog = store
        .get_or_create_content_type("blog", "post")
        .await
        .expect("ct");
    let publish = store
        .get_or_create_permission(&blog, "publish_post", "Can publish")
        .await
        .expect("perm");

    let editors = store.create_group("editors").await.expect("group");
    assert!(
        matches!(
            store.create_group("editors").await,
            Err(AuthStoreError::DuplicateGroup(_))
        ),
        "{name}: duplicate group"
    );
    store
        .grant_group_permission(&editors.id, &publish.id)
        .await
        .expect("grant group");
    store
        .grant_group_permission(&editors.id, &publish.id)
        .await
        .expect("grant twice");
    store
        .grant_user_permission(&alice.id, &add_user.id)
        .await
        .expect("grant user");
    store
        .add_user_to_group(&alice.id, &editors.id)
        .await
        .expect("add to group");
    store
        .add_user_to_group(&alice.id, &editors.id)
        .await
        .expect("add twice");
    assert_eq!(store.user_groups(&alice.id).await.expect("groups").len(), 1);

    let user_perms = store
        .get_user_permissions(&alice.id)
        .await
        .expect("user perms");
    let group_perms = store
        .get_group_permissions(&alice.id)
        .await
        .expect("group perms");
    let all = store
        .get_all_permissions(&alice.id)
        .await
        .expect("all perms");
    assert_eq!(user_perms, BTreeSet::from(["auth.add_user".to_owned()]));
    assert_eq!(
        group_perms,
        BTreeSet::from(["blog.publish_post".to_owned()])
    );
    assert_eq!(
        all,
        BTreeSet::from(["auth.add_user".to_owned(), "blog.publish_post".to_owned()]),
        "{name}: user ∪ group"
    );
    assert_eq!(store.all_permission_strings().await.expect("all").len(), 21);

    store
        .remove_user_from_group(&alice.id, &editors.id)
        .await
        .expect("remove");
    assert!(
        store
            .get_group_permissions(&alice.id)
            .await
            .expect("perms")
            .is_empty()
    );
    store
        .add_user_to_group(&alice.id, &editors.id)
        .await
        .expect("re-add");
    store
        .revoke_group_permission(&editors.id, &publish.id)
        .await
        .expect("revoke");
    assert!(
        store
            .get_group_permissions(&alice.id)
            .await
            .expect("perms")
            .is_empty()
    );
    store
        .revoke_user_permission(&alice.id, &add_user.id)
        .await
        .expect("revoke user");
    assert!(
        store
            .get_all_permissions(&alice.id)
            .await
            .expect("perms")
            .is_empty()
    );

    // listing and deletion
    let bob = store
        .create_user(NewUser::new("bob", "bob@example.com", "x"))
        .await
        .expect("bob");
    let users = store.list_users(0, 10).await.expect("list");
    assert_eq!(
        users
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["alice", "bob"],
        "{name}: by id"
    );
    assert_eq!(store.list_users(1, 10).await.expect("page").len(), 1);
    store
        .grant_user_permission(&bob.id, &add_user.id)
        .await
        .expect("grant");
    store
        .add_user_to_group(&bob.id, &editors.id)
        .await
        .expect("group");
    assert!(store.delete_user(&bob.id).await.expect("delete"));
    assert!(!store.delete_user(&bob.id).await.expect("delete again"));
    assert!(store.get_user(&bob.id).await.expect("get").is_none());
    assert_eq!(store.list_groups().await.expect("groups").len(), 1);
    assert!(store.delete_group(&editors.id).await.expect("delete group"));
    assert!(
        store
            .user_groups(&alice.id)
            .await
            .expect("groups")
            .is_empty(),
        "{name}: links go with the group"
    );
    assert!(
        store
            .get_group_by_name("editors")
            .await
            .expect("get")
            .is_none()
    );
}

/// Every behaviour of [`ThrottleStore`](crate::auth::throttle::ThrottleStore): counting,
/// expiry, reset, independence of keys, and above all that concurrent increments never lose
/// or repeat a count. Keys are random, so the store may be shared with other data.
pub async fn throttle_store_suite(store: Arc<dyn crate::auth::throttle::ThrottleStore>) {
    use crate::auth::throttle::ThrottleKey;
    use std::time::Duration;
    let name = store.name();
    let run = new_session_key();
    let key = |k: &str| ThrottleKey::new("conformance", &[&run, k]);
    let minute = Duration::from_secs(60);

    // counting
    let a = key("a");
    assert_eq!(store.get(&a).await.expect("get"), None, "{name}: missing");
    for n in 1..=3 {
        let c = store.increment(&a, minute).await.expect("increment");
        assert_eq!(c.count, n, "{name}: increment {n}");
        assert!(
            c.expires_in <= minute && c.expires_in > Duration::from_secs(50),
            "{name}: window {:?}",
            c.expires_in
        );
    }
    let got = store.get(&a).await.expect("get").expect("counted");
    assert_eq!(got.count, 3, "{name}: get after three");
    assert!(got.expires_in <= minute, "{name}: time left");

    // keys are independent
    let b = key("b");
    assert_eq!(store.increment(&b, minute).await.expect("incr").count, 1);
    assert_eq!(store.get(&a).await.expect("get").map(|c| c.count), Some(3));

    // reset
    store.reset(&a).await.expect("reset");
    store.reset(&a).await.expect("reset twice is fine");
    assert_eq!(store.get(&a).await.expect("get"), None, "{name}: reset");
    assert_eq!(
        store.increment(&a, minute).await.expect("incr").count,
        1,
        "{name}: counting starts again after a reset"
    );

    // expiry: a counter whose window passed starts again at 1, and each count renews it
    let short = Duration::from_millis(1500);
    let e = key("expiring");
    store.increment(&e, short).await.expect("incr");
    store.increment(&e, short).await.expect("incr");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        store.increment(&e, short).await.expect("incr").count,
        3,
        "{name}: still in the window"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        store.get(&e).await.expect("get").map(|c| c.count),
        Some(3),
        "{name}: every count renews the window"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        store.get(&e).await.expect("get"),
        None,
        "{name}: expired counter is gone"
    );
    assert_eq!(
        store.increment(&e, short).await.expect("incr").count,
        1,
        "{name}: an expired counter starts again"
    );
    let gone = key("gone");
    store
        .increment(&gone, Duration::from_millis(100))
        .await
        .expect("incr");
    tokio::time::sleep(Duration::from_millis(300)).await;
    store.clear_expired().await.expect("clear_expired");
    assert_eq!(
        store.get(&gone).await.expect("get"),
        None,
        "{name}: cleared"
    );
    assert_eq!(
        store.get(&b).await.expect("get").map(|c| c.count),
        Some(1),
        "{name}: clear_expired keeps live counters"
    );

    // concurrency: 50 parallel increments see 1..=50, each exactly once
    let c = key("concurrent");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            let c = c.clone();
            tokio::spawn(async move { store.increment(&c, minute).await.expect("incr").count })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for t in tasks {
        seen.insert(t.await.expect("task"));
    }
    assert_eq!(
        seen,
        (1..=50).collect::<BTreeSet<u64>>(),
        "{name}: concurrent increments are atomic"
    );
    for k in [&a, &b, &e, &c] {
        store.reset(k).await.expect("reset");
    }
}
