//! The fuzz targets of Sesame: every parser of outside input, each with the invariants that
//! fit it (beyond "does not panic"). One function per target takes the fuzzer's raw bytes;
//! [`TARGETS`] lists them with seed inputs.
//!
//! Three drivers run the same functions:
//! - `fuzz/` (cargo-fuzz's layout, outside the workspace because of its instrumentation
//!   flags): one libFuzzer binary per target, coverage-guided; `scripts/fuzz` runs them all;
//! - `tests/smoke.rs`: every seed and a few thousand derived inputs per target, in
//!   `cargo test --workspace`, so that a target that no longer builds or whose invariant no
//!   longer holds on the seeds fails CI even where libFuzzer is not run;
//! - anything else that calls [`run`] with bytes (a crash file, for one).
//!
//! A target reports a violation by panicking, which is what libFuzzer treats as a crash.
//!
//! This crate is a test harness, not a library to depend on. To replay a crash file:
//!
//! ```
//! // Every seed of a target must pass its invariants.
//! let cookie = sesame_fuzz::TARGETS.iter().find(|t| t.name == "cookie").unwrap();
//! for seed in (cookie.seeds)() {
//!     assert!(sesame_fuzz::run("cookie", &seed));
//! }
//! assert!(!sesame_fuzz::run("no-such-target", b"")); // unknown names run nothing
//! ```

mod input;
pub mod mutate;
pub mod targets;

pub use input::{Input, join};

/// One fuzz target: a name (the libFuzzer binary and corpus directory are named after it),
/// the function that takes one input, and the seeds that start its corpus.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// `fuzz/fuzz_targets/<name>.rs`, `fuzz/corpus/<name>/`.
    pub name: &'static str,
    /// What the target exercises and asserts, one line (printed by `scripts/fuzz --list`).
    pub about: &'static str,
    /// Run one input; panics on a violated invariant.
    pub run: fn(&[u8]),
    /// Valid and near-valid inputs that show the fuzzer the format.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

/// Every target. **To add one**: write `targets::<name>::{run, seeds}`, add a line here, add
/// `fuzz/fuzz_targets/<name>.rs` (three lines, as the others) and its `[[bin]]` in
/// `fuzz/Cargo.toml`. `scripts/fuzz` and `tests/smoke.rs` pick it up from this list.
pub const TARGETS: &[Target] = &[
    targets::cookie::TARGET,
    targets::session_data::TARGET,
    targets::signing::TARGET,
    targets::pickle::TARGET,
    targets::form::TARGET,
    targets::next::TARGET,
    targets::csrf::TARGET,
    targets::reset_token::TARGET,
    targets::mongo_user::TARGET,
    targets::pyjson::TARGET,
    targets::host::TARGET,
    // New targets here (and in fuzz/Cargo.toml, fuzz/fuzz_targets/).
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Run one input through the target called `name`; `false` if there is no such target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match target(name) {
        Some(t) => {
            (t.run)(data);
            true
        }
        None => false,
    }
}
