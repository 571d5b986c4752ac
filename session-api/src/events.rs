//! Lifecycle events and store metrics (rule V6).
//!
//! One [`SessionObserver`] ([`SessionConfig::observer`](crate::config::SessionConfig::observer))
//! hears, synchronously, what happens to sessions ([`SessionEvent`]) and how each
//! store call went ([`StoreOperation`]). The handle reports what it does; for store
//! calls made outside a handle (a `clear_expired` job, a CLI), wrap the store in
//! [`Observed`]. Use one or the other for a given store, or its operations are
//! counted twice.
//!
//! Keys are handed out as [`EventKey`]s, whose `Display` and `Debug` show a short
//! SHA-256 digest only (rule H5); [`EventKey::key`] gives the key itself to the
//! applications that need it.
//!
//! With no observer set nothing is timed and nothing is allocated.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::data::SessionData;
use crate::error::{Error, Result};
use crate::key::{KeyGenerator, SessionKey};
use crate::renewal::write_short_digest;
use crate::store::{
    AccountSessions, AsyncAccountSessions, AsyncSessionStore, Capabilities, Lookup, Record,
    SaveMode, SessionStore, Version,
};

/// The `tracing` target of [`TracingObserver`].
pub const EVENTS_TARGET: &str = "sessions.events";

/// Hears session lifecycle events and store operations (rule V6). Both methods do
/// nothing by default; they are called synchronously on the request's task, so keep
/// them short (bump a counter, send to a channel).
pub trait SessionObserver: Send + Sync + fmt::Debug {
    /// Something happened to a session.
    fn on_event(&self, event: &SessionEvent<'_>) {
        let _ = event;
    }

    /// A store call finished: its kind, latency and outcome.
    fn on_operation(&self, op: &StoreOperation) {
        let _ = op;
    }
}

/// A session key as events carry it: `Display` and `Debug` show the first 8 bytes of
/// its SHA-256 in hex, never the key (rule H5).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EventKey<'a>(&'a SessionKey);

impl<'a> EventKey<'a> {
    /// The event form of `key`.
    pub fn new(key: &'a SessionKey) -> Self {
        EventKey(key)
    }

    /// The key itself, for applications that need it (an audit trail keyed by
    /// session). Never log it.
    pub fn key(&self) -> &'a SessionKey {
        self.0
    }
}

impl fmt::Display for EventKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_short_digest(self.0, f)
    }
}

impl fmt::Debug for EventKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventKey(")?;
        write_short_digest(self.0, f)?;
        f.write_str(")")
    }
}

/// What happened to a session (rule V6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent<'a> {
    /// A record was created under a fresh key (a first save).
    Created {
        /// The new key.
        key: EventKey<'a>,
    },
    /// A record was loaded.
    Loaded {
        /// Its key.
        key: EventKey<'a>,
    },
    /// A record was updated.
    Saved {
        /// Its key.
        key: EventKey<'a>,
    },
    /// The session moved to a new key: `cycle_key` (a login, A5) or a renewal (S2).
    Cycled {
        /// The key it had.
        old: EventKey<'a>,
        /// The key it has now.
        new: EventKey<'a>,
    },
    /// The session was flushed (a logout, A6).
    Flushed {
        /// The key it had.
        key: EventKey<'a>,
    },
    /// A record was deleted (`delete_record`).
    Deleted {
        /// Its key.
        key: EventKey<'a>,
    },
    /// Sessions expired.
    Expired {
        /// The key, when one session was found expired on load.
        key: Option<EventKey<'a>>,
        /// Where the expiry was seen.
        source: ExpirySource,
    },
    /// A save found the record gone (a concurrent logout: G5's `UpdateError`).
    Interrupted {
        /// The key it had.
        key: EventKey<'a>,
    },
    /// A versioned save found the record changed by a concurrent request (V2).
    Conflict {
        /// The session's key.
        key: EventKey<'a>,
        /// What became of the save.
        resolution: ConflictResolution,
    },
    /// An unmodified session's expiry was moved without rewriting its data (V4).
    Touched {
        /// Its key.
        key: EventKey<'a>,
    },
}

