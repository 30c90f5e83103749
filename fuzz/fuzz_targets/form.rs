//! libFuzzer on the `form` target (crates/sesame-fuzz/src/targets/form.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| (sesame_fuzz::targets::form::TARGET.run)(data));
