//! Issue 7's Redis measurement: sessions loaded and saved per second through Sesame's Redis
//! store (`RedisSessionStore`: pickle, `GETRANGE` / `SET XX PX`, one multiplexed connection)
//! against `redis-benchmark -t get,set` (the C client, one connection per client, raw
//! commands) on the same server, with the same value size, the same number of requests and
//! the same number of concurrent clients; reported as ratios.
//!
//! The server is a redis-server of the bench's own (`/usr/bin/redis-server` on a free port,
//! no persistence), so the machine's shared server is never filled with benchmark keys;
//! `SESAME_BENCH_REDIS_URL` names another server instead (then the bench's keys are removed at
//! the end, and redis-benchmark's `key:*` keys are not). `SESAME_BENCH_REDIS_OPS` requests per
//! measurement (default 100,000), `SESAME_BENCH_REDIS_CLIENTS` the client counts
//! (default `1,50`). Run: `cargo bench -p sesame-bench --bench redis`. Without `--bench` (as
//! `cargo test --all-targets` runs it) it only checks, with 200 requests, that everything
//! works.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::{TimeDelta, Utc};
use sesame_bench::Inputs;
use sesame_core::session::{SessionRecord, SessionStore};
use sesame_redis::{RedisConfig, RedisSessionStore, pickle};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REDIS_SERVER: &str = "/usr/bin/redis-server";
const REDIS_BENCHMARK: &str = "/usr/bin/redis-benchmark";
/// Distinct sessions the requests are spread over (redis-benchmark's `-r`).
const KEYSPACE: usize = 10_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The bench's own redis-server, killed when dropped.
struct OwnServer(Child);

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server() -> (OwnServer, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(REDIS_SERVER)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {REDIS_SERVER}: {e}"));
    let server = OwnServer(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, port)
}

/// Other compilers or test runs beside the bench change its figures; say so.
fn busy_processes() -> Vec<String> {
    let mut seen = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            if let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) {
                let comm = comm.trim();
                if ["cargo", "rustc", "cc1", "ld"].contains(&comm) {
                    seen.push(comm.to_owned());
                }
            }
        }
    }
    // This bench was started by cargo itself.
    if let Some(i) = seen.iter().position(|c| c == "cargo") {
        seen.remove(i);
    }
    seen
}

