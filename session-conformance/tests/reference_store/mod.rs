#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The kit's reference store: the simplest correct server-side store, keeping Django's
//! `session_data` text in a map, with every optional operation (lookup, versioned
//! saves, touch, an account index). Its faults can be switched on to prove the kit
//! fails.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use session_api::store::{auth_account_id, AccountSession, AsyncAccountSessions, Lookup, Version};
use session_api::{
    AsyncSessionStore, Capabilities, Clock, Error, JsonSerializer, Record, Result, SaveMode,
    SessionBackend, SessionCodec, SessionKey,
};
use session_conformance::{Harness, KitEnv, RawRecords};
use time::OffsetDateTime;

/// Deliberate bugs, one per rule family.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fault {
    /// A correct store.
    #[default]
    None,
    /// An update of a missing record inserts it (an upsert); so do versioned saves and
    /// touches of a missing record.
    ResurrectsDeleted,
    /// Loading a missing key gives an empty record, so the handle keeps the key.
    AdoptsUnknownKeys,
    /// Every load writes the record back with a fresh expiry.
    WritesOnRead,
    /// Expired records still load.
    IgnoresExpiry,
    /// Load reports the default lifetime from now instead of the stored expiry.
    ForgetsExpiry,
    /// `save_if` writes over any live record, whatever its version (V1).
    SaveIfIgnoresVersion,
    /// `save_if` over a changed record writes nothing and reports success (an
    /// `UPDATE ... WHERE version = $v` whose zero rows are read as done) (V1).
    ConflictIsSilent,
    /// A plain save keeps the record's version (V3).
    SaveKeepsVersion,
    /// A touch writes the record anew, empty, instead of moving its expiry (V4).
    TouchRewritesData,
    /// A delete leaves the session in its account's index (S5).
    IndexKeepsDeleted,
}

/// One stored record.
#[derive(Debug, Clone)]
struct Entry {
    text: String,
    expires_at: OffsetDateTime,
    version: u64,
}

#[derive(Debug, Default)]
struct State {
    records: HashMap<SessionKey, Entry>,
    /// The account index: the account each session was filed under at its last save.
    accounts: HashMap<SessionKey, i64>,
    /// The last version handed out: every write takes the next one.
    last_version: u64,
}

impl State {
    fn next_version(&mut self) -> u64 {
        self.last_version += 1;
        self.last_version
    }

    fn unfile(&mut self, key: &SessionKey) {
        self.accounts.remove(key);
    }
}

#[derive(Debug)]
pub struct ReferenceStore {
    state: Mutex<State>,
    codec: SessionCodec,
    clock: Arc<dyn Clock>,
    cookie_age: i64,
    fault: Fault,
    caps: Capabilities,
}

impl ReferenceStore {
    pub fn new(env: &KitEnv, fault: Fault) -> Self {
        ReferenceStore {
            state: Mutex::default(),
            codec: SessionCodec::new(&env.secret_keys(), env.clock(), Arc::new(JsonSerializer)),
            clock: env.clock(),
            cookie_age: env.cookie_age(),
            fault,
            caps: Capabilities::server_side()
                .with_versioned(true)
                .with_touch(true)
                .with_list_by_account(true),
        }
    }

    fn is_live(&self, entry: &Entry, now: OffsetDateTime) -> bool {
        entry.expires_at > now || self.fault == Fault::IgnoresExpiry
    }

    /// Writes `record` (already checked), filing it under its account.
    fn put(&self, state: &mut State, record: &Record, text: String, version: u64) {
        state.records.insert(
            record.key.clone(),
            Entry {
                text,
                expires_at: record.expires_at,
                version,
            },
        );
        match auth_account_id(&record.data) {
            Some(account) => state.accounts.insert(record.key.clone(), account),
            None => state.accounts.remove(&record.key),
        };
    }

    fn remove(&self, state: &mut State, key: &SessionKey) {
        state.records.remove(key);
        if self.fault != Fault::IndexKeepsDeleted {
            state.unfile(key);
        }
    }

