//! The conformance kit on cached_db over the shared Redis and SQLite (a scratch file
//! per case). Each case has its own key prefix, removed when it ends.

use session_kit_stores::cache::test_redis_url;
use session_kit_stores::cached_db::cached_db_redis;
use session_kit_stores::db::Database;

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| {
        cached_db_redis(Database::ScratchSqlite, test_redis_url(), env)
    })
}
