//! libFuzzer on the `host` target (crates/sesame-fuzz/src/targets/host.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| (sesame_fuzz::targets::host::TARGET.run)(data));
