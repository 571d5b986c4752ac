//! The conformance kit on the cache store over the in-process memory cache, both on
//! the kit's clock; raw access writes arbitrary text as the cached value.
#![cfg(feature = "cache")]

use std::sync::Arc;

use async_trait::async_trait;
use session_api::{Result, SessionBackend, SessionKey};
use session_conformance::{Harness, KitEnv, RawRecords};
use session_stores::cache::{CacheStore, MemoryCache};
use time::OffsetDateTime;

#[derive(Debug)]
struct Raw(Arc<CacheStore>);

#[async_trait]
impl RawRecords for Raw {
    async fn write_raw(
        &self,
        key: &SessionKey,
        raw: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        self.0.write_raw(key, raw, expires_at).await
    }

    async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
        self.0.read_raw(key).await
    }
}

async fn factory(env: KitEnv) -> Result<Harness> {
    let cache = Arc::new(MemoryCache::with_clock(env.clock()));
    let store = Arc::new(CacheStore::new(cache).clock(env.clock()));
    let raw = Arc::new(Raw(Arc::clone(&store)));
    Ok(Harness::new(SessionBackend::from_async(store)).with_raw(raw, false))
}

session_conformance::conformance_tests!(factory);
