//! Issue 12, finding 3: a db call against a server that went silent returns
//! `Error::Unavailable` within the store's operation timeout, a statement already sent
//! included, and the store works again once the network heals.
//!
//! The store reaches the real PostgreSQL (`SESSIONS_TEST_POSTGRES_URL`) or MariaDB
//! (`SESSIONS_TEST_MYSQL_URL`) through the tests' loopback TCP proxy
//! (`common::proxy`), which passes, holds (nothing read until healed) or drops
//! (read and discarded) the traffic. Skips loudly when a server does not answer,
//! fails instead under `CI=true`.
#![cfg(all(feature = "postgres", feature = "mysql"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::proxy::{Mode, Proxy};
use common::{server_missing, unique_table, Kind, SECRET, START};
use serde_json::json;
use session_api::signing::SecretKeys;
use session_api::{
    AsyncAccountSessions, AsyncSessionStore, Error, ManualClock, Record, Result, SaveMode,
    SessionData, SessionKey, Version,
};
use session_stores::db::{AccountIdColumn, DbOptions, DbPool, DbPoolOptions, DbStore};

/// The store's operation timeout in these tests.
const TIMEOUT: Duration = Duration::from_millis(750);
/// How long the test waits for any one call: far above every timeout involved, so
/// a call that is not bounded fails the test instead of hanging it.
const CAP: Duration = Duration::from_secs(20);

/// The upstream address of a server URL and the same URL through `127.0.0.1:port`.
fn through(kind: Kind, url: &str, port: u16) -> (SocketAddr, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let (authority, path) = match rest.split_once('/') {
        Some((authority, path)) => (authority, format!("/{path}")),
        None => (rest, String::new()),
    };
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    let default_port = if kind == Kind::Postgres { 5432 } else { 3306 };
    let upstream = host
        .to_socket_addrs()
        .or_else(|_| (host, default_port).to_socket_addrs())
        .expect("a resolvable server address")
        .next()
        .expect("an address");
    (upstream, format!("{scheme}://{user}127.0.0.1:{port}{path}"))
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

fn data() -> SessionData {
    SessionData::from_value(json!({"_auth_user_id": "42", "cart": [1, 2]})).unwrap()
}

fn record(key: &SessionKey) -> Record {
    Record::new(key.clone(), data(), START + time::Duration::hours(1))
}

async fn run(op: Op, store: &DbStore, key: &SessionKey) -> Result<()> {
    match op {
        Op::Load => store.aload(key).await.map(drop),
        Op::Exists => store.aexists(key).await.map(drop),
        Op::Create => store
            .asave(&record(&SessionKey::generate()), SaveMode::Create)
            .await
            .map(drop),
        Op::Update => store.asave(&record(key), SaveMode::Update).await.map(drop),
        Op::Delete => store.adelete(key).await,
        Op::ClearExpired => store.aclear_expired().await.map(drop),
        Op::Migrate => store.migrate().await,
        Op::ListAccount => store.list_account_sessions(42).await.map(drop),
        Op::RevokeAccount => store.revoke_account_sessions(42).await.map(drop),
        Op::ReadRaw => store.read_raw(key).await.map(drop),
        Op::WriteRaw => {
            store
                .write_raw(key, "raw", START + time::Duration::hours(1))
                .await
        }
        Op::Lookup => store.alookup(key).await.map(drop),
        Op::SaveIf => store
            .asave_if(&record(key), Version::new(0))
            .await
            .map(drop),
        Op::Touch => store.atouch(key, START + time::Duration::hours(2)).await,
        Op::RevokeAllExcept => store.arevoke_all_except(42, key).await.map(drop),
    }
}

/// `call`, failing the test if it takes longer than [`CAP`]; with its duration.
async fn capped<T>(what: &str, call: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    match tokio::time::timeout(CAP, call).await {
        Ok(out) => (out, started.elapsed()),
        Err(_) => panic!("{what}: no answer within {CAP:?}: the call is not bounded"),
    }
}

/// The store works: a new session is saved and loads back.
async fn works(what: &str, store: &DbStore) -> SessionKey {
    let key = SessionKey::generate();
    let (saved, _) = capped(what, store.asave(&record(&key), SaveMode::Create)).await;
    saved.unwrap_or_else(|e| panic!("{what}: save after healing: {e:?}"));
    let (loaded, _) = capped(what, store.aload(&key)).await;
    assert_eq!(
        loaded.unwrap().map(|r| r.data),
        Some(data()),
        "{what}: load after healing"
    );
    key
}

/// A pool through the proxy: one connection, no ping before a call (so a call's
/// first bytes are its statement), an acquire timeout far above [`TIMEOUT`].
async fn pool(url: &str, ping: bool) -> DbPool {
    let options = DbPoolOptions::default()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(60))
        .test_before_acquire(ping);
    DbPool::connect(url, &options).await.unwrap()
}

