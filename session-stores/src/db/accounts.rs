//! The account index (rules E2, S5) of a store whose extension declares an account
//! column ([`AccountIdColumn`](super::AccountIdColumn)): the column is written with
//! the row on every save, so the index is always the table itself.

use async_trait::async_trait;
use session_api::store::{AccountSession, AsyncAccountSessions};
use session_api::{Error, Result, SessionKey};
use time::OffsetDateTime;

#[allow(unused_imports)] // Unused when no driver feature is enabled.
use super::params::TimeRepr;
use super::pool::{db_error, on_connection, on_pool};
use super::store::DbStore;

fn no_account() -> Error {
    Error::configuration(
        "this db store has no account column: configure an extension such as AccountIdColumn",
    )
}

impl DbStore {
    /// The live sessions of `account_id`: [`AsyncAccountSessions::alist_sessions`]
    /// as pairs.
    ///
    /// # Errors
    ///
    /// As [`AsyncAccountSessions::alist_sessions`].
    pub async fn list_account_sessions(
        &self,
        account_id: i64,
    ) -> Result<Vec<(SessionKey, OffsetDateTime)>> {
        let sessions = self.alist_sessions(account_id).await?;
        Ok(sessions
            .into_iter()
            .map(|s| (s.key, s.expires_at))
            .collect())
    }

    /// Deletes every live session of `account_id`:
    /// [`AsyncAccountSessions::arevoke_all`].
    ///
    /// # Errors
    ///
    /// As [`AsyncAccountSessions::arevoke_all`].
    pub async fn revoke_account_sessions(&self, account_id: i64) -> Result<u64> {
        self.arevoke_all(account_id).await
    }

    /// Runs a `DELETE` of the account's live rows, with `current` spared when given.
    async fn revoke(&self, account: i64, current: Option<&SessionKey>) -> Result<u64> {
        let sql = match current {
            None => self.sql.revoke_account.as_deref(),
            Some(_) => self.sql.revoke_account_except.as_deref(),
        }
        .ok_or_else(no_account)?;
        let now = self.clock.now();
        self.bounded(async {
            on_pool!(&self.pool, |pool, DB| {
                let done = on_connection!(pool, self.timeout, |conn| {
                    let query = sqlx::query(sql).bind(account);
                    let query = match current {
                        Some(key) => query.bind(key.as_str()),
                        None => query,
                    };
                    query.bind(<DB as TimeRepr>::to_db(now)).execute(conn)
                });
                Ok(done.map_err(db_error)?.rows_affected())
            })
        })
        .await
    }
}

/// The index of a store with an account column; [`DbStore`]'s `accounts()` gives it
/// only then. Without one, every method is [`Error::Configuration`].
///
/// Expired rows are never listed, and a revoke counts and deletes the live sessions
/// only (expired rows go with `clear_expired`, as every expired row does). Rows
/// whose key is not a valid session key are left out of the listing.
#[async_trait]
impl AsyncAccountSessions for DbStore {
    /// The rows whose account column equals `account` and `expire_date > now`,
    /// soonest expiry first (ties by key).
    async fn alist_sessions(&self, account: i64) -> Result<Vec<AccountSession>> {
        let sql = self.sql.list_account.as_deref().ok_or_else(no_account)?;
        let now = self.clock.now();
        let rows: Vec<(String, OffsetDateTime)> = self
            .bounded(async {
                on_pool!(&self.pool, |pool, DB| {
                    let rows: Vec<(String, <DB as TimeRepr>::Time)> =
                        on_connection!(pool, self.timeout, |conn| {
                            sqlx::query_as(sql)
                                .bind(account)
                                .bind(<DB as TimeRepr>::to_db(now))
                                .fetch_all(conn)
                        })
                        .map_err(db_error)?;
                    // One row with an expire_date this store cannot read (text written
                    // by hand into SQLite) is skipped, as a lookup treats it, rather
                    // than failing the whole listing.
                    Ok(rows
                        .into_iter()
                        .filter_map(|(key, at)| match <DB as TimeRepr>::from_db(at) {
                            Ok(at) => Some((key, at)),
                            Err(err) => {
                                tracing::warn!(
                                    target: "sessions",
                                    error = %err,
                                    key_prefix = key.get(..4).unwrap_or(""),
                                    "account index: skipped a session row with an unreadable expire_date"
                                );
                                None
                            }
                        })
                        .collect::<Vec<_>>())
                })
            })
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(key, at)| {
                SessionKey::parse(&key)
                    .ok()
                    .map(|key| AccountSession::new(key, at))
            })
            .collect())
    }

    /// One `DELETE ... WHERE account = ? AND expire_date > now`.
    async fn arevoke_all(&self, account: i64) -> Result<u64> {
        self.revoke(account, None).await
    }

    /// One `DELETE ... WHERE account = ? AND session_key <> ? AND expire_date > now`.
    async fn arevoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64> {
        self.revoke(account, Some(current)).await
    }
}
