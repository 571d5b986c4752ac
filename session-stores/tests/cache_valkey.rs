//! Native conditional writes (`SET ... IFEQ`, redis/conditional.rs) on a real Valkey
//! 9.1 of this test's own, and their fallback to the Lua scripts on a private Redis
//! 7.0 that has no `IFEQ` (rule V1). What the server ran is read from its own
//! `INFO commandstats` / `INFO errorstats`, reset per case: a native versioned save
//! is one `SET` and no `EVALSHA`.
//!
//! Each case starts its own server (`common/topology.rs`: loopback, a port of its
//! own, killed at the end); without `valkey-server` or `redis-server` a case is
//! skipped loudly, and fails under `CI=true`.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/topology.rs"]
mod topology;

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use session_api::{
    AsyncSessionStore, Error, ManualClock, Record, SaveMode, SessionData, SessionKey, Version,
};
use session_stores::cache::{
    Cache, CacheFormat, CacheStore, ConditionalWrites, RedisCache, RedisOptions,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use topology::Standalone;

const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

struct Server {
    node: Standalone,
}

impl Server {
    fn stat(&self, section: &str, name: &str, field: &str) -> u64 {
        let info = topology::command(self.node.port(), &["INFO", section]).unwrap();
        info.lines()
            .find_map(|line| line.strip_prefix(&format!("{name}:")))
            .and_then(|fields| {
                fields
                    .split(',')
                    .find_map(|f| f.strip_prefix(&format!("{field}=")))
            })
            .map_or(0, |n| n.parse().unwrap())
    }

    /// How many times the server ran `command` since the last [`reset`](Self::reset)
    /// (commands a script ran count too).
    fn calls(&self, command: &str) -> u64 {
        self.stat("commandstats", &format!("cmdstat_{command}"), "calls")
    }

    /// How many `ERR` replies the server sent since the last reset.
    fn errors(&self) -> u64 {
        self.stat("errorstats", "errorstat_ERR", "count")
    }

    fn reset(&self) {
        topology::command(self.node.port(), &["CONFIG", "RESETSTAT"]).unwrap();
    }

    async fn cache(&self, mode: ConditionalWrites) -> RedisCache {
        RedisCache::connect(
            &self.node.url(),
            RedisOptions::default().conditional_writes(mode),
        )
        .await
        .unwrap()
    }
}

fn valkey() -> Option<Server> {
    topology::or_skip(Standalone::valkey()).map(|node| Server { node })
}

fn redis7() -> Option<Server> {
    topology::or_skip(Standalone::start(Path::new("redis-server"), "redis"))
        .map(|node| Server { node })
}

/// A store over `cache` on a manual clock at [`START`].
fn store(cache: &RedisCache, clock: &ManualClock) -> CacheStore {
    CacheStore::new(Arc::new(cache.clone()))
        .key_prefix("native:")
        .clock(Arc::new(clock.clone()))
}

/// The probe key the client asks the server with at connection (conditional.rs).
const PROBE_KEY: &str = "sessions:ifeq-probe";

#[tokio::test]
async fn the_connection_probe_creates_nothing() {
    let Some(server) = valkey() else { return };
    let _cache = server.cache(ConditionalWrites::DEFAULT).await;
    let exists = topology::command(server.node.port(), &["EXISTS", PROBE_KEY]).unwrap();
    assert_eq!(exists.trim(), "0");
    assert_eq!(server.errors(), 0, "Valkey has IFEQ");
}

fn record(key: &SessionKey, n: i64) -> Record {
    Record::new(
        key.clone(),
        SessionData::from_value(json!({"n": n})).unwrap(),
        START + Duration::hours(1),
    )
}

/// A store on a client of its own, holding a session it created and loaded.
struct Loaded {
    store: CacheStore,
    clock: ManualClock,
    key: SessionKey,
    /// The version the load gave.
    loaded: Version,
}

async fn loaded_on(server: &Server, mode: ConditionalWrites) -> Loaded {
    let clock = ManualClock::new(START);
    let store = store(&server.cache(mode).await, &clock);
    let key = created(&store).await;
    let loaded = version(&store, &key).await;
    Loaded {
        store,
        clock,
        key,
        loaded,
    }
}

async fn created(store: &CacheStore) -> SessionKey {
    let key = SessionKey::generate();
    store
        .asave(&record(&key, 0), SaveMode::Create)
        .await
        .unwrap();
    key
}

async fn version(store: &CacheStore, key: &SessionKey) -> Version {
    store.aload(key).await.unwrap().unwrap().version.unwrap()
}

async fn n(store: &CacheStore, key: &SessionKey) -> Option<i64> {
    let record = store.aload(key).await.unwrap()?;
    record.data.get::<i64>("n").unwrap()
}

#[tokio::test]
async fn a_versioned_save_after_a_load_is_one_native_set() {
    let Some(server) = valkey() else { return };
    let Loaded {
        store, key, loaded, ..
    } = loaded_on(&server, ConditionalWrites::DEFAULT).await;

    server.reset();
    let written = store.asave_if(&record(&key, 1), loaded).await.unwrap();
    // Chained over the version it returned, without a load in between.
    let again = store.asave_if(&record(&key, 2), written).await.unwrap();
    assert_eq!(server.calls("evalsha"), 0, "no script ran");
    assert_eq!(server.calls("set"), 2);
    assert_eq!(n(&store, &key).await, Some(2));
    assert_eq!(version(&store, &key).await, again);
}

#[tokio::test]
async fn another_writer_between_load_and_save_is_a_conflict() {
    let Some(server) = valkey() else { return };
    let Loaded {
        store: mine,
        clock,
        key,
        loaded,
    } = loaded_on(&server, ConditionalWrites::DEFAULT).await;
    let theirs = store(&server.cache(ConditionalWrites::DEFAULT).await, &clock);
    let their_version = version(&theirs, &key).await;
    theirs
        .asave_if(&record(&key, 7), their_version)
        .await
        .unwrap();

    server.reset();
    let err = mine.asave_if(&record(&key, 1), loaded).await.unwrap_err();
    assert!(matches!(err, Error::Conflict), "{err:?}");
    // The compare failed, and the script told why (V1: Conflict, not Update).
    assert_eq!(server.calls("evalsha"), 1);
    assert_eq!(n(&mine, &key).await, Some(7));
}

#[tokio::test]
async fn a_touch_between_load_and_save_is_a_conflict() {
    let Some(server) = valkey() else { return };
    let Loaded {
        store: mine,
        clock,
        key,
        loaded,
    } = loaded_on(&server, ConditionalWrites::DEFAULT).await;
    let theirs = store(&server.cache(ConditionalWrites::DEFAULT).await, &clock);
    // V3: a touch gives the record a new version, also on another client.
    theirs
        .atouch(&key, START + Duration::hours(2))
        .await
        .unwrap();

    server.reset();
    let err = mine.asave_if(&record(&key, 1), loaded).await.unwrap_err();
    assert!(matches!(err, Error::Conflict), "{err:?}");
    assert_eq!(server.calls("evalsha"), 1, "the script decided");
    assert_eq!(n(&mine, &key).await, Some(0));
}

/// The compare fails on other bytes of the same version: the script stores. Here the
/// value someone rewrote without its revision, whose version (the digest of the value
/// without it, as `revise` computes the revision) is the one loaded.
#[tokio::test]
async fn other_bytes_of_the_loaded_version_are_stored_by_the_script() {
    let Some(server) = valkey() else { return };
    let clock = ManualClock::new(START);
    let cache = server.cache(ConditionalWrites::DEFAULT).await;
    let mine = store(&cache, &clock);
    let key = created(&mine).await;
    let loaded = version(&mine, &key).await;
    let cache_key = mine.cache_key(&key);
    let revised = String::from_utf8(cache.get(&cache_key).await.unwrap().unwrap()).unwrap();
    let at = revised.find("\"rev\":\"").unwrap();
    let unrevised = format!("{}{}", &revised[..at], &revised[at + 25..]);
    assert_eq!(
        session_stores::cache::version_of(unrevised.as_bytes()),
        loaded
    );
    let theirs = server.cache(ConditionalWrites::Scripts).await;
    theirs
        .set(
            &cache_key,
            unrevised.as_bytes(),
            std::time::Duration::from_secs(3600),
        )
        .await
        .unwrap();

    server.reset();
    mine.asave_if(&record(&key, 1), loaded).await.unwrap();
    assert_eq!(
        server.calls("set"),
        2,
        "the failed IFEQ, then the script's SET"
    );
    assert_eq!(server.calls("evalsha"), 1);
    assert_eq!(n(&mine, &key).await, Some(1));
}

/// A key of another type is the error the script gives too, natively or not.
#[tokio::test]
async fn compare_and_set_on_a_key_of_another_type_is_an_error() {
    let Some(server) = valkey() else { return };
    topology::command(server.node.port(), &["LPUSH", "listed", "x"]).unwrap();
    let ttl = std::time::Duration::from_secs(60);
    for mode in [ConditionalWrites::DEFAULT, ConditionalWrites::Scripts] {
        let cache = server.cache(mode).await;
        let err = cache
            .compare_and_set("listed", b"x", b"y", ttl)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Backend(_)), "{mode:?}: {err:?}");
    }
}

