//! Issue 3's SQL measurements, in one run per database:
//! - the p50/p99 latency of loading a session and its user in one round trip (the join through
//!   `sesame_session_user`) against the two-query way (session, then user);
//! - `clearsessions` throughput (rows deleted per second, in batches).
//!
//! With 1,000,000 sessions and 100,000 users by default (`SESAME_BENCH_SESSIONS`,
//! `SESAME_BENCH_USERS`), on SQLite (a temporary file) and on PostgreSQL
//! (`SESAME_BENCH_POSTGRES_URL`, default the machine's server; a fresh database is created and
//! dropped). Run: `cargo bench -p sesame-bench --bench sql`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{TimeDelta, Utc};
use serde_json::json;
use sesame_core::auth::Id;
use sesame_core::auth::store::UserStore;
use sesame_core::session::SessionCodec;
use sesame_sql::{Backend, Db, PoolSettings, SqlAuthStore, SqlSessionStore, migrate};
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ts(backend: Backend, dt: chrono::DateTime<Utc>) -> String {
    match backend {
        Backend::Postgres => format!("'{}'", dt.format("%Y-%m-%d %H:%M:%S%.6f+00")),
        _ => format!("'{}'", dt.format("%Y-%m-%d %H:%M:%S%.6f")),
    }
}

async fn fill(db: &Db, users: usize, sessions: usize, codec: &SessionCodec) -> Vec<String> {
    let backend = db.backend();
    let t0 = Instant::now();
    let now = Utc::now();
    let pw =
        "pbkdf2_sha256$1000000$benchsaltbenchsaltbe$3L0Ly7Yt8D3x2o2yYgpZSXv4cdGkHkCw0eYgF1XU0u8=";
    for chunk in (0..users).collect::<Vec<_>>().chunks(1000) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|i| {
                format!(
                    "('{pw}', NULL, {f}, 'user{i}', '', '', 'user{i}@example.com', {f}, {t}, {})",
                    ts(backend, now),
                    f = if backend == Backend::Postgres {
                        "false"
                    } else {
                        "0"
                    },
                    t = if backend == Backend::Postgres {
                        "true"
                    } else {
                        "1"
                    },
                )
            })
            .collect();
        db.execute_raw(&format!(
            "INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) VALUES {}",
            rows.join(", ")
        ))
        .await
        .unwrap();
    }
    eprintln!("  {users} users in {:.1?}", t0.elapsed());
    let t0 = Instant::now();
    let mut live_keys = Vec::new();
    let live_until = ts(backend, now + TimeDelta::days(14));
    let dead_until = ts(backend, now - TimeDelta::days(1));
    for chunk in (0..sessions).collect::<Vec<_>>().chunks(1000) {
        let mut rows = Vec::with_capacity(chunk.len());
        let mut index = Vec::with_capacity(chunk.len());
        for &i in chunk {
            let user = i % users + 1;
            let key = format!("bench{i:027}");
            let data = json!({
                "_auth_user_id": user.to_string(),
                "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                "_auth_user_hash": "0".repeat(64),
            });
            let encoded = codec.encode(data.as_object().unwrap());
            // Half the sessions are expired, for clearsessions.
            let live = i % 2 == 0;
            if live && live_keys.len() < 20_000 {
                live_keys.push(key.clone());
            }
            rows.push(format!(
                "('{key}', '{encoded}', {})",
                if live { &live_until } else { &dead_until }
            ));
            index.push(format!("('{key}', {user})"));
        }
        db.execute_raw(&format!(
            "INSERT INTO django_session (session_key, session_data, expire_date) VALUES {}",
            rows.join(", ")
        ))
        .await
        .unwrap();
        db.execute_raw(&format!(
            "INSERT INTO sesame_session_user (session_key, user_id) VALUES {}",
            index.join(", ")
        ))
        .await
        .unwrap();
    }
    eprintln!("  {sessions} sessions in {:.1?}", t0.elapsed());
    if backend == Backend::Postgres {
        db.execute_raw("ANALYZE").await.unwrap();
    }
    live_keys
}