    fn revoke(&self, account: i64, keep: Option<&SessionKey>) -> u64 {
        let now = self.clock.now();
        let mut state = self.state.lock().unwrap();
        let doomed: Vec<SessionKey> = state
            .accounts
            .iter()
            .filter(|(key, a)| **a == account && Some(*key) != keep)
            .map(|(key, _)| key.clone())
            .collect();
        let mut live = 0;
        for key in doomed {
            if state
                .records
                .get(&key)
                .is_some_and(|e| self.is_live(e, now))
            {
                live += 1;
            }
            self.remove(&mut state, &key);
        }
        live
    }
}

#[async_trait]
impl AsyncSessionStore for ReferenceStore {
    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        Ok(matches!(self.alookup(key).await?, Lookup::Found(_)))
    }

    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        Ok(self.alookup(key).await?.into_record())
    }

    async fn alookup(&self, key: &SessionKey) -> Result<Lookup> {
        let now = self.clock.now();
        let found = self.state.lock().unwrap().records.get(key).cloned();
        let entry = match found {
            Some(entry) if self.is_live(&entry, now) => entry,
            found => {
                let adopted = Record::new(key.clone(), Default::default(), now);
                return Ok(match found {
                    _ if self.fault == Fault::AdoptsUnknownKeys => Lookup::Found(adopted),
                    Some(_) => Lookup::Expired,
                    None => Lookup::Missing,
                });
            }
        };
        if self.fault == Fault::WritesOnRead {
            let at = now + time::Duration::seconds(self.cookie_age);
            let mut state = self.state.lock().unwrap();
            let version = state.next_version();
            if let Some(stored) = state.records.get_mut(key) {
                stored.expires_at = at;
                stored.version = version;
            }
        }
        let Ok(data) = self.codec.try_decode(&entry.text) else {
            return Ok(Lookup::Missing);
        };
        let expires_at = if self.fault == Fault::ForgetsExpiry {
            now + time::Duration::seconds(self.cookie_age)
        } else {
            entry.expires_at
        };
        // Versions are given only where they are declared (a store without them is
        // the one whose renewals rely on D5's update-only rule alone).
        let version = self.caps.versioned.then(|| Version::new(entry.version));
        let record = Record::new(key.clone(), data, expires_at).with_version(version);
        Ok(Lookup::Found(record))
    }

    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let text = self.codec.encode(&record.data)?;
        let now = self.clock.now();
        let mut state = self.state.lock().unwrap();
        let stored = state.records.get(&record.key).cloned();
        let live = stored.as_ref().is_some_and(|e| e.expires_at > now);
        match mode {
            SaveMode::Create if live => return Err(Error::Create),
            SaveMode::Update if !live && self.fault != Fault::ResurrectsDeleted => {
                return Err(Error::Update)
            }
            _ => {}
        }
        let version = match stored {
            Some(entry) if live && self.fault == Fault::SaveKeepsVersion => entry.version,
            _ => state.next_version(),
        };
        self.put(&mut state, record, text, version);
        Ok(record.key.clone())
    }

    async fn asave_if(&self, record: &Record, expected: Version) -> Result<Version> {
        let text = self.codec.encode(&record.data)?;
        let now = self.clock.now();
        let mut state = self.state.lock().unwrap();
        match state.records.get(&record.key) {
            Some(entry) if entry.expires_at > now => {
                if entry.version != expected.get() {
                    match self.fault {
                        Fault::SaveIfIgnoresVersion => {}
                        Fault::ConflictIsSilent => return Ok(Version::new(entry.version)),
                        _ => return Err(Error::Conflict),
                    }
                }
            }
            _ if self.fault == Fault::ResurrectsDeleted => {}
            _ => return Err(Error::Update),
        }
        let version = state.next_version();
        self.put(&mut state, record, text, version);
        Ok(Version::new(version))
    }

    async fn atouch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        let now = self.clock.now();
        let empty = self.codec.encode(&Default::default())?;
        let mut state = self.state.lock().unwrap();
        let version = state.next_version();
        match state.records.get_mut(key) {
            Some(entry) if entry.expires_at > now || self.fault == Fault::ResurrectsDeleted => {
                entry.expires_at = expires_at;
                entry.version = version;
                if self.fault == Fault::TouchRewritesData {
                    entry.text = empty;
                }
            }
            _ if self.fault == Fault::ResurrectsDeleted => {
                let entry = Entry {
                    text: empty,
                    expires_at,
                    version,
                };
                state.records.insert(key.clone(), entry);
            }
            _ => return Err(Error::Update),
        }
        Ok(())
    }

    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        self.remove(&mut state, key);
        Ok(())
    }

    async fn aclear_expired(&self) -> Result<u64> {
        let now = self.clock.now();
        let mut state = self.state.lock().unwrap();
        let expired: Vec<SessionKey> = state
            .records
            .iter()
            .filter(|(_, e)| e.expires_at <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in &expired {
            self.remove(&mut state, key);
        }
        Ok(expired.len() as u64)
    }

    fn accounts(&self) -> Option<&dyn AsyncAccountSessions> {
        self.caps
            .list_by_account
            .then_some(self as &dyn AsyncAccountSessions)
    }
}

