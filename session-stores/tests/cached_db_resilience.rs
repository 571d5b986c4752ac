//! cached_db when Redis fails: each test runs its own `redis-server` on a free port
//! (never the shared one), over SQLite. With Redis down, saves and loads go on from
//! the database; a restarted Redis is filled again.
#![cfg(all(feature = "cached_db", feature = "redis", feature = "sqlite"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::proxy::{Mode, Proxy};
use common::redis::{eventually, free_port, test_options, RedisServer};
use common::{open, Kind, TestDb, START};
use serde_json::json;
use session_api::{AsyncSessionStore, Error, Record, SaveMode, SessionData, SessionKey};
use session_stores::cache::{Cache, RedisCache};
use session_stores::cached_db::CachedDbStore;
use session_stores::db::DbStore;

fn data(n: i64) -> SessionData {
    SessionData::from_value(json!({"n": n})).unwrap()
}

fn hour() -> time::OffsetDateTime {
    START + time::Duration::hours(1)
}

/// A bound for one call while Redis is down: the command timeout (500 ms), the
/// database's work, the epoch wait of a write (1.25 × [`INTERVAL`]) and slack for a
/// loaded machine.
const BOUND: Duration = Duration::from_secs(2);
/// The epoch interval of the outage tests.
const INTERVAL: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_saves_and_loads_use_the_database() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let db = open(Kind::Sqlite, "cdb_redis_down").await.expect("SQLite");
    let redis = Arc::new(
        RedisCache::connect(&server.url(), test_options())
            .await
            .unwrap(),
    );
    let store = CachedDbStore::new(db.store.clone(), redis.clone(), Arc::new(db.clock.clone()))
        .epoch_interval(INTERVAL);
    let key = SessionKey::generate();
    store
        .asave(&Record::new(key.clone(), data(1), hour()), SaveMode::Create)
        .await
        .unwrap();
    // A versioned database (V1): the first load caches the record.
    store.aload(&key).await.unwrap().unwrap();
    assert!(redis.get(&store.cache_key(&key)).await.unwrap().is_some());

    server.stop();
    let started = Instant::now();
    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(1))
    );
    store
        .asave(&Record::new(key.clone(), data(2), hour()), SaveMode::Update)
        .await
        .unwrap();
    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(2))
    );
    assert!(store.aexists(&key).await.unwrap());
    let fresh = SessionKey::generate();
    store
        .asave(
            &Record::new(fresh.clone(), data(3), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(
        store.aload(&fresh).await.unwrap().map(|r| r.data),
        Some(data(3))
    );
    let took = started.elapsed();
    eprintln!("Redis down: 6 calls served by the database in {took:?}");
    assert!(took < BOUND * 6, "{took:?}");

    // Deleting removes the row; the cache it could not reach is settled by the epoch.
    store.adelete(&fresh).await.unwrap();
    assert_eq!(db.store.read_raw(&fresh).await.unwrap(), None);
    assert_eq!(store.aload(&fresh).await.unwrap().map(|r| r.data), None);

    server.restart();
    let cache_key = store.cache_key(&key);
    eventually(Duration::from_secs(15), || async {
        store.aload(&key).await.unwrap().map(|r| r.data) == Some(data(2))
            && redis.get(&cache_key).await.ok().flatten().is_some()
    })
    .await
    .expect("a load fills the restarted Redis");
    store
        .asave(&Record::new(key.clone(), data(4), hour()), SaveMode::Update)
        .await
        .unwrap();
    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(4))
    );
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_costs_at_most_the_timeout() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let db = open(Kind::Sqlite, "cdb_redis_frozen")
        .await
        .expect("SQLite");
    let redis = Arc::new(
        RedisCache::connect(&server.url(), test_options())
            .await
            .unwrap(),
    );
    let store = CachedDbStore::new(db.store.clone(), redis, Arc::new(db.clock.clone()))
        .epoch_interval(INTERVAL);
    let key = SessionKey::generate();
    store
        .asave(&Record::new(key.clone(), data(1), hour()), SaveMode::Create)
        .await
        .unwrap();

    server.pause();
    let started = Instant::now();
    store
        .asave(&Record::new(key.clone(), data(2), hour()), SaveMode::Update)
        .await
        .unwrap();
    let save = started.elapsed();
    let started = Instant::now();
    let loaded = store.aload(&key).await.unwrap().map(|r| r.data);
    let load = started.elapsed();
    eprintln!("Redis frozen: save {save:?}, load {load:?}");
    assert!(save < BOUND && load < BOUND, "{save:?} {load:?}");
    // The cache read failed too, so the database's data is served.
    assert_eq!(loaded, Some(data(2)));
    server.resume();
    // The save changed the epoch: whatever the frozen Redis still holds or runs when
    // it thaws (the timed-out lease), the older copy is never served.
    let after = eventually(Duration::from_secs(15), || async {
        store.aexists(&key).await.is_ok()
    })
    .await;
    let served = store.aload(&key).await.unwrap().map(|r| r.data);
    eprintln!("Redis thawed after {after:?}");
    assert_eq!(served, Some(data(2)));
    store
        .asave(&Record::new(key.clone(), data(3), hour()), SaveMode::Update)
        .await
        .unwrap();
    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(3))
    );
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_without_redis_and_uses_it_once_it_is_up() {
    let port = free_port();
    let db = open(Kind::Sqlite, "cdb_redis_late").await.expect("SQLite");
    let redis = Arc::new(
        RedisCache::connect(
            &format!("redis://127.0.0.1:{port}"),
            test_options().wait_for_connection(false),
        )
        .await
        .unwrap(),
    );
    let store = CachedDbStore::new(db.store.clone(), redis.clone(), Arc::new(db.clock.clone()));
    let key = SessionKey::generate();
    store
        .asave(&Record::new(key.clone(), data(1), hour()), SaveMode::Create)
        .await
        .unwrap();
    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(1))
    );

    let Some(_server) = RedisServer::start_on(port) else {
        return;
    };
    let cache_key = store.cache_key(&key);
    eventually(Duration::from_secs(15), || async {
        store.aload(&key).await.unwrap().map(|r| r.data) == Some(data(1))
            && redis.get(&cache_key).await.ok().flatten().is_some()
    })
    .await
    .expect("the cache is filled once Redis is up");
    db.cleanup().await;
}

