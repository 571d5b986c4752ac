//! Issue 16: the pools this crate opens do not ping a connection before each call
//! (one round trip per call), and that is safe: a connection that died while idle
//! in the pool costs no call, because the statement that finds it dead is run once
//! more on a connection that answers a ping.
//!
//! Real dropped connections: the real PostgreSQL (`SESSIONS_TEST_POSTGRES_URL`,
//! `pg_terminate_backend`) and MariaDB (`SESSIONS_TEST_MYSQL_URL`, `KILL`) closing
//! the store's idle connections, and the tests' loopback proxy (`common::proxy`)
//! resetting a connection mid-statement or going away for good. Skips loudly when a
//! server does not answer, fails instead under `CI=true`.
#![cfg(all(feature = "postgres", feature = "mysql"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::proxy::{Mode, Proxy};
use common::{pool_options, server_missing, unique_table, Kind, SECRET, START};
use serde_json::json;
use session_api::signing::SecretKeys;
use session_api::{
    AsyncAccountSessions, AsyncSessionStore, Error, ManualClock, Record, Result, SaveMode,
    SessionData, SessionKey, Version,
};
use session_stores::db::{AccountIdColumn, DbOptions, DbPool, DbPoolOptions, DbStore};

/// How long the test waits for any one call: far above every timeout involved.
const CAP: Duration = Duration::from_secs(30);

fn data(n: u32) -> SessionData {
    SessionData::from_value(json!({"_auth_user_id": "42", "n": n})).unwrap()
}

fn record(key: &SessionKey, n: u32) -> Record {
    Record::new(key.clone(), data(n), START + time::Duration::hours(1))
}

fn options(table: &str) -> DbOptions {
    DbOptions::new(SecretKeys::new(SECRET))
        .clock(Arc::new(ManualClock::new(START)))
        .table(table)
        .extension(Arc::new(AccountIdColumn::new()))
}

/// A pool of the server; `None` (after the skip message) when it is missing.
async fn connect(kind: Kind, pool: &DbPoolOptions) -> Option<DbPool> {
    let url = kind.server_url().expect("a server URL");
    match DbPool::connect(&url, pool).await {
        Ok(pool) => Some(pool),
        Err(err) => {
            server_missing(kind, &err);
            None
        }
    }
}

/// `call`, failing the test if it takes longer than [`CAP`].
async fn capped<T>(what: &str, call: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(CAP, call)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {CAP:?}"))
}

/// The server-side ids of `n` connections of `pool`, all held at once (so they
/// are `n` different connections), then released to the pool, where they sit idle
/// once their return ping is done.
async fn connection_ids(pool: &DbPool, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    match pool {
        DbPool::Postgres(p) => {
            let mut held = Vec::new();
            for _ in 0..n {
                let mut conn = p.acquire().await.unwrap();
                let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
                ids.push(i64::from(pid));
                held.push(conn);
            }
        }
        DbPool::MySql(p) => {
            let mut held = Vec::new();
            for _ in 0..n {
                let mut conn = p.acquire().await.unwrap();
                let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
                ids.push(i64::try_from(id).unwrap());
                held.push(conn);
            }
        }
        _ => unreachable!("a server pool"),
    }
    // Let the return pings finish: the connections are idle in the pool.
    tokio::time::sleep(Duration::from_millis(200)).await;
    ids
}

