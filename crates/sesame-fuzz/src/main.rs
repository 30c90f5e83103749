//! `sesame-fuzz`: the helper `scripts/fuzz` calls beside the libFuzzer binaries.
//!
//! ```text
//! sesame-fuzz list                      the targets, one a line: name, then what it checks
//! sesame-fuzz seeds DIR                 write every target's seeds into DIR/<target>/
//! sesame-fuzz replay TARGET FILE...     run files through a target (a crash reproduces here)
//! sesame-fuzz mutate TARGET COUNT SEED  COUNT mutated inputs, no coverage (a fallback)
//! ```
//!
//! It prints "Done N runs" as libFuzzer does, so that the script counts both alike.

use sesame_fuzz::mutate::{Rng, mutate};
use sesame_fuzz::{TARGETS, target};
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["list"] => {
            for t in TARGETS {
                println!("{}\t{}", t.name, t.about);
            }
            ExitCode::SUCCESS
        }
        ["seeds", dir] => match write_seeds(Path::new(dir)) {
            Ok(n) => {
                println!("{n} seeds written");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("sesame-fuzz: {e}");
                ExitCode::FAILURE
            }
        },
        ["replay", name, files @ ..] => {
            let Some(t) = target(name) else {
                return unknown(name);
            };
            for f in files {
                match std::fs::read(f) {
                    Ok(data) => (t.run)(&data),
                    Err(e) => {
                        eprintln!("sesame-fuzz: {f}: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            println!("Done {} runs", files.len());
            ExitCode::SUCCESS
        }
        ["mutate", name, count, seed] => {
            let Some(t) = target(name) else {
                return unknown(name);
            };
            let (Ok(count), Ok(seed)) = (count.parse::<u64>(), seed.parse::<u64>()) else {
                eprintln!("sesame-fuzz: COUNT and SEED are numbers");
                return ExitCode::from(2);
            };
            let mut pool = (t.seeds)();
            let mut rng = Rng::new(seed);
            for i in 0..count {
                let a = rng.below(pool.len());
                let b = rng.below(pool.len());
                let input = mutate(&mut rng, &pool[a], &pool[b]);
                (t.run)(&input);
                // Keep a moving pool, so that mutations pile up (bounded size and length).
                if input.len() < 4096 {
                    if pool.len() < 256 {
                        pool.push(input);
                    } else if i % 7 == 0 {
                        let at = rng.below(pool.len());
                        pool[at] = input;
                    }
                }
            }
            println!("Done {count} runs");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "usage: sesame-fuzz list | seeds DIR | replay TARGET FILE... | mutate TARGET COUNT SEED"
            );
            ExitCode::from(2)
        }
    }
}

fn unknown(name: &str) -> ExitCode {
    eprintln!("sesame-fuzz: no target {name:?} (see `sesame-fuzz list`)");
    ExitCode::from(2)
}

fn write_seeds(dir: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    for t in TARGETS {
        let d = dir.join(t.name);
        std::fs::create_dir_all(&d)?;
        for (i, seed) in (t.seeds)().iter().enumerate() {
            std::fs::write(d.join(format!("seed-{i}")), seed)?;
            n += 1;
        }
    }
    Ok(n)
}
