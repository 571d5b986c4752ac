//! The conformance kit on the file store (rule E5 and everything it shares with the
//! other server-side stores).
#![cfg(feature = "file")]

use std::sync::Arc;

use async_trait::async_trait;
use session_api::{Error, Result, SessionBackend, SessionCodec, SessionKey};
use session_conformance::{Harness, KitEnv, RawRecords};
use session_stores::file::FileStore;
use tempfile::TempDir;
use time::OffsetDateTime;

/// Raw access to the store's files. Owns the case's directory: it is removed when the
/// case's harness is dropped.
#[derive(Debug)]
struct RawFiles {
    store: Arc<FileStore>,
    _dir: TempDir,
}

#[async_trait]
impl RawRecords for RawFiles {
    async fn write_raw(
        &self,
        key: &SessionKey,
        raw: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        self.store.write_raw(key, raw, expires_at)
    }

    async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
        self.store.read_raw(key)
    }
}

async fn factory(env: KitEnv) -> Result<Harness> {
    let dir = tempfile::Builder::new()
        .prefix(env.unique_name())
        .tempdir()
        .map_err(Error::backend)?;
    let codec = SessionCodec::new(
        &env.secret_keys(),
        env.clock(),
        Arc::new(session_api::JsonSerializer),
    );
    let store = Arc::new(FileStore::new(
        dir.path(),
        "sessionid",
        env.cookie_age(),
        codec,
        env.clock(),
    )?);
    let raw = Arc::new(RawFiles {
        store: Arc::clone(&store),
        _dir: dir,
    });
    Ok(Harness::new(SessionBackend::from_sync(store)).with_raw(raw, true))
}

session_conformance::conformance_tests!(factory);
