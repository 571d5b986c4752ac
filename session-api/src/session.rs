//! The per-request session handle: Django's `SessionBase` (sections A, B, C).
//!
//! [`Session`] is a cheap-to-clone handle (an `Arc` inside) whose methods take `&self`;
//! its state sits behind an internal async lock. Each method takes the lock for its own
//! duration; [`Session::lock`] hands out a [`SessionGuard`] for a sequence of steps
//! that must not interleave with another task's.

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
use crate::data::{SessionData, SESSION_EXPIRY_KEY, TEST_COOKIE_NAME, TEST_COOKIE_VALUE};
use crate::error::{Error, Result};
use crate::expiry::{isoformat, Expiry, ExpiryValue};
use crate::key::SessionKey;
use crate::renewal::{self, KeyRenewal, Loaded};
use crate::store::{Record, SaveMode, SessionBackend};
use crate::timeout;

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
    /// The loaded data (`None` until first access); the lock every operation takes.
    cache: Mutex<Option<SessionData>>,
    /// The key. Only written while `cache` is locked; kept apart so reading it never
    /// waits on a store call.
    key: StdMutex<Option<SessionKey>>,
    modified: AtomicBool,
    accessed: AtomicBool,
    /// The task holding `cache`, so a sync call from that task fails instead of
    /// blocking on itself.
    holder: StdMutex<Option<tokio::task::Id>>,
    /// The superseded key this session was reached through or renewed from in this
    /// request (rule S2), deleted by `flush` and `cycle_key` with the session.
    predecessor: StdMutex<Option<SessionKey>>,
}

/// Exclusive access to a [`Session`] for a multi-step sequence (read, decide, write)
/// that no other task may interleave with. It has the same methods as [`Session`]
/// (through `&mut self`). Calling the [`Session`]'s own methods while holding the
/// guard waits for the guard (async) or fails with [`Error::BlockingNotAllowed`]
/// (sync): use the guard's methods.
pub struct SessionGuard<'a> {
    // Declared before `cache`: the holder mark is cleared before the lock is released.
    holder: HolderMark<'a>,
    shared: &'a Shared,
    cache: MutexGuard<'a, Option<SessionData>>,
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
            .field("loaded", &self.cache.is_some())
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
                cache: Mutex::new(None),
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
        let cache = self.shared.cache.lock().await;
        SessionGuard::new(&self.shared, cache)
    }

    /// Sync twin of [`lock`](Self::lock), the lock every sync method takes: never
    /// panics; where waiting would block a current-thread runtime, or a task on a
    /// guard it holds itself, it returns [`Error::BlockingNotAllowed`].
    pub fn lock_sync(&self) -> Result<SessionGuard<'_>> {
        let shared = &*self.shared;
        if let Ok(cache) = shared.cache.try_lock() {
            return Ok(SessionGuard::new(shared, cache));
        }
        let here = tokio::task::try_id();
        if here.is_some() && here == *lock_std(&shared.holder) {
            return Err(Error::BlockingNotAllowed(
                "sync session call while this task holds the session's guard; use the guard",
            ));
        }
        let cache = match Handle::try_current() {
            Err(_) => shared.cache.blocking_lock(),
            Ok(handle) => match handle.runtime_flavor() {
                RuntimeFlavor::MultiThread => {
                    tokio::task::block_in_place(|| handle.block_on(shared.cache.lock()))
                }
                _ => {
                    return Err(Error::BlockingNotAllowed(
                        "sync session call waiting on the session lock inside a current-thread runtime; use the async twin",
                    ))
                }
            },
        };
        Ok(SessionGuard::new(shared, cache))
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
}

