//! Every `DbOptions` field is honoured by both constructors (`DbStore::new` over a
//! pool, `DbStore::connect` from a URL), and every `DbPoolOptions` field by
//! `DbPool::connect`: each test fails if a constructor ignored its field. On
//! PostgreSQL (`SESSIONS_TEST_POSTGRES_URL`), whose statement-level triggers and
//! `pg_terminate_backend` make the batch size and the ping observable. Skips loudly
//! when the server does not answer, fails instead under `CI=true`.
#![cfg(all(feature = "postgres", feature = "sqlite", feature = "mysql"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use session_api::signing::SecretKeys;
use session_api::{
    AsyncSessionStore, DecodeLimits, Error, JsonSerializer, ManualClock, Record, Result, SaveMode,
    Serializer, SessionCodec, SessionData, SessionKey, Version,
};
use session_stores::db::{AccountIdColumn, DbOptions, DbPool, DbPoolOptions, DbStore, Versioning};
use time::macros::datetime;
use time::OffsetDateTime;

use common::{pool_options, server_missing, unique_table, Kind, SECRET, START};

fn data(value: serde_json::Value) -> SessionData {
    SessionData::from_value(value).unwrap()
}

fn url() -> String {
    Kind::Postgres.server_url().expect("a server URL")
}

/// A pool of the test server; `None` (after the skip message) when it is missing.
async fn admin() -> Option<sqlx::PgPool> {
    match DbPool::connect(&url(), &pool_options()).await {
        Ok(DbPool::Postgres(pool)) => Some(pool),
        Ok(_) => unreachable!("a postgres URL"),
        Err(err) => {
            server_missing(Kind::Postgres, &err);
            None
        }
    }
}

