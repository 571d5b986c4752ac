//! `migrate` against Django's own schema: Django 5.2.19's `manage.py sqlmigrate
//! sessions 0001` output for each engine (USE_TZ = True; PostgreSQL through psycopg,
//! MySQL through PyMySQL against the MariaDB of these tests), copied verbatim. Each
//! check runs Django's statements in one namespace and `migrate` in another on the
//! real server, then compares what the server's catalogue says about the two tables
//! (sqlite_master, pg_indexes and information_schema.columns,
//! information_schema.statistics and .columns).
//!
//! Twice: with `Versioning::Off` the table is exactly Django's; then `migrate` of a
//! versioned store (the default) on that same table, against Django's statements
//! followed by the one `ALTER TABLE` that adds the version column ([`VERSION_SQLITE`]
//! and its siblings): a Django table migrated and a table this store created agree.

use std::sync::Arc;

use session_api::signing::SecretKeys;
use session_api::ManualClock;
use session_stores::db::{DbOptions, DbPool, DbStore, Versioning};

use super::{pool_options, server_missing, unique_table, Kind, SECRET, START};

/// `sqlmigrate sessions 0001` on `django.db.backends.sqlite3`.
pub const DJANGO_SQLITE: [&str; 2] = [
    r#"CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL)"#,
    r#"CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date")"#,
];

/// `sqlmigrate sessions 0001` on `django.db.backends.postgresql`.
pub const DJANGO_POSTGRES: [&str; 3] = [
    r#"CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL)"#,
    r#"CREATE INDEX "django_session_session_key_c0390e0f_like" ON "django_session" ("session_key" varchar_pattern_ops)"#,
    r#"CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date")"#,
];

/// `sqlmigrate sessions 0001` on `django.db.backends.mysql`.
pub const DJANGO_MYSQL: [&str; 2] = [
    "CREATE TABLE `django_session` (`session_key` varchar(40) NOT NULL PRIMARY KEY, `session_data` longtext NOT NULL, `expire_date` datetime(6) NOT NULL)",
    "CREATE INDEX `django_session_expire_date_a5c62663` ON `django_session` (`expire_date`)",
];

/// The version column, as `migrate` of a versioned store adds it on SQLite.
pub const VERSION_SQLITE: &str =
    r#"ALTER TABLE "django_session" ADD COLUMN "version" bigint NOT NULL DEFAULT 0"#;
/// The same on PostgreSQL.
pub const VERSION_POSTGRES: &str =
    r#"ALTER TABLE "django_session" ADD COLUMN "version" bigint NOT NULL DEFAULT 0"#;
/// The same on MySQL.
pub const VERSION_MYSQL: &str =
    "ALTER TABLE `django_session` ADD COLUMN `version` bigint NOT NULL DEFAULT 0";

fn options(versioning: Versioning) -> DbOptions {
    DbOptions::new(SecretKeys::new(SECRET))
        .clock(Arc::new(ManualClock::new(START)))
        .versioning(versioning)
}