impl SessionGuard<'_> {
    fn new<'a>(shared: &'a Shared, cache: MutexGuard<'a, Option<SessionData>>) -> SessionGuard<'a> {
        let here = tokio::task::try_id();
        if here.is_some() {
            *lock_std(&shared.holder) = here;
        }
        SessionGuard {
            holder: HolderMark(shared, here.is_some()),
            shared,
            cache,
        }
    }

    fn key(&self) -> Option<SessionKey> {
        lock_std(&self.shared.key).clone()
    }

    fn set_key(&self, key: Option<SessionKey>) {
        *lock_std(&self.shared.key) = key;
    }

    fn mark_accessed(&self) {
        self.shared.accessed.store(true, Ordering::Relaxed);
    }

    fn mark_modified(&self) {
        self.shared.modified.store(true, Ordering::Relaxed);
    }

    /// See [`Session::session_key`].
    pub fn session_key(&self) -> Option<SessionKey> {
        self.key()
    }

    /// See [`Session::modified`].
    pub fn modified(&self) -> bool {
        self.shared.modified.load(Ordering::Relaxed)
    }

    /// See [`Session::set_modified`].
    pub fn set_modified(&mut self, modified: bool) {
        self.shared.modified.store(modified, Ordering::Relaxed);
    }

    /// See [`Session::accessed`].
    pub fn accessed(&self) -> bool {
        self.shared.accessed.load(Ordering::Relaxed)
    }

    /// True only when there is no key and no loaded data (B9).
    pub fn is_empty(&self) -> bool {
        self.key().is_none() && self.cache.as_ref().is_none_or(SessionData::is_empty)
    }

    /// The settings this session follows.
    pub fn config(&self) -> &SessionConfig {
        &self.shared.config
    }

    /// The store this session talks to.
    pub fn backend(&self) -> &SessionBackend {
        &self.shared.backend
    }

    fn adopt_loaded(&mut self, loaded: Option<Record>) -> &mut SessionData {
        let config = &self.shared.config;
        // S1: a record past its absolute timeout is no session, on every backend
        // (signed cookies enforce no custom expiry of their own).
        let loaded =
            loaded.filter(|record| !timeout::has_ended(config, &record.data, config.clock.now()));
        let data = match loaded {
            Some(record) => record.data,
            None => {
                // A3: a key the store does not have is never adopted.
                self.set_key(None);
                SessionData::new()
            }
        };
        self.cache.insert(data)
    }

    /// The data, loaded through the sync store on first access (B1, B2).
    pub fn data(&mut self) -> Result<&mut SessionData> {
        self.mark_accessed();
        if self.cache.is_none() {
            let Some(key) = self.key() else {
                return Ok(self.cache.insert(SessionData::new()));
            };
            let shared = self.shared;
            let loaded = renewal::load(&shared.config, shared.backend.sync(), &key)?;
            let loaded = self.continue_on(&key, loaded);
            return Ok(self.adopt_loaded(loaded));
        }
        Ok(self.cache.get_or_insert_with(SessionData::new))
    }

    /// Async twin of [`data`](Self::data).
    pub async fn adata(&mut self) -> Result<&mut SessionData> {
        self.mark_accessed();
        if self.cache.is_none() {
            let Some(key) = self.key() else {
                return Ok(self.cache.insert(SessionData::new()));
            };
            let shared = self.shared;
            let loaded = renewal::aload(&shared.config, shared.backend.nonblocking(), &key).await?;
            let loaded = self.continue_on(&key, loaded);
            return Ok(self.adopt_loaded(loaded));
        }
        Ok(self.cache.get_or_insert_with(SessionData::new))
    }

    /// S2: a session reached through a forwarder continues under its successor's key,
    /// modified so that the response carries that key.
    fn continue_on(&self, presented: &SessionKey, loaded: Loaded) -> Option<Record> {
        match loaded {
            Loaded::Own(record) => record,
            Loaded::Successor(record) => {
                self.set_key(Some(record.key.clone()));
                *lock_std(&self.shared.predecessor) = Some(presented.clone());
                self.mark_modified();
                Some(record)
            }
        }
    }

    /// Key renewal, when configured and the store keeps records under ids (S2).
    fn renewal(&self) -> Option<KeyRenewal> {
        renewal::applies(&self.shared.config, self.shared.backend.capabilities())
    }

    /// S2: a new key's issue time goes into the data it is created with.
    fn stamp_new_key(&mut self) {
        if self.renewal().is_some() {
            let now = self.shared.config.clock.now();
            renewal::stamp(self.data_no_load(), now);
        }
    }

    /// S2: the renewal due on this save of `key`'s data, if any; the data is stamped
    /// with the rotation time.
    fn due_renewal(&mut self) -> Option<KeyRenewal> {
        let renewal = self.renewal()?;
        let now = self.shared.config.clock.now();
        let data = self.data_no_load();
        if !renewal::is_due(renewal, data, now) {
            return None;
        }
        renewal::stamp(data, now);
        Some(renewal)
    }

    /// S2: the session now lives under `successor`, renewed from `old`.
    fn renewed(&self, old: SessionKey, successor: SessionKey) {
        self.set_key(Some(successor));
        *lock_std(&self.shared.predecessor) = Some(old);
    }

    fn take_predecessor(&self) -> Option<SessionKey> {
        lock_std(&self.shared.predecessor).take()
    }

    /// The data without loading it (Django's `_get_session(no_load=True)`).
    fn data_no_load(&mut self) -> &mut SessionData {
        self.mark_accessed();
        self.cache.get_or_insert_with(SessionData::new)
    }

    // ---- dictionary methods (B2, B3, B6) -------------------------------------------

    /// See [`Session::get`].
    pub fn get<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>> {
        self.data()?.get(key)
    }
    /// See [`Session::aget`].
    pub async fn aget<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>> {
        self.adata().await?.get(key)
    }

    /// See [`Session::get_value`].
    pub fn get_value(&mut self, key: &str) -> Result<Option<Value>> {
        Ok(self.data()?.get_value(key).cloned())
    }
    /// See [`Session::aget_value`].
    pub async fn aget_value(&mut self, key: &str) -> Result<Option<Value>> {
        Ok(self.adata().await?.get_value(key).cloned())
    }

    /// See [`Session::set`].
    pub fn set<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<()> {
        self.data()?.set(key, value)?;
        self.mark_modified();
        Ok(())
    }
    /// See [`Session::aset`].
    pub async fn aset<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<()> {
        self.adata().await?.set(key, value)?;
        self.mark_modified();
        Ok(())
    }

    /// See [`Session::set_value`].
    pub fn set_value(&mut self, key: &str, value: Value) -> Result<()> {
        self.data()?.insert(key.to_owned(), value);
        self.mark_modified();
        Ok(())
    }
    /// See [`Session::aset_value`].
    pub async fn aset_value(&mut self, key: &str, value: Value) -> Result<()> {
        self.adata().await?.insert(key.to_owned(), value);
        self.mark_modified();
        Ok(())
    }

    /// See [`Session::delete`].
    pub fn delete(&mut self, key: &str) -> Result<()> {
        let removed = self.data()?.remove(key);
        self.note_removed(key, removed).map(drop)
    }
    /// See [`Session::adelete`].
    pub async fn adelete(&mut self, key: &str) -> Result<()> {
        let removed = self.adata().await?.remove(key);
        self.note_removed(key, removed).map(drop)
    }

    /// See [`Session::pop`].
    pub fn pop(&mut self, key: &str) -> Result<Value> {
        let removed = self.data()?.remove(key);
        self.note_removed(key, removed)
    }
    /// See [`Session::apop`].
    pub async fn apop(&mut self, key: &str) -> Result<Value> {
        let removed = self.adata().await?.remove(key);
        self.note_removed(key, removed)
    }

    /// See [`Session::pop_or`].
    pub fn pop_or(&mut self, key: &str, default: Value) -> Result<Value> {
        let removed = self.data()?.remove(key);
        Ok(self.note_removed(key, removed).unwrap_or(default))
    }
    /// See [`Session::apop_or`].
    pub async fn apop_or(&mut self, key: &str, default: Value) -> Result<Value> {
        let removed = self.adata().await?.remove(key);
        Ok(self.note_removed(key, removed).unwrap_or(default))
    }

    fn note_removed(&mut self, key: &str, removed: Option<Value>) -> Result<Value> {
        match removed {
            Some(value) => {
                self.mark_modified();
                Ok(value)
            }
            None => Err(Error::KeyNotFound(key.to_owned())),
        }
    }

    /// See [`Session::setdefault`].
    pub fn setdefault(&mut self, key: &str, default: Value) -> Result<Value> {
        let (value, inserted) = setdefault_in(self.data()?, key, default);
        if inserted {
            self.mark_modified();
        }
        Ok(value)
    }
    /// See [`Session::asetdefault`].
    pub async fn asetdefault(&mut self, key: &str, default: Value) -> Result<Value> {
        let (value, inserted) = setdefault_in(self.adata().await?, key, default);
        if inserted {
            self.mark_modified();
        }
        Ok(value)
    }

    /// See [`Session::update`].
    pub fn update<I: IntoIterator<Item = (String, Value)>>(&mut self, pairs: I) -> Result<()> {
        let data = self.data()?;
        for (k, v) in pairs {
            data.insert(k, v);
        }
        self.mark_modified();
        Ok(())
    }
    /// See [`Session::aupdate`].
    pub async fn aupdate<I: IntoIterator<Item = (String, Value)>>(
        &mut self,
        pairs: I,
    ) -> Result<()> {
        let data = self.adata().await?;
        for (k, v) in pairs {
            data.insert(k, v);
        }
        self.mark_modified();
        Ok(())
    }

    /// See [`Session::contains`].
    pub fn contains(&mut self, key: &str) -> Result<bool> {
        Ok(self.data()?.contains_key(key))
    }
    /// See [`Session::has_key`].
    pub fn has_key(&mut self, key: &str) -> Result<bool> {
        self.contains(key)
    }
    /// See [`Session::ahas_key`].
    pub async fn ahas_key(&mut self, key: &str) -> Result<bool> {
        Ok(self.adata().await?.contains_key(key))
    }

    /// See [`Session::keys`].
    pub fn keys(&mut self) -> Result<Vec<String>> {
        Ok(self.data()?.keys().cloned().collect())
    }
    /// See [`Session::akeys`].
    pub async fn akeys(&mut self) -> Result<Vec<String>> {
        Ok(self.adata().await?.keys().cloned().collect())
    }

    /// See [`Session::values`].
    pub fn values(&mut self) -> Result<Vec<Value>> {
        Ok(self.data()?.values().cloned().collect())
    }
    /// See [`Session::avalues`].
    pub async fn avalues(&mut self) -> Result<Vec<Value>> {
        Ok(self.adata().await?.values().cloned().collect())
    }

    /// See [`Session::items`].
    pub fn items(&mut self) -> Result<Vec<(String, Value)>> {
        Ok(pairs_of(self.data()?))
    }
    /// See [`Session::aitems`].
    pub async fn aitems(&mut self) -> Result<Vec<(String, Value)>> {
        Ok(pairs_of(self.adata().await?))
    }

    /// See [`Session::clear`].
    pub fn clear(&mut self) {
        *self.cache = Some(SessionData::new());
        self.mark_accessed();
        self.mark_modified();
    }

    // ---- test cookie (B8) ----------------------------------------------------------

    /// See [`Session::set_test_cookie`].
    pub fn set_test_cookie(&mut self) -> Result<()> {
        self.set(TEST_COOKIE_NAME, TEST_COOKIE_VALUE)
    }
    /// See [`Session::aset_test_cookie`].
    pub async fn aset_test_cookie(&mut self) -> Result<()> {
        self.aset(TEST_COOKIE_NAME, TEST_COOKIE_VALUE).await
    }
    /// See [`Session::test_cookie_worked`].
    pub fn test_cookie_worked(&mut self) -> Result<bool> {
        Ok(self.get_value(TEST_COOKIE_NAME)?.as_ref() == Some(&Value::from(TEST_COOKIE_VALUE)))
    }
    /// See [`Session::atest_cookie_worked`].
    pub async fn atest_cookie_worked(&mut self) -> Result<bool> {
        Ok(self.aget_value(TEST_COOKIE_NAME).await?.as_ref()
            == Some(&Value::from(TEST_COOKIE_VALUE)))
    }
    /// See [`Session::delete_test_cookie`].
    pub fn delete_test_cookie(&mut self) -> Result<()> {
        self.delete(TEST_COOKIE_NAME)
    }
    /// See [`Session::adelete_test_cookie`].
    pub async fn adelete_test_cookie(&mut self) -> Result<()> {
        self.adelete(TEST_COOKIE_NAME).await
    }

    // ---- expiry (section C) --------------------------------------------------------

    fn expiry_as_stored(&self, expiry: Expiry) -> Option<Value> {
        let now = || self.shared.config.clock.now();
        match expiry {
            Expiry::Seconds(s) => Some(Value::from(s)),
            Expiry::BrowserClose => Some(Value::from(0)),
            Expiry::At(at) => Some(Value::from(isoformat(at))),
            Expiry::In(d) => Some(Value::from(isoformat(now() + d))),
            Expiry::Default => None,
        }
    }

    /// See [`Session::set_expiry`].
    pub fn set_expiry(&mut self, expiry: Expiry) -> Result<()> {
        match self.expiry_as_stored(expiry) {
            Some(v) => self.set_value(SESSION_EXPIRY_KEY, v),
            None => self.delete(SESSION_EXPIRY_KEY).or_else(ignore_missing),
        }
    }
    /// See [`Session::aset_expiry`].
    pub async fn aset_expiry(&mut self, expiry: Expiry) -> Result<()> {
        match self.expiry_as_stored(expiry) {
            Some(v) => self.aset_value(SESSION_EXPIRY_KEY, v).await,
            None => self
                .adelete(SESSION_EXPIRY_KEY)
                .await
                .or_else(ignore_missing),
        }
    }

    fn stored_expiry(&mut self) -> Result<ExpiryValue> {
        Ok(ExpiryValue::from_stored(
            self.data()?.get_value(SESSION_EXPIRY_KEY),
        ))
    }
    async fn astored_expiry(&mut self) -> Result<ExpiryValue> {
        Ok(ExpiryValue::from_stored(
            self.adata().await?.get_value(SESSION_EXPIRY_KEY),
        ))
    }

    /// See [`Session::get_expiry_age`].
    pub fn get_expiry_age(&mut self, args: ExpiryArgs) -> Result<i64> {
        let expiry = match args.expiry {
            Some(e) => e,
            None => self.stored_expiry()?,
        };
        let age = expiry.age(self.modification(args), self.shared.config.cookie_age);
        if self.shared.config.absolute_timeout.is_some() {
            self.data()?;
        }
        Ok(self.bound_age(args, age))
    }
    /// See [`Session::aget_expiry_age`].
    pub async fn aget_expiry_age(&mut self, args: ExpiryArgs) -> Result<i64> {
        let expiry = match args.expiry {
            Some(e) => e,
            None => self.astored_expiry().await?,
        };
        let age = expiry.age(self.modification(args), self.shared.config.cookie_age);
        if self.shared.config.absolute_timeout.is_some() {
            self.adata().await?;
        }
        Ok(self.bound_age(args, age))
    }

    /// See [`Session::get_expiry_date`].
    pub fn get_expiry_date(&mut self, args: ExpiryArgs) -> Result<OffsetDateTime> {
        let expiry = match args.expiry {
            Some(e) => e,
            None => self.stored_expiry()?,
        };
        let date = expiry.date(self.modification(args), self.shared.config.cookie_age);
        if self.shared.config.absolute_timeout.is_some() {
            self.data()?;
        }
        Ok(self.bound_date(date))
    }
    /// See [`Session::aget_expiry_date`].
    pub async fn aget_expiry_date(&mut self, args: ExpiryArgs) -> Result<OffsetDateTime> {
        let expiry = match args.expiry {
            Some(e) => e,
            None => self.astored_expiry().await?,
        };
        let date = expiry.date(self.modification(args), self.shared.config.cookie_age);
        if self.shared.config.absolute_timeout.is_some() {
            self.adata().await?;
        }
        Ok(self.bound_date(date))
    }

    /// See [`Session::get_expire_at_browser_close`].
    pub fn get_expire_at_browser_close(&mut self) -> Result<bool> {
        Ok(self
            .stored_expiry()?
            .expires_at_browser_close(self.shared.config.expire_at_browser_close))
    }
    /// See [`Session::aget_expire_at_browser_close`].
    pub async fn aget_expire_at_browser_close(&mut self) -> Result<bool> {
        Ok(self
            .astored_expiry()
            .await?
            .expires_at_browser_close(self.shared.config.expire_at_browser_close))
    }

    /// S1: the absolute timeout cuts the expiry date (callers load the data first
    /// when a timeout is configured; with none, nothing is read).
    fn bound_date(&self, date: OffsetDateTime) -> OffsetDateTime {
        let config = &self.shared.config;
        match self.cache.as_ref() {
            Some(data) => timeout::bound(config, data, config.clock.now(), date),
            None => date,
        }
    }

    /// S1: the absolute timeout cuts the expiry age, counted from the modification.
    fn bound_age(&self, args: ExpiryArgs, age: i64) -> i64 {
        let config = &self.shared.config;
        let deadline = self
            .cache
            .as_ref()
            .and_then(|data| timeout::deadline(config, data, config.clock.now()));
        match deadline {
            Some(end) => age.min((end - self.modification(args)).whole_seconds()),
            None => age,
        }
    }

    fn modification(&self, args: ExpiryArgs) -> OffsetDateTime {
        args.modification
            .unwrap_or_else(|| self.shared.config.clock.now())
    }

    /// `get_expiry_date()` of the data about to be written (E1: the record's expiry).
    fn record_expiry(&self, data: &SessionData) -> OffsetDateTime {
        let config = &self.shared.config;
        let now = config.clock.now();
        let idle = ExpiryValue::from_stored(data.get_value(SESSION_EXPIRY_KEY))
            .date(now, config.cookie_age);
        timeout::bound(config, data, now, idle)
    }

    /// The data about to be written, with its creation stamp when the absolute
    /// timeout is configured (S1).
    fn data_to_write(&mut self) -> SessionData {
        let config = Arc::clone(&self.shared.config);
        let data = self.data_no_load();
        timeout::stamp(&config, data, config.clock.now());
        data.clone()
    }

    // ---- store lifecycle (section A, D) --------------------------------------------

    /// See [`Session::create`].
    pub fn create(&mut self) -> Result<()> {
        self.stamp_new_key();
        let data = self.data_to_write();
        let expires_at = self.record_expiry(&data);
        let keys = Arc::clone(&self.shared.config.key_generator);
        let key = self
            .shared
            .backend
            .sync()
            .create_with(&data, expires_at, &*keys)?;
        self.set_key(Some(key));
        self.mark_modified();
        Ok(())
    }
    /// See [`Session::acreate`].
    pub async fn acreate(&mut self) -> Result<()> {
        self.stamp_new_key();
        let data = self.data_to_write();
        let expires_at = self.record_expiry(&data);
        let keys = Arc::clone(&self.shared.config.key_generator);
        let key = self
            .shared
            .backend
            .nonblocking()
            .acreate_with(&data, expires_at, &*keys)
            .await?;
        self.set_key(Some(key));
        self.mark_modified();
        Ok(())
    }

    /// See [`Session::save`].
    pub fn save(&mut self) -> Result<()> {
        self.save_with(SaveMode::Update)
    }
    /// See [`Session::asave`].
    pub async fn asave(&mut self) -> Result<()> {
        self.asave_with(SaveMode::Update).await
    }

    /// See [`Session::save_with`].
    pub fn save_with(&mut self, mode: SaveMode) -> Result<()> {
        if self.key().is_none() {
            return self.create();
        }
        if mode == SaveMode::Update {
            self.data()?;
        }
        // Loading may have dropped an unknown key (A3): then it is a new session.
        let Some(key) = self.key() else {
            return self.create();
        };
        let renewal = match mode {
            SaveMode::Update => self.due_renewal(),
            SaveMode::Create => None,
        };
        let record = self.record(key.clone());
        let shared = self.shared;
        match renewal {
            Some(renewal) => {
                let successor =
                    renewal::rotate(&shared.config, renewal, shared.backend.sync(), record)?;
                self.renewed(key, successor);
            }
            None => {
                let new_key = shared.backend.sync().save(&record, mode)?;
                self.set_key(Some(new_key));
            }
        }
        Ok(())
    }
    /// See [`Session::asave_with`].
    pub async fn asave_with(&mut self, mode: SaveMode) -> Result<()> {
        if self.key().is_none() {
            return self.acreate().await;
        }
        if mode == SaveMode::Update {
            self.adata().await?;
        }
        let Some(key) = self.key() else {
            return self.acreate().await;
        };
        let renewal = match mode {
            SaveMode::Update => self.due_renewal(),
            SaveMode::Create => None,
        };
        let record = self.record(key.clone());
        let shared = self.shared;
        match renewal {
            Some(renewal) => {
                let store = shared.backend.nonblocking();
                let successor = renewal::arotate(&shared.config, renewal, store, record).await?;
                self.renewed(key, successor);
            }
            None => {
                let new_key = shared.backend.nonblocking().asave(&record, mode).await?;
                self.set_key(Some(new_key));
            }
        }
        Ok(())
    }

    fn record(&mut self, key: SessionKey) -> Record {
        let data = self.data_to_write();
        let expires_at = self.record_expiry(&data);
        Record::new(key, data, expires_at)
    }

    /// See [`Session::delete_record`].
    pub fn delete_record(&mut self, key: Option<&SessionKey>) -> Result<()> {
        match key.cloned().or_else(|| self.key()) {
            Some(k) => self.shared.backend.sync().delete(&k),
            None => Ok(()),
        }
    }
    /// See [`Session::adelete_record`].
    pub async fn adelete_record(&mut self, key: Option<&SessionKey>) -> Result<()> {
        match key.cloned().or_else(|| self.key()) {
            Some(k) => self.shared.backend.nonblocking().adelete(&k).await,
            None => Ok(()),
        }
    }

    /// See [`Session::flush`].
    pub fn flush(&mut self) -> Result<()> {
        if self.renewal().is_some() {
            // S2: a superseded key is followed first, so its successor goes too.
            self.data()?;
        }
        self.clear();
        self.delete_record(None)?;
        // S2: the superseded key goes with the session.
        renewal::forget(self.shared.backend.sync(), self.take_predecessor())?;
        self.set_key(None);
        Ok(())
    }
    /// See [`Session::aflush`].
    pub async fn aflush(&mut self) -> Result<()> {
        if self.renewal().is_some() {
            self.adata().await?;
        }
        self.clear();
        self.adelete_record(None).await?;
        let predecessor = self.take_predecessor();
        renewal::aforget(self.shared.backend.nonblocking(), predecessor).await?;
        self.set_key(None);
        Ok(())
    }

    /// See [`Session::cycle_key`].
    pub fn cycle_key(&mut self) -> Result<()> {
        self.data()?;
        // Stamped before the copy, so the creation time survives the new key (S1) and
        // the new key's issue time is the renewal's (S2).
        self.stamp_new_key();
        let data = self.data_to_write();
        let old = lock_std(&self.shared.key).take();
        self.create()?;
        *self.cache = Some(data);
        if let Some(old) = old {
            self.shared.backend.sync().delete(&old)?;
        }
        // S2: a privilege change leaves no grace: the superseded key dies too.
        renewal::forget(self.shared.backend.sync(), self.take_predecessor())?;
        Ok(())
    }
    /// See [`Session::acycle_key`].
    pub async fn acycle_key(&mut self) -> Result<()> {
        self.adata().await?;
        self.stamp_new_key();
        let data = self.data_to_write();
        let old = lock_std(&self.shared.key).take();
        self.acreate().await?;
        *self.cache = Some(data);
        if let Some(old) = old {
            self.shared.backend.nonblocking().adelete(&old).await?;
        }
        let predecessor = self.take_predecessor();
        renewal::aforget(self.shared.backend.nonblocking(), predecessor).await?;
        Ok(())
    }
}

fn setdefault_in(data: &mut SessionData, key: &str, default: Value) -> (Value, bool) {
    match data.get_value(key) {
        Some(v) => (v.clone(), false),
        None => {
            data.insert(key.to_owned(), default.clone());
            (default, true)
        }
    }
}

fn pairs_of(data: &SessionData) -> Vec<(String, Value)> {
    data.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn ignore_missing(err: Error) -> Result<()> {
    match err {
        Error::KeyNotFound(_) => Ok(()),
        other => Err(other),
    }
}
