//! Every fuzz target on its seeds, on the inputs that once broke it (`fuzz/regressions/`),
//! and on a few thousand mutations of the seeds: a target whose invariant no longer holds on
//! these fails here, in `cargo test --workspace`, without libFuzzer. The coverage-guided
//! campaign is `scripts/fuzz`.

use sesame_fuzz::TARGETS;
use sesame_fuzz::mutate::{Rng, mutate};
use std::path::Path;

/// Mutations per target: about a second for all targets in a debug build.
const MUTATIONS: usize = 3_000;

#[test]
fn every_target_holds_on_its_seeds_and_their_mutations() {
    for target in TARGETS {
        let seeds = (target.seeds)();
        assert!(!seeds.is_empty(), "{} has no seeds", target.name);
        for seed in &seeds {
            (target.run)(seed);
        }
        let mut rng = Rng::new(0x5e5a_3e00 ^ target.name.len() as u64);
        let mut pool = seeds.clone();
        for _ in 0..MUTATIONS {
            let a = &pool[rng.below(pool.len())];
            let b = &pool[rng.below(pool.len())];
            let input = mutate(&mut rng, a, b);
            (target.run)(&input);
            if pool.len() < 64 {
                pool.push(input);
            }
        }
    }
}

#[test]
fn inputs_that_once_broke_a_target_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    let mut ran = 0;
    for target in TARGETS {
        let Ok(entries) = std::fs::read_dir(dir.join(target.name)) else {
            continue;
        };
        for entry in entries.flatten() {
            let data = std::fs::read(entry.path()).unwrap();
            (target.run)(&data);
            ran += 1;
        }
    }
    println!("{ran} regression inputs");
}
