//! The whole conformance kit on the db store with extra columns (custom records, rule
//! E2: the `account_id` column of `AccountIdColumn`), SQLite dialect: a scratch
//! database file per case, needing no server.

use session_kit_stores::db::{db_account_id, Database};

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| db_account_id(Database::ScratchSqlite, env))
}
