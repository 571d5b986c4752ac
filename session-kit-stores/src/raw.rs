//! Raw access for the kit, over the stores' inherent `write_raw`/`read_raw`.

use std::sync::Arc;

use session_conformance::RawRecords;

/// A store of `session-stores` seen through [`RawRecords`] (implemented for the
/// file, database and cache stores, as their features allow).
#[derive(Debug)]
pub struct Raw<S>(pub Arc<S>);

impl<S> Raw<S>
where
    Raw<S>: RawRecords + 'static,
{
    /// Raw access to `store`, as [`session_conformance::Harness::with_raw`] takes it.
    pub fn of(store: &Arc<S>) -> Arc<dyn RawRecords> {
        Arc::new(Raw(Arc::clone(store)))
    }
}

#[cfg(any(
    feature = "file",
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "cache"
))]
mod impls {
    use async_trait::async_trait;
    use session_api::{Result, SessionKey};
    use session_conformance::RawRecords;
    use time::OffsetDateTime;

    use super::Raw;

    #[cfg(feature = "file")]
    #[async_trait]
    impl RawRecords for Raw<session_stores::file::FileStore> {
        async fn write_raw(
            &self,
            key: &SessionKey,
            raw: &str,
            expires_at: OffsetDateTime,
        ) -> Result<()> {
            self.0.write_raw(key, raw, expires_at)
        }
        async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
            self.0.read_raw(key)
        }
    }

    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    #[async_trait]
    impl RawRecords for Raw<session_stores::db::DbStore> {
        async fn write_raw(
            &self,
            key: &SessionKey,
            raw: &str,
            expires_at: OffsetDateTime,
        ) -> Result<()> {
            self.0.write_raw(key, raw, expires_at).await
        }
        async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
            Ok(self.0.read_raw(key).await?.map(|(text, _)| text))
        }
    }

    #[cfg(feature = "cache")]
    #[async_trait]
    impl RawRecords for Raw<session_stores::cache::CacheStore> {
        async fn write_raw(
            &self,
            key: &SessionKey,
            raw: &str,
            expires_at: OffsetDateTime,
        ) -> Result<()> {
            self.0.write_raw(key, raw, expires_at).await
        }
        async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
            // Django's format is binary (a pickle): shown lossily, as text.
            let bytes = self.0.read_raw(key).await?;
            Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
        }
    }
}
