//! Shared inputs for Sesame's benchmarks.
//!
//! The benches themselves live in `benches/` (`core.rs`: signing, sessions and every password
//! hasher through criterion; `pbkdf2.rs`: PBKDF2-HMAC-SHA256 at 1,000,000 iterations, Sesame
//! against `ring`, the pure-Rust crates, optionally `aws-lc-rs` and Python's `hashlib`, side by
//! side in one process). `bench/python_side.py` times Django's own functions on the same data,
//! which is read from `bench/inputs.json` by both sides; `bench/run-core.sh` runs everything
//! and prints the ratios. See `bench/README.md`.

use serde::Deserialize;
use serde_json::{Map, Value};

/// The text of `bench/inputs.json`, compiled in.
pub const INPUTS_JSON: &str = include_str!("../inputs.json");

/// The inputs every bench uses, on the Rust and on the Python side alike.
#[derive(Debug, Clone, Deserialize)]
pub struct Inputs {
    /// `SECRET_KEY` for signing and sessions.
    pub secret_key: String,
    /// The salt of the plain `Signer` benches.
    pub signer_salt: String,
    /// The string `Signer::sign` signs.
    pub signer_value: String,
    /// The object `dumps` / `loads` round-trip (a small dict).
    pub small_object: Value,
    /// A session right after `login()`: three keys.
    pub login_session: Map<String, Value>,
    /// A ~2 KB session (a shopping cart and a few more keys) that zlib compresses to a quarter.
    pub large_session: Map<String, Value>,
    /// The password every hasher hashes.
    pub password: String,
    /// The salt of the salted hashers (22 characters, as Django makes them).
    pub salt: String,
    /// The salt of the bcrypt hashers: `$2b$12$` and 22 characters.
    pub bcrypt_salt: String,
    /// PBKDF2 iterations (Django 5.2's default, 1,000,000).
    pub pbkdf2_iterations: u32,
    /// The hashers to time, by Django algorithm name, in `PASSWORD_HASHERS` order: Django 5.2's
    /// defaults, then `bcrypt` and `md5`.
    pub hashers: Vec<String>,
}

impl Inputs {
    /// Parse [`INPUTS_JSON`].
    pub fn load() -> Result<Self, serde_json::Error> {
        serde_json::from_str(INPUTS_JSON)
    }

    /// The salt to hash with for `algorithm`: bcrypt takes its own salt format.
    pub fn salt_for(&self, algorithm: &str) -> &str {
        if algorithm.starts_with("bcrypt") {
            &self.bcrypt_salt
        } else {
            &self.salt
        }
    }
}

/// The median of `samples` (the mean of the two middle ones for an even count), `0` if empty.
pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_parse() {
        let inputs = Inputs::load();
        assert!(inputs.is_ok(), "{inputs:?}");
        if let Ok(i) = inputs {
            assert_eq!(i.salt.len(), 22);
            assert_eq!(i.login_session.len(), 3);
            assert_eq!(i.salt_for("bcrypt_sha256"), i.bcrypt_salt);
            assert_eq!(i.hashers.len(), 7);
        }
    }

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}

/// What the load test's binaries (`load`, `axum_login_app`, `floor`) share: running on a
/// runtime and, for the two servers, serving while announcing the address.
#[cfg(feature = "compare")]
pub mod compare {
    use std::fmt::Display;
    use std::future::Future;
    use std::io::Write;
    use std::process::ExitCode;

    /// Block on `run` in `runtime`, printing the error and failing on `Err`. The servers use
    /// two worker threads, as `sesame serve` does on this machine; the load generator one.
    pub fn exit_code<E: Display>(
        runtime: std::io::Result<tokio::runtime::Runtime>,
        run: impl Future<Output = Result<(), E>>,
    ) -> ExitCode {
        let runtime = match runtime {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: cannot start the runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        match runtime.block_on(run) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    }

    /// A server's `main`: `run` on tokio's default of one worker per CPU the process may run
    /// on, as `sesame serve` has.
    pub fn server_main(
        run: impl Future<Output = Result<(), Box<dyn std::error::Error>>>,
    ) -> ExitCode {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build();
        exit_code(runtime, run)
    }

    /// The database of `BENCH_DATABASE_URL` (`sqlite://path` holding Django's tables) with
    /// Sesame's pool settings (WAL, `busy_timeout` 10 s, at most 10 connections, no ping
    /// before each acquire), and the address of `BENCH_BIND` (default `127.0.0.1:0`).
    pub async fn database_from_env()
    -> Result<(sqlx::SqlitePool, String), Box<dyn std::error::Error>> {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
        use std::str::FromStr;
        use std::time::Duration;
        let url = std::env::var("BENCH_DATABASE_URL")?;
        let bind = std::env::var("BENCH_BIND").unwrap_or_else(|_| "127.0.0.1:0".to_owned());
        let opts = SqliteConnectOptions::from_str(&url)?
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(false)
            .connect_with(opts)
            .await?;
        Ok((pool, bind))
    }

    /// Bind `bind`, print `listening on http://ADDR/` (the load generator waits for that line)
    /// and serve `app`.
    pub async fn serve(bind: &str, app: axum::Router) -> Result<(), Box<dyn std::error::Error>> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        println!("listening on http://{}/", listener.local_addr()?);
        std::io::stdout().flush()?;
        axum::serve(listener, app).await?;
        Ok(())
    }
}
