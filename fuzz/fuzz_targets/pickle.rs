//! libFuzzer on the `pickle` target (crates/sesame-fuzz/src/targets/pickle.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| (sesame_fuzz::targets::pickle::TARGET.run)(data));
