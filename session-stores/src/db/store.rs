//! The store itself: [`DbStore`], its constructors, the contract, the account
//! listing and raw access.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_api::{
    AsyncSessionStore, Capabilities, Clock, Error, Record, Result, SaveMode, SessionCodec,
    SessionKey,
};
use time::OffsetDateTime;

use super::extension::{ColumnType, ExtraColumn, ExtraValue, RecordExtension};
#[allow(unused_imports)] // Unused when no driver feature is enabled.
use super::params::{bind_extras, TimeRepr};
use super::pool::{db_error, on_connection, on_pool, timed_out, DbPool};
use super::sql::{validate_identifier, Dialect, Statements};
use super::{DbOptions, DbPoolOptions};

/// The base column names, which extra columns may not reuse.
const BASE_COLUMNS: [&str; 3] = ["session_key", "session_data", "expire_date"];

/// The database session store. Cheap to share behind an `Arc`; the pool is cloned
/// from the one given.
pub struct DbStore {
    pool: DbPool,
    table: String,
    sql: Statements,
    codec: SessionCodec,
    clock: Arc<dyn Clock>,
    extension: Option<Arc<dyn RecordExtension>>,
    clear_batch: u32,
    timeout: Duration,
}

impl fmt::Debug for DbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbStore")
            .field("dialect", &self.pool.dialect())
            .field("table", &self.table)
            .field("extension", &self.extension)
            .field("clear_batch", &self.clear_batch)
            .field("operation_timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl DbStore {
    /// A store over an existing pool (one of [`DbPool::connect`], or an sqlx pool of
    /// your own, which keeps its own size, timeouts and ping policy), honouring every
    /// [`DbOptions`] field. Validates the table name and the extension's columns; does
    /// no I/O (call [`migrate`](Self::migrate) to create the table).
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an invalid table or column name, an extra column
    /// that reuses a base column's name or another's, or an account column that is
    /// not a declared [`ColumnType::BigInt`] column.
    pub fn new(pool: impl Into<DbPool>, options: DbOptions) -> Result<Self> {
        let pool = pool.into();
        validate_identifier(&options.table)?;
        let columns = options
            .extension
            .as_ref()
            .map_or(&[][..], |ext| ext.columns());
        let mut seen: Vec<String> = BASE_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        for column in columns {
            let lower = column.name().to_ascii_lowercase();
            if seen.contains(&lower) {
                return Err(Error::configuration(format!(
                    "extra session column {:?} clashes with another column",
                    column.name()
                )));
            }
            seen.push(lower);
        }
        let account = options.extension.as_ref().and_then(|e| e.account_column());
        if let Some(name) = account {
            let declared = columns
                .iter()
                .any(|c| c.name() == name && c.ty() == ColumnType::BigInt);
            if !declared {
                return Err(Error::configuration(format!(
                    "account column {name:?} is not a declared bigint extra column"
                )));
            }
        }
        let sql = Statements::build(
            pool.dialect(),
            &options.table,
            columns,
            account,
            options.clear_batch,
        )?;
        let codec = SessionCodec::new(
            &options.secret_keys,
            Arc::clone(&options.clock),
            options.serializer,
        )
        .with_limits(options.limits);
        Ok(DbStore {
            pool,
            table: options.table,
            sql,
            codec,
            clock: options.clock,
            extension: options.extension,
            clear_batch: options.clear_batch,
            timeout: options.timeout,
        })
    }

    /// Opens a pool for `url` on the default [`DbPoolOptions`] (see
    /// [`DbPool::connect`] for the URL forms) and builds the store on it with
    /// `options`. For another pool size, acquire timeout or ping policy, open the
    /// pool yourself: `DbStore::new(DbPool::connect(url, &pool_options).await?, options)`.
    ///
    /// # Errors
    ///
    /// As [`DbPool::connect`], then as [`DbStore::new`].
    pub async fn connect(url: &str, options: DbOptions) -> Result<Self> {
        let pool = DbPool::connect(url, &DbPoolOptions::default()).await?;
        Self::new(pool, options)
    }

    /// The pool (for sharing it, or closing it).
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// The SQL dialect.
    pub fn dialect(&self) -> Dialect {
        self.pool.dialect()
    }

    /// Where this store reads "now" from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The table name (a validated identifier).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The codec that writes `session_data` (Django's `get_decoded()` is
    /// `codec().decode(session_data)`, rule G7).
    pub fn codec(&self) -> &SessionCodec {
        &self.codec
    }

    fn columns(&self) -> &[ExtraColumn] {
        self.extension.as_ref().map_or(&[][..], |ext| ext.columns())
    }

    /// `call` within the operation timeout ([`DbOptions::operation_timeout`]); past it,
    /// `call` is dropped (the [`Checkout`] it holds closes its connection) and the
    /// result is [`Error::Unavailable`].
    async fn bounded<T>(&self, call: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or_else(|_| Err(timed_out(self.timeout)))
    }

    /// Creates the table and Django's indexes if they do not exist (idempotent; safe
    /// to call at every start): what Django's `sqlmigrate sessions 0001` creates, index
    /// names included (`<table>_expire_date_<md5>`, and on PostgreSQL
    /// `<table>_session_key_<md5>_like` with `varchar_pattern_ops`), plus the columns
    /// and indexes of the extension. An existing table is left as it is: columns an extension
    /// adds later need an `ALTER TABLE` of your own (see `docs/backends.md (Migration)`).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when the database cannot be reached, [`Error::Backend`] when
    /// a statement fails.
    pub async fn migrate(&self) -> Result<()> {
        let statements = std::iter::once(&self.sql.create_table).chain(&self.sql.create_indexes);
        for sql in statements {
            // Each statement has the operation timeout of its own.
            self.bounded(async {
                on_pool!(&self.pool, |pool, DB| {
                    // Not `RawSql::execute`: that `async fn` hides the executor's
                    // lifetime from the `Send` proof (rust-lang/rust#100013).
                    on_connection!(pool, self.timeout, |conn| {
                        sqlx::Executor::execute(conn, sqlx::raw_sql(sql))
                    })
                    .map_err(db_error)?;
                });
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// The live sessions of `account_id` (rows whose account column equals it and
    /// `expire_date > now`), soonest expiry first. Rows whose key is not a valid
    /// session key are left out.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] without an extension that declares an account column;
    /// [`Error::Unavailable`] (the operation timeout included) or [`Error::Backend`]
    /// when the query fails.
    pub async fn list_account_sessions(
        &self,
        account_id: i64,
    ) -> Result<Vec<(SessionKey, OffsetDateTime)>> {
        let sql = self.sql.list_account.as_deref().ok_or_else(no_account)?;
        let now = self.clock.now();
        let rows: Vec<(String, OffsetDateTime)> = self
            .bounded(async {
                on_pool!(&self.pool, |pool, DB| {
                    let rows: Vec<(String, <DB as TimeRepr>::Time)> =
                        on_connection!(pool, self.timeout, |conn| {
                            sqlx::query_as(sql)
                                .bind(account_id)
                                .bind(<DB as TimeRepr>::to_db(now))
                                .fetch_all(conn)
                        })
                        .map_err(db_error)?;
                    rows.into_iter()
                        .map(|(key, at)| Ok((key, <DB as TimeRepr>::from_db(at)?)))
                        .collect::<Result<_>>()
                })
            })
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(key, at)| SessionKey::parse(&key).ok().map(|key| (key, at)))
            .collect())
    }

    /// Deletes every session of `account_id`, live or expired; returns how many rows
    /// went. Sessions the user holds become empty on their next request.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] without an extension that declares an account column;
    /// [`Error::Unavailable`] (the operation timeout included) or [`Error::Backend`]
    /// when the statement fails.
    pub async fn revoke_account_sessions(&self, account_id: i64) -> Result<u64> {
        let sql = self.sql.revoke_account.as_deref().ok_or_else(no_account)?;
        self.bounded(async {
            on_pool!(&self.pool, |pool, DB| {
                let done = on_connection!(pool, self.timeout, |conn| {
                    sqlx::query(sql).bind(account_id).execute(conn)
                });
                Ok(done.map_err(db_error)?.rows_affected())
            })
        })
        .await
    }

    /// Stores `session_data` as is under `key`, replacing any row, with `expire_date`
    /// (extra columns are left `NULL`). For tools and tests: importing records,
    /// planting fixtures. Normal writes go through the session API.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] (the operation timeout included) or [`Error::Backend`]
    /// when a statement fails.
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
                    sqlx::query(&self.sql.delete)
                        .bind(key.as_str())
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(&self.sql.insert_raw)
                        .bind(key.as_str())
                        .bind(session_data)
                        .bind(<DB as TimeRepr>::to_db(expire_date))
                        .execute(&mut *tx)
                        .await?;
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
    /// [`Error::Unavailable`] (the operation timeout included) or [`Error::Backend`]
    /// when the query fails; [`Error::Serialization`] when the stored `expire_date`
    /// cannot be read.
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

    /// `INSERT`; on a unique violation, frees the key if its row has expired and
    /// retries once (rule D4 with the expired-row case).
    async fn insert(
        &self,
        key: &SessionKey,
        encoded: &str,
        expires_at: OffsetDateTime,
        extras: Vec<ExtraValue>,
    ) -> Result<()> {
        let mut freed = false;
        loop {
            let mut lost = false;
            let outcome: std::result::Result<_, sqlx::Error> = on_pool!(&self.pool, |pool, DB| {
                on_connection!(pool, self.timeout, retried = lost, |conn| {
                    let query = sqlx::query(&self.sql.insert)
                        .bind(key.as_str())
                        .bind(encoded)
                        .bind(<DB as TimeRepr>::to_db(expires_at));
                    let query = bind_extras(query, self.columns(), extras.clone())?;
                    query.execute(conn)
                })
                .map(drop)
            });
            match outcome {
                Ok(()) => return Ok(()),
                Err(err) if is_unique_violation(&err) => {
                    // The first attempt's connection died after sending it, so the
                    // row may be its own: exactly this text under this key is no
                    // other writer's (the signed text holds its signing time).
                    if lost && self.holds(key, encoded).await? {
                        return Ok(());
                    }
                    if freed || !self.delete_if_expired(key).await? {
                        return Err(Error::Create);
                    }
                    freed = true;
                }
                Err(err) => return Err(db_error(err)),
            }
        }
    }

    /// Whether the row of `key` holds exactly `encoded`.
    async fn holds(&self, key: &SessionKey, encoded: &str) -> Result<bool> {
        Ok(self
            .read_raw(key)
            .await?
            .is_some_and(|(data, _)| data == encoded))
    }

    /// Deletes the row of `key` only if it has expired; true when one went.
    async fn delete_if_expired(&self, key: &SessionKey) -> Result<bool> {
        let now = self.clock.now();
        let affected: u64 = on_pool!(&self.pool, |pool, DB| {
            on_connection!(pool, self.timeout, |conn| {
                sqlx::query(&self.sql.delete_if_expired)
                    .bind(key.as_str())
                    .bind(<DB as TimeRepr>::to_db(now))
                    .execute(conn)
            })
            .map_err(db_error)?
            .rows_affected()
        });
        Ok(affected > 0)
    }

    /// The statements of [`AsyncSessionStore::asave`] for an encoded record.
    async fn save_encoded(
        &self,
        record: &Record,
        mode: SaveMode,
        encoded: &str,
        extras: Vec<ExtraValue>,
    ) -> Result<SessionKey> {
        match mode {
            SaveMode::Create => {
                self.insert(&record.key, encoded, record.expires_at, extras)
                    .await?
            }
            SaveMode::Update => {
                if self
                    .update(&record.key, encoded, record.expires_at, extras)
                    .await?
                    == 0
                {
                    // Rules D5, H7: the record vanished (logout, purge) or expired;
                    // never re-create or revive it.
                    return Err(Error::Update);
                }
            }
        }
        Ok(record.key.clone())
    }

    /// `UPDATE` of the live row of `key`; the number of rows matched.
    async fn update(
        &self,
        key: &SessionKey,
        encoded: &str,
        expires_at: OffsetDateTime,
        extras: Vec<ExtraValue>,
    ) -> Result<u64> {
        let now = self.clock.now();
        // MySQL reports rows matched, not changed: sqlx sets CLIENT_FOUND_ROWS.
        let affected: u64 = on_pool!(&self.pool, |pool, DB| {
            on_connection!(pool, self.timeout, |conn| {
                let query = sqlx::query(&self.sql.update)
                    .bind(encoded)
                    .bind(<DB as TimeRepr>::to_db(expires_at));
                bind_extras(query, self.columns(), extras.clone())?
                    .bind(key.as_str())
                    .bind(<DB as TimeRepr>::to_db(now))
                    .execute(conn)
            })
            .map_err(db_error)?
            .rows_affected()
        });
        Ok(affected)
    }
}

fn no_account() -> Error {
    Error::configuration(
        "this db store has no account column: configure an extension such as AccountIdColumn",
    )
}

#[async_trait]
impl AsyncSessionStore for DbStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::server_side().with_list_by_account(self.sql.list_account.is_some())
    }

    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        let now = self.clock.now();
        self.bounded(async {
            on_pool!(&self.pool, |pool, DB| {
                let row = on_connection!(pool, self.timeout, |conn| {
                    sqlx::query(&self.sql.exists)
                        .bind(key.as_str())
                        .bind(<DB as TimeRepr>::to_db(now))
                        .fetch_optional(conn)
                });
                Ok(row.map_err(db_error)?.is_some())
            })
        })
        .await
    }

    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        let now = self.clock.now();
        let row: Option<(String, OffsetDateTime)> = self
            .bounded(async {
                on_pool!(&self.pool, |pool, DB| {
                    let row: Option<(String, <DB as TimeRepr>::Time)> =
                        on_connection!(pool, self.timeout, |conn| {
                            sqlx::query_as(&self.sql.load)
                                .bind(key.as_str())
                                .bind(<DB as TimeRepr>::to_db(now))
                                .fetch_optional(conn)
                        })
                        .map_err(db_error)?;
                    Ok(match row {
                Some((text, at)) => match <DB as TimeRepr>::from_db(at) {
                    Ok(at) => Some((text, at)),
                    // An expire_date this store cannot read (hand-written SQLite text):
                    // the row matched `expire_date > now` on the server, so it is live,
                    // but its expiry is unknown; rule D7: it loads as absent.
                    Err(err) => {
                        tracing::warn!(error = %err, "session row with an unreadable expire_date");
                        None
                    }
                },
                None => None,
            })
                })
            })
            .await?;
        let Some((text, expires_at)) = row else {
            return Ok(None);
        };
        Ok(self
            .codec
            .decode_stored(&text)
            .map(|data| Record::new(key.clone(), data, expires_at)))
    }

    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let encoded = self.codec.encode(&record.data)?;
        let extras = self
            .extension
            .as_ref()
            .map(|ext| ext.values(&record.data))
            .unwrap_or_default();
        // One operation timeout for the whole save, the retry of a create included.
        self.bounded(self.save_encoded(record, mode, &encoded, extras))
            .await
    }

    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        self.bounded(async {
            on_pool!(&self.pool, |pool, DB| {
                on_connection!(pool, self.timeout, |conn| {
                    sqlx::query(&self.sql.delete)
                        .bind(key.as_str())
                        .execute(conn)
                })
                .map_err(db_error)?;
            });
            Ok(())
        })
        .await
    }

    async fn aclear_expired(&self) -> Result<u64> {
        let now = self.clock.now();
        let mut total = 0;
        loop {
            // One statement per batch, each its own transaction (locks stay short) and
            // its own operation timeout.
            let removed: u64 = self
                .bounded(async {
                    on_pool!(&self.pool, |pool, DB| {
                        let done = on_connection!(pool, self.timeout, |conn| {
                            sqlx::query(&self.sql.clear_batch)
                                .bind(<DB as TimeRepr>::to_db(now))
                                .execute(conn)
                        });
                        Ok(done.map_err(db_error)?.rows_affected())
                    })
                })
                .await?;
            total += removed;
            if removed < u64::from(self.clear_batch) {
                return Ok(total);
            }
        }
    }
}
