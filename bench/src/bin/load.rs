//! The load test of an authenticated `GET /api/whoami` (`bench/run-load.sh` builds and runs
//! it; see `bench/README.md`).
//!
//! In one invocation, on a fresh SQLite file with Django's schema (made by `sesame migrate`,
//! plus filler users and sessions), three servers run side by side:
//!
//! 1. **Sesame**: the real `sesame serve`, logged in over HTTP with CSRF like a browser (and,
//!    for information, a second one with `sqlite_unchanged_reads = false`, which runs the
//!    whole session-and-user statement on every request instead of answering from the last
//!    identical read of an unchanged database);
//! 2. **axum-login**: `axum_login_app` (axum 0.8 + tower-sessions 0.14 + axum-login 0.18,
//!    sessions in the same SQLite file through tower-sessions-sqlx-store);
//! 3. **floor**: `floor`, a bare axum handler doing one indexed read of `django_session`
//!    (and, for information, `/api/whoami/two-reads`: Sesame's two queries and nothing else).
//!
//! Each is loaded in turn, for `--rounds` rounds, by `--connections` keep-alive HTTP/1.1
//! connections (hyper) that send the next request as soon as the previous answer is read,
//! `--warmup` seconds not counted and then `--duration` seconds measured; a target's figures
//! are merged over its rounds. Every answer must be a 200 whose JSON says
//! `"authenticated":true`, or it counts as an error. Latencies go into an HDR histogram (1 µs
//! to 60 s, 3 significant digits); the server's resident memory is sampled from
//! `/proc/PID/status` (`VmRSS`) every 50 ms while measuring, with `VmHWM` after each run; its
//! CPU time and the load generator's come from `/proc/PID/stat`.
//!
//! Then **logins beside the load** (Sesame only, on a fresh server; `--login-rounds` rounds,
//! default 9, of `--login-duration` seconds, default 4): the same authenticated
//! load without logins and with a steady stream of real logins (`GET` then `POST
//! /accounts/login/` with the CSRF token, a user whose hash has Django 5.2's default PBKDF2
//! iterations, 1,000,000), alternating, at full speed as above and paced at a fixed request
//! rate (`--paced-fraction` of Sesame's full-speed rate; latency counted from the scheduled
//! send time when the connection fell behind), where the figure shows waiting behind a hash
//! rather than the capacity the hashes take.
//!
//! Servers are started under `taskset -c <--server-cpus>` (default CPU 1); run this program
//! itself under `taskset -c 0` so the two never share a core. A watcher scans `/proc` every
//! two seconds for a compiler or linker (`cargo`, `rustc`, `cc1`, `ld`, ...) and the report says
//! `quiet` or `NOISY` for each target. Sesame runs with `SESAME_LOG=warn` (its per-request
//! info log off; the other servers log nothing).
//!
//! ```text
//! load --sesame PATH --axum-login PATH --floor PATH [--connections 32] [--warmup 2]
//!      [--duration 10] [--rounds 3] [--logins-per-sec 2] [--paced-fraction 0.5]
//!      [--server-cpus 1|none] [--work-dir DIR] [--filler-sessions 10000]
//!      [--filler-users 1000] [--skip-logins] [--login-hasher NAME]
//! ```
//!
//! `--paced-probe RPS` is a diagnostic too: after phase 1, every target is loaded once per round
//! at that fixed rate without logins, and the results are only logged (for telling the
//! machine's own latency noise in paced runs from a server's).
//!
//! `--login-hasher` (say `md5`) gives the user of phase 2's logins a hash of that algorithm
//! and runs phase 2's server with it first in `PASSWORD_HASHERS`: the same login requests
//! without the cost of PBKDF2, to tell what the hash does to the requests beside it from what
//! the login requests themselves do. Not for the figures.

use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, Error>;

/// The label of Sesame with `sqlite_unchanged_reads = false`.
const SESAME_EVERY_READ: &str =
    "Sesame, every read run (`sqlite_unchanged_reads = false`, for information)";
const SECRET_KEY: &str = "sesame-load-test-secret-key-not-for-production-use-0123456789";
const USER: &str = "bench";
const LOGIN_USER: &str = "loginuser";
const PASSWORD: &str = "Load-test-passw0rd-2026";
/// Clock ticks per second of `/proc/PID/stat` (`getconf CLK_TCK`, 100 on Linux).
const CLK_TCK: f64 = 100.0;

// ---------------------------------------------------------------------------------------
// Options

