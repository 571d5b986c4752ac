#![allow(clippy::unwrap_used)]
//! Findings 4 and 9b of issue 12: one set of [`DecodeLimits`] bounds both what a save
//! writes and what a load reads (rule H3), through the real file store and the real
//! SQLite store.
//!
//! - A save that its own load would refuse (the serialized data over
//!   `max_decompressed_len`, or the signed value over `max_signed_len`) is
//!   `Error::SessionTooLarge`, raised before anything is written: the previous record
//!   stays. Before the fix the save succeeded and the next load saw no session. The
//!   signed-cookie store refuses a cookie whose data is over the decoded limit too.
//! - The decoded JSON is bounded whether or not the payload was compressed: a validly
//!   signed 22 KB value that inflates to 16 MiB of JSON no longer decodes.

use std::io::Write as _;
use std::sync::Arc;

use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde_json::json;
use session_api::signing::{b64_encode, SecretKeys, TimestampSigner, SESSION_SALT};
use session_api::{
    AsyncSessionStore, DecodeLimits, Error, JsonSerializer, ManualClock, Record, SaveMode,
    SessionCodec, SessionData, SessionKey, SessionStore,
};
use session_stores::db::{DbOptions, DbPool, DbPoolOptions, DbStore};
use session_stores::file::FileStore;
use session_stores::signed_cookies::SignedCookieStore;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const SECRET: &str = "limits-test-secret-limits-test-secret-limits-test";
const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);
const AGE: i64 = 1_209_600;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(START))
}

fn codec(limits: DecodeLimits) -> SessionCodec {
    SessionCodec::new(&SecretKeys::new(SECRET), clock(), Arc::new(JsonSerializer))
        .with_limits(limits)
}

fn file_store(dir: &tempfile::TempDir, limits: DecodeLimits) -> FileStore {
    FileStore::new(dir.path(), "sessionid", AGE, codec(limits), clock()).unwrap()
}

async fn sqlite_store(dir: &tempfile::TempDir, limits: DecodeLimits) -> DbStore {
    let url = format!("sqlite://{}", dir.path().join("limits.sqlite3").display());
    let pool = DbPool::connect(&url, &DbPoolOptions::default())
        .await
        .unwrap();
    let options = DbOptions::new(SecretKeys::new(SECRET))
        .clock(clock())
        .decode_limits(limits);
    let store = DbStore::new(pool, options).unwrap();
    store.migrate().await.unwrap();
    store
}

fn key() -> SessionKey {
    SessionKey::parse("limitskey0001").unwrap()
}

fn record(data: SessionData) -> Record {
    Record::new(key(), data, START + Duration::seconds(AGE))
}

fn small() -> SessionData {
    SessionData::from_value(json!({"user": 42})).unwrap()
}

/// `{"pad":"aaa…"}`, exactly `json_len` bytes once serialized: compresses to almost
/// nothing.
fn compressible(json_len: usize) -> SessionData {
    let data = SessionData::from_value(json!({"pad": "a".repeat(json_len - 10)})).unwrap();
    assert_eq!(serde_json::to_vec(&data).unwrap().len(), json_len);
    data
}

/// `{"pad":"…"}` of `len` pseudo-random letters and digits: barely compresses.
fn incompressible(len: usize) -> SessionData {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let text: String = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[(state % 36) as usize])
        })
        .collect();
    SessionData::from_value(json!({ "pad": text })).unwrap()
}

/// A tight signed-length limit, so an incompressible session exceeds it.
fn tight_signed() -> DecodeLimits {
    DecodeLimits {
        max_signed_len: 1024,
        ..DecodeLimits::default()
    }
}

/// What a refused save must look like: the typed error with the offending size.
fn assert_too_large(result: Result<SessionKey, Error>, limit: usize) {
    match result {
        Err(Error::SessionTooLarge { size, limit: got }) => {
            assert_eq!(got, limit);
            assert!(size > limit, "size {size} <= limit {limit}");
        }
        other => panic!("expected SessionTooLarge, got {other:?}"),
    }
}

