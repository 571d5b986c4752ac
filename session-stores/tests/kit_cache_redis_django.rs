//! The conformance kit on the cache store over the shared Redis
//! (`SESSIONS_TEST_REDIS_URL`, default 127.0.0.1:6379) in Django's format
//! (`CacheFormat::Django`: Django's keys, pickled values). Each case has its own
//! `KEY_PREFIX`, whose keys are removed when it ends. The kit's manual clock expires
//! the sessions through the stamp each value carries after its pickle. No server:
//! every case is skipped loudly, or fails under `CI=true`.

use session_kit_stores::cache::{cache_redis_django, test_redis_url};

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| cache_redis_django(test_redis_url(), env))
}
