//! Kit factories of the cache store: over the in-process memory cache, or over Redis
//! with each case under a key prefix of its own, whose keys are removed when the case
//! ends, in this crate's format or in Django's ([`CacheFormat::Django`]). Raw access
//! writes arbitrary text as the cached value (not Django's `session_data`: the cache
//! holds the dictionary itself, rule E3).
//!
//! [`CacheFormat::Django`]: session_stores::cache::CacheFormat::Django

use std::sync::Arc;

use session_api::{Result, SessionBackend};
use session_conformance::{Harness, KitEnv};
use session_stores::cache::{CacheStore, MemoryCache};

use crate::Raw;

/// The kit factory of the cache store over a fresh memory cache, both on the kit's
/// clock, with the account index on (rule S5).
pub async fn cache_memory(env: KitEnv) -> Result<Harness> {
    let cache = Arc::new(MemoryCache::with_clock(env.clock()));
    let store = Arc::new(
        CacheStore::new(cache)
            .clock(env.clock())
            .account_index(true),
    );
    Ok(Harness::new(SessionBackend::from_async(store.clone())).with_raw(Raw::of(&store), false))
}

#[cfg(feature = "redis")]
pub use self::redis::{
    cache_redis, cache_redis_django, cache_redis_unversioned, kit_django_format, kit_prefix,
    redis_cache, test_redis_url, KeyGuard,
};

#[cfg(feature = "redis")]
mod redis {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpStream;
    use std::sync::Arc;
    use std::time::Duration;

    use session_api::{Error, Result, SessionBackend};
    use session_conformance::{unavailable, Harness, KitEnv};
    use session_stores::cache::{
        CacheFormat, CacheStore, CacheVersioning, RedisCache, RedisOptions,
    };

    use crate::{redact, Raw};

