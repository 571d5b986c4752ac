//! The conformance kit on the cache store over the in-process memory cache, both on
//! the kit's clock; raw access writes arbitrary text as the cached value.

fn main() -> std::process::ExitCode {
    session_conformance::test_main(session_kit_stores::cache::cache_memory)
}
