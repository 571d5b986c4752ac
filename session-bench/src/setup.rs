//! The servers (the tests' PostgreSQL, MariaDB and Redis on loopback, or the URLs in
//! `SESSIONS_TEST_POSTGRES_URL`, `SESSIONS_TEST_MYSQL_URL`, `SESSIONS_TEST_REDIS_URL`)
//! and the sections built on them: every column of a backend on the same server
//! and, for the SQL engines, on the same table, with pools of the same settings.
//!
//! What a run creates is its own: a PostgreSQL schema, MariaDB tables and Redis keys
//! named after the process and the time, a SQLite file and a file-store folder in a
//! temporary directory, and a Valkey server on a free loopback port
//! ([`crate::valkey`]). [`Teardown`] removes them (and kills the server, also when
//! dropped on an error or a panic).

use std::str::FromStr;
use std::sync::Arc;

use session_api::{JsonSerializer, SecretKeys, SessionBackend, SessionCodec, SystemClock};
use session_stores::cache::{CacheStore, RedisCache, RedisOptions};
use session_stores::cached_db::CachedDbStore;
use session_stores::db::{sqlx, DbOptions, DbPool, DbPoolOptions, DbStore, Versioning};
use session_stores::file::FileStore;
use session_stores::memory::MemoryStore;
use session_stores::signed_cookies::SignedCookieStore;
use tower_sessions_redis_store::RedisStore;
use tower_sessions_sqlx_store::{MySqlStore, PostgresStore, SqliteStore};

use crate::cookies::{ActixCookie, CookieBench, CookieCrate, Jar, OursSigned};
use crate::error::{BenchError, Result};
use crate::payload::Payload;
use crate::requests::RequestBench;
use crate::run::Scratch;
use crate::section::{Column, Section, Table};
use crate::subject::StoreBench;
use crate::subjects::django::{Django, DjangoPeer, DjangoSettings, Engine, PostgresTarget};
use crate::subjects::ours::Ours;
use crate::subjects::raw_redis::RawRedis;
use crate::subjects::raw_sql::RawSql;
use crate::subjects::tower::Tower;
use crate::subjects::{Encoded, TTL};
use crate::valkey::ValkeyServer;

/// The signing secret of every store and peer.
pub const SECRET: &str = "session-bench-secret-not-for-production";

/// The table of the Django layout (Django's own name), and of the layout without
/// the `expire_date` index.
const DJANGO_TABLE: &str = "django_session";
const PLAIN_TABLE: &str = "plain_session";

