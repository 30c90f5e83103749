//! libFuzzer on the `next` target (crates/sesame-fuzz/src/targets/next.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| (sesame_fuzz::targets::next::TARGET.run)(data));
