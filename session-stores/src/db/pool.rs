//! The pool of one of the compiled-in drivers, the per-driver dispatch
//! ([`on_pool!`]), opening a pool from a URL, and how driver errors map to
//! [`Error::Unavailable`] and [`Error::Backend`].

use std::str::FromStr;
use std::time::Duration;

use session_api::{Error, Result};
use sqlx::pool::PoolConnection;

use super::options::DbPoolOptions;
use super::sql::Dialect;

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
            $crate::db::DbPool::Sqlite(ref $p) => {
                #[allow(dead_code)]
                type $db = ::sqlx::Sqlite;
                $body
            }
            #[cfg(feature = "postgres")]
            $crate::db::DbPool::Postgres(ref $p) => {
                #[allow(dead_code)]
                type $db = ::sqlx::Postgres;
                $body
            }
            #[cfg(feature = "mysql")]
            $crate::db::DbPool::MySql(ref $p) => {
                #[allow(dead_code)]
                type $db = ::sqlx::MySql;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

impl DbPool {
    /// Opens a pool for `url` with `options`. The scheme picks the driver: `sqlite:`
    /// (the file is created if missing), `postgres:`/`postgresql:`,
    /// `mysql:`/`mariadb:`. Connects once, so a wrong URL or an unreachable server
    /// fails here.
    ///
    /// An in-memory SQLite URL (`sqlite::memory:`, `mode=memory`) gets one connection
    /// that is never closed, whatever [`DbPoolOptions::max_connections`] says, since
    /// every connection would otherwise see its own, empty database.
    ///
    /// ```no_run
    /// # async fn demo() -> session_api::Result<()> {
    /// use std::time::Duration;
    /// use session_stores::db::{DbPool, DbPoolOptions};
    /// let pool = DbPool::connect(
    ///     "postgres://app@127.0.0.1/site",
    ///     &DbPoolOptions::default()
    ///         .max_connections(5)
    ///         .acquire_timeout(Duration::from_secs(2)),
    /// )
    /// .await?;
    /// # let _ = pool; Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an unknown scheme, a driver not compiled in, or an
    /// unparsable URL; [`Error::Unavailable`] when the server cannot be reached within
    /// [`DbPoolOptions::acquire_timeout`]; [`Error::Backend`] for anything else (a
    /// refused login, say). The URL (which may hold a password) is never part of the
    /// message.
    pub async fn connect(url: &str, options: &DbPoolOptions) -> Result<Self> {
        let scheme = url
            .split_once(':')
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        match scheme.as_str() {
            #[cfg(feature = "sqlite")]
            "sqlite" => {
                let connect = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                    .map_err(|e| Error::configuration(format!("invalid SQLite URL: {e}")))?
                    .create_if_missing(true);
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                let mut pool = options.apply(sqlx::sqlite::SqlitePoolOptions::new());
                if in_memory {
                    pool = pool
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None);
                }
                Ok(pool.connect_with(connect).await.map_err(db_error)?.into())
            }
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => {
                let connect = sqlx::postgres::PgConnectOptions::from_str(url)
                    .map_err(|e| Error::configuration(format!("invalid PostgreSQL URL: {e}")))?;
                Ok(options
                    .apply(sqlx::postgres::PgPoolOptions::new())
                    .connect_with(connect)
                    .await
                    .map_err(db_error)?
                    .into())
            }
            #[cfg(feature = "mysql")]
            "mysql" | "mariadb" => {
                let url = match url.strip_prefix("mariadb:") {
                    Some(rest) => format!("mysql:{rest}"),
                    None => url.to_owned(),
                };
                let connect = sqlx::mysql::MySqlConnectOptions::from_str(&url)
                    .map_err(|e| Error::configuration(format!("invalid MySQL URL: {e}")))?;
                Ok(options
                    .apply(sqlx::mysql::MySqlPoolOptions::new())
                    .connect_with(connect)
                    .await
                    .map_err(db_error)?
                    .into())
            }
            _ => Err(Error::configuration(format!(
                "unsupported database URL scheme {scheme:?} (built with: {})",
                compiled_drivers()
            ))),
        }
    }

    /// The SQL dialect of this pool.
    pub fn dialect(&self) -> Dialect {
        on_pool!(self, |_p, DB| <DB as DialectOf>::DIALECT)
    }

    /// Closes every connection; later calls fail with [`Error::Unavailable`].
    pub async fn close(&self) {
        on_pool!(self, |p, DB| p.close().await)
    }
}

