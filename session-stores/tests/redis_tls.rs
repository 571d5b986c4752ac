//! TLS to Redis. With the `redis_tls` feature: the cache store over a `redis-server`
//! that listens with TLS (a test CA and certificate made with `openssl`), trusted
//! through a `fred` configuration; the same server reached without trusting the CA,
//! or in plain text, is refused. Without the feature: a TLS URL is refused
//! (`Error::Configuration`) instead of being connected in plain text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use session_stores::cache::{RedisCache, RedisOptions};

#[cfg(feature = "redis_tls")]
#[path = "common/topology.rs"]
mod topology;

/// Short timeouts: the refusals must not wait long.
fn options() -> RedisOptions {
    RedisOptions::default()
        .command_timeout(std::time::Duration::from_millis(500))
        .connect_timeout(std::time::Duration::from_secs(2))
}

#[cfg(not(feature = "redis_tls"))]
#[tokio::test]
async fn tls_urls_are_refused_without_the_feature() {
    use session_api::Error;

    // Port 1: were the URL not refused, nothing would answer there.
    for url in [
        "rediss://127.0.0.1:1",
        "rediss-cluster://127.0.0.1:1?node=127.0.0.1:2",
        "rediss-sentinel://127.0.0.1:1/0?sentinelServiceName=sessions",
    ] {
        let err = RedisCache::connect(url, options()).await.unwrap_err();
        assert!(matches!(err, Error::Configuration(_)), "{url}: {err:?}");
    }
}

#[cfg(feature = "redis_tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_store_over_tls() {
    use std::sync::Arc;

    use fred::native_tls;
    use fred::prelude::Config;
    use fred::types::config::TlsConnector;
    use serde_json::json;
    use session_api::{AsyncSessionStore, SessionData};
    use session_stores::cache::CacheStore;
    use topology::{or_skip, TlsFiles, TlsServer};

    let Some(files) = or_skip(TlsFiles::generate()) else {
        return;
    };
    let Some(server) = or_skip(TlsServer::start(&files)) else {
        return;
    };
    let url = format!("rediss://127.0.0.1:{}", server.tls_port());

    // The site's own CA, given to the TLS connector.
    let ca = native_tls::Certificate::from_pem(&std::fs::read(&files.ca).unwrap()).unwrap();
    let connector = native_tls::TlsConnector::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let mut config = Config::from_url(&url).unwrap();
    config.tls = Some(TlsConnector::from(connector).into());
    let redis = RedisCache::connect_with(config, options()).await.unwrap();
    let store = CacheStore::new(Arc::new(redis));
    let data = SessionData::from_value(json!({"over": "tls"})).unwrap();
    let expires_at = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let key = store.acreate(&data, expires_at).await.unwrap();
    assert_eq!(store.aload(&key).await.unwrap().map(|r| r.data), Some(data));
    store.adelete(&key).await.unwrap();
    assert!(store.aload(&key).await.unwrap().is_none());

    // The URL alone trusts the system's roots, which do not include the test CA.
    let untrusted = RedisCache::connect(&url, options()).await;
    assert!(untrusted.is_err(), "an untrusted certificate was accepted");
    // Plain text to the TLS port gets no Redis.
    let plain = format!("redis://127.0.0.1:{}", server.tls_port());
    assert!(RedisCache::connect(&plain, options()).await.is_err());
}
