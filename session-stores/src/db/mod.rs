//! The database store: Django's `django.contrib.sessions.backends.db` on SQLite,
//! PostgreSQL and MySQL/MariaDB through sqlx (features `sqlite`, `postgres`, `mysql`).
//!
//! The table is Django's `django_session` (rule E1) and `session_data` is Django's
//! encoding (rule F6, [`SessionCodec`]), so a Django site and this store can share
//! one table:
//!
//! | column | SQLite | PostgreSQL | MySQL / MariaDB |
//! | --- | --- | --- | --- |
//! | `session_key` | `varchar(40)` primary key | same | same |
//! | `session_data` | `text` | `text` | `longtext` |
//! | `expire_date` (indexed) | `datetime`: UTC text `YYYY-MM-DD HH:MM:SS[.ffffff]` | `timestamp with time zone` | `datetime(6)`, UTC |
//!
//! Semantics (rules D1..D8, E1, H6):
//!
//! * `save(must_create)` is a plain `INSERT`; a unique violation is [`Error::Create`],
//!   except that a row which has expired but is not purged yet is deleted and the
//!   insert retried once (rule H7: the key is free).
//! * `save` otherwise is `UPDATE ... WHERE session_key = ? AND expire_date > now`; no
//!   row is [`Error::Update`]. Never an upsert, so a concurrent logout is never undone.
//!   Stricter than Django (rule H7): an expired row counts as absent whether or not it
//!   was purged yet, so updating it is [`Error::Update`] rather than a revival.
//! * `load` and `exists` see only rows with `expire_date > now`; `load` gives `None`
//!   for a row whose data does not decode (a bad signature is logged, rule F7).
//! * `clear_expired` deletes rows with `expire_date < now` in bounded batches.
//! * "now" is always the store's injected [`Clock`], sent as a bound parameter (never
//!   the database's `NOW()`). Every value is a bound parameter; the only text put into
//!   SQL is the validated table and column names and the batch size.
//!
//! Custom records (rule E2): a [`RecordExtension`] adds columns filled from the data on
//! every save; [`AccountIdColumn`] is the seed's `account_id` example, which enables
//! [`DbStore::list_account_sessions`] and [`DbStore::revoke_account_sessions`].
//!
//! The store is async-native ([`AsyncSessionStore`]); the sync side comes from
//! [`SessionBackend::from_async`](session_api::SessionBackend::from_async). Connection
//! loss surfaces as [`Error::Backend`] on the call that hit it; the pool checks
//! connections before handing them out and opens new ones, so later calls recover.
//!
//! ```no_run
//! # async fn demo() -> session_api::Result<()> {
//! use std::sync::Arc;
//! use session_api::{SecretKeys, SessionBackend};
//! use session_stores::db::{AccountIdColumn, DbOptions, DbStore};
//!
//! let options = DbOptions::new(SecretKeys::new("django-secret-key"))
//!     .max_connections(5)
//!     .extension(Arc::new(AccountIdColumn::new()));
//! let store = DbStore::connect("postgres://app@127.0.0.1/site", options).await?;
//! store.migrate().await?;
//! let revoked = store.revoke_account_sessions(42).await?;
//! let backend = SessionBackend::from_async(Arc::new(store));
//! # let _ = (revoked, backend); Ok(()) }
//! ```

// Without a driver feature `DbPool` has no variant: the crate still builds (for
// `--features db` alone), every dispatch being unreachable.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(
        unreachable_code,
        unused_variables,
        unused_mut,
        dead_code,
        clippy::never_loop
    )
)]

mod extension;
mod params;
mod sql;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_api::{
    AsyncSessionStore, Capabilities, Clock, DecodeLimits, Error, JsonSerializer, Result,
    SecretKeys, Serializer, SessionCodec, SessionConfig, SessionData, SessionKey, SystemClock,
};
use time::OffsetDateTime;

pub use extension::{AccountIdColumn, ColumnType, ExtraColumn, ExtraValue, RecordExtension};
pub use sql::{validate_identifier, Dialect, MAX_IDENTIFIER_LEN};

#[allow(unused_imports)] // Unused when no driver feature is enabled.
use params::{bind_extras, TimeRepr};
use sql::Statements;

/// Django's table name.
pub const DEFAULT_TABLE: &str = "django_session";
/// Default pool size.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// Default wait for a free (or new) connection before a call fails.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of rows one `clear_expired` statement deletes.
pub const DEFAULT_CLEAR_BATCH: u32 = 5_000;

