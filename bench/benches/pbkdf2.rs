//! PBKDF2-HMAC-SHA256, 1,000,000 iterations, 32-byte key: Sesame's `Pbkdf2Hasher` against
//! the other implementations it could have used, side by side in one process.
//!
//! Every implementation derives the key for the same password and salt (`bench/inputs.json`)
//! once per round, in an order that rotates from round to round, so that a slower moment of
//! the machine hits them all alike. One warm-up round is not counted. The contenders:
//!
//! - `sesame`: `Pbkdf2Hasher::sha256(1_000_000).encode(password, salt)` (the whole stored
//!   string, through whichever backend sesame-core uses on this CPU);
//! - `ring`: `ring::pbkdf2::derive`;
//! - `rustcrypto`: the pure-Rust `pbkdf2` + `sha2` crates;
//! - `aws-lc-rs`: `aws_lc_rs::pbkdf2::derive`, with `--features aws-lc` only;
//! - `python-hashlib`: `hashlib.pbkdf2_hmac` (OpenSSL) in a Python child process, when
//!   `SESAME_BENCH_PYTHON` names an interpreter; it times itself with `perf_counter_ns`
//!   around the call alone, and is told when to run over a pipe.
//!
//! All of them must produce the same key, or the bench stops. It prints a table of the median
//! and the fastest run in milliseconds and the ratio of Sesame to the fastest other contender.
//!
//! Environment: `SESAME_PBKDF2_RUNS` (counted rounds, default 7), `SESAME_PBKDF2_ITERATIONS`
//! (default from `inputs.json`, 1,000,000), `SESAME_BENCH_PYTHON`, and `SESAME_BENCH_JSON`: a
//! file to append one JSON line per contender to (what `bench/run-core.sh` reads).
//!
//! Without `--bench` (as `cargo test --benches` runs it) it only checks that every contender
//! agrees at 1,000 iterations, in one round.
#![allow(
    clippy::expect_used,
    reason = "a bench whose setup fails must stop, not measure something else"
)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use sesame_bench::{Inputs, median};
use sesame_core::auth::hashers::{PasswordHasher, Pbkdf2Hasher};
use std::io::{BufRead, BufReader, Write};
use std::num::NonZeroU32;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

/// Allowed ratio of Sesame to the fastest other implementation (from the project's goal).
const GOAL: f64 = 1.05;

/// What the Python child runs: one `pbkdf2_hmac` per line read, answering
/// `<nanoseconds> <hex key>`.
const PYTHON_CHILD: &str = r#"
import hashlib, ssl, sys, time
password, salt, iterations = sys.argv[1].encode(), sys.argv[2].encode(), int(sys.argv[3])
print(f"python-hashlib ({sys.version.split()[0]}, {ssl.OPENSSL_VERSION})", flush=True)
for _ in sys.stdin:
    t = time.perf_counter_ns()
    key = hashlib.pbkdf2_hmac("sha256", password, salt, iterations, 32)
    t = time.perf_counter_ns() - t
    print(t, key.hex(), flush=True)
"#;

/// One timed derivation: nanoseconds and the derived key.
type Run = (f64, Vec<u8>);

struct Python {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Python {
    fn spawn(interpreter: &str, inputs: &Inputs, iterations: u32) -> (Self, String) {
        let mut child = Command::new(interpreter)
            .args(["-c", PYTHON_CHILD, &inputs.password, &inputs.salt])
            .arg(iterations.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("SESAME_BENCH_PYTHON={interpreter:?} does not start ({e}); give an absolute path: benches run in bench/"));
        let stdin = child.stdin.take().expect("child stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("child stdout"));
        let mut label = String::new();
        stdout.read_line(&mut label).expect("python answers");
        let python = Self {
            child,
            stdin,
            stdout,
        };
        (python, label.trim().to_owned())
    }

    fn run(&mut self) -> Run {
        self.stdin.write_all(b"\n").expect("write to python");
        self.stdin.flush().expect("flush to python");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("python answers");
        let (ns, key) = line
            .trim()
            .split_once(' ')
            .expect("`<ns> <hex>` from python");
        let key = (0..key.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&key[i..i + 2], 16).expect("hex key"))
            .collect();
        (ns.parse().expect("nanoseconds"), key)
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        // Stop the child; it would also end when its stdin closes.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Time `f` once.
fn timed(f: impl FnOnce() -> Vec<u8>) -> Run {
    let start = Instant::now();
    let key = f();
    (start.elapsed().as_nanos() as f64, key)
}

struct Contender<'a> {
    id: &'static str,
    label: String,
    run: Box<dyn FnMut() -> Run + 'a>,
    times: Vec<f64>,
}

fn contenders<'a>(
    inputs: &'a Inputs,
    iterations: u32,
    python: Option<&'a mut Python>,
) -> Vec<Contender<'a>> {
    let password = inputs.password.as_bytes();
    let salt = inputs.salt.as_bytes();
    let n = NonZeroU32::new(iterations).expect("iterations > 0");
    let sesame = Pbkdf2Hasher::sha256(iterations);
    let mut list = vec![
        Contender {
            id: "sesame",
            label: "sesame Pbkdf2Hasher::encode".into(),
            run: Box::new(move || {
                let start = Instant::now();
                let encoded = sesame
                    .encode(&inputs.password, &inputs.salt)
                    .expect("encode");
                let ns = start.elapsed().as_nanos() as f64;
                let b64 = encoded.rsplit('$').next().unwrap_or_default();
                (ns, STANDARD.decode(b64).expect("base64 hash"))
            }),
            times: Vec::new(),
        },
        Contender {
            id: "ring",
            label: "ring::pbkdf2::derive".into(),
            run: Box::new(move || {
                timed(|| {
                    let mut out = vec![0u8; 32];
                    ring::pbkdf2::derive(
                        ring::pbkdf2::PBKDF2_HMAC_SHA256,
                        n,
                        salt,
                        password,
                        &mut out,
                    );
                    out
                })
            }),
            times: Vec::new(),
        },
        Contender {
            id: "rustcrypto",
            label: "pbkdf2 + sha2 (pure Rust)".into(),
            run: Box::new(move || {
                timed(|| {
                    let mut out = vec![0u8; 32];
                    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, &mut out);
                    out
                })
            }),
            times: Vec::new(),
        },
    ];
    #[cfg(feature = "aws-lc")]
    list.push(Contender {
        id: "aws-lc-rs",
        label: "aws_lc_rs::pbkdf2::derive".into(),
        run: Box::new(move || {
            timed(|| {
                let mut out = vec![0u8; 32];
                aws_lc_rs::pbkdf2::derive(
                    aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
                    n,
                    salt,
                    password,
                    &mut out,
                );
                out
            })
        }),
        times: Vec::new(),
    });
    if let Some(python) = python {
        list.push(Contender {
            id: "python-hashlib",
            label: String::new(),
            run: Box::new(move || python.run()),
            times: Vec::new(),
        });
    }
    list
}

