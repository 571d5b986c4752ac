//! The db store on MySQL/MariaDB (`SESSIONS_TEST_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/test`). Skips loudly when the server does not answer,
//! fails instead under `CI=true`.
#![cfg(feature = "mysql")]

#[macro_use]
mod common;

use common::Kind;

db_cases!(Kind::MySql);

db_test! {
    async fn clear_expired_removes_100k_rows() {
        common::cases::clear_100k(Kind::MySql).await
    }
}

db_test! {
    /// `migrate` creates exactly Django's table and indexes (rule E1), checked
    /// against the server's catalogue.
    async fn migrate_creates_exactly_djangos_schema() {
        common::schema::mysql().await
    }
}
