//! The Redis cache against the shared server (127.0.0.1:6379 or
//! `SESSIONS_TEST_REDIS_URL`; skipped loudly when absent, failed under `CI=true`):
//! the commands' semantics, the stored value and its TTL, odd values. Every key is
//! under a prefix of this process, removed at the end.
// The shared test helpers need a database driver.
#![cfg(all(feature = "redis", feature = "sqlite"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::redis::{shared, shared_url, test_options, KeyCleanup, RedisServer};
use fred::prelude::{ClientLike, KeysInterface, Value};
use serde_json::json;
use session_api::{AsyncSessionStore, Error, Record, SaveMode, SessionData, SessionKey};
use session_stores::cache::{
    version_of, Cache, CacheFormat, CacheStore, RedisCache, RedisOptions, Replaced, Stamp,
};
use time::OffsetDateTime;

fn prefix(test: &str) -> String {
    format!("test:{}:{test}:", std::process::id())
}

async fn pttl(cache: &RedisCache, key: &str) -> i64 {
    cache.client().pttl(key).await.unwrap()
}

fn stamped(at: OffsetDateTime) -> Vec<u8> {
    format!(
        r#"{{"data":{{}},"expires":"{}"}}"#,
        Stamp::at(at).unwrap().as_str()
    )
    .into_bytes()
}

#[tokio::test]
async fn commands_follow_the_cache_contract() {
    let Some(cache) = shared().await else { return };
    let p = prefix("contract");
    let _cleanup = KeyCleanup::new(&shared_url(), &p);
    let k = format!("{p}k");
    let minute = Duration::from_secs(60);
    let now = Stamp::at(OffsetDateTime::now_utc()).unwrap();

    assert!(cache.add(&k, b"1", minute, &now).await.unwrap());
    assert!(!cache.add(&k, b"2", minute, &now).await.unwrap());
    assert_eq!(cache.get(&k).await.unwrap(), Some(b"1".to_vec()));
    let t = pttl(&cache, &k).await;
    assert!((59_000..=60_000).contains(&t), "PTTL {t}");

    assert_eq!(
        cache
            .replace(&k, b"3", Duration::from_secs(5), Some(&now))
            .await
            .unwrap(),
        Replaced::Stored
    );
    let t = pttl(&cache, &k).await;
    assert!((4_000..=5_000).contains(&t), "replace sets the TTL: {t}");
    let (value, ttl) = cache.get_with_ttl(&k).await.unwrap().unwrap();
    assert_eq!(value, b"3");
    assert!(ttl.is_some_and(|t| t <= Duration::from_secs(5) && t > Duration::from_secs(3)));

    let missing = format!("{p}missing");
    assert_eq!(
        cache
            .replace(&missing, b"x", minute, Some(&now))
            .await
            .unwrap(),
        Replaced::Absent
    );
    assert_eq!(cache.get(&missing).await.unwrap(), None, "nothing written");
    assert_eq!(cache.get_with_ttl(&missing).await.unwrap(), None);

    cache
        .set(&missing, b"y", Duration::from_millis(1500))
        .await
        .unwrap();
    assert_eq!(cache.get(&missing).await.unwrap(), Some(b"y".to_vec()));
    let t = pttl(&cache, &missing).await;
    assert!((1_000..=1_500).contains(&t), "PTTL {t}");

    // A key without a TTL (Django's timeout=None): no TTL.
    let persistent = format!("{p}persistent");
    let _: () = cache
        .client()
        .set(&persistent, "z", None, None, false)
        .await
        .unwrap();
    assert_eq!(
        cache.get_with_ttl(&persistent).await.unwrap(),
        Some((b"z".to_vec(), None))
    );

    // Compare-and-set: only over the exact value, with the new TTL.
    assert!(!cache.compare_and_set(&k, b"1", b"4", minute).await.unwrap());
    assert!(cache
        .compare_and_set(&k, b"3", b"4", Duration::from_secs(7))
        .await
        .unwrap());
    assert_eq!(cache.get(&k).await.unwrap(), Some(b"4".to_vec()));
    let t = pttl(&cache, &k).await;
    assert!(
        (6_000..=7_000).contains(&t),
        "compare_and_set sets the TTL: {t}"
    );
    let absent = format!("{p}absent");
    assert!(!cache
        .compare_and_set(&absent, b"", b"x", minute)
        .await
        .unwrap());
    assert_eq!(cache.get(&absent).await.unwrap(), None);

    cache.delete(&k).await.unwrap();
    cache.delete(&k).await.unwrap();
    assert_eq!(cache.get(&k).await.unwrap(), None);
}