/// Closes the server side of each connection in `ids` from `admin`.
async fn kill(admin: &DbPool, ids: &[i64]) {
    for &id in ids {
        match admin {
            DbPool::Postgres(p) => {
                let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
                    .bind(i32::try_from(id).unwrap())
                    .fetch_one(p)
                    .await
                    .unwrap();
                assert!(killed, "backend {id} was terminated");
            }
            DbPool::MySql(p) => {
                sqlx::raw_sql(&format!("KILL CONNECTION {id}"))
                    .execute(p)
                    .await
                    .unwrap();
            }
            _ => unreachable!("a server pool"),
        }
    }
    // The server has closed them by now.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Every call of the store that reaches the database.
#[derive(Debug, Clone, Copy)]
enum Op {
    Load,
    Exists,
    Create,
    Update,
    Delete,
    ClearExpired,
    Migrate,
    ListAccount,
    RevokeAccount,
    ReadRaw,
    WriteRaw,
    Lookup,
    SaveIf,
    Touch,
    RevokeAllExcept,
}

const OPS: [Op; 15] = [
    Op::Load,
    Op::Exists,
    Op::Create,
    Op::Update,
    Op::Delete,
    Op::ClearExpired,
    Op::Migrate,
    Op::ListAccount,
    Op::RevokeAccount,
    Op::ReadRaw,
    Op::WriteRaw,
    Op::Lookup,
    Op::SaveIf,
    Op::Touch,
    Op::RevokeAllExcept,
];

/// `version` is the stored version of `key` when the call starts.
async fn run(op: Op, store: &DbStore, key: &SessionKey, version: Version) -> Result<()> {
    match op {
        Op::Load => store.aload(key).await.map(drop),
        Op::Exists => store.aexists(key).await.map(drop),
        Op::Create => store
            .asave(&record(&SessionKey::generate(), 1), SaveMode::Create)
            .await
            .map(drop),
        Op::Update => store
            .asave(&record(key, 2), SaveMode::Update)
            .await
            .map(drop),
        Op::Delete => store.adelete(&SessionKey::generate()).await,
        Op::ClearExpired => store.aclear_expired().await.map(drop),
        Op::Migrate => store.migrate().await,
        Op::ListAccount => store.list_account_sessions(42).await.map(drop),
        Op::RevokeAccount => store.revoke_account_sessions(7).await.map(drop),
        Op::ReadRaw => store.read_raw(key).await.map(drop),
        Op::WriteRaw => {
            store
                .write_raw(
                    &SessionKey::generate(),
                    "raw",
                    START + time::Duration::hours(1),
                )
                .await
        }
        Op::Lookup => store.alookup(key).await.map(drop),
        // The same data as the update: written once or twice, it loads the same.
        Op::SaveIf => store.asave_if(&record(key, 2), version).await.map(drop),
        Op::Touch => store.atouch(key, START + time::Duration::hours(1)).await,
        Op::RevokeAllExcept => store.arevoke_all_except(7, key).await.map(drop),
    }
}

async fn killed_while_idle(kind: Kind) {
    let Some(admin) = connect(kind, &pool_options()).await else {
        return;
    };
    // The crate's default pool: no ping before a call.
    let pool = connect(kind, &DbPoolOptions::default().max_connections(1))
        .await
        .expect("the server answered a moment ago");
    let store = DbStore::new(pool.clone(), options(&unique_table("lossidle"))).unwrap();
    store.migrate().await.unwrap();
    let key = SessionKey::generate();
    store
        .asave(&record(&key, 0), SaveMode::Create)
        .await
        .unwrap();
    for op in OPS {
        let what = format!("{kind:?} {op:?}");
        let version = store.aload(&key).await.unwrap().unwrap().version.unwrap();
        let dead = connection_ids(&pool, 1).await;
        kill(&admin, &dead).await;
        let outcome = capped(&what, run(op, &store, &key, version)).await;
        assert!(outcome.is_ok(), "{what}: {outcome:?}");
        // It ran on a new connection; the dead one is gone from the pool.
        let now = connection_ids(&pool, 1).await;
        assert_ne!(now, dead, "{what}");
    }
    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(2)),
        "{kind:?}: the update after a lost connection was written once"
    );
    store.pool().close().await;
    common::exec(
        &DbStore::new(admin.clone(), options(store.table())).unwrap(),
        &format!("DROP TABLE {}", store.table()),
    )
    .await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_calls_survive_an_idle_connection_the_server_closed() {
    killed_while_idle(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_calls_survive_an_idle_connection_the_server_closed() {
    killed_while_idle(Kind::MySql).await;
}

/// After a database restart every idle connection is dead: the retry skips each of
/// them (a ping apiece) until the pool opens a new one.
async fn all_idle_dead(kind: Kind) {
    let Some(admin) = connect(kind, &pool_options()).await else {
        return;
    };
    let pool = connect(kind, &DbPoolOptions::default().max_connections(4))
        .await
        .expect("the server answered a moment ago");
    let store = DbStore::new(pool.clone(), options(&unique_table("lossall"))).unwrap();
    store.migrate().await.unwrap();
    let key = SessionKey::generate();
    store
        .asave(&record(&key, 0), SaveMode::Create)
        .await
        .unwrap();
    let dead = connection_ids(&pool, 4).await;
    kill(&admin, &dead).await;
    let loaded = capped("load", store.aload(&key)).await;
    assert_eq!(loaded.unwrap().map(|r| r.data), Some(data(0)), "{kind:?}");
    store.pool().close().await;
    common::exec(
        &DbStore::new(admin.clone(), options(store.table())).unwrap(),
        &format!("DROP TABLE {}", store.table()),
    )
    .await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_calls_survive_every_idle_connection_dying() {
    all_idle_dead(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_calls_survive_every_idle_connection_dying() {
    all_idle_dead(Kind::MySql).await;
}

/// The upstream address of the PostgreSQL URL and the same URL through the proxy.
fn through_proxy(url: &str, port: u16) -> (SocketAddr, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    let upstream = host
        .to_socket_addrs()
        .or_else(|_| (host, 5432).to_socket_addrs())
        .expect("a resolvable server address")
        .next()
        .expect("an address");
    (
        upstream,
        format!("{scheme}://{user}127.0.0.1:{port}/{path}"),
    )
}

/// A store on PostgreSQL through a proxy (one connection, the default pool),
/// whose table's inserts and updates take `insert_delay` on the server; the admin
/// store.
async fn proxied(tag: &str, insert_delay: Duration) -> Option<(Proxy, DbStore, DbStore)> {
    let admin_pool = connect(Kind::Postgres, &pool_options()).await?;
    let admin = DbStore::new(admin_pool, options(&unique_table(tag))).unwrap();
    admin.migrate().await.unwrap();
    let t = admin.table();
    common::exec(
        &admin,
        &format!(
            "CREATE FUNCTION {t}_slow() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN PERFORM pg_sleep({}); RETURN NEW; END $$;
             CREATE TRIGGER {t}_slow BEFORE INSERT OR UPDATE ON {t}
               FOR EACH ROW EXECUTE FUNCTION {t}_slow();",
            insert_delay.as_secs_f64()
        ),
    )
    .await;
    let url = Kind::Postgres.server_url().expect("a server URL");
    let (upstream, _) = through_proxy(&url, 0);
    let proxy = Proxy::start(upstream).await;
    let (_, url) = through_proxy(&url, proxy.port());
    let pool = DbPool::connect(&url, &DbPoolOptions::default().max_connections(1))
        .await
        .unwrap();
    let store = DbStore::new(pool, options(t).operation_timeout(Duration::from_secs(10))).unwrap();
    Some((proxy, store, admin))
}

async fn drop_proxied(store: DbStore, admin: DbStore) {
    store.pool().close().await;
    let t = admin.table().to_owned();
    common::exec(
        &admin,
        &format!("DROP TABLE {t}; DROP FUNCTION {t}_slow();"),
    )
    .await;
    admin.pool().close().await;
}

/// Runs a create of `record` while the proxy lets its statement through, then holds
/// the answer (the server has executed the insert by then) and resets the
/// connection: the client sees its connection close before any answer.
async fn lose_the_answer(proxy: &Proxy, store: &DbStore, record: Record) -> Result<SessionKey> {
    lose_the_answer_of(proxy, store, move |store| async move {
        store.asave(&record, SaveMode::Create).await
    })
    .await
}

/// As [`lose_the_answer`], for the write `call` makes on a store over the same pool.
async fn lose_the_answer_of<T, F>(
    proxy: &Proxy,
    store: &DbStore,
    call: impl FnOnce(DbStore) -> F,
) -> Result<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T>> + Send + 'static,
{
    // The connection is open and idle.
    store.aexists(&SessionKey::generate()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let save = {
        let store = DbStore::new(store.pool().clone(), options(store.table())).unwrap();
        tokio::spawn(call(store))
    };
    // The insert is on the server, in its 500 ms trigger.
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.set(Mode::Hold);
    // It has committed and answered into the held proxy.
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.reset();
    proxy.set(Mode::Pass);
    capped("the save", save).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_whose_answer_was_lost_is_not_a_collision() {
    let Some((proxy, store, admin)) = proxied("losscommit", Duration::from_millis(500)).await
    else {
        return;
    };
    // The first attempt inserted the row; the retry finds it, with this very text:
    // the create succeeded.
    let key = SessionKey::generate();
    let saved = lose_the_answer(&proxy, &store, record(&key, 5)).await;
    assert_eq!(saved.ok(), Some(key.clone()));
    assert_eq!(
        admin.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(5))
    );

    // Another writer's row under the key is still a collision after a lost
    // connection (the first attempt failed on it; the client never heard).
    let taken = SessionKey::generate();
    admin
        .asave(&record(&taken, 1), SaveMode::Create)
        .await
        .unwrap();
    let collided = lose_the_answer(&proxy, &store, record(&taken, 2)).await;
    assert!(matches!(collided, Err(Error::Create)), "{collided:?}");
    assert_eq!(
        admin.aload(&taken).await.unwrap().map(|r| r.data),
        Some(data(1))
    );
    drop(proxy);
    drop_proxied(store, admin).await;
}

/// V1: a versioned save whose answer was lost (the update committed, the
/// connection reset before the answer came) is not a conflict: the retry matches no
/// row, and the query after it finds the row at the next version holding this very
/// text. A stale version is still a conflict after a lost connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_versioned_save_whose_answer_was_lost_is_not_a_conflict() {
    let Some((proxy, store, admin)) = proxied("losssaveif", Duration::from_millis(500)).await
    else {
        return;
    };
    let key = SessionKey::generate();
    admin
        .asave(&record(&key, 1), SaveMode::Create)
        .await
        .unwrap();
    let loaded = admin.aload(&key).await.unwrap().unwrap().version.unwrap();
    let (k, v) = (key.clone(), loaded);
    let saved = lose_the_answer_of(&proxy, &store, move |store| async move {
        store.asave_if(&record(&k, 2), v).await
    })
    .await
    .unwrap();
    assert_ne!(saved, loaded);
    let now = admin.aload(&key).await.unwrap().unwrap();
    assert_eq!(
        (now.data, now.version),
        (data(2), Some(saved)),
        "written once"
    );

    // The version `loaded` is stale now: a save over it whose connection is lost
    // is a conflict, and the stored record stays.
    let (k, v) = (key.clone(), loaded);
    let stale = lose_the_answer_of(&proxy, &store, move |store| async move {
        store.asave_if(&record(&k, 3), v).await
    })
    .await;
    assert!(matches!(stale, Err(Error::Conflict)), "{stale:?}");
    let now = admin.aload(&key).await.unwrap().unwrap();
    assert_eq!((now.data, now.version), (data(2), Some(saved)));
    drop(proxy);
    drop_proxied(store, admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_gone_for_good_is_unavailable_and_the_connection_dropped() {
    let Some((proxy, store, admin)) = proxied("lossgone", Duration::ZERO).await else {
        return;
    };
    let store = DbStore::new(
        store.pool().clone(),
        options(store.table()).operation_timeout(Duration::from_secs(1)),
    )
    .unwrap();
    let key = SessionKey::generate();
    store
        .asave(&record(&key, 0), SaveMode::Create)
        .await
        .unwrap();
    // Every connection closed and nothing listening any more: the statement fails
    // on its dead connection, the retry finds no server.
    proxy.stop();
    let started = Instant::now();
    let outcome = capped("load", store.aload(&key)).await;
    assert!(matches!(outcome, Err(Error::Unavailable(_))), "{outcome:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The dead connection left the pool: nothing of it is held or idle.
    let DbPool::Postgres(pg) = store.pool() else {
        unreachable!()
    };
    assert_eq!(pg.size(), 0, "connections left in the pool");
    drop_proxied(store, admin).await;
}
