//! The conformance kit on the db store, MySQL dialect (`SESSIONS_TEST_MYSQL_URL`,
//! default the local MariaDB). Each case gets its own table, dropped when it ends. No
//! server: every case is skipped loudly, or fails under `CI=true`.

use session_kit_stores::db::{db, Database};

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| db(Database::test_mysql(), env))
}