/// Rule H7 inside the scripts: an entry whose stamp is at or before "now" (the
/// caller's clock, not Redis's) is absent for add (taken over) and replace (removed);
/// a later stamp, or none, is a live entry. Binary values are kept byte for byte.
#[tokio::test]
async fn the_scripts_judge_the_stamp() {
    let Some(cache) = shared().await else { return };
    let p = prefix("stamps");
    let _cleanup = KeyCleanup::new(&shared_url(), &p);
    let minute = Duration::from_secs(60);
    let at = OffsetDateTime::now_utc();
    let now = Stamp::at(at).unwrap();
    let (dead, live) = (format!("{p}dead"), format!("{p}live"));
    let nanosecond = time::Duration::nanoseconds(1);

    cache.set(&dead, &stamped(at), minute).await.unwrap();
    cache
        .set(&live, &stamped(at + nanosecond), minute)
        .await
        .unwrap();
    assert_eq!(
        cache
            .replace(&dead, b"x", minute, Some(&now))
            .await
            .unwrap(),
        Replaced::Expired
    );
    assert_eq!(pttl(&cache, &dead).await, -2, "removed");
    assert_eq!(
        cache
            .replace(&live, b"x", minute, Some(&now))
            .await
            .unwrap(),
        Replaced::Stored
    );

    cache
        .set(&dead, &stamped(at - nanosecond), minute)
        .await
        .unwrap();
    cache
        .set(&live, &stamped(at + nanosecond), minute)
        .await
        .unwrap();
    let binary = b"\x80\x03N.\0\xff{\"lease\":\"t\"}".to_vec();
    assert!(
        cache.add(&dead, &binary, minute, &now).await.unwrap(),
        "taken over"
    );
    assert_eq!(cache.get(&dead).await.unwrap(), Some(binary.clone()));
    let t = pttl(&cache, &dead).await;
    assert!((59_000..=60_000).contains(&t), "PTTL {t}");
    assert!(!cache.add(&live, b"x", minute, &now).await.unwrap());
    // No stamp (the binary value ends otherwise): live.
    assert!(!cache.add(&dead, b"x", minute, &now).await.unwrap());
    assert_eq!(
        cache
            .replace(&dead, b"y", minute, Some(&now))
            .await
            .unwrap(),
        Replaced::Stored
    );
    // Without a stamp check (the store vouches that TTLs end by the stamps): `SET XX`.
    cache.set(&dead, &stamped(at), minute).await.unwrap();
    assert_eq!(
        cache.replace(&dead, b"z", minute, None).await.unwrap(),
        Replaced::Stored
    );
    assert_eq!(cache.get(&dead).await.unwrap(), Some(b"z".to_vec()));
    let gone = format!("{p}gone");
    assert_eq!(
        cache.replace(&gone, b"z", minute, None).await.unwrap(),
        Replaced::Absent
    );
    assert_eq!(pttl(&cache, &gone).await, -2, "nothing created");
    // A key of another type is the backend's error.
    let hash = format!("{p}hash");
    let _: () = cache
        .client()
        .custom(
            fred::types::CustomCommand::new_static("HSET", None::<u16>, false),
            vec![hash.clone(), "f".into(), "v".into()],
        )
        .await
        .unwrap();
    assert!(matches!(
        cache.replace(&hash, b"x", minute, Some(&now)).await,
        Err(Error::Backend(_))
    ));
    assert!(matches!(
        cache.get_with_ttl(&hash).await,
        Err(Error::Backend(_))
    ));
}

