//! The conformance kit on the db store on exactly Django's table (`Versioning::Off`,
//! no version column: what a site sharing its table with Django may run), SQLite
//! dialect, a scratch database file per case. The versioned-save cases are skipped by
//! capability.

use session_kit_stores::db::{db_django_layout, Database};

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| db_django_layout(Database::ScratchSqlite, env))
}
