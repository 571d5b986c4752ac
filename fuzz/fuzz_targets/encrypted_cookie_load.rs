#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_fuzzing::encrypted_cookie_load(data));