    /// The shared test server: `SESSIONS_TEST_REDIS_URL`, default
    /// `redis://127.0.0.1:6379`.
    pub fn test_redis_url() -> String {
        std::env::var("SESSIONS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    }

    /// A client of the Redis at `url` with short timeouts; when it does not answer,
    /// [`session_conformance::unavailable`].
    ///
    /// # Errors
    ///
    /// As [`RedisCache::connect`], the unreachable case made
    /// [`session_conformance::unavailable`].
    pub async fn redis_cache(url: &str) -> Result<Arc<RedisCache>> {
        let options = RedisOptions::default()
            .command_timeout(Duration::from_secs(1))
            .connect_timeout(Duration::from_secs(2))
            .reconnect_delays(Duration::from_millis(50), Duration::from_millis(250));
        match RedisCache::connect(url, options).await {
            Ok(cache) => Ok(Arc::new(cache)),
            Err(err @ Error::Configuration(_)) => Err(err),
            Err(err) => Err(unavailable(format!(
                "Redis {} not reachable: {err}",
                redact(url)
            ))),
        }
    }

    /// The key prefix of a kit case: `kit:<unique name>:`.
    pub fn kit_prefix(env: &KitEnv) -> String {
        format!("kit:{}:", env.unique_name())
    }

    /// The kit factory of the cache store on the Redis at `url`, with the account
    /// index on (rule S5): keys under [`kit_prefix`], removed when the case ends.
    pub async fn cache_redis(url: String, env: KitEnv) -> Result<Harness> {
        on_redis(url, env, |store| store.account_index(true)).await
    }

    /// The kit factory of the cache store on the Redis at `url` without versions
    /// ([`CacheVersioning::Off`]: Django's last-writer-wins saves), so the kit checks
    /// everything but versioned saves on it; keys under [`kit_prefix`], removed when
    /// the case ends.
    pub async fn cache_redis_unversioned(url: String, env: KitEnv) -> Result<Harness> {
        on_redis(url, env, |store| store.versioning(CacheVersioning::Off)).await
    }

    /// The cache store on the Redis at `url` under [`kit_prefix`] and the kit's clock,
    /// set up further by `options`; its keys are removed when the case ends.
    async fn on_redis(
        url: String,
        env: KitEnv,
        options: impl FnOnce(CacheStore) -> CacheStore,
    ) -> Result<Harness> {
        let redis = redis_cache(&url).await?;
        let prefix = kit_prefix(&env);
        let store = Arc::new(options(
            CacheStore::new(redis)
                .key_prefix(prefix.clone())
                .clock(env.clock()),
        ));
        Ok(Harness::new(SessionBackend::from_async(store.clone()))
            .with_raw(Raw::of(&store), false)
            .keep_alive(KeyGuard::new(&url, &prefix)))
    }

    /// Django's format for a kit case: `KEY_PREFIX` `kit:<unique name>`, `VERSION` 1,
    /// so the case's keys (`kit:<unique name>:1:...`) are under [`kit_prefix`].
    pub fn kit_django_format(env: &KitEnv) -> CacheFormat {
        CacheFormat::django_with(format!("kit:{}", env.unique_name()), 1)
    }

    /// The kit factory of the cache store on the Redis at `url` in Django's format
    /// ([`kit_django_format`]): keys under [`kit_prefix`], removed when the case ends.
    pub async fn cache_redis_django(url: String, env: KitEnv) -> Result<Harness> {
        let redis = redis_cache(&url).await?;
        let store = Arc::new(
            CacheStore::new(redis)
                .format(kit_django_format(&env))
                .clock(env.clock()),
        );
        Ok(Harness::new(SessionBackend::from_async(store.clone()))
            .with_raw(Raw::of(&store), false)
            .keep_alive(KeyGuard::new(&url, &kit_prefix(&env))))
    }

    /// Removes every key under a prefix from a Redis server when dropped. Harnesses
    /// are dropped inside the kit's runtime, where nothing can be awaited: this speaks
    /// RESP over a blocking socket to the `host:port` and database of a `redis://` URL
    /// (without authentication; where that fails the keys expire on their own TTL).
    #[derive(Debug)]
    pub struct KeyGuard {
        addr: String,
        db: String,
        prefix: String,
    }

    impl KeyGuard {
        /// Cleans `prefix*` on the server and database of `url` when dropped. The
        /// prefix must need no glob escaping (`[A-Za-z0-9_:.]`); for any other the
        /// guard does nothing.
        pub fn new(url: &str, prefix: &str) -> Self {
            let plain = prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_:.".contains(c));
            let (addr, db) = server(url);
            KeyGuard {
                addr,
                db,
                prefix: if plain {
                    prefix.to_owned()
                } else {
                    String::new()
                },
            }
        }
    }

    impl Drop for KeyGuard {
        fn drop(&mut self) {
            if self.prefix.is_empty() {
                return;
            }
            let script = "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do \
                          n = n + redis.call('DEL', k) end return n";
            let pattern = format!("{}*", self.prefix);
            let commands = [
                &["SELECT", self.db.as_str()][..],
                &["EVAL", script, "0", &pattern],
            ];
            match resp(&self.addr, &commands) {
                Ok(reply) if reply.starts_with(':') => {}
                Ok(reply) => eprintln!("could not remove kit keys {pattern}: {reply}"),
                Err(err) => eprintln!("could not remove kit keys {pattern}: {err}"),
            }
        }
    }

    /// `host:port` and database number of a `redis://[cred@]host[:port][/db]` URL.
    fn server(url: &str) -> (String, String) {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let rest = rest.split('?').next().unwrap_or(rest);
        let (host, db) = rest.split_once('/').unwrap_or((rest, ""));
        let addr = if host.contains(':') {
            host.to_owned()
        } else {
            format!("{host}:6379")
        };
        let db = if !db.is_empty() && db.bytes().all(|b| b.is_ascii_digit()) {
            db.to_owned()
        } else {
            "0".to_owned()
        };
        (addr, db)
    }

    /// Sends commands in RESP over one plain socket; returns the first line of the
    /// last reply, or the first error reply.
    fn resp(addr: &str, commands: &[&[&str]]) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.set_write_timeout(Some(Duration::from_secs(2)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        for args in commands {
            let mut command = format!("*{}\r\n", args.len());
            for arg in *args {
                command.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
            }
            stream.write_all(command.as_bytes())?;
            line.clear();
            reader.read_line(&mut line)?;
            if line.starts_with('-') {
                break;
            }
        }
        Ok(line.trim_end().to_owned())
    }

    #[cfg(test)]
    mod tests {
        use super::server;

        #[test]
        fn the_server_and_database_of_a_url() {
            let s = |a: &str, d: &str| (a.to_owned(), d.to_owned());
            assert_eq!(server("redis://127.0.0.1:6379"), s("127.0.0.1:6379", "0"));
            assert_eq!(server("redis://127.0.0.1/15"), s("127.0.0.1:6379", "15"));
            assert_eq!(server("redis://:pw@host:7000/3?x=1"), s("host:7000", "3"));
            assert_eq!(server("redis://host/junk"), s("host:6379", "0"));
        }
    }
}
