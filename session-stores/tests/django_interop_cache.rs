//! The cache store and the cached_db store in Django's format
//! (`CacheFormat::Django`) beside a real Django 5.2 and its `RedisCache`, in both
//! directions, on the shared Redis (127.0.0.1:6379, `SESSIONS_TEST_REDIS_URL`) under a
//! `KEY_PREFIX` of this process, removed when the run ends.
//!
//! `cargo test -p session-stores --features redis,cached_db,sqlite,postgres --test django_interop_cache`
#![cfg(all(feature = "redis", feature = "cached_db", feature = "sqlite"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod django;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use django::cases::{key_of, Pair, Rust};
use django::{now, redis_url, Db, Django, Engine, Site, CACHE, CACHE_V7};
use serde_json::{json, Value};
use session_api::{Expiry, ManualClock, SessionBackend, SessionConfig, SessionKey};
use session_stores::cache::{CacheFormat, CacheStore, RedisCache, RedisOptions};
use session_stores::cached_db::CachedDbStore;
use session_stores::db::{DbOptions, DbPool, DbPoolOptions, DbStore, Versioning};
use time::{Duration, OffsetDateTime};

/// A client of the shared Redis; `None` (after the skip note, once per binary)
/// when it does not answer outside CI.
async fn redis() -> Option<RedisCache> {
    static NOTED: AtomicBool = AtomicBool::new(false);
    match RedisCache::connect(&redis_url(), RedisOptions::default()).await {
        Ok(redis) => Some(redis),
        Err(err) => {
            if !NOTED.swap(true, Ordering::Relaxed) || django::in_ci() {
                django::unavailable("Redis server (SESSIONS_TEST_REDIS_URL)", &err);
            }
            None
        }
    }
}

/// Django's `CACHES` settings for `alias`, in the Rust store's terms.
fn format(django: &Django, alias: &str) -> CacheFormat {
    let version = if alias == CACHE_V7 { 7 } else { 1 };
    CacheFormat::django_with(django.cache_prefix(), version)
}

/// The TTL Redis holds is `expected`, to the few seconds a test takes.
fn assert_ttl(pttl: Option<i64>, expected: Duration, what: &str) {
    let pttl = Duration::milliseconds(pttl.unwrap_or_else(|| panic!("{what}: no entry")));
    assert!(
        pttl <= expected + Duration::seconds(1) && pttl > expected - Duration::seconds(10),
        "{what}: TTL {pttl} where {expected} was expected"
    );
}

fn close(a: OffsetDateTime, b: OffsetDateTime) -> bool {
    (a - b).abs() <= Duration::seconds(10)
}

mod cache {
    use super::*;

    /// Django's `backends.cache` on its `RedisCache` and `CacheStore` in Django's
    /// format on the same Redis.
    struct CachePair {
        alias: &'static str,
        format: CacheFormat,
    }

    #[async_trait]
    impl Pair for CachePair {
        fn site(&self) -> Site {
            Site::new(Engine::Cache(self.alias))
        }

        async fn backend(&self, config: &SessionConfig) -> SessionBackend {
            let redis = redis().await.expect("Redis answered before");
            let store = CacheStore::new(Arc::new(redis))
                .format(self.format.clone())
                .clock(config.clock.clone());
            SessionBackend::from_async(Arc::new(store))
        }
    }

    async fn cache(django: &Django) -> Option<CachePair> {
        redis().await?;
        Some(CachePair {
            alias: CACHE,
            format: format(django, CACHE),
        })
    }

    // The cases that hold with a cache whose entries live on Redis's clock; the
    // expiry cases below check the TTLs instead of moving the clock, and nothing is
    // signed in a cache (no secret to rotate).
    crate::interop_cases!(cache;
        cycle_update_logout_django_to_rust,
        cycle_update_logout_rust_to_django,
    );

    fn data_value() -> Value {
        Value::Object(django::cases::data().into_iter().collect())
    }

