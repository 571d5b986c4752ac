//! A process-local store: bounded, expiry-first eviction, safe under concurrent use.
//!
//! Like Django's local-memory cache it is not shared between processes: use it for
//! tests, development and single-process sites.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use session_api::store::auth_account_id;
use session_api::{
    AccountSession, AccountSessions, Capabilities, Clock, Error, Lookup, Record, Result, SaveMode,
    SessionData, SessionKey, SessionStore, SystemClock, Version,
};
use time::OffsetDateTime;

use crate::expiring::ExpiringMap;

/// Default bound on the number of sessions kept.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// The in-memory store.
///
/// When full, a new session first displaces expired ones, then the one closest to
/// expiry. Expired entries are never returned; [`lookup`](SessionStore::lookup) tells
/// them from missing ones until they are displaced or cleared.
///
/// It has every optional operation (rules V1, V4, S5):
///
/// - **Versions.** Every write (a save, a versioned save, a touch) stamps the record
///   with the next value of one store-wide counter, so a version never comes back,
///   not even for a key deleted and created again. [`save_if`](SessionStore::save_if)
///   compares and writes under the store's lock.
/// - **Touch.** [`touch`](SessionStore::touch) moves the expiry and keeps the data
///   (and, being a write, changes the version: rule V3).
/// - **Account index.** Always kept ([`accounts`](SessionStore::accounts) is
///   `Some`): a map from account to keys, updated under the same lock as the records
///   by every save, delete, eviction and `clear_expired`. Expired sessions are never
///   listed.
///
/// ```
/// use std::sync::Arc;
/// use session_stores::memory::MemoryStore;
/// use session_api::SessionBackend;
/// let backend = SessionBackend::from_nonblocking_sync(Arc::new(MemoryStore::new()));
/// assert!(backend.capabilities().server_side);
/// assert!(backend.capabilities().versioned && backend.capabilities().list_by_account);
/// ```
///
/// Its `Debug` shows the number of sessions and the bound, never a key or data.
pub struct MemoryStore {
    inner: Mutex<State>,
    clock: Arc<dyn Clock>,
    max_entries: usize,
}

/// A stored session beside its key and expiry.
struct Stored {
    data: SessionData,
    version: Version,
    /// The account it is filed under in the index (rule S5).
    account: Option<i64>,
}

/// Everything behind the store's one lock: the records and their account index
/// always change together.
#[derive(Default)]
struct State {
    records: ExpiringMap<SessionKey, Stored>,
    accounts: HashMap<i64, BTreeSet<SessionKey>>,
    /// The last version handed out.
    last_version: u64,
}

impl State {
    /// Writes `data` under `key` with a new version; returns it. Keeps the account
    /// index in step with the replaced record and any record the bound displaces.
    fn put(
        &mut self,
        key: &SessionKey,
        data: SessionData,
        expires_at: OffsetDateTime,
        cap: usize,
        now: OffsetDateTime,
    ) -> Version {
        self.last_version += 1;
        let version = Version::new(self.last_version);
        let account = auth_account_id(&data);
        if let Some(old) = self.records.remove(key) {
            unfile(&mut self.accounts, old.account, key);
        }
        let accounts = &mut self.accounts;
        self.records.insert_each(
            key.clone(),
            Stored {
                data,
                version,
                account,
            },
            expires_at,
            cap,
            now,
            |gone, stored| unfile(accounts, stored.account, &gone),
        );
        if let Some(account) = account {
            self.accounts
                .entry(account)
                .or_default()
                .insert(key.clone());
        }
        version
    }

    /// Removes `key`, live or not, and its index entry.
    fn remove(&mut self, key: &SessionKey) {
        if let Some(old) = self.records.remove(key) {
            unfile(&mut self.accounts, old.account, key);
        }
    }

    /// The live record under `key`.
    fn live(&self, key: &SessionKey, now: OffsetDateTime) -> Option<(&Stored, OffsetDateTime)> {
        self.records.live_entry(key, now)
    }

    /// Deletes the live sessions of `account` but `keep`; returns how many went. Its
    /// expired ones go too, uncounted: they were no sessions any more.
    fn revoke(&mut self, account: i64, keep: Option<&SessionKey>, now: OffsetDateTime) -> u64 {
        let Some(keys) = self.accounts.get(&account) else {
            return 0;
        };
        let doomed: Vec<SessionKey> = keys
            .iter()
            .filter(|key| Some(*key) != keep)
            .cloned()
            .collect();
        let mut revoked = 0;
        for key in doomed {
            if self.live(&key, now).is_some() {
                revoked += 1;
            }
            self.remove(&key);
        }
        revoked
    }
}

