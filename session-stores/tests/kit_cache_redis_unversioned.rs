//! The conformance kit on the cache store over the shared Redis without versions
//! (`CacheVersioning::Off`: Django's last-writer-wins saves, a plain `SET XX PX` where
//! a versioned save on Redis 7 runs a script). The versioned-save cases are skipped by
//! capability; everything else must hold as on the versioned store. No server: every
//! case is skipped loudly, or fails under `CI=true`.

use session_kit_stores::cache::{cache_redis_unversioned, test_redis_url};

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| cache_redis_unversioned(test_redis_url(), env))
}
