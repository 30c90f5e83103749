//! libFuzzer on the `mongo_user` target (crates/sesame-fuzz/src/targets/mongo_user.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| (sesame_fuzz::targets::mongo_user::TARGET.run)(data));