fn env_or(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// The server URLs.
#[derive(Debug, Clone)]
pub struct Servers {
    /// PostgreSQL.
    pub postgres: String,
    /// MariaDB (or MySQL).
    pub mysql: String,
    /// Redis.
    pub redis: String,
}

impl Servers {
    /// The tests' servers: the env overrides, else the local defaults.
    pub fn from_env() -> Self {
        Servers {
            postgres: env_or(
                "SESSIONS_TEST_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
            mysql: env_or(
                "SESSIONS_TEST_MYSQL_URL",
                "mysql://root@127.0.0.1:3306/test",
            ),
            redis: env_or("SESSIONS_TEST_REDIS_URL", "redis://127.0.0.1:6379"),
        }
    }
}

/// What a run made on the servers, removed by [`Teardown::run`]. Dropped without
/// it (an early error, a panic), it still kills the servers it started and removes
/// the directories.
#[derive(Default)]
pub struct Teardown {
    schemas: Vec<(sqlx::PgPool, String)>,
    tables: Vec<(sqlx::MySqlPool, String)>,
    dirs: Vec<tempfile::TempDir>,
    servers: Vec<ValkeyServer>,
}

impl Teardown {
    /// Drops the schemas and tables, removes the directories, kills the servers.
    pub async fn run(self) -> Vec<String> {
        let mut failures = Vec::new();
        for (pool, schema) in self.schemas {
            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            if let Err(err) = sqlx::raw_sql(&sql).execute(&pool).await {
                failures.push(format!("{sql}: {err}"));
            }
            pool.close().await;
        }
        for (pool, table) in self.tables {
            let sql = format!("DROP TABLE IF EXISTS {table}");
            if let Err(err) = sqlx::raw_sql(&sql).execute(&pool).await {
                failures.push(format!("{sql}: {err}"));
            }
        }
        drop(self.dirs);
        drop(self.servers);
        failures
    }
}

/// The names of one run's objects: `bench_<pid>_<time>`.
pub fn run_tag() -> String {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000_000;
    format!("bench_{}_{nanos}", std::process::id())
}

/// How the pools are opened: the library's defaults, with the ping before each
/// acquire forced on or off when asked.
pub fn pool_options(ping: Option<bool>) -> DbPoolOptions {
    let options = DbPoolOptions::default();
    match ping {
        Some(ping) => options.test_before_acquire(ping),
        None => options,
    }
}

/// The store's texts of each payload, for the raw clients.
fn encoded(payloads: &[Payload]) -> Result<Encoded> {
    Encoded::new(payloads, SECRET)
}

/// The store's options on `table`: Django's exact layout (no version column), so
/// that ours and the raw client run on the same table; versioned saves have their
/// own section ([`versions_postgres`]).
fn db_options(table: &str) -> DbOptions {
    DbOptions::new(SecretKeys::new(SECRET))
        .table(table)
        .versioning(Versioning::Off)
}

fn setup(what: &str, err: impl std::fmt::Display) -> BenchError {
    BenchError::Setup(format!("{what}: {err}"))
}

async fn exec<DB>(pool: &sqlx::Pool<DB>, sql: &str) -> Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .map(drop)
        .map_err(|e| setup(sql, e))
}

/// The in-process stores: memory, file and signed cookies.
pub fn embedded(scratch: Scratch, teardown: &mut Teardown) -> Result<Vec<Section>> {
    let absent = || {
        vec![
            Column::none("no raw client: the store is the client"),
            Column::none(NO_TOWER),
            Column::none(NO_DJANGO),
        ]
    };
    let section = |title: &str, backend: SessionBackend| {
        let mut columns = vec![Column::of(StoreBench::new(Ours::new(backend)))];
        columns.extend(absent());
        Section {
            title: title.to_owned(),
            table: Table::Stores,
            columns,
            keep: Vec::new(),
        }
    };
    let dir = scratch.dir()?;
    let codec = SessionCodec::new(
        &SecretKeys::new(SECRET),
        Arc::new(SystemClock),
        Arc::new(JsonSerializer),
    );
    let file = FileStore::new(
        dir.path(),
        "sessionid",
        TTL.whole_seconds(),
        codec,
        Arc::new(SystemClock),
    )?;
    teardown.dirs.push(dir);
    let cookies = SignedCookieStore::new(
        SecretKeys::new(SECRET),
        TTL.whole_seconds(),
        Arc::new(SystemClock),
        Arc::new(JsonSerializer),
    );
    Ok(vec![
        section(
            "memory",
            // Unbounded: the creates of a full run make hundreds of thousands of
            // sessions, and the bound's eviction would take the ones the loads read.
            SessionBackend::from_nonblocking_sync(Arc::new(
                MemoryStore::new().max_entries(usize::MAX),
            )),
        ),
        section("file", SessionBackend::from_sync(Arc::new(file))),
        section(
            "signed cookies",
            SessionBackend::from_nonblocking_sync(Arc::new(cookies)),
        ),
    ])
}

/// The two layouts of one SQL engine: Django's (with the `expire_date` index, and
/// tower-sessions' table given the same indexes) and one without it (tower-sessions'
/// own layout, and Django's table without its secondary indexes).
struct Layouts {
    indexed: Section,
    plain: Section,
}

fn sql_section(
    title: String,
    ours: DbStore,
    raw: RawSql,
    tower: Column,
    django: Column,
) -> Section {
    Section {
        title,
        table: Table::Stores,
        columns: vec![
            Column::of(StoreBench::new(Ours::new(SessionBackend::from_async(
                Arc::new(ours),
            )))),
            Column::of(StoreBench::new(raw)),
            tower,
            django,
        ],
        keep: Vec::new(),
    }
}

/// Why a section has no tower-sessions column.
const NO_TOWER: &str = "not compared here (the comparison is with its sqlx and Redis stores)";
/// Why a section has no Django column.
const NO_DJANGO: &str = "not compared here (the comparison is with Django on PostgreSQL and Redis)";

fn no_django() -> Column {
    Column::none(NO_DJANGO)
}

/// SQLite: one file in a temporary directory.
pub async fn sqlite(
    payloads: &[Payload],
    ping: Option<bool>,
    scratch: Scratch,
    teardown: &mut Teardown,
) -> Result<Vec<Section>> {
    let dir = scratch.dir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.sqlite3").display());
    teardown.dirs.push(dir);
    let pool = || async { DbPool::connect(&url, &pool_options(ping)).await };
    let sqlite = |pool: DbPool| match pool {
        DbPool::Sqlite(p) => Ok(p),
        _ => Err(BenchError::Setup("not a SQLite pool".into())),
    };
    let layouts = sql_layouts(
        "SQLite",
        payloads,
        pool().await?,
        pool().await?,
        "datetime",
        "text",
        |plain| async move {
            let p = sqlite(pool().await?)?;
            let table = if plain {
                "tower_plain"
            } else {
                "tower_indexed"
            };
            let store = SqliteStore::new(p.clone())
                .with_table_name(table)
                .map_err(|e| setup("tower-sessions", e))?;
            store
                .migrate()
                .await
                .map_err(|e| setup("tower-sessions migrate", e))?;
            if !plain {
                exec(
                    &p,
                    &format!("CREATE INDEX IF NOT EXISTS {table}_expiry ON {table} (expiry_date)"),
                )
                .await?;
            }
            Ok(Column::of(StoreBench::new(Tower::new(store))))
        },
        |_| async { Ok(no_django()) },
    )
    .await?;
    Ok(vec![layouts.indexed, layouts.plain])
}

/// Both layouts on one engine: ours and raw on Django's table and on the plain one.
#[allow(clippy::too_many_arguments)]
async fn sql_layouts<T, TF, D, DF>(
    engine: &str,
    payloads: &[Payload],
    indexed_pool: DbPool,
    plain_pool: DbPool,
    datetime: &str,
    text: &str,
    tower: T,
    django: D,
) -> Result<Layouts>
where
    T: Fn(bool) -> TF,
    TF: std::future::Future<Output = Result<Column>>,
    D: Fn(bool) -> DF,
    DF: std::future::Future<Output = Result<Column>>,
{
    let encoded = encoded(payloads)?;
    let plain_ddl = format!(
        "CREATE TABLE IF NOT EXISTS {PLAIN_TABLE} (session_key varchar(40) NOT NULL PRIMARY KEY, \
         session_data {text} NOT NULL, expire_date {datetime} NOT NULL)"
    );
    let indexed = DbStore::new(indexed_pool.clone(), db_options(DJANGO_TABLE))?;
    indexed.migrate().await?;
    match &plain_pool {
        DbPool::Sqlite(p) => exec(p, &plain_ddl).await?,
        DbPool::Postgres(p) => exec(p, &plain_ddl).await?,
        DbPool::MySql(p) => exec(p, &plain_ddl).await?,
        _ => {
            return Err(BenchError::Setup(
                "a driver this benchmark does not know".into(),
            ))
        }
    }
    let plain = DbStore::new(plain_pool.clone(), db_options(PLAIN_TABLE))?;
    let raw_indexed = RawSql::new(indexed_pool, DJANGO_TABLE, encoded.clone());
    let raw_plain = RawSql::new(plain_pool, PLAIN_TABLE, encoded);
    Ok(Layouts {
        indexed: sql_section(
            format!("{engine}, Django's layout (expire_date indexed)"),
            indexed,
            raw_indexed,
            tower(false).await?,
            django(false).await?,
        ),
        plain: sql_section(
            format!("{engine}, no expire_date index"),
            plain,
            raw_plain,
            tower(true).await?,
            django(true).await?,
        ),
    })
}

/// The PostgreSQL URL of `url` with `schema` first on the search path, committing
/// asynchronously (`synchronous_commit=off`, a setting of the session only): so
/// that PostgreSQL's write figures show the round trip and the client's work, not
/// the disk's flush (MariaDB's flush setting is server-wide, so its writes keep
/// it; see docs/performance.md).
fn in_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options%5Bsearch_path%5D={schema}&options%5Bsynchronous_commit%5D=off")
}

