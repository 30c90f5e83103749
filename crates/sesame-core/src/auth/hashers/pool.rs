//! Password hashing off the async workers, on a bounded pool.

use super::{CheckResult, HashError, Hashers};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Runs hashers on tokio's blocking threads, at most `threads` at a time.
///
/// The bound: a PBKDF2 hash at Django 5.2's default takes about half a second of one core,
/// and an argon2 hash 100 MiB of memory, so an unbounded burst of logins would starve every
/// other request. Hashing waits for a permit instead (default: one per CPU, setting
/// `password_hashing_threads`). The async workers only ever await.
///
/// ```
/// use sesame_core::auth::hashers::{Hashers, PasswordHashing};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let hashing = PasswordHashing::new(Hashers::from_names(&["md5"], "5.2").unwrap(), 2);
/// let encoded = hashing.make_password("s3cret".into()).await.unwrap();
/// assert!(hashing.verify_password("s3cret".into(), encoded).await.unwrap().valid);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct PasswordHashing {
    hashers: Arc<Hashers>,
    permits: Arc<Semaphore>,
    threads: usize,
}

impl PasswordHashing {
    /// A pool of `threads` concurrent hashes (`0` = the number of CPUs).
    pub fn new(hashers: Hashers, threads: usize) -> Self {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        Self {
            hashers: Arc::new(hashers),
            permits: Arc::new(Semaphore::new(threads)),
            threads,
        }
    }

    /// The configured hashers.
    pub fn hashers(&self) -> &Hashers {
        &self.hashers
    }

    /// The bound on concurrent hashes.
    pub fn threads(&self) -> usize {
        self.threads
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Hashers) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError::Worker(e.to_string()))?;
        let hashers = self.hashers.clone();
        tokio::task::spawn_blocking(move || job(&hashers))
            .await
            .map_err(|e| HashError::Worker(e.to_string()))
    }

    /// `make_password` with the preferred hasher.
    pub async fn make_password(&self, password: String) -> Result<String, HashError> {
        self.run(move |h| h.make_password(Some(&password))).await?
    }

    /// `verify_password` (timing-equalised for unusable and unknown hashes).
    pub async fn verify_password(
        &self,
        password: String,
        encoded: String,
    ) -> Result<CheckResult, HashError> {
        self.run(move |h| h.verify_password(&password, &encoded))
            .await
    }

    /// One throw-away hash: what a login for an unknown user costs.
    pub async fn fake_hash(&self) -> Result<(), HashError> {
        self.run(|h| h.fake_hash()).await
    }
}
