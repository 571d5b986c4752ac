//! The per-request session handle: Django's `SessionBase` (sections A, B, C).
//!
//! [`Session`] is a cheap-to-clone handle (an `Arc` inside) whose methods take `&self`;
//! its state sits behind an internal async lock. Each method takes the lock for its own
//! duration; [`Session::lock`] hands out a [`SessionGuard`] for a sequence of steps
//! that must not interleave with another task's.
//!
//! The handle is split by concept: `guard` (loading, the dictionary, expiry),
//! `lifecycle` (create, save, flush, cycle_key, the store calls and their events),
//! `merge` (versioned saves, conflicts and `modify`: rules V1, V2).

mod guard;
mod lifecycle;
mod merge;

pub(crate) use guard::record_expiry;
pub(crate) use lifecycle::Refresh;
pub(crate) use merge::Changes;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::{Mutex, MutexGuard};

use crate::config::SessionConfig;
use crate::data::SessionData;
use crate::error::{Error, Result};
use crate::expiry::{Expiry, ExpiryValue};
use crate::key::SessionKey;
use crate::store::{SaveMode, SessionBackend, Version};

/// Optional arguments of `get_expiry_age`/`get_expiry_date` (rules C5, C6): the
/// modification time (default now) and the expiry (default the stored one; passing it
/// does not load the session).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiryArgs {
    /// The last modification; default now.
    pub modification: Option<OffsetDateTime>,
    /// The expiry to use instead of the stored `_session_expiry`.
    pub expiry: Option<ExpiryValue>,
}

/// The session of one request: Django's `SessionBase`.
///
/// Cheap to clone: clones share one state, so a middleware and a handler see the same
/// session. Methods take `&self`. Data is loaded lazily on first access (B1). Every
/// sync method has an async twin (`get`/`aget`, ...) with the same effect on the
/// [`accessed`](Self::accessed) and [`modified`](Self::modified) flags (B10); sync
/// methods use the backend's sync side, async twins its async side.
///
/// A sync method never panics or deadlocks: where it would have to block inside a
/// current-thread runtime (or on a lock its own task holds) it returns
/// [`Error::BlockingNotAllowed`]; use the async twin there.
///
/// ```
/// # use std::sync::Arc;
/// # use session_api::{Session, SessionBackend, config::SessionConfig};
/// # async fn demo(backend: SessionBackend, config: Arc<SessionConfig>) -> session_api::Result<()> {
/// let session = Session::new(backend, config, None);
/// let visits: Option<i64> = session.aget("visits").await?;
/// session.aset("visits", &(visits.unwrap_or(0) + 1)).await?;
/// assert!(session.modified());
/// session.asave().await?; // creates a record under a fresh key
/// assert!(session.session_key().is_some());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
}

struct Shared {
    backend: SessionBackend,
    config: Arc<SessionConfig>,
    /// The loaded data and what is known of its record; the lock every operation
    /// takes.
    state: Mutex<State>,
    /// The key. Only written while `state` is locked; kept apart so reading it never
    /// waits on a store call.
    key: StdMutex<Option<SessionKey>>,
    modified: AtomicBool,
    accessed: AtomicBool,
    /// The task holding `state`, so a sync call from that task fails instead of
    /// blocking on itself.
    holder: StdMutex<Option<tokio::task::Id>>,
    /// The superseded key this session was reached through or renewed from in this
    /// request (rule S2), deleted by `flush` and `cycle_key` with the session.
    predecessor: StdMutex<Option<SessionKey>>,
}

/// What the lock guards: the data and what this request knows of its stored record.
#[derive(Default)]
struct State {
    /// The loaded data (`None` until first access).
    data: Option<SessionData>,
    /// V1, V2: the record's version and its data as loaded (or as last written in
    /// this request), kept only for a versioned store's record.
    base: Option<Base>,
    /// V4: the record's expiry as loaded, or as last written in this request.
    stored_expiry: Option<OffsetDateTime>,
    /// V2: `clear()` ran since the load, so a merge does not keep the other
    /// request's keys.
    cleared: bool,
    /// V5 (`ServeEmpty`): the load failed with the store unreachable; the session is
    /// served empty and never saved, and the middleware leaves the cookie alone.
    degraded: bool,
}

/// A versioned record as this request last saw it (rule V2).
struct Base {
    version: Version,
    data: SessionData,
}