/// The user's password in a `scheme://user:password@host` URL.
fn password(url: &str) -> String {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password.to_owned())
        .unwrap_or_default()
}

/// Where Django's db engine finds the table of `schema` on the server of `url`.
pub fn postgres_target(url: &str, schema: &str) -> Result<PostgresTarget> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| setup("the PostgreSQL URL", e))?;
    Ok(PostgresTarget {
        host: options.get_host().to_owned(),
        port: options.get_port(),
        user: options.get_username().to_owned(),
        password: password(url),
        database: options.get_database().unwrap_or("postgres").to_owned(),
        schema: schema.to_owned(),
    })
}

/// PostgreSQL: a schema of this run holds every table.
pub async fn postgres(
    url: &str,
    schema: &str,
    payloads: &[Payload],
    ping: Option<bool>,
    django: Option<&Arc<DjangoPeer>>,
    teardown: &mut Teardown,
) -> Result<Vec<Section>> {
    let admin = match DbPool::connect(url, &pool_options(ping)).await? {
        DbPool::Postgres(p) => p,
        _ => return Err(BenchError::Setup("not a PostgreSQL URL".into())),
    };
    exec(&admin, &format!("CREATE SCHEMA {schema}")).await?;
    teardown.schemas.push((admin, schema.to_owned()));
    let url = in_schema(url, schema);
    let pool = || async { DbPool::connect(&url, &pool_options(ping)).await };
    let layouts = sql_layouts(
        "PostgreSQL",
        payloads,
        pool().await?,
        pool().await?,
        "timestamp with time zone",
        "text",
        |plain| async move {
            let DbPool::Postgres(p) = pool().await? else {
                return Err(BenchError::Setup("not a PostgreSQL pool".into()));
            };
            let table = if plain {
                "tower_plain"
            } else {
                "tower_indexed"
            };
            let store = PostgresStore::new(p.clone())
                .with_schema_name(schema)
                .and_then(|s| s.with_table_name(table))
                .map_err(|e| setup("tower-sessions", e))?;
            store
                .migrate()
                .await
                .map_err(|e| setup("tower-sessions migrate", e))?;
            if !plain {
                // Django's two secondary indexes on PostgreSQL.
                exec(
                    &p,
                    &format!("CREATE INDEX {table}_expiry ON {schema}.{table} (expiry_date)"),
                )
                .await?;
                exec(
                    &p,
                    &format!(
                        "CREATE INDEX {table}_id_like ON {schema}.{table} (id text_pattern_ops)"
                    ),
                )
                .await?;
            }
            Ok(Column::of(StoreBench::new(Tower::new(store))))
        },
        |plain| async move {
            Ok(match (plain, django) {
                (false, Some(peer)) => Column::of(Django::new(Arc::clone(peer), Engine::Db)),
                (false, None) => Column::none("Django not available"),
                (true, _) => no_django(),
            })
        },
    )
    .await?;
    Ok(vec![layouts.indexed, layouts.plain])
}