/// The base column names, which extra columns may not reuse.
const BASE_COLUMNS: [&str; 3] = ["session_key", "session_data", "expire_date"];

/// A connection pool of one of the compiled-in drivers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DbPool {
    /// SQLite (feature `sqlite`).
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// PostgreSQL (feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// MySQL or MariaDB (feature `mysql`).
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

/// Runs `$body` with `$p` bound to the concrete pool and `$db` naming its
/// `sqlx::Database`, once per compiled-in driver. The body is written once; the
/// compiler checks it against each driver's types.
macro_rules! on_pool {
    ($pool:expr, |$p:ident, $db:ident| $body:expr) => {
        match *$pool {
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite(ref $p) => {
                #[allow(dead_code)]
                type $db = ::sqlx::Sqlite;
                $body
            }
            #[cfg(feature = "postgres")]
            DbPool::Postgres(ref $p) => {
                #[allow(dead_code)]
                type $db = ::sqlx::Postgres;
                $body
            }
            #[cfg(feature = "mysql")]
            DbPool::MySql(ref $p) => {
                #[allow(dead_code)]
                type $db = ::sqlx::MySql;
                $body
            }
        }
    };
}

impl DbPool {
    /// The SQL dialect of this pool.
    pub fn dialect(&self) -> Dialect {
        on_pool!(self, |_p, DB| <DB as DialectOf>::DIALECT)
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        on_pool!(self, |p, DB| p.close().await)
    }
}

/// The dialect of each driver.
trait DialectOf {
    const DIALECT: Dialect;
}

#[cfg(feature = "sqlite")]
impl DialectOf for sqlx::Sqlite {
    const DIALECT: Dialect = Dialect::Sqlite;
}

#[cfg(feature = "postgres")]
impl DialectOf for sqlx::Postgres {
    const DIALECT: Dialect = Dialect::Postgres;
}

#[cfg(feature = "mysql")]
impl DialectOf for sqlx::MySql {
    const DIALECT: Dialect = Dialect::MySql;
}

#[cfg(feature = "sqlite")]
impl From<sqlx::SqlitePool> for DbPool {
    fn from(pool: sqlx::SqlitePool) -> Self {
        DbPool::Sqlite(pool)
    }
}

#[cfg(feature = "postgres")]
impl From<sqlx::PgPool> for DbPool {
    fn from(pool: sqlx::PgPool) -> Self {
        DbPool::Postgres(pool)
    }
}

#[cfg(feature = "mysql")]
impl From<sqlx::MySqlPool> for DbPool {
    fn from(pool: sqlx::MySqlPool) -> Self {
        DbPool::MySql(pool)
    }
}

/// How a [`DbStore`] is configured: the codec's secrets, the table, the pool, the
/// clock and an optional [`RecordExtension`].
///
/// ```
/// use std::time::Duration;
/// use session_api::SecretKeys;
/// use session_stores::db::DbOptions;
/// let options = DbOptions::new(SecretKeys::new("secret"))
///     .table("app_sessions")
///     .max_connections(4)
///     .acquire_timeout(Duration::from_secs(3))
///     .clear_batch_size(1_000);
/// assert_eq!(options.table_name(), "app_sessions");
/// ```
#[derive(Clone)]
pub struct DbOptions {
    table: String,
    max_connections: u32,
    acquire_timeout: Duration,
    clear_batch: u32,
    secret_keys: SecretKeys,
    serializer: Arc<dyn Serializer>,
    limits: DecodeLimits,
    clock: Arc<dyn Clock>,
    extension: Option<Arc<dyn RecordExtension>>,
}

impl fmt::Debug for DbOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbOptions")
            .field("table", &self.table)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("clear_batch", &self.clear_batch)
            .field("secret_keys", &self.secret_keys)
            .field("extension", &self.extension)
            .finish_non_exhaustive()
    }
}

