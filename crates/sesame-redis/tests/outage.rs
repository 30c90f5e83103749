//! A Redis restart in the middle of traffic costs errors only while Redis is down: the store
//! reconnects by itself. The test runs its own redis-server (never the shared one), kills it
//! with SIGKILL while tasks keep loading and saving sessions, starts it again on the same
//! port, and requires that every operation succeeds again soon after, with no restart of the
//! store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{TimeDelta, Utc};
use serde_json::json;
use sesame_core::session::{SessionRecord, SessionStore, StoreError, new_session_key};
use sesame_redis::{RedisConfig, RedisSessionStore};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// A redis-server of this test's own, killed when dropped.
struct Server {
    child: Option<Child>,
}

impl Server {
    fn start(port: u16) -> Option<Self> {
        let child = Command::new(REDIS_SERVER)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                common::skip(&format!("cannot start {REDIS_SERVER}: {e}"));
                return None;
            }
        };
        let server = Self { child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    /// SIGKILL: a crash, not a shutdown.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    unavailable: AtomicU64,
    other: AtomicU64,
    slowest_ms: AtomicU64,
}

/// One operation of traffic: create a session, load it, save it.
async fn one_round(store: &RedisSessionStore) -> Result<(), StoreError> {
    let key = new_session_key();
    let data = json!({"_auth_user_id": "7", "n": 1})
        .as_object()
        .cloned()
        .unwrap();
    let record = SessionRecord {
        data: &data,
        expire_date: Utc::now() + TimeDelta::seconds(60),
    };
    store.create(&key, record).await?;
    match store.load(&key).await? {
        Some(d) if d == data => {}
        other => panic!("loaded {other:?}"),
    }
    store.save(&key, record, true).await.map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_recovers_by_itself_after_a_redis_restart() {
    let port = free_port();
    let Some(mut server) = Server::start(port) else {
        return;
    };
    let config = RedisConfig::new(format!("redis://127.0.0.1:{port}"))
        .with_key_prefix(common::unique_prefix())
        .with_timeouts(Duration::from_millis(250), Duration::from_millis(500));
    let store = Arc::new(RedisSessionStore::connect(config).unwrap());
    one_round(&store).await.expect("works before the outage");
    let survivor = new_session_key();
    let data = json!({"a": 1}).as_object().cloned().unwrap();
    let record = SessionRecord {
        data: &data,
        expire_date: Utc::now() + TimeDelta::seconds(600),
    };
    store.create(&survivor, record).await.unwrap();

    // Four tasks of traffic, counting outcomes, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (store, stop, tally) = (store.clone(), stop.clone(), tally.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                let outcome = one_round(&store).await;
                let ms = start.elapsed().as_millis() as u64;
                tally.slowest_ms.fetch_max(ms, Ordering::Relaxed);
                match outcome {
                    Ok(()) => tally.ok.fetch_add(1, Ordering::Relaxed),
                    Err(StoreError::Unavailable(_)) => {
                        tally.unavailable.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(e) => {
                        eprintln!("unexpected error: {e}");
                        tally.other.fetch_add(1, Ordering::Relaxed)
                    }
                };
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = tally.ok.load(Ordering::Relaxed);
    assert!(before > 0, "traffic flows");
    assert_eq!(tally.unavailable.load(Ordering::Relaxed), 0);

    // Down for two seconds: operations fail, quickly, as Unavailable (503).
    server.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let failed = tally.unavailable.load(Ordering::Relaxed);
    assert!(failed > 0, "operations fail while Redis is down");
    let ok_while_down = tally.ok.load(Ordering::Relaxed);
    tally.slowest_ms.store(0, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        tally.ok.load(Ordering::Relaxed),
        ok_while_down,
        "nothing succeeds while Redis is down"
    );
    let slowest = tally.slowest_ms.load(Ordering::Relaxed);
    assert!(
        slowest < 3_000,
        "a failing operation gives up within the timeouts ({slowest} ms)"
    );

    // Back up: the same store works again, by itself, within a few seconds.
    let restarted = Instant::now();
    let _server = Server::start(port).unwrap();
    let recovered = loop {
        let ok = tally.ok.load(Ordering::Relaxed);
        if ok > ok_while_down {
            break restarted.elapsed();
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "no success within 10 s of the restart"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // From then on, nothing fails.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let failed_after = tally.unavailable.load(Ordering::Relaxed);
    let ok_after = tally.ok.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        tally.unavailable.load(Ordering::Relaxed),
        failed_after,
        "no errors once recovered"
    );
    assert!(tally.ok.load(Ordering::Relaxed) > ok_after + 20);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(tally.other.load(Ordering::Relaxed), 0, "only Unavailable");
    eprintln!(
        "outage: {} ok, {} unavailable; first success {recovered:?} after the restart",
        tally.ok.load(Ordering::Relaxed),
        tally.unavailable.load(Ordering::Relaxed)
    );
    // The restarted server kept nothing (no persistence): the old session is simply gone.
    assert_eq!(store.load(&survivor).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_idle_costs_no_error_at_all() {
    let port = free_port();
    let Some(mut server) = Server::start(port) else {
        return;
    };
    let config = RedisConfig::new(format!("redis://127.0.0.1:{port}"))
        .with_key_prefix(common::unique_prefix())
        .with_timeouts(Duration::from_millis(250), Duration::from_millis(500));
    let store = RedisSessionStore::connect(config).unwrap();
    one_round(&store).await.unwrap();
    server.kill();
    let _server = Server::start(port).unwrap();
    // The connection the store holds is dead; the first command notices, reconnects and
    // retries once.
    for _ in 0..5 {
        one_round(&store)
            .await
            .expect("first operations after the restart");
    }
}
