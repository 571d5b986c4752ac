//! Kit factories of cached_db (rule E4): a database store of [`crate::db`] as the
//! durable layer behind a cache, all on the kit's clock, with raw access to the
//! database rows (Django's `session_data`).

use std::sync::Arc;

use session_api::{Result, SessionBackend};
use session_conformance::{Harness, KitEnv};
use session_stores::cache::{Cache, MemoryCache};
use session_stores::cached_db::CachedDbStore;

use crate::db::{store, Database};
use crate::Raw;

/// The kit factory of cached_db over `database` and a fresh memory cache on the
/// kit's clock.
pub async fn cached_db_memory(database: Database, env: KitEnv) -> Result<Harness> {
    let cache: Arc<dyn Cache> = Arc::new(MemoryCache::with_clock(env.clock()));
    over(database, cache, None, env).await
}

/// The kit factory of cached_db over `database` and the Redis at `redis_url`, the
/// case's cache keys under [`crate::cache::kit_prefix`] and removed when it ends.
#[cfg(feature = "redis")]
pub async fn cached_db_redis(
    database: Database,
    redis_url: String,
    env: KitEnv,
) -> Result<Harness> {
    let cache: Arc<dyn Cache> = crate::cache::redis_cache(&redis_url).await?;
    let prefix = crate::cache::kit_prefix(&env);
    let guard = crate::cache::KeyGuard::new(&redis_url, &prefix);
    let harness = over(database, cache, Some(prefix), env).await?;
    Ok(harness.keep_alive(guard))
}

async fn over(
    database: Database,
    cache: Arc<dyn Cache>,
    prefix: Option<String>,
    env: KitEnv,
) -> Result<Harness> {
    let (db, guard) = store(&database, &env).await?;
    let mut cached = CachedDbStore::new(db.clone(), cache, env.clock());
    if let Some(prefix) = prefix {
        cached = cached.key_prefix(prefix);
    }
    Ok(Harness::new(SessionBackend::from_async(Arc::new(cached)))
        .with_raw(Raw::of(&db), true)
        .keep_alive(guard))
}