/// The dialect of each driver.
pub(crate) trait DialectOf {
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

/// A connection taken from the pool for one statement (or one transaction).
///
/// [`release`](Self::release) returns it to the pool once the statement has finished;
/// sqlx pings it first (in every version 0.8 pool, whatever the options say), off the
/// caller's path. That ping gets the operation timeout too: sqlx's own has none, so
/// a connection whose network went silent just after its last answer would hold its
/// slot in the pool for as long as the silence lasts (forever, behind a proxy that
/// swallows traffic). Past the timeout the connection is closed and its slot freed.
///
/// Dropped before `release` (its call ran out of time mid-statement and was
/// cancelled, or its connection was found dead), the connection is closed on the
/// spot instead: its protocol state is unknown (a statement sent, the answer
/// unread), and returning it would only start that ping.
pub(crate) struct Checkout<DB: sqlx::Database> {
    conn: Option<PoolConnection<DB>>,
    timeout: Duration,
}

impl<DB: sqlx::Database> Checkout<DB> {
    /// A connection of `pool`, as [`sqlx::Pool::acquire`] gives it (pinged first only
    /// when the pool tests before acquire); `timeout` bounds the ping that returns it.
    pub(crate) async fn acquire(pool: &sqlx::Pool<DB>, timeout: Duration) -> Result<Self> {
        let conn = pool.acquire().await.map_err(db_error)?;
        Ok(Checkout {
            conn: Some(conn),
            timeout,
        })
    }

    /// A connection of `pool` that has just answered a ping: for the retry after a
    /// dead connection, when the pool's other idle connections may have died with
    /// it (a database restart). Each one that does not answer is closed and the
    /// next taken, until one answers or the pool opens a new one; at most one more
    /// than the pool's size, all within the caller's operation timeout.
    pub(crate) async fn acquire_live(pool: &sqlx::Pool<DB>, timeout: Duration) -> Result<Self> {
        let mut last = None;
        for _ in 0..=pool.options().get_max_connections() {
            let mut checkout = Self::acquire(pool, timeout).await?;
            match sqlx::Connection::ping(checkout.get()?).await {
                Ok(()) => return Ok(checkout),
                // Dropping the checkout closes the dead connection.
                Err(err) => last = Some(err),
            }
        }
        Err(last.map_or_else(
            || Error::unavailable("no live database connection"),
            db_error,
        ))
    }

    /// The connection, to run statements on.
    pub(crate) fn get(&mut self) -> Result<&mut DB::Connection> {
        // Always there: only `release` and `drop` take it, and both consume `self`.
        self.conn
            .as_deref_mut()
            .ok_or_else(|| Error::backend("the connection was already released"))
    }

    /// The statement finished (well or not): back to the pool, through a ping of at
    /// most `timeout`, in a task of its own.
    pub(crate) fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            // The eager form of sqlx's drop handler (which spawns the same future with
            // no bound): the connection moves into `back`, and dropping `back` midway
            // closes it and frees its slot. `conn` is left empty and drops as a no-op.
            let back = conn.return_to_pool();
            let timeout = self.timeout;
            tokio::spawn(async move {
                if tokio::time::timeout(timeout, back).await.is_err() {
                    tracing::warn!(
                        ?timeout,
                        "closed a database connection whose return ping went unanswered"
                    );
                }
            });
        }
    }
}

impl<DB: sqlx::Database> Drop for Checkout<DB> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Out of the pool (which may open a replacement) and closed: dropping the
            // raw connection closes its socket without a word to the server.
            drop(conn.detach());
        }
    }
}

