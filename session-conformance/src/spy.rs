//! A transparent wrapper that records the store calls a case makes, so the kit can
//! check what was *not* done (no load before first access, no write when unmodified,
//! new record written before the old one is deleted). It forwards the optional
//! operations too (lookup, versioned saves, touch, the account index), declaring
//! exactly what the wrapped store declares.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use session_api::store::{AccountSession, AccountSessions, AsyncAccountSessions, Lookup, Version};
use session_api::{
    AsyncSessionStore, Capabilities, Error, KeyGenerator, Record, Result, SaveMode, SessionBackend,
    SessionData, SessionKey, SessionStore,
};
use time::OffsetDateTime;

/// One recorded store call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `exists`/`aexists`.
    Exists,
    /// `load`/`aload`, and `lookup`/`alookup` (the same read, telling an expired
    /// record from a missing one).
    Load,
    /// `save`/`asave` with its mode.
    Save {
        /// The mode.
        mode: SaveMode,
    },
    /// `create`/`acreate` (and their `_with` forms).
    Create,
    /// `save_if`/`asave_if` (rule V1).
    SaveIf,
    /// `touch`/`atouch` (rule V4).
    Touch,
    /// A call on the account index (rule S5): list, revoke all, revoke all but one.
    Accounts,
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

    /// How many writes (save, create, versioned save, touch) were made.
    pub fn writes(&self) -> usize {
        self.calls()
            .iter()
            .filter(|c| {
                matches!(
                    c,
                    Call::Save { .. } | Call::Create | Call::SaveIf | Call::Touch
                )
            })
            .count()
    }

    /// How many calls matched `call`.
    pub fn count(&self, call: &Call) -> usize {
        self.calls().iter().filter(|c| *c == call).count()
    }
}

/// The error of an account call when the wrapped store has no index: what the
/// store's own default says.
fn no_index() -> Error {
    Error::Unsupported("account index")
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
    fn lookup(&self, key: &SessionKey) -> Result<Lookup> {
        self.record(Call::Load);
        self.inner.sync().lookup(key)
    }
    fn save_if(&self, record: &Record, expected: Version) -> Result<Version> {
        self.record(Call::SaveIf);
        self.inner.sync().save_if(record, expected)
    }
    fn touch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        self.record(Call::Touch);
        self.inner.sync().touch(key, expires_at)
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
    fn accounts(&self) -> Option<&dyn AccountSessions> {
        self.inner
            .sync()
            .accounts()
            .map(|_| self as &dyn AccountSessions)
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
    async fn alookup(&self, key: &SessionKey) -> Result<Lookup> {
        self.record(Call::Load);
        self.inner.nonblocking().alookup(key).await
    }
    async fn asave_if(&self, record: &Record, expected: Version) -> Result<Version> {
        self.record(Call::SaveIf);
        self.inner.nonblocking().asave_if(record, expected).await
    }
    async fn atouch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        self.record(Call::Touch);
        self.inner.nonblocking().atouch(key, expires_at).await
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
    fn accounts(&self) -> Option<&dyn AsyncAccountSessions> {
        self.inner
            .nonblocking()
            .accounts()
            .map(|_| self as &dyn AsyncAccountSessions)
    }
}

impl AccountSessions for Spy {
    fn list_sessions(&self, account: i64) -> Result<Vec<AccountSession>> {
        self.record(Call::Accounts);
        let index = self.inner.sync().accounts().ok_or_else(no_index)?;
        index.list_sessions(account)
    }
    fn revoke_all(&self, account: i64) -> Result<u64> {
        self.record(Call::Accounts);
        let index = self.inner.sync().accounts().ok_or_else(no_index)?;
        index.revoke_all(account)
    }
    fn revoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64> {
        self.record(Call::Accounts);
        let index = self.inner.sync().accounts().ok_or_else(no_index)?;
        index.revoke_all_except(account, current)
    }
}

#[async_trait]
impl AsyncAccountSessions for Spy {
    async fn alist_sessions(&self, account: i64) -> Result<Vec<AccountSession>> {
        self.record(Call::Accounts);
        let index = self.inner.nonblocking().accounts().ok_or_else(no_index)?;
        index.alist_sessions(account).await
    }
    async fn arevoke_all(&self, account: i64) -> Result<u64> {
        self.record(Call::Accounts);
        let index = self.inner.nonblocking().accounts().ok_or_else(no_index)?;
        index.arevoke_all(account).await
    }
    async fn arevoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64> {
        self.record(Call::Accounts);
        let index = self.inner.nonblocking().accounts().ok_or_else(no_index)?;
        index.arevoke_all_except(account, current).await
    }
}
