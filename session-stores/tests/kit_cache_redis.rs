//! The conformance kit on the cache store over the shared Redis
//! (`SESSIONS_TEST_REDIS_URL`, default 127.0.0.1:6379). Each case has its own key
//! prefix, whose keys are removed when it ends. Redis keeps real time while the kit
//! moves a manual clock: the expiry stored in each value is what expires sessions
//! here. No server: every case is skipped loudly, or fails under `CI=true`.

use session_kit_stores::cache::{cache_redis, test_redis_url};

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| cache_redis(test_redis_url(), env))
}