impl DbOptions {
    /// Defaults: table `django_session`, JSON, the system clock, 10 connections, a
    /// 10 s acquire timeout, batches of 5,000, no extension.
    pub fn new(secret_keys: SecretKeys) -> Self {
        DbOptions {
            table: DEFAULT_TABLE.to_owned(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            clear_batch: DEFAULT_CLEAR_BATCH,
            secret_keys,
            serializer: Arc::new(JsonSerializer),
            limits: DecodeLimits::default(),
            clock: Arc::new(SystemClock),
            extension: None,
        }
    }

    /// The secrets, serializer and clock of `config`; defaults for the rest.
    pub fn from_config(config: &SessionConfig) -> Self {
        Self::new(config.secret_keys.clone())
            .serializer(Arc::clone(&config.serializer))
            .clock(Arc::clone(&config.clock))
    }

    /// The table name; checked as an SQL identifier when the store is built.
    #[must_use]
    pub fn table(mut self, name: impl Into<String>) -> Self {
        self.table = name.into();
        self
    }

    /// The configured table name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Pool size for [`DbStore::connect`] (at least 1).
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long [`DbStore::connect`]'s pool waits for a connection before a call fails
    /// with [`Error::Backend`].
    #[must_use]
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Rows deleted per `clear_expired` statement (at least 1).
    #[must_use]
    pub fn clear_batch_size(mut self, rows: u32) -> Self {
        self.clear_batch = rows.max(1);
        self
    }

    /// The session serializer (JSON by default, rule F1).
    #[must_use]
    pub fn serializer(mut self, serializer: Arc<dyn Serializer>) -> Self {
        self.serializer = serializer;
        self
    }

    /// Decoding limits of the codec (rule H3).
    #[must_use]
    pub fn decode_limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Where "now" comes from (inject a `ManualClock` in tests).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Extra columns filled from the data on every save (rule E2).
    #[must_use]
    pub fn extension(mut self, extension: Arc<dyn RecordExtension>) -> Self {
        self.extension = Some(extension);
        self
    }
}

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
}

