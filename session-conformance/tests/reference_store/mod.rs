#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The kit's reference store: the simplest correct server-side store, keeping Django's
//! `session_data` text in a map. Its faults can be switched on to prove the kit fails.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
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
    /// An update of a missing record inserts it (an upsert).
    ResurrectsDeleted,
    /// Loading a missing key gives an empty record, so the handle keeps the key.
    AdoptsUnknownKeys,
    /// Every load writes the record back with a fresh expiry.
    WritesOnRead,
    /// Expired records still load.
    IgnoresExpiry,
    /// Load reports the default lifetime from now instead of the stored expiry.
    ForgetsExpiry,
}

#[derive(Debug)]
pub struct ReferenceStore {
    records: Mutex<HashMap<SessionKey, (String, OffsetDateTime)>>,
    codec: SessionCodec,
    clock: Arc<dyn Clock>,
    cookie_age: i64,
    fault: Fault,
    caps: Capabilities,
}

impl ReferenceStore {
    pub fn new(env: &KitEnv, fault: Fault) -> Self {
        ReferenceStore {
            records: Mutex::default(),
            codec: SessionCodec::new(&env.secret_keys(), env.clock(), Arc::new(JsonSerializer)),
            clock: env.clock(),
            cookie_age: env.cookie_age(),
            fault,
            caps: Capabilities::server_side(),
        }
    }

    fn live(&self, key: &SessionKey) -> Option<(String, OffsetDateTime)> {
        let now = self.clock.now();
        let records = self.records.lock().unwrap();
        records
            .get(key)
            .filter(|(_, at)| *at > now || self.fault == Fault::IgnoresExpiry)
            .cloned()
    }
}

#[async_trait]
impl AsyncSessionStore for ReferenceStore {
    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        Ok(self.live(key).is_some())
    }

    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        let Some((text, expires_at)) = self.live(key) else {
            let adopted = Record::new(key.clone(), Default::default(), self.clock.now());
            return Ok((self.fault == Fault::AdoptsUnknownKeys).then_some(adopted));
        };
        if self.fault == Fault::WritesOnRead {
            let at = self.clock.now() + time::Duration::seconds(self.cookie_age);
            self.records
                .lock()
                .unwrap()
                .insert(key.clone(), (text.clone(), at));
        }
        Ok(self.codec.try_decode(&text).ok().map(|data| {
            let expires_at = if self.fault == Fault::ForgetsExpiry {
                self.clock.now() + time::Duration::seconds(self.cookie_age)
            } else {
                expires_at
            };
            Record::new(key.clone(), data, expires_at)
        }))
    }

    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let text = self.codec.encode(&record.data)?;
        let now = self.clock.now();
        let mut records = self.records.lock().unwrap();
        let live = records.get(&record.key).is_some_and(|(_, at)| *at > now);
        match mode {
            SaveMode::Create if live => return Err(Error::Create),
            SaveMode::Update if !live && self.fault != Fault::ResurrectsDeleted => {
                return Err(Error::Update)
            }
            _ => {}
        }
        records.insert(record.key.clone(), (text, record.expires_at));
        Ok(record.key.clone())
    }

    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        self.records.lock().unwrap().remove(key);
        Ok(())
    }

    async fn aclear_expired(&self) -> Result<u64> {
        let now = self.clock.now();
        let mut records = self.records.lock().unwrap();
        let before = records.len();
        records.retain(|_, (_, at)| *at > now);
        Ok((before - records.len()) as u64)
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
        self.records
            .lock()
            .unwrap()
            .insert(key.clone(), (raw.to_owned(), expires_at));
        Ok(())
    }

    async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
        Ok(self
            .records
            .lock()
            .unwrap()
            .get(key)
            .map(|(t, _)| t.clone()))
    }
}

/// The reference store with raw access to its Django `session_data`.
pub fn harness(env: &KitEnv, fault: Fault) -> Harness {
    let store = Arc::new(ReferenceStore::new(env, fault));
    Harness::new(SessionBackend::from_async(store.clone())).with_raw(store, true)
}

/// A correct reference store that declares `caps`, without raw access.
pub fn bare_harness(env: &KitEnv, caps: Capabilities) -> Harness {
    let mut store = ReferenceStore::new(env, Fault::None);
    store.caps = caps;
    Harness::new(SessionBackend::from_async(Arc::new(store)))
}