/// Where an [`SessionEvent::Expired`] was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpirySource {
    /// A load found the record past its expiry (where the store can tell, rule D7).
    Load,
    /// `clear_expired` removed this many records (rule D8).
    ClearExpired {
        /// How many records went.
        removed: u64,
    },
}

/// How a [`SessionEvent::Conflict`] ended (rule V2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictResolution {
    /// This request's changes were applied over the concurrent ones and saved.
    Merged {
        /// How many versioned saves it took, the first included.
        attempts: u32,
    },
    /// The save failed with [`Error::Conflict`] (policy `Fail`, or merging gave up).
    Failed,
}

/// A store call, for metrics (rule V6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOperation {
    /// Which call.
    pub op: StoreOp,
    /// How long it took.
    pub elapsed: Duration,
    /// How it ended.
    pub outcome: OpOutcome,
}

impl StoreOperation {
    /// A call `op` that took `elapsed` and ended as `outcome`.
    pub fn new(op: StoreOp, elapsed: Duration, outcome: OpOutcome) -> Self {
        StoreOperation {
            op,
            elapsed,
            outcome,
        }
    }
}

/// The store calls an observer times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreOp {
    /// `load` / `lookup`.
    Load,
    /// `save` in update mode.
    Save,
    /// `save_if` (V1).
    SaveIf,
    /// `save` in create mode, `create`, `create_with`.
    Create,
    /// `touch` (V4).
    Touch,
    /// `delete`.
    Delete,
    /// `exists`.
    Exists,
    /// `clear_expired`.
    ClearExpired,
}

/// How a store call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpOutcome {
    /// It did what was asked.
    Ok,
    /// The record was not there: a load found nothing (or an expired record), an
    /// update or touch found nothing to update ([`Error::Update`]).
    Miss,
    /// A versioned save lost to a concurrent write ([`Error::Conflict`]) or a create
    /// met an existing key ([`Error::Create`]).
    Conflict,
    /// Any other error (the store is down, I/O, ...).
    Error,
}

impl OpOutcome {
    /// The outcome of a call that returned `result`.
    pub fn of<T>(result: &Result<T>) -> Self {
        match result {
            Ok(_) => OpOutcome::Ok,
            Err(Error::Update) => OpOutcome::Miss,
            Err(Error::Conflict | Error::Create) => OpOutcome::Conflict,
            Err(_) => OpOutcome::Error,
        }
    }

    fn of_load<T>(result: &Result<Option<T>>) -> Self {
        match result {
            Ok(None) => OpOutcome::Miss,
            other => Self::of(other),
        }
    }

    fn of_lookup(result: &Result<Lookup>) -> Self {
        match result {
            Ok(Lookup::Missing | Lookup::Expired) => OpOutcome::Miss,
            other => Self::of(other),
        }
    }
}

/// The built-in observer: every event and operation as a `tracing` event on
/// [`EVENTS_TARGET`] (`sessions.events`), keys as short digests only (rule H5).
/// Lifecycle events are `INFO` (conflicts that failed and interruptions `WARN`),
/// loads, saves and touches `DEBUG`, store operations `TRACE`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingObserver;

impl SessionObserver for TracingObserver {
    fn on_event(&self, event: &SessionEvent<'_>) {
        match *event {
            SessionEvent::Created { key } => {
                tracing::info!(target: EVENTS_TARGET, event = "created", key = %key)
            }
            SessionEvent::Loaded { key } => {
                tracing::debug!(target: EVENTS_TARGET, event = "loaded", key = %key)
            }
            SessionEvent::Saved { key } => {
                tracing::debug!(target: EVENTS_TARGET, event = "saved", key = %key)
            }
            SessionEvent::Cycled { old, new } => {
                tracing::info!(target: EVENTS_TARGET, event = "cycled", old = %old, new = %new)
            }
            SessionEvent::Flushed { key } => {
                tracing::info!(target: EVENTS_TARGET, event = "flushed", key = %key)
            }
            SessionEvent::Deleted { key } => {
                tracing::info!(target: EVENTS_TARGET, event = "deleted", key = %key)
            }
            SessionEvent::Expired { key, source } => match source {
                ExpirySource::Load => tracing::info!(
                    target: EVENTS_TARGET,
                    event = "expired",
                    key = ?key.map(|k| k.to_string()),
                    source = "load"
                ),
                ExpirySource::ClearExpired { removed } => tracing::info!(
                    target: EVENTS_TARGET,
                    event = "expired",
                    source = "clear_expired",
                    removed
                ),
            },
            SessionEvent::Interrupted { key } => {
                tracing::warn!(target: EVENTS_TARGET, event = "interrupted", key = %key)
            }
            SessionEvent::Conflict { key, resolution } => match resolution {
                ConflictResolution::Merged { attempts } => tracing::info!(
                    target: EVENTS_TARGET,
                    event = "conflict",
                    key = %key,
                    resolution = "merged",
                    attempts
                ),
                ConflictResolution::Failed => tracing::warn!(
                    target: EVENTS_TARGET,
                    event = "conflict",
                    key = %key,
                    resolution = "failed"
                ),
            },
            SessionEvent::Touched { key } => {
                tracing::debug!(target: EVENTS_TARGET, event = "touched", key = %key)
            }
        }
    }

