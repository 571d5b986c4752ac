#![cfg(feature = "cache")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::sync::Arc;
use serde_json::json;
use session_api::{AsyncSessionStore, ManualClock, Record, SaveMode, SessionData, SessionKey};
use session_stores::cache::{CacheStore, MemoryCache};
use time::macros::datetime;
use time::OffsetDateTime;
const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);
fn data(value: serde_json::Value) -> SessionData {
    SessionData::from_value(value).unwrap()
}
struct Setup { store: CacheStore, cache: Arc<MemoryCache> }
fn setup() -> Setup {
    let cache = Arc::new(MemoryCache::with_clock(Arc::new(ManualClock::new(START))));
    let store = CacheStore::new(cache.clone()).clock(Arc::new(ManualClock::new(START)));
    Setup { store, cache }
}
/// `Debug` of the memory cache and of the cache store over it never shows a session
/// key or session data, however many sessions they hold (rule H5).
#[tokio::test]
async fn debug_never_shows_keys_or_data() {
    let s = setup();
    let key = SessionKey::generate();
    s.store
        .asave(
            &Record::new(
                key.clone(),
                data(json!({"_auth_user_id": "secret-user-4242"})),
                START + time::Duration::hours(1),
            ),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(s.cache.len(), 1);
    for shown in [format!("{:?}", s.cache), format!("{:?}", s.store)] {
        assert!(!shown.contains(key.as_str()), "{shown}");
        assert!(!shown.contains("secret-user-4242"), "{shown}");
        assert!(!shown.contains("expires"), "{shown}");
    }
    assert!(format!("{:?}", s.cache).contains("entries: 1"));
}
