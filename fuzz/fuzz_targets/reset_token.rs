//! libFuzzer on the `reset_token` target (crates/sesame-fuzz/src/targets/reset_token.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| (sesame_fuzz::targets::reset_token::TARGET.run)(data));
