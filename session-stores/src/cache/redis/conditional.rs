//! Native conditional writes: `SET key value IFEQ current PX ms`, which Valkey 8.1+
//! and Redis 8.4+ run as one command, where Redis 7 needs a Lua script (about six
//! times the server time of a plain `SET`; docs/concurrency.md).
//!
//! `IFEQ` compares whole values, and a versioned save holds only a [`Version`], so
//! the client remembers the bytes it last read or wrote under each key (bounded by a
//! byte budget, least recently used out first). A versioned save whose expected
//! version is that of the remembered bytes sends them as the comparison. That is
//! exact: when `IFEQ` stores, the server held those very bytes, so their version and
//! their stamp are what the script would have checked (rule V1). When it does not
//! (another writer, a touch, an eviction by the server), the script decides and tells
//! absent, expired and another version apart; a save is never decided on the
//! remembered bytes alone.
//!
//! Whether the server has `IFEQ` is learnt from the first try: an older server answers
//! `ERR syntax error`, after which this client uses the scripts only and remembers
//! nothing.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use fred::bytes::Bytes;
use fred::prelude::{ClientLike, Value};
use fred::types::{ClusterHash, CustomCommand};
use quick_cache::sync::Cache as Lru;
use quick_cache::Weighter;
use session_api::{Result, Version};

use super::{classify, px_millis, unexpected, RedisCache};
use crate::cache::{stored_version, Stamp};

/// How a [`RedisCache`] makes its conditional writes (the versioned save of rule V1,
/// and `compare_and_set` for [`cached_db`](crate::cached_db)'s leases).
///
/// ```
/// use session_stores::cache::{ConditionalWrites, RedisOptions};
/// // Remember up to 64 MiB of values for the native compare.
/// let options = RedisOptions::default()
///     .conditional_writes(ConditionalWrites::Native { memory: 64 << 20 });
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConditionalWrites {
    /// `SET ... IFEQ` where the server has it (Valkey 8.1 and later, Redis 8.4 and
    /// later), the Lua scripts elsewhere. A versioned save compares against the value
    /// this client last read or wrote under the key, of which it keeps up to `memory`
    /// bytes in all (0: none, so only `compare_and_set` is native); a save whose
    /// value was not kept runs the script.
    Native {
        /// The budget, in bytes of values, of what the client remembers.
        memory: usize,
    },
    /// The Lua scripts always, and nothing remembered.
    Scripts,
}

impl ConditionalWrites {
    /// The default: [`Native`](Self::Native) with 16 MiB of values.
    pub const DEFAULT: ConditionalWrites = ConditionalWrites::Native { memory: 16 << 20 };
}

impl Default for ConditionalWrites {
    fn default() -> Self {
        ConditionalWrites::DEFAULT
    }
}

/// Weighs a remembered value by its bytes and its key's (never 0: a zero weight
/// would never be evicted).
#[derive(Clone)]
struct ByLength;

impl Weighter<String, Bytes> for ByLength {
    fn weight(&self, key: &String, value: &Bytes) -> u64 {
        (key.len() + value.len()).max(1) as u64
    }
}

const UNKNOWN: u8 = 0;
const SUPPORTED: u8 = 1;
const UNSUPPORTED: u8 = 2;

/// What one client knows for its native conditional writes: whether the server has
/// `IFEQ`, and the values it remembers.
pub(super) struct Native {
    support: AtomicU8,
    remembered: Option<Lru<String, Bytes, ByLength>>,
}

/// The answer of one `SET ... IFEQ`.
pub(super) enum IfEq {
    /// Stored: the key held exactly the comparison value.
    Stored,
    /// Not stored: the key is absent or holds another value.
    Differs,
    /// The server has no `IFEQ`.
    Unsupported,
}

impl Native {
    /// The state for `mode`; `None` for [`ConditionalWrites::Scripts`].
    pub(super) fn new(mode: ConditionalWrites) -> Option<Native> {
        match mode {
            ConditionalWrites::Scripts => None,
            ConditionalWrites::Native { memory } => Some(Native {
                support: AtomicU8::new(UNKNOWN),
                // About 1 KiB a session, for the table's first size.
                remembered: (memory > 0)
                    .then(|| Lru::with_weighter((memory / 1024).max(16), memory as u64, ByLength)),
            }),
        }
    }

    fn supported(&self) -> bool {
        self.support.load(Ordering::Relaxed) != UNSUPPORTED
    }

    /// Keeps `value` as what `key` holds, while native writes may be used.
    pub(super) fn remember(&self, key: &str, value: Bytes) {
        if let Some(remembered) = &self.remembered {
            if self.supported() {
                remembered.insert(key.to_owned(), value);
            }
        }
    }

    /// Forgets what `key` held (a delete, a take, a touch: the bytes changed).
    pub(super) fn forget(&self, key: &str) {
        if let Some(remembered) = &self.remembered {
            remembered.remove(key);
        }
    }

    /// The remembered value of `key` when it is of version `expected` and its stamp
    /// has not passed at `now`: what a native versioned save compares against.
    pub(super) fn comparison(&self, key: &str, expected: Version, now: &Stamp) -> Option<Bytes> {
        if !self.supported() {
            return None;
        }
        let value = self.remembered.as_ref()?.get(key)?;
        (stored_version(&value) == expected && !Stamp::expired(&value, now)).then_some(value)
    }

    /// Whether `compare_and_set` may try `IFEQ`.
    pub(super) fn may_compare(&self) -> bool {
        self.supported()
    }

    fn learn(&self, supported: bool) {
        let state = if supported { SUPPORTED } else { UNSUPPORTED };
        if self.support.swap(state, Ordering::Relaxed) != state && !supported {
            if let Some(remembered) = &self.remembered {
                remembered.clear();
            }
        }
    }
}

impl RedisCache {
    /// `SET key value IFEQ current PX ttl`, routed by the key's slot on a Cluster.
    ///
    /// # Errors
    ///
    /// As any command; an `ERR syntax error` (a server without `IFEQ`) is
    /// [`IfEq::Unsupported`] instead, and learnt.
    pub(super) async fn set_if_equal(
        &self,
        native: &Native,
        key: &str,
        current: Bytes,
        value: &Bytes,
        ttl: Duration,
    ) -> Result<IfEq> {
        let slot = ClusterHash::Custom(fred::util::redis_keyslot(key.as_bytes()));
        let command = CustomCommand::new_static("SET", slot, false);
        let args: Vec<Value> = vec![
            key.into(),
            Value::Bytes(value.clone()),
            "IFEQ".into(),
            Value::Bytes(current),
            "PX".into(),
            px_millis(ttl).into(),
        ];
        let reply: std::result::Result<Value, _> = self
            .client
            .with_options(&self.per_command)
            .custom(command, args)
            .await;
        match reply {
            Ok(Value::Null) => {
                native.learn(true);
                Ok(IfEq::Differs)
            }
            Ok(Value::String(_) | Value::Bytes(_)) => {
                native.learn(true);
                Ok(IfEq::Stored)
            }
            Ok(other) => Err(unexpected(&other)),
            Err(err) if err.details().contains("syntax error") => {
                native.learn(false);
                Ok(IfEq::Unsupported)
            }
            Err(err) => Err(classify(err)),
        }
    }
}