impl fmt::Debug for DbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbStore")
            .field("dialect", &self.pool.dialect())
            .field("table", &self.table)
            .field("extension", &self.extension)
            .field("clear_batch", &self.clear_batch)
            .finish_non_exhaustive()
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl DbStore {
    /// A store over an existing pool. Validates the table name and the extension's
    /// columns; does no I/O (call [`migrate`](Self::migrate) to create the table).
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
                return Err(Error::Configuration(format!(
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
                return Err(Error::Configuration(format!(
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
        })
    }

    /// Opens a pool for `url` and builds the store on it. The scheme picks the driver:
    /// `sqlite:` (the file is created if missing), `postgres:`/`postgresql:`,
    /// `mysql:`/`mariadb:`. Uses [`DbOptions::max_connections`] and
    /// [`DbOptions::acquire_timeout`]; connects once, so a wrong URL fails here.
    ///
    /// An in-memory SQLite URL (`sqlite::memory:`, `mode=memory`) gets one connection
    /// that is never closed, since every connection would otherwise see its own,
    /// empty database.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an unknown scheme, a driver not compiled in, or an
    /// unparsable URL; [`Error::Backend`] when the database cannot be reached. The URL
    /// (which may hold a password) is never part of the message.
    pub async fn connect(url: &str, options: DbOptions) -> Result<Self> {
        let scheme = url
            .split_once(':')
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        let pool: DbPool = match scheme.as_str() {
            #[cfg(feature = "sqlite")]
            "sqlite" => {
                use std::str::FromStr;
                let connect = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                    .map_err(|e| Error::Configuration(format!("invalid SQLite URL: {e}")))?
                    .create_if_missing(true);
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                let mut pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout);
                if in_memory {
                    pool = pool
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None);
                }
                pool.connect_with(connect)
                    .await
                    .map_err(Error::backend)?
                    .into()
            }
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => {
                use std::str::FromStr;
                let connect = sqlx::postgres::PgConnectOptions::from_str(url)
                    .map_err(|e| Error::Configuration(format!("invalid PostgreSQL URL: {e}")))?;
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await
                    .map_err(Error::backend)?
                    .into()
            }
            #[cfg(feature = "mysql")]
            "mysql" | "mariadb" => {
                use std::str::FromStr;
                let url = match url.strip_prefix("mariadb:") {
                    Some(rest) => format!("mysql:{rest}"),
                    None => url.to_owned(),
                };
                let connect = sqlx::mysql::MySqlConnectOptions::from_str(&url)
                    .map_err(|e| Error::Configuration(format!("invalid MySQL URL: {e}")))?;
                sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await
                    .map_err(Error::backend)?
                    .into()
            }
            _ => {
                return Err(Error::Configuration(format!(
                    "unsupported database URL scheme {scheme:?} (built with: {})",
                    compiled_drivers()
                )))
            }
        };
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

    /// Creates the table and its indexes if they do not exist (idempotent; safe to
    /// call at every start). An existing table is left as it is: columns an extension
    /// adds later need an `ALTER TABLE` of your own (see `docs/backends/db.md`).
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] when a statement fails.
    pub async fn migrate(&self) -> Result<()> {
        on_pool!(&self.pool, |pool, DB| {
            sqlx::raw_sql(&self.sql.create_table)
                .execute(pool)
                .await
                .map_err(Error::backend)?;
            for index in &self.sql.create_indexes {
                sqlx::raw_sql(index)
                    .execute(pool)
                    .await
                    .map_err(Error::backend)?;
            }
        });
        Ok(())
    }

    /// The live sessions of `account_id` (rows whose account column equals it and
    /// `expire_date > now`), soonest expiry first. Rows whose key is not a valid
    /// session key are left out.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] without an extension that declares an account column;
    /// [`Error::Backend`] when the query fails.
    pub async fn list_account_sessions(
        &self,
        account_id: i64,
    ) -> Result<Vec<(SessionKey, OffsetDateTime)>> {
        let sql = self.sql.list_account.as_deref().ok_or_else(no_account)?;
        let now = self.clock.now();
        let rows: Vec<(String, OffsetDateTime)> = on_pool!(&self.pool, |pool, DB| {
            let rows: Vec<(String, <DB as TimeRepr>::Time)> = sqlx::query_as(sql)
                .bind(account_id)
                .bind(<DB as TimeRepr>::to_db(now))
                .fetch_all(pool)
                .await
                .map_err(Error::backend)?;
            rows.into_iter()
                .map(|(key, at)| Ok((key, <DB as TimeRepr>::from_db(at)?)))
                .collect::<Result<_>>()?
        });
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
    /// [`Error::Backend`] when the statement fails.
    pub async fn revoke_account_sessions(&self, account_id: i64) -> Result<u64> {
        let sql = self.sql.revoke_account.as_deref().ok_or_else(no_account)?;
        let affected: u64 = on_pool!(&self.pool, |pool, DB| sqlx::query(sql)
            .bind(account_id)
            .execute(pool)
            .await
            .map_err(Error::backend)?
            .rows_affected());
        Ok(affected)
    }

    /// Stores `session_data` as is under `key`, replacing any row, with `expire_date`
    /// (extra columns are left `NULL`). For tools and tests: importing records,
    /// planting fixtures. Normal writes go through the session API.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] when a statement fails.
    pub async fn write_raw(
        &self,
        key: &SessionKey,
        session_data: &str,
        expire_date: OffsetDateTime,
    ) -> Result<()> {
        on_pool!(&self.pool, |pool, DB| {
            let mut tx = pool.begin().await.map_err(Error::backend)?;
            sqlx::query(&self.sql.delete)
                .bind(key.as_str())
                .execute(&mut *tx)
                .await
                .map_err(Error::backend)?;
            sqlx::query(&self.sql.insert_raw)
                .bind(key.as_str())
                .bind(session_data)
                .bind(<DB as TimeRepr>::to_db(expire_date))
                .execute(&mut *tx)
                .await
                .map_err(Error::backend)?;
            tx.commit().await.map_err(Error::backend)?;
        });
        Ok(())
    }

    /// The stored `session_data` and `expire_date` of `key`, expired or not.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] when the query fails; [`Error::Serialization`] when the
    /// stored `expire_date` cannot be read.
    pub async fn read_raw(&self, key: &SessionKey) -> Result<Option<(String, OffsetDateTime)>> {
        on_pool!(&self.pool, |pool, DB| {
            let row: Option<(String, <DB as TimeRepr>::Time)> = sqlx::query_as(&self.sql.read_raw)
                .bind(key.as_str())
                .fetch_optional(pool)
                .await
                .map_err(Error::backend)?;
            match row {
                Some((data, at)) => Ok(Some((data, <DB as TimeRepr>::from_db(at)?))),
                None => Ok(None),
            }
        })
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
        let mut retried = false;
        loop {
            let outcome: std::result::Result<_, sqlx::Error> = on_pool!(&self.pool, |pool, DB| {
                let query = sqlx::query(&self.sql.insert)
                    .bind(key.as_str())
                    .bind(encoded)
                    .bind(<DB as TimeRepr>::to_db(expires_at));
                bind_extras(query, self.columns(), extras.clone())?
                    .execute(pool)
                    .await
                    .map(|_| ())
            });
            match outcome {
                Ok(()) => return Ok(()),
                Err(err) if is_unique_violation(&err) => {
                    if retried || !self.delete_if_expired(key).await? {
                        return Err(Error::Create);
                    }
                    retried = true;
                }
                Err(err) => return Err(Error::backend(err)),
            }
        }
    }

    /// Deletes the row of `key` only if it has expired; true when one went.
    async fn delete_if_expired(&self, key: &SessionKey) -> Result<bool> {
        let now = self.clock.now();
        let affected: u64 = on_pool!(&self.pool, |pool, DB| sqlx::query(
            &self.sql.delete_if_expired
        )
        .bind(key.as_str())
        .bind(<DB as TimeRepr>::to_db(now))
        .execute(pool)
        .await
        .map_err(Error::backend)?
        .rows_affected());
        Ok(affected > 0)
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
            let query = sqlx::query(&self.sql.update)
                .bind(encoded)
                .bind(<DB as TimeRepr>::to_db(expires_at));
            bind_extras(query, self.columns(), extras)?
                .bind(key.as_str())
                .bind(<DB as TimeRepr>::to_db(now))
                .execute(pool)
                .await
                .map_err(Error::backend)?
                .rows_affected()
        });
        Ok(affected)
    }
}

