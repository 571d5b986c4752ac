//! A transparent wrapper that records the store calls a case makes, so the kit can
//! check what was *not* done (no load before first access, no write when unmodified,
//! new record written before the old one is deleted).

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use session_api::{
    AsyncSessionStore, Capabilities, KeyGenerator, Record, Result, SaveMode, SessionBackend,
    SessionData, SessionKey, SessionStore,
};
use time::OffsetDateTime;

/// One recorded store call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `exists`/`aexists`.
    Exists,
    /// `load`/`aload`.
    Load,
    /// `save`/`asave` with its mode.
    Save {
        /// The mode.
        mode: SaveMode,
    },
    /// `create`/`acreate` (and their `_with` forms).
    Create,
    /// `delete`/`adelete`.
    Delete,
    /// `clear_expired`/`aclear_expired`.
    ClearExpired,
}

/// Records calls, forwards them to the wrapped backend's matching side.
#[derive(Debug, Clone)]
pub struct Spy {
    inner: SessionBackend,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Spy {
    /// Wraps `inner`; returns the spy and a backend that goes through it.
    pub fn wrap(inner: SessionBackend) -> (Spy, SessionBackend) {
        let spy = Spy {
            inner,
            calls: Arc::default(),
        };
        let backend = SessionBackend::from_both(Arc::new(spy.clone()));
        (spy, backend)
    }

    fn record(&self, call: Call) {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(call);
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forgets the calls so far.
    pub fn reset(&self) {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// How many writes (save, create) were made.
    pub fn writes(&self) -> usize {
        self.calls()
            .iter()
            .filter(|c| matches!(c, Call::Save { .. } | Call::Create))
            .count()
    }
}

impl SessionStore for Spy {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn exists(&self, key: &SessionKey) -> Result<bool> {
        self.record(Call::Exists);
        self.inner.sync().exists(key)
    }
    fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        self.record(Call::Load);
        self.inner.sync().load(key)
    }
    fn save(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        self.record(Call::Save { mode });
        self.inner.sync().save(record, mode)
    }
    fn create(&self, data: &SessionData, expires_at: OffsetDateTime) -> Result<SessionKey> {
        self.record(Call::Create);
        self.inner.sync().create(data, expires_at)
    }
    fn create_with(
        &self,
        data: &SessionData,
        expires_at: OffsetDateTime,
        keys: &dyn KeyGenerator,
    ) -> Result<SessionKey> {
        self.record(Call::Create);
        self.inner.sync().create_with(data, expires_at, keys)
    }
    fn delete(&self, key: &SessionKey) -> Result<()> {
        self.record(Call::Delete);
        self.inner.sync().delete(key)
    }
    fn clear_expired(&self) -> Result<u64> {
        self.record(Call::ClearExpired);
        self.inner.sync().clear_expired()
    }
}

#[async_trait]
impl AsyncSessionStore for Spy {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        self.record(Call::Exists);
        self.inner.nonblocking().aexists(key).await
    }
    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        self.record(Call::Load);
        self.inner.nonblocking().aload(key).await
    }
    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        self.record(Call::Save { mode });
        self.inner.nonblocking().asave(record, mode).await
    }
    async fn acreate(&self, data: &SessionData, expires_at: OffsetDateTime) -> Result<SessionKey> {
        self.record(Call::Create);
        self.inner.nonblocking().acreate(data, expires_at).await
    }
    async fn acreate_with(
        &self,
        data: &SessionData,
        expires_at: OffsetDateTime,
        keys: &dyn KeyGenerator,
    ) -> Result<SessionKey> {
        self.record(Call::Create);
        self.inner
            .nonblocking()
            .acreate_with(data, expires_at, keys)
            .await
    }
    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        self.record(Call::Delete);
        self.inner.nonblocking().adelete(key).await
    }
    async fn aclear_expired(&self) -> Result<u64> {
        self.record(Call::ClearExpired);
        self.inner.nonblocking().aclear_expired().await
    }
}
