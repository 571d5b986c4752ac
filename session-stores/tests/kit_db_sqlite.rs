//! The conformance kit on the db store, SQLite dialect: a scratch database file per
//! case, needing no server.

use session_kit_stores::db::{db, Database};

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| db(Database::ScratchSqlite, env))
}
