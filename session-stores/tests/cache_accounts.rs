//! The cache store's account index (rule S5, opt in with `account_index(true)`)
//! over the memory cache and the shared Redis (127.0.0.1:6379 or
//! `SESSIONS_TEST_REDIS_URL`; skipped loudly when absent, failed under `CI=true`):
//! listing, moves between accounts, deletes, touches, revocation, members whose
//! session went behind the store's back, and a failed index write.
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
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use serde_json::json;
use session_api::store::{AccountSession, AsyncAccountSessions, Version};
use session_api::{
    AsyncSessionStore, Clock, Error, ManualClock, Record, Result, SaveMode, SessionData, SessionKey,
};
use session_stores::cache::{
    Cache, CacheFormat, CacheStore, MemoryCache, Replaced, Stamp, Touched,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

struct Fixture {
    store: CacheStore,
    cache: Arc<dyn Cache>,
    clock: ManualClock,
}

fn over(cache: Arc<dyn Cache>, prefix: &str, format: CacheFormat) -> Fixture {
    let clock = ManualClock::new(START);
    let store = CacheStore::new(cache.clone())
        .key_prefix(prefix)
        .format(format)
        .clock(Arc::new(clock.clone()))
        .account_index(true);
    Fixture {
        store,
        cache,
        clock,
    }
}

fn of(account: Option<&str>) -> SessionData {
    let value = match account {
        Some(id) => json!({"_auth_user_id": id, "note": "x"}),
        None => json!({"note": "x"}),
    };
    SessionData::from_value(value).unwrap()
}

impl Fixture {
    fn index(&self) -> &dyn AsyncAccountSessions {
        self.store.accounts().expect("the index is on")
    }

    /// A new session of `account`, expiring `seconds` after the clock's now.
    async fn session(&self, account: Option<&str>, seconds: i64) -> AccountSession {
        let at = self.clock.now() + Duration::seconds(seconds);
        let key = self.store.acreate(&of(account), at).await.unwrap();
        AccountSession::new(key, at)
    }

    async fn listed(&self, account: i64) -> Vec<AccountSession> {
        self.index().alist_sessions(account).await.unwrap()
    }

    async fn save(&self, session: &AccountSession, account: Option<&str>) {
        let record = Record::new(session.key.clone(), of(account), session.expires_at);
        self.store.asave(&record, SaveMode::Update).await.unwrap();
    }
}

/// S5: live sessions per account, soonest expiry first (with their exact expiry);
/// none without an account; an expired one is not listed.
async fn lists_the_live_sessions_of_each_account(f: Fixture) {
    assert!(f.store.capabilities().list_by_account);
    let late = f.session(Some("7"), 300).await;
    let soon = f.session(Some("7"), 100).await;
    let other = f.session(Some("8"), 200).await;
    f.session(None, 400).await;
    // The expiry keeps its nanoseconds.
    let exact = f.session(Some("9"), 50).await;
    f.store
        .atouch(&exact.key, exact.expires_at + Duration::nanoseconds(1))
        .await
        .unwrap();
    assert_eq!(f.listed(7).await, vec![soon.clone(), late.clone()]);
    assert_eq!(f.listed(8).await, vec![other.clone()]);
    assert_eq!(
        f.listed(9).await,
        vec![AccountSession::new(
            exact.key.clone(),
            exact.expires_at + Duration::nanoseconds(1)
        )]
    );
    assert!(f.listed(10).await.is_empty());
    f.clock.advance(Duration::seconds(150));
    assert_eq!(f.listed(7).await, vec![late]);
    assert!(f.listed(9).await.is_empty());
}

/// S5: a save files the session under its data's account (moving it), one without
/// an account takes it out, a delete takes it out; a touch keeps it listed past its
/// old expiry, under the account of the data it keeps.
async fn saves_deletes_and_touches_keep_the_index(f: Fixture) {
    let s = f.session(Some("7"), 60).await;
    f.save(&s, Some("8")).await;
    assert!(f.listed(7).await.is_empty());
    assert_eq!(f.listed(8).await, vec![s.clone()]);
    f.save(&s, None).await;
    assert!(f.listed(8).await.is_empty());
    f.save(&s, Some("7")).await;
    assert_eq!(f.listed(7).await, vec![s.clone()]);

    let later = f.clock.now() + Duration::hours(1);
    f.store.atouch(&s.key, later).await.unwrap();
    f.clock.advance(Duration::seconds(120));
    assert_eq!(
        f.listed(7).await,
        vec![AccountSession::new(s.key.clone(), later)],
        "a touched session is listed past its old expiry"
    );
    assert_eq!(f.index().arevoke_all(7).await.unwrap(), 1);

    let d = f.session(Some("7"), 600).await;
    f.store.adelete(&d.key).await.unwrap();
    assert!(f.listed(7).await.is_empty());
    // A versioned save files it too.
    let v = f.session(Some("5"), 600).await;
    let version = f
        .store
        .aload(&v.key)
        .await
        .unwrap()
        .unwrap()
        .version
        .unwrap();
    let record = Record::new(v.key.clone(), of(Some("6")), v.expires_at);
    f.store.asave_if(&record, version).await.unwrap();
    assert_eq!(f.listed(6).await, vec![v]);
}

/// S5: revoke_all and revoke_all_except end exactly the account's sessions, say how
/// many, and a revoked session's late save is `Update` and brings nothing back (D5).
async fn revocation_ends_the_accounts_sessions(f: Fixture) {
    let a = f.session(Some("7"), 100).await;
    let current = f.session(Some("7"), 200).await;
    let c = f.session(Some("7"), 300).await;
    let kept = f.session(Some("8"), 100).await;
    let loaded = f.store.aload(&a.key).await.unwrap().unwrap();
    assert_eq!(
        f.index().arevoke_all_except(7, &current.key).await.unwrap(),
        2
    );
    assert_eq!(f.listed(7).await, vec![current.clone()]);
    for gone in [&a, &c] {
        assert!(f.store.aload(&gone.key).await.unwrap().is_none());
    }
    assert!(matches!(
        f.store.asave(&loaded, SaveMode::Update).await,
        Err(Error::Update)
    ));
    assert!(matches!(
        f.store.asave_if(&loaded, loaded.version.unwrap()).await,
        Err(Error::Update)
    ));
    assert!(matches!(
        f.store.atouch(&a.key, a.expires_at).await,
        Err(Error::Update)
    ));
    assert!(f.listed(7).await == vec![current.clone()]);
    assert_eq!(f.index().arevoke_all(7).await.unwrap(), 1);
    assert_eq!(f.index().arevoke_all(7).await.unwrap(), 0);
    assert!(f.store.aload(&current.key).await.unwrap().is_none());
    assert_eq!(f.listed(8).await, vec![kept]);
}

/// A member whose session went behind the store's back (removed from the cache
/// directly, or overwritten with another account's data) is neither listed nor
/// revoked; the session of another account is left alone.
async fn members_are_checked_against_their_sessions(f: Fixture) {
    let removed = f.session(Some("7"), 100).await;
    let taken = f.session(Some("7"), 100).await;
    let live = f.session(Some("7"), 100).await;
    f.cache
        .delete(&f.store.cache_key(&removed.key))
        .await
        .unwrap();
    let raw = f
        .store
        .read_raw(&f.session(Some("8"), 100).await.key)
        .await
        .unwrap()
        .unwrap();
    f.store
        .write_raw(&taken.key, &raw, taken.expires_at)
        .await
        .unwrap();
    assert_eq!(f.listed(7).await, vec![live]);
    assert_eq!(f.index().arevoke_all(7).await.unwrap(), 1);
    assert!(f.store.aload(&taken.key).await.unwrap().is_some());
}

/// A cache that fails every index write (a Cluster node down, say).
#[derive(Debug)]
struct NoIndex(MemoryCache);

fn index_down() -> Error {
    Error::unavailable(std::io::Error::other("index node down"))
}

#[async_trait]
impl Cache for NoIndex {
    async fn add(&self, key: &str, value: &[u8], ttl: StdDuration, now: &Stamp) -> Result<bool> {
        self.0.add(key, value, ttl, now).await
    }
    async fn replace(
        &self,
        key: &str,
        value: &[u8],
        ttl: StdDuration,
        now: Option<&Stamp>,
    ) -> Result<Replaced> {
        self.0.replace(key, value, ttl, now).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: StdDuration) -> Result<()> {
        self.0.set(key, value, ttl).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.0.get(key).await
    }
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<StdDuration>)>> {
        self.0.get_with_ttl(key).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.0.delete(key).await
    }
    async fn compare_and_set(
        &self,
        key: &str,
        old: &[u8],
        value: &[u8],
        ttl: StdDuration,
    ) -> Result<bool> {
        self.0.compare_and_set(key, old, value, ttl).await
    }
    async fn replace_if_version(
        &self,
        key: &str,
        expected: Version,
        value: &[u8],
        ttl: StdDuration,
        now: &Stamp,
    ) -> Result<Replaced> {
        self.0
            .replace_if_version(key, expected, value, ttl, now)
            .await
    }
    async fn touch(
        &self,
        key: &str,
        expires: &Stamp,
        ttl: StdDuration,
        now: &Stamp,
        want_value: bool,
    ) -> Result<Touched> {
        self.0.touch(key, expires, ttl, now, want_value).await
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.0.take(key).await
    }
    async fn index_add(&self, _: &str, _: &str, _: i64, _: StdDuration, _: i64) -> Result<()> {
        Err(index_down())
    }
    async fn index_members(&self, index: &str, now: i64) -> Result<Vec<String>> {
        self.0.index_members(index, now).await
    }
    async fn index_remove(&self, _: &str, _: &[String]) -> Result<()> {
        Err(index_down())
    }
}

