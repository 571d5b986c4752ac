//! Shared helpers of the db tests: where the servers are, the skip/CI rule, a store
//! per test on its own table. (The conformance kit's factories and raw access live in
//! the `session-kit-stores` crate.)
//!
//! The skip/CI rule lives here only: a server that does not answer skips the test
//! with a loud message, except under `CI=true`, where it fails the test.
// Arms and helpers depend on the driver features a test file is built with.
#![allow(
    dead_code,
    unused_macros,
    unused_imports,
    unused_variables,
    clippy::unwrap_used
)]

pub mod cases;
pub mod optional;
pub mod proxy;
pub mod redis;
pub mod schema;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use session_api::signing::SecretKeys;
use session_api::ManualClock;
use session_stores::db::{DbOptions, DbPool, DbPoolOptions, DbStore};
use time::macros::datetime;
use time::OffsetDateTime;

/// The secret of these tests: Django's fixture secret, so Django's fixture strings
/// decode.
pub const SECRET: &str = "shared-fixture-secret-do-not-use-in-production";
/// 2026-01-01T00:00:00Z, the Django fixtures' signing time.
pub const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

/// The three dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    MySql,
}

impl Kind {
    /// The server URL: the env override or the default local server. SQLite has none
    /// (each test gets a file in its own tempdir).
    pub fn server_url(self) -> Option<String> {
        let (var, default) = match self {
            Kind::Sqlite => return None,
            Kind::Postgres => (
                "SESSIONS_TEST_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
            Kind::MySql => (
                "SESSIONS_TEST_MYSQL_URL",
                "mysql://root@127.0.0.1:3306/test",
            ),
        };
        Some(std::env::var(var).unwrap_or_else(|_| default.to_owned()))
    }
}

/// True under `CI=true`, where a missing server fails instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The skip/CI rule: panics under CI, else prints a loud skip message.
pub fn server_missing(kind: Kind, err: &dyn std::fmt::Display) {
    let var = match kind {
        Kind::Postgres => "SESSIONS_TEST_POSTGRES_URL",
        Kind::MySql => "SESSIONS_TEST_MYSQL_URL",
        Kind::Sqlite => "(none)",
    };
    if in_ci() {
        panic!("{kind:?} server required under CI=true but not reachable ({var}): {err}");
    }
    eprintln!(
        "\n************************************************************\n\
         SKIPPED: {kind:?} server not reachable ({var}): {err}\n\
         (set CI=true to make this a failure)\n\
         ************************************************************\n"
    );
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A table name unique to this process and call: `t_<pid>_<n>_<tag>`.
pub fn unique_table(tag: &str) -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tag: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(30)
        .collect::<String>()
        .to_ascii_lowercase();
    format!("t_{}_{n}_{tag}", std::process::id())
}

/// One test's store on its own table, its clock, and (SQLite) its tempdir.
pub struct TestDb {
    pub store: Arc<DbStore>,
    pub clock: ManualClock,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// Options on a manual clock at [`START`] with the test secret and a fresh table.
pub fn options(tag: &str, clock: &ManualClock) -> DbOptions {
    DbOptions::new(SecretKeys::new(SECRET))
        .clock(Arc::new(clock.clone()))
        .table(unique_table(tag))
}

/// The pool of the tests: the defaults with a 5 s acquire timeout.
pub fn pool_options() -> DbPoolOptions {
    DbPoolOptions::default().acquire_timeout(Duration::from_secs(5))
}

/// Connects `kind` with `options`, migrates; `None` when the server is missing (and
/// not under CI). The tempdir of a SQLite database lives as long as the `TestDb`.
pub async fn open_with(kind: Kind, clock: ManualClock, options: DbOptions) -> Option<TestDb> {
    match kind.server_url() {
        Some(url) => open_with_url(kind, &url, &pool_options(), clock, options).await,
        None => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("sessions.sqlite3").display());
            let pool = DbPool::connect(&url, &pool_options())
                .await
                .unwrap_or_else(|e| panic!("cannot open SQLite in a tempdir: {e}"));
            let store = DbStore::new(pool, options).expect("valid options");
            Some(TestDb::migrated(store, clock, url, Some(dir)).await)
        }
    }
}

/// [`open_with`] on a given server URL and pool.
pub async fn open_with_url(
    kind: Kind,
    url: &str,
    pool: &DbPoolOptions,
    clock: ManualClock,
    options: DbOptions,
) -> Option<TestDb> {
    match DbPool::connect(url, pool).await {
        Ok(pool) => {
            let store = DbStore::new(pool, options).expect("valid options");
            Some(TestDb::migrated(store, clock, url.to_owned(), None).await)
        }
        Err(err) => {
            server_missing(kind, &err);
            None
        }
    }
}

/// [`open_with`] on default test options.
pub async fn open(kind: Kind, tag: &str) -> Option<TestDb> {
    let clock = ManualClock::new(START);
    let opts = options(tag, &clock);
    open_with(kind, clock, opts).await
}

