//! Kit factories of [`HashedIds`] (rule S3): the store of any other factory of this
//! crate with its ids hashed at rest. The kit runs on the wrapper; raw access (where
//! the store has it) reads and writes the stored text under the stored id of a key,
//! and [`HashedIdsAccess`] shows the kit the store below, as a dump would.
//!
//! ```no_run
//! // session-stores/tests/kit_hashed_ids_db_sqlite.rs (`harness = false`)
//! use session_kit_stores::db::{db, Database};
//! use session_kit_stores::hashed_ids::hashed;
//! use session_stores::hashed_ids::HashMode;
//!
//! fn main() -> std::process::ExitCode {
//!     session_conformance::test_main(|env| async {
//!         hashed(db(Database::ScratchSqlite, env).await?, HashMode::Hashed)
//!     })
//! }
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use session_api::{
    AccountSessions, AsyncAccountSessions, AsyncSessionStore, Capabilities, KeyGenerator, Lookup,
    Record, Result, SaveMode, SessionBackend, SessionData, SessionKey, SessionStore, Version,
};
use session_conformance::{Harness, HashedIdsAccess, RawRecords};
use session_stores::hashed_ids::{stored_id, HashMode, HashedIds};
use time::OffsetDateTime;

/// `harness` with its store behind [`HashedIds`] in `mode`: the kit's cases run on
/// the wrapper, raw access goes to the stored ids, and the S3 cases get the store
/// below. What the harness keeps alive (its table, its keys) stays.
///
/// # Errors
///
/// As [`HashedIds::new`]: the harness's store must keep its records on the server
/// under id keys.
pub fn hashed(mut harness: Harness, mode: HashMode) -> Result<Harness> {
    let below = Arc::new(Below(harness.backend.clone()));
    let store = Arc::new(HashedIds::new(Arc::clone(&below), mode)?);
    harness.backend = SessionBackend::from_both(store);
    harness.raw = harness
        .raw
        .take()
        .map(|raw| Arc::new(HashedRaw(raw)) as Arc<dyn RawRecords>);
    Ok(harness.with_hashed_ids(Arc::new(Access { below })))
}

/// The kit factory of the memory store with hashed ids in `mode`.
#[cfg(feature = "memory")]
pub async fn hashed_memory(mode: HashMode, env: session_conformance::KitEnv) -> Result<Harness> {
    hashed(crate::memory(env).await?, mode)
}

/// A factory's backend as a store on both contracts, each call on its own side, so
/// that [`HashedIds`] can wrap whatever the factory built (its optional operations
/// included: versions, touch, the account index).
#[derive(Debug)]
struct Below(SessionBackend);

impl SessionStore for Below {
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    fn exists(&self, key: &SessionKey) -> Result<bool> {
        self.0.sync().exists(key)
    }
    fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        self.0.sync().load(key)
    }
    fn lookup(&self, key: &SessionKey) -> Result<Lookup> {
        self.0.sync().lookup(key)
    }
    fn save(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        self.0.sync().save(record, mode)
    }
    fn save_if(&self, record: &Record, expected: Version) -> Result<Version> {
        self.0.sync().save_if(record, expected)
    }
    fn touch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        self.0.sync().touch(key, expires_at)
    }
    fn create_with(
        &self,
        data: &SessionData,
        expires_at: OffsetDateTime,
        keys: &dyn KeyGenerator,
    ) -> Result<SessionKey> {
        self.0.sync().create_with(data, expires_at, keys)
    }
    fn delete(&self, key: &SessionKey) -> Result<()> {
        self.0.sync().delete(key)
    }
    fn clear_expired(&self) -> Result<u64> {
        self.0.sync().clear_expired()
    }
    fn accounts(&self) -> Option<&dyn AccountSessions> {
        self.0.sync().accounts()
    }
}

#[async_trait]
impl AsyncSessionStore for Below {
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        self.0.nonblocking().aexists(key).await
    }
    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        self.0.nonblocking().aload(key).await
    }
    async fn alookup(&self, key: &SessionKey) -> Result<Lookup> {
        self.0.nonblocking().alookup(key).await
    }
    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        self.0.nonblocking().asave(record, mode).await
    }
    async fn asave_if(&self, record: &Record, expected: Version) -> Result<Version> {
        self.0.nonblocking().asave_if(record, expected).await
    }
    async fn atouch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        self.0.nonblocking().atouch(key, expires_at).await
    }
    async fn acreate_with(
        &self,
        data: &SessionData,
        expires_at: OffsetDateTime,
        keys: &dyn KeyGenerator,
    ) -> Result<SessionKey> {
        self.0
            .nonblocking()
            .acreate_with(data, expires_at, keys)
            .await
    }
    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        self.0.nonblocking().adelete(key).await
    }
    async fn aclear_expired(&self) -> Result<u64> {
        self.0.nonblocking().aclear_expired().await
    }
    fn accounts(&self) -> Option<&dyn AsyncAccountSessions> {
        self.0.nonblocking().accounts()
    }
}

/// The kit's view below the wrapper.
#[derive(Debug)]
struct Access {
    below: Arc<Below>,
}

impl HashedIdsAccess for Access {
    fn stored_id(&self, key: &SessionKey) -> Result<SessionKey> {
        stored_id(key)
    }
    fn below(&self) -> Arc<dyn AsyncSessionStore> {
        Arc::clone(&self.below) as Arc<dyn AsyncSessionStore>
    }
    fn migrating_over(&self, below: Arc<dyn AsyncSessionStore>) -> Result<SessionBackend> {
        let store = HashedIds::new(below, HashMode::MigrateFromPlain)?;
        Ok(SessionBackend::from_async(Arc::new(store)))
    }
}

/// Raw access to the record of a key: the stored text under its stored id, so the
/// kit's raw cases (undecodable and Django-written records, F6) run on the wrapper.
#[derive(Debug)]
struct HashedRaw(Arc<dyn RawRecords>);

#[async_trait]
impl RawRecords for HashedRaw {
    async fn write_raw(
        &self,
        key: &SessionKey,
        raw: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        self.0.write_raw(&stored_id(key)?, raw, expires_at).await
    }
    async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
        self.0.read_raw(&stored_id(key)?).await
    }
}
