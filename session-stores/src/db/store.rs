//! The store itself: [`DbStore`], its constructors and the contract. Migration, raw
//! access, versioned saves and the account index have files of their own.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_api::store::{AsyncAccountSessions, Lookup};
use session_api::{
    AsyncSessionStore, Capabilities, Clock, Error, Record, Result, SaveMode, SessionCodec,
    SessionData, SessionKey, Version,
};
use time::OffsetDateTime;

use super::extension::{ColumnType, ExtraColumn, ExtraValue, RecordExtension};
#[allow(unused_imports)] // Unused when no driver feature is enabled.
use super::params::{bind_extras, db_time, TimeRepr};
use super::pool::{db_error, on_connection, on_pool, timed_out, DbPool};
use super::sql::{validate_identifier, Dialect, Statements};
use super::versioning::token;
use super::{DbOptions, DbPoolOptions};

/// The base column names, which extra columns and the version column may not reuse.
const BASE_COLUMNS: [&str; 3] = ["session_key", "session_data", "expire_date"];

/// The database session store. Cheap to share behind an `Arc`; the pool is cloned
/// from the one given.
pub struct DbStore {
    pub(super) pool: DbPool,
    pub(super) table: String,
    pub(super) sql: Statements,
    pub(super) codec: SessionCodec,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) extension: Option<Arc<dyn RecordExtension>>,
    pub(super) clear_batch: u32,
    pub(super) timeout: Duration,
}

impl fmt::Debug for DbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbStore")
            .field("dialect", &self.pool.dialect())
            .field("table", &self.table)
            .field("extension", &self.extension)
            .field("versioned", &self.sql.update_if.is_some())
            .field("clear_batch", &self.clear_batch)
            .field("operation_timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A row as [`DbStore::fetch`] reads it, live or expired.
pub(super) struct StoredRow {
    /// `session_data`, as stored.
    pub(super) text: String,
    /// `expire_date`; `None` when this store cannot read it (hand-written SQLite text).
    pub(super) expires_at: Option<OffsetDateTime>,
    /// The version, on a versioned store.
    pub(super) version: Option<Version>,
}

impl StoredRow {
    /// Whether the row is live at `now` (`expire_date > now`, at the database's
    /// microsecond precision, as the statements compare). A row whose expiry cannot
    /// be read is not.
    pub(super) fn is_live(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| at > db_time(now))
    }
}