/// Exclusive access to a [`Session`] for a multi-step sequence (read, decide, write)
/// that no other task may interleave with. It has the same methods as [`Session`]
/// (through `&mut self`). Calling the [`Session`]'s own methods while holding the
/// guard waits for the guard (async) or fails with [`Error::BlockingNotAllowed`]
/// (sync): use the guard's methods.
pub struct SessionGuard<'a> {
    // Declared before `state`: the holder mark is cleared before the lock is released.
    holder: HolderMark<'a>,
    shared: &'a Shared,
    state: MutexGuard<'a, State>,
}

/// Clears [`Shared::holder`] when a guard taken inside a task is dropped.
struct HolderMark<'a>(&'a Shared, bool);

impl Drop for HolderMark<'_> {
    fn drop(&mut self) {
        if self.1 {
            *lock_std(&self.0.holder) = None;
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("key", &*lock_std(&self.shared.key))
            .field("modified", &self.modified())
            .field("accessed", &self.accessed())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SessionGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionGuard")
            .field("key", &self.key())
            .field("loaded", &self.state.data.is_some())
            .field("held_by_task", &self.holder.1)
            .finish_non_exhaustive()
    }
}

/// A poisoned std lock only means a panic elsewhere; the value (a key or a task id)
/// is still whole.
fn lock_std<T>(mutex: &StdMutex<T>) -> StdMutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Session {
    /// A session for `key` (the request's cookie value, if any). A key the store's
    /// key kind rejects is dropped here (H1): the session starts without a key.
    /// Nothing is loaded until the data is first touched (B1).
    pub fn new(backend: SessionBackend, config: Arc<SessionConfig>, key: Option<&str>) -> Self {
        let key = key.and_then(|k| backend.capabilities().parse_key(k).ok());
        Session {
            shared: Arc::new(Shared {
                backend,
                config,
                state: Mutex::new(State::default()),
                key: StdMutex::new(key),
                modified: AtomicBool::new(false),
                accessed: AtomicBool::new(false),
                holder: StdMutex::new(None),
                predecessor: StdMutex::new(None),
            }),
        }
    }

    /// Exclusive access for a multi-step sequence; see [`SessionGuard`].
    pub async fn lock(&self) -> SessionGuard<'_> {
        let state = self.shared.state.lock().await;
        SessionGuard::new(&self.shared, state)
    }

    /// Sync twin of [`lock`](Self::lock), the lock every sync method takes: never
    /// panics; where waiting would block a current-thread runtime, or a task on a
    /// guard it holds itself, it returns [`Error::BlockingNotAllowed`].
    pub fn lock_sync(&self) -> Result<SessionGuard<'_>> {
        let shared = &*self.shared;
        if let Ok(state) = shared.state.try_lock() {
            return Ok(SessionGuard::new(shared, state));
        }
        let here = tokio::task::try_id();
        if here.is_some() && here == *lock_std(&shared.holder) {
            return Err(Error::BlockingNotAllowed(
                "sync session call while this task holds the session's guard; use the guard",
            ));
        }
        let state = match Handle::try_current() {
            Err(_) => shared.state.blocking_lock(),
            Ok(handle) => match handle.runtime_flavor() {
                RuntimeFlavor::MultiThread => {
                    tokio::task::block_in_place(|| handle.block_on(shared.state.lock()))
                }
                _ => {
                    return Err(Error::BlockingNotAllowed(
                        "sync session call waiting on the session lock inside a current-thread runtime; use the async twin",
                    ))
                }
            },
        };
        Ok(SessionGuard::new(shared, state))
    }

    /// The current key, if any (Django's `session_key`).
    pub fn session_key(&self) -> Option<SessionKey> {
        lock_std(&self.shared.key).clone()
    }

    /// Whether the data was changed in a way that needs a save (B3).
    pub fn modified(&self) -> bool {
        self.shared.modified.load(Ordering::Relaxed)
    }

    /// Sets the modified flag, e.g. after mutating a nested value (B5).
    pub fn set_modified(&self, modified: bool) {
        self.shared.modified.store(modified, Ordering::Relaxed);
    }

    /// Whether the data was touched at all (B2).
    pub fn accessed(&self) -> bool {
        self.shared.accessed.load(Ordering::Relaxed)
    }

    /// True only when there is no key and no loaded data (B9). Never loads.
    pub async fn ais_empty(&self) -> bool {
        self.lock().await.is_empty()
    }

    /// Sync twin of [`ais_empty`](Self::ais_empty).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.lock_sync()?.is_empty())
    }

    /// The settings this session follows.
    pub fn config(&self) -> &SessionConfig {
        &self.shared.config
    }

    /// The store this session talks to.
    pub fn backend(&self) -> &SessionBackend {
        &self.shared.backend
    }

    /// Whether the store has a live record for `key` (Django's `exists`, D1). Takes no
    /// lock: it does not touch this session's state.
    pub fn exists(&self, key: &SessionKey) -> Result<bool> {
        self.shared.backend.sync().exists(key)
    }

    /// Async twin of [`exists`](Self::exists).
    pub async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        self.shared.backend.nonblocking().aexists(key).await
    }

    /// `SESSION_COOKIE_AGE`.
    pub fn get_session_cookie_age(&self) -> i64 {
        self.shared.config.cookie_age
    }

    /// `session.get(key)`, typed. Never sets `modified`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.lock_sync()?.get(key)
    }

    /// Async twin of [`get`](Self::get).
    pub async fn aget<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.lock().await.aget(key).await
    }

    /// `session.get(key)`, raw JSON.
    pub fn get_value(&self, key: &str) -> Result<Option<Value>> {
        self.lock_sync()?.get_value(key)
    }

    /// Async twin of [`get_value`](Self::get_value).
    pub async fn aget_value(&self, key: &str) -> Result<Option<Value>> {
        self.lock().await.aget_value(key).await
    }

    /// `session[key] = value`, typed. Sets `modified`.
    pub fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        self.lock_sync()?.set(key, value)
    }

    /// Async twin of [`set`](Self::set).
    pub async fn aset<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        self.lock().await.aset(key, value).await
    }

    /// `session[key] = value`, raw JSON. Sets `modified`.
    pub fn set_value(&self, key: &str, value: Value) -> Result<()> {
        self.lock_sync()?.set_value(key, value)
    }

    /// Async twin of [`set_value`](Self::set_value).
    pub async fn aset_value(&self, key: &str, value: Value) -> Result<()> {
        self.lock().await.aset_value(key, value).await
    }

    /// `del session[key]`: [`Error::KeyNotFound`] when absent (B6); sets `modified`
    /// only when something was deleted.
    pub fn delete(&self, key: &str) -> Result<()> {
        self.lock_sync()?.delete(key)
    }

    /// Async twin of [`delete`](Self::delete).
    pub async fn adelete(&self, key: &str) -> Result<()> {
        self.lock().await.adelete(key).await
    }

    /// `session.pop(key)`: the value, or [`Error::KeyNotFound`] (B6). Sets `modified`
    /// only when the key was present (B3).
    pub fn pop(&self, key: &str) -> Result<Value> {
        self.lock_sync()?.pop(key)
    }

    /// Async twin of [`pop`](Self::pop).
    pub async fn apop(&self, key: &str) -> Result<Value> {
        self.lock().await.apop(key).await
    }

    /// `session.pop(key, default)` (B6).
    pub fn pop_or(&self, key: &str, default: Value) -> Result<Value> {
        self.lock_sync()?.pop_or(key, default)
    }

    /// Async twin of [`pop_or`](Self::pop_or).
    pub async fn apop_or(&self, key: &str, default: Value) -> Result<Value> {
        self.lock().await.apop_or(key, default).await
    }

    /// `session.setdefault(key, default)`: sets `modified` only when it inserts (B3).
    pub fn setdefault(&self, key: &str, default: Value) -> Result<Value> {
        self.lock_sync()?.setdefault(key, default)
    }

    /// Async twin of [`setdefault`](Self::setdefault).
    pub async fn asetdefault(&self, key: &str, default: Value) -> Result<Value> {
        self.lock().await.asetdefault(key, default).await
    }

    /// `session.update(pairs)`: sets `modified` even when `pairs` is empty (B3).
    pub fn update<I: IntoIterator<Item = (String, Value)>>(&self, pairs: I) -> Result<()> {
        self.lock_sync()?.update(pairs)
    }

    /// Async twin of [`update`](Self::update).
    pub async fn aupdate<I: IntoIterator<Item = (String, Value)>>(&self, pairs: I) -> Result<()> {
        self.lock().await.aupdate(pairs).await
    }

    /// `key in session` (B3: never sets `modified`).
    pub fn contains(&self, key: &str) -> Result<bool> {
        self.lock_sync()?.contains(key)
    }

    /// `session.has_key(key)`: the same as [`contains`](Self::contains).
    pub fn has_key(&self, key: &str) -> Result<bool> {
        self.lock_sync()?.has_key(key)
    }

    /// Async twin of [`has_key`](Self::has_key).
    pub async fn ahas_key(&self, key: &str) -> Result<bool> {
        self.lock().await.ahas_key(key).await
    }

    /// `session.keys()`, in insertion order.
    pub fn keys(&self) -> Result<Vec<String>> {
        self.lock_sync()?.keys()
    }

    /// Async twin of [`keys`](Self::keys).
    pub async fn akeys(&self) -> Result<Vec<String>> {
        self.lock().await.akeys().await
    }

    /// `session.values()`, in insertion order.
    pub fn values(&self) -> Result<Vec<Value>> {
        self.lock_sync()?.values()
    }

    /// Async twin of [`values`](Self::values).
    pub async fn avalues(&self) -> Result<Vec<Value>> {
        self.lock().await.avalues().await
    }

    /// `session.items()`, in insertion order.
    pub fn items(&self) -> Result<Vec<(String, Value)>> {
        self.lock_sync()?.items()
    }

    /// Async twin of [`items`](Self::items).
    pub async fn aitems(&self) -> Result<Vec<(String, Value)>> {
        self.lock().await.aitems().await
    }

    /// `session.clear()`: empties the data without loading it; sets both flags (B4).
    /// Fails only where the sync lock cannot be taken ([`Error::BlockingNotAllowed`]).
    pub fn clear(&self) -> Result<()> {
        self.lock_sync()?.clear();
        Ok(())
    }

    /// Async twin of [`clear`](Self::clear).
    pub async fn aclear(&self) {
        self.lock().await.clear();
    }

    /// Stores `testcookie = "worked"`.
    pub fn set_test_cookie(&self) -> Result<()> {
        self.lock_sync()?.set_test_cookie()
    }

    /// Async twin of [`set_test_cookie`](Self::set_test_cookie).
    pub async fn aset_test_cookie(&self) -> Result<()> {
        self.lock().await.aset_test_cookie().await
    }

    /// Whether the test cookie came back.
    pub fn test_cookie_worked(&self) -> Result<bool> {
        self.lock_sync()?.test_cookie_worked()
    }

    /// Async twin of [`test_cookie_worked`](Self::test_cookie_worked).
    pub async fn atest_cookie_worked(&self) -> Result<bool> {
        self.lock().await.atest_cookie_worked().await
    }

    /// Removes the test cookie; [`Error::KeyNotFound`] when absent.
    pub fn delete_test_cookie(&self) -> Result<()> {
        self.lock_sync()?.delete_test_cookie()
    }

    /// Async twin of [`delete_test_cookie`](Self::delete_test_cookie).
    pub async fn adelete_test_cookie(&self) -> Result<()> {
        self.lock().await.adelete_test_cookie().await
    }

    /// `set_expiry(value)` (C1..C4): seconds, an instant, a duration from now,
    /// browser close, or back to the default (no error when none was set).
    pub fn set_expiry(&self, expiry: Expiry) -> Result<()> {
        self.lock_sync()?.set_expiry(expiry)
    }

    /// Async twin of [`set_expiry`](Self::set_expiry).
    pub async fn aset_expiry(&self, expiry: Expiry) -> Result<()> {
        self.lock().await.aset_expiry(expiry).await
    }

    /// `get_expiry_age(modification=..., expiry=...)` in seconds (C5).
    pub fn get_expiry_age(&self, args: ExpiryArgs) -> Result<i64> {
        self.lock_sync()?.get_expiry_age(args)
    }

    /// Async twin of [`get_expiry_age`](Self::get_expiry_age).
    pub async fn aget_expiry_age(&self, args: ExpiryArgs) -> Result<i64> {
        self.lock().await.aget_expiry_age(args).await
    }

    /// `get_expiry_date(modification=..., expiry=...)` (C6).
    pub fn get_expiry_date(&self, args: ExpiryArgs) -> Result<OffsetDateTime> {
        self.lock_sync()?.get_expiry_date(args)
    }

    /// Async twin of [`get_expiry_date`](Self::get_expiry_date).
    pub async fn aget_expiry_date(&self, args: ExpiryArgs) -> Result<OffsetDateTime> {
        self.lock().await.aget_expiry_date(args).await
    }

    /// Whether the session ends with the browser (C7).
    pub fn get_expire_at_browser_close(&self) -> Result<bool> {
        self.lock_sync()?.get_expire_at_browser_close()
    }

    /// Async twin of [`get_expire_at_browser_close`](Self::get_expire_at_browser_close).
    pub async fn aget_expire_at_browser_close(&self) -> Result<bool> {
        self.lock().await.aget_expire_at_browser_close().await
    }

    /// Saves the current data under a fresh key (A4, D2) and sets `modified`.
    pub fn create(&self) -> Result<()> {
        self.lock_sync()?.create()
    }

    /// Async twin of [`create`](Self::create).
    pub async fn acreate(&self) -> Result<()> {
        self.lock().await.acreate().await
    }

    /// Django's `save()`: with no key, [`create`](Self::create); else updates the
    /// existing record ([`Error::Update`] when it vanished; never re-created, D3, D5).
    ///
    /// A session loaded from a versioned store is updated only over the version it
    /// loaded (rule V2); a concurrent change is merged key by key or is
    /// [`Error::Conflict`], as [`SessionConfig::conflict_policy`] says. The version
    /// saved is kept, so a later save in the same request is versioned too.
    pub fn save(&self) -> Result<()> {
        self.lock_sync()?.save()
    }

    /// Async twin of [`save`](Self::save).
    pub async fn asave(&self) -> Result<()> {
        self.lock().await.asave().await
    }

    /// `save(must_create=...)` as a [`SaveMode`] (D3..D5): with no key,
    /// [`create`](Self::create); [`SaveMode::Create`] inserts under the current key if
    /// absent ([`Error::Create`] otherwise); [`SaveMode::Update`] is [`save`](Self::save).
    pub fn save_with(&self, mode: SaveMode) -> Result<()> {
        self.lock_sync()?.save_with(mode)
    }

    /// Async twin of [`save_with`](Self::save_with).
    pub async fn asave_with(&self, mode: SaveMode) -> Result<()> {
        self.lock().await.asave_with(mode).await
    }

    /// Deletes a record (D6): `key`, or this handle's own key when `None`; a missing
    /// record is not an error; with no key at all it does nothing.
    pub fn delete_record(&self, key: Option<&SessionKey>) -> Result<()> {
        self.lock_sync()?.delete_record(key)
    }

    /// Async twin of [`delete_record`](Self::delete_record).
    pub async fn adelete_record(&self, key: Option<&SessionKey>) -> Result<()> {
        self.lock().await.adelete_record(key).await
    }

    /// Logout (A6): clears the data, deletes the record, drops the key.
    pub fn flush(&self) -> Result<()> {
        self.lock_sync()?.flush()
    }

    /// Async twin of [`flush`](Self::flush).
    pub async fn aflush(&self) -> Result<()> {
        self.lock().await.aflush().await
    }

    /// Login (A5): keeps the data under a new key, written before the old record is
    /// deleted; afterwards the old key loads as empty.
    pub fn cycle_key(&self) -> Result<()> {
        self.lock_sync()?.cycle_key()
    }

    /// Async twin of [`cycle_key`](Self::cycle_key).
    pub async fn acycle_key(&self) -> Result<()> {
        self.lock().await.acycle_key().await
    }

    /// A read-modify-write that loses nothing to concurrent requests (rule V2): runs
    /// `f` on the session's data (loaded first if needed) and saves at once. On a
    /// versioned store the save is `save_if` over the version `f` saw; on a conflict
    /// the data is reloaded, this request's earlier changes are applied to it again
    /// and `f` runs again, up to [`MAX_MERGE_ATTEMPTS`](crate::config::MAX_MERGE_ATTEMPTS)
    /// times ([`Error::Conflict`] after that). So `f` may run more than once: keep its
    /// side effects in the data. On a store without versions `f` runs once and the
    /// session is saved plainly, as [`save`](Self::save) would. A session with no
    /// record yet is created. Returns what `f` returned.
    ///
    /// ```
    /// # async fn demo(session: session_api::Session) -> session_api::Result<()> {
    /// use serde_json::{json, Value};
    /// let count = session
    ///     .amodify(|data| {
    ///         let mut cart: Vec<Value> = data.get("cart")?.unwrap_or_default();
    ///         cart.push(json!({"sku": 42}));
    ///         data.set("cart", &cart)?;
    ///         Ok(cart.len())
    ///     })
    ///     .await?;
    /// # let _ = count; Ok(()) }
    /// ```
    pub async fn amodify<T, F>(&self, f: F) -> Result<T>
    where
        F: FnMut(&mut SessionData) -> Result<T> + Send,
        T: Send,
    {
        self.lock().await.amodify(f).await
    }

    /// Sync twin of [`amodify`](Self::amodify).
    pub fn modify<T, F>(&self, f: F) -> Result<T>
    where
        F: FnMut(&mut SessionData) -> Result<T>,
    {
        self.lock_sync()?.modify(f)
    }
}
