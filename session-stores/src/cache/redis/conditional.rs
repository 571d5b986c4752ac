//! Native conditional writes: `SET key value IFEQ current PX ms`, which Valkey 8.1+
//! and Redis 8.4+ run as one command, where Redis 7 needs a Lua script (about six
//! times the server time of a plain `SET`; docs/concurrency.md).
//!
//! `IFEQ` compares whole values, and a versioned save holds only a [`Version`], so
//! the client remembers the bytes it last read or wrote under each key (a copy, within
//! a byte budget; `quick_cache` evicts by its CLOCK-Pro policy, which keeps what is
//! used recently and often). A versioned save whose expected
//! version is that of the remembered bytes sends them as the comparison. That is
//! exact: when `IFEQ` stores, the server held those very bytes, so their version and
//! their stamp are what the script would have checked (rule V1). When it does not
//! (another writer, a touch, an eviction by the server), the script decides and tells
//! absent, expired and another version apart; a save is never decided on the
//! remembered bytes alone.
//!
//! Whether the server has `IFEQ` is asked once ([`RedisCache::probe_conditional_set`],
//! at connection, or before the first conditional write when the client connects in
//! the background): `SET <probe key> 1 IFEQ 0` creates nothing on a server that has
//! it and is an error on one that does not. Until the answer, and for good after a
//! "no", nothing is remembered and the scripts run. A native write answered with an
//! error other than a transient one or `WRONGTYPE` runs the script for that call.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use fred::bytes::Bytes;
use fred::prelude::Value;
use quick_cache::sync::Cache as Lru;
use quick_cache::Weighter;
use session_api::{Error, Result, Version};

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
    /// later), the Lua scripts elsewhere. A versioned save compares against a copy of
    /// the value this client last read or wrote under the key, of which it keeps about
    /// `memory` bytes in all, counting each entry's key and bookkeeping (0: none, so
    /// only `compare_and_set` is native). A save whose value was not kept, or whose
    /// compare fails (another writer, a touch), runs the script: a conflict costs
    /// that second round trip.
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

/// What an entry costs beyond its key's and value's bytes: the `String` and `Bytes`
/// headers, the value's allocation header and the cache's slot.
const ENTRY_OVERHEAD: usize = 96;

/// Weighs a remembered value by its bytes, its key's and [`ENTRY_OVERHEAD`] (never
/// 0: a zero weight would never be evicted).
#[derive(Clone)]
struct ByLength;

impl Weighter<String, Bytes> for ByLength {
    fn weight(&self, key: &String, value: &Bytes) -> u64 {
        (key.len() + value.len() + ENTRY_OVERHEAD) as u64
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
    /// The server refused the command: the script decides this call.
    Refused,
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

    /// Whether the server is known to have `IFEQ`.
    pub(super) fn supported(&self) -> bool {
        self.support.load(Ordering::Relaxed) == SUPPORTED
    }

    /// Whether the server has not been asked yet.
    pub(super) fn unknown(&self) -> bool {
        self.support.load(Ordering::Relaxed) == UNKNOWN
    }

    /// Keeps the value `value()` gives as what `key` holds, once the server is known
    /// to have `IFEQ` (else `value` is not called: no copy is made).
    pub(super) fn remember(&self, key: &str, value: impl FnOnce() -> Bytes) {
        if let Some(remembered) = self.remembered.as_ref().filter(|_| self.supported()) {
            remembered.insert(key.to_owned(), value());
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

    /// Records the probe's answer; the first answer stands (a clone may have asked
    /// at the same time).
    fn learn(&self, supported: bool) {
        let state = if supported { SUPPORTED } else { UNSUPPORTED };
        let _ = self
            .support
            .compare_exchange(UNKNOWN, state, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// The key the probe writes to: `IFEQ` never creates a key, so nothing is stored
/// under it (a key of this name holding `"0"` would be set to `"1"`, nothing else).
const PROBE_KEY: &str = "sessions:ifeq-probe";

impl RedisCache {
    /// Asks the server once whether it has `SET ... IFEQ` (see the module docs).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when the server could not be reached: the question stays
    /// open.
    pub(super) async fn probe_conditional_set(&self, native: &Native) -> Result<()> {
        match self.set_ifeq(PROBE_KEY, "1".into(), "0".into(), None).await {
            Ok(reply) => native.learn(reply.is_some()),
            Err(err @ Error::Unavailable(_)) => return Err(err),
            // WRONGTYPE: a server that parsed the option has it.
            Err(_) => native.learn(true),
        }
        Ok(())
    }

    /// `SET key value IFEQ current PX ttl` (see the module docs).
    ///
    /// # Errors
    ///
    /// As any command, for a transient failure or `WRONGTYPE` (what the script would
    /// answer too); another error reply is [`IfEq::Refused`].
    pub(super) async fn set_if_equal(
        &self,
        key: &str,
        current: Bytes,
        value: &Bytes,
        ttl: Duration,
    ) -> Result<IfEq> {
        let value = Value::Bytes(value.clone());
        match self
            .set_ifeq(key, value, Value::Bytes(current), Some(ttl))
            .await?
        {
            None => Ok(IfEq::Refused),
            Some(Value::Null) => Ok(IfEq::Differs),
            Some(Value::String(_) | Value::Bytes(_)) => Ok(IfEq::Stored),
            Some(other) => Err(unexpected(&other)),
        }
    }

    /// `SET key value IFEQ current [PX ttl]`: its reply, or `None` when the server
    /// refused it with an error other than a transient one or `WRONGTYPE`.
    async fn set_ifeq(
        &self,
        key: &str,
        value: Value,
        current: Value,
        ttl: Option<Duration>,
    ) -> Result<Option<Value>> {
        let mut args = vec![key.into(), value, "IFEQ".into(), current];
        if let Some(ttl) = ttl {
            args.extend(["PX".into(), px_millis(ttl).into()]);
        }
        match self.keyed_command("SET", key, args).await {
            Ok(reply) => Ok(Some(reply)),
            Err(err) if err.details().starts_with("WRONGTYPE") => Err(classify(err)),
            Err(err) => match classify(err) {
                err @ Error::Unavailable(_) => Err(err),
                _ => Ok(None),
            },
        }
    }
}