/// Runs each statement on `pool`.
async fn run(pool: &DbPool, statements: &[&str]) {
    for sql in statements {
        let done = match pool {
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
            #[cfg(feature = "postgres")]
            DbPool::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
            #[cfg(feature = "mysql")]
            DbPool::MySql(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
            _ => unreachable!("all drivers are compiled in for these tests"),
        };
        done.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Migrates Django's default table (`django_session`, not a per-test table: Django's
/// index names derive from the table name) on `pool`, twice (idempotent).
async fn migrate(pool: DbPool, versioning: Versioning) -> DbStore {
    let store = DbStore::new(pool, options(versioning)).expect("default options");
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    store
}

/// The statements of `django_session` in `sqlite_master`.
async fn sqlite_catalogue(pool: &DbPool) -> Vec<String> {
    let DbPool::Sqlite(p) = pool else {
        unreachable!()
    };
    sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'django_session' AND sql IS NOT NULL \
         ORDER BY type DESC, name",
    )
    .fetch_all(p)
    .await
    .expect("catalogue")
}

/// SQLite: `migrate` leaves the very statements Django runs in `sqlite_master` (SQLite
/// keeps the text, without `IF NOT EXISTS`); the version column is Django's table
/// text with the column appended, as `ALTER TABLE` leaves it.
pub async fn sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("schema.sqlite3").display());
    let pool = DbPool::connect(&url, &pool_options())
        .await
        .expect("SQLite");
    let store = migrate(pool, Versioning::Off).await;
    let ours = sqlite_catalogue(store.pool()).await;
    assert_eq!(ours, DJANGO_SQLITE);
    // And Django's own statements give the same catalogue.
    let reference = DbPool::connect("sqlite::memory:", &pool_options())
        .await
        .expect("SQLite");
    run(&reference, &DJANGO_SQLITE).await;
    assert_eq!(ours, sqlite_catalogue(&reference).await);

    // The versioned store on the same (Django's) table adds exactly the column.
    let versioned = migrate(store.pool().clone(), Versioning::default()).await;
    run(&reference, &[VERSION_SQLITE]).await;
    let ours = sqlite_catalogue(versioned.pool()).await;
    assert_eq!(ours, sqlite_catalogue(&reference).await);
    assert_eq!(
        ours[0],
        DJANGO_SQLITE[0].replace(
            " NOT NULL)",
            r#" NOT NULL, "version" bigint NOT NULL DEFAULT 0)"#
        )
    );
    // A new database gets the same from one `migrate`.
    let fresh = migrate(
        DbPool::connect("sqlite::memory:", &pool_options())
            .await
            .expect("SQLite"),
        Versioning::default(),
    )
    .await;
    assert_eq!(sqlite_catalogue(fresh.pool()).await, ours);
}

/// What PostgreSQL's catalogue says about `django_session` in `schema`: its columns,
/// then every index (names and definitions, schema left out).
async fn pg_catalogue(pool: &sqlx::PgPool, schema: &str) -> Vec<String> {
    let mut rows: Vec<String> = sqlx::query_scalar(
        "SELECT column_name || ' ' || data_type || ' ' || is_nullable || ' ' || \
                coalesce(character_maximum_length::text, '') \
         FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = 'django_session' ORDER BY ordinal_position",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("columns");
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT replace(indexdef, schemaname || '.', '') FROM pg_indexes \
         WHERE schemaname = $1 AND tablename = 'django_session' ORDER BY indexname",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("indexes");
    rows.extend(indexes);
    rows
}

/// PostgreSQL: Django's statements in one schema, `migrate` in another (each pool's
/// `search_path` set to its schema); the catalogues agree, `_like` index included.
pub async fn postgres() {
    let Some(url) = Kind::Postgres.server_url() else {
        return;
    };
    let admin = match DbPool::connect(&url, &pool_options()).await {
        Ok(DbPool::Postgres(pool)) => pool,
        Ok(_) => unreachable!("a postgres URL"),
        Err(err) => return server_missing(Kind::Postgres, &err),
    };
    let (django, ours) = (unique_table("djangoschema"), unique_table("ourschema"));
    let in_schema = |schema: &str| {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-c%20search_path%3D{schema}")
    };
    for schema in [&django, &ours] {
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .expect("create schema");
    }
    let reference = DbPool::connect(&in_schema(&django), &pool_options())
        .await
        .expect("connect");
    run(&reference, &DJANGO_POSTGRES).await;
    let store = migrate(
        DbPool::connect(&in_schema(&ours), &pool_options())
            .await
            .expect("connect"),
        Versioning::Off,
    )
    .await;
    let theirs = pg_catalogue(&admin, &django).await;
    let mine = pg_catalogue(&admin, &ours).await;
    // The versioned store on the same table, against Django's plus the column.
    let versioned = migrate(store.pool().clone(), Versioning::default()).await;
    run(&reference, &[VERSION_POSTGRES]).await;
    let theirs_versioned = pg_catalogue(&admin, &django).await;
    let mine_versioned = pg_catalogue(&admin, &ours).await;
    drop(versioned);
    for schema in [&django, &ours] {
        sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&admin)
            .await
            .expect("drop schema");
    }
    reference.close().await;
    store.pool().close().await;
    assert_eq!(mine, theirs);
    assert_eq!(
        mine[3..],
        [
            "CREATE INDEX django_session_expire_date_a5c62663 ON django_session USING btree (expire_date)",
            "CREATE UNIQUE INDEX django_session_pkey ON django_session USING btree (session_key)",
            "CREATE INDEX django_session_session_key_c0390e0f_like ON django_session USING btree (session_key varchar_pattern_ops)",
        ]
    );
    assert_eq!(mine_versioned, theirs_versioned);
    assert_eq!(mine_versioned[..3], mine[..3]);
    assert_eq!(mine_versioned[3], "version bigint NO ");
    assert_eq!(mine_versioned[4..], mine[3..]);
}

