//! Redis through `fred` (feature `redis`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fred::error::ErrorKind;
use fred::prelude::{
    Builder, Client, ClientLike, Config, Expiration, KeysInterface, Options, ReconnectPolicy,
    ServerConfig, SetOptions, Value,
};
use fred::types::{ClusterHash, ConnectHandle, CustomCommand};
use session_api::{Error, Result};

use super::Cache;

/// How a [`RedisCache`] talks to Redis: timeouts and reconnection.
///
/// ```
/// use std::time::Duration;
/// use session_stores::cache::RedisOptions;
/// let options = RedisOptions::default()
///     .command_timeout(Duration::from_millis(500))
///     .reconnect_delays(Duration::from_millis(50), Duration::from_secs(1));
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct RedisOptions {
    command_timeout: Duration,
    connect_timeout: Duration,
    reconnect_min: Duration,
    reconnect_max: Duration,
    wait_for_connection: bool,
}

impl Default for RedisOptions {
    /// A 1 s command timeout, a 5 s connection timeout, reconnection forever with
    /// delays from 100 ms doubling up to 2 s, and a first connection awaited.
    fn default() -> Self {
        RedisOptions {
            command_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(2),
            wait_for_connection: true,
        }
    }
}

impl RedisOptions {
    /// The longest a command may take before it fails with [`Error::Unavailable`]
    /// (at least 1 ms). A connection on which a command waits twice this long is
    /// closed and opened again.
    #[must_use]
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The longest opening a TCP connection may take.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Reconnection after a lost connection: the first delay, doubled after each
    /// failed attempt up to `max`. Attempts never stop, so a restarted Redis is picked
    /// up; meanwhile commands fail at once (they do not queue).
    #[must_use]
    pub fn reconnect_delays(mut self, min: Duration, max: Duration) -> Self {
        self.reconnect_min = min.max(Duration::from_millis(1));
        self.reconnect_max = max.max(self.reconnect_min);
        self
    }

    /// Whether [`RedisCache::connect`] waits for the first connection and fails when
    /// Redis cannot be reached (the default). With `false` it returns at once and
    /// connects in the background: until Redis answers, every command fails with
    /// [`Error::Unavailable`] (what `cached_db` needs to start while Redis is down).
    #[must_use]
    pub fn wait_for_connection(mut self, wait: bool) -> Self {
        self.wait_for_connection = wait;
        self
    }
}

/// A Redis cache (feature `redis`): one multiplexed `fred` client.
///
/// Commands: `SET NX PX` (add), `SET XX GET PX` (replace; Redis 6.2 or later), `SET
/// PX`, `GET`, `DEL`, and `EVAL` of a `GET`-then-`SET` script (compare-and-set).
/// Each command is sent with `fail_fast` (while the connection is down it fails at
/// once instead of waiting for a reconnection) and the configured timeout; a
/// connection that stops answering is closed and opened again; lost connections are
/// re-established in the background for as long as it takes.
///
/// A server URL is `redis://[[user:]password@]host[:port][/db]`; `fred`'s other forms
/// (`redis-sentinel://...?sentinelServiceName=...`, `redis-cluster://...`) are
/// accepted as `fred` parses them, and [`connect_with`](Self::connect_with) takes a
/// `fred` [`Config`] built by hand. Only a single server is tested here; TLS
/// (`rediss://`) is not compiled in.
///
/// `RedisCache` is a cheap handle (`Clone`): clones share the one client and its
/// connection task, which stops when the last clone is dropped. Keep a clone next to
/// the store to reach [`client`](Self::client) or [`quit`](Self::quit) later.
///
/// ```no_run
/// # async fn demo() -> session_api::Result<()> {
/// use std::sync::Arc;
/// use session_api::SessionBackend;
/// use session_stores::cache::{CacheStore, RedisCache, RedisOptions};
/// let redis = RedisCache::connect("redis://127.0.0.1:6379/0", RedisOptions::default()).await?;
/// let store = CacheStore::new(Arc::new(redis.clone()));
/// let backend = SessionBackend::from_async(Arc::new(store));
/// // ... serve requests; at shutdown:
/// redis.quit().await?;
/// # let _ = backend; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisCache {
    client: Client,
    per_command: Options,
    _task: Arc<ConnectTask>,
}

/// Stops the connection task when the last [`RedisCache`] clone goes: without it the
/// connection would outlive the cache.
struct ConnectTask(ConnectHandle);

impl Drop for ConnectTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The config may hold a password: only the shape of the deployment is shown.
        let kind = match self.client.client_config().server {
            ServerConfig::Centralized { .. } => "single server",
            ServerConfig::Clustered { .. } => "cluster",
            ServerConfig::Sentinel { .. } => "sentinel",
            #[allow(unreachable_patterns)]
            _ => "other",
        };
        f.debug_struct("RedisCache")
            .field("deployment", &kind)
            .field("state", &self.client.state())
            .finish_non_exhaustive()
    }
}

/// A `fred` error as this crate reports it: [`Error::Unavailable`] when Redis could
/// not be reached in time (an I/O error, a timeout, a command cancelled because the
/// connection went down, or one with no connection to be routed to: fred 10 reports
/// that as `Unknown` "Failed to route command."), [`Error::Backend`] for everything
/// else (a reply of the wrong type, a refused password).
fn classify(err: fred::error::Error) -> Error {
    let unreachable = match err.kind() {
        ErrorKind::IO | ErrorKind::Timeout | ErrorKind::Canceled | ErrorKind::Routing => true,
        ErrorKind::Unknown => err.details().starts_with("Failed to route command"),
        _ => false,
    };
    if unreachable {
        Error::unavailable(err)
    } else {
        Error::backend(err)
    }
}

