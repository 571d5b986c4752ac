//! Kit factories of the database store: each case on a table of its own
//! (`env.unique_name()`), migrated, dropped when the case ends, with raw access to
//! Django's `session_data`.
//!
//! Every factory but [`db_django_layout`] builds the store on the default
//! [`Versioning`] (a `version` column), so the kit checks versioned saves (V1-V3)
//! and touch (V4) on it; [`db_account_id`] adds the account column, so the kit
//! checks the account index (S5) too.

use std::sync::Arc;
use std::time::Duration;

use session_api::{Error, Result, SessionBackend};
use session_conformance::{unavailable, Harness, KitEnv};
use session_stores::db::{
    AccountIdColumn, DbOptions, DbPool, DbPoolOptions, DbStore, Dialect, RecordExtension,
    Versioning,
};

use crate::{redact, Raw};

/// Where the kit's database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A new SQLite file in a temporary directory per case: needs no server.
    #[cfg(feature = "sqlite")]
    ScratchSqlite,
    /// A database URL (`sqlite://path`, `postgres://...`, `mysql://...`): each case
    /// gets its own table there.
    Url(String),
}

impl Database {
    /// The shared PostgreSQL test database: `SESSIONS_TEST_POSTGRES_URL`, default
    /// `postgres://postgres@127.0.0.1:5432/test`.
    pub fn test_postgres() -> Database {
        Self::from_env(
            "SESSIONS_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        )
    }

    /// The shared MySQL/MariaDB test database: `SESSIONS_TEST_MYSQL_URL`, default
    /// `mysql://root@127.0.0.1:3306/test`.
    pub fn test_mysql() -> Database {
        Self::from_env(
            "SESSIONS_TEST_MYSQL_URL",
            "mysql://root@127.0.0.1:3306/test",
        )
    }

    fn from_env(var: &str, default: &str) -> Database {
        Database::Url(std::env::var(var).unwrap_or_else(|_| default.to_owned()))
    }
}

/// Drops a case's table when dropped. Harnesses are dropped inside the kit's runtime,
/// where nothing can be awaited, so this opens one connection on a thread with a
/// small runtime of its own. For a scratch SQLite database it also holds the
/// temporary directory, whose removal takes the database with it.
#[derive(Debug)]
pub struct TableGuard {
    /// The URL and dialect to drop the table through; `None` for a scratch database.
    server: Option<(String, Dialect)>,
    table: String,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TableGuard {
    fn drop(&mut self) {
        let Some((url, dialect)) = self.server.take() else {
            return;
        };
        let sql = format!("DROP TABLE IF EXISTS {}", self.table);
        let dropped = std::thread::spawn(move || drop_table(&url, dialect, &sql)).join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("could not drop kit table {}: {err}", self.table),
            Err(_) => eprintln!(
                "could not drop kit table {}: the thread panicked",
                self.table
            ),
        }
    }
}

/// Runs `sql` on a new connection to `url`, on a runtime of its own.
fn drop_table(url: &str, dialect: Dialect, sql: &str) -> std::result::Result<(), String> {
    use session_stores::db::sqlx::{self, Connection};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let dropped: std::result::Result<(), sqlx::Error> = runtime.block_on(async move {
        match dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(url).await?;
                sqlx::raw_sql(sql).execute(&mut conn).await?;
                conn.close().await
            }
            #[cfg(feature = "postgres")]
            Dialect::Postgres => {
                let mut conn = sqlx::PgConnection::connect(url).await?;
                sqlx::raw_sql(sql).execute(&mut conn).await?;
                conn.close().await
            }
            #[cfg(feature = "mysql")]
            Dialect::MySql => {
                let mut conn = sqlx::MySqlConnection::connect(url).await?;
                sqlx::raw_sql(sql).execute(&mut conn).await?;
                conn.close().await
            }
            // A pool of this dialect cannot have been opened without its driver.
            #[allow(unreachable_patterns)]
            _ => Ok(()),
        }
    });
    dropped.map_err(|e| e.to_string())
}

