//! Password hashing off the async workers, on a bounded pool of low-priority threads.

use super::{CheckResult, HashError, Hashers};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

/// The CPU priority of the hashing threads by default: `nice` +10.
pub const DEFAULT_HASHING_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// Runs hashers on a pool of `threads` threads of its own, off the async workers.
///
/// The bound: a PBKDF2 hash at Django 5.2's default takes about 160 ms of one core, and an
/// argon2 hash 100 MiB of memory, so an unbounded burst of logins would starve every other
/// request. Hashes beyond `threads` wait in a queue (default: one thread per CPU, setting
/// `password_hashing_threads`). The async workers only ever await.
///
/// The threads run at a lower CPU priority. On Linux they use the `SCHED_IDLE` policy by
/// default (setting `password_hashing_idle`): the scheduler runs them only when the core has
/// nothing else to do, so a stream of logins does not stall the requests beside them, and the
/// hashes use the time the requests leave. Measured with `bench/run-load.sh`: at `nice` +10
/// instead, a running hash still delayed the requests that shared its core by a scheduler
/// slice, about 3 ms at the 99th percentile; under `SCHED_IDLE` it did not show. Without
/// `SCHED_IDLE` (turned off, refused, or not on Linux) they run at `nice` +10 (setting
/// `password_hashing_nice`; 0 keeps the process's).
/// A pool of its own rather than tokio's blocking threads, so that lowering the priority
/// never touches a thread that other blocking work shares.
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
    threads: usize,
    nice: i32,
    idle: bool,
    // Started on the first hash, so that building one (as every test and command does)
    // costs no threads; they end when the last clone is dropped.
    queue: Arc<OnceLock<Sender<Job>>>,
}

impl PasswordHashing {
    /// A pool of `threads` concurrent hashes (`0` = the number of CPUs), at `nice` +10.
    pub fn new(hashers: Hashers, threads: usize) -> Self {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        Self {
            hashers: Arc::new(hashers),
            threads,
            nice: DEFAULT_HASHING_NICE,
            idle: true,
            queue: Arc::default(),
        }
    }

    /// Whether the hashing threads use Linux's `SCHED_IDLE` policy (the default). Off, or
    /// where it is refused, they run at [`Self::with_nice`]'s value instead.
    pub fn with_idle_priority(mut self, idle: bool) -> Self {
        self.idle = idle;
        self.queue = Arc::default();
        self
    }

    /// Whether the hashing threads ask for `SCHED_IDLE`.
    pub fn idle_priority(&self) -> bool {
        self.idle
    }

    /// How much lower than the process the hashing threads run: a `nice` increment from 0
    /// (the same priority) to 19 (the lowest there is). Only Linux sets it per thread;
    /// elsewhere it is ignored.
    pub fn with_nice(mut self, nice: i32) -> Self {
        self.nice = nice.clamp(0, 19);
        self.queue = Arc::default();
        self
    }

    /// The configured hashers.
    pub fn hashers(&self) -> &Hashers {
        &self.hashers
    }

    /// The bound on concurrent hashes.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The hashing threads' `nice` value.
    pub fn nice(&self) -> i32 {
        self.nice
    }

