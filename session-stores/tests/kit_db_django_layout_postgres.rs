//! The conformance kit on the db store on exactly Django's table (`Versioning::Off`,
//! no version column: what a site sharing its table with Django may run), PostgreSQL
//! dialect (`SESSIONS_TEST_POSTGRES_URL`, default the local server). Each case gets its
//! own table, dropped when it ends. The versioned-save cases are skipped by capability.
//! No server: every case is skipped loudly, or fails under `CI=true`.

use session_kit_stores::db::{db_django_layout, Database};

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| db_django_layout(Database::test_postgres(), env))
}
