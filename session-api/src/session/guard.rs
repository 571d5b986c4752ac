//! The guard's loading, dictionary and expiry methods (sections B, C).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::MutexGuard;

#[cfg(doc)]
use super::Session;
use super::{lock_std, Base, ExpiryArgs, HolderMark, SessionGuard, Shared, State};
use crate::config::{SessionConfig, StoreFailurePolicy};
use crate::data::{SessionData, SESSION_EXPIRY_KEY, TEST_COOKIE_NAME, TEST_COOKIE_VALUE};
use crate::error::{BoxError, Error, Result};
use crate::events::{EventKey, ExpirySource, SessionEvent};
use crate::expiry::{isoformat, Expiry, ExpiryValue};
use crate::key::SessionKey;
use crate::renewal::{self, KeyRenewal, Loaded};
use crate::store::{Record, SessionBackend};
use crate::timeout;

/// The `tracing` target of the degraded-session warning (rule V5).
const SESSIONS_TARGET: &str = "sessions";

impl SessionGuard<'_> {
    pub(super) fn new<'a>(shared: &'a Shared, state: MutexGuard<'a, State>) -> SessionGuard<'a> {
        let here = tokio::task::try_id();
        if here.is_some() {
            *lock_std(&shared.holder) = here;
        }
        SessionGuard {
            holder: HolderMark(shared, here.is_some()),
            shared,
            state,
        }
    }

    pub(super) fn key(&self) -> Option<SessionKey> {
        lock_std(&self.shared.key).clone()
    }

    pub(super) fn set_key(&self, key: Option<SessionKey>) {
        *lock_std(&self.shared.key) = key;
    }

    pub(super) fn mark_accessed(&self) {
        self.shared.accessed.store(true, Ordering::Relaxed);
    }

    pub(super) fn mark_modified(&self) {
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
        self.key().is_none() && self.state.data.as_ref().is_none_or(SessionData::is_empty)
    }

    /// The settings this session follows.
    pub fn config(&self) -> &SessionConfig {
        &self.shared.config
    }

    /// The store this session talks to.
    pub fn backend(&self) -> &SessionBackend {
        &self.shared.backend
    }

    /// Takes what a load found: the record's data (with its version and expiry, V2,
    /// V4), or, for none, an empty session without the key (A3).
    fn adopt_loaded(&mut self, presented: &SessionKey, loaded: Loaded) -> &mut SessionData {
        let config = Arc::clone(&self.shared.config);
        let record = match self.continue_on(presented, loaded) {
            // S1: a record past its absolute timeout is no session, on every backend
            // (signed cookies enforce no custom expiry of their own).
            Some(record) if timeout::has_ended(&config, &record.data, config.clock.now()) => {
                self.emit_expired(presented);
                None
            }
            found => found,
        };
        let data = match record {
            Some(record) => {
                self.emit(SessionEvent::Loaded {
                    key: EventKey::new(&record.key),
                });
                self.state.stored_expiry = Some(record.expires_at);
                // V1: only a store that declares versions is saved with `save_if`.
                let versioned = self.shared.backend.capabilities().versioned;
                self.state.base = record.version.filter(|_| versioned).map(|version| Base {
                    version,
                    data: record.data.clone(),
                });
                record.data
            }
            None => {
                // A3: a key the store does not have is never adopted.
                self.set_key(None);
                SessionData::new()
            }
        };
        self.state.data.insert(data)
    }

    fn emit_expired(&self, key: &SessionKey) {
        self.emit(SessionEvent::Expired {
            key: Some(EventKey::new(key)),
            source: ExpirySource::Load,
        });
    }

    /// V5: under [`StoreFailurePolicy::ServeEmpty`] a load the store could not serve
    /// leaves the session empty and degraded (never saved; the middleware leaves the
    /// cookie alone), logged once at WARN.
    fn degrade(&mut self, err: Error) -> Result<&mut SessionData> {
        if self.shared.config.store_failure != StoreFailurePolicy::ServeEmpty {
            return Err(err);
        }
        let Error::Unavailable(source) = err else {
            return Err(err);
        };
        log_degraded(&source);
        self.state.degraded = true;
        Ok(self.state.data.insert(SessionData::new()))
    }

    /// Whether the session is served empty because its store was unreachable (V5).
    pub fn degraded(&self) -> bool {
        self.state.degraded
    }

    /// The data, loaded through the sync store on first access (B1, B2).
    pub fn data(&mut self) -> Result<&mut SessionData> {
        self.mark_accessed();
        if self.state.data.is_none() {
            let Some(key) = self.key() else {
                return Ok(self.state.data.insert(SessionData::new()));
            };
            let shared = self.shared;
            let mut tap = None;
            let store = shared.sync_store(&mut tap);
            return match renewal::load(&shared.config, store, &key) {
                Ok(loaded) => Ok(self.adopt_loaded(&key, loaded)),
                Err(Error::Unavailable(source)) => self.degrade(Error::Unavailable(source)),
                Err(err) => Err(err),
            };
        }
        Ok(self.state.data.get_or_insert_with(SessionData::new))
    }

    /// Async twin of [`data`](Self::data).
    pub async fn adata(&mut self) -> Result<&mut SessionData> {
        self.mark_accessed();
        if self.state.data.is_none() {
            let Some(key) = self.key() else {
                return Ok(self.state.data.insert(SessionData::new()));
            };
            let shared = self.shared;
            let mut tap = None;
            let store = shared.async_store(&mut tap);
            return match renewal::aload(&shared.config, store, &key).await {
                Ok(loaded) => Ok(self.adopt_loaded(&key, loaded)),
                Err(Error::Unavailable(source)) => self.degrade(Error::Unavailable(source)),
                Err(err) => Err(err),
            };
        }
        Ok(self.state.data.get_or_insert_with(SessionData::new))
    }

    /// S2: a session reached through a forwarder continues under its successor's key,
    /// modified so that the response carries that key.
    fn continue_on(&self, presented: &SessionKey, loaded: Loaded) -> Option<Record> {
        match loaded {
            Loaded::Own(record) => record,
            Loaded::Expired => {
                self.emit_expired(presented);
                None
            }
            Loaded::Successor(record) => {
                self.set_key(Some(record.key.clone()));
                *lock_std(&self.shared.predecessor) = Some(presented.clone());
                self.mark_modified();
                Some(record)
            }
        }
    }

    /// Key renewal, when configured and the store keeps records under ids (S2).
    pub(super) fn renewal(&self) -> Option<KeyRenewal> {
        renewal::applies(&self.shared.config, self.shared.backend.capabilities())
    }

    /// S2: a new key's issue time goes into the data it is created with.
    pub(super) fn stamp_new_key(&mut self) {
        if self.renewal().is_some() {
            let now = self.shared.config.clock.now();
            renewal::stamp(self.data_no_load(), now);
        }
    }

    /// S2: the renewal due on this save of `key`'s data, if any; the data is stamped
    /// with the rotation time.
    pub(super) fn due_renewal(&mut self) -> Option<KeyRenewal> {
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
    pub(super) fn renewed(&self, old: SessionKey, successor: SessionKey) {
        self.set_key(Some(successor));
        *lock_std(&self.shared.predecessor) = Some(old);
    }

    pub(super) fn take_predecessor(&self) -> Option<SessionKey> {
        lock_std(&self.shared.predecessor).take()
    }

    /// The data without loading it (Django's `_get_session(no_load=True)`).
    pub(super) fn data_no_load(&mut self) -> &mut SessionData {
        self.mark_accessed();
        self.state.data.get_or_insert_with(SessionData::new)
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
        self.state.data = Some(SessionData::new());
        self.state.cleared = true;
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
        match self.state.data.as_ref() {
            Some(data) => timeout::bound(config, data, config.clock.now(), date),
            None => date,
        }
    }

    /// S1: the absolute timeout cuts the expiry age, counted from the modification.
    fn bound_age(&self, args: ExpiryArgs, age: i64) -> i64 {
        let config = &self.shared.config;
        let deadline = self
            .state
            .data
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
    pub(super) fn record_expiry(&self, data: &SessionData) -> OffsetDateTime {
        record_expiry(&self.shared.config, data)
    }

    /// The data about to be written, with its creation stamp when the absolute
    /// timeout is configured (S1).
    pub(super) fn data_to_write(&mut self) -> SessionData {
        let config = Arc::clone(&self.shared.config);
        let data = self.data_no_load();
        timeout::stamp(&config, data, config.clock.now());
        data.clone()
    }
}

/// `get_expiry_date()` of `data` written now (E1: the record's expiry), bounded by
/// the absolute timeout (S1).
pub(crate) fn record_expiry(config: &SessionConfig, data: &SessionData) -> OffsetDateTime {
    let now = config.clock.now();
    let idle =
        ExpiryValue::from_stored(data.get_value(SESSION_EXPIRY_KEY)).date(now, config.cookie_age);
    timeout::bound(config, data, now, idle)
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

/// The one WARN line of a degraded session (V5): the error's text names the
/// backend's failure, never a key (rule H5).
fn log_degraded(source: &BoxError) {
    tracing::warn!(
        target: SESSIONS_TARGET,
        error = %source,
        "session store unavailable: serving this request with an empty session, nothing saved"
    );
}
