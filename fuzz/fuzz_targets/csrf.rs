//! libFuzzer on the `csrf` target (crates/sesame-fuzz/src/targets/csrf.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| (sesame_fuzz::targets::csrf::TARGET.run)(data));