mod memory {
    use super::*;

    fn fixture(format: CacheFormat) -> Fixture {
        let cache = MemoryCache::with_clock(Arc::new(ManualClock::new(START)));
        over(Arc::new(cache), "accounts", format)
    }

    #[tokio::test]
    async fn lists_the_live_sessions_of_each_account() {
        super::lists_the_live_sessions_of_each_account(fixture(CacheFormat::Native)).await;
        super::lists_the_live_sessions_of_each_account(fixture(CacheFormat::django())).await;
    }

    #[tokio::test]
    async fn saves_deletes_and_touches_keep_the_index() {
        super::saves_deletes_and_touches_keep_the_index(fixture(CacheFormat::Native)).await;
        super::saves_deletes_and_touches_keep_the_index(fixture(CacheFormat::django())).await;
    }

    #[tokio::test]
    async fn revocation_ends_the_accounts_sessions() {
        super::revocation_ends_the_accounts_sessions(fixture(CacheFormat::Native)).await;
    }

    #[tokio::test]
    async fn members_are_checked_against_their_sessions() {
        super::members_are_checked_against_their_sessions(fixture(CacheFormat::Native)).await;
    }

    /// A session whose filing failed is removed before the error returns: no live
    /// session is missing from its account's index.
    #[tokio::test]
    async fn a_failed_index_write_removes_the_session() {
        let cache = Arc::new(NoIndex(MemoryCache::new()));
        let f = over(cache, "accounts", CacheFormat::Native);
        let key = SessionKey::generate();
        let record = Record::new(key.clone(), of(Some("7")), START + Duration::hours(1));
        let r = f.store.asave(&record, SaveMode::Create).await;
        assert!(matches!(r, Err(Error::Unavailable(_))), "{r:?}");
        assert!(!f.store.aexists(&key).await.unwrap());
        // Without an account there is nothing to file.
        let anonymous = Record::new(key.clone(), of(None), START + Duration::hours(1));
        f.store.asave(&anonymous, SaveMode::Create).await.unwrap();
        let r = f.store.asave(&record, SaveMode::Update).await;
        assert!(matches!(r, Err(Error::Unavailable(_))), "{r:?}");
        assert!(!f.store.aexists(&key).await.unwrap());
    }

