//! The conformance kit on the cache store over the in-process memory cache, both on
//! the kit's clock; raw access writes arbitrary text as the cached value.
#![cfg(all(feature = "cache", feature = "kit"))]

use std::sync::Arc;

use session_api::{Result, SessionBackend};
use session_conformance::{Harness, KitEnv};
use session_stores::cache::{CacheStore, MemoryCache};

async fn factory(env: KitEnv) -> Result<Harness> {
    let cache = Arc::new(MemoryCache::with_clock(env.clock()));
    let store = Arc::new(CacheStore::new(cache).clock(env.clock()));
    Ok(Harness::new(SessionBackend::from_async(store.clone())).with_raw(store, false))
}

session_conformance::conformance_tests!(factory);