/// Whether the CPU has the SHA instructions (SHA-NI on x86) that some implementations use.
fn cpu_sha_extensions() -> Option<bool> {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        Some(std::arch::is_x86_feature_detected!("sha"))
    }
    #[cfg(target_arch = "aarch64")]
    {
        Some(std::arch::is_aarch64_feature_detected!("sha2"))
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        None
    }
}

fn env_u32(name: &str) -> Option<u32> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let inputs = Inputs::load().expect("bench/inputs.json parses");
    let (iterations, runs) = if bench_mode {
        (
            env_u32("SESAME_PBKDF2_ITERATIONS").unwrap_or(inputs.pbkdf2_iterations),
            env_u32("SESAME_PBKDF2_RUNS").unwrap_or(7).max(1) as usize,
        )
    } else {
        (1_000, 1)
    };

    let python_exe = std::env::var("SESAME_BENCH_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    let mut python = python_exe.map(|exe| Python::spawn(&exe, &inputs, iterations));
    let python_label = python.as_ref().map(|(_, label)| label.clone());
    let mut list = contenders(&inputs, iterations, python.as_mut().map(|(p, _)| p));
    if let Some(label) = python_label {
        if let Some(c) = list.iter_mut().find(|c| c.id == "python-hashlib") {
            c.label = label;
        }
    }

    // Round 0 warms up and checks that everyone derives the same key.
    let mut reference: Option<Vec<u8>> = None;
    let k = list.len();
    for round in 0..=runs {
        for i in 0..k {
            let c = &mut list[(round + i) % k];
            let (ns, key) = (c.run)();
            match &reference {
                None => reference = Some(key),
                Some(r) => assert_eq!(&key, r, "{} derives a different key", c.id),
            }
            if round > 0 || !bench_mode {
                c.times.push(ns);
            }
        }
    }
    if !bench_mode {
        println!(
            "pbkdf2: {k} implementations agree at {iterations} iterations (run with --bench to time them)"
        );
        return;
    }

    let medians: Vec<f64> = list.iter().map(|c| median(&c.times)).collect();
    let fastest = medians.iter().copied().fold(f64::INFINITY, f64::min);
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let sha = match cpu_sha_extensions() {
        Some(true) => "with",
        Some(false) => "without",
        None => "unknown",
    };
    println!();
    println!(
        "PBKDF2-HMAC-SHA256, {iterations} iterations, 32-byte key; {runs} interleaved runs each \
         after one warm-up round; {cpus} CPUs, {sha} SHA extensions"
    );
    println!(
        "{:<58} {:>10} {:>10} {:>10}",
        "implementation", "median ms", "min ms", "/ fastest"
    );
    for (c, m) in list.iter().zip(&medians) {
        let min = c.times.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{:<58} {:>10.1} {:>10.1} {:>10.3}",
            c.label,
            m / 1e6,
            min / 1e6,
            m / fastest
        );
    }
    let (best_other, best_other_ms) = list
        .iter()
        .zip(&medians)
        .filter(|(c, _)| c.id != "sesame")
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(c, m)| (c.id, *m))
        .expect("at least one other contender");
    let ratio = medians[0] / best_other_ms;
    println!(
        "Sesame / fastest other ({best_other}): {ratio:.3} (goal <= {GOAL}: {})",
        if ratio <= GOAL { "met" } else { "NOT met" }
    );

    if let Some(path) = std::env::var_os("SESAME_BENCH_JSON") {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("open SESAME_BENCH_JSON");
        for (c, m) in list.iter().zip(&medians) {
            let min = c.times.iter().copied().fold(f64::INFINITY, f64::min);
            let line = json!({
                "id": format!("pbkdf2/{}", c.id),
                "label": c.label,
                "median_ns": m,
                "min_ns": min,
                "runs": c.times.len(),
                "iterations": iterations,
                "cpu_sha_extensions": cpu_sha_extensions(),
            });
            writeln!(file, "{line}").expect("write SESAME_BENCH_JSON");
        }
    }
}