/// Two application servers over one database and one Redis: `a` reaches Redis
/// through a proxy the test can partition, `b` directly.
struct TwoServers {
    a: CachedDbStore<DbStore>,
    b: CachedDbStore<DbStore>,
    a_redis: Arc<RedisCache>,
    proxy: Proxy,
    db: TestDb,
    _server: RedisServer,
}

async fn two_servers(tag: &str, server: RedisServer) -> TwoServers {
    let proxy = Proxy::start(server.socket_addr()).await;
    let db = open(Kind::Sqlite, tag).await.expect("SQLite");
    let a_redis = Arc::new(
        RedisCache::connect(&proxy.redis_url(), test_options())
            .await
            .unwrap(),
    );
    let b_redis = Arc::new(
        RedisCache::connect(&server.url(), test_options())
            .await
            .unwrap(),
    );
    let clock = Arc::new(db.clock.clone());
    let a = CachedDbStore::new(db.store.clone(), a_redis.clone(), clock.clone());
    let b = CachedDbStore::new(db.store.clone(), b_redis, clock);
    TwoServers {
        a,
        b,
        a_redis,
        proxy,
        db,
        _server: server,
    }
}

impl TwoServers {
    /// Lets traffic through again and waits until `a` reaches Redis.
    async fn heal(&self) {
        self.proxy.set(Mode::Pass);
        eventually(Duration::from_secs(15), || async {
            self.a_redis.get("heal-probe").await.is_ok()
        })
        .await
        .expect("a reaches Redis again");
    }
}

/// Attack: log out while the network to Redis silently drops everything; the
/// database row goes, the cached copy stays. Neither another server (which reaches
/// Redis) nor, after the heal, the server that logged out may load the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_during_a_partition_is_never_undone() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let s = two_servers("cdb_part_logout", server).await;
    let key = SessionKey::generate();
    s.a.asave(&Record::new(key.clone(), data(1), hour()), SaveMode::Create)
        .await
        .unwrap();
    assert_eq!(
        s.b.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(1))
    );

    s.proxy.set(Mode::Drop);
    let started = Instant::now();
    let logout = s.a.adelete(&key).await;
    eprintln!(
        "logout during a partition: {logout:?} in {:?}",
        started.elapsed()
    );
    assert_eq!(s.db.store.read_raw(&key).await.unwrap(), None);
    let on_b = s.b.aload(&key).await.unwrap().map(|r| r.data);
    assert_eq!(on_b, None, "another server served the logged-out session");
    assert!(!s.b.aexists(&key).await.unwrap());

    s.heal().await;
    assert_eq!(s.a.aload(&key).await.unwrap().map(|r| r.data), None);
    assert_eq!(s.b.aload(&key).await.unwrap().map(|r| r.data), None);
    logout.expect("the logout completed");
    s.db.cleanup().await;
}