/// MariaDB: tables of this run in the URL's database.
pub async fn mysql(
    url: &str,
    tag: &str,
    payloads: &[Payload],
    ping: Option<bool>,
    teardown: &mut Teardown,
) -> Result<Vec<Section>> {
    let pool = || async { DbPool::connect(url, &pool_options(ping)).await };
    let DbPool::MySql(admin) = pool().await? else {
        return Err(BenchError::Setup("not a MySQL URL".into()));
    };
    let database = sqlx::mysql::MySqlConnectOptions::from_str(url)
        .map_err(|e| setup("the MySQL URL", e))?
        .get_database()
        .unwrap_or("test")
        .to_owned();
    let django_table = format!("{tag}_django");
    let plain_table = format!("{tag}_plain");
    for table in [
        &django_table,
        &plain_table,
        &format!("{tag}_tower_indexed"),
        &format!("{tag}_tower_plain"),
    ] {
        teardown.tables.push((admin.clone(), table.clone()));
    }
    // The same code as the other engines, with this run's table names.
    let encoded = encoded(payloads)?;
    let indexed = DbStore::new(pool().await?, db_options(&django_table))?;
    indexed.migrate().await?;
    exec(
        &admin,
        &format!(
            "CREATE TABLE {plain_table} (session_key varchar(40) NOT NULL PRIMARY KEY, \
             session_data longtext NOT NULL, expire_date datetime(6) NOT NULL)"
        ),
    )
    .await?;
    let plain = DbStore::new(pool().await?, db_options(&plain_table))?;
    let tower = |plain: bool| {
        let (pool, database, tag) = (&pool, &database, tag);
        async move {
            let DbPool::MySql(p) = pool().await? else {
                return Err(BenchError::Setup("not a MySQL pool".into()));
            };
            let table = format!("{tag}_tower_{}", if plain { "plain" } else { "indexed" });
            let store = MySqlStore::new(p.clone())
                .with_schema_name(database)
                .and_then(|s| s.with_table_name(&table))
                .map_err(|e| setup("tower-sessions", e))?;
            store
                .migrate()
                .await
                .map_err(|e| setup("tower-sessions migrate", e))?;
            if !plain {
                exec(
                    &p,
                    &format!("CREATE INDEX {table}_expiry ON {table} (expiry_date)"),
                )
                .await?;
            }
            Ok::<_, BenchError>(Column::of(StoreBench::new(Tower::new(store))))
        }
    };
    Ok(vec![
        sql_section(
            "MariaDB, Django's layout (expire_date indexed)".to_owned(),
            indexed,
            RawSql::new(pool().await?, &django_table, encoded.clone()),
            tower(false).await?,
            no_django(),
        ),
        sql_section(
            "MariaDB, no expire_date index".to_owned(),
            plain,
            RawSql::new(pool().await?, &plain_table, encoded),
            tower(true).await?,
            no_django(),
        ),
    ])
}

