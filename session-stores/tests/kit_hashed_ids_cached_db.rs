//! The conformance kit on cached_db over the shared Redis and SQLite (a scratch file
//! per case) with its ids hashed at rest (rule S3): both layers hold stored ids only.

use session_kit_stores::cache::test_redis_url;
use session_kit_stores::cached_db::cached_db_redis;
use session_kit_stores::db::Database;
use session_kit_stores::hashed_ids::hashed;
use session_stores::hashed_ids::HashMode;

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| async {
        let harness = cached_db_redis(Database::ScratchSqlite, test_redis_url(), env).await?;
        hashed(harness, HashMode::Hashed)
    })
}