/// The command line (clap); every flag of bench/run-load.sh and bench/README.md.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "load",
    about = "The load test of an authenticated GET /api/whoami (see bench/run-load.sh)"
)]
struct Options {
    /// The `sesame` binary.
    #[arg(long, value_name = "PATH")]
    sesame: PathBuf,
    /// The `axum_login_app` binary.
    #[arg(long, value_name = "PATH")]
    axum_login: PathBuf,
    /// The `floor` binary.
    #[arg(long, value_name = "PATH")]
    floor: PathBuf,
    /// Keep-alive connections of the load.
    #[arg(long, value_name = "N", default_value_t = 32)]
    connections: usize,
    /// Seconds of load before measuring.
    #[arg(long, value_name = "S", default_value = "2", value_parser = seconds)]
    warmup: Duration,
    /// Seconds measured per round.
    #[arg(long, value_name = "S", default_value = "10", value_parser = seconds)]
    duration: Duration,
    /// Logins per second beside the load.
    #[arg(long, value_name = "R", default_value_t = 2.0)]
    logins_per_sec: f64,
    /// The paced rate, as a fraction of Sesame's full-speed rate.
    #[arg(long, value_name = "F", default_value_t = 0.5)]
    paced_fraction: f64,
    /// The CPUs the servers are pinned to (`taskset -c`), or `none`.
    #[arg(long, value_name = "LIST|none", default_value = "1", value_parser = cpu_list)]
    server_cpus: CpuList,
    /// Where the database and the servers' logs go (emptied first).
    #[arg(long, value_name = "DIR", default_value_os_t = default_work_dir())]
    work_dir: PathBuf,
    /// Filler rows of django_session (and of tower_sessions).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    filler_sessions: usize,
    /// Filler rows of auth_user.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    filler_users: usize,
    /// Leave out phase 2 (logins beside the load).
    #[arg(long)]
    skip_logins: bool,
    /// Rounds of phase 1.
    #[arg(long, value_name = "N", default_value_t = 3)]
    rounds: usize,
    /// The login user's hasher in phase 2 (say `md5`), first in PASSWORD_HASHERS.
    #[arg(long, value_name = "NAME")]
    login_hasher: Option<String>,
    /// A diagnostic: every target loaded once per round at this fixed rate, only logged.
    #[arg(long, value_name = "RPS")]
    paced_probe: Option<f64>,
    /// Rounds of phase 2.
    #[arg(long, value_name = "N", default_value_t = 9)]
    login_rounds: usize,
    /// Seconds of each of phase 2's rounds.
    #[arg(long, value_name = "S", default_value = "4", value_parser = seconds)]
    login_duration: Duration,
}

/// `--server-cpus`: a `taskset -c` list, or `none` (not pinned).
type CpuList = Option<String>;

fn cpu_list(value: &str) -> Result<CpuList, String> {
    Ok((value != "none").then(|| value.to_owned()))
}

/// A number of seconds, fractions allowed.
fn seconds(value: &str) -> Result<Duration, String> {
    let secs: f64 = value.parse().map_err(|e| format!("{e}"))?;
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{e}"))
}

fn default_work_dir() -> PathBuf {
    std::env::temp_dir().join(format!("sesame-load-{}", std::process::id()))
}

/// The options, with what clap cannot check: the three binaries exist, and the counts and
/// durations that divide are not zero.
fn parse_options() -> Res<Options> {
    use clap::Parser;
    let o = Options::parse();
    for (name, path) in [
        ("--sesame", &o.sesame),
        ("--axum-login", &o.axum_login),
        ("--floor", &o.floor),
    ] {
        if !path.is_file() {
            return Err(format!("{name}: no executable at {:?}", path.display()).into());
        }
    }
    if o.connections == 0
        || o.rounds == 0
        || o.duration.is_zero()
        || o.logins_per_sec <= 0.0
        || o.login_rounds == 0
        || o.login_duration.is_zero()
    {
        return Err(
            "--connections, --rounds, --duration, --logins-per-sec, --login-rounds and \
                    --login-duration must be positive"
                .into(),
        );
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------------
// /proc

fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// utime + stime in seconds.
fn proc_cpu_secs(pid: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5), counted from the state (field 3) here.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / CLK_TCK)
}