async fn exec(pool: &sqlx::PgPool, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The store of `options` built each way, on its own table (`make` gets the table
/// name), migrated: `[("new", ...), ("connect", ...)]`.
async fn both(tag: &str, make: impl Fn(String) -> DbOptions) -> Vec<(&'static str, DbStore)> {
    let pool = DbPool::connect(&url(), &pool_options()).await.unwrap();
    let built = DbStore::new(pool, make(unique_table(&format!("{tag}new")))).unwrap();
    let connected = DbStore::connect(&url(), make(unique_table(&format!("{tag}connect"))))
        .await
        .unwrap();
    let stores = vec![("new", built), ("connect", connected)];
    for (_, store) in &stores {
        store.migrate().await.unwrap();
    }
    stores
}

async fn drop_tables(admin: &sqlx::PgPool, stores: &[(&str, DbStore)]) {
    for (_, store) in stores {
        exec(admin, &format!("DROP TABLE IF EXISTS {}", store.table())).await;
        store.pool().close().await;
    }
}

fn base(table: String) -> DbOptions {
    DbOptions::new(SecretKeys::new(SECRET))
        .clock(Arc::new(ManualClock::new(START)))
        .table(table)
}

fn record(key: &str, data: SessionData) -> Record {
    Record::new(
        SessionKey::parse(key).unwrap(),
        data,
        START + time::Duration::hours(1),
    )
}

#[tokio::test]
async fn table_is_the_one_written() {
    let Some(admin) = admin().await else { return };
    let stores = both("opttable", base).await;
    for (how, store) in &stores {
        store
            .asave(
                &record("tablefield1", data(json!({"a": 1}))),
                SaveMode::Create,
            )
            .await
            .unwrap();
        let sql = format!("SELECT COUNT(*) FROM {}", store.table());
        let n: i64 = sqlx::query_scalar(&sql).fetch_one(&admin).await.unwrap();
        assert_eq!(n, 1, "{how}: the row is in the configured table");
    }
    drop_tables(&admin, &stores).await;
}

#[tokio::test]
async fn clear_batch_size_is_the_rows_per_statement() {
    let Some(admin) = admin().await else { return };
    let stores = both("optbatch", |t| base(t).clear_batch_size(2)).await;
    for (how, store) in &stores {
        // A statement-level trigger counts the DELETE statements.
        let t = store.table();
        exec(
            &admin,
            &format!(
                "CREATE TABLE {t}_stmts (n int);
                 CREATE FUNCTION {t}_count() RETURNS trigger LANGUAGE plpgsql AS
                   $$ BEGIN INSERT INTO {t}_stmts VALUES (1); RETURN NULL; END $$;
                 CREATE TRIGGER {t}_each AFTER DELETE ON {t}
                   FOR EACH STATEMENT EXECUTE FUNCTION {t}_count();
                 INSERT INTO {t} (session_key, session_data, expire_date)
                   SELECT 'expired' || g, 'x', '2000-01-01T00:00:00Z'
                   FROM generate_series(1, 5) AS g;"
            ),
        )
        .await;
        assert_eq!(store.aclear_expired().await.unwrap(), 5, "{how}");
        let sql = format!("SELECT COUNT(*) FROM {t}_stmts");
        let statements: i64 = sqlx::query_scalar(&sql).fetch_one(&admin).await.unwrap();
        // Batches of 2, 2 and 1 (the short one ends the loop); the default batch
        // (5,000) would take one statement.
        assert_eq!(statements, 3, "{how}: DELETE statements");
        exec(
            &admin,
            &format!("DROP TABLE {t}_stmts; DROP TABLE {t}; DROP FUNCTION {t}_count();"),
        )
        .await;
    }
    drop_tables(&admin, &stores).await;
}

#[tokio::test]
async fn secret_keys_sign_the_stored_data() {
    let Some(admin) = admin().await else { return };
    let mine = "the-store-secret-of-this-test";
    let stores_mine = both("optsecret2", |t| {
        DbOptions::new(SecretKeys::new(mine))
            .clock(Arc::new(ManualClock::new(START)))
            .table(t)
    })
    .await;
    let clock = Arc::new(ManualClock::new(START));
    let codec = |secret: &str| {
        SessionCodec::new(
            &SecretKeys::new(secret),
            clock.clone(),
            Arc::new(JsonSerializer),
        )
    };
    for (how, store) in &stores_mine {
        let r = record("secretfield1", data(json!({"a": 1})));
        store.asave(&r, SaveMode::Create).await.unwrap();
        let (raw, _) = store.read_raw(&r.key).await.unwrap().unwrap();
        assert_eq!(codec(mine).try_decode(&raw).unwrap(), r.data, "{how}");
        assert!(codec(SECRET).try_decode(&raw).is_err(), "{how}");
    }
    drop_tables(&admin, &stores_mine).await;
}

/// Django's JSON followed by a space: decodes as JSON, encodes differently.
#[derive(Debug)]
struct SpacedJson;

impl Serializer for SpacedJson {
    fn dumps(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>> {
        let mut bytes = JsonSerializer.dumps(value)?;
        bytes.push(b' ');
        Ok(bytes)
    }
    fn loads(&self, bytes: &[u8]) -> Result<serde_json::Value> {
        JsonSerializer.loads(bytes)
    }
}

#[tokio::test]
async fn serializer_encodes_the_stored_data() {
    let Some(admin) = admin().await else { return };
    let clock = Arc::new(ManualClock::new(START));
    let stores = both("optserializer", |t| {
        base(t)
            .clock(clock.clone())
            .serializer(Arc::new(SpacedJson))
    })
    .await;
    let d = data(json!({"a": [1, 2]}));
    let spaced = SessionCodec::new(
        &SecretKeys::new(SECRET),
        clock.clone(),
        Arc::new(SpacedJson),
    )
    .encode(&d)
    .unwrap();
    let json = SessionCodec::new(&SecretKeys::new(SECRET), clock, Arc::new(JsonSerializer))
        .encode(&d)
        .unwrap();
    assert_ne!(spaced, json);
    for (how, store) in &stores {
        let r = record("serializerfield", d.clone());
        store.asave(&r, SaveMode::Create).await.unwrap();
        let (raw, _) = store.read_raw(&r.key).await.unwrap().unwrap();
        assert_eq!(raw, spaced, "{how}");
    }
    drop_tables(&admin, &stores).await;
}

#[tokio::test]
async fn decode_limits_bound_what_saves_and_loads() {
    let Some(admin) = admin().await else { return };
    let limits = DecodeLimits {
        max_signed_len: 40,
        ..DecodeLimits::default()
    };
    let stores = both("optlimits", |t| base(t).decode_limits(limits)).await;
    for (how, store) in &stores {
        let r = record("limitsfield1", data(json!({"text": "x".repeat(100)})));
        // One set of limits on both sides (the default limit would save and load it):
        // the save is refused before anything is written...
        let saved = store.asave(&r, SaveMode::Create).await;
        assert!(
            matches!(saved, Err(Error::SessionTooLarge { limit: 40, .. })),
            "{how}: {saved:?}"
        );
        assert_eq!(store.read_raw(&r.key).await.unwrap(), None, "{how}");
        // ... and a row written by someone else loads as absent (H3).
        let encoded = SessionCodec::new(
            &SecretKeys::new(SECRET),
            Arc::new(ManualClock::new(START)),
            Arc::new(JsonSerializer),
        )
        .encode(&r.data)
        .unwrap();
        store
            .write_raw(&r.key, &encoded, r.expires_at)
            .await
            .unwrap();
        assert!(
            store.aexists(&r.key).await.unwrap(),
            "{how}: the row is there"
        );
        assert_eq!(store.aload(&r.key).await.unwrap(), None, "{how}");
    }
    drop_tables(&admin, &stores).await;
}

#[tokio::test]
async fn clock_is_the_stores_now() {
    let Some(admin) = admin().await else { return };
    // Far in the past: on the system clock these records would have expired long ago.
    let past = datetime!(2000-01-01 0:00 UTC);
    let clock = ManualClock::new(past);
    let stores = both("optclock", |t| base(t).clock(Arc::new(clock.clone()))).await;
    for (how, store) in &stores {
        let r = Record::new(
            SessionKey::parse("clockfield01").unwrap(),
            data(json!({"a": 1})),
            past + time::Duration::hours(1),
        );
        store.asave(&r, SaveMode::Create).await.unwrap();
        let loaded = store.aload(&r.key).await.unwrap();
        assert_eq!(
            loaded.map(|l| (l.data, l.expires_at)),
            Some((r.data.clone(), r.expires_at)),
            "{how}"
        );
    }
    clock.advance(time::Duration::hours(2));
    for (how, store) in &stores {
        let key = SessionKey::parse("clockfield01").unwrap();
        assert_eq!(store.aload(&key).await.unwrap(), None, "{how}");
        assert_eq!(store.aclear_expired().await.unwrap(), 1, "{how}");
    }
    drop_tables(&admin, &stores).await;
}

/// V1: `versioning` is honoured: the default column versions the records,
/// `Versioning::Off` keeps Django's table and declares the store unversioned.
#[tokio::test]
async fn versioning_is_honoured() {
    let Some(admin) = admin().await else { return };
    let versioned = both("optversion", base).await;
    let off = both("optversionoff", |t| base(t).versioning(Versioning::Off)).await;
    for ((how, on), (_, off)) in versioned.iter().zip(&off) {
        let r = Record::new(
            SessionKey::generate(),
            data(json!({"a": 1})),
            START + time::Duration::hours(1),
        );
        for store in [on, off] {
            store.asave(&r, SaveMode::Create).await.unwrap();
        }
        assert!(on.capabilities().versioned, "{how}");
        let v = on.aload(&r.key).await.unwrap().unwrap().version;
        assert_eq!(v, Some(Version::new(0)), "{how}");
        assert!(on.asave_if(&r, Version::new(0)).await.is_ok(), "{how}");
        assert!(!off.capabilities().versioned, "{how}");
        assert_eq!(off.aload(&r.key).await.unwrap().unwrap().version, None);
        assert!(matches!(
            off.asave_if(&r, Version::new(0)).await,
            Err(Error::Unsupported(_))
        ));
    }
    drop_tables(&admin, &versioned).await;
    drop_tables(&admin, &off).await;
}

#[tokio::test]
async fn extension_fills_its_columns() {
    let Some(admin) = admin().await else { return };
    let stores = both("optext", |t| {
        base(t).extension(Arc::new(AccountIdColumn::new()))
    })
    .await;
    for (how, store) in &stores {
        assert!(store.capabilities().list_by_account, "{how}");
        let r = record("extensionfield", data(json!({"_auth_user_id": "42"})));
        store.asave(&r, SaveMode::Create).await.unwrap();
        let sql = format!(
            "SELECT account_id FROM {} WHERE session_key = $1",
            store.table()
        );
        let account: Option<i64> = sqlx::query_scalar(&sql)
            .bind(r.key.as_str())
            .fetch_one(&admin)
            .await
            .unwrap();
        assert_eq!(account, Some(42), "{how}");
    }
    drop_tables(&admin, &stores).await;
}

#[tokio::test]
async fn operation_timeout_bounds_a_call_the_server_holds_up() {
    let Some(admin) = admin().await else { return };
    let stores = both("opttimeout", |t| {
        base(t).operation_timeout(Duration::from_millis(300))
    })
    .await;
    let key = SessionKey::parse("timeoutfield1").unwrap();
    for (how, store) in &stores {
        // The admin's lock holds the store's SELECT up for 3 s: longer than this
        // timeout, shorter than the default (5 s), which would wait and load.
        let mut tx = admin.begin().await.unwrap();
        let lock = format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", store.table());
        sqlx::raw_sql(&lock).execute(&mut *tx).await.unwrap();
        let unlock = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            tx.rollback().await.unwrap();
        });
        let outcome = tokio::time::timeout(Duration::from_secs(20), store.aload(&key))
            .await
            .expect("the call is bounded");
        assert!(
            matches!(outcome, Err(Error::Unavailable(_))),
            "{how}: {outcome:?}"
        );
        unlock.await.unwrap();
        // The timed-out call's connection is not reused half-read: the next call works.
        assert_eq!(store.aload(&key).await.unwrap(), None, "{how}");
    }
    drop_tables(&admin, &stores).await;
}

#[tokio::test]
async fn max_connections_and_acquire_timeout_bound_the_pool() {
    let Some(admin) = admin().await else { return };
    let pool_opts = DbPoolOptions::default()
        .max_connections(2)
        .acquire_timeout(Duration::from_millis(300));
    let pool = DbPool::connect(&url(), &pool_opts).await.unwrap();
    let DbPool::Postgres(pg) = pool.clone() else {
        unreachable!()
    };
    let store = DbStore::new(pool, base(unique_table("optpool"))).unwrap();
    store.migrate().await.unwrap();
    let key = SessionKey::parse("poolfield01").unwrap();
    // Both connections taken: the store waits the acquire timeout, then is unavailable.
    let held = (pg.acquire().await.unwrap(), pg.acquire().await.unwrap());
    let started = Instant::now();
    let outcome = store.aload(&key).await;
    let waited = started.elapsed();
    assert!(matches!(outcome, Err(Error::Unavailable(_))), "{outcome:?}");
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "waited {waited:?}"
    );
    drop(held);
    assert_eq!(store.aload(&key).await.unwrap(), None);
    exec(&admin, &format!("DROP TABLE {}", store.table())).await;
    store.pool().close().await;
}

