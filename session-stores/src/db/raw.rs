//! Raw access to the table, for tools and tests: `session_data` as stored.

use session_api::{Result, SessionKey};
use time::OffsetDateTime;

#[allow(unused_imports)] // Unused when no driver feature is enabled.
use super::params::TimeRepr;
use super::pool::{db_error, on_connection, on_pool};
use super::store::DbStore;

impl DbStore {
    /// Stores `session_data` as is under `key`, replacing any row, with `expire_date`
    /// (extra columns are left `NULL`; on a versioned store a replaced row's version
    /// moves on, as on every write). For tools and tests: importing records,
    /// planting fixtures. Normal writes go through the session API.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](session_api::Error::Unavailable) (the operation timeout
    /// included) or [`Error::Backend`](session_api::Error::Backend) when a statement
    /// fails.
    pub async fn write_raw(
        &self,
        key: &SessionKey,
        session_data: &str,
        expire_date: OffsetDateTime,
    ) -> Result<()> {
        self.bounded(async {
            on_pool!(&self.pool, |pool, DB| {
                on_connection!(pool, self.timeout, |conn| async {
                    let mut tx = sqlx::Connection::begin(conn).await?;
                    let updated = sqlx::query(&self.sql.update_raw)
                        .bind(session_data)
                        .bind(<DB as TimeRepr>::to_db(expire_date))
                        .bind(key.as_str())
                        .execute(&mut *tx)
                        .await?;
                    if updated.rows_affected() == 0 {
                        sqlx::query(&self.sql.insert_raw)
                            .bind(key.as_str())
                            .bind(session_data)
                            .bind(<DB as TimeRepr>::to_db(expire_date))
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await
                })
                .map_err(db_error)
            })
        })
        .await
    }

    /// The stored `session_data` and `expire_date` of `key`, expired or not.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](session_api::Error::Unavailable) (the operation timeout
    /// included) or [`Error::Backend`](session_api::Error::Backend) when the query
    /// fails; [`Error::Serialization`](session_api::Error::Serialization) when the
    /// stored `expire_date` cannot be read.
    pub async fn read_raw(&self, key: &SessionKey) -> Result<Option<(String, OffsetDateTime)>> {
        self.bounded(async {
            on_pool!(&self.pool, |pool, DB| {
                let row: Option<(String, <DB as TimeRepr>::Time)> =
                    on_connection!(pool, self.timeout, |conn| {
                        sqlx::query_as(&self.sql.read_raw)
                            .bind(key.as_str())
                            .fetch_optional(conn)
                    })
                    .map_err(db_error)?;
                match row {
                    Some((data, at)) => Ok(Some((data, <DB as TimeRepr>::from_db(at)?))),
                    None => Ok(None),
                }
            })
        })
        .await
    }

    /// Whether the row of `key` holds exactly `encoded`.
    pub(super) async fn holds(&self, key: &SessionKey, encoded: &str) -> Result<bool> {
        Ok(self
            .read_raw(key)
            .await?
            .is_some_and(|(data, _)| data == encoded))
    }
}
