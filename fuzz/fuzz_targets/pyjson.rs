//! libFuzzer on the `pyjson` target (crates/sesame-fuzz/src/targets/pyjson.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| (sesame_fuzz::targets::pyjson::TARGET.run)(data));