#[async_trait]
impl AsyncAccountSessions for ReferenceStore {
    async fn alist_sessions(&self, account: i64) -> Result<Vec<AccountSession>> {
        let now = self.clock.now();
        let state = self.state.lock().unwrap();
        let mut listed: Vec<AccountSession> = state
            .accounts
            .iter()
            .filter(|(_, a)| **a == account)
            .filter_map(|(key, _)| match state.records.get(key) {
                Some(entry) if self.is_live(entry, now) => {
                    Some(AccountSession::new(key.clone(), entry.expires_at))
                }
                // The faulty index keeps a deleted session, listed with a day to go.
                None if self.fault == Fault::IndexKeepsDeleted => Some(AccountSession::new(
                    key.clone(),
                    now + time::Duration::days(1),
                )),
                _ => None,
            })
            .collect();
        listed.sort_by_key(|s| s.expires_at);
        Ok(listed)
    }

    async fn arevoke_all(&self, account: i64) -> Result<u64> {
        Ok(self.revoke(account, None))
    }

    async fn arevoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64> {
        Ok(self.revoke(account, Some(current)))
    }
}

#[async_trait]
impl RawRecords for ReferenceStore {
    async fn write_raw(
        &self,
        key: &SessionKey,
        raw: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        let version = state.next_version();
        let entry = Entry {
            text: raw.to_owned(),
            expires_at,
            version,
        };
        state.records.insert(key.clone(), entry);
        Ok(())
    }

    async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
        let state = self.state.lock().unwrap();
        Ok(state.records.get(key).map(|e| e.text.clone()))
    }
}

/// The reference store with raw access to its Django `session_data`.
pub fn harness(env: &KitEnv, fault: Fault) -> Harness {
    let store = Arc::new(ReferenceStore::new(env, fault));
    Harness::new(SessionBackend::from_async(store.clone())).with_raw(store, true)
}

/// [`harness`] over a store that declares no versions (V1): its loads carry none,
/// so the handle saves plainly.
pub fn unversioned_harness(env: &KitEnv, fault: Fault) -> Harness {
    let mut store = ReferenceStore::new(env, fault);
    store.caps = store.caps.with_versioned(false);
    let store = Arc::new(store);
    Harness::new(SessionBackend::from_async(store.clone())).with_raw(store, true)
}

/// A correct reference store that declares `caps`, without raw access.
pub fn bare_harness(env: &KitEnv, caps: Capabilities) -> Harness {
    let mut store = ReferenceStore::new(env, Fault::None);
    store.caps = caps;
    Harness::new(SessionBackend::from_async(Arc::new(store)))
}
