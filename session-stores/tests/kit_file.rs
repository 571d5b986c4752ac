//! The conformance kit on the file store (rule E5 and everything it shares with the
//! other server-side stores).
#![cfg(feature = "file")]

use std::fs;
use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use session_api::{Error, Result, SessionBackend, SessionCodec, SessionKey};
use session_conformance::{Harness, KitEnv, RawRecords};
use session_stores::file::FileStore;
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

/// Raw access to the store's files. Owns the case's directory: it is removed when the
/// case's harness is dropped.
#[derive(Debug)]
struct RawFiles {
    store: Arc<FileStore>,
    cookie_age: i64,
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
        let path = self.store.path_for(key.as_str())?;
        fs::write(&path, raw).map_err(Error::backend)?;
        // Without a readable `_session_expiry`, a file expires at mtime + cookie age.
        let mtime = SystemTime::from(expires_at - Duration::seconds(self.cookie_age));
        fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_modified(mtime))
            .map_err(Error::backend)
    }

    async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
        match fs::read_to_string(self.store.path_for(key.as_str())?) {
            Ok(text) => Ok(Some(text)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Error::backend(err)),
        }
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
        cookie_age: env.cookie_age(),
        _dir: dir,
    });
    Ok(Harness::new(SessionBackend::from_sync(store)).with_raw(raw, true))
}

session_conformance::conformance_tests!(factory);