/// CPUs of the machine (not of this process's affinity mask, which `taskset` narrows).
fn cpu_count() -> usize {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|t| t.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// Compilers and linkers seen while measuring, by time.
#[derive(Default)]
struct Noise {
    seen: Mutex<Vec<(Instant, String)>>,
    scans: Mutex<Vec<Instant>>,
}

const NOISY: &[&str] = &[
    "cargo",
    "rustc",
    "rustdoc",
    "clippy-driver",
    "cc1",
    "cc1plus",
    "ld",
    "ld.lld",
    "ld.gold",
    "ld.bfd",
    "collect2",
    "mold",
];

fn watch_noise(noise: Arc<Noise>, stop: Arc<AtomicBool>) {
    let me = std::process::id().to_string();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let name = entry.file_name();
                let Some(pid) = name.to_str() else { continue };
                if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
                    continue;
                }
                if let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) {
                    let comm = comm.trim();
                    if NOISY.contains(&comm) {
                        if let Ok(mut seen) = noise.seen.lock() {
                            seen.push((now, comm.to_owned()));
                        }
                    }
                }
            }
        }
        if let Ok(mut scans) = noise.scans.lock() {
            scans.push(now);
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// What the watcher saw over some windows.
#[derive(Debug, Clone, Default)]
struct Quiet {
    scans: usize,
    seen: BTreeSet<String>,
}

impl Quiet {
    fn merge(&mut self, other: &Quiet) {
        self.scans += other.scans;
        self.seen.extend(other.seen.iter().cloned());
    }

    fn describe(&self) -> String {
        if self.seen.is_empty() {
            format!("quiet ({} scans)", self.scans)
        } else {
            format!(
                "NOISY: {} running",
                self.seen.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        }
    }
}

impl Noise {
    fn window(&self, from: Instant, to: Instant) -> Quiet {
        let scans = self
            .scans
            .lock()
            .map(|s| s.iter().filter(|t| **t >= from && **t <= to).count())
            .unwrap_or(0);
        let seen = self
            .seen
            .lock()
            .map(|s| {
                s.iter()
                    .filter(|(t, _)| *t >= from && *t <= to)
                    .map(|(_, n)| n.clone())
                    .collect()
            })
            .unwrap_or_default();
        Quiet { scans, seen }
    }
}

// ---------------------------------------------------------------------------------------
// Servers

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sesame_command(o: &Options, db_url: &str) -> Command {
    let mut cmd = Command::new(&o.sesame);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SESAME_")) {
        cmd.env_remove(k);
    }
    cmd.current_dir(&o.work_dir)
        .env("SESAME_DATABASE_URL", db_url)
        .env("SESAME_SECRET_KEY", SECRET_KEY)
        .env("SESAME_LOG", "warn");
    cmd
}

fn run_sesame(o: &Options, db_url: &str, args: &[&str]) -> Res<()> {
    run_sesame_with(o, db_url, args, &[])
}

fn run_sesame_with(o: &Options, db_url: &str, args: &[&str], env: &[(&str, &str)]) -> Res<()> {
    let out = sesame_command(o, db_url)
        .args(args)
        .envs(env.iter().copied())
        .env("SESAME_USER_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "sesame {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

fn start(o: &Options, name: &'static str, mut cmd: Command) -> Res<Server> {
    // Under taskset: the same process (taskset execs the server), so the PID is the server's.
    if let Some(cpus) = &o.server_cpus {
        let inner = cmd;
        cmd = Command::new("taskset");
        cmd.arg("-c").arg(cpus).arg(inner.get_program());
        cmd.args(inner.get_args());
        for (k, v) in inner.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = inner.get_current_dir() {
            cmd.current_dir(dir);
        }
    }
    let log = std::fs::File::create(o.work_dir.join(format!("{name}.stderr.log")))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // Keep draining, so a later line never meets a closed pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .ok_or_else(|| format!("{name}: no address in its first line {line:?}"))?
        .to_owned();
    Ok(Server { child, addr })
}

// ---------------------------------------------------------------------------------------
// The database

/// A filler key of `len` characters from Django's session-key alphabet.
fn filler_key(rng: &mut impl rand::Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// Django's schema by `sesame migrate`, the two users (the loaded one with a group permission
/// and a direct one), and filler rows so that no table is trivially small.
async fn prepare_database(o: &Options, db_url: &str) -> Res<()> {
    run_sesame(o, db_url, &["migrate"])?;
    run_sesame(
        o,
        db_url,
        &["user", "create", USER, "--email", "bench@example.com"],
    )?;
    run_sesame(o, db_url, &["group", "create", "editors"])?;
    run_sesame(o, db_url, &["group", "grant", "editors", "auth.view_user"])?;
    run_sesame(o, db_url, &["group", "add-user", "editors", USER])?;
    run_sesame(o, db_url, &["perm", "grant", USER, "auth.change_user"])?;
    let login_hashers = o
        .login_hasher
        .as_ref()
        .map(|h| format!("{h},pbkdf2_sha256"));
    let env: Vec<(&str, &str)> = login_hashers
        .iter()
        .map(|h| ("SESAME_PASSWORD_HASHERS", h.as_str()))
        .collect();
    run_sesame_with(
        o,
        db_url,
        &["user", "create", LOGIN_USER, "--email", "login@example.com"],
        &env,
    )?;

    let opts = SqliteConnectOptions::from_str(db_url)?.journal_mode(SqliteJournalMode::Wal);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await?;
    // The table tower-sessions-sqlx-store creates (SqliteStore::migrate), made here first so
    // that it gets filler rows as django_session does.
    sqlx::query(
        "create table if not exists tower_sessions \
         (id text primary key not null, data blob not null, expiry_date integer not null)",
    )
    .execute(&pool)
    .await?;
    // Seeded: the same filler rows on every run.
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0x005e_5a3e_10ad_7e57);
    let mut tx = pool.begin().await?;
    for i in 0..o.filler_users {
        sqlx::query(
            "INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, \
             last_name, email, is_staff, is_active, date_joined) \
             VALUES ('!unusable', NULL, 0, ?, '', '', ?, 0, 1, '2026-01-01 00:00:00')",
        )
        .bind(format!("filler{i}"))
        .bind(format!("filler{i}@example.com"))
        .execute(&mut *tx)
        .await?;
    }
    let data = "e30:1vAAAA:0000000000000000000000000000000000000000000";
    for _ in 0..o.filler_sessions {
        sqlx::query(
            "INSERT INTO django_session (session_key, session_data, expire_date) \
             VALUES (?, ?, '2099-01-01 00:00:00')",
        )
        .bind(filler_key(&mut rng, 32))
        .bind(data)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO tower_sessions (id, data, expiry_date) VALUES (?, ?, '2099-01-01T00:00:00Z')",
        )
        .bind(filler_key(&mut rng, 22))
        .bind(data.as_bytes())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// HTTP

async fn connect(addr: &str) -> Res<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

struct Reply {
    status: u16,
    cookies: Vec<(String, String)>,
    body: Bytes,
}

impl Reply {
    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    method: Method,
    addr: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<String>,
) -> Res<Reply> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, addr);
    if let Some(c) = cookie {
        req = req.header(hyper::header::COOKIE, c);
    }
    let body = match form {
        Some(f) => {
            req = req.header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
            Full::new(Bytes::from(f))
        }
        None => Full::new(Bytes::new()),
    };
    let req = req.body(body)?;
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let cookies = resp
        .headers()
        .get_all(hyper::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .collect();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Reply {
        status,
        cookies,
        body,
    })
}

/// A browser's login on Sesame's site: the form (CSRF cookie and token), then the POST.
/// Returns the `Cookie` header of the logged-in session.
async fn sesame_login(addr: &str, username: &str) -> Res<String> {
    let mut s = connect(addr).await?;
    let page = send(&mut s, Method::GET, addr, "/accounts/login/", None, None).await?;
    let csrf = page
        .cookie("csrftoken")
        .ok_or("no csrftoken cookie on the login page")?
        .to_owned();
    let text = page.text();
    const FIELD: &str = "name=\"csrfmiddlewaretoken\" value=\"";
    let at = text.find(FIELD).ok_or("no CSRF field on the login page")? + FIELD.len();
    let token = text
        .get(at..)
        .and_then(|t| t.split('"').next())
        .ok_or("no CSRF token")?;
    let form = format!("username={username}&password={PASSWORD}&csrfmiddlewaretoken={token}");
    let r = send(
        &mut s,
        Method::POST,
        addr,
        "/accounts/login/",
        Some(&format!("csrftoken={csrf}")),
        Some(form),
    )
    .await?;
    if r.status != 302 {
        return Err(format!("login answered {}: {}", r.status, r.text()).into());
    }
    let sid = r.cookie("sessionid").ok_or("no sessionid after login")?;
    Ok(format!("sessionid={sid}"))
}

async fn axum_login_login(addr: &str) -> Res<String> {
    let mut s = connect(addr).await?;
    let r = send(
        &mut s,
        Method::POST,
        addr,
        "/login",
        None,
        Some(format!("username={USER}&password={PASSWORD}")),
    )
    .await?;
    if r.status != 204 {
        return Err(format!("axum-login login answered {}: {}", r.status, r.text()).into());
    }
    let sid = r.cookie("sessionid").ok_or("no sessionid after login")?;
    Ok(format!("sessionid={sid}"))
}

// ---------------------------------------------------------------------------------------
// Load

fn new_histogram() -> Res<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000, 3)?)
}