/// Takes `key` out of `account`'s list.
fn unfile(
    accounts: &mut HashMap<i64, BTreeSet<SessionKey>>,
    account: Option<i64>,
    key: &SessionKey,
) {
    let Some(account) = account else { return };
    if let Some(keys) = accounts.get_mut(&account) {
        keys.remove(key);
        if keys.is_empty() {
            accounts.remove(&account);
        }
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `try_lock`, as `Mutex`'s own `Debug`: formatting never waits or deadlocks.
        let len = match self.inner.try_lock() {
            Ok(state) => Some(state.records.len()),
            Err(std::sync::TryLockError::Poisoned(state)) => Some(state.into_inner().records.len()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
        f.debug_struct("MemoryStore")
            .field("len", &len)
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// A store bounded to [`DEFAULT_MAX_ENTRIES`], on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// A store on `clock` (inject a `ManualClock` in tests).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        MemoryStore {
            inner: Mutex::default(),
            clock,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }

    /// Sets the bound on the number of sessions (at least 1).
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = max.max(1);
        self
    }

    /// How many sessions are held, expired ones included until evicted.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Records and index are consistent after every statement that changes both
        // (`State::put`, `State::remove`), so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionStore for MemoryStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::server_side()
            .with_versioned(true)
            .with_touch(true)
            .with_list_by_account(true)
    }

    fn exists(&self, key: &SessionKey) -> Result<bool> {
        Ok(self.lock().records.live(key, self.clock.now()).is_some())
    }

    fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        Ok(self.lookup(key)?.into_record())
    }

    fn lookup(&self, key: &SessionKey) -> Result<Lookup> {
        let now = self.clock.now();
        let state = self.lock();
        Ok(match state.records.entry(key) {
            None => Lookup::Missing,
            Some((_, expires_at)) if expires_at <= now => Lookup::Expired,
            Some((stored, expires_at)) => Lookup::Found(
                Record::new(key.clone(), stored.data.clone(), expires_at)
                    .with_version(Some(stored.version)),
            ),
        })
    }

    fn save(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let now = self.clock.now();
        let mut state = self.lock();
        let live = state.live(&record.key, now).is_some();
        match (mode, live) {
            (SaveMode::Create, true) => return Err(Error::Create),
            // D5: a vanished (or expired) record is never re-created by an update.
            (SaveMode::Update, false) => return Err(Error::Update),
            (SaveMode::Create, false) | (SaveMode::Update, true) => {}
        }
        state.put(
            &record.key,
            record.data.clone(),
            record.expires_at,
            self.max_entries,
            now,
        );
        Ok(record.key.clone())
    }

    fn save_if(&self, record: &Record, expected: Version) -> Result<Version> {
        let now = self.clock.now();
        let mut state = self.lock();
        // V1: compared and written under one lock hold.
        match state.live(&record.key, now) {
            None => return Err(Error::Update),
            Some((stored, _)) if stored.version != expected => return Err(Error::Conflict),
            Some(_) => {}
        }
        Ok(state.put(
            &record.key,
            record.data.clone(),
            record.expires_at,
            self.max_entries,
            now,
        ))
    }

    fn touch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        let now = self.clock.now();
        let mut state = self.lock();
        let Some((stored, _)) = state.live(key, now) else {
            return Err(Error::Update);
        };
        let data = stored.data.clone();
        state.put(key, data, expires_at, self.max_entries, now);
        Ok(())
    }

    fn delete(&self, key: &SessionKey) -> Result<()> {
        self.lock().remove(key);
        Ok(())
    }

    fn clear_expired(&self) -> Result<u64> {
        let now = self.clock.now();
        let mut state = self.lock();
        let State {
            records, accounts, ..
        } = &mut *state;
        Ok(records.purge_each(now, usize::MAX, |key, stored| {
            unfile(accounts, stored.account, &key)
        }))
    }

    fn accounts(&self) -> Option<&dyn AccountSessions> {
        Some(self)
    }
}

impl AccountSessions for MemoryStore {
    fn list_sessions(&self, account: i64) -> Result<Vec<AccountSession>> {
        let now = self.clock.now();
        let state = self.lock();
        let mut sessions: Vec<AccountSession> = state
            .accounts
            .get(&account)
            .into_iter()
            .flatten()
            .filter_map(|key| {
                let (_, expires_at) = state.live(key, now)?;
                Some(AccountSession::new(key.clone(), expires_at))
            })
            .collect();
        sessions.sort_by(|a, b| (a.expires_at, &a.key).cmp(&(b.expires_at, &b.key)));
        Ok(sessions)
    }

    fn revoke_all(&self, account: i64) -> Result<u64> {
        Ok(self.lock().revoke(account, None, self.clock.now()))
    }

    fn revoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64> {
        Ok(self.lock().revoke(account, Some(current), self.clock.now()))
    }
}
