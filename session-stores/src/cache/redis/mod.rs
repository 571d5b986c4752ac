//! Redis through `fred` (feature `redis`).

mod conditional;
mod scripts;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fred::bytes::Bytes;
use fred::error::ErrorKind;
use fred::prelude::{
    Builder, Client, ClientLike, Config, Expiration, KeysInterface, Options, ReconnectPolicy,
    ServerConfig, SetOptions, Value,
};
use fred::types::{ClusterHash, ConnectHandle, CustomCommand};
use session_api::{Error, Result, Version};

pub use self::conditional::ConditionalWrites;
use self::conditional::{IfEq, Native};
use self::scripts::{
    Script, COMPARE_AND_SET, GET_WITH_TTL, INDEX_ADD, INDEX_MEMBERS, INDEX_REMOVE, REPLACE,
    REPLACE_IF_VERSION, TAKE_OVER, TOUCH,
};
use super::{Cache, Replaced, Stamp, Touched};
use crate::digest::version_hex;

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
    conditional_writes: ConditionalWrites,
}

impl Default for RedisOptions {
    /// A 1 s command timeout, a 5 s connection timeout, reconnection forever with
    /// delays from 100 ms doubling up to 2 s, a first connection awaited, and native
    /// conditional writes where the server has them ([`ConditionalWrites::DEFAULT`]).
    fn default() -> Self {
        RedisOptions {
            command_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(2),
            wait_for_connection: true,
            conditional_writes: ConditionalWrites::DEFAULT,
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

    /// How versioned saves and compare-and-set are sent: `SET ... IFEQ` where the
    /// server has it, or always the Lua scripts (see [`ConditionalWrites`]).
    #[must_use]
    pub fn conditional_writes(mut self, mode: ConditionalWrites) -> Self {
        self.conditional_writes = mode;
        self
    }
}

/// A Redis cache (feature `redis`): one multiplexed `fred` client.
///
/// Commands: `SET NX PX` (add; when the key is taken, a script takes over an entry
/// whose [`Stamp`] has passed), `SET XX PX` (replace without a stamp check), `SET PX`,
/// `GET`, `DEL`, `GETDEL` (take), and Lua scripts for the rest, each touching one key:
/// replace with a stamp check (`EXISTS`, `GETRANGE` of the stamp, `SET PX` or `DEL`:
/// nothing is sent back), replace-if-version (`GETRANGE` of the revision and the
/// stamp, `SET PX`; for a value without a revision `GET` and `redis.sha1hex`), touch
/// (`GETRANGE`, `SETRANGE` of the revision and the stamp, `PEXPIRE`), compare-and-set (`GET`,
/// `SET PX`), get-with-TTL (`GET`, `PTTL`), and the account index's add, list and
/// removal (`ZREMRANGEBYSCORE`, then `ZADD` and `PEXPIRE`, or `ZRANGE`; `ZREM`).
/// Where the server has `SET ... IFEQ` (Valkey 8.1+, Redis 8.4+), a versioned save over
/// a value this client read or wrote, and every compare-and-set, are that one command
/// instead of a script ([`ConditionalWrites`]; the server is asked once whether it has
/// it, at connection). A versioned save whose compare fails (another writer, a touch)
/// then runs the script, which tells a conflict from a deleted or expired session: a
/// second round trip, on conflicts only.
/// Scripts are sent as `EVALSHA` (the script's SHA-1), and as
/// `EVAL` once when the server answers `NOSCRIPT` (after a restart or on a new
/// Cluster node), which caches them again. Each command is sent with `fail_fast`
/// (while the connection is down it fails at once instead of waiting for a
/// reconnection) and the configured timeout; a connection that stops answering is
/// closed and opened again; lost connections are re-established in the background
/// for as long as it takes.
///
/// A server URL is `redis://[[user:]password@]host[:port][/db]`, a Cluster
/// `redis-cluster://host:port?node=host2:port2&...` (any nodes, as seeds) or a
/// Sentinel group `redis-sentinel://host:port/db?sentinelServiceName=name&node=...`
/// (the sentinels); all three are tested, the last two on a 3+3 Cluster and a
/// master, replica and three sentinels, failover included (docs/scaling.md).
/// [`connect_with`](Self::connect_with) takes a `fred` [`Config`] built by hand. TLS
/// (`rediss://`, `rediss-cluster://`, `rediss-sentinel://`) needs the `redis_tls`
/// feature; without it such a URL is refused rather than connected in plain text.
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
    /// Shared by the clones: what the client knows for `SET ... IFEQ`.
    native: Option<Arc<Native>>,
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
/// that as `Unknown` "Failed to route command."), or answered that it cannot serve
/// now (see [`TRANSIENT_REPLIES`]); [`Error::Backend`] for everything else (a reply
/// of the wrong type, a refused password).
fn classify(err: fred::error::Error) -> Error {
    let details = err.details();
    let unreachable = match err.kind() {
        ErrorKind::IO | ErrorKind::Timeout | ErrorKind::Canceled | ErrorKind::Routing => true,
        ErrorKind::Unknown => details.starts_with("Failed to route command"),
        _ => false,
    } || TRANSIENT_REPLIES.iter().any(|p| details.starts_with(p));
    if unreachable {
        Error::unavailable(err)
    } else {
        Error::backend(err)
    }
}

/// What a Cluster or Sentinel deployment answers while it fails over or moves slots
/// (a 503 to the user, not a 500): a cluster without a master for some slot
/// (`CLUSTERDOWN`), a slot in migration (`TRYAGAIN`), a replica cut off from its
/// master (`MASTERDOWN`), a server loading its data (`LOADING`), a demoted master
/// (`READONLY`), and fred's "Too many failed write attempts." for a command that a
/// `MOVED` or `ASK` redirected after its one attempt (the cache never re-sends a
/// command, which may have run).
const TRANSIENT_REPLIES: [&str; 6] = [
    "CLUSTERDOWN",
    "TRYAGAIN",
    "MASTERDOWN",
    "LOADING",
    "READONLY",
    "Too many failed write attempts",
];

/// Whether `url`'s scheme asks for TLS, as fred reads it (`rediss...`, `valkeys...`).
fn wants_tls(url: &str) -> bool {
    let scheme = url.trim_start().split("://").next().unwrap_or_default();
    let scheme = scheme.to_ascii_lowercase();
    scheme.starts_with("rediss") || scheme.starts_with("valkeys")
}

impl RedisCache {
    /// Connects to the Redis of `url` (see the type's docs for the forms).
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for a URL `fred` cannot parse, or a TLS URL without
    /// the `redis_tls` feature; [`Error::Unavailable`]
    /// when Redis cannot be reached (unless [`RedisOptions::wait_for_connection`] is
    /// off); [`Error::Backend`] for another failure (a refused password, say).
    /// The URL, which may hold a password, is never part of the message.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self> {
        // fred without a TLS feature would connect to a TLS URL in plain text.
        if wants_tls(url) && !cfg!(feature = "redis_tls") {
            return Err(Error::configuration(
                "a TLS Redis URL (rediss://) needs the `redis_tls` feature of session-stores",
            ));
        }
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
        let cache = RedisCache {
            client,
            per_command,
            native: Native::new(options.conditional_writes).map(Arc::new),
            _task: Arc::new(ConnectTask(task)),
        };
        if options.wait_for_connection {
            if let Some(native) = &cache.native {
                // A transient failure leaves the question to the first conditional write.
                let _ = cache.probe_conditional_set(native).await;
            }
        }
        Ok(cache)
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

    fn bytes(value: Value) -> Result<Option<Vec<u8>>> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.into_inner().into())),
            Value::Bytes(b) => Ok(Some(b.into())),
            other => Err(unexpected(&other)),
        }
    }

    /// Keeps `value`, a value this client wrote, as what `key` holds, for a native
    /// versioned save.
    fn remember_written(&self, key: &str, value: &Bytes) {
        if let Some(native) = &self.native {
            native.remember(key, || value.clone());
        }
    }

    /// Keeps a copy of `value`, part of a reply (not a slice of it, which would keep
    /// the whole reply buffer alive), as what `key` holds.
    fn remember_read(&self, key: &str, value: &[u8]) {
        if let Some(native) = &self.native {
            native.remember(key, || Bytes::copy_from_slice(value));
        }
    }

    /// What the client knows for `SET ... IFEQ`, the server asked first if it has not
    /// been; `None` with [`ConditionalWrites::Scripts`] or on a server without it.
    async fn native(&self) -> Result<Option<&Native>> {
        let Some(native) = self.native.as_deref() else {
            return Ok(None);
        };
        if native.unknown() {
            self.probe_conditional_set(native).await?;
        }
        Ok(native.supported().then_some(native))
    }

    /// Forgets what `key` held.
    fn forget(&self, key: &str) {
        if let Some(native) = &self.native {
            native.forget(key);
        }
    }

    /// Runs `script` on `key` with `args`: `EVALSHA`, then `EVAL` when the server
    /// does not know the script (`NOSCRIPT`), which caches it.
    async fn run(&self, script: &Script, key: &str, args: Vec<Value>) -> Result<Value> {
        match self.eval("EVALSHA", &script.sha, key, &args).await {
            Err(err) if err.details().starts_with("NOSCRIPT") => self
                .eval("EVAL", script.body, key, &args)
                .await
                .map_err(classify),
            reply => reply.map_err(classify),
        }
    }

    /// `EVAL` or `EVALSHA` of `script` (the body or its SHA-1) on one key.
    async fn eval(
        &self,
        command: &'static str,
        script: &str,
        key: &str,
        args: &[Value],
    ) -> std::result::Result<Value, fred::error::Error> {
        let mut all: Vec<Value> = Vec::with_capacity(args.len() + 3);
        all.push(script.into());
        all.push("1".into());
        all.push(key.into());
        all.extend(args.iter().cloned());
        self.keyed_command(command, key, all).await
    }

    /// `command` with `args` (all of them: `key` is not added), a command `fred` has no
    /// typed method for, routed by `key`'s slot on a Cluster. Not
    /// `ClusterHash::Offset`: fred 10.1 ignores a custom command's hasher unless it is
    /// `Custom`, and would hash the first argument (an `EVALSHA`'s script), sending the
    /// command to a node that answers MOVED, which fails with one attempt.
    async fn keyed_command(
        &self,
        command: &'static str,
        key: &str,
        args: Vec<Value>,
    ) -> std::result::Result<Value, fred::error::Error> {
        let slot = ClusterHash::Custom(fred::util::redis_keyslot(key.as_bytes()));
        let command = CustomCommand::new_static(command, slot, false);
        self.client
            .with_options(&self.per_command)
            .custom(command, args)
            .await
    }
}