/// Runs a statement without parameters on whatever pool the store has.
pub async fn exec(store: &DbStore, sql: &str) {
    match store.pool() {
        #[cfg(feature = "sqlite")]
        DbPool::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
        #[cfg(feature = "postgres")]
        DbPool::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
        #[cfg(feature = "mysql")]
        DbPool::MySql(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
        _ => unreachable!("all drivers are compiled in for these tests"),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

impl TestDb {
    async fn migrated(
        store: DbStore,
        clock: ManualClock,
        url: String,
        dir: Option<tempfile::TempDir>,
    ) -> TestDb {
        store.migrate().await.expect("migrate");
        TestDb {
            store: Arc::new(store),
            clock,
            url,
            _dir: dir,
        }
    }

    /// Drops the test's table and closes the pool.
    pub async fn cleanup(self) {
        exec(
            &self.store,
            &format!("DROP TABLE IF EXISTS {}", self.store.table()),
        )
        .await;
        self.store.pool().close().await;
    }

    /// Number of rows in the table, expired ones included.
    pub async fn count_rows(&self) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {}", self.store.table());
        match self.store.pool() {
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite(p) => sqlx::query_scalar(&sql).fetch_one(p).await,
            #[cfg(feature = "postgres")]
            DbPool::Postgres(p) => sqlx::query_scalar(&sql).fetch_one(p).await,
            #[cfg(feature = "mysql")]
            DbPool::MySql(p) => sqlx::query_scalar(&sql).fetch_one(p).await,
            _ => unreachable!(),
        }
        .expect("count")
    }

    /// Inserts `n` (at most 100,000) rows that expired long ago, in one statement
    /// (a cross join of digit tables, portable across the three dialects).
    pub async fn insert_expired(&self, n: u32) {
        assert!(n <= 100_000);
        let digits = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL \
                      SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 \
                      UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)";
        let sql = format!(
            "INSERT INTO {t} (session_key, session_data, expire_date) \
             SELECT CONCAT('expired', a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d), \
                    'x', {{p}} \
             FROM {digits} a, {digits} b, {digits} c, {digits} e, {digits} f \
             WHERE a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d < {n}",
            t = self.store.table()
        );
        let long_ago = datetime!(2000-01-01 0:00 UTC);
        let done = match self.store.pool() {
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite(p) => sqlx::query(&sql.replace("{p}", "?"))
                .bind("2000-01-01 00:00:00")
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
            #[cfg(feature = "postgres")]
            DbPool::Postgres(p) => sqlx::query(&sql.replace("{p}", "$1"))
                .bind(long_ago)
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
            #[cfg(feature = "mysql")]
            DbPool::MySql(p) => sqlx::query(&sql.replace("{p}", "?"))
                .bind(time::PrimitiveDateTime::new(
                    long_ago.date(),
                    long_ago.time(),
                ))
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
            _ => unreachable!(),
        }
        .expect("bulk insert");
        assert_eq!(done, u64::from(n));
    }
}

/// The test runtime's flavour for tests that use the sync API (the AsyncToSync bridge
/// needs a multi-thread runtime).
#[macro_export]
macro_rules! db_test {
    ($(#[$m:meta])* async fn $name:ident() $body:block) => {
        $(#[$m])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() $body
    };
}

/// Generates the dialect-independent tests of [`cases`] for one dialect.
#[macro_export]
macro_rules! db_cases {
    ($kind:expr) => {
        $crate::db_test! { async fn crud_and_semantics() { common::cases::crud_and_semantics($kind).await } }
        $crate::db_test! { async fn expired_rows() { common::cases::expired_rows($kind).await } }
        $crate::db_test! { async fn undecodable_rows_load_as_none() { common::cases::undecodable_rows($kind).await } }
        $crate::db_test! { async fn logout_is_not_resurrected() { common::cases::logout_not_resurrected($kind).await } }
        $crate::db_test! { async fn update_waiting_on_a_logout_finds_no_row() { common::cases::update_waiting_on_a_logout_finds_no_row($kind).await } }
        $crate::db_test! { async fn session_data_is_djangos() { common::cases::django_session_data($kind).await } }
        $crate::db_test! { async fn account_listing_and_revoke() { common::cases::account_sessions($kind).await } }
        $crate::db_test! { async fn migrate_is_idempotent_and_names_are_validated() { common::cases::migrate_and_names($kind).await } }
        $crate::db_test! { async fn clear_expired_in_batches() { common::cases::clear_expired_batches($kind).await } }
        $crate::db_test! { async fn sync_side_through_the_bridge() { common::cases::sync_bridge($kind).await } }
        $crate::db_test! { async fn concurrent_creates_never_share_a_key() { common::cases::concurrent_creates($kind).await } }
        $crate::db_test! { async fn lookup_tells_expired_from_missing() { common::optional::lookup_tells_expired_from_missing($kind).await } }
        $crate::db_test! { async fn versioned_saves_conflict_and_never_recreate() { common::optional::versioned_saves($kind).await } }
        $crate::db_test! { async fn concurrent_versioned_appends_lose_nothing() { common::optional::concurrent_versioned_appends($kind).await } }
        $crate::db_test! { async fn touch_moves_the_expiry() { common::optional::touch_moves_the_expiry($kind).await } }
        $crate::db_test! { async fn account_index_lists_and_revokes() { common::optional::account_index($kind).await } }
        $crate::db_test! { async fn django_layout_is_unversioned() { common::optional::django_layout_unversioned($kind).await } }
        $crate::db_test! { async fn django_table_gains_the_version_column() { common::optional::django_table_gains_the_version_column($kind).await } }
    };
}