/// Kills the server side of every connection named `app`; true when one went.
async fn kill(admin: &sqlx::PgPool, app: &str) -> bool {
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(app)
    .fetch_all(admin)
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    !killed.is_empty()
}

/// A URL whose connections carry `app` as their application name.
fn named(app: &str) -> String {
    let url = url();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={app}")
}

#[tokio::test]
async fn test_before_acquire_is_the_pools_and_either_way_a_dead_idle_connection_costs_no_call() {
    let Some(admin) = admin().await else { return };
    let table = unique_table("optping");
    for ping in [true, false] {
        let app = unique_table(&format!("ping{ping}"));
        let pool_opts = DbPoolOptions::default()
            .max_connections(1)
            .test_before_acquire(ping);
        let pool = DbPool::connect(&named(&app), &pool_opts).await.unwrap();
        let DbPool::Postgres(pg) = &pool else {
            unreachable!()
        };
        assert_eq!(pg.options().get_test_before_acquire(), ping);
        let store = DbStore::new(pool, base(table.clone())).unwrap();
        store.migrate().await.unwrap();
        let key = SessionKey::parse("pingfield01").unwrap();
        assert_eq!(store.aload(&key).await.unwrap(), None);
        // Let the pool's release check finish, then kill the idle connection.
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(
            kill(&admin, &app).await,
            "ping {ping}: a connection was idle"
        );
        // With the ping the pool replaces it before the call; without, the call's
        // statement fails on it and runs again on a new connection
        // (tests/db_connection_loss.rs has every call).
        let outcome = store.aload(&key).await;
        assert!(matches!(outcome, Ok(None)), "ping {ping}: {outcome:?}");
        store.pool().close().await;
    }
    // The default: no ping, so one round trip per call.
    assert_eq!(
        DbPoolOptions::default(),
        DbPoolOptions::default().test_before_acquire(false)
    );
    let app = unique_table("pingconnect");
    let store = DbStore::connect(&named(&app), base(table.clone()))
        .await
        .unwrap();
    let DbPool::Postgres(pg) = store.pool() else {
        unreachable!()
    };
    assert!(!pg.options().get_test_before_acquire());
    let key = SessionKey::parse("pingfield01").unwrap();
    assert_eq!(store.aload(&key).await.unwrap(), None);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(kill(&admin, &app).await);
    assert_eq!(store.aload(&key).await.unwrap(), None);
    store.pool().close().await;
    exec(&admin, &format!("DROP TABLE {table}")).await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // A loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pool_opts = DbPoolOptions::default().acquire_timeout(Duration::from_millis(500));
    for url in [
        format!("postgres://postgres@127.0.0.1:{port}/test"),
        format!("mysql://root@127.0.0.1:{port}/test"),
    ] {
        let started = Instant::now();
        let outcome = DbPool::connect(&url, &pool_opts).await;
        assert!(matches!(outcome, Err(Error::Unavailable(_))), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    // A closed pool: every call is unavailable, not a backend failure.
    let Some(admin) = admin().await else { return };
    let store = DbStore::new(DbPool::Postgres(admin), base(unique_table("optclosed"))).unwrap();
    store.pool().close().await;
    let key = SessionKey::parse("closedfield1").unwrap();
    assert!(matches!(
        store.aload(&key).await,
        Err(Error::Unavailable(_))
    ));
    let r = Record::new(key.clone(), SessionData::new(), OffsetDateTime::now_utc());
    assert!(matches!(
        store.asave(&r, SaveMode::Create).await,
        Err(Error::Unavailable(_))
    ));
}