    fn on_operation(&self, op: &StoreOperation) {
        tracing::trace!(
            target: EVENTS_TARGET,
            op = ?op.op,
            elapsed_us = u64::try_from(op.elapsed.as_micros()).unwrap_or(u64::MAX),
            outcome = ?op.outcome,
        );
    }
}

/// A store whose every call is reported to an observer ([`SessionObserver::on_operation`],
/// and [`SessionEvent::Expired`] with the count of each `clear_expired`): for store
/// calls made outside a session handle, such as a `clear_expired` job. It forwards
/// every method, the optional ones (`lookup`, `save_if`, `touch`, `accounts`)
/// included, so the store's capabilities hold through it.
///
/// `S` is anything that derefs to a store (`Arc<MemoryStore>`, `&dyn
/// AsyncSessionStore`); `O` anything that derefs to the observer.
///
/// ```
/// use std::sync::Arc;
/// use session_api::events::{Observed, SessionObserver, TracingObserver};
/// use session_api::SessionBackend;
/// # fn demo<S: session_api::SessionStore + 'static>(store: Arc<S>) {
/// let observer: Arc<dyn SessionObserver> = Arc::new(TracingObserver);
/// let observed = Observed::new(store, observer);
/// let backend = SessionBackend::from_sync(Arc::new(observed));
/// # let _ = backend; }
/// ```
///
/// `Debug` shows neither the store nor the observer (rule H5).
pub struct Observed<S, O = Arc<dyn SessionObserver>> {
    store: S,
    observer: O,
}

impl<S, O> Observed<S, O> {
    /// `store`, reporting to `observer`.
    pub fn new(store: S, observer: O) -> Self {
        Observed { store, observer }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.store
    }
}

impl<S, O> Observed<S, O>
where
    O: Deref<Target = dyn SessionObserver>,
{
    fn report(&self, op: StoreOp, started: Instant, outcome: OpOutcome) {
        self.observer
            .on_operation(&StoreOperation::new(op, started.elapsed(), outcome));
    }

    fn report_cleared(&self, started: Instant, result: &Result<u64>) {
        self.report(StoreOp::ClearExpired, started, OpOutcome::of(result));
        if let Ok(removed) = *result {
            self.observer.on_event(&SessionEvent::Expired {
                key: None,
                source: ExpirySource::ClearExpired { removed },
            });
        }
    }
}

fn save_op(mode: SaveMode) -> StoreOp {
    match mode {
        SaveMode::Create => StoreOp::Create,
        SaveMode::Update => StoreOp::Save,
    }
}

impl<S, O> fmt::Debug for Observed<S, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observed").finish_non_exhaustive()
    }
}

