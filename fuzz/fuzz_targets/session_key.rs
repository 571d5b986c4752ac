#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_fuzzing::session_key(data));
