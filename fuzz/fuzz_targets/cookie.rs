//! libFuzzer on the `cookie` target (crates/sesame-fuzz/src/targets/cookie.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| (sesame_fuzz::targets::cookie::TARGET.run)(data));
