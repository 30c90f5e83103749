//! libFuzzer on the `session_data` target (crates/sesame-fuzz/src/targets/session_data.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| (sesame_fuzz::targets::session_data::TARGET.run)(data));