impl DbStore {
    /// A store over an existing pool (one of [`DbPool::connect`], or an sqlx pool of
    /// your own, which keeps its own size, timeouts and ping policy), honouring every
    /// [`DbOptions`] field. Validates the table name, the version column and the
    /// extension's columns; does no I/O (call [`migrate`](Self::migrate) to create
    /// the table).
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an invalid table or column name, an extra or
    /// version column that reuses a base column's name or another's, or an account
    /// column that is not a declared [`ColumnType::BigInt`] column.
    pub fn new(pool: impl Into<DbPool>, options: DbOptions) -> Result<Self> {
        let pool = pool.into();
        validate_identifier(&options.table)?;
        let columns = options
            .extension
            .as_ref()
            .map_or(&[][..], |ext| ext.columns());
        let version = options.versioning.column();
        let mut seen: Vec<String> = BASE_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        let added = columns.iter().map(ExtraColumn::name).chain(version);
        for name in added {
            validate_identifier(name)?;
            let lower = name.to_ascii_lowercase();
            if seen.contains(&lower) {
                return Err(Error::configuration(format!(
                    "session column {name:?} clashes with another column"
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
            version,
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

    pub(super) fn columns(&self) -> &[ExtraColumn] {
        self.extension.as_ref().map_or(&[][..], |ext| ext.columns())
    }

    /// The extension's values for `data` (none without an extension).
    pub(super) fn extra_values(&self, data: &SessionData) -> Vec<ExtraValue> {
        self.extension
            .as_ref()
            .map(|ext| ext.values(data))
            .unwrap_or_default()
    }

    /// `call` within the operation timeout ([`DbOptions::operation_timeout`]); past it,
    /// `call` is dropped (the [`Checkout`](super::pool::Checkout) it holds closes its
    /// connection) and the result is [`Error::Unavailable`].
    pub(super) async fn bounded<T>(&self, call: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or_else(|_| Err(timed_out(self.timeout)))
    }

    /// The row of `key`, live or expired, with its version on a versioned store: one
    /// query, whose caller judges the expiry.
    pub(super) async fn fetch(&self, key: &SessionKey) -> Result<Option<StoredRow>> {
        let versioned = self.sql.update_if.is_some();
        on_pool!(&self.pool, |pool, DB| {
            use sqlx::Row;
            let row = on_connection!(pool, self.timeout, |conn| {
                sqlx::query(&self.sql.load)
                    .bind(key.as_str())
                    .fetch_optional(conn)
            })
            .map_err(db_error)?;
            let Some(row) = row else { return Ok(None) };
            let text: String = row.try_get(0).map_err(db_error)?;
            let at: <DB as TimeRepr>::Time = row.try_get(1).map_err(db_error)?;
            let version = if versioned {
                Some(token(row.try_get::<i64, _>(2).map_err(db_error)?))
            } else {
                None
            };
            let expires_at = match <DB as TimeRepr>::from_db(at) {
                Ok(at) => Some(at),
                Err(err) => {
                    tracing::warn!(error = %err, "session row with an unreadable expire_date");
                    None
                }
            };
            Ok(Some(StoredRow {
                text,
                expires_at,
                version,
            }))
        })
    }

    /// `INSERT`; on a unique violation, takes over the key's row if it has expired
    /// (rule D4 with the expired-row case, H7: the key is free), then, if the row
    /// went meanwhile, inserts once more.
    async fn insert(
        &self,
        key: &SessionKey,
        encoded: &str,
        expires_at: OffsetDateTime,
        extras: Vec<ExtraValue>,
    ) -> Result<()> {
        let mut took_over = false;
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
                    if took_over {
                        return Err(Error::Create);
                    }
                    if self
                        .write_live_row(&self.sql.take_over, key, encoded, expires_at, &extras)
                        .await?
                    {
                        return Ok(());
                    }
                    took_over = true;
                }
                Err(err) => return Err(db_error(err)),
            }
        }
    }

    /// Runs `sql`, the plain update or the take-over of an expired row (both bind
    /// data, expiry, extras, key, now); true when it wrote the row. A retry after a
    /// lost connection that finds the row holding exactly `encoded` counts as done.
    async fn write_live_row(
        &self,
        sql: &str,
        key: &SessionKey,
        encoded: &str,
        expires_at: OffsetDateTime,
        extras: &[ExtraValue],
    ) -> Result<bool> {
        let now = self.clock.now();
        let mut lost = false;
        // MySQL reports rows matched, not changed: sqlx sets CLIENT_FOUND_ROWS.
        let affected: u64 = on_pool!(&self.pool, |pool, DB| {
            on_connection!(pool, self.timeout, retried = lost, |conn| {
                let query = sqlx::query(sql)
                    .bind(encoded)
                    .bind(<DB as TimeRepr>::to_db(expires_at));
                bind_extras(query, self.columns(), extras.to_vec())?
                    .bind(key.as_str())
                    .bind(<DB as TimeRepr>::to_db(now))
                    .execute(conn)
            })
            .map_err(db_error)?
            .rows_affected()
        });
        Ok(affected > 0 || (lost && self.holds(key, encoded).await?))
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
                let sql = &self.sql.update;
                if !self
                    .write_live_row(sql, &record.key, encoded, record.expires_at, &extras)
                    .await?
                {
                    // Rules D5, H7: the record vanished (logout, purge) or expired;
                    // never re-create or revive it.
                    return Err(Error::Update);
                }
            }
        }
        Ok(record.key.clone())
    }

    /// [`AsyncSessionStore::alookup`]: one query for the row, live or not.
    async fn lookup(&self, key: &SessionKey) -> Result<Lookup> {
        let now = self.clock.now();
        let Some(row) = self.fetch(key).await? else {
            return Ok(Lookup::Missing);
        };
        let Some(expires_at) = row.expires_at else {
            // An expiry this store cannot read: rule D7, it loads as absent.
            return Ok(Lookup::Missing);
        };
        if !row.is_live(now) {
            return Ok(Lookup::Expired);
        }
        Ok(match self.codec.decode_stored(&row.text) {
            Some(data) => {
                Lookup::Found(Record::new(key.clone(), data, expires_at).with_version(row.version))
            }
            None => Lookup::Missing,
        })
    }

    /// [`AsyncSessionStore::atouch`]: one `UPDATE` of the live row's expiry.
    async fn touch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        let now = self.clock.now();
        let affected: u64 = on_pool!(&self.pool, |pool, DB| {
            on_connection!(pool, self.timeout, |conn| {
                sqlx::query(&self.sql.touch)
                    .bind(<DB as TimeRepr>::to_db(expires_at))
                    .bind(key.as_str())
                    .bind(<DB as TimeRepr>::to_db(now))
                    .execute(conn)
            })
            .map_err(db_error)?
            .rows_affected()
        });
        // Rules V4, D5: a missing or expired record is not revived.
        if affected == 0 {
            return Err(Error::Update);
        }
        Ok(())
    }
}

#[async_trait]
impl AsyncSessionStore for DbStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::server_side()
            .with_list_by_account(self.sql.list_account.is_some())
            .with_versioned(self.sql.update_if.is_some())
            .with_touch(true)
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
        Ok(self.alookup(key).await?.into_record())
    }

    async fn alookup(&self, key: &SessionKey) -> Result<Lookup> {
        self.bounded(self.lookup(key)).await
    }

    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let encoded = self.codec.encode(&record.data)?;
        let extras = self.extra_values(&record.data);
        // One operation timeout for the whole save, the retry of a create included.
        self.bounded(self.save_encoded(record, mode, &encoded, extras))
            .await
    }

    async fn asave_if(&self, record: &Record, expected: Version) -> Result<Version> {
        // One operation timeout for the update and, on a miss, the query after it.
        self.bounded(self.save_if(record, expected)).await
    }

    async fn atouch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        self.bounded(self.touch(key, expires_at)).await
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

    fn accounts(&self) -> Option<&dyn AsyncAccountSessions> {
        self.sql
            .list_account
            .is_some()
            .then_some(self as &dyn AsyncAccountSessions)
    }
}
