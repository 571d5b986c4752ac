//! The whole conformance kit on the db store with extra columns (custom records, rule
//! E2: the `account_id` column of `AccountIdColumn`), PostgreSQL dialect
//! (`SESSIONS_TEST_POSTGRES_URL`, default the local server). Each case gets its own
//! table, dropped when it ends. No server: every case is skipped loudly, or fails
//! under `CI=true`.

use session_kit_stores::db::{db_account_id, Database};

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| db_account_id(Database::test_postgres(), env))
}
