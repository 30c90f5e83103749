//! Outages: a server that is down or stalled gives a typed error within the configured
//! timeout, never a hang, and the same store recovers by itself when the server returns.
//!
//! The restart test runs its own test server (the mongoeco stand-in of `with-mongo.sh`, kept
//! in a SQLite file so that its data survives the restart) on a free port, and stops and
//! starts it in the middle of the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{TimeDelta, Utc};
use sesame_core::auth::store::{AuthStoreError, UserStore};
use sesame_core::auth::{IdKind, NewUser};
use sesame_core::session::{
    Session, SessionCodec, SessionConfig, SessionData, SessionRecord, SessionStore, StoreError,
    new_session_key,
};
use sesame_mongodb::{MongoAuthStore, MongoConfig, MongoSessionStore, migrate};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const TIMEOUT: Duration = Duration::from_secs(2);

/// Where `with-mongo.sh` and `mongoeco_serve.py` are (`.ci/run` exports it).
fn tools_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SESAME_MONGO_TOOLS").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/mongo")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("mongoeco_serve.py").is_file())
}

/// The stand-in's Python, from the venv `with-mongo.sh` creates.
fn venv_python() -> Option<PathBuf> {
    let venv = std::env::var_os("MONGO_TEST_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(cache.join("sesame-mongoeco-venv"))
        })?;
    let python = venv.join("bin/python");
    python.is_file().then_some(python)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct TestServer {
    python: PathBuf,
    script: PathBuf,
    port: u16,
    data: PathBuf,
    child: Option<Child>,
}

impl TestServer {
    async fn start(&mut self) {
        let child = Command::new(&self.python)
            .arg(&self.script)
            .args(["--port", &self.port.to_string(), "--sqlite"])
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the test server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
            child.wait().await.unwrap();
        }
    }
}

fn record(data: &SessionData) -> SessionRecord<'_> {
    SessionRecord {
        data,
        expire_date: Utc::now() + TimeDelta::hours(1),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_recovers_after_the_server_restarts() {
    // Gate on MONGODB_URI like every Mongo test, so that the run says SKIPPED consistently.
    if common::base_uri().is_none() {
        return;
    }
    let (Some(dir), Some(python)) = (tools_dir(), venv_python()) else {
        common::skip(
            "the mongoeco stand-in (SESAME_MONGO_TOOLS and its venv) is not available to restart",
        );
        return;
    };
    let data = std::env::temp_dir().join(format!("{}.sqlite3", common::unique_name()));
    let mut server = TestServer {
        python,
        script: dir.join("mongoeco_serve.py"),
        port: free_port(),
        data: data.clone(),
        child: None,
    };
    server.start().await;
    let url = format!(
        "mongodb://127.0.0.1:{}/outage?directConnection=true",
        server.port
    );
    let db = MongoConfig::new(&url)
        .with_user_id(IdKind::ObjectId)
        .with_timeout(TIMEOUT)
        .connect()
        .await
        .unwrap();
    migrate(&db).await.unwrap();
    let sessions = MongoSessionStore::new(db.clone(), SessionCodec::new("k"));
    let users = MongoAuthStore::new(db.clone());
    let mut dict = SessionData::new();
    dict.insert("a".into(), 1.into());
    let before = new_session_key();
    sessions.create(&before, record(&dict)).await.unwrap();
    users
        .create_user(NewUser::new("alice", "", "x"))
        .await
        .unwrap();

    server.stop().await;
    for _ in 0..3 {
        let started = Instant::now();
        let err = sessions.load(&before).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Unavailable(_)),
            "typed outage error: {err}"
        );
        assert!(
            started.elapsed() < TIMEOUT + Duration::from_secs(2),
            "no hang: {:?}",
            started.elapsed()
        );
        let err = users.get_user_by_username("alice").await.unwrap_err();
        assert!(matches!(err, AuthStoreError::Unavailable(_)), "{err}");
    }

    server.start().await;
    // The same handles, no reconnect by the caller: the driver finds the server again.
    let deadline = Instant::now() + Duration::from_secs(30);
    let loaded = loop {
        match sessions.load(&before).await {
            Ok(found) => break found,
            Err(e) => {
                assert!(Instant::now() < deadline, "did not recover: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert_eq!(
        loaded,
        Some(dict.clone()),
        "the data written before the outage is there"
    );
    assert!(users.get_user_by_username("alice").await.unwrap().is_some());
    let after = new_session_key();
    sessions.create(&after, record(&dict)).await.unwrap();
    assert!(sessions.exists(&after).await.unwrap());
    server.stop().await;
    let _ = std::fs::remove_file(&data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_a_typed_timeout() {
    // A socket that accepts connections and never says a word: the driver's handshake and
    // every operation would wait forever without a timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let url = format!("mongodb://127.0.0.1:{port}/stalled?directConnection=true");
    let db = MongoConfig::new(&url)
        .with_timeout(TIMEOUT)
        .connect()
        .await
        .unwrap();
    let sessions = MongoSessionStore::new(db.clone(), SessionCodec::new("k"));
    let started = Instant::now();
    let err = sessions.load(&new_session_key()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(
        started.elapsed() < TIMEOUT + Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    assert!(db.ping().await.is_err());
    assert!(started.elapsed() < TIMEOUT + Duration::from_secs(2));
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_on_a_stopped_server_answers_an_error_and_leaves_the_session_valid() {
    // The session is one document, deleted in one step: when the server is down the logout
    // fails as a whole, and must say so without forgetting the key (no cookie deleted on the
    // 503 while the record still opens the session for whoever else holds the key).
    if common::base_uri().is_none() {
        return;
    }
    let (Some(dir), Some(python)) = (tools_dir(), venv_python()) else {
        common::skip(
            "the mongoeco stand-in (SESAME_MONGO_TOOLS and its venv) is not available to restart",
        );
        return;
    };
    let data = std::env::temp_dir().join(format!("{}.sqlite3", common::unique_name()));
    let mut server = TestServer {
        python,
        script: dir.join("mongoeco_serve.py"),
        port: free_port(),
        data: data.clone(),
        child: None,
    };
    server.start().await;
    let url = format!(
        "mongodb://127.0.0.1:{}/logout?directConnection=true",
        server.port
    );
    let db = MongoConfig::new(&url)
        .with_timeout(TIMEOUT)
        .connect()
        .await
        .unwrap();
    migrate(&db).await.unwrap();
    let store = Arc::new(MongoSessionStore::new(db.clone(), SessionCodec::new("k")));
    let mut s = Session::new(store.clone(), SessionConfig::default(), None);
    s.insert("_auth_user_id", "1".into()).await.unwrap();
    s.save().await.unwrap();
    let key = s.session_key().unwrap().to_owned();

    let mut logout = Session::new(store.clone(), SessionConfig::default(), Some(&key));
    assert!(logout.load().await.unwrap().contains_key("_auth_user_id"));
    server.stop().await;
    let err = logout.flush().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert_eq!(logout.session_key(), Some(key.as_str()), "the key is kept");
    assert!(
        !logout.is_empty() && !logout.modified(),
        "the session is untouched"
    );

    server.start().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let loaded = loop {
        match store.load(&key).await {
            Ok(found) => break found,
            Err(e) => {
                assert!(Instant::now() < deadline, "did not recover: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert!(loaded.is_some(), "the failed logout changed nothing");
    // Once the server answers, the same logout is done and final.
    logout.flush().await.unwrap();
    assert_eq!(store.load(&key).await.unwrap(), None);
    server.stop().await;
    let _ = std::fs::remove_file(&data);
}