/// `ops` requests over `clients` concurrent tasks; requests per second.
async fn run<F, Fut>(clients: usize, ops: usize, op: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let op = op.clone();
        let share = ops / clients + usize::from(c < ops % clients);
        tasks.push(tokio::spawn(async move {
            // A cheap, deterministic spread over the keyspace.
            let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (c as u64 + 1);
            for _ in 0..share {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                op((state % KEYSPACE as u64) as usize).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    ops as f64 / start.elapsed().as_secs_f64()
}

/// redis-benchmark's requests per second for SET and GET.
fn redis_benchmark(
    target: &[String],
    clients: usize,
    ops: usize,
    size: usize,
) -> Option<(f64, f64)> {
    let out = Command::new(REDIS_BENCHMARK)
        .args(target)
        .args(["-t", "set,get", "--csv"])
        .args(["-n", &ops.to_string(), "-c", &clients.to_string()])
        .args(["-d", &size.to_string(), "-r", &KEYSPACE.to_string()])
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            println!(
                "redis-benchmark failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return None;
        }
        Err(e) => {
            println!("redis-benchmark SKIPPED: cannot run {REDIS_BENCHMARK}: {e}");
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = |name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(&format!("\"{name}\"")))
            .and_then(|l| l.split(',').nth(1))
            .and_then(|v| v.trim_matches('"').parse().ok())
    };
    Some((rps("SET")?, rps("GET")?))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let ops = if measuring {
        env_usize("SESAME_BENCH_REDIS_OPS", 100_000)
    } else {
        200
    };
    let client_counts: Vec<usize> = std::env::var("SESAME_BENCH_REDIS_CLIENTS")
        .unwrap_or_else(|_| "1,50".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .filter(|&c| c > 0)
        .collect();

    let (_server, url, target) = match std::env::var("SESAME_BENCH_REDIS_URL") {
        Ok(url) => (None, url.clone(), vec!["-u".to_owned(), url]),
        Err(_) => {
            if !std::path::Path::new(REDIS_SERVER).exists() {
                println!("redis bench SKIPPED: no {REDIS_SERVER}");
                return;
            }
            let (server, port) = start_server();
            (
                Some(server),
                format!("redis://127.0.0.1:{port}"),
                vec!["-p".to_owned(), port.to_string()],
            )
        }
    };

    let inputs = Inputs::load().unwrap();
    let session = inputs.login_session.clone();
    let value_size = pickle::dumps(&session).unwrap().len();
    let prefix = format!("sesame_bench_{}", std::process::id());
    let config = RedisConfig::new(url.clone())
        .with_key_prefix(prefix)
        .with_timeouts(Duration::from_secs(5), Duration::from_secs(5));
    let store = Arc::new(RedisSessionStore::connect(config).unwrap());
    let keys: Arc<Vec<String>> = Arc::new((0..KEYSPACE).map(|i| format!("bench{i:027}")).collect());
    let expire_date = Utc::now() + TimeDelta::days(14);
    for k in keys.iter() {
        let record = SessionRecord {
            data: &session,
            expire_date,
        };
        store.save(k, record, false).await.unwrap();
    }
    println!(
        "redis bench: {ops} requests per measurement over {KEYSPACE} sessions, value {value_size} bytes \
         (the 3-key login session, pickled), server {url}"
    );
    let busy_before = busy_processes();

    let mut rows = Vec::new();
    for &clients in &client_counts {
        let (st, ks, data) = (store.clone(), keys.clone(), Arc::new(session.clone()));
        let saves = run(clients, ops, move |i| {
            let (st, ks, data) = (st.clone(), ks.clone(), data.clone());
            async move {
                let record = SessionRecord {
                    data: &data,
                    expire_date,
                };
                st.save(&ks[i], record, true).await.unwrap();
            }
        })
        .await;
        let (st, ks, data) = (store.clone(), keys.clone(), Arc::new(session.clone()));
        let loads = run(clients, ops, move |i| {
            let (st, ks, data) = (st.clone(), ks.clone(), data.clone());
            async move {
                let got = st.load(&ks[i]).await.unwrap();
                assert_eq!(got.as_ref(), Some(&*data));
            }
        })
        .await;
        let redis = redis_benchmark(&target, clients, ops, value_size);
        rows.push((clients, saves, loads, redis));
    }

    // The store's own CPU work per request, for reading the ratios.
    let rounds = if measuring { 200_000 } else { 100 };
    let encoded = pickle::dumps(&session).unwrap();
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(pickle::dumps(std::hint::black_box(&session)).unwrap());
    }
    let encode_ns = t.elapsed().as_nanos() as f64 / rounds as f64;
    let limits = pickle::Limits::default();
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(pickle::loads(std::hint::black_box(&encoded), &limits).unwrap());
    }
    let decode_ns = t.elapsed().as_nanos() as f64 / rounds as f64;
    println!("pickle of the login session: dumps {encode_ns:.0} ns, loads {decode_ns:.0} ns");

    let busy = [busy_before, busy_processes()].concat();
    if busy.is_empty() {
        println!("quiet: no other cargo/rustc/cc1/ld seen before or after measuring");
    } else {
        println!("NOISY: also running: {}", busy.join(", "));
    }
    println!();
    println!(
        "| clients | Sesame save/s | redis-benchmark SET/s | save/SET | Sesame load/s | redis-benchmark GET/s | load/GET |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (clients, saves, loads, redis) in rows {
        match redis {
            Some((set, get)) => println!(
                "| {clients} | {saves:.0} | {set:.0} | {:.2} | {loads:.0} | {get:.0} | {:.2} |",
                saves / set,
                loads / get
            ),
            None => println!("| {clients} | {saves:.0} | - | - | {loads:.0} | - | - |"),
        }
    }

    for k in keys.iter() {
        store.delete(k).await.unwrap();
    }
}
