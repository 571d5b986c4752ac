//! The stores the tower-sessions tests run on, each test on its own: SQLite in a
//! temporary directory, PostgreSQL on a table of its own, Redis under a key prefix
//! of its own, all on a [`ManualClock`] so expiry moves without sleeping. What a test
//! made is removed when its [`Env`] is dropped, failed test or not.
//!
//! A server that does not answer skips the test with a loud message, except under
//! `CI=true`, where it fails the test.
#![allow(dead_code, unused_macros, clippy::unwrap_used)] // Each test file uses its own part.

#[macro_use]
mod behaviours;
pub mod http;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use session_api::{AsyncSessionStore, ManualClock, SecretKeys};
use session_stores::cache::{CacheStore, RedisCache, RedisOptions};
use session_stores::db::{DbOptions, DbPool, DbPoolOptions, DbStore};
use session_tower_sessions::{key_for_id, TowerSessionsStore};
use time::OffsetDateTime;

/// The stores the behaviours run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Redis,
}

/// One test's store, its clock and raw access to what it stored.
pub struct Env {
    pub store: Arc<TowerSessionsStore>,
    pub clock: ManualClock,
    raw: Raw,
    _cleanup: Cleanup,
}

enum Raw {
    Db(Arc<DbStore>),
    Cache(Arc<CacheStore>),
}

/// Removes a test's table or keys when the test ends. Drop runs inside the test's
/// runtime, where nothing can be awaited: the server work runs on a thread of its own.
enum Cleanup {
    Dir(tempfile::TempDir),
    Table { url: String, table: String },
    Keys { addr: String, prefix: String },
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::Dir(_) => {}
            Cleanup::Table { url, table } => {
                let (url, sql) = (url.clone(), format!("DROP TABLE IF EXISTS {table}"));
                let dropped = std::thread::spawn(move || drop_table(&url, &sql)).join();
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!("could not drop test table {table}: {dropped:?}");
                }
            }
            Cleanup::Keys { addr, prefix } => {
                let script = "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do \
                              n = n + redis.call('DEL', k) end return n";
                let pattern = format!("{prefix}:*");
                if let Err(err) = resp(addr, &["EVAL", script, "0", &pattern]) {
                    eprintln!("could not remove test keys {pattern}: {err}");
                }
            }
        }
    }
}

fn drop_table(url: &str, sql: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let pool = DbPool::connect(url, &DbPoolOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let DbPool::Postgres(pg) = &pool else {
            return Err("not a PostgreSQL pool".to_owned());
        };
        let done = session_stores::db::sqlx::raw_sql(sql).execute(pg).await;
        pool.close().await;
        done.map(drop).map_err(|e| e.to_string())
    })
}

/// One RESP command over a plain socket (the clean-up must not need the runtime).
fn resp(addr: &str, args: &[&str]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut command = format!("*{}\r\n", args.len());
    for arg in args {
        command.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(command.as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line)
}

/// The secret of these tests.
pub const SECRET: &str = "session-tower-sessions-test-secret";

/// A name unique to this process and call: `ts_<pid>_<n>_<tag>`, `[a-z0-9_]`.
pub fn unique_name(tag: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tag: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(30)
        .collect::<String>()
        .to_ascii_lowercase();
    format!("ts_{}_{n}_{tag}", std::process::id())
}

/// True under `CI=true`, where a missing server fails instead of skipping.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The skip/CI rule: panics under CI, else prints a loud skip message.
fn server_missing(what: &str, var: &str, err: &dyn std::fmt::Display) {
    if in_ci() {
        panic!("{what} required under CI=true but not reachable ({var}): {err}");
    }
    eprintln!(
        "\n************************************************************\n\
         SKIPPED: {what} not reachable ({var}): {err}\n\
         (set CI=true to make this a failure)\n\
         ************************************************************\n"
    );
}

/// Now, to the second: every store keeps at least that (the databases keep
/// microseconds, the cache RFC 3339), so expiries compare exactly.
fn whole_second_now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// `host:port` of a `redis://host[:port][/db]` URL.
fn redis_addr(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:6379")
    }
}

impl Env {
    /// A fresh store of `backend` for the test `tag`; `None` (after the skip message)
    /// when its server does not answer outside CI.
    pub async fn open(backend: Backend, tag: &str) -> Option<Env> {
        // The stores' "now" starts at the real one: tower-sessions computes expiry
        // dates from the system clock.
        let clock = ManualClock::new(whole_second_now());
        let name = unique_name(tag);
        let options = DbOptions::new(SecretKeys::new(SECRET))
            .clock(Arc::new(clock.clone()))
            .table(name.clone());
        let (raw, cleanup, inner): (Raw, Cleanup, Arc<dyn AsyncSessionStore>) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("sessions.sqlite3").display());
                let db = Arc::new(DbStore::connect(&url, options).await.expect("SQLite"));
                db.migrate().await.expect("migrate");
                (Raw::Db(db.clone()), Cleanup::Dir(dir), db)
            }
            Backend::Postgres => {
                let var = "SESSIONS_TEST_POSTGRES_URL";
                let url = std::env::var(var)
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
                let pool_options = DbPoolOptions::default()
                    .max_connections(2)
                    .acquire_timeout(Duration::from_secs(5));
                let pool = match DbPool::connect(&url, &pool_options).await {
                    Ok(pool) => pool,
                    Err(err) => {
                        server_missing("PostgreSQL", var, &err);
                        return None;
                    }
                };
                let db = Arc::new(DbStore::new(pool, options).expect("valid options"));
                let cleanup = Cleanup::Table {
                    url,
                    table: name.clone(),
                };
                db.migrate().await.expect("migrate");
                (Raw::Db(db.clone()), cleanup, db)
            }
            Backend::Redis => {
                let var = "SESSIONS_TEST_REDIS_URL";
                let url =
                    std::env::var(var).unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
                let options = RedisOptions::default()
                    .command_timeout(Duration::from_secs(2))
                    .connect_timeout(Duration::from_secs(2));
                let redis = match RedisCache::connect(&url, options).await {
                    Ok(redis) => redis,
                    Err(err) => {
                        server_missing("Redis", var, &err);
                        return None;
                    }
                };
                let cache = Arc::new(
                    CacheStore::new(Arc::new(redis))
                        .key_prefix(name.clone())
                        .clock(Arc::new(clock.clone())),
                );
                let cleanup = Cleanup::Keys {
                    addr: redis_addr(&url),
                    prefix: name,
                };
                (Raw::Cache(cache.clone()), cleanup, cache)
            }
        };
        let store = Arc::new(TowerSessionsStore::new(inner).expect("an id-keyed store"));
        Some(Env {
            store,
            clock,
            raw,
            _cleanup: cleanup,
        })
    }

    /// The store's "now".
    pub fn now(&self) -> OffsetDateTime {
        session_api::Clock::now(&self.clock)
    }

    /// Moves the store's clock on by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.clock.advance(time::Duration::seconds(seconds));
    }

    /// Whether anything is stored under the key of `id`, expired or not.
    pub async fn stored(&self, id: i128) -> bool {
        let key = key_for_id(id);
        match &self.raw {
            Raw::Db(db) => db.read_raw(&key).await.unwrap().is_some(),
            Raw::Cache(cache) => cache.read_raw(&key).await.unwrap().is_some(),
        }
    }
}