    /// Off by default: nothing declared, no index, the operations as before.
    #[tokio::test]
    async fn the_index_is_off_by_default() {
        let cache = Arc::new(NoIndex(MemoryCache::new()));
        let store = CacheStore::new(cache);
        assert!(!store.capabilities().list_by_account);
        assert!(store.accounts().is_none());
        let record = Record::new(
            SessionKey::generate(),
            of(Some("7")),
            OffsetDateTime::now_utc() + Duration::hours(1),
        );
        store.asave(&record, SaveMode::Create).await.unwrap();
        store.adelete(&record.key).await.unwrap();
        assert!(!store.aexists(&record.key).await.unwrap());
    }
}

#[cfg(feature = "redis")]
mod redis {
    use super::common::redis::{scoped, shared, shared_url, KeyCleanup};
    use super::*;
    use fred::prelude::{ClientLike, KeysInterface};

    async fn fixture(test: &str, django: bool) -> Option<(Fixture, KeyCleanup)> {
        let (cache, prefix, format, cleanup) = scoped(test, django).await?;
        Some((over(Arc::new(cache), &prefix, format), cleanup))
    }

    #[tokio::test]
    async fn lists_the_live_sessions_of_each_account() {
        for django in [false, true] {
            let Some((f, _guard)) = fixture("list", django).await else {
                return;
            };
            super::lists_the_live_sessions_of_each_account(f).await;
        }
    }

