//! The conformance kit on cached_db over the in-process memory cache and SQLite (a
//! scratch file per case): needs no server.

use session_kit_stores::cached_db::cached_db_memory;
use session_kit_stores::db::Database;

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| cached_db_memory(Database::ScratchSqlite, env))
}
