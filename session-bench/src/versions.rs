//! The cost of versioned saves (issue 18, rule V1): the same store saving with
//! `asave_if` over the version it holds, beside the plain `asave`, in one run.
//!
//! On PostgreSQL the plain column is the store on Django's layout (no version
//! column), the versioned one the store on a table `migrate` gave the column: the
//! cost of the feature as a user turns it on. On Redis both columns are one store
//! with the default options, the plain save `SET XX PX`: on the machine's Redis
//! 7.0, which has no conditional `SET`, the versioned save runs a script that
//! compares a digest; on Valkey 9.1 (a server the run starts, [`crate::valkey`]),
//! it is the native `SET ... IFEQ` where the store can use it (the scripts
//! otherwise). The two Redis-protocol sections are built alike, so their rows
//! compare the servers' conditional writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde_json::Value;
use session_api::{AsyncSessionStore, Record, SessionKey, Version};
use session_stores::cache::{CacheStore, RedisCache};
use session_stores::db::{DbOptions, DbPool, DbStore, Versioning};

use crate::error::{BenchError, Result};
use crate::payload::{Payload, COUNTER};
use crate::section::{Column, Section, Table};
use crate::subject::{StoreBench, Subject};
use crate::subjects::expires;
use crate::subjects::ours::Ours;

/// A session as the versioned column saves it: its two records and the version
/// its last write left.
pub struct VersionedSaved {
    records: [Record; 2],
    version: Mutex<Version>,
}

/// One of this project's stores, saving with `asave_if`.
pub struct OursVersioned {
    store: Arc<dyn AsyncSessionStore>,
    /// The version each session's create left (read once, outside any timing).
    created: Mutex<HashMap<SessionKey, Version>>,
}

impl OursVersioned {
    /// The versioned column of `store`.
    pub fn new(store: Arc<dyn AsyncSessionStore>) -> Self {
        OursVersioned {
            store,
            created: Mutex::new(HashMap::new()),
        }
    }

    async fn version_of(&self, key: &SessionKey) -> Result<Version> {
        self.store
            .aload(key)
            .await?
            .and_then(|record| record.version)
            .ok_or(BenchError::NotFound("a versioned record"))
    }
}

#[async_trait]
impl Subject for OursVersioned {
    type Key = SessionKey;
    type Saved = VersionedSaved;

    async fn create(&self, payload: &Payload) -> Result<SessionKey> {
        let key = self.store.acreate(&payload.data, expires()).await?;
        let version = self.version_of(&key).await?;
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), version);
        Ok(key)
    }

    async fn load(&self, key: &SessionKey) -> Result<()> {
        self.version_of(key).await.map(drop)
    }

    fn saved(&self, key: &SessionKey, payload: &Payload) -> VersionedSaved {
        let created = self.created.lock().unwrap_or_else(PoisonError::into_inner);
        VersionedSaved {
            records: [1, 2].map(|n| Record::new(key.clone(), payload.with_counter(n), expires())),
            // Every prepared key was made by `create`; 0 would only cost one conflict.
            version: Mutex::new(created.get(key).copied().unwrap_or(Version::new(0))),
        }
    }

    async fn save(&self, saved: &VersionedSaved, n: u64) -> Result<()> {
        let expected = *saved.version.lock().unwrap_or_else(PoisonError::into_inner);
        let record = &saved.records[(n % 2) as usize];
        let written = self.store.asave_if(record, expected).await?;
        *saved.version.lock().unwrap_or_else(PoisonError::into_inner) = written;
        Ok(())
    }

    async fn cycle(&self, key: &SessionKey, counter: u64) -> Result<()> {
        let mut record = self
            .store
            .aload(key)
            .await?
            .ok_or(BenchError::NotFound("cycle"))?;
        let version = record.version.ok_or(BenchError::NotFound("a version"))?;
        record.data.insert(COUNTER.to_owned(), Value::from(counter));
        self.store.asave_if(&record, version).await?;
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<()> {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        Ok(self.store.adelete(key).await?)
    }
}

fn section(title: &str, versioned: Arc<dyn AsyncSessionStore>, plain: Ours) -> Section {
    Section {
        title: title.to_owned(),
        table: Table::Versions,
        columns: vec![
            Column::of(StoreBench::new(OursVersioned::new(versioned))),
            Column::of(StoreBench::new(plain)),
        ],
        keep: Vec::new(),
    }
}

/// PostgreSQL: `versioned_table` gets the version column from `migrate`,
/// `plain_table` is Django's layout; both on pools built alike.
pub async fn postgres(
    versioned_pool: DbPool,
    plain_pool: DbPool,
    options: impl Fn(&str) -> DbOptions,
) -> Result<Section> {
    let versioned = DbStore::new(
        versioned_pool,
        options("versioned_session").versioning(Versioning::Column("version".to_owned())),
    )?;
    versioned.migrate().await?;
    let plain = DbStore::new(
        plain_pool,
        options("plain_session").versioning(Versioning::Off),
    )?;
    plain.migrate().await?;
    Ok(section(
        "PostgreSQL, versioned vs plain saves",
        Arc::new(versioned),
        Ours::new(session_api::SessionBackend::from_async(Arc::new(plain))),
    ))
}

/// One store over `cache`, under `prefix`, saving both ways.
fn cache_section(title: &str, cache: RedisCache, prefix: &str) -> Section {
    let store = Arc::new(CacheStore::new(Arc::new(cache)).key_prefix(format!("{prefix}versions")));
    section(
        title,
        store.clone(),
        Ours::new(session_api::SessionBackend::from_async(store)),
    )
}

/// Redis: one store under `prefix`, saving both ways.
pub fn redis(cache: RedisCache, prefix: &str) -> Section {
    cache_section("Redis, versioned vs plain saves", cache, prefix)
}

/// Valkey 9.1 (the run's own server, [`crate::valkey`]): the same store as
/// [`redis`], on a server with the native conditional `SET`.
pub fn valkey(cache: RedisCache, prefix: &str) -> Section {
    cache_section(VALKEY_TITLE, cache, prefix)
}

/// The title of the Valkey section (`--only Valkey` selects it).
pub const VALKEY_TITLE: &str = "Valkey 9.1, versioned vs plain saves";
