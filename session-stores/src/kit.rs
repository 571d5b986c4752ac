//! The conformance kit's raw access ([`RawRecords`]) for the stores of this crate
//! (feature `kit`): the `sessions check` command and the tests plant and read stored
//! records through it.

use async_trait::async_trait;
use session_api::{Result, SessionKey};
use session_conformance::RawRecords;
use time::OffsetDateTime;

#[cfg(feature = "file")]
#[async_trait]
impl RawRecords for crate::file::FileStore {
    async fn write_raw(
        &self,
        key: &SessionKey,
        raw: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        crate::file::FileStore::write_raw(self, key, raw, expires_at)
    }
    async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
        crate::file::FileStore::read_raw(self, key)
    }
}

#[cfg(feature = "db")]
#[async_trait]
impl RawRecords for crate::db::DbStore {
    async fn write_raw(
        &self,
        key: &SessionKey,
        raw: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        crate::db::DbStore::write_raw(self, key, raw, expires_at).await
    }
    async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
        Ok(crate::db::DbStore::read_raw(self, key)
            .await?
            .map(|(text, _)| text))
    }
}

#[cfg(feature = "cache")]
#[async_trait]
impl RawRecords for crate::cache::CacheStore {
    async fn write_raw(
        &self,
        key: &SessionKey,
        raw: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        crate::cache::CacheStore::write_raw(self, key, raw, expires_at).await
    }
    async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
        crate::cache::CacheStore::read_raw(self, key).await
    }
}