    // `Sender` is `Sync`: every request sends through the one sender, no lock.
    fn queue(&self) -> &Sender<Job> {
        self.queue.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            let rx = Arc::new(Mutex::new(rx));
            for i in 0..self.threads {
                let rx = rx.clone();
                let (nice, idle) = (self.nice, self.idle);
                // A thread that cannot start leaves the others; with none, jobs fail below.
                let _ = std::thread::Builder::new()
                    .name(format!("sesame-hash-{i}"))
                    .spawn(move || worker(&rx, nice, idle));
            }
            tx
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Hashers) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let hashers = self.hashers.clone();
        self.queue()
            .send(Box::new(move || {
                // The request gave up while its hash waited (the client left): skip it, so
                // abandoned logins do not leave a backlog of hashing behind them.
                if !done.is_closed() {
                    let _ = done.send(job(&hashers));
                }
            }))
            .map_err(|_| HashError::Worker("no hashing thread is running".into()))?;
        // A job that panicked dropped `done` without an answer.
        result
            .await
            .map_err(|_| HashError::Worker("the hashing thread failed".into()))
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

fn worker(jobs: &Mutex<Receiver<Job>>, nice: i32, idle: bool) {
    if !(idle && idle_priority()) {
        lower_priority(nice);
    }
    loop {
        // Hold the lock only to take a job, never while hashing.
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // A panicking hasher must not take the thread with it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

/// `SCHED_IDLE` for this thread alone; `false` when the kernel refused it.
#[cfg(target_os = "linux")]
fn idle_priority() -> bool {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    let policy = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    match set_thread_priority_and_policy(
        thread_native_id(),
        thread_priority::ThreadPriority::Min,
        policy,
    ) {
        Ok(()) => true,
        // The policy can be set and the nice value after it refused (a niced process without
        // the right to reset it): the thread is under SCHED_IDLE all the same.
        Err(_) if thread_priority::unix::thread_schedule_policy().is_ok_and(|p| p == policy) => {
            true
        }
        Err(e) => {
            tracing::debug!(error = ?e, "SCHED_IDLE refused for the hashing thread; using nice");
            false
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn idle_priority() -> bool {
    false
}

/// `setpriority` on this thread alone: on Linux a thread is a task with its own nice value.
#[cfg(target_os = "linux")]
fn lower_priority(nice: i32) {
    if nice <= 0 {
        return;
    }
    // `nice` is relative to the thread's priority now, as `nice(1)` is.
    let tid = Some(rustix::thread::gettid());
    let target = rustix::process::getpriority_process(tid)
        .unwrap_or(0)
        .saturating_add(nice)
        .min(19);
    if let Err(e) = rustix::process::setpriority_process(tid, target) {
        tracing::debug!(nice, error = %e, "could not lower the hashing thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_nice: i32) {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn pool(threads: usize) -> PasswordHashing {
        // One cheap PBKDF2 round: these tests are about threads, not hashing, and PBKDF2 is
        // in every build.
        let cheap: Arc<dyn crate::auth::hashers::PasswordHasher> =
            Arc::new(crate::auth::hashers::Pbkdf2Hasher::sha256(1));
        PasswordHashing::new(Hashers::new(vec![cheap]).unwrap(), threads)
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_the_configured_nice_value() {
        let nice_of_this_thread = |_: &Hashers| {
            rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
        };
        let base = nice_of_this_thread(pool(1).hashers());
        let niced = || pool(1).with_idle_priority(false);
        let lowered = niced().run(nice_of_this_thread).await.unwrap();
        assert_eq!(lowered, (base + DEFAULT_HASHING_NICE).min(19));
        let kept = niced().with_nice(0).run(nice_of_this_thread).await.unwrap();
        assert_eq!(kept, base);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_use_sched_idle_by_default() {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
        };
        let policy = |_: &Hashers| thread_schedule_policy().unwrap();
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        assert_eq!(pool(1).run(policy).await.unwrap(), idle);
        assert_ne!(
            pool(1).with_idle_priority(false).run(policy).await.unwrap(),
            idle
        );
        // The caller's own thread is left as it was.
        assert_ne!(thread_schedule_policy().unwrap(), idle);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_pool_goes_on() {
        let hashing = pool(1);
        let failed = hashing.run(|_| -> () { panic!("hasher bug") }).await;
        assert!(matches!(failed, Err(HashError::Worker(_))), "{failed:?}");
        let encoded = hashing.make_password("pw".into()).await.unwrap();
        assert!(
            hashing
                .verify_password("pw".into(), encoded)
                .await
                .unwrap()
                .valid
        );
    }

    #[tokio::test]
    async fn at_most_threads_hashes_run_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hashing = pool(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..8)
            .map(|_| {
                let (hashing, running, most) = (hashing.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    hashing
                        .run(move |_| {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }
}