/// Measured runs of one target, merged over the rounds.
struct Run {
    requests: u64,
    errors: u64,
    secs: f64,
    hist: Histogram<u64>,
    rss_max_kb: u64,
    hwm_kb: u64,
    server_cpu_secs: f64,
    client_cpu_secs: f64,
    quiet: Quiet,
    logins: Option<Logins>,
    rounds: Vec<f64>,
}

impl Run {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.secs
    }

    fn ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }

    fn merge(&mut self, other: Run) -> Res<()> {
        self.requests += other.requests;
        self.errors += other.errors;
        self.secs += other.secs;
        self.hist.add(&other.hist)?;
        self.rss_max_kb = self.rss_max_kb.max(other.rss_max_kb);
        self.hwm_kb = self.hwm_kb.max(other.hwm_kb);
        self.server_cpu_secs += other.server_cpu_secs;
        self.client_cpu_secs += other.client_cpu_secs;
        self.quiet.merge(&other.quiet);
        self.rounds.extend(other.rounds);
        match (&mut self.logins, other.logins) {
            (Some(a), Some(b)) => {
                a.ok += b.ok;
                a.failed += b.failed;
                a.hist.add(&b.hist)?;
            }
            (a @ None, b) => *a = b,
            (Some(_), None) => {}
        }
        Ok(())
    }
}

fn merge_into(total: &mut Option<Run>, run: Run) -> Res<()> {
    match total {
        Some(t) => t.merge(run),
        None => {
            *total = Some(run);
            Ok(())
        }
    }
}

struct Logins {
    ok: u64,
    failed: u64,
    hist: Histogram<u64>,
}

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    from: Instant,
    to: Instant,
}

/// What is loaded: a server, the path, the session cookie.
struct Target<'a> {
    label: &'static str,
    server: &'a Server,
    path: &'static str,
    cookie: &'a str,
}

