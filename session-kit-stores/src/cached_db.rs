//! Kit factories of cached_db (rule E4): a database store of [`crate::db`] as the
//! durable layer behind a cache, all on the kit's clock, with raw access to the
//! database rows (Django's `session_data`).

use std::sync::Arc;

use session_api::{Result, SessionBackend};
use session_conformance::{Harness, KitEnv};
use session_stores::cache::{Cache, CacheFormat, MemoryCache};
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

/// The kit factory of cached_db over `database` and the Redis at `redis_url` in
/// Django's format ([`crate::cache::kit_django_format`]): the case's keys under
/// [`crate::cache::kit_prefix`], removed when it ends.
#[cfg(feature = "redis")]
pub async fn cached_db_redis_django(
    database: Database,
    redis_url: String,
    env: KitEnv,
) -> Result<Harness> {
    let cache: Arc<dyn Cache> = crate::cache::redis_cache(&redis_url).await?;
    let guard = crate::cache::KeyGuard::new(&redis_url, &crate::cache::kit_prefix(&env));
    let format = crate::cache::kit_django_format(&env);
    let harness = over_with(database, cache, None, format, env).await?;
    Ok(harness.keep_alive(guard))
}

/// cached_db over `database` and `cache`, its keys under `prefix` (Django's when
/// `None`), with raw access to the rows.
pub(crate) async fn over(
    database: Database,
    cache: Arc<dyn Cache>,
    prefix: Option<String>,
    env: KitEnv,
) -> Result<Harness> {
    over_with(database, cache, prefix, CacheFormat::Native, env).await
}

/// [`over`] in the cache format `format`.
async fn over_with(
    database: Database,
    cache: Arc<dyn Cache>,
    prefix: Option<String>,
    format: CacheFormat,
    env: KitEnv,
) -> Result<Harness> {
    let (db, guard) = store(&database, &env).await?;
    let mut cached = CachedDbStore::new(db.clone(), cache, env.clock()).format(format);
    if let Some(prefix) = prefix {
        cached = cached.key_prefix(prefix);
    }
    Ok(Harness::new(SessionBackend::from_async(Arc::new(cached)))
        .with_raw(Raw::of(&db), true)
        .keep_alive(guard))
}