/// What MySQL's catalogue says about `django_session` in `database`.
async fn mysql_catalogue(pool: &sqlx::MySqlPool, database: &str) -> Vec<String> {
    let mut rows: Vec<String> = sqlx::query_scalar(
        "SELECT CONCAT_WS(' ', column_name, column_type, is_nullable, column_key) \
         FROM information_schema.columns \
         WHERE table_schema = ? AND table_name = 'django_session' ORDER BY ordinal_position",
    )
    .bind(database)
    .fetch_all(pool)
    .await
    .expect("columns");
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT CONCAT_WS(' ', index_name, seq_in_index, column_name, non_unique, index_type) \
         FROM information_schema.statistics \
         WHERE table_schema = ? AND table_name = 'django_session' \
         ORDER BY index_name, seq_in_index",
    )
    .bind(database)
    .fetch_all(pool)
    .await
    .expect("indexes");
    rows.extend(indexes);
    rows
}

/// MySQL/MariaDB: Django's statements in one scratch database, `migrate` in another;
/// the catalogues agree.
pub async fn mysql() {
    let Some(url) = Kind::MySql.server_url() else {
        return;
    };
    let admin = match DbPool::connect(&url, &pool_options()).await {
        Ok(DbPool::MySql(pool)) => pool,
        Ok(_) => unreachable!("a mysql URL"),
        Err(err) => return server_missing(Kind::MySql, &err),
    };
    let (django, ours) = (unique_table("djangodb"), unique_table("ourdb"));
    // The same server and credentials, another database.
    let (base, query) = url
        .split_once('?')
        .map_or((url.as_str(), ""), |(b, q)| (b, q));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    let in_database = |db: &str| {
        if query.is_empty() {
            format!("{server}/{db}")
        } else {
            format!("{server}/{db}?{query}")
        }
    };
    for db in [&django, &ours] {
        sqlx::raw_sql(&format!("CREATE DATABASE {db}"))
            .execute(&admin)
            .await
            .expect("create database");
    }
    let reference = DbPool::connect(&in_database(&django), &pool_options())
        .await
        .expect("connect");
    run(&reference, &DJANGO_MYSQL).await;
    let store = migrate(
        DbPool::connect(&in_database(&ours), &pool_options())
            .await
            .expect("connect"),
        Versioning::Off,
    )
    .await;
    let theirs = mysql_catalogue(&admin, &django).await;
    let mine = mysql_catalogue(&admin, &ours).await;
    // The versioned store on the same table, against Django's plus the column.
    let versioned = migrate(store.pool().clone(), Versioning::default()).await;
    run(&reference, &[VERSION_MYSQL]).await;
    let theirs_versioned = mysql_catalogue(&admin, &django).await;
    let mine_versioned = mysql_catalogue(&admin, &ours).await;
    drop(versioned);
    reference.close().await;
    store.pool().close().await;
    for db in [&django, &ours] {
        sqlx::raw_sql(&format!("DROP DATABASE {db}"))
            .execute(&admin)
            .await
            .expect("drop database");
    }
    assert_eq!(mine, theirs);
    assert_eq!(
        mine[3..],
        [
            "django_session_expire_date_a5c62663 1 expire_date 1 BTREE",
            "PRIMARY 1 session_key 0 BTREE",
        ]
    );
    assert_eq!(mine_versioned, theirs_versioned);
    assert_eq!(mine_versioned[..3], mine[..3]);
    assert!(
        mine_versioned[3].starts_with("version bigint"),
        "{}",
        mine_versioned[3]
    );
    assert_eq!(mine_versioned[4..], mine[3..]);
}