/// Attack: two sites share a Redis with overlapping prefixes, `site:sess` and
/// `site:session`. A session key beginning with `ion` under the first was the same
/// cache key as the rest of that key under the second.
#[tokio::test]
async fn overlapping_prefixes_never_share_an_entry() {
    let Some(cache) = shared().await else { return };
    let p = prefix("overlap");
    let _cleanup = KeyCleanup::new(&shared_url(), &p);
    let cache: Arc<dyn Cache> = Arc::new(cache);
    let short = CacheStore::new(cache.clone()).key_prefix(format!("{p}site:sess"));
    let long = CacheStore::new(cache).key_prefix(format!("{p}site:session"));
    let fresh = SessionKey::generate();
    let rest = &fresh.as_str()[..29];
    let victim = SessionKey::parse(&format!("ion{rest}")).unwrap();
    let probe = SessionKey::parse(rest).unwrap();
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let secret = SessionData::from_value(json!({"_auth_user_id": "42"})).unwrap();
    short
        .asave(
            &Record::new(victim.clone(), secret, expires),
            SaveMode::Create,
        )
        .await
        .unwrap();
    let read = long.aload(&probe).await.unwrap().map(|r| r.data);
    assert_eq!(read, None, "the other site read the session");
    assert_ne!(short.cache_key(&victim), long.cache_key(&probe));
    assert!(!long.aexists(&probe).await.unwrap());
    // Nor can the other site take it over.
    long.asave(
        &Record::new(probe.clone(), SessionData::new(), expires),
        SaveMode::Create,
    )
    .await
    .unwrap();
    assert_eq!(
        short.aload(&victim).await.unwrap().map(|r| r.data.len()),
        Some(1)
    );
}

/// `Debug` of the Redis cache never shows the URL's password (rule H5).
#[tokio::test]
async fn debug_never_shows_the_password() {
    let port = common::redis::free_port();
    let url = format!("redis://user:hunter2secret@127.0.0.1:{port}/0");
    let cache = RedisCache::connect(&url, RedisOptions::default().wait_for_connection(false))
        .await
        .unwrap();
    let store = CacheStore::new(Arc::new(cache.clone()));
    for shown in [
        format!("{cache:?}"),
        format!("{store:?}"),
        format!("{:?}", RedisOptions::default()),
    ] {
        assert!(!shown.contains("hunter2secret"), "{shown}");
        assert!(!shown.contains("user"), "{shown}");
    }
    assert!(format!("{cache:?}").contains("single server"));
}

#[tokio::test]
async fn the_store_writes_the_documented_value_with_the_remaining_age() {
    let Some(cache) = shared().await else { return };
    let p = prefix("store");
    let _cleanup = KeyCleanup::new(&shared_url(), &p);
    let cache = Arc::new(cache);
    let store = CacheStore::new(cache.clone()).key_prefix(p.clone());
    let key = SessionKey::generate();
    let expires = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        + time::Duration::hours(1);
    let data = SessionData::from_value(json!({"user": "bob", "text": "café"})).unwrap();
    store
        .asave(
            &Record::new(key.clone(), data.clone(), expires),
            SaveMode::Create,
        )
        .await
        .unwrap();

    let cache_key = format!("{p}:{}", key.as_str());
    assert_eq!(store.cache_key(&key), cache_key);
    let stored: Option<String> = cache.client().get(&cache_key).await.unwrap();
    // The revision before the stamp is the digest of the value without it (V1).
    let stamp = Stamp::at(expires).unwrap();
    let unrevised = format!(
        r#"{{"data":{{"user":"bob","text":"café"}},"expires":"{}"}}"#,
        stamp.as_str()
    );
    let version = version_of(unrevised.as_bytes());
    let expected = format!(
        r#"{{"data":{{"user":"bob","text":"café"}},"rev":"{:016x}","expires":"{}"}}"#,
        version.get(),
        stamp.as_str()
    );
    assert_eq!(stored.as_deref(), Some(expected.as_str()));
    let t = pttl(&cache, &cache_key).await;
    assert!((3_590_000..=3_600_000).contains(&t), "PTTL {t}");
    // The version is the revision (V1).
    assert_eq!(
        store.aload(&key).await.unwrap(),
        Some(Record::new(key.clone(), data, expires).with_version(Some(version)))
    );
    assert!(store.aexists(&key).await.unwrap());

    store.adelete(&key).await.unwrap();
    assert!(!store.aexists(&key).await.unwrap());
    let r = store
        .asave(
            &Record::new(key.clone(), SessionData::new(), expires),
            SaveMode::Update,
        )
        .await;
    assert!(matches!(r, Err(Error::Update)), "{r:?}");
    assert_eq!(pttl(&cache, &cache_key).await, -2, "no key was re-created");
}

