//! tower-sessions' stores (`tower-sessions-sqlx-store`, `tower-sessions-redis-store`)
//! through their `SessionStore` trait, as tower-sessions' middleware calls them.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::Value;
use session_api::SessionData;
use tower_sessions_core_014::session::{Id, Record};
use tower_sessions_core_014::SessionStore;

use super::expires;
use crate::error::{BenchError, Result};
use crate::payload::{Payload, COUNTER};
use crate::subject::Subject;

fn peer(err: tower_sessions_core_014::session_store::Error) -> BenchError {
    BenchError::peer("tower-sessions", err)
}

/// A tower-sessions store.
pub struct Tower<S> {
    store: S,
}

impl<S> Tower<S> {
    /// The column of `store`.
    pub fn new(store: S) -> Self {
        Tower { store }
    }
}

fn record(id: Id, data: &SessionData) -> Record {
    let data: HashMap<String, Value> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    Record {
        id,
        data,
        expiry_date: expires(),
    }
}

#[async_trait]
impl<S: SessionStore> Subject for Tower<S> {
    type Key = Id;
    type Saved = [Record; 2];

    async fn create(&self, payload: &Payload) -> Result<Id> {
        // tower-sessions builds the record from the session's data (as the store
        // trait of this project takes the data by reference and copies it).
        let mut record = record(Id::default(), &payload.data);
        self.store.create(&mut record).await.map_err(peer)?;
        Ok(record.id)
    }

    async fn load(&self, id: &Id) -> Result<()> {
        match self.store.load(id).await.map_err(peer)? {
            Some(_) => Ok(()),
            None => Err(BenchError::NotFound("tower-sessions load")),
        }
    }

    fn saved(&self, id: &Id, payload: &Payload) -> [Record; 2] {
        [1, 2].map(|n| record(*id, &payload.with_counter(n)))
    }

    async fn save(&self, records: &[Record; 2], n: u64) -> Result<()> {
        self.store
            .save(&records[(n % 2) as usize])
            .await
            .map_err(peer)
    }

    async fn cycle(&self, id: &Id, counter: u64) -> Result<()> {
        let mut record = self
            .store
            .load(id)
            .await
            .map_err(peer)?
            .ok_or(BenchError::NotFound("tower-sessions cycle"))?;
        record.data.insert(COUNTER.to_owned(), Value::from(counter));
        self.store.save(&record).await.map_err(peer)
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.store.delete(id).await.map_err(peer)
    }
}