    /// Django writes; Rust reads the data, and the expiry Redis holds.
    #[tokio::test]
    async fn data_and_expiry_django_to_rust() {
        let Some(django) = django::django() else {
            return;
        };
        let Some(pair) = cache(django).await else {
            return;
        };
        let site = pair.site();
        let t = now();
        let written = site
            .request(None)
            .update(data_value())
            .save()
            .at(t)
            .run(django);
        let key = written.key();
        let raw = site.cache_raw(django, key);
        let age = Duration::seconds(site.cookie_age);
        assert_ttl(raw.pttl, age, "Django's entry");

        let clock = ManualClock::new(t);
        let rust = Rust::new(&pair, &site, &clock).await;
        assert_eq!(
            rust.load(key).await,
            (django::cases::data(), Some(key.to_owned()))
        );
        // A Django entry carries no expiry: the Rust store takes now + its TTL.
        let expires = rust.record_expiry(key).await.expect("live");
        assert!(close(expires, t + age), "{expires} vs {}", t + age);
        let session = rust.session(Some(key));
        let view = site.request(Some(key)).at(t).run(django);
        assert_eq!(session.aitems().await.unwrap(), view.items());
        assert_eq!(
            session.aget_expiry_age(Default::default()).await.unwrap(),
            view.expiry_age
        );
    }

    /// Rust writes; Django reads the data, under Django's key, with Django's TTL.
    #[tokio::test]
    async fn data_and_expiry_rust_to_django() {
        let Some(django) = django::django() else {
            return;
        };
        let Some(pair) = cache(django).await else {
            return;
        };
        let site = pair.site();
        let t = now();
        let clock = ManualClock::new(t);
        let rust = Rust::new(&pair, &site, &clock).await;
        let key = rust.create(&django::cases::data(), None).await;
        let read = site.request(Some(&key)).at(t).run(django);
        assert_eq!(read.key.as_deref(), Some(key.as_str()));
        assert_eq!(read.items(), django::cases::data(), "the data arrives");
        let raw = site.cache_raw(django, &key);
        assert_eq!(
            raw.full_key,
            format!(
                "{}:1:django.contrib.sessions.cache{key}",
                django.cache_prefix()
            )
        );
        let store = CacheStore::new(Arc::new(redis().await.unwrap())).format(pair.format.clone());
        assert_eq!(
            store.cache_key(&SessionKey::parse(&key).unwrap()),
            raw.full_key
        );
        assert_ttl(raw.pttl, Duration::seconds(site.cookie_age), "Rust's entry");
    }

    fn expiries(t: OffsetDateTime) -> [(Expiry, Option<Duration>); 4] {
        let at = t + Duration::hours(3) + Duration::microseconds(123_456);
        [
            (Expiry::Seconds(600), Some(Duration::seconds(600))),
            (Expiry::BrowserClose, Some(Duration::seconds(1_209_600))),
            (Expiry::At(at), Some(at - t)),
            // Already past: nothing may be served.
            (Expiry::At(t - Duration::hours(1)), None),
        ]
    }

    /// Each `set_expiry` of Django's reaches Rust as the same `_session_expiry` and
    /// the same expiry view; Redis holds the entry for the session's age; a past
    /// expiry leaves nothing to load.
    #[tokio::test]
    async fn set_expiry_django_to_rust() {
        let Some(django) = django::django() else {
            return;
        };
        let Some(pair) = cache(django).await else {
            return;
        };
        let site = pair.site();
        let t = now();
        let clock = ManualClock::new(t);
        let rust = Rust::new(&pair, &site, &clock).await;
        for (expiry, ttl) in expiries(t) {
            let written = site
                .request(None)
                .update(json!({"v": 1}))
                .set_expiry(expiry)
                .save()
                .at(t)
                .run(django);
            let key = written.key();
            let raw = site.cache_raw(django, key);
            let Some(ttl) = ttl else {
                assert!(raw.value.is_none(), "Django stores no expired session");
                assert_eq!(rust.load(key).await, (vec![], None), "{expiry:?}");
                continue;
            };
            assert_ttl(raw.pttl, ttl, &format!("{expiry:?}"));
            let session = rust.session(Some(key));
            let view = site.request(Some(key)).at(t).run(django);
            assert_eq!(session.aitems().await.unwrap(), view.items(), "{expiry:?}");
            let args = Default::default();
            assert_eq!(
                session.aget_expiry_age(args).await.unwrap(),
                view.expiry_age
            );
            assert_eq!(
                session.aget_expiry_date(args).await.unwrap(),
                view.expiry_date
            );
            assert_eq!(
                session.aget_expire_at_browser_close().await.unwrap(),
                view.browser_close
            );
            let expires = rust.record_expiry(key).await.expect("live");
            assert!(close(expires, t + ttl), "{expiry:?}: {expires}");
        }
    }