async fn silent_network(kind: Kind) {
    let url = kind.server_url().expect("a server URL");
    let admin_pool = match DbPool::connect(&url, &common::pool_options()).await {
        Ok(pool) => pool,
        Err(err) => return server_missing(kind, &err),
    };
    let base = DbOptions::new(SecretKeys::new(SECRET))
        .clock(Arc::new(ManualClock::new(START)))
        .table(unique_table("timeout"))
        .extension(Arc::new(AccountIdColumn::new()));
    let admin = DbStore::new(admin_pool, base.clone()).unwrap();
    admin.migrate().await.unwrap();

    let (upstream, _) = through(kind, &url, 0);
    let proxy = Proxy::start(upstream).await;
    let (_, proxied) = through(kind, &url, proxy.port());
    let store = DbStore::new(
        pool(&proxied, false).await,
        base.clone().operation_timeout(TIMEOUT),
    )
    .unwrap();

    // Every call, with its statement sent on a live connection into a network that
    // then stays silent (held: answered after healing; dropped: never answered).
    let mut slowest = Duration::ZERO;
    for mode in [Mode::Hold, Mode::Drop] {
        for op in OPS {
            let what = format!("{kind:?} {mode:?} {op:?}");
            proxy.set(Mode::Pass);
            // Healed: the store works again, on a connection it can then reuse.
            let key = works(&what, &store).await;
            proxy.set(mode);
            let (outcome, took) = capped(&what, run(op, &store, &key)).await;
            assert!(
                matches!(outcome, Err(Error::Unavailable(_))),
                "{what}: {outcome:?}"
            );
            slowest = slowest.max(took);
        }
    }
    eprintln!("{kind:?}: every call on a silent network was Unavailable, slowest after {slowest:?} (timeout {TIMEOUT:?})");

    // With a ping before each call, the call is bounded while it waits for the ping's
    // answer (the pool's own acquire timeout is 60 s).
    proxy.set(Mode::Pass);
    let pinging = DbStore::new(
        pool(&proxied, true).await,
        base.clone().operation_timeout(TIMEOUT),
    )
    .unwrap();
    let key = works("ping", &pinging).await;
    proxy.set(Mode::Hold);
    let (outcome, took) = capped("ping", run(Op::Update, &pinging, &key)).await;
    assert!(
        matches!(outcome, Err(Error::Unavailable(_))),
        "ping: {outcome:?}"
    );
    eprintln!("{kind:?}: a save whose ping went unanswered was Unavailable after {took:?}");

    // The default timeout bounds a call too.
    proxy.set(Mode::Pass);
    let default = DbStore::new(pool(&proxied, false).await, base.clone()).unwrap();
    let key = works("default", &default).await;
    proxy.set(Mode::Drop);
    let (outcome, took) = capped("default", run(Op::Update, &default, &key)).await;
    assert!(
        matches!(outcome, Err(Error::Unavailable(_))),
        "default: {outcome:?}"
    );
    eprintln!("{kind:?}: on the default timeout, a save was Unavailable after {took:?}");

    // Healed for good: every store works again.
    proxy.set(Mode::Pass);
    for (what, s) in [("store", &store), ("ping", &pinging), ("default", &default)] {
        let key = works(what, s).await;
        let (updated, _) = capped(what, s.asave(&record(&key), SaveMode::Update)).await;
        updated.unwrap();
        s.pool().close().await;
    }
    drop(proxy);
    common::exec(&admin, &format!("DROP TABLE IF EXISTS {}", admin.table())).await;
    admin.pool().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_calls_time_out_on_a_silent_network() {
    silent_network(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_calls_time_out_on_a_silent_network() {
    silent_network(Kind::MySql).await;
}