#[tokio::test]
async fn odd_values_load_as_none_and_wrong_types_are_backend_errors() {
    let Some(cache) = shared().await else { return };
    let p = prefix("odd");
    let _cleanup = KeyCleanup::new(&shared_url(), &p);
    let cache = Arc::new(cache);
    let store = CacheStore::new(cache.clone()).key_prefix(p.clone());

    let binary = SessionKey::generate();
    let _: () = cache
        .client()
        .set(
            store.cache_key(&binary),
            Value::Bytes(vec![0xff, 0xfe, 0x00, b'{'].into()),
            Some(fred::prelude::Expiration::EX(60)),
            None,
            false,
        )
        .await
        .unwrap();
    assert_eq!(store.aload(&binary).await.unwrap(), None);
    assert!(store.aexists(&binary).await.unwrap());

    let hash = SessionKey::generate();
    let _: () = cache
        .client()
        .custom(
            fred::types::CustomCommand::new_static("HSET", None::<u16>, false),
            vec![store.cache_key(&hash), "f".into(), "v".into()],
        )
        .await
        .unwrap();
    assert!(matches!(store.aload(&hash).await, Err(Error::Backend(_))));
}

#[tokio::test]
async fn urls_are_checked_and_never_echoed() {
    let r = RedisCache::connect("not a url", RedisOptions::default()).await;
    assert!(matches!(r, Err(Error::Configuration(_))), "{r:?}");

    let port = common::redis::free_port();
    let url = format!("redis://user:hunter2secret@127.0.0.1:{port}/0");
    let started = std::time::Instant::now();
    let err = RedisCache::connect(&url, RedisOptions::default())
        .await
        .expect_err("nothing listens there");
    // Nothing listening: the store is unreachable, not broken.
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("hunter2secret"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "refused at once"
    );
}

#[tokio::test]
async fn the_concrete_cache_stays_reachable_through_a_clone() {
    let Some(cache) = shared().await else { return };
    let p = prefix("clone");
    let _cleanup = KeyCleanup::new(&shared_url(), &p);
    // The store holds one clone; the application keeps another.
    let store = CacheStore::new(Arc::new(cache.clone())).key_prefix(p.clone());
    let key = SessionKey::generate();
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    store
        .asave(
            &Record::new(key.clone(), SessionData::new(), expires),
            SaveMode::Create,
        )
        .await
        .unwrap();
    let cache_key = store.cache_key(&key);
    assert!(
        pttl(&cache, &cache_key).await > 0,
        "the clone sees the store's key"
    );
    // Dropping the store's clone leaves the connection of the other one working.
    drop(store);
    assert!(cache.is_connected());
    assert!(cache.get(&cache_key).await.unwrap().is_some());
    cache.quit().await.unwrap();
    assert!(!cache.is_connected());
}

