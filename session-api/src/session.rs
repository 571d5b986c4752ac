//! The per-request session handle: Django's `SessionBase` (sections A, B, C).

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::config::SessionConfig;
use crate::data::{SessionData, SESSION_EXPIRY_KEY, TEST_COOKIE_NAME, TEST_COOKIE_VALUE};
use crate::error::{Error, Result};
use crate::expiry::{isoformat, Expiry, ExpiryValue};
use crate::key::SessionKey;
use crate::store::SessionBackend;

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
/// Data is loaded lazily on first access (B1). Every sync method has an async twin
/// (`get`/`aget`, ...) with the same effect on the [`accessed`](Self::accessed) and
/// [`modified`](Self::modified) flags (B10); sync methods use the backend's sync side,
/// async twins its async side.
///
/// ```
/// # use std::sync::Arc;
/// # use session_api::{Session, SessionBackend, config::SessionConfig, signing::SecretKeys};
/// # fn demo(backend: SessionBackend, config: Arc<SessionConfig>) -> session_api::Result<()> {
/// let mut session = Session::new(backend, config, None);
/// session.set("cart", &vec![3, 4])?;
/// assert!(session.modified());
/// session.save(false)?; // creates a record under a fresh key
/// assert!(session.session_key().is_some());
/// # Ok(()) }
/// ```
pub struct Session {
    backend: SessionBackend,
    config: Arc<SessionConfig>,
    key: Option<SessionKey>,
    cache: Option<SessionData>,
    modified: bool,
    accessed: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("key", &self.key)
            .field("loaded", &self.cache.is_some())
            .field("modified", &self.modified)
            .field("accessed", &self.accessed)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A handle for `key` (the request's cookie value, if any). A key the store's
    /// key kind rejects is dropped here (H1): the session starts without a key.
    /// Nothing is loaded until the data is first touched (B1).
    pub fn new(backend: SessionBackend, config: Arc<SessionConfig>, key: Option<&str>) -> Self {
        let key = key.and_then(|k| backend.capabilities().parse_key(k).ok());
        Session {
            backend,
            config,
            key,
            cache: None,
            modified: false,
            accessed: false,
        }
    }

    /// The current key, if any.
    pub fn session_key(&self) -> Option<&SessionKey> {
        self.key.as_ref()
    }

    /// Whether the data was changed in a way that needs a save (B3).
    pub fn modified(&self) -> bool {
        self.modified
    }

    /// Sets the modified flag, e.g. after mutating a nested value (B5).
    pub fn set_modified(&mut self, modified: bool) {
        self.modified = modified;
    }

    /// Whether the data was touched at all (B2).
    pub fn accessed(&self) -> bool {
        self.accessed
    }

    /// True only when there is no key and no loaded data (B9).
    pub fn is_empty(&self) -> bool {
        self.key.is_none() && self.cache.as_ref().is_none_or(SessionData::is_empty)
    }

    /// The settings this handle follows.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The store this handle talks to.
    pub fn backend(&self) -> &SessionBackend {
        &self.backend
    }

    /// `SESSION_COOKIE_AGE`.
    pub fn get_session_cookie_age(&self) -> i64 {
        self.config.cookie_age
    }

    fn adopt_loaded(&mut self, loaded: Option<SessionData>) -> &mut SessionData {
        if loaded.is_none() {
            // A3: a key the store does not have is never adopted.
            self.key = None;
        }
        self.cache.insert(loaded.unwrap_or_default())
    }

    /// The data, loaded through the sync store on first access (B1, B2).
    pub fn data(&mut self) -> Result<&mut SessionData> {
        self.accessed = true;
        if self.cache.is_none() {
            let loaded = match &self.key {
                Some(key) => self.backend.sync().load(key)?,
                None => Some(SessionData::new()),
            };
            return Ok(self.adopt_loaded(loaded));
        }
        Ok(self.cache.get_or_insert_with(SessionData::new))
    }

    /// Async twin of [`data`](Self::data).
    pub async fn adata(&mut self) -> Result<&mut SessionData> {
        self.accessed = true;
        if self.cache.is_none() {
            let loaded = match &self.key {
                Some(key) => self.backend.nonblocking().aload(key).await?,
                None => Some(SessionData::new()),
            };
            return Ok(self.adopt_loaded(loaded));
        }
        Ok(self.cache.get_or_insert_with(SessionData::new))
    }

    /// The data without loading it (Django's `_get_session(no_load=True)`).
    fn data_no_load(&mut self) -> &mut SessionData {
        self.accessed = true;
        self.cache.get_or_insert_with(SessionData::new)
    }

    // ---- dictionary methods (B2, B3, B6) -------------------------------------------

    /// `session.get(key)`, typed. Never sets `modified`.
    pub fn get<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>> {
        self.data()?.get(key)
    }
    /// Async twin of [`get`](Self::get).
    pub async fn aget<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>> {
        self.adata().await?.get(key)
    }

    /// `session.get(key)`, raw JSON.
    pub fn get_value(&mut self, key: &str) -> Result<Option<Value>> {
        Ok(self.data()?.get_value(key).cloned())
    }
    /// Async twin of [`get_value`](Self::get_value).
    pub async fn aget_value(&mut self, key: &str) -> Result<Option<Value>> {
        Ok(self.adata().await?.get_value(key).cloned())
    }

    /// `session[key] = value`, typed. Sets `modified`.
    pub fn set<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<()> {
        self.data()?.set(key, value)?;
        self.modified = true;
        Ok(())
    }
    /// Async twin of [`set`](Self::set).
    pub async fn aset<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<()> {
        self.adata().await?.set(key, value)?;
        self.modified = true;
        Ok(())
    }

    /// `session[key] = value`, raw JSON. Sets `modified`.
    pub fn set_value(&mut self, key: &str, value: Value) -> Result<()> {
        self.data()?.insert(key.to_owned(), value);
        self.modified = true;
        Ok(())
    }
    /// Async twin of [`set_value`](Self::set_value).
    pub async fn aset_value(&mut self, key: &str, value: Value) -> Result<()> {
        self.adata().await?.insert(key.to_owned(), value);
        self.modified = true;
        Ok(())
    }

    /// `del session[key]`: [`Error::KeyNotFound`] when absent (B6); sets `modified`
    /// only when something was deleted.
    pub fn delete(&mut self, key: &str) -> Result<()> {
        let removed = self.data()?.remove(key);
        self.note_removed(key, removed).map(drop)
    }
    /// Async twin of [`delete`](Self::delete).
    pub async fn adelete(&mut self, key: &str) -> Result<()> {
        let removed = self.adata().await?.remove(key);
        self.note_removed(key, removed).map(drop)
    }

    /// `session.pop(key)`: the value, or [`Error::KeyNotFound`] (B6). Sets `modified`
    /// only when the key was present (B3).
    pub fn pop(&mut self, key: &str) -> Result<Value> {
        let removed = self.data()?.remove(key);
        self.note_removed(key, removed)
    }
    /// Async twin of [`pop`](Self::pop).
    pub async fn apop(&mut self, key: &str) -> Result<Value> {
        let removed = self.adata().await?.remove(key);
        self.note_removed(key, removed)
    }

    /// `session.pop(key, default)` (B6).
    pub fn pop_or(&mut self, key: &str, default: Value) -> Result<Value> {
        let removed = self.data()?.remove(key);
        Ok(self.note_removed(key, removed).unwrap_or(default))
    }
    /// Async twin of [`pop_or`](Self::pop_or).
    pub async fn apop_or(&mut self, key: &str, default: Value) -> Result<Value> {
        let removed = self.adata().await?.remove(key);
        Ok(self.note_removed(key, removed).unwrap_or(default))
    }

    fn note_removed(&mut self, key: &str, removed: Option<Value>) -> Result<Value> {
        match removed {
            Some(value) => {
                self.modified = true;
                Ok(value)
            }
            None => Err(Error::KeyNotFound(key.to_owned())),
        }
    }

    /// `session.setdefault(key, default)`: sets `modified` only when it inserts (B3).
    pub fn setdefault(&mut self, key: &str, default: Value) -> Result<Value> {
        let (value, inserted) = setdefault_in(self.data()?, key, default);
        self.modified |= inserted;
        Ok(value)
    }
    /// Async twin of [`setdefault`](Self::setdefault).
    pub async fn asetdefault(&mut self, key: &str, default: Value) -> Result<Value> {
        let (value, inserted) = setdefault_in(self.adata().await?, key, default);
        self.modified |= inserted;
        Ok(value)
    }

    /// `session.update(pairs)`: sets `modified` even when `pairs` is empty (B3).
    pub fn update<I: IntoIterator<Item = (String, Value)>>(&mut self, pairs: I) -> Result<()> {
        let data = self.data()?;
        for (k, v) in pairs {
            data.insert(k, v);
        }
        self.modified = true;
        Ok(())
    }
    /// Async twin of [`update`](Self::update).
    pub async fn aupdate<I: IntoIterator<Item = (String, Value)>>(
        &mut self,
        pairs: I,
    ) -> Result<()> {
        let data = self.adata().await?;
        for (k, v) in pairs {
            data.insert(k, v);
        }
        self.modified = true;
        Ok(())
    }

    /// `key in session` (B3: never sets `modified`).
    pub fn contains(&mut self, key: &str) -> Result<bool> {
        Ok(self.data()?.contains_key(key))
    }
    /// `session.has_key(key)`: the same as [`contains`](Self::contains).
    pub fn has_key(&mut self, key: &str) -> Result<bool> {
        self.contains(key)
    }
    /// Async twin of [`has_key`](Self::has_key).
    pub async fn ahas_key(&mut self, key: &str) -> Result<bool> {
        Ok(self.adata().await?.contains_key(key))
    }

    /// `session.keys()`, in insertion order.
    pub fn keys(&mut self) -> Result<Vec<String>> {
        Ok(self.data()?.keys().cloned().collect())
    }
    /// Async twin of [`keys`](Self::keys).
    pub async fn akeys(&mut self) -> Result<Vec<String>> {
        Ok(self.adata().await?.keys().cloned().collect())
    }

    /// `session.values()`, in insertion order.
    pub fn values(&mut self) -> Result<Vec<Value>> {
        Ok(self.data()?.values().cloned().collect())
    }
    /// Async twin of [`values`](Self::values).
    pub async fn avalues(&mut self) -> Result<Vec<Value>> {
        Ok(self.adata().await?.values().cloned().collect())
    }

    /// `session.items()`, in insertion order.
    pub fn items(&mut self) -> Result<Vec<(String, Value)>> {
        Ok(self
            .data()?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
    /// Async twin of [`items`](Self::items).
    pub async fn aitems(&mut self) -> Result<Vec<(String, Value)>> {
        Ok(self
            .adata()
            .await?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    /// `session.clear()`: empties the data without loading it; sets both flags (B4).
    pub fn clear(&mut self) {
        self.cache = Some(SessionData::new());
        self.accessed = true;
        self.modified = true;
    }

    // ---- test cookie (B8) ----------------------------------------------------------

    /// Stores `testcookie = "worked"`.
    pub fn set_test_cookie(&mut self) -> Result<()> {
        self.set(TEST_COOKIE_NAME, TEST_COOKIE_VALUE)
    }
    /// Async twin of [`set_test_cookie`](Self::set_test_cookie).
    pub async fn aset_test_cookie(&mut self) -> Result<()> {
        self.aset(TEST_COOKIE_NAME, TEST_COOKIE_VALUE).await
    }
    /// Whether the test cookie came back.
    pub fn test_cookie_worked(&mut self) -> Result<bool> {
        Ok(self.get_value(TEST_COOKIE_NAME)?.as_ref() == Some(&Value::from(TEST_COOKIE_VALUE)))
    }
    /// Async twin of [`test_cookie_worked`](Self::test_cookie_worked).
    pub async fn atest_cookie_worked(&mut self) -> Result<bool> {
        Ok(self.aget_value(TEST_COOKIE_NAME).await?.as_ref()
            == Some(&Value::from(TEST_COOKIE_VALUE)))
    }
    /// Removes the test cookie; [`Error::KeyNotFound`] when absent.
    pub fn delete_test_cookie(&mut self) -> Result<()> {
        self.delete(TEST_COOKIE_NAME)
    }
    /// Async twin of [`delete_test_cookie`](Self::delete_test_cookie).
    pub async fn adelete_test_cookie(&mut self) -> Result<()> {
        self.adelete(TEST_COOKIE_NAME).await
    }

    // ---- expiry (section C) --------------------------------------------------------

    fn expiry_as_stored(&self, expiry: Expiry) -> Option<Value> {
        match expiry {
            Expiry::Seconds(s) => Some(Value::from(s)),
            Expiry::BrowserClose => Some(Value::from(0)),
            Expiry::At(at) => Some(Value::from(isoformat(at))),
            Expiry::In(d) => Some(Value::from(isoformat(self.config.clock.now() + d))),
            Expiry::Default => None,
        }
    }

    /// `set_expiry(value)` (C1..C4): seconds, an instant, a duration from now,
    /// browser close, or back to the default (no error when none was set).
    pub fn set_expiry(&mut self, expiry: Expiry) -> Result<()> {
        match self.expiry_as_stored(expiry) {
            Some(v) => self.set_value(SESSION_EXPIRY_KEY, v),
            None => self.delete(SESSION_EXPIRY_KEY).or_else(ignore_missing),
        }
    }
    /// Async twin of [`set_expiry`](Self::set_expiry).
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

    /// `get_expiry_age(modification=..., expiry=...)` in seconds (C5).
    pub fn get_expiry_age(&mut self, args: ExpiryArgs) -> Result<i64> {
        let expiry = match args.expiry {
            Some(e) => e,
            None => self.stored_expiry()?,
        };
        Ok(expiry.age(self.modification(args), self.config.cookie_age))
    }
    /// Async twin of [`get_expiry_age`](Self::get_expiry_age).
    pub async fn aget_expiry_age(&mut self, args: ExpiryArgs) -> Result<i64> {
        let expiry = match args.expiry {
            Some(e) => e,
            None => self.astored_expiry().await?,
        };
        Ok(expiry.age(self.modification(args), self.config.cookie_age))
    }

    /// `get_expiry_date(modification=..., expiry=...)` (C6).
    pub fn get_expiry_date(&mut self, args: ExpiryArgs) -> Result<OffsetDateTime> {
        let expiry = match args.expiry {
            Some(e) => e,
            None => self.stored_expiry()?,
        };
        Ok(expiry.date(self.modification(args), self.config.cookie_age))
    }
    /// Async twin of [`get_expiry_date`](Self::get_expiry_date).
    pub async fn aget_expiry_date(&mut self, args: ExpiryArgs) -> Result<OffsetDateTime> {
        let expiry = match args.expiry {
            Some(e) => e,
            None => self.astored_expiry().await?,
        };
        Ok(expiry.date(self.modification(args), self.config.cookie_age))
    }

    /// Whether the session ends with the browser (C7).
    pub fn get_expire_at_browser_close(&mut self) -> Result<bool> {
        Ok(self
            .stored_expiry()?
            .expires_at_browser_close(self.config.expire_at_browser_close))
    }
    /// Async twin of [`get_expire_at_browser_close`](Self::get_expire_at_browser_close).
    pub async fn aget_expire_at_browser_close(&mut self) -> Result<bool> {
        Ok(self
            .astored_expiry()
            .await?
            .expires_at_browser_close(self.config.expire_at_browser_close))
    }

    fn modification(&self, args: ExpiryArgs) -> OffsetDateTime {
        args.modification.unwrap_or_else(|| self.config.clock.now())
    }

    /// `get_expiry_date()` of the data about to be written (E1: the record's expiry).
    fn record_expiry(&self, data: &SessionData) -> OffsetDateTime {
        ExpiryValue::from_stored(data.get_value(SESSION_EXPIRY_KEY))
            .date(self.config.clock.now(), self.config.cookie_age)
    }

    // ---- store lifecycle (section A, D) --------------------------------------------

    /// Whether the store has a record for `key` (D1).
    pub fn exists(&self, key: &SessionKey) -> Result<bool> {
        self.backend.sync().exists(key)
    }
    /// Async twin of [`exists`](Self::exists).
    pub async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        self.backend.nonblocking().aexists(key).await
    }

    /// Saves the current data under a fresh key (A4, D2) and sets `modified`.
    pub fn create(&mut self) -> Result<()> {
        let data = self.data_no_load().clone();
        let expires_at = self.record_expiry(&data);
        let keys = Arc::clone(&self.config.key_generator);
        self.key = Some(self.backend.sync().create(&data, expires_at, &*keys)?);
        self.modified = true;
        Ok(())
    }
    /// Async twin of [`create`](Self::create).
    pub async fn acreate(&mut self) -> Result<()> {
        let data = self.data_no_load().clone();
        let expires_at = self.record_expiry(&data);
        let keys = Arc::clone(&self.config.key_generator);
        let key = self
            .backend
            .nonblocking()
            .acreate(&data, expires_at, &*keys)
            .await?;
        self.key = Some(key);
        self.modified = true;
        Ok(())
    }

    /// Writes the session (D3..D5): with no key, [`create`](Self::create); with
    /// `must_create`, insert-if-absent ([`Error::Create`] otherwise); else update an
    /// existing record ([`Error::Update`] when it vanished; never re-created).
    pub fn save(&mut self, must_create: bool) -> Result<()> {
        if self.key.is_none() {
            return self.create();
        }
        if !must_create {
            self.data()?;
        }
        // Loading may have dropped an unknown key (A3): then it is a new session.
        let Some(key) = self.key.clone() else {
            return self.create();
        };
        let data = self.data_no_load().clone();
        let expires_at = self.record_expiry(&data);
        let new_key = self
            .backend
            .sync()
            .save(&key, &data, expires_at, must_create)?;
        self.key = Some(new_key);
        Ok(())
    }
    /// Async twin of [`save`](Self::save).
    pub async fn asave(&mut self, must_create: bool) -> Result<()> {
        if self.key.is_none() {
            return self.acreate().await;
        }
        if !must_create {
            self.adata().await?;
        }
        let Some(key) = self.key.clone() else {
            return self.acreate().await;
        };
        let data = self.data_no_load().clone();
        let expires_at = self.record_expiry(&data);
        let new_key = self
            .backend
            .nonblocking()
            .asave(&key, &data, expires_at, must_create)
            .await?;
        self.key = Some(new_key);
        Ok(())
    }

    /// Deletes a record (D6): `key`, or this handle's own key when `None`; a missing
    /// record is not an error; with no key at all it does nothing.
    pub fn delete_record(&mut self, key: Option<&SessionKey>) -> Result<()> {
        match key.or(self.key.as_ref()) {
            Some(k) => self.backend.sync().delete(k),
            None => Ok(()),
        }
    }
    /// Async twin of [`delete_record`](Self::delete_record).
    pub async fn adelete_record(&mut self, key: Option<&SessionKey>) -> Result<()> {
        match key.or(self.key.as_ref()) {
            Some(k) => self.backend.nonblocking().adelete(k).await,
            None => Ok(()),
        }
    }

    /// Logout (A6): clears the data, deletes the record, drops the key.
    pub fn flush(&mut self) -> Result<()> {
        self.clear();
        self.delete_record(None)?;
        self.key = None;
        Ok(())
    }
    /// Async twin of [`flush`](Self::flush).
    pub async fn aflush(&mut self) -> Result<()> {
        self.clear();
        self.adelete_record(None).await?;
        self.key = None;
        Ok(())
    }

    /// Login (A5): keeps the data under a new key, written before the old record is
    /// deleted; afterwards the old key loads as empty.
    pub fn cycle_key(&mut self) -> Result<()> {
        let data = self.data()?.clone();
        let old = self.key.take();
        self.create()?;
        self.cache = Some(data);
        if let Some(old) = old {
            self.backend.sync().delete(&old)?;
        }
        Ok(())
    }
    /// Async twin of [`cycle_key`](Self::cycle_key).
    pub async fn acycle_key(&mut self) -> Result<()> {
        let data = self.adata().await?.clone();
        let old = self.key.take();
        self.acreate().await?;
        self.cache = Some(data);
        if let Some(old) = old {
            self.backend.nonblocking().adelete(&old).await?;
        }
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

fn ignore_missing(err: Error) -> Result<()> {
    match err {
        Error::KeyNotFound(_) => Ok(()),
        other => Err(other),
    }
}