/// Django's format: no stamp and no revision, the version a digest of the bytes.
#[tokio::test]
async fn a_django_format_value_is_saved_natively() {
    let Some(server) = valkey() else { return };
    let clock = ManualClock::new(START);
    let cache = server.cache(ConditionalWrites::DEFAULT).await;
    let store = CacheStore::new(Arc::new(cache.clone()))
        .format(CacheFormat::django())
        .clock(Arc::new(clock.clone()));
    let key = created(&store).await;
    let loaded = version(&store, &key).await;

    server.reset();
    let written = store.asave_if(&record(&key, 1), loaded).await.unwrap();
    assert_eq!(server.calls("evalsha"), 0, "native");
    assert_eq!(n(&store, &key).await, Some(1));
    let err = store.asave_if(&record(&key, 2), loaded).await.unwrap_err();
    assert!(matches!(err, Error::Conflict), "{err:?}");
    store.asave_if(&record(&key, 3), written).await.unwrap();
    assert_eq!(n(&store, &key).await, Some(3));
}

#[tokio::test]
async fn a_deleted_session_is_not_resurrected() {
    let Some(server) = valkey() else { return };
    let Loaded {
        store: mine,
        clock,
        key,
        loaded,
    } = loaded_on(&server, ConditionalWrites::DEFAULT).await;
    let theirs = store(&server.cache(ConditionalWrites::DEFAULT).await, &clock);
    theirs.adelete(&key).await.unwrap();

    let err = mine.asave_if(&record(&key, 1), loaded).await.unwrap_err();
    assert!(matches!(err, Error::Update), "{err:?}");
    assert!(mine.aload(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn an_expired_value_is_not_compared_but_removed() {
    let Some(server) = valkey() else { return };
    let Loaded {
        store,
        clock,
        key,
        loaded,
    } = loaded_on(&server, ConditionalWrites::DEFAULT).await;
    // The stamp passes on the store's clock; the server's time to live has not.
    clock.advance(Duration::hours(2));

    server.reset();
    let err = store.asave_if(&record(&key, 1), loaded).await.unwrap_err();
    assert!(matches!(err, Error::Update), "{err:?}");
    assert_eq!(server.calls("evalsha"), 1, "the script decided");
    assert_eq!(server.calls("del"), 1, "and removed the expired entry");
}

#[tokio::test]
async fn scripts_mode_runs_the_script() {
    let Some(server) = valkey() else { return };
    let Loaded {
        store, key, loaded, ..
    } = loaded_on(&server, ConditionalWrites::Scripts).await;

    server.reset();
    store.asave_if(&record(&key, 1), loaded).await.unwrap();
    assert_eq!(server.calls("evalsha"), 1);
    assert_eq!(n(&store, &key).await, Some(1));
}

#[tokio::test]
async fn a_value_over_the_memory_budget_is_not_remembered() {
    let Some(server) = valkey() else { return };
    let tiny = ConditionalWrites::Native { memory: 8 };
    let Loaded {
        store, key, loaded, ..
    } = loaded_on(&server, tiny).await;

    server.reset();
    store.asave_if(&record(&key, 1), loaded).await.unwrap();
    assert_eq!(
        server.calls("evalsha"),
        1,
        "nothing to compare: the script ran"
    );
    assert_eq!(n(&store, &key).await, Some(1));
}

#[tokio::test]
async fn compare_and_set_is_native_even_without_memory() {
    let Some(server) = valkey() else { return };
    let cache = server.cache(ConditionalWrites::Native { memory: 0 }).await;
    let ttl = std::time::Duration::from_secs(60);
    cache.set("cas", b"one", ttl).await.unwrap();

    server.reset();
    assert!(!cache
        .compare_and_set("cas", b"two", b"three", ttl)
        .await
        .unwrap());
    assert!(cache
        .compare_and_set("cas", b"one", b"two", ttl)
        .await
        .unwrap());
    assert!(!cache
        .compare_and_set("absent", b"one", b"two", ttl)
        .await
        .unwrap());
    assert_eq!(server.calls("evalsha"), 0);
    assert_eq!(
        cache.get("cas").await.unwrap().as_deref(),
        Some(&b"two"[..])
    );
    assert_eq!(cache.get("absent").await.unwrap(), None);
}

#[tokio::test]
async fn redis_7_is_asked_once_and_runs_the_scripts() {
    let Some(server) = redis7() else { return };
    let clock = ManualClock::new(START);
    let cache = server.cache(ConditionalWrites::DEFAULT).await;
    assert_eq!(server.errors(), 1, "the connection's probe: a syntax error");
    let store = store(&cache, &clock);
    let key = created(&store).await;

    server.reset();
    let loaded = version(&store, &key).await;
    let written = store.asave_if(&record(&key, 1), loaded).await.unwrap();
    assert_eq!(server.errors(), 0, "no IFEQ sent");
    assert_eq!(server.calls("evalsha"), 1);

    // Never asked again, for versioned saves or compare-and-set.
    store.asave_if(&record(&key, 2), written).await.unwrap();
    let ttl = std::time::Duration::from_secs(60);
    cache.set("cas", b"one", ttl).await.unwrap();
    assert!(cache
        .compare_and_set("cas", b"one", b"two", ttl)
        .await
        .unwrap());
    assert_eq!(server.errors(), 0);
    assert_eq!(server.calls("evalsha"), 3);
    assert_eq!(n(&store, &key).await, Some(2));
}