async fn redis_client(url: &str) -> Result<RedisCache> {
    Ok(RedisCache::connect(url, RedisOptions::default()).await?)
}

/// Redis: keys of this run under `prefix`; three clients built alike.
pub async fn redis(
    url: &str,
    prefix: &str,
    payloads: &[Payload],
    django: Option<&Arc<DjangoPeer>>,
) -> Result<Section> {
    let ours = redis_client(url).await?;
    let raw = redis_client(url).await?;
    let tower = redis_client(url).await?;
    let store = CacheStore::new(Arc::new(ours)).key_prefix(format!("{prefix}ours"));
    let raw_prefix = format!("{prefix}raw:");
    Ok(Section {
        title: "Redis".to_owned(),
        table: Table::Stores,
        columns: vec![
            Column::of(StoreBench::new(Ours::new(SessionBackend::from_async(
                Arc::new(store),
            )))),
            Column::of(StoreBench::new(RawRedis::new(
                raw.client().clone(),
                raw_prefix,
                encoded(payloads)?,
            ))),
            Column::of(StoreBench::new(Tower::new(RedisStore::new(
                tower.client().clone(),
            )))),
            match django {
                Some(peer) => Column::of(Django::new(Arc::clone(peer), Engine::Cache)),
                None => Column::none("Django not available"),
            },
        ],
        keep: vec![Box::new(raw), Box::new(tower)],
    })
}