/// Runs one statement (or one transaction) on a connection of a pool, retrying it
/// once when the connection turned out to be dead.
///
/// `on_connection!(pool, timeout, |conn| future)` evaluates `future` (which uses
/// `conn: &mut DB::Connection` and yields `Result<T, sqlx::Error>`) on a connection
/// from [`Checkout::acquire`]. When it fails because the connection is gone
/// ([`is_connection_lost`]: the server closed it while it sat idle in the pool, was
/// restarted, or the network reset it), that connection is closed and `future` is
/// evaluated once more on one that has just answered a ping
/// ([`Checkout::acquire_live`]); a second loss is the result. Anything else is the
/// result as it is, and the connection goes back to the pool.
///
/// Every statement of the store is safe to run twice: loads, deletes and updates
/// of the same values are idempotent, `migrate` is `IF NOT EXISTS`, `write_raw` is
/// one transaction. An insert is not, and its caller is told: the form
/// `on_connection!(pool, timeout, retried = flag, |conn| future)` sets the `bool`
/// variable `flag` when the retry ran (the first attempt may have committed
/// before its answer was lost).
///
/// A call that acquires and fails gives the `?` of the enclosing function a
/// [`session_api::Error`]; the statement's own outcome is the value.
macro_rules! on_connection {
    ($pool:expr, $timeout:expr, |$conn:ident| $statement:expr) => {{
        let mut _retried = false;
        $crate::db::pool::on_connection!($pool, $timeout, retried = _retried, |$conn| $statement)
    }};
    ($pool:expr, $timeout:expr, retried = $retried:ident, |$conn:ident| $statement:expr) => {{
        let (pool, timeout) = ($pool, $timeout);
        loop {
            let mut checkout = if $retried {
                $crate::db::pool::Checkout::acquire_live(pool, timeout).await?
            } else {
                $crate::db::pool::Checkout::acquire(pool, timeout).await?
            };
            let outcome = {
                let $conn = checkout.get()?;
                $statement.await
            };
            match outcome {
                Err(err) if !$retried && $crate::db::pool::is_connection_lost(&err) => {
                    // Dropping the checkout closes the dead connection.
                    drop(checkout);
                    tracing::debug!(error = %err, "database connection lost; retrying once");
                    $retried = true;
                }
                Err(err) if $crate::db::pool::is_connection_lost(&err) => {
                    drop(checkout);
                    break Err(err);
                }
                outcome => {
                    checkout.release();
                    break outcome;
                }
            }
        }
    }};
}
pub(crate) use on_connection;

/// True when `err` says the connection itself is gone rather than that the
/// statement failed: an I/O error on it, the SQLite worker thread gone, or the
/// server reporting that it closed the connection (SQLSTATE class 08; PostgreSQL's
/// 57P01..57P03, sent by `pg_terminate_backend` and at shutdown). The connection is
/// useless afterwards; a statement that failed this way may or may not have run.
pub(crate) fn is_connection_lost(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| is_connection_state(&code)),
        _ => false,
    }
}

/// The error of a call that ran out of its operation timeout: the database did not
/// answer in time, so [`Error::Unavailable`].
pub(crate) fn timed_out(after: Duration) -> Error {
    Error::unavailable(format!("the database did not answer within {after:?}"))
}

/// SQLSTATEs that say the server went away rather than that the statement failed:
/// class 08 (connection exception) and PostgreSQL's 57P01..57P03 (the server is
/// shutting down, crashed, or cannot accept connections yet) and 57P05 (it closed
/// a connection idle past `idle_session_timeout`).
fn is_connection_state(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "57P05")
}

/// A driver error as this crate reports it: [`Error::Unavailable`] when the database
/// could not be reached in time (the pool timed out or is closed, an I/O error on the
/// connection, the server went away mid-call), [`Error::Backend`] for everything else
/// (a failed statement, a refused login, a decoding error).
pub(crate) fn db_error(err: sqlx::Error) -> Error {
    let unreachable = matches!(err, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed)
        || is_connection_lost(&err);
    if unreachable {
        Error::unavailable(err)
    } else {
        Error::backend(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_errors_are_unavailable() {
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
        ] {
            assert!(matches!(db_error(err), Error::Unavailable(_)));
        }
        for err in [
            sqlx::Error::RowNotFound,
            sqlx::Error::Protocol("bad".into()),
            sqlx::Error::ColumnNotFound("x".into()),
        ] {
            assert!(matches!(db_error(err), Error::Backend(_)));
        }
        assert!(is_connection_state("08006") && is_connection_state("57P01"));
        assert!(!is_connection_state("23505") && !is_connection_state("57014"));
    }
}
