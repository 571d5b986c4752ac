//! The cache store's optional operations over the memory cache and the shared Redis
//! (127.0.0.1:6379 or `SESSIONS_TEST_REDIS_URL`; skipped loudly when absent, failed
//! under `CI=true`): content versions and `asave_if` (rules V1, V3), `alookup`
//! telling an expired entry, and `atouch` (V4), in both formats. Each case runs on
//! both caches, the store on a manual clock while the cache keeps its own time.
#![cfg(feature = "cache")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The shared Redis helpers without the database ones (which need a driver).
#[cfg(feature = "redis")]
#[allow(dead_code, unused_imports)]
mod common {
    pub fn in_ci() -> bool {
        std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
    }
    pub mod redis;
}

use std::sync::Arc;

use serde_json::json;
use session_api::store::Lookup;
use session_api::{
    AsyncSessionStore, Error, ManualClock, Record, SaveMode, SessionData, SessionKey,
};
use session_stores::cache::{
    stored_version, version_of, Cache, CacheFormat, CacheStore, CacheVersioning, MemoryCache,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

/// `RedisSerializer().dumps({"a": 1})` by Django 5.2: an entry Django wrote, with no
/// stamp.
const DJANGO_A1: &[u8] = b"\x80\x05\x95\n\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s.";

fn data(value: serde_json::Value) -> SessionData {
    SessionData::from_value(value).unwrap()
}

struct Fixture {
    store: CacheStore,
    clock: ManualClock,
}

fn over(cache: Arc<dyn Cache>, prefix: &str, format: CacheFormat) -> Fixture {
    let clock = ManualClock::new(START);
    let store = CacheStore::new(cache)
        .key_prefix(prefix)
        .format(format)
        .clock(Arc::new(clock.clone()));
    Fixture { store, clock }
}

async fn created(f: &Fixture, value: serde_json::Value, seconds: i64) -> Record {
    let record = Record::new(
        SessionKey::generate(),
        data(value),
        START + Duration::seconds(seconds),
    );
    f.store.asave(&record, SaveMode::Create).await.unwrap();
    record
}

/// V1, V3: the version is that of the stored value (its revision in the native
/// format, the digest of its bytes in Django's), given by load and lookup;
/// `asave_if` writes over it and returns the new one; a stale version (after a
/// versioned or a plain save) is a conflict that leaves the winner.
async fn versions_follow_the_stored_bytes(f: Fixture) {
    assert!(f.store.capabilities().versioned);
    let record = created(&f, json!({"a": 1}), 3600).await;
    let raw = f.store.read_raw(&record.key).await.unwrap().unwrap();
    let v0 = f.store.aload(&record.key).await.unwrap().unwrap().version;
    assert_eq!(v0, Some(stored_version(&raw)));
    // Only the native format carries a revision: Django's keeps the digest.
    assert_eq!(
        stored_version(&raw) != version_of(&raw),
        !f.store.cache_format().is_django()
    );
    match f.store.alookup(&record.key).await.unwrap() {
        Lookup::Found(found) => assert_eq!(found.version, v0),
        other => panic!("lookup of a live record: {other:?}"),
    }
    let v0 = v0.unwrap();

    let next = Record::new(record.key.clone(), data(json!({"a": 2})), record.expires_at);
    let v1 = f.store.asave_if(&next, v0).await.unwrap();
    assert_ne!(v1, v0);
    let raw = f.store.read_raw(&record.key).await.unwrap().unwrap();
    assert_eq!(v1, stored_version(&raw));
    let loaded = f.store.aload(&record.key).await.unwrap().unwrap();
    assert_eq!(
        (loaded.version, loaded.data),
        (Some(v1), data(json!({"a": 2})))
    );

    let stale = Record::new(record.key.clone(), data(json!({"a": 3})), record.expires_at);
    assert!(matches!(
        f.store.asave_if(&stale, v0).await,
        Err(Error::Conflict)
    ));
    assert_eq!(
        f.store.aload(&record.key).await.unwrap().unwrap().data,
        data(json!({"a": 2})),
        "a conflict leaves the winner"
    );

    // V3: a plain save changes the version too.
    let plain = Record::new(record.key.clone(), data(json!({"a": 4})), record.expires_at);
    f.store.asave(&plain, SaveMode::Update).await.unwrap();
    assert!(matches!(
        f.store.asave_if(&stale, v1).await,
        Err(Error::Conflict)
    ));
    let v2 = f.store.aload(&record.key).await.unwrap().unwrap().version;
    assert!(f.store.asave_if(&stale, v2.unwrap()).await.is_ok());
}

/// V1: a native value written before revisions (no `"rev"` before its stamp) loads
/// with the digest of its bytes as its version, and a versioned save over it checks
/// that digest; what it writes carries a revision.
async fn older_values_keep_their_digest(f: Fixture) {
    let key = SessionKey::generate();
    let earlier = br#"{"data":{"a":1},"expires":"2026-01-01T01:00:00.000000000Z"}"#;
    let expires = START + Duration::hours(1);
    f.store.write_raw(&key, earlier, expires).await.unwrap();
    let v0 = f.store.aload(&key).await.unwrap().unwrap().version;
    assert_eq!(v0, Some(version_of(earlier)));
    let next = Record::new(key.clone(), data(json!({"a": 2})), expires);
    assert!(matches!(
        f.store.asave_if(&next, version_of(b"another")).await,
        Err(Error::Conflict)
    ));
    let v1 = f.store.asave_if(&next, version_of(earlier)).await.unwrap();
    let raw = f.store.read_raw(&key).await.unwrap().unwrap();
    assert_eq!(v1, stored_version(&raw));
    assert_ne!(v1, version_of(&raw), "a revised value");
    // A touch of an older value moves its stamp, so its digest (V3).
    let older = SessionKey::generate();
    f.store.write_raw(&older, earlier, expires).await.unwrap();
    f.store
        .atouch(&older, START + Duration::hours(2))
        .await
        .unwrap();
    let touched = f.store.read_raw(&older).await.unwrap().unwrap();
    assert_eq!(touched.len(), earlier.len());
    assert_eq!(
        f.store.aload(&older).await.unwrap().unwrap().version,
        Some(version_of(&touched))
    );
    assert_ne!(version_of(&touched), version_of(earlier));
}

/// V1, D5: a versioned save of a missing, deleted or expired record is `Update` and
/// creates nothing; the expired entry is removed.
async fn versioned_saves_never_recreate(f: Fixture) {
    let any = version_of(b"whatever");
    let unknown = Record::new(
        SessionKey::generate(),
        data(json!({})),
        START + Duration::hours(1),
    );
    assert!(matches!(
        f.store.asave_if(&unknown, any).await,
        Err(Error::Update)
    ));
    assert!(f.store.read_raw(&unknown.key).await.unwrap().is_none());

    let deleted = created(&f, json!({"a": 1}), 3600).await;
    let v = f
        .store
        .aload(&deleted.key)
        .await
        .unwrap()
        .unwrap()
        .version
        .unwrap();
    f.store.adelete(&deleted.key).await.unwrap();
    assert!(matches!(
        f.store.asave_if(&deleted, v).await,
        Err(Error::Update)
    ));
    assert!(f.store.read_raw(&deleted.key).await.unwrap().is_none());

    let expiring = created(&f, json!({"a": 1}), 60).await;
    let v = f
        .store
        .aload(&expiring.key)
        .await
        .unwrap()
        .unwrap()
        .version
        .unwrap();
    f.clock.advance(Duration::seconds(61));
    let later = Record::new(
        expiring.key.clone(),
        data(json!({"a": 2})),
        START + Duration::hours(2),
    );
    assert!(matches!(
        f.store.asave_if(&later, v).await,
        Err(Error::Update)
    ));
    assert!(
        f.store.read_raw(&expiring.key).await.unwrap().is_none(),
        "the expired entry is removed (H7)"
    );
}

/// `alookup` tells an entry whose stamp passed (the cache still holds it) from a
/// missing or undecodable one.
async fn lookup_tells_expired_from_missing(f: Fixture) {
    let record = created(&f, json!({"a": 1}), 60).await;
    f.clock.advance(Duration::seconds(60));
    assert_eq!(f.store.alookup(&record.key).await.unwrap(), Lookup::Expired);
    assert_eq!(f.store.aload(&record.key).await.unwrap(), None);
    assert_eq!(
        f.store.alookup(&SessionKey::generate()).await.unwrap(),
        Lookup::Missing
    );
    let odd = SessionKey::generate();
    f.store
        .write_raw(&odd, b"not a session", START + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(f.store.alookup(&odd).await.unwrap(), Lookup::Missing);
}

/// V4: a touch moves the stamp (and the entry's time to live) and, in the native
/// format, the revision beside it, and keeps every other byte; the version changes
/// (V3), even for a touch to the same expiry; a missing or expired record is
/// `Update`.
async fn touch_moves_only_the_stamp(f: Fixture) {
    assert!(f.store.capabilities().touch);
    let record = created(&f, json!({"a": [1, 2], "b": "é"}), 600).await;
    let before = f.store.read_raw(&record.key).await.unwrap().unwrap();
    let v0 = f.store.aload(&record.key).await.unwrap().unwrap().version;
    f.clock.advance(Duration::seconds(100));
    let moved = START + Duration::hours(2) + Duration::nanoseconds(123_456_789);
    f.store.atouch(&record.key, moved).await.unwrap();
    let after = f.store.read_raw(&record.key).await.unwrap().unwrap();
    assert_eq!(before.len(), after.len());
    let n = after.len() - 32;
    assert_eq!(&after[n..], b"2026-01-01T02:00:00.123456789Z\"}");
    // The revision's 16 digits, then `","expires":"`, just before the stamp.
    if f.store.cache_format().is_django() {
        assert_eq!(before[..n], after[..n], "only the stamp changed");
    } else {
        let rev = n - 29;
        assert_eq!(
            before[..rev],
            after[..rev],
            "only the revision and stamp changed"
        );
        assert_eq!(before[rev + 16..n], after[rev + 16..n]);
        assert_ne!(before[rev..rev + 16], after[rev..rev + 16]);
    }
    let loaded = f.store.aload(&record.key).await.unwrap().unwrap();
    assert_eq!((loaded.expires_at, &loaded.data), (moved, &record.data));
    assert_ne!(loaded.version, v0);
    assert_eq!(loaded.version, Some(stored_version(&after)));
    f.store.atouch(&record.key, moved).await.unwrap();
    let again = f.store.aload(&record.key).await.unwrap().unwrap().version;
    if !f.store.cache_format().is_django() {
        assert_ne!(again, loaded.version, "a touch to the same expiry (V3)");
    }
    // Past the old expiry it lives on.
    f.clock.advance(Duration::seconds(600));
    assert!(f.store.aload(&record.key).await.unwrap().is_some());

    assert!(matches!(
        f.store.atouch(&SessionKey::generate(), moved).await,
        Err(Error::Update)
    ));
    // The clock is at START + 700 s: this one lives a minute more.
    let expiring = created(&f, json!({}), 760).await;
    f.clock.advance(Duration::seconds(61));
    assert!(matches!(
        f.store.atouch(&expiring.key, moved).await,
        Err(Error::Update)
    ));
    assert!(f.store.read_raw(&expiring.key).await.unwrap().is_none());
}

/// V4 in Django's format: this store's entries are touched as above (the trailer
/// ends with the stamp); an entry Django wrote, which has none, only gets its time
/// to live, which is its expiry.
async fn django_format_touches(f: Fixture) {
    let record = created(&f, json!({"a": 1}), 600).await;
    let moved = START + Duration::hours(3);
    f.store.atouch(&record.key, moved).await.unwrap();
    let loaded = f.store.aload(&record.key).await.unwrap().unwrap();
    assert_eq!(
        (loaded.expires_at, loaded.data),
        (moved, data(json!({"a": 1})))
    );

    let theirs = SessionKey::generate();
    f.store
        .write_raw(&theirs, DJANGO_A1, START + Duration::seconds(60))
        .await
        .unwrap();
    let v0 = f.store.aload(&theirs).await.unwrap().unwrap().version;
    assert_eq!(v0, Some(version_of(DJANGO_A1)));
    f.store.atouch(&theirs, moved).await.unwrap();
    assert_eq!(
        f.store.read_raw(&theirs).await.unwrap().as_deref(),
        Some(DJANGO_A1),
        "Django's value is left as Django wrote it"
    );
    let loaded = f.store.aload(&theirs).await.unwrap().unwrap();
    // The expiry of a stampless entry is its time to live, counted on the cache's
    // clock: about three hours from now.
    let left = loaded.expires_at - START;
    assert!(
        left > Duration::hours(3) - Duration::seconds(30) && left <= Duration::hours(3),
        "{left}"
    );
    // Unchanged bytes, unchanged version: a versioned save over it still works.
    assert_eq!(loaded.version, v0);
    let next = Record::new(theirs.clone(), data(json!({"a": 2})), moved);
    f.store.asave_if(&next, v0.unwrap()).await.unwrap();
}

/// `CacheVersioning::Off`: no versions declared or loaded, `asave_if` unsupported, and
/// through the handle the later of two concurrent saves wins (Django's behaviour).
#[tokio::test]
async fn an_unversioned_store_saves_plainly() {
    let cache = MemoryCache::with_clock(Arc::new(ManualClock::new(START)));
    let store = Arc::new(
        CacheStore::new(Arc::new(cache))
            .versioning(CacheVersioning::Off)
            .clock(Arc::new(ManualClock::new(START))),
    );
    assert!(!store.capabilities().versioned);
    let key = SessionKey::generate();
    let record = Record::new(
        key.clone(),
        data(json!({"a": 1})),
        START + Duration::hours(1),
    );
    store.asave(&record, SaveMode::Create).await.unwrap();
    assert_eq!(store.aload(&key).await.unwrap().unwrap().version, None);
    assert!(matches!(
        store.asave_if(&record, version_of(b"x")).await,
        Err(Error::Unsupported(_))
    ));

    let config = Arc::new(
        session_api::SessionConfig::builder(session_api::SecretKeys::new(
            "unversioned-cache-store-test-secret-0123456789",
        ))
        .build()
        .unwrap(),
    );
    let backend = session_api::SessionBackend::from_async(store.clone());
    let session =
        || session_api::Session::new(backend.clone(), Arc::clone(&config), Some(key.as_str()));
    let (first, second) = (session(), session());
    first.aset("x", &1).await.unwrap();
    second.aset("y", &2).await.unwrap();
    first.asave().await.unwrap();
    second.asave().await.unwrap();
    let data = store.aload(&key).await.unwrap().unwrap().data;
    assert_eq!(data.get::<i64>("x").unwrap(), None, "the later save won");
    assert_eq!(data.get::<i64>("y").unwrap(), Some(2));
}

mod memory {
    use super::*;

    fn fixture(format: CacheFormat) -> Fixture {
        // The cache's clock stands still: the store's alone decides expiry.
        let cache = MemoryCache::with_clock(Arc::new(ManualClock::new(START)));
        over(Arc::new(cache), "versions", format)
    }

    #[tokio::test]
    async fn versions_follow_the_stored_bytes() {
        super::versions_follow_the_stored_bytes(fixture(CacheFormat::Native)).await;
        super::versions_follow_the_stored_bytes(fixture(CacheFormat::django())).await;
    }

    #[tokio::test]
    async fn versioned_saves_never_recreate() {
        super::versioned_saves_never_recreate(fixture(CacheFormat::Native)).await;
        super::versioned_saves_never_recreate(fixture(CacheFormat::django())).await;
    }

    #[tokio::test]
    async fn lookup_tells_expired_from_missing() {
        super::lookup_tells_expired_from_missing(fixture(CacheFormat::Native)).await;
    }

    #[tokio::test]
    async fn older_values_keep_their_digest() {
        super::older_values_keep_their_digest(fixture(CacheFormat::Native)).await;
    }

    #[tokio::test]
    async fn touch_moves_only_the_stamp() {
        super::touch_moves_only_the_stamp(fixture(CacheFormat::Native)).await;
        super::touch_moves_only_the_stamp(fixture(CacheFormat::django())).await;
    }

    #[tokio::test]
    async fn django_format_touches() {
        super::django_format_touches(fixture(CacheFormat::django())).await;
    }
}

#[cfg(feature = "redis")]
mod redis {
    use super::common::redis::{scoped, KeyCleanup, RedisServer};
    use super::*;
    use fred::prelude::ClientLike;
    use session_stores::cache::RedisCache;

    /// A fixture on the shared server under a prefix of this test, and the guard
    /// that removes its keys.
    async fn fixture(test: &str, django: bool) -> Option<(Fixture, KeyCleanup)> {
        let (cache, prefix, format, cleanup) = scoped(test, django).await?;
        Some((over(Arc::new(cache), &prefix, format), cleanup))
    }

    #[tokio::test]
    async fn versions_follow_the_stored_bytes() {
        for django in [false, true] {
            let Some((f, _guard)) = fixture("versions", django).await else {
                return;
            };
            super::versions_follow_the_stored_bytes(f).await;
        }
    }

    #[tokio::test]
    async fn versioned_saves_never_recreate() {
        for django in [false, true] {
            let Some((f, _guard)) = fixture("recreate", django).await else {
                return;
            };
            super::versioned_saves_never_recreate(f).await;
        }
    }

    #[tokio::test]
    async fn lookup_tells_expired_from_missing() {
        let Some((f, _guard)) = fixture("lookup", false).await else {
            return;
        };
        super::lookup_tells_expired_from_missing(f).await;
    }

    #[tokio::test]
    async fn older_values_keep_their_digest() {
        let Some((f, _guard)) = fixture("older", false).await else {
            return;
        };
        super::older_values_keep_their_digest(f).await;
    }

    #[tokio::test]
    async fn touch_moves_only_the_stamp() {
        for django in [false, true] {
            let Some((f, _guard)) = fixture("touch", django).await else {
                return;
            };
            super::touch_moves_only_the_stamp(f).await;
        }
    }

    #[tokio::test]
    async fn django_format_touches() {
        let Some((f, _guard)) = fixture("django_touch", true).await else {
            return;
        };
        super::django_format_touches(f).await;
    }

    async fn calls(cache: &RedisCache, command: &str) -> u64 {
        let info: String = cache
            .client()
            .custom(
                fred::types::CustomCommand::new_static("INFO", None::<u16>, false),
                vec!["commandstats"],
            )
            .await
            .unwrap();
        let prefix = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().unwrap())
    }

    /// Counted by a dedicated server: a versioned save is one `EVALSHA` (its
    /// `GETRANGE` of the revision and the stamp, and `SET`, inside: no `GET` of the
    /// whole value), a touch one `EVALSHA` (`STRLEN`, `GETRANGE`, `SETRANGE`,
    /// `PEXPIRE` inside); neither sends the stored value back, and a load is one
    /// `GET`.
    #[tokio::test]
    async fn a_versioned_save_and_a_touch_are_one_round_trip_each() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let cache = RedisCache::connect(&server.url(), super::common::redis::test_options())
            .await
            .unwrap();
        let f = over(Arc::new(cache.clone()), "count", CacheFormat::Native);
        let record = created(&f, json!({"a": 1}), 3600).await;
        let mut version = f
            .store
            .aload(&record.key)
            .await
            .unwrap()
            .unwrap()
            .version
            .unwrap();
        // The first call of each script meets NOSCRIPT and sends it once by EVAL.
        let saved = f.store.asave_if(&record, version).await.unwrap();
        f.store
            .atouch(&record.key, record.expires_at)
            .await
            .unwrap();
        version = f
            .store
            .aload(&record.key)
            .await
            .unwrap()
            .unwrap()
            .version
            .unwrap();
        assert_ne!(version, saved);
        let before = (
            calls(&cache, "evalsha").await,
            calls(&cache, "get").await,
            calls(&cache, "getrange").await,
        );
        for _ in 0..10 {
            version = f.store.asave_if(&record, version).await.unwrap();
            f.store
                .atouch(&record.key, record.expires_at)
                .await
                .unwrap();
            // The touch gave a new revision, even with the same instant (V3).
            let touched = f.store.aload(&record.key).await.unwrap().unwrap().version;
            assert_ne!(touched, Some(version));
            version = touched.unwrap();
        }
        assert_eq!(calls(&cache, "evalsha").await, before.0 + 20);
        // Ten loads; the scripts read tails only.
        assert_eq!(calls(&cache, "get").await, before.1 + 10);
        assert_eq!(calls(&cache, "getrange").await, before.2 + 20);
        assert_eq!(calls(&cache, "eval").await, 2);
        assert_eq!(calls(&cache, "setrange").await, 11);
        assert_eq!(calls(&cache, "pexpire").await, 11);
    }
}