    /// Each `set_expiry` of Rust's reaches Django as the same `_session_expiry`, and
    /// the entry's TTL is the session's age; a past expiry is never served to Django.
    #[tokio::test]
    async fn set_expiry_rust_to_django() {
        let Some(django) = django::django() else {
            return;
        };
        let Some(pair) = cache(django).await else {
            return;
        };
        let site = pair.site();
        let t = now();
        let clock = ManualClock::new(t);
        let rust = Rust::new(&pair, &site, &clock).await;
        for (expiry, ttl) in expiries(t) {
            let key = rust
                .create(&[("v".to_owned(), json!(1))], Some(expiry))
                .await;
            let view = site.request(Some(&key)).at(t).run(django);
            let Some(ttl) = ttl else {
                assert_eq!(view.data_text, "{}", "{expiry:?}: not served to Django");
                continue;
            };
            let session = rust.session(Some(&key));
            assert_eq!(session.aitems().await.unwrap(), view.items(), "{expiry:?}");
            let args = Default::default();
            assert_eq!(
                session.aget_expiry_age(args).await.unwrap(),
                view.expiry_age
            );
            assert_eq!(
                session.aget_expiry_date(args).await.unwrap(),
                view.expiry_date
            );
            assert_ttl(
                site.cache_raw(django, &key).pttl,
                ttl,
                &format!("{expiry:?}"),
            );
        }
    }

    /// Django's `VERSION` is part of the key: a store with another version does not
    /// see the entry, one with the same version does, both ways.
    #[tokio::test]
    async fn cache_version_is_honoured() {
        let Some(django) = django::django() else {
            return;
        };
        if redis().await.is_none() {
            return;
        }
        let v7 = CachePair {
            alias: CACHE_V7,
            format: format(django, CACHE_V7),
        };
        let v1_site = Site::new(Engine::Cache(CACHE));
        let v7_site = v7.site();
        let t = now();
        let key = v7_site
            .request(None)
            .update(json!({"user": "42"}))
            .save()
            .at(t)
            .run(django)
            .key()
            .to_owned();
        assert!(v7_site.cache_raw(django, &key).full_key.contains(":7:"));
        let clock = ManualClock::new(t);
        let rust_v7 = Rust::new(&v7, &v7_site, &clock).await;
        let v1 = CachePair {
            alias: CACHE,
            format: format(django, CACHE),
        };
        let rust_v1 = Rust::new(&v1, &v1_site, &clock).await;
        assert_eq!(rust_v1.load(&key).await, (vec![], None), "version 1 misses");
        assert_eq!(
            rust_v7.load(&key).await.0,
            vec![("user".to_owned(), json!("42"))]
        );

        let key = rust_v7
            .create(&[("user".to_owned(), json!("43"))], None)
            .await;
        assert_eq!(
            v1_site.request(Some(&key)).at(t).run(django).data_text,
            "{}"
        );
        let read = v7_site.request(Some(&key)).at(t).run(django);
        assert_eq!(read.data_text, r#"{"user":"43"}"#);
    }
}

mod cached_db {
    use super::*;

    /// Django's `backends.cached_db` (its database and its `RedisCache`) and
    /// `CachedDbStore` in Django's format over `DbStore` on the same table and Redis.
    struct CachedDbPair {
        db: Db,
        url: String,
        format: CacheFormat,
    }