/// One connection's loop. `interval`: paced mode, one request per interval (and the offset
/// of this connection's first one).
async fn connection(
    addr: Arc<str>,
    path: &'static str,
    cookie: Arc<str>,
    w: Window,
    interval: Option<(Duration, Duration)>,
) -> Res<(u64, u64, Histogram<u64>)> {
    let mut hist = new_histogram()?;
    let (mut ok, mut errors) = (0u64, 0u64);
    let mut sender = connect(&addr).await?;
    let mut scheduled = interval.map(|(_, offset)| w.start + offset);
    let mut prev_done = w.start;
    loop {
        let mut begin = Instant::now();
        if let (Some(at), Some((every, _))) = (scheduled.as_mut(), interval) {
            if *at >= w.to {
                break;
            }
            if begin < *at {
                tokio::time::sleep_until((*at).into()).await;
            }
            let now = Instant::now();
            // Behind schedule because the previous answer came late: count from the
            // scheduled time (no coordinated omission). On time: from the actual send, so the
            // timer's millisecond granularity is not counted as latency.
            begin = if prev_done > *at { *at } else { now };
            *at += every;
        } else if begin >= w.to {
            break;
        }
        let result = send(&mut sender, Method::GET, &addr, path, Some(&cookie), None).await;
        let done = Instant::now();
        prev_done = done;
        let counted = begin >= w.from && done <= w.to;
        match result {
            Ok(r) if r.status == 200 && contains(&r.body, b"\"authenticated\":true") => {
                if counted {
                    ok += 1;
                    hist.saturating_record(done.duration_since(begin).as_micros() as u64);
                }
            }
            Ok(_) => {
                if counted {
                    errors += 1;
                }
            }
            Err(_) => {
                if counted {
                    errors += 1;
                }
                sender = connect(&addr).await?;
            }
        }
    }
    Ok((ok, errors, hist))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A steady stream of logins: one started every `1/rate` seconds, each on its own
/// connection, not waiting for the previous one.
async fn login_stream(addr: Arc<str>, rate: f64, w: Window) -> Res<Logins> {
    let every = Duration::from_secs_f64(1.0 / rate);
    let mut tick = tokio::time::interval_at(w.start.into(), every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = Vec::new();
    loop {
        let at = tick.tick().await.into_std();
        if at >= w.to {
            break;
        }
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let r = sesame_login(&addr, LOGIN_USER).await;
            (at, Instant::now(), r.is_ok())
        }));
    }
    let mut logins = Logins {
        ok: 0,
        failed: 0,
        hist: new_histogram()?,
    };
    for t in tasks {
        let (at, done, ok) = t.await?;
        if at >= w.from && at < w.to {
            if ok {
                logins.ok += 1;
                logins
                    .hist
                    .saturating_record(done.duration_since(at).as_micros() as u64);
            } else {
                logins.failed += 1;
            }
        }
    }
    Ok(logins)
}

/// Samples the server's memory and both CPU times over the window, on a thread of its own.
fn sample(pid: u32, w: Window) -> std::thread::JoinHandle<(u64, f64, f64)> {
    std::thread::spawn(move || {
        let wait = w.from.saturating_duration_since(Instant::now());
        std::thread::sleep(wait);
        let me = std::process::id().to_string();
        let server0 = proc_cpu_secs(&pid.to_string()).unwrap_or(0.0);
        let client0 = proc_cpu_secs(&me).unwrap_or(0.0);
        let mut rss_max = 0;
        while Instant::now() < w.to {
            rss_max = rss_max.max(proc_status_kb(pid, "VmRSS").unwrap_or(0));
            std::thread::sleep(Duration::from_millis(50));
        }
        let server1 = proc_cpu_secs(&pid.to_string()).unwrap_or(0.0);
        let client1 = proc_cpu_secs(&me).unwrap_or(0.0);
        (rss_max, server1 - server0, client1 - client0)
    })
}

/// The shortest time between two requests of one paced connection. tokio's timer wakes a
/// sleeping task on a 1 ms tick, so a connection due every 1.3 ms (32 of them at 24,000 req/s)
/// was often woken late, fell behind its schedule and was charged the timer's delay as
/// latency: paced p99s of 5 to 12 ms, with and without logins alike.
const MIN_PACED_INTERVAL: Duration = Duration::from_millis(4);

/// Connections of a paced run at `rps`: `--connections`, or more, so that each is due at most
/// every [`MIN_PACED_INTERVAL`].
fn paced_connections(o: &Options, rps: f64) -> usize {
    let needed = (rps * MIN_PACED_INTERVAL.as_secs_f64()).ceil();
    if needed.is_finite() && needed > o.connections as f64 {
        needed as usize
    } else {
        o.connections
    }
}