#[test]
fn h3_file_store_refuses_a_save_it_could_not_load_back() {
    let limits = DecodeLimits::default();
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir, limits);
    store.save(&record(small()), SaveMode::Create).unwrap();
    let before = store.read_raw(&key()).unwrap();

    // Over the decoded limit (compresses to a few KB, far under max_signed_len).
    let result = store.save(
        &record(compressible(limits.max_decompressed_len + 1)),
        SaveMode::Update,
    );
    assert_too_large(result, limits.max_decompressed_len);
    assert!(
        store.read_raw(&key()).unwrap() == before,
        "the record changed"
    );
    assert_eq!(store.load(&key()).unwrap().map(|r| r.data), Some(small()));

    // Over the signed-length limit.
    let store = file_store(&dir, tight_signed());
    let result = store.save(&record(incompressible(2_000)), SaveMode::Update);
    assert_too_large(result, 1024);
    assert!(
        store.read_raw(&key()).unwrap() == before,
        "the record changed"
    );
    assert_eq!(store.load(&key()).unwrap().map(|r| r.data), Some(small()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h3_sqlite_store_refuses_a_save_it_could_not_load_back() {
    let limits = DecodeLimits::default();
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir, limits).await;
    store
        .asave(&record(small()), SaveMode::Create)
        .await
        .unwrap();
    let before = store.read_raw(&key()).await.unwrap();

    let result = store
        .asave(
            &record(compressible(limits.max_decompressed_len + 1)),
            SaveMode::Update,
        )
        .await;
    assert_too_large(result, limits.max_decompressed_len);
    assert!(
        store.read_raw(&key()).await.unwrap() == before,
        "the record changed"
    );
    let loaded = store.aload(&key()).await.unwrap().map(|r| r.data);
    assert_eq!(loaded, Some(small()));
    store.pool().close().await;

    let store = sqlite_store(&dir, tight_signed()).await;
    let result = store
        .asave(&record(incompressible(2_000)), SaveMode::Update)
        .await;
    assert_too_large(result, 1024);
    assert!(
        store.read_raw(&key()).await.unwrap() == before,
        "the record changed"
    );
    let loaded = store.aload(&key()).await.unwrap().map(|r| r.data);
    assert_eq!(loaded, Some(small()));
    store.pool().close().await;
}

#[test]
fn h3_the_largest_session_a_save_accepts_loads_back() {
    // Both sides use the same limits: at the limit a save succeeds and loads back.
    let limits = DecodeLimits::default();
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir, limits);
    let largest = compressible(limits.max_decompressed_len);
    store
        .save(&record(largest.clone()), SaveMode::Create)
        .unwrap();
    assert_eq!(store.load(&key()).unwrap().map(|r| r.data), Some(largest));

    let store = file_store(&dir, tight_signed());
    // The longest incompressible session whose signed value fits 1024 bytes.
    let fits = |data: &SessionData| {
        codec(tight_signed())
            .encode(data)
            .is_ok_and(|encoded| encoded.len() <= 1024)
    };
    let longest = (100..2_000)
        .take_while(|&len| fits(&incompressible(len)))
        .last()
        .unwrap();
    assert!(!fits(&incompressible(longest + 1)));
    let fitting = incompressible(longest);
    store
        .save(&record(fitting.clone()), SaveMode::Update)
        .unwrap();
    assert_eq!(store.load(&key()).unwrap().map(|r| r.data), Some(fitting));
}

#[test]
fn h3_signed_cookie_store_refuses_a_cookie_it_could_not_load_back() {
    // Deflate packs up to about 1,000:1, so a 4 KB cookie can carry more than the
    // decoded limit: the save must refuse it rather than set a cookie that loads empty.
    let limits = DecodeLimits::default();
    let store = SignedCookieStore::new(
        SecretKeys::new(SECRET),
        AGE,
        clock(),
        Arc::new(JsonSerializer),
    );
    let at = compressible(limits.max_decompressed_len);
    let cookie = store.save(&record(at.clone()), SaveMode::Create).unwrap();
    assert!(cookie.as_str().len() <= store.max_value_len());
    assert_eq!(store.load(&cookie).unwrap().map(|r| r.data), Some(at));
    let over = compressible(limits.max_decompressed_len + 1);
    assert_too_large(
        store.save(&record(over), SaveMode::Create),
        limits.max_decompressed_len,
    );
}

/// `{"a":[0,0,…]}` of `json_len` bytes, zlib-compressed in chunks and signed with the
/// session salt: what an attacker gets the application to store, about 1,000 times
/// smaller than what it inflates to.
fn inflating(json_len: usize) -> String {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(b"{\"a\":[0").unwrap();
    let mut written = 7;
    let chunk = ",0".repeat(1 << 14);
    while written + 2 + chunk.len() <= json_len {
        encoder.write_all(chunk.as_bytes()).unwrap();
        written += chunk.len();
    }
    let rest = json_len - written - 2;
    assert_eq!(rest % 2, 0, "pick an odd json_len");
    encoder.write_all(",0".repeat(rest / 2).as_bytes()).unwrap();
    encoder.write_all(b"]}").unwrap();
    let payload = format!(".{}", b64_encode(encoder.finish().unwrap()));
    TimestampSigner::new(&SecretKeys::new(SECRET), SESSION_SALT, clock()).sign(&payload)
}

#[test]
fn h3_decoded_json_is_bounded_for_compressed_and_plain_payloads() {
    let limits = DecodeLimits::default();
    // The bound itself: what a parse of the largest accepted payload may cost.
    assert!(
        limits.max_decompressed_len <= 1 << 20,
        "decoded limit {} over 1 MiB",
        limits.max_decompressed_len
    );
    // A save cannot produce a signed value that the signed-length check refuses before
    // its payload, even uncompressed: max_signed_len covers the base64 of the largest
    // payload plus the timestamp and signature.
    assert!(limits.max_signed_len >= limits.max_decompressed_len.div_ceil(3) * 4 + 64);

    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir, limits);
    // 22 KB that inflates to 16 MiB: planted validly signed, it loads as absent.
    let bomb = inflating((16 << 20) - 1);
    assert!(bomb.len() < 32 << 10, "{}", bomb.len());
    store
        .write_raw(&key(), &bomb, START + Duration::seconds(AGE))
        .unwrap();
    assert_eq!(store.load(&key()).unwrap(), None);

    // At and just over the limit, compressed.
    let c = codec(limits);
    let at = inflating(limits.max_decompressed_len - 1);
    assert_eq!(c.try_decode(&at).unwrap().len(), 1);
    let over = inflating(limits.max_decompressed_len + 1);
    assert!(c.try_decode(&over).unwrap_err().is_bad_signature());

    // The same bound without compression (the payload is plain base64).
    let signer = TimestampSigner::new(&SecretKeys::new(SECRET), SESSION_SALT, clock());
    let plain = |len: usize| {
        let data = incompressible(len - 10);
        let json = serde_json::to_vec(&data).unwrap();
        assert_eq!(json.len(), len);
        signer.sign(&b64_encode(json))
    };
    assert_eq!(
        c.try_decode(&plain(limits.max_decompressed_len))
            .unwrap()
            .len(),
        1
    );
    assert!(c
        .try_decode(&plain(limits.max_decompressed_len + 1))
        .unwrap_err()
        .is_bad_signature());
}
