//! This project's stores, through the async side of a [`SessionBackend`] (what the
//! session handle and the middleware call): `acreate`, `aload`, `asave`, `adelete`.

use async_trait::async_trait;
use serde_json::Value;
use session_api::{Record, SaveMode, SessionBackend, SessionKey};

use super::expires;
use crate::error::{BenchError, Result};
use crate::payload::{Payload, COUNTER};
use crate::subject::Subject;

/// One of this project's stores.
pub struct Ours {
    backend: SessionBackend,
}

impl Ours {
    /// The store of `backend`.
    pub fn new(backend: SessionBackend) -> Self {
        Ours { backend }
    }
}

#[async_trait]
impl Subject for Ours {
    type Key = SessionKey;
    type Saved = [Record; 2];

    async fn create(&self, payload: &Payload) -> Result<SessionKey> {
        Ok(self
            .backend
            .nonblocking()
            .acreate(&payload.data, expires())
            .await?)
    }

    async fn load(&self, key: &SessionKey) -> Result<()> {
        match self.backend.nonblocking().aload(key).await? {
            Some(_) => Ok(()),
            None => Err(BenchError::NotFound("load")),
        }
    }

    fn saved(&self, key: &SessionKey, payload: &Payload) -> [Record; 2] {
        [1, 2].map(|n| Record::new(key.clone(), payload.with_counter(n), expires()))
    }

    async fn save(&self, records: &[Record; 2], n: u64) -> Result<()> {
        self.backend
            .nonblocking()
            .asave(&records[(n % 2) as usize], SaveMode::Update)
            .await?;
        Ok(())
    }

    async fn cycle(&self, key: &SessionKey, counter: u64) -> Result<()> {
        let store = self.backend.nonblocking();
        let mut record = store
            .aload(key)
            .await?
            .ok_or(BenchError::NotFound("cycle"))?;
        record.data.insert(COUNTER.to_owned(), Value::from(counter));
        store.asave(&record, SaveMode::Update).await?;
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<()> {
        Ok(self.backend.nonblocking().adelete(key).await?)
    }
}