    #[tokio::test]
    async fn saves_deletes_and_touches_keep_the_index() {
        for django in [false, true] {
            let Some((f, _guard)) = fixture("keep", django).await else {
                return;
            };
            super::saves_deletes_and_touches_keep_the_index(f).await;
        }
    }

    #[tokio::test]
    async fn revocation_ends_the_accounts_sessions() {
        let Some((f, _guard)) = fixture("revoke", false).await else {
            return;
        };
        super::revocation_ends_the_accounts_sessions(f).await;
    }

    #[tokio::test]
    async fn members_are_checked_against_their_sessions() {
        let Some((f, _guard)) = fixture("members", false).await else {
            return;
        };
        super::members_are_checked_against_their_sessions(f).await;
    }

    /// The index is one sorted set per account, scored by expiry in Unix
    /// milliseconds, living as long as its longest session; revoking empties it.
    #[tokio::test]
    async fn the_index_is_a_sorted_set_that_expires_with_its_sessions() {
        let Some(cache) = shared().await else {
            return;
        };
        let prefix = format!("test:{}:zset:", std::process::id());
        let _guard = KeyCleanup::new(&shared_url(), &prefix);
        let f = over(Arc::new(cache.clone()), &prefix, CacheFormat::Native);
        let short = f.session(Some("7"), 60).await;
        f.session(Some("7"), 3600).await;
        let index = f.store.index_key(7);
        assert_eq!(index, format!("{prefix}:account[7]"));
        let pttl: i64 = cache.client().pttl(&index).await.unwrap();
        assert!(pttl > 3_500_000 && pttl <= 3_600_000, "{pttl}");
        let score: Option<f64> = cache
            .client()
            .custom(
                fred::types::CustomCommand::new_static("ZSCORE", None::<u16>, false),
                vec![index.clone(), short.key.as_str().to_owned()],
            )
            .await
            .unwrap();
        let expected = (short.expires_at.unix_timestamp_nanos() / 1_000_000) as f64;
        assert_eq!(score, Some(expected));
        assert_eq!(f.index().arevoke_all(7).await.unwrap(), 2);
        let left: i64 = cache.client().exists(&index).await.unwrap();
        assert_eq!(left, 0, "revoking removed every member");
    }
}
