use super::*;
use serde_json::json;

fn memory() -> Arc<MemorySessionStore> {
    Arc::new(MemorySessionStore::new(SessionCodec::new("secret")))
}

fn session(store: &Arc<MemorySessionStore>, key: Option<&str>) -> Session {
    Session::new(store.clone(), SessionConfig::default(), key)
}

#[tokio::test]
async fn lazy_and_flags() {
    let store = memory();
    let mut s = session(&store, Some("abcdefghijklmnop"));
    assert!(!s.accessed() && !s.modified());
    assert!(store.is_empty());
    assert_eq!(s.get("x").await.unwrap(), None);
    assert!(s.accessed() && !s.modified());
    // An unknown key is dropped, never adopted.
    assert_eq!(s.session_key(), None);
    assert!(s.is_empty());
    s.insert("x", json!(1)).await.unwrap();
    assert!(s.modified());
    s.save().await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    assert_ne!(key, "abcdefghijklmnop");
    assert_eq!(key.len(), 32);

    let mut again = session(&store, Some(&key));
    assert_eq!(again.get("x").await.unwrap(), Some(json!(1)));
    assert_eq!(again.remove("missing").await.unwrap(), None);
    assert!(!again.modified());
    assert_eq!(again.setdefault("x", json!(2)).await.unwrap(), json!(1));
    assert!(!again.modified());
    assert_eq!(again.setdefault("y", json!(2)).await.unwrap(), json!(2));
    assert!(again.modified());
}

#[tokio::test]
async fn invalid_cookie_keys_are_ignored() {
    let store = memory();
    for bad in [
        "",
        "short",
        "UPPERCASEKEYVALUE",
        "abcdefgh'; drop",
        &"a".repeat(41),
    ] {
        let s = session(&store, Some(bad));
        assert_eq!(s.session_key(), None, "{bad:?}");
        assert!(s.is_empty());
    }
}

#[tokio::test]
async fn flush_and_cycle() {
    let store = memory();
    let mut s = session(&store, None);
    s.insert("cart", json!([1, 2])).await.unwrap();
    s.save().await.unwrap();
    let first = s.session_key().unwrap().to_owned();
    s.cycle_key().await.unwrap();
    let second = s.session_key().unwrap().to_owned();
    assert_ne!(first, second);
    assert!(!store.exists(&first).await.unwrap());
    assert_eq!(
        session(&store, Some(&second)).get("cart").await.unwrap(),
        Some(json!([1, 2]))
    );

    s.flush().await.unwrap();
    assert_eq!(s.session_key(), None);
    assert!(s.is_empty());
    assert!(!store.exists(&second).await.unwrap());
}

#[tokio::test]
async fn save_of_vanished_record_is_reported() {
    let store = memory();
    let mut s = session(&store, None);
    s.insert("a", json!(1)).await.unwrap();
    s.save().await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    let mut other = session(&store, Some(&key));
    other.get("a").await.unwrap();
    store.delete(&key).await.unwrap();
    other.insert("b", json!(2)).await.unwrap();
    assert!(matches!(other.save().await, Err(StoreError::RecordMissing)));
}

#[tokio::test]
async fn save_every_request_keeps_data() {
    let store = memory();
    let mut s = session(&store, None);
    s.insert("a", json!(1)).await.unwrap();
    s.save().await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    let mut untouched = session(&store, Some(&key));
    untouched.save().await.unwrap();
    assert_eq!(
        session(&store, Some(&key)).get("a").await.unwrap(),
        Some(json!(1))
    );
}

#[tokio::test]
async fn expiry_and_test_cookie() {
    let store = memory();
    let mut s = session(&store, None);
    assert_eq!(s.get_expiry_age().await.unwrap(), 1_209_600);
    assert!(!s.get_expire_at_browser_close().await.unwrap());
    s.set_expiry(Expiry::BrowserClose).await.unwrap();
    assert!(s.get_expire_at_browser_close().await.unwrap());
    s.set_expiry(Expiry::Seconds(60)).await.unwrap();
    assert_eq!(s.get_expiry_age().await.unwrap(), 60);
    s.set_expiry(Expiry::Default).await.unwrap();
    assert!(!s.contains_key(EXPIRY_KEY).await.unwrap());
    s.set_expiry(Expiry::In(chrono::TimeDelta::seconds(3600)))
        .await
        .unwrap();
    let age = s.get_expiry_age().await.unwrap();
    assert!((3598..=3600).contains(&age), "{age}");

    assert!(!s.test_cookie_worked().await.unwrap());
    s.set_test_cookie().await.unwrap();
    assert!(s.test_cookie_worked().await.unwrap());
    s.delete_test_cookie().await.unwrap();
    assert!(!s.test_cookie_worked().await.unwrap());
}

#[tokio::test]
async fn expired_records_do_not_load_and_are_cleared() {
    let store = memory();
    let mut s = session(&store, None);
    s.set_expiry(Expiry::At(
        (Utc::now() - chrono::TimeDelta::seconds(5)).fixed_offset(),
    ))
    .await
    .unwrap();
    s.save().await.unwrap();
    let key = s.session_key().unwrap().to_owned();
    assert!(store.exists(&key).await.unwrap());
    assert_eq!(store.load(&key).await.unwrap(), None);
    assert_eq!(store.clear_expired().await.unwrap(), 1);
    assert!(!store.exists(&key).await.unwrap());
}

#[tokio::test]
async fn signed_cookie_engine() {
    let store: Arc<dyn SessionStore> =
        Arc::new(SignedCookieStore::new("secret", &[] as &[&str], 1_209_600));
    let mut s = Session::new(store.clone(), SessionConfig::default(), None);
    s.insert("foo", json!("bar")).await.unwrap();
    s.save().await.unwrap();
    let cookie = s.session_key().unwrap().to_owned();
    assert!(cookie.starts_with("eyJmb28iOiJiYXIifQ:"));
    let mut back = Session::new(store.clone(), SessionConfig::default(), Some(&cookie));
    assert_eq!(back.get("foo").await.unwrap(), Some(json!("bar")));

    // A forged cookie loads as empty and is re-issued as a signed empty session.
    let mut forged = Session::new(
        store.clone(),
        SessionConfig::default(),
        Some("eyJmb28iOiJiYXIifQ:1r31eq:AAAA"),
    );
    assert_eq!(forged.get("foo").await.unwrap(), None);
    assert!(forged.modified());
    forged.save().await.unwrap();
    assert!(forged.session_key().unwrap().starts_with("e30:"));

    // Too large for a cookie: a typed error, not a truncated cookie.
    let mut big = Session::new(store, SessionConfig::default(), None);
    let noise: String = crate::crypto::get_random_string(8000, crate::crypto::RANDOM_STRING_CHARS);
    big.insert("blob", json!(noise)).await.unwrap();
    assert!(matches!(big.save().await, Err(StoreError::TooLarge { .. })));
}

#[tokio::test]
async fn size_limit() {
    let store = Arc::new(MemorySessionStore::new(SessionCodec::new("secret")).with_max_size(100));
    let mut s = session(&store, None);
    s.insert("blob", json!("x".repeat(50))).await.unwrap();
    s.save().await.unwrap();
    let noise: String = crate::crypto::get_random_string(200, crate::crypto::RANDOM_STRING_CHARS);
    s.insert("blob", json!(noise)).await.unwrap();
    assert!(matches!(
        s.save().await,
        Err(StoreError::TooLarge { limit: 100, .. })
    ));
}