fn unexpected(reply: &Value) -> Error {
    Error::backend(format!("unexpected Redis reply of kind {:?}", reply.kind()))
}

fn px_millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}

fn px(ttl: Duration) -> Expiration {
    Expiration::PX(px_millis(ttl))
}

fn bytes_arg(value: &[u8]) -> Value {
    Value::Bytes(value.to_vec().into())
}

fn int_reply(reply: &Value) -> Result<i64> {
    reply.as_i64().ok_or_else(|| unexpected(reply))
}

#[async_trait]
impl Cache for RedisCache {
    async fn add(&self, key: &str, value: &[u8], ttl: Duration, now: &Stamp) -> Result<bool> {
        let reply: Value = self
            .client
            .with_options(&self.per_command)
            .set(
                key,
                bytes_arg(value),
                Some(px(ttl)),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(classify)?;
        if !reply.is_null() {
            return Ok(true);
        }
        // Taken (a collision, or an entry expired by the store's clock): the script
        // decides, atomically.
        let args = vec![bytes_arg(value), px_millis(ttl).into(), now.as_str().into()];
        let reply = self.run(&TAKE_OVER, key, args).await?;
        Ok(int_reply(&reply)? == 1)
    }

    async fn replace(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        now: Option<&Stamp>,
    ) -> Result<Replaced> {
        let Some(now) = now else {
            // The store vouches that no entry outlives its stamp: Redis's own expiry
            // decides.
            let reply: Value = self
                .client
                .with_options(&self.per_command)
                .set(
                    key,
                    bytes_arg(value),
                    Some(px(ttl)),
                    Some(SetOptions::XX),
                    false,
                )
                .await
                .map_err(classify)?;
            return Ok(if reply.is_null() {
                Replaced::Absent
            } else {
                Replaced::Stored
            });
        };
        let args = vec![bytes_arg(value), px_millis(ttl).into(), now.as_str().into()];
        let reply = self.run(&REPLACE, key, args).await?;
        match int_reply(&reply)? {
            0 => Ok(Replaced::Absent),
            1 => Ok(Replaced::Stored),
            2 => Ok(Replaced::Expired),
            _ => Err(unexpected(&reply)),
        }
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        let _: Value = self
            .client
            .with_options(&self.per_command)
            .set(key, bytes_arg(value), Some(px(ttl)), None, false)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let reply: Value = self
            .client
            .with_options(&self.per_command)
            .get(key)
            .await
            .map_err(classify)?;
        let value = Self::bytes(reply)?;
        if let Some(value) = &value {
            self.remember_read(key, value);
        }
        Ok(value)
    }

    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<Duration>)>> {
        let reply = self.run(&GET_WITH_TTL, key, Vec::new()).await?;
        match reply {
            Value::Null => Ok(None),
            Value::Array(mut parts) if parts.len() == 2 => {
                let pttl = parts.pop().map_or(Ok(0), |p| int_reply(&p))?;
                let value = parts.pop().map_or(Ok(None), Self::bytes)?;
                if let Some(value) = &value {
                    self.remember_read(key, value);
                }
                // PTTL: -1 for no expiry; -2 cannot happen inside the script.
                let ttl = u64::try_from(pttl).ok().map(Duration::from_millis);
                Ok(value.map(|value| (value, ttl)))
            }
            other => Err(unexpected(&other)),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let _: i64 = self
            .client
            .with_options(&self.per_command)
            .del(key)
            .await
            .map_err(classify)?;
        self.forget(key);
        Ok(())
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool> {
        // Not remembered: cached_db's entries and leases are never saved by version.
        if self.native().await?.is_some() {
            let current = Bytes::copy_from_slice(expected);
            let value = Bytes::copy_from_slice(value);
            match self.set_if_equal(key, current, &value, ttl).await? {
                IfEq::Stored => return Ok(true),
                IfEq::Differs => return Ok(false),
                IfEq::Refused => {}
            }
        }
        let args = vec![bytes_arg(expected), bytes_arg(value), px_millis(ttl).into()];
        let reply = self.run(&COMPARE_AND_SET, key, args).await?;
        Ok(int_reply(&reply)? == 1)
    }

    async fn replace_if_version(
        &self,
        key: &str,
        expected: Version,
        value: &[u8],
        ttl: Duration,
        now: &Stamp,
    ) -> Result<Replaced> {
        let value = Bytes::copy_from_slice(value);
        // The native compare when this client holds the bytes of that version; the
        // script decides every other case, and every failed compare (conditional.rs).
        if let Some(native) = self.native().await? {
            if let Some(current) = native.comparison(key, expected, now) {
                let answer = self.set_if_equal(key, current, &value, ttl).await?;
                if matches!(answer, IfEq::Stored) {
                    self.remember_written(key, &value);
                    return Ok(Replaced::Stored);
                }
            }
        }
        let args = vec![
            Value::Bytes(value.clone()),
            px_millis(ttl).into(),
            now.as_str().into(),
            version_hex(expected).into(),
        ];
        let reply = self.run(&REPLACE_IF_VERSION, key, args).await?;
        let replaced = match int_reply(&reply)? {
            0 => Replaced::Absent,
            1 => Replaced::Stored,
            2 => Replaced::Expired,
            3 => Replaced::Conflict,
            _ => return Err(unexpected(&reply)),
        };
        if let Replaced::Stored = replaced {
            self.remember_written(key, &value);
        } else {
            self.forget(key);
        }
        Ok(replaced)
    }

    async fn touch(
        &self,
        key: &str,
        expires: &Stamp,
        ttl: Duration,
        now: &Stamp,
        want_value: bool,
    ) -> Result<Touched> {
        let args = vec![
            expires.as_str().into(),
            px_millis(ttl).into(),
            now.as_str().into(),
            if want_value { "1" } else { "0" }.into(),
        ];
        // The stamp (and revision) changed in place: the bytes remembered are stale.
        self.forget(key);
        match self.run(&TOUCH, key, args).await? {
            reply @ (Value::String(_) | Value::Bytes(_)) => {
                Ok(Touched::Stored(Self::bytes(reply)?))
            }
            reply => match int_reply(&reply)? {
                0 => Ok(Touched::Absent),
                1 => Ok(Touched::Stored(None)),
                2 => Ok(Touched::Expired),
                _ => Err(unexpected(&reply)),
            },
        }
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let reply: Value = self
            .client
            .with_options(&self.per_command)
            .getdel(key)
            .await
            .map_err(classify)?;
        self.forget(key);
        Self::bytes(reply)
    }

    async fn index_add(
        &self,
        index: &str,
        member: &str,
        score: i64,
        ttl: Duration,
        now: i64,
    ) -> Result<()> {
        let args = vec![
            member.into(),
            score.into(),
            now.into(),
            px_millis(ttl).into(),
        ];
        self.run(&INDEX_ADD, index, args).await?;
        Ok(())
    }

    async fn index_members(&self, index: &str, now: i64) -> Result<Vec<String>> {
        match self.run(&INDEX_MEMBERS, index, vec![now.into()]).await? {
            Value::Array(members) => members
                .into_iter()
                .map(|member| match member {
                    Value::String(s) => Ok(s.to_string()),
                    Value::Bytes(b) => String::from_utf8(b.to_vec())
                        .map_err(|_| Error::backend("an index member is not UTF-8")),
                    other => Err(unexpected(&other)),
                })
                .collect(),
            Value::Null => Ok(Vec::new()),
            other => Err(unexpected(&other)),
        }
    }

    async fn index_remove(&self, index: &str, members: &[String]) -> Result<()> {
        if members.is_empty() {
            return Ok(());
        }
        let members = members.iter().map(|m| m.as_str().into()).collect();
        self.run(&INDEX_REMOVE, index, members).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_urls_are_recognised() {
        for url in [
            "rediss://h:1",
            "REDISS://h",
            "rediss-cluster://h:1",
            "valkeys://h",
        ] {
            assert!(wants_tls(url), "{url}");
        }
        for url in [
            "redis://h:1",
            "redis-sentinel://h/0",
            "valkey://h",
            "unix:///s",
        ] {
            assert!(!wants_tls(url), "{url}");
        }
    }

    #[test]
    fn unreachable_redis_errors_are_unavailable() {
        let e = |kind, details: &'static str| fred::error::Error::new(kind, details);
        for err in [
            e(ErrorKind::IO, "Connection closed."),
            e(ErrorKind::Timeout, "Request timed out."),
            e(ErrorKind::Canceled, "Connection closed unexpectedly."),
            e(ErrorKind::Unknown, "Failed to route command."),
            e(ErrorKind::Cluster, "CLUSTERDOWN The cluster is down"),
            e(
                ErrorKind::Unknown,
                "TRYAGAIN Multiple keys request during rehashing of slot",
            ),
            e(
                ErrorKind::Unknown,
                "READONLY You can't write against a read only replica.",
            ),
            e(
                ErrorKind::Unknown,
                "LOADING Redis is loading the dataset in memory",
            ),
            e(ErrorKind::Unknown, "Too many failed write attempts."),
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