/// Django's format over Redis: Django's key, the pickle and its trailer, the TTL; an
/// entry written as Django writes it (a bare pickle with `EX`) loads with its TTL as
/// its expiry.
#[tokio::test]
async fn the_django_format_over_redis() {
    let Some(cache) = shared().await else { return };
    let p = prefix("django");
    let _cleanup = KeyCleanup::new(&shared_url(), &p);
    let cache = Arc::new(cache);
    let key_prefix = p.trim_end_matches(':').to_owned();
    let store =
        CacheStore::new(cache.clone()).format(CacheFormat::django_with(key_prefix.clone(), 2));
    let key = SessionKey::generate();
    let cache_key = format!(
        "{key_prefix}:2:django.contrib.sessions.cache{}",
        key.as_str()
    );
    assert_eq!(store.cache_key(&key), cache_key);
    let expires = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let data = SessionData::from_value(json!({"user": "bob", "n": [1, 2.5]})).unwrap();
    store
        .asave(
            &Record::new(key.clone(), data.clone(), expires),
            SaveMode::Create,
        )
        .await
        .unwrap();
    let stored = cache.get(&cache_key).await.unwrap().unwrap();
    assert!(stored.starts_with(b"\x80\x03"));
    let trailer = format!(
        "\0{{\"expires\":\"{}\"}}",
        Stamp::at(expires).unwrap().as_str()
    );
    assert!(stored.ends_with(trailer.as_bytes()));
    let t = pttl(&cache, &cache_key).await;
    assert!((3_590_000..=3_600_000).contains(&t), "PTTL {t}");
    assert_eq!(
        store.aload(&key).await.unwrap(),
        Some(
            Record::new(key.clone(), data.clone(), expires).with_version(Some(version_of(&stored)))
        )
    );
    let more = SessionData::from_value(json!({"user": "bob", "n": [3]})).unwrap();
    store
        .asave(
            &Record::new(key.clone(), more.clone(), expires),
            SaveMode::Update,
        )
        .await
        .unwrap();
    assert_eq!(store.aload(&key).await.unwrap().map(|r| r.data), Some(more));

    // As Django's RedisCache writes {"a": 1} with a timeout of 600 s.
    let django = SessionKey::generate();
    let pickled = b"\x80\x05\x95\n\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s.";
    let _: () = cache
        .client()
        .set(
            store.cache_key(&django),
            Value::Bytes(pickled.to_vec().into()),
            Some(fred::prelude::Expiration::EX(600)),
            None,
            false,
        )
        .await
        .unwrap();
    let before = OffsetDateTime::now_utc();
    let record = store
        .aload(&django)
        .await
        .unwrap()
        .expect("Django's session");
    assert_eq!(
        record.data,
        SessionData::from_value(json!({"a": 1})).unwrap()
    );
    let left = record.expires_at - before;
    assert!(
        left <= time::Duration::seconds(601) && left > time::Duration::seconds(590),
        "{left}"
    );
    store.adelete(&django).await.unwrap();
    assert!(!store.aexists(&django).await.unwrap());
}

/// How many times the server ran `command` (`INFO commandstats`).
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

/// The save path on a dedicated server, counted by Redis itself: on the system clock
/// an update is one `SET` (`XX`, nothing sent back) and no script; on a manual clock
/// it is one `EVALSHA`.
#[tokio::test]
async fn an_update_on_the_system_clock_is_one_plain_set() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = Arc::new(
        RedisCache::connect(&server.url(), test_options())
            .await
            .unwrap(),
    );
    let store = CacheStore::new(cache.clone());
    let key = SessionKey::generate();
    let expires = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let data = SessionData::from_value(json!({"a": 1})).unwrap();
    let record = Record::new(key.clone(), data, expires);
    store.asave(&record, SaveMode::Create).await.unwrap();
    let sets = calls(&cache, "set").await;
    for _ in 0..10 {
        store.asave(&record, SaveMode::Update).await.unwrap();
    }
    assert_eq!(calls(&cache, "set").await, sets + 10);
    assert_eq!(
        calls(&cache, "evalsha").await + calls(&cache, "eval").await,
        0
    );
    assert_eq!(calls(&cache, "getrange").await, 0, "no stamp read");

    let manual =
        session_api::ManualClock::new(OffsetDateTime::now_utc() - time::Duration::hours(1));
    let checked = CacheStore::new(cache.clone()).clock(Arc::new(manual));
    for _ in 0..10 {
        checked.asave(&record, SaveMode::Update).await.unwrap();
    }
    // The first call meets NOSCRIPT and sends the script once by EVAL.
    assert_eq!(calls(&cache, "evalsha").await, 10);
    assert_eq!(calls(&cache, "eval").await, 1);
    // Redis counts the scripts' own commands too: a stamp read and a SET each.
    assert_eq!(calls(&cache, "getrange").await, 10);
    assert_eq!(calls(&cache, "set").await, sets + 20);
}
