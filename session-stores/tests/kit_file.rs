//! The conformance kit on the file store (rule E5 and everything it shares with the
//! other server-side stores).
#![cfg(all(feature = "file", feature = "kit"))]

use std::sync::Arc;

use session_api::{Error, Result, SessionBackend, SessionCodec};
use session_conformance::{Harness, KitEnv};
use session_stores::file::FileStore;

async fn factory(env: KitEnv) -> Result<Harness> {
    // The case's own directory, removed when the case's harness is dropped.
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
    Ok(Harness::new(SessionBackend::from_sync(store.clone()))
        .with_raw(store, true)
        .keep_alive(dir))
}

session_conformance::conformance_tests!(factory);