/// A migrated store of `database` on the case's own table, and the guard that drops
/// the table (or the scratch database) when the case no longer keeps it alive.
///
/// # Errors
///
/// [`session_conformance::unavailable`] when the server cannot be reached;
/// otherwise as [`DbPool::connect`], [`DbStore::new`] and [`DbStore::migrate`].
pub async fn store(database: &Database, env: &KitEnv) -> Result<(Arc<DbStore>, TableGuard)> {
    store_with(database, env, None).await
}

/// As [`store`], with `extension`'s extra columns (custom records, rule E2) on the
/// case's table when there is one.
///
/// # Errors
///
/// As [`store`].
pub async fn store_with(
    database: &Database,
    env: &KitEnv,
    extension: Option<Arc<dyn RecordExtension>>,
) -> Result<(Arc<DbStore>, TableGuard)> {
    store_versioned(database, env, extension, Versioning::default()).await
}

/// As [`store_with`], versioned as `versioning` says.
///
/// # Errors
///
/// As [`store`].
pub async fn store_versioned(
    database: &Database,
    env: &KitEnv,
    extension: Option<Arc<dyn RecordExtension>>,
    versioning: Versioning,
) -> Result<(Arc<DbStore>, TableGuard)> {
    let (url, dir) = match database {
        #[cfg(feature = "sqlite")]
        Database::ScratchSqlite => {
            let dir = tempfile::Builder::new()
                .prefix(env.unique_name())
                .tempdir()
                .map_err(Error::backend)?;
            let url = format!("sqlite://{}", dir.path().join("kit.sqlite3").display());
            (url, Some(dir))
        }
        Database::Url(url) => (url.clone(), None),
    };
    let pool_options = DbPoolOptions::default()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5));
    let pool = match DbPool::connect(&url, &pool_options).await {
        Ok(pool) => pool,
        Err(Error::Unavailable(err)) => {
            return Err(unavailable(format!(
                "database {} not reachable: {err}",
                redact(&url)
            )))
        }
        Err(err) => return Err(err),
    };
    let mut options = DbOptions::new(env.secret_keys())
        .clock(env.clock())
        .table(env.unique_name())
        .versioning(versioning);
    if let Some(extension) = extension {
        options = options.extension(extension);
    }
    let store = Arc::new(DbStore::new(pool, options)?);
    let guard = TableGuard {
        server: dir.is_none().then(|| (url, store.dialect())),
        table: store.table().to_owned(),
        _dir: dir,
    };
    store.migrate().await?;
    Ok((store, guard))
}

/// The kit factory of the database store on `database`, versioned on the default
/// `version` column.
pub async fn db(database: Database, env: KitEnv) -> Result<Harness> {
    harness(database, env, None, Versioning::default()).await
}

/// The kit factory of the database store on exactly Django's table
/// ([`Versioning::Off`]): what a site sharing its table with Django runs. The store
/// declares `versioned: false`, so the kit checks everything but versioned saves.
pub async fn db_django_layout(database: Database, env: KitEnv) -> Result<Harness> {
    harness(database, env, None, Versioning::Off).await
}

/// The kit factory of the database store on `database` with extra columns (custom
/// records, rule E2): Django's "Extending database-backed session engines", here the
/// indexed `account_id` column of [`AccountIdColumn`], filled on every save, which
/// gives the store its account index (S5). The whole kit runs on it, as on the
/// plain table.
pub async fn db_account_id(database: Database, env: KitEnv) -> Result<Harness> {
    let extension: Arc<dyn RecordExtension> = Arc::new(AccountIdColumn::new());
    harness(database, env, Some(extension), Versioning::default()).await
}

async fn harness(
    database: Database,
    env: KitEnv,
    extension: Option<Arc<dyn RecordExtension>>,
    versioning: Versioning,
) -> Result<Harness> {
    let (store, guard) = store_versioned(&database, &env, extension, versioning).await?;
    Ok(Harness::new(SessionBackend::from_async(store.clone()))
        .with_raw(Raw::of(&store), true)
        .keep_alive(guard))
}