/// Versioned vs plain saves on PostgreSQL, in this run's schema (made by
/// [`postgres`]).
pub async fn versions_postgres(url: &str, schema: &str, ping: Option<bool>) -> Result<Section> {
    let url = in_schema(url, schema);
    let versioned = DbPool::connect(&url, &pool_options(ping)).await?;
    let plain = DbPool::connect(&url, &pool_options(ping)).await?;
    crate::versions::postgres(versioned, plain, db_options).await
}

/// Versioned vs plain saves on Redis, keys under `prefix`.
pub async fn versions_redis(url: &str, prefix: &str) -> Result<Section> {
    Ok(crate::versions::redis(redis_client(url).await?, prefix))
}

/// Versioned vs plain saves on a Valkey server started for the run (kept by
/// `teardown`), keys under `prefix`.
///
/// # Errors
///
/// [`BenchError::Setup`] when there is no binary or the server does not start.
pub async fn versions_valkey(prefix: &str, teardown: &mut Teardown) -> Result<Section> {
    let binary = crate::valkey::binary().map_err(BenchError::Setup)?;
    let server = ValkeyServer::start(&binary).await?;
    let url = server.url();
    teardown.servers.push(server);
    eprintln!("[bench] Valkey: {} on {url}", binary.display());
    Ok(crate::versions::valkey(redis_client(&url).await?, prefix))
}

/// cached_db over PostgreSQL (a table in this run's schema) and Redis.
pub async fn cached_db(
    postgres_url: &str,
    schema: &str,
    redis_url: &str,
    prefix: &str,
    ping: Option<bool>,
) -> Result<Section> {
    let pool = DbPool::connect(&in_schema(postgres_url, schema), &pool_options(ping)).await?;
    let durable = DbStore::new(pool, db_options("cached_session"))?;
    durable.migrate().await?;
    let cache = redis_client(redis_url).await?;
    let store = CachedDbStore::new(Arc::new(durable), Arc::new(cache), Arc::new(SystemClock))
        .key_prefix(format!("{prefix}cached_db"));
    Ok(Section {
        title: "cached_db (PostgreSQL + Redis)".to_owned(),
        table: Table::Stores,
        columns: vec![
            Column::of(StoreBench::new(Ours::new(SessionBackend::from_async(
                Arc::new(store),
            )))),
            Column::none("no single raw client: two servers"),
            Column::none("no such store"),
            Column::none(NO_DJANGO),
        ],
        keep: Vec::new(),
    })
}

/// The cookie codecs.
pub fn cookies(django: Option<&Arc<DjangoPeer>>) -> Section {
    Section {
        title: "signed cookie".to_owned(),
        table: Table::Cookies,
        columns: vec![
            Column::of(CookieBench::new(OursSigned::new(SECRET))),
            Column::of(CookieBench::new(CookieCrate::new(SECRET, Jar::Signed))),
            Column::of(CookieBench::new(CookieCrate::new(SECRET, Jar::Private))),
            Column::of(CookieBench::new(ActixCookie::new(SECRET))),
            match django {
                Some(peer) => Column::of(Django::new(Arc::clone(peer), Engine::Signing)),
                None => Column::none("Django not available"),
            },
        ],
        keep: Vec::new(),
    }
}

/// The middleware requests.
///
/// # Errors
///
/// [`BenchError::Store`] when the settings are refused.
pub fn requests() -> Result<Section> {
    Ok(Section {
        title: "middleware".to_owned(),
        table: Table::Requests,
        columns: vec![Column::of(RequestBench::new(SECRET)?)],
        keep: Vec::new(),
    })
}

/// What the Django process needs to know.
pub fn django_settings(
    postgres: Option<PostgresTarget>,
    redis: Option<(String, String)>,
) -> DjangoSettings {
    DjangoSettings {
        secret: SECRET.to_owned(),
        postgres,
        redis,
    }
}