/// Attack: log out while Redis is killed; a persisted Redis restarts with the
/// cached copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_while_a_persisted_redis_is_down_is_never_undone() {
    let Some(mut server) = RedisServer::start_persistent() else {
        return;
    };
    let db = open(Kind::Sqlite, "cdb_killed_logout")
        .await
        .expect("SQLite");
    let redis = Arc::new(
        RedisCache::connect(&server.url(), test_options())
            .await
            .unwrap(),
    );
    let store = CachedDbStore::new(db.store.clone(), redis.clone(), Arc::new(db.clock.clone()));
    let key = SessionKey::generate();
    store
        .asave(&Record::new(key.clone(), data(1), hour()), SaveMode::Create)
        .await
        .unwrap();
    // A versioned database (V1): the first load caches the record.
    store.aload(&key).await.unwrap().unwrap();
    let cache_key = store.cache_key(&key);

    server.stop();
    let logout = store.adelete(&key).await;
    eprintln!("logout with Redis killed: {logout:?}");
    server.restart();
    eventually(Duration::from_secs(15), || async {
        redis.get(&cache_key).await.is_ok()
    })
    .await
    .expect("Redis is back");
    assert!(
        redis.get(&cache_key).await.unwrap().is_some(),
        "the persisted Redis came back with the cached copy"
    );
    assert_eq!(store.aload(&key).await.unwrap().map(|r| r.data), None);
    assert!(!store.aexists(&key).await.unwrap());
    logout.expect("the logout completed");
    db.cleanup().await;
}

/// Attack: a save while the network to Redis drops everything succeeds in the
/// database and leaves the older cached copy; loads (on any server, before and after
/// the heal) and a read-modify-write must see the newer data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_during_a_partition_is_never_hidden_by_the_older_copy() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let s = two_servers("cdb_part_save", server).await;
    let key = SessionKey::generate();
    s.a.asave(&Record::new(key.clone(), data(1), hour()), SaveMode::Create)
        .await
        .unwrap();
    assert_eq!(
        s.b.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(1))
    );

    s.proxy.set(Mode::Drop);
    s.a.asave(&Record::new(key.clone(), data(2), hour()), SaveMode::Update)
        .await
        .expect("the save succeeds in the database");
    let on_b = s.b.aload(&key).await.unwrap().map(|r| r.data);
    assert_eq!(on_b, Some(data(2)), "another server served the older copy");

    s.heal().await;
    let on_a = s.a.aload(&key).await.unwrap().unwrap();
    assert_eq!(on_a.data, data(2), "the older copy won after the heal");
    // A read-modify-write keeps the newer data.
    let mut next = on_a.data.clone();
    next.insert("m".to_owned(), json!(1));
    s.a.asave(
        &Record::new(key.clone(), next.clone(), hour()),
        SaveMode::Update,
    )
    .await
    .unwrap();
    assert_eq!(s.b.aload(&key).await.unwrap().map(|r| r.data), Some(next));
    s.db.cleanup().await;
}

/// Interleavings of the race tests: the figure was 1 in 1,280.
const INTERLEAVINGS: usize = 2_000;
/// How many interleavings run at once.
const BATCH: usize = 8;