fn no_account() -> Error {
    Error::Configuration(
        "this db store has no account column: configure an extension such as AccountIdColumn"
            .to_owned(),
    )
}

fn compiled_drivers() -> String {
    let drivers = [
        ("sqlite", cfg!(feature = "sqlite")),
        ("postgres", cfg!(feature = "postgres")),
        ("mysql", cfg!(feature = "mysql")),
    ];
    let names: Vec<&str> = drivers.iter().filter(|d| d.1).map(|d| d.0).collect();
    if names.is_empty() {
        "no driver".to_owned()
    } else {
        names.join(", ")
    }
}

#[async_trait]
impl AsyncSessionStore for DbStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::server_side().with_list_by_account(self.sql.list_account.is_some())
    }

    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        let now = self.clock.now();
        let row: bool = on_pool!(&self.pool, |pool, DB| sqlx::query(&self.sql.exists)
            .bind(key.as_str())
            .bind(<DB as TimeRepr>::to_db(now))
            .fetch_optional(pool)
            .await
            .map_err(Error::backend)?
            .is_some());
        Ok(row)
    }

    async fn aload(&self, key: &SessionKey) -> Result<Option<SessionData>> {
        let now = self.clock.now();
        let stored: Option<String> = on_pool!(&self.pool, |pool, DB| {
            sqlx::query_scalar(&self.sql.load)
                .bind(key.as_str())
                .bind(<DB as TimeRepr>::to_db(now))
                .fetch_optional(pool)
                .await
                .map_err(Error::backend)?
        });
        Ok(stored.and_then(|text| match self.codec.try_decode(&text) {
            Ok(data) => Some(data),
            Err(err) => {
                // Rule F7: a bad signature is logged; other decoding failures are not.
                if err.is_bad_signature() {
                    tracing::warn!(target: "django.security.SuspiciousSession", "Session data corrupted");
                }
                None
            }
        }))
    }

    async fn asave(
        &self,
        key: &SessionKey,
        data: &SessionData,
        expires_at: OffsetDateTime,
        must_create: bool,
    ) -> Result<SessionKey> {
        let encoded = self.codec.encode(data)?;
        let extras = self
            .extension
            .as_ref()
            .map(|ext| ext.values(data))
            .unwrap_or_default();
        if must_create {
            self.insert(key, &encoded, expires_at, extras).await?;
        } else if self.update(key, &encoded, expires_at, extras).await? == 0 {
            // Rules D5, H7: the record vanished (logout, purge) or expired; never
            // re-create or revive it.
            return Err(Error::Update);
        }
        Ok(key.clone())
    }

    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        on_pool!(&self.pool, |pool, DB| {
            sqlx::query(&self.sql.delete)
                .bind(key.as_str())
                .execute(pool)
                .await
                .map_err(Error::backend)?;
        });
        Ok(())
    }

    async fn aclear_expired(&self) -> Result<u64> {
        let now = self.clock.now();
        let mut total = 0;
        loop {
            // One statement per batch, each its own transaction: locks stay short.
            let removed: u64 = on_pool!(&self.pool, |pool, DB| sqlx::query(&self.sql.clear_batch)
                .bind(<DB as TimeRepr>::to_db(now))
                .execute(pool)
                .await
                .map_err(Error::backend)?
                .rows_affected());
            total += removed;
            if removed < u64::from(self.clear_batch) {
                return Ok(total);
            }
        }
    }
}
