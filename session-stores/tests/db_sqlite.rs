//! The db store on SQLite: a real database file in a tempdir per test.
#![cfg(feature = "sqlite")]

#[macro_use]
mod common;

use common::Kind;

db_cases!(Kind::Sqlite);

db_test! {
    async fn clear_expired_removes_100k_rows() {
        common::cases::clear_100k(Kind::Sqlite).await
    }
}

db_test! {
    /// `migrate` creates exactly Django's table and indexes (rule E1), checked
    /// against the server's catalogue.
    async fn migrate_creates_exactly_djangos_schema() {
        common::schema::sqlite().await
    }
}
