//! The conformance kit on cached_db over the shared Redis and SQLite (a scratch file
//! per case) in Django's format (`CacheFormat::Django`). Each case has its own
//! `KEY_PREFIX`, whose keys are removed when it ends.

use session_kit_stores::cache::test_redis_url;
use session_kit_stores::cached_db::cached_db_redis_django;
use session_kit_stores::db::Database;

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| {
        cached_db_redis_django(Database::ScratchSqlite, test_redis_url(), env)
    })
}