#[async_trait]
impl<S, O> AsyncSessionStore for Observed<S, O>
where
    S: Deref + Send + Sync,
    S::Target: AsyncSessionStore,
    O: Deref<Target = dyn SessionObserver> + Send + Sync,
{
    fn capabilities(&self) -> Capabilities {
        AsyncSessionStore::capabilities(&*self.store)
    }
    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        let started = Instant::now();
        let result = self.store.aexists(key).await;
        self.report(StoreOp::Exists, started, OpOutcome::of(&result));
        result
    }
    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        let started = Instant::now();
        let result = self.store.aload(key).await;
        self.report(StoreOp::Load, started, OpOutcome::of_load(&result));
        result
    }
    async fn alookup(&self, key: &SessionKey) -> Result<Lookup> {
        let started = Instant::now();
        let result = self.store.alookup(key).await;
        self.report(StoreOp::Load, started, OpOutcome::of_lookup(&result));
        result
    }
    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let started = Instant::now();
        let result = self.store.asave(record, mode).await;
        self.report(save_op(mode), started, OpOutcome::of(&result));
        result
    }
    async fn acreate_with(
        &self,
        data: &SessionData,
        expires_at: OffsetDateTime,
        keys: &dyn KeyGenerator,
    ) -> Result<SessionKey> {
        let started = Instant::now();
        let result = self.store.acreate_with(data, expires_at, keys).await;
        self.report(StoreOp::Create, started, OpOutcome::of(&result));
        result
    }
    async fn asave_if(&self, record: &Record, expected: Version) -> Result<Version> {
        let started = Instant::now();
        let result = self.store.asave_if(record, expected).await;
        self.report(StoreOp::SaveIf, started, OpOutcome::of(&result));
        result
    }
    async fn atouch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        let started = Instant::now();
        let result = self.store.atouch(key, expires_at).await;
        self.report(StoreOp::Touch, started, OpOutcome::of(&result));
        result
    }
    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        let started = Instant::now();
        let result = self.store.adelete(key).await;
        self.report(StoreOp::Delete, started, OpOutcome::of(&result));
        result
    }
    async fn aclear_expired(&self) -> Result<u64> {
        let started = Instant::now();
        let result = self.store.aclear_expired().await;
        self.report_cleared(started, &result);
        result
    }
    fn accounts(&self) -> Option<&dyn AsyncAccountSessions> {
        AsyncSessionStore::accounts(&*self.store)
    }
}

impl<S, O> SessionStore for Observed<S, O>
where
    S: Deref + Send + Sync,
    S::Target: SessionStore,
    O: Deref<Target = dyn SessionObserver> + Send + Sync,
{
    fn capabilities(&self) -> Capabilities {
        SessionStore::capabilities(&*self.store)
    }
    fn exists(&self, key: &SessionKey) -> Result<bool> {
        let started = Instant::now();
        let result = self.store.exists(key);
        self.report(StoreOp::Exists, started, OpOutcome::of(&result));
        result
    }
    fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        let started = Instant::now();
        let result = self.store.load(key);
        self.report(StoreOp::Load, started, OpOutcome::of_load(&result));
        result
    }
    fn lookup(&self, key: &SessionKey) -> Result<Lookup> {
        let started = Instant::now();
        let result = self.store.lookup(key);
        self.report(StoreOp::Load, started, OpOutcome::of_lookup(&result));
        result
    }
    fn save(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let started = Instant::now();
        let result = self.store.save(record, mode);
        self.report(save_op(mode), started, OpOutcome::of(&result));
        result
    }
    fn create_with(
        &self,
        data: &SessionData,
        expires_at: OffsetDateTime,
        keys: &dyn KeyGenerator,
    ) -> Result<SessionKey> {
        let started = Instant::now();
        let result = self.store.create_with(data, expires_at, keys);
        self.report(StoreOp::Create, started, OpOutcome::of(&result));
        result
    }
    fn save_if(&self, record: &Record, expected: Version) -> Result<Version> {
        let started = Instant::now();
        let result = self.store.save_if(record, expected);
        self.report(StoreOp::SaveIf, started, OpOutcome::of(&result));
        result
    }
    fn touch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        let started = Instant::now();
        let result = self.store.touch(key, expires_at);
        self.report(StoreOp::Touch, started, OpOutcome::of(&result));
        result
    }
    fn delete(&self, key: &SessionKey) -> Result<()> {
        let started = Instant::now();
        let result = self.store.delete(key);
        self.report(StoreOp::Delete, started, OpOutcome::of(&result));
        result
    }
    fn clear_expired(&self) -> Result<u64> {
        let started = Instant::now();
        let result = self.store.clear_expired();
        self.report_cleared(started, &result);
        result
    }
    fn accounts(&self) -> Option<&dyn AccountSessions> {
        SessionStore::accounts(&*self.store)
    }
}