impl RedisCache {
    /// Connects to the Redis of `url` (see the type's docs for the forms).
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for a URL `fred` cannot parse; [`Error::Unavailable`]
    /// when Redis cannot be reached (unless [`RedisOptions::wait_for_connection`] is
    /// off); [`Error::Backend`] for another failure (a refused password, say).
    /// The URL, which may hold a password, is never part of the message.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self> {
        let config = Config::from_url(url).map_err(|e| {
            Error::configuration(format!(
                "invalid Redis URL ({:?}): {}",
                e.kind(),
                e.details()
            ))
        })?;
        Self::connect_with(config, options).await
    }

    /// Connects with a `fred` configuration built by hand (Sentinel or Cluster
    /// settings, credentials); `options` sets the timeouts and reconnection.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub async fn connect_with(mut config: Config, options: RedisOptions) -> Result<Self> {
        config.fail_fast = options.wait_for_connection;
        let millis = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        let policy = ReconnectPolicy::new_exponential(
            0, // never give up
            millis(options.reconnect_min),
            millis(options.reconnect_max),
            2,
        );
        let client = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = options.connect_timeout;
                c.internal_command_timeout = options.connect_timeout;
                c.max_command_attempts = 1;
                c.unresponsive.max_timeout = Some(options.command_timeout * 2);
                c.unresponsive.interval = (options.command_timeout / 2)
                    .clamp(Duration::from_millis(10), Duration::from_secs(1));
            })
            .with_performance_config(|p| p.default_command_timeout = options.command_timeout)
            .set_policy(policy)
            .build()
            .map_err(|e| Error::configuration(format!("invalid Redis configuration: {e}")))?;
        let task = if options.wait_for_connection {
            client.init().await.map_err(classify)?
        } else {
            client.connect()
        };
        let per_command = Options {
            timeout: Some(options.command_timeout),
            fail_fast: true,
            max_attempts: Some(1),
            ..Options::default()
        };
        Ok(RedisCache {
            client,
            per_command,
            _task: Arc::new(ConnectTask(task)),
        })
    }

    /// The `fred` client (for commands of your own). It stops with the last clone of
    /// the cache.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether the client is connected right now.
    pub fn is_connected(&self) -> bool {
        self.client.is_connected()
    }

    /// Closes the connection after pending commands finish.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] or [`Error::Backend`] when `QUIT` cannot be sent.
    pub async fn quit(&self) -> Result<()> {
        self.client.quit().await.map_err(classify)
    }

    fn text(value: Value) -> Result<Option<String>> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.to_string())),
            // Not UTF-8: kept (lossily) as text that will not decode as a session.
            Value::Bytes(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
            other => Err(Error::backend(format!(
                "unexpected Redis reply of kind {:?}",
                other.kind()
            ))),
        }
    }
}

/// `compare_and_set` as one script: `SET` with `PX` only when `GET` gives the
/// expected value.
const COMPARE_AND_SET: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
     redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 else return 0 end";

fn px_millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}

fn px(ttl: Duration) -> Expiration {
    Expiration::PX(px_millis(ttl))
}

#[async_trait]
impl Cache for RedisCache {
    async fn add(&self, key: &str, value: &str, ttl: Duration) -> Result<bool> {
        let reply: Value = self
            .client
            .with_options(&self.per_command)
            .set(key, value, Some(px(ttl)), Some(SetOptions::NX), false)
            .await
            .map_err(classify)?;
        Ok(!reply.is_null())
    }

    async fn replace(&self, key: &str, value: &str, ttl: Duration) -> Result<Option<String>> {
        let reply: Value = self
            .client
            .with_options(&self.per_command)
            .set(key, value, Some(px(ttl)), Some(SetOptions::XX), true)
            .await
            .map_err(classify)?;
        Self::text(reply)
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<()> {
        let _: Value = self
            .client
            .with_options(&self.per_command)
            .set(key, value, Some(px(ttl)), None, false)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<String>> {
        let reply: Value = self
            .client
            .with_options(&self.per_command)
            .get(key)
            .await
            .map_err(classify)?;
        Self::text(reply)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let _: i64 = self
            .client
            .with_options(&self.per_command)
            .del(key)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool> {
        // EVAL script numkeys key args...: the key is the third argument (for Cluster).
        let eval = CustomCommand::new("EVAL", ClusterHash::Offset(2), false);
        let ttl = px_millis(ttl).to_string();
        let stored: i64 = self
            .client
            .with_options(&self.per_command)
            .custom(eval, vec![COMPARE_AND_SET, "1", key, expected, value, &ttl])
            .await
            .map_err(classify)?;
        Ok(stored == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_redis_errors_are_unavailable() {
        let e = |kind, details: &'static str| fred::error::Error::new(kind, details);
        for err in [
            e(ErrorKind::IO, "Connection closed."),
            e(ErrorKind::Timeout, "Request timed out."),
            e(ErrorKind::Canceled, "Connection closed unexpectedly."),
            e(ErrorKind::Unknown, "Failed to route command."),
        ] {
            assert!(matches!(classify(err), Error::Unavailable(_)));
        }
        for err in [
            e(ErrorKind::Unknown, "Connection is not blocked."),
            e(ErrorKind::Auth, "WRONGPASS"),
            e(ErrorKind::InvalidArgument, "WRONGTYPE"),
        ] {
            assert!(matches!(classify(err), Error::Backend(_)));
        }
    }
}