async fn measure(name: &str, db: Db, users: usize, sessions: usize) {
    eprintln!("{name}: filling");
    migrate(&db).await.unwrap();
    let codec = SessionCodec::new("bench-secret");
    let keys = fill(&db, users, sessions, &codec).await;
    let store = SqlSessionStore::new(db.clone(), codec);
    let auth = SqlAuthStore::new(db.clone()).await.unwrap();
    assert!(auth.get_user(&Id::Int(1)).await.unwrap().is_some());

    // Warm up, then interleave the two ways over the same random keys.
    for k in keys.iter().take(500) {
        auth.load_session_with_user(&store, k)
            .await
            .unwrap()
            .unwrap();
        auth.load_then_user(&store, k).await.unwrap().unwrap();
    }
    let mut join = Vec::new();
    let mut two = Vec::new();
    let mut state = 0x2545F4914F6CDD1Du64;
    for _ in 0..keys.len().min(10_000) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let k = &keys[(state % keys.len() as u64) as usize];
        let t = Instant::now();
        let (_, u) = auth
            .load_session_with_user(&store, k)
            .await
            .unwrap()
            .unwrap();
        join.push(t.elapsed());
        assert!(u.is_some());
        let t = Instant::now();
        let (_, u) = auth.load_then_user(&store, k).await.unwrap().unwrap();
        two.push(t.elapsed());
        assert!(u.is_some());
    }
    join.sort();
    two.sort();
    let (j50, j99, t50, t99) = (
        percentile(&join, 0.5),
        percentile(&join, 0.99),
        percentile(&two, 0.5),
        percentile(&two, 0.99),
    );
    println!(
        "{name:<10} session+user  join p50 {:>8.1} µs  p99 {:>8.1} µs | two queries p50 {:>8.1} µs  p99 {:>8.1} µs | join/two p50 {:.2}",
        j50.as_secs_f64() * 1e6,
        j99.as_secs_f64() * 1e6,
        t50.as_secs_f64() * 1e6,
        t99.as_secs_f64() * 1e6,
        j50.as_secs_f64() / t50.as_secs_f64()
    );

    let expired = store.count_expired().await.unwrap();
    let t = Instant::now();
    let cleared = store.clear_expired_with_progress(&|_| {}).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(cleared, expired);
    println!(
        "{name:<10} clearsessions {cleared} rows in {secs:.2} s = {:.0} rows/s (batches of {})",
        cleared as f64 / secs,
        sesame_sql::CLEAR_BATCH
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let users = env_usize("SESAME_BENCH_USERS", 100_000);
    let sessions = env_usize("SESAME_BENCH_SESSIONS", 1_000_000);
    println!(
        "sql bench: {users} users, {sessions} sessions (half expired), 10,000 timed loads each way"
    );

    let path = std::env::temp_dir().join(format!("sesame-bench-{}.sqlite3", std::process::id()));
    let sqlite = Db::connect(
        &format!("sqlite://{}", path.display()),
        PoolSettings::default(),
    )
    .await
    .unwrap();
    measure("sqlite", sqlite.clone(), users, sessions).await;
    sqlite.close().await;
    for s in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{s}", path.display()));
    }

    let admin_url = std::env::var("SESAME_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    match Db::connect(&admin_url, PoolSettings::default()).await {
        Err(e) => println!("postgres   SKIPPED: {e}"),
        Ok(admin) => {
            let name = format!("sesame_bench_{}", std::process::id());
            admin
                .execute_raw(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
            let db = Db::connect(&url, PoolSettings::default()).await.unwrap();
            measure("postgres", db.clone(), users, sessions).await;
            db.close().await;
            admin
                .execute_raw(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .await
                .unwrap();
        }
    }
}