/// Attack: a logout, an update and two read-only loads of one session at once, the
/// cache empty (so the loads read the row and fill the cache). After the logout
/// returned, the session must not load: 0 resurrections over 2,000 interleavings.
/// Then an update and two loads at once: the cache must never keep older data than
/// the database. On PostgreSQL and the shared Redis, keys under a prefix of this
/// test.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logouts_updates_and_loads_never_resurrect_or_go_stale() {
    use common::redis::{shared, shared_url, KeyCleanup};
    let Some(redis) = shared().await else { return };
    let Some(db) = open(Kind::Postgres, "cdb_race").await else {
        return;
    };
    let prefix = format!("test:{}:cdb_race", std::process::id());
    let _cleanup = KeyCleanup::new(&shared_url(), &prefix);
    let store = Arc::new(
        CachedDbStore::new(
            db.store.clone(),
            Arc::new(redis),
            Arc::new(db.clock.clone()),
        )
        .key_prefix(prefix.clone()),
    );
    let (mut resurrected, mut stale) = (0, 0);
    for _ in 0..INTERLEAVINGS / BATCH {
        let mut runs = Vec::new();
        for _ in 0..BATCH {
            let store = store.clone();
            runs.push(tokio::spawn(async move {
                // Logout + update + loads.
                let key = SessionKey::generate();
                let v0 = Record::new(key.clone(), data(0), hour());
                store.durable().asave(&v0, SaveMode::Create).await.unwrap();
                let ops = (
                    spawn_delete(&store, &key),
                    spawn_save(&store, &key, 1),
                    spawn_load(&store, &key),
                    spawn_load(&store, &key),
                );
                ops.0.await.unwrap().expect("logout");
                let updated = ops.1.await.unwrap();
                assert!(matches!(updated, Ok(_) | Err(Error::Update)), "{updated:?}");
                ops.2.await.unwrap().expect("load");
                ops.3.await.unwrap().expect("load");
                let resurrected = store.aload(&key).await.unwrap().is_some();

                // Update + loads.
                let key = SessionKey::generate();
                let v0 = Record::new(key.clone(), data(0), hour());
                store.durable().asave(&v0, SaveMode::Create).await.unwrap();
                let ops = (
                    spawn_save(&store, &key, 1),
                    spawn_load(&store, &key),
                    spawn_load(&store, &key),
                );
                ops.0.await.unwrap().expect("update");
                ops.1.await.unwrap().expect("load");
                ops.2.await.unwrap().expect("load");
                let stale = store.aload(&key).await.unwrap().map(|r| r.data) != Some(data(1));
                store.adelete(&key).await.unwrap();
                (resurrected, stale)
            }));
        }
        for run in runs {
            let (r, s) = run.await.unwrap();
            resurrected += usize::from(r);
            stale += usize::from(s);
        }
    }
    eprintln!(
        "{resurrected}/{INTERLEAVINGS} resurrected after logout, \
         {stale}/{INTERLEAVINGS} stale after update"
    );
    assert_eq!((resurrected, stale), (0, 0));
    db.cleanup().await;
}

type Shared = Arc<CachedDbStore<DbStore>>;

fn spawn_delete(
    store: &Shared,
    key: &SessionKey,
) -> tokio::task::JoinHandle<session_api::Result<()>> {
    let (store, key) = (store.clone(), key.clone());
    tokio::spawn(async move { store.adelete(&key).await })
}

fn spawn_save(
    store: &Shared,
    key: &SessionKey,
    n: i64,
) -> tokio::task::JoinHandle<session_api::Result<SessionKey>> {
    let (store, key) = (store.clone(), key.clone());
    tokio::spawn(async move {
        store
            .asave(&Record::new(key, data(n), hour()), SaveMode::Update)
            .await
    })
}

fn spawn_load(
    store: &Shared,
    key: &SessionKey,
) -> tokio::task::JoinHandle<session_api::Result<Option<Record>>> {
    let (store, key) = (store.clone(), key.clone());
    tokio::spawn(async move { store.aload(&key).await })
}

/// Attack: a save whose cache commands are held in the network, not lost: they time
/// out, and reach Redis late, after the heal (a lease over the newer entry, a swap).
/// No load serves the older copy, and a later logout on the other server sticks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_cache_commands_of_a_held_save_never_serve_old_data() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let s = two_servers("cdb_hold_save", server).await;
    let key = SessionKey::generate();
    s.a.asave(&Record::new(key.clone(), data(1), hour()), SaveMode::Create)
        .await
        .unwrap();
    assert_eq!(
        s.b.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(1))
    );

    s.proxy.set(Mode::Hold);
    s.a.asave(&Record::new(key.clone(), data(2), hour()), SaveMode::Update)
        .await
        .expect("the save succeeds in the database");
    assert_eq!(
        s.b.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(2))
    );
    s.heal().await;
    for _ in 0..3 {
        for store in [&s.a, &s.b] {
            let loaded = store.aload(&key).await.unwrap().map(|r| r.data);
            assert_eq!(loaded, Some(data(2)));
        }
    }
    s.b.adelete(&key).await.unwrap();
    assert_eq!(s.a.aload(&key).await.unwrap(), None);
    assert_eq!(s.b.aload(&key).await.unwrap(), None);
    s.db.cleanup().await;
}
