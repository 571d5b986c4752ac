//! The conformance kit on the cache store over the shared Redis
//! (`SESSIONS_TEST_REDIS_URL`, default 127.0.0.1:6379) with its ids hashed at rest
//! (rule S3). Each case has its own key prefix, removed when it ends; no server: every
//! case is skipped loudly, or fails under `CI=true`.

use session_kit_stores::cache::{cache_redis, test_redis_url};
use session_kit_stores::hashed_ids::hashed;
use session_stores::hashed_ids::HashMode;

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| async {
        hashed(cache_redis(test_redis_url(), env).await?, HashMode::Hashed)
    })
}
