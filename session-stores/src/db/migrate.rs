//! `migrate`: Django's table and indexes, the extension's columns, and the version
//! column (added to a table that lacks it, Django's own included).

use session_api::Result;

use super::pool::{db_error, on_connection, on_pool};
use super::sql::VersionColumnSql;
use super::store::DbStore;

impl DbStore {
    /// Creates the table and Django's indexes if they do not exist (idempotent; safe
    /// to call at every start): what Django's `sqlmigrate sessions 0001` creates, index
    /// names included (`<table>_expire_date_<md5>`, and on PostgreSQL
    /// `<table>_session_key_<md5>_like` with `varchar_pattern_ops`), plus the columns
    /// and indexes of the extension. Then, on a versioned store
    /// ([`Versioning::Column`](super::Versioning::Column), the default), adds the
    /// version column to a table that lacks it, whoever created the table:
    /// `ALTER TABLE <table> ADD COLUMN <version> bigint NOT NULL DEFAULT 0`, after a
    /// catalogue query, so a table that has it takes no lock. Existing rows get
    /// version 0. Otherwise an existing table is left as it is: columns an extension
    /// adds later need an `ALTER TABLE` of your own (see `docs/backends.md
    /// (Migration)`).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](session_api::Error::Unavailable) when the database
    /// cannot be reached, [`Error::Backend`](session_api::Error::Backend) when a
    /// statement fails.
    pub async fn migrate(&self) -> Result<()> {
        let statements = std::iter::once(&self.sql.create_table).chain(&self.sql.create_indexes);
        for sql in statements {
            // Each statement has the operation timeout of its own.
            self.bounded(self.execute_raw(sql)).await?;
        }
        if let Some(column) = &self.sql.version_column {
            if !self.bounded(self.has_column(column)).await? {
                let added = self.bounded(self.execute_raw(&column.add)).await;
                // Another process may have added it meanwhile (SQLite and MySQL have
                // no `ADD COLUMN IF NOT EXISTS`): then the column is there.
                if added.is_err() && !self.bounded(self.has_column(column)).await? {
                    return added;
                }
            }
        }
        Ok(())
    }

    /// Runs one statement without parameters.
    async fn execute_raw(&self, sql: &str) -> Result<()> {
        on_pool!(&self.pool, |pool, DB| {
            // Not `RawSql::execute`: that `async fn` hides the executor's lifetime
            // from the `Send` proof (rust-lang/rust#100013).
            on_connection!(pool, self.timeout, |conn| {
                sqlx::Executor::execute(conn, sqlx::raw_sql(sql))
            })
            .map_err(db_error)?;
        });
        Ok(())
    }

    /// Whether the table has the version column, by the catalogue.
    async fn has_column(&self, column: &VersionColumnSql) -> Result<bool> {
        let (table, name) = &column.check_args;
        let count: i64 = on_pool!(&self.pool, |pool, DB| {
            on_connection!(pool, self.timeout, |conn| {
                sqlx::query_scalar(&column.check)
                    .bind(table.as_str())
                    .bind(name.as_str())
                    .fetch_one(conn)
            })
            .map_err(db_error)?
        });
        Ok(count > 0)
    }
}