async fn run_load(
    o: &Options,
    noise: &Noise,
    target: &Target<'_>,
    paced_rps: Option<f64>,
    logins: Option<f64>,
    tag: &str,
) -> Res<Run> {
    let start = Instant::now() + Duration::from_millis(50);
    let w = Window {
        start,
        from: start + o.warmup,
        to: start + o.warmup + o.duration,
    };
    let addr: Arc<str> = target.server.addr.as_str().into();
    let cookie: Arc<str> = target.cookie.into();
    let sampler = sample(target.server.pid(), w);
    let login_task = logins.map(|rate| tokio::spawn(login_stream(addr.clone(), rate, w)));
    let n = paced_rps.map_or(o.connections, |rps| paced_connections(o, rps));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let interval = paced_rps.map(|rps| {
            let every = Duration::from_secs_f64(n as f64 / rps);
            (every, every.mul_f64(i as f64 / n as f64))
        });
        tasks.push(tokio::spawn(connection(
            addr.clone(),
            target.path,
            cookie.clone(),
            w,
            interval,
        )));
    }
    let mut hist = new_histogram()?;
    let (mut requests, mut errors) = (0, 0);
    for t in tasks {
        let (ok, err, h) = t.await??;
        requests += ok;
        errors += err;
        hist.add(h)?;
    }
    let logins = match login_task {
        Some(t) => Some(t.await??),
        None => None,
    };
    let (rss_max_kb, server_cpu_secs, client_cpu_secs) =
        sampler.join().map_err(|_| "sampler panicked")?;
    let secs = w.to.duration_since(w.from).as_secs_f64();
    let run = Run {
        requests,
        errors,
        secs,
        hist,
        rss_max_kb,
        hwm_kb: proc_status_kb(target.server.pid(), "VmHWM").unwrap_or(0),
        server_cpu_secs,
        client_cpu_secs,
        quiet: noise.window(w.from, w.to),
        logins,
        rounds: vec![requests as f64 / secs],
    };
    eprintln!(
        "[load] {}{tag}: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, {} errors, server CPU {:.0}%, VmRSS {}, {}",
        target.label,
        run.rps(),
        run.ms(0.5),
        run.ms(0.99),
        run.errors,
        run.server_cpu_secs / secs * 100.0,
        mb(run.rss_max_kb),
        run.quiet.describe()
    );
    Ok(run)
}

// ---------------------------------------------------------------------------------------
// Report

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

fn table(rows: &[(String, &Run)]) -> String {
    let mut s = String::from(
        "| run | req/s | req/s by round | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | server CPU | load CPU | VmRSS max | VmHWM | machine |\n\
         |---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for (label, r) in rows {
        let rounds = r
            .rounds
            .iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            s,
            "| {label} | {:.0} | {rounds} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {:.0}% | {:.0}% | {} | {} | {} |",
            r.rps(),
            r.ms(0.5),
            r.ms(0.9),
            r.ms(0.99),
            r.ms(0.999),
            r.hist.max() as f64 / 1000.0,
            r.errors,
            r.server_cpu_secs / r.secs * 100.0,
            r.client_cpu_secs / r.secs * 100.0,
            mb(r.rss_max_kb),
            mb(r.hwm_kb),
            r.quiet.describe()
        );
    }
    s
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

fn take(run: Option<Run>) -> Res<Run> {
    run.ok_or_else(|| "no run was measured".into())
}

