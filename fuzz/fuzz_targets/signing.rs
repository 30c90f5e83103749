//! libFuzzer on the `signing` target (crates/sesame-fuzz/src/targets/signing.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| (sesame_fuzz::targets::signing::TARGET.run)(data));
