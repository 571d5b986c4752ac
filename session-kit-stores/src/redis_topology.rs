//! Kit factories over a replicated Redis deployment the test binary started for
//! itself: a Redis Cluster (`redis-cluster://...`) or a master behind Sentinel
//! (`redis-sentinel://...`). The URL is passed through to
//! [`RedisCache::connect`](session_stores::cache::RedisCache::connect), so these
//! cases also prove that the store's URL forms work. Each case has its own key prefix
//! ([`kit_prefix`]); nothing is removed when it ends, since the whole deployment goes
//! away with its processes (a cleanup by pattern would also need one `KEYS` per
//! cluster master, or would reach a sentinel instead of the data).

use std::sync::Arc;

use session_api::{Result, SessionBackend};
use session_conformance::{Harness, KitEnv};
use session_stores::cache::CacheStore;

use crate::cache::{kit_django_format, kit_prefix, redis_cache};
use crate::Raw;

/// The kit factory of the cache store on the private deployment at `url`, with the
/// account index on (rule S5: its single-key commands run on a Cluster as they are).
pub async fn cache_redis_topology(url: String, env: KitEnv) -> Result<Harness> {
    let redis = redis_cache(&url).await?;
    let store = Arc::new(
        CacheStore::new(redis)
            .key_prefix(kit_prefix(&env))
            .clock(env.clock())
            .account_index(true),
    );
    Ok(Harness::new(SessionBackend::from_async(store.clone())).with_raw(Raw::of(&store), false))
}

/// The kit factory of the cache store on the private deployment at `url`, in
/// Django's format ([`kit_django_format`]: Django's key layout, pickled values).
pub async fn cache_redis_topology_django(url: String, env: KitEnv) -> Result<Harness> {
    let redis = redis_cache(&url).await?;
    let store = Arc::new(
        CacheStore::new(redis)
            .format(kit_django_format(&env))
            .clock(env.clock()),
    );
    Ok(Harness::new(SessionBackend::from_async(store.clone())).with_raw(Raw::of(&store), false))
}

/// The kit factory of cached_db over `database` and the private deployment at `url`.
#[cfg(all(
    feature = "cached_db",
    any(feature = "sqlite", feature = "postgres", feature = "mysql")
))]
pub async fn cached_db_redis_topology(
    database: crate::db::Database,
    url: String,
    env: KitEnv,
) -> Result<Harness> {
    let cache: Arc<dyn session_stores::cache::Cache> = redis_cache(&url).await?;
    let prefix = kit_prefix(&env);
    crate::cached_db::over(database, cache, Some(prefix), env).await
}
