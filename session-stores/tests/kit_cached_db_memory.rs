//! The conformance kit on cached_db over the in-process memory cache and SQLite (a
//! file in a tempdir per case): needs no server.
#![cfg(all(feature = "cached_db", feature = "sqlite", feature = "kit"))]

mod common;

use std::sync::Arc;

use session_api::{Result, SessionBackend};
use session_conformance::{Harness, KitEnv};
use session_stores::cache::MemoryCache;
use session_stores::cached_db::CachedDbStore;

async fn factory(env: KitEnv) -> Result<Harness> {
    let (db, cleanup) = common::kit_db(common::Kind::Sqlite, &env).await?;
    let cache = Arc::new(MemoryCache::with_clock(env.clock()));
    let store = CachedDbStore::new(db.clone(), cache);
    Ok(Harness::new(SessionBackend::from_async(Arc::new(store)))
        .with_raw(db, true)
        .keep_alive(cleanup))
}

session_conformance::conformance_tests!(factory);
