//! The conformance kit on the db store (SQLite, a scratch file per case) with its ids
//! hashed at rest (rule S3); raw access reads the rows under their stored ids.

use session_kit_stores::db::{db, Database};
use session_kit_stores::hashed_ids::hashed;
use session_stores::hashed_ids::HashMode;

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| async {
        hashed(db(Database::ScratchSqlite, env).await?, HashMode::Hashed)
    })
}