    #[async_trait]
    impl Pair for CachedDbPair {
        fn site(&self) -> Site {
            Site::new(Engine::CachedDb(self.db, CACHE))
        }

        async fn backend(&self, config: &SessionConfig) -> SessionBackend {
            let pool = DbPool::connect(&self.url, &DbPoolOptions::default().max_connections(2))
                .await
                .unwrap_or_else(|e| panic!("{:?}: {e}", self.db));
            // Django's exact table, unversioned: cached_db then writes its cache entry
            // at every save, as Django does, which these cases compare (over a
            // versioned table the entry waits for the first load; django_interop_db
            // runs Django beside a versioned table).
            let options = DbOptions::from_config(config).versioning(Versioning::Off);
            let db = DbStore::new(pool, options).expect("valid options");
            let redis = redis().await.expect("Redis answered before");
            let store = CachedDbStore::new(Arc::new(db), Arc::new(redis), config.clock.clone())
                .format(self.format.clone());
            SessionBackend::from_async(Arc::new(store))
        }

        fn cached(&self) -> bool {
            true
        }
    }

    async fn pair(django: &Django, db: Db) -> Option<CachedDbPair> {
        let url = django.database(db)?;
        redis().await?;
        Some(CachedDbPair {
            db,
            url,
            format: format(django, CACHE),
        })
    }

    /// A Rust session cached on both sides: Django's update and logout reach Rust,
    /// whose own cache entry never hides them (the failure issue 13 measured).
    async fn cached_copy_never_hides_djangos_writes(django: &Django, pair: &CachedDbPair) {
        let site = pair.site();
        let t = now();
        let clock = ManualClock::new(t);
        let rust = Rust::new(pair, &site, &clock).await;
        let key = rust.create(&[("cart".to_owned(), json!([1]))], None).await;
        // Rust's entry is in the cache; Django's load fills nothing (a hit).
        assert!(site.cache_raw(django, &key).value.is_some());
        assert_eq!(
            rust.load(&key).await.0,
            vec![("cart".to_owned(), json!([1]))]
        );
        site.request(Some(&key))
            .update(json!({"cart": [1, 2]}))
            .save()
            .at(t)
            .run(django);
        assert_eq!(
            rust.load(&key).await.0,
            vec![("cart".to_owned(), json!([1, 2]))]
        );
        // Rust's load refilled the cache with its own entry; Django still reads it.
        let read = site.request(Some(&key)).at(t).run(django);
        assert_eq!(read.data_text, r#"{"cart":[1,2]}"#);
        site.request(Some(&key)).flush().at(t).run(django);
        assert_eq!(rust.load(&key).await, (vec![], None), "the logout arrives");
        let session = rust.session(Some(&key));
        session.aset("cart", &json!([3])).await.unwrap();
        session.asave().await.unwrap();
        // A fresh session, under a new key.
        let fresh = key_of(&session);
        assert_ne!(fresh, key);
        let read = site.request(Some(&fresh)).at(t).run(django);
        assert_eq!(read.data_text, r#"{"cart":[3]}"#);
    }

    mod sqlite {
        use super::*;

        async fn sqlite(django: &Django) -> Option<CachedDbPair> {
            pair(django, Db::Sqlite).await
        }

        crate::interop_cases!(sqlite);

        #[tokio::test]
        async fn cached_copy_never_hides_djangos_writes() {
            let Some(django) = django::django() else {
                return;
            };
            let Some(pair) = sqlite(django).await else {
                return;
            };
            super::cached_copy_never_hides_djangos_writes(django, &pair).await;
        }
    }

    #[cfg(feature = "postgres")]
    mod postgres {
        use super::*;

        async fn postgres(django: &Django) -> Option<CachedDbPair> {
            pair(django, Db::Postgres).await
        }

        crate::interop_cases!(postgres);

        #[tokio::test]
        async fn cached_copy_never_hides_djangos_writes() {
            let Some(django) = django::django() else {
                return;
            };
            let Some(pair) = postgres(django).await else {
                return;
            };
            super::cached_copy_never_hides_djangos_writes(django, &pair).await;
        }
    }
}
