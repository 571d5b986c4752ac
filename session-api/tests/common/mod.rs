#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Shared set-up for session-api's integration tests: the real memory store, a manual
//! clock and a store wrapper that counts calls (to prove laziness and "no write").
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use session_api::signing::SecretKeys;
use session_api::{
    Capabilities, KeyGenerator, Lookup, ManualClock, Record, Result, SaveMode, Session,
    SessionBackend, SessionConfig, SessionKey, SessionStore, Version,
};
use session_stores::memory::MemoryStore;
use time::macros::datetime;
use time::OffsetDateTime;

pub const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

/// Counts every store call, then forwards to the real memory store.
#[derive(Debug)]
pub struct Counting {
    pub inner: MemoryStore,
    pub loads: AtomicUsize,
    pub saves: AtomicUsize,
    pub deletes: AtomicUsize,
}

impl Counting {
    pub fn calls(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
            + self.saves.load(Ordering::SeqCst)
            + self.deletes.load(Ordering::SeqCst)
    }
}

impl SessionStore for Counting {
    fn capabilities(&self) -> Capabilities {
        SessionStore::capabilities(&self.inner)
    }
    fn exists(&self, key: &SessionKey) -> Result<bool> {
        self.inner.exists(key)
    }
    fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(key)
    }
    // The memory store is versioned and touches (V1, V4): the handle uses these.
    fn lookup(&self, key: &SessionKey) -> Result<Lookup> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.lookup(key)
    }
    fn save(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.save(record, mode)
    }
    fn save_if(&self, record: &Record, expected: Version) -> Result<Version> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.save_if(record, expected)
    }
    fn touch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.touch(key, expires_at)
    }
    fn delete(&self, key: &SessionKey) -> Result<()> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key)
    }
    fn clear_expired(&self) -> Result<u64> {
        self.inner.clear_expired()
    }
}

/// Yields the scripted keys first, then random ones.
#[derive(Debug, Default)]
pub struct ScriptedKeys(pub Mutex<Vec<SessionKey>>);

impl KeyGenerator for ScriptedKeys {
    fn generate(&self) -> SessionKey {
        let mut keys = self.0.lock().unwrap();
        if keys.is_empty() {
            SessionKey::generate()
        } else {
            keys.remove(0)
        }
    }
}

pub struct Fixture {
    pub store: Arc<Counting>,
    pub backend: SessionBackend,
    pub config: Arc<SessionConfig>,
    pub clock: ManualClock,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with(|b| b)
    }

    pub fn with(
        f: impl FnOnce(
            session_api::config::SessionConfigBuilder,
        ) -> session_api::config::SessionConfigBuilder,
    ) -> Self {
        let clock = ManualClock::new(START);
        let store = Arc::new(Counting {
            inner: MemoryStore::with_clock(Arc::new(clock.clone())),
            loads: AtomicUsize::new(0),
            saves: AtomicUsize::new(0),
            deletes: AtomicUsize::new(0),
        });
        let builder =
            SessionConfig::builder(SecretKeys::new("test-secret")).clock(Arc::new(clock.clone()));
        let config = Arc::new(f(builder).build().unwrap());
        Fixture {
            backend: SessionBackend::from_nonblocking_sync(store.clone()),
            store,
            config,
            clock,
        }
    }

    pub fn session(&self, key: Option<&str>) -> Session {
        Session::new(self.backend.clone(), self.config.clone(), key)
    }

    /// A saved session holding `{"a": 1}`; returns its key.
    pub fn saved(&self) -> SessionKey {
        let s = self.session(None);
        s.set("a", &1).unwrap();
        s.save().unwrap();
        s.session_key().unwrap()
    }
}