async fn main_async(o: Options) -> Res<()> {
    let noise = Arc::new(Noise::default());
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (noise, stop) = (noise.clone(), stop.clone());
        std::thread::spawn(move || watch_noise(noise, stop))
    };
    if o.work_dir.exists() {
        std::fs::remove_dir_all(&o.work_dir)?;
    }
    std::fs::create_dir_all(&o.work_dir)?;
    let db = o.work_dir.join("load.sqlite3");
    let db_url = format!("sqlite://{}", db.display());
    eprintln!("[load] preparing {}", db.display());
    prepare_database(&o, &db_url).await?;

    let sesame_serve = || {
        let mut cmd = sesame_command(&o, &db_url);
        cmd.arg("serve").env("SESAME_BIND", "127.0.0.1:0");
        cmd
    };
    let bench_server = |bin: &Path| {
        let mut cmd = Command::new(bin);
        cmd.current_dir(&o.work_dir)
            .env("BENCH_DATABASE_URL", &db_url)
            .env("BENCH_BIND", "127.0.0.1:0");
        cmd
    };

    // Phase 1: the servers side by side, each loaded in turn, round after round.
    let sesame = start(&o, "sesame", sesame_serve())?;
    let sesame_cookie = sesame_login(&sesame.addr, USER).await?;
    // The same server with every read run in full: what a database that changes between most
    // requests costs (each commit clears the remembered reads).
    let mut every_read = sesame_serve();
    every_read.env("SESAME_SQLITE_UNCHANGED_READS", "false");
    let sesame_every = start(&o, "sesame-every-read", every_read)?;
    let sesame_every_cookie = sesame_login(&sesame_every.addr, USER).await?;
    let al = start(&o, "axum-login", bench_server(&o.axum_login))?;
    let al_cookie = axum_login_login(&al.addr).await?;
    // The floor reads the row of Sesame's session (live in django_session).
    let fl = start(&o, "floor", bench_server(&o.floor))?;
    let targets = [
        Target {
            label: "Sesame",
            server: &sesame,
            path: "/api/whoami",
            cookie: &sesame_cookie,
        },
        Target {
            label: SESAME_EVERY_READ,
            server: &sesame_every,
            path: "/api/whoami",
            cookie: &sesame_every_cookie,
        },
        Target {
            label: "axum + tower-sessions + axum-login",
            server: &al,
            path: "/api/whoami",
            cookie: &al_cookie,
        },
        Target {
            label: "floor: bare axum, one indexed read",
            server: &fl,
            path: "/api/whoami",
            cookie: &sesame_cookie,
        },
        Target {
            label: "bare axum, Sesame's two queries (for information)",
            server: &fl,
            path: "/api/whoami/two-reads",
            cookie: &sesame_cookie,
        },
        Target {
            label: "floor read on the handler's thread, as Sesame reads (for information)",
            server: &fl,
            path: "/api/whoami/inline",
            cookie: &sesame_cookie,
        },
    ];
    let mut bodies = Vec::new();
    for t in &targets {
        bodies.push((t.label, t.path, whoami_at(t).await?));
    }
    let mut totals: Vec<Option<Run>> = targets.iter().map(|_| None).collect();
    for round in 1..=o.rounds {
        for (t, total) in targets.iter().zip(totals.iter_mut()) {
            let run = run_load(&o, &noise, t, None, None, &format!(" (round {round})")).await?;
            merge_into(total, run)?;
        }
    }
    // Diagnostic: every target paced at the same rate, without logins (logged, not reported).
    if let Some(rps) = o.paced_probe {
        for round in 1..=o.rounds {
            for t in &targets {
                let tag = format!(", paced probe at {rps:.0} req/s (round {round})");
                run_load(&o, &noise, t, Some(rps), None, &tag).await?;
            }
        }
    }
    drop((sesame, sesame_every, al, fl));
    let mut totals = totals.into_iter();
    let (s1, e1, a1, f1, t1, i1) = (
        take(totals.next().flatten())?,
        take(totals.next().flatten())?,
        take(totals.next().flatten())?,
        take(totals.next().flatten())?,
        take(totals.next().flatten())?,
        take(totals.next().flatten())?,
    );

    // Phase 2: logins beside the load, on a fresh Sesame, in more and shorter alternating
    // runs than phase 1, so that a stall of the machine falls on both sides alike.
    let o2 = Options {
        rounds: o.login_rounds,
        duration: o.login_duration,
        ..o.clone()
    };
    let rate = o.logins_per_sec;
    let paced = s1.rps() * o.paced_fraction;
    let mut phase2: Vec<(String, Run, Run)> = Vec::new();
    if !o.skip_logins {
        let mut cmd = sesame_serve();
        if let Some(h) = &o.login_hasher {
            cmd.env("SESAME_PASSWORD_HASHERS", format!("{h},pbkdf2_sha256"));
        }
        let sesame = start(&o, "sesame-logins", cmd)?;
        let cookie = sesame_login(&sesame.addr, USER).await?;
        let t = Target {
            label: "Sesame",
            server: &sesame,
            path: "/api/whoami",
            cookie: &cookie,
        };
        let modes = [
            ("full speed".to_owned(), None),
            (format!("paced at {paced:.0} req/s"), Some(paced)),
        ];
        let mut without: Vec<Option<Run>> = vec![None, None];
        let mut with: Vec<Option<Run>> = vec![None, None];
        for round in 1..=o2.rounds {
            for (i, (mode, pace)) in modes.iter().enumerate() {
                let tag = format!(", {mode}, no logins (round {round})");
                merge_into(
                    &mut without[i],
                    run_load(&o2, &noise, &t, *pace, None, &tag).await?,
                )?;
                let tag = format!(", {mode}, {rate} logins/s (round {round})");
                merge_into(
                    &mut with[i],
                    run_load(&o2, &noise, &t, *pace, Some(rate), &tag).await?,
                )?;
            }
        }
        drop(sesame);
        for ((mode, _), (a, b)) in modes.into_iter().zip(without.into_iter().zip(with)) {
            phase2.push((mode, take(a)?, take(b)?));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.join();

    // The report.
    let mut out = String::new();
    let pin = match &o.server_cpus {
        Some(c) => format!(
            "each server pinned to CPU {c} (`taskset -c {c}`), the load generator meant to run on another (`run-load.sh` pins it to CPU 0)"
        ),
        None => "no pinning".to_owned(),
    };
    let _ = writeln!(
        out,
        "## Load test: authenticated `GET /api/whoami`\n\n\
         machine: {} CPUs, {}; {pin}.\n\
         load: {} keep-alive HTTP/1.1 connections, each sending its next request when the last \
         answer is read; per run {:.0} s warm-up then {:.0} s measured; {} rounds, each target in \
         turn (figures merged over the rounds). Database: SQLite (WAL), {} filler users and {} \
         filler sessions in each session table.\n",
        cpu_count(),
        cpu_model(),
        o.connections,
        o.warmup.as_secs_f64(),
        o.duration.as_secs_f64(),
        o.rounds,
        o.filler_users,
        o.filler_sessions
    );
    let _ = writeln!(
        out,
        "{}",
        table(&[
            ("Sesame".to_owned(), &s1),
            (SESAME_EVERY_READ.to_owned(), &e1),
            ("axum + tower-sessions + axum-login".to_owned(), &a1),
            ("floor: bare axum, one indexed read".to_owned(), &f1),
            (
                "bare axum, Sesame's two queries (for information)".to_owned(),
                &t1
            ),
            (
                "floor read on the handler's thread, as Sesame reads (for information)".to_owned(),
                &i1
            ),
        ])
    );
    let rps_vs_al = s1.rps() / a1.rps();
    let p99_vs_al = s1.ms(0.99) / a1.ms(0.99);
    let floor_vs_s = f1.rps() / s1.rps();
    let floor_vs_e = f1.rps() / e1.rps();
    let e_vs_al = e1.rps() / a1.rps();
    let p99_vs_floor = s1.ms(0.99) / f1.ms(0.99);
    let two_vs_s = t1.rps() / s1.rps();
    let inline_vs_s = i1.rps() / s1.rps();
    let sesame_rss = std::iter::once(&s1)
        .chain(phase2.iter().flat_map(|(_, a, b)| [a, b]))
        .map(|r| r.rss_max_kb)
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "| figure | ratio | target | |\n|---|---:|---|---|\n\
         | Sesame req/s ÷ axum-login req/s | {rps_vs_al:.2} | ≥ 2 | {} |\n\
         | Sesame p99 ÷ axum-login p99 | {p99_vs_al:.2} | ≤ 0.5 | {} |\n\
         | floor req/s ÷ Sesame req/s | {floor_vs_s:.2} | ≤ 1.15 | {} |\n\
         | Sesame p99 ÷ floor p99 | {p99_vs_floor:.2} | (for information) | |\n\
         | floor req/s ÷ Sesame (every read run) req/s | {floor_vs_e:.2} | (for information) | |\n\
         | Sesame (every read run) req/s ÷ axum-login req/s | {e_vs_al:.2} | (for information) | |\n\
         | two-query bare axum req/s ÷ Sesame req/s | {two_vs_s:.2} | (for information) | |\n\
         | floor read on the handler's thread req/s ÷ Sesame req/s | {inline_vs_s:.2} | (for information) | |\n\
         | Sesame VmRSS max ÷ 50 MB | {:.2} ({}) | < 1 | {} |",
        verdict(rps_vs_al >= 2.0),
        verdict(p99_vs_al <= 0.5),
        verdict(floor_vs_s <= 1.15),
        sesame_rss as f64 / 1024.0 / 50.0,
        mb(sesame_rss),
        verdict(sesame_rss < 50 * 1024),
    );
    if !phase2.is_empty() {
        let _ = writeln!(
            out,
            "\n### Logins beside the load\n\n\
             Sesame on a fresh server; the same authenticated load without logins and with a \
             steady stream of {rate} logins per second (a user whose hash is PBKDF2-SHA256 at \
             1,000,000 iterations, Django 5.2's default; `GET` then `POST /accounts/login/` \
             with the CSRF token, each login on a new connection), alternating, {} rounds of \
             {:.0} s warm-up and {:.0} s measured each. \
             Paced: a fixed {paced:.0} req/s ({:.0}% of Sesame's full-speed rate above) over {} \
             connections, each due every {:.1} ms (at least 4 ms, as tokio's timer ticks every \
             millisecond), latency \
             counted from each request's scheduled time when its connection fell behind.\n",
            o2.rounds,
            o2.warmup.as_secs_f64(),
            o2.duration.as_secs_f64(),
            o.paced_fraction * 100.0,
            paced_connections(&o, paced),
            paced_connections(&o, paced) as f64 / paced * 1000.0,
        );
        let rows: Vec<(String, &Run)> = phase2
            .iter()
            .flat_map(|(mode, a, b)| {
                [
                    (format!("{mode}, no logins"), a),
                    (format!("{mode}, {rate} logins/s"), b),
                ]
            })
            .collect();
        let _ = writeln!(out, "{}", table(&rows));
        let _ = writeln!(
            out,
            "| load | logins done (failed) | login p50 ms | login p99 ms | p99 with logins ÷ p99 without | target | |\n\
             |---|---:|---:|---:|---:|---|---|"
        );
        for (mode, a, b) in &phase2 {
            let ratio = b.ms(0.99) / a.ms(0.99);
            let (ok, failed, lp50, lp99) = b.logins.as_ref().map_or((0, 0, 0.0, 0.0), |l| {
                (
                    l.ok,
                    l.failed,
                    l.hist.value_at_quantile(0.5) as f64 / 1000.0,
                    l.hist.value_at_quantile(0.99) as f64 / 1000.0,
                )
            });
            let _ = writeln!(
                out,
                "| {mode} | {ok} ({failed}) | {lp50:.1} | {lp99:.1} | {ratio:.2} | < 2 | {} |",
                verdict(ratio < 2.0 && failed == 0)
            );
        }
    }
    let _ = writeln!(out, "\nThe answers, checked before loading:\n");
    for (label, path, body) in &bodies {
        let _ = writeln!(out, "- {label}, `GET {path}`: `{body}`");
    }
    println!("{out}");
    Ok(())
}

async fn whoami_at(t: &Target<'_>) -> Res<String> {
    let mut s = connect(&t.server.addr).await?;
    let r = send(
        &mut s,
        Method::GET,
        &t.server.addr,
        t.path,
        Some(t.cookie),
        None,
    )
    .await?;
    let text = r.text();
    if r.status != 200 || !text.contains("\"authenticated\":true") {
        return Err(format!("{} {} answered {}: {text}", t.label, t.path, r.status).into());
    }
    Ok(text)
}

fn main() -> std::process::ExitCode {
    let o = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    sesame_bench::compare::exit_code(runtime, main_async(o))
}
