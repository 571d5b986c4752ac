//! Kit factories of the file store (rule E5): each case in a directory of its own,
//! removed when the case ends, with raw access to Django's `session_data` files and
//! the account index on (rule S5).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use session_api::{Error, Result, SessionBackend};
use session_conformance::{factory, Factory, Harness, KitEnv};
use session_stores::file::FileStore;

use crate::Raw;

/// The kit factory of the file store, in a new directory under the system's
/// temporary directory.
pub async fn file(env: KitEnv) -> Result<Harness> {
    harness_in(&env, &std::env::temp_dir())
}

/// The kit factory of the file store, each case in a new directory under `base`
/// (which must exist): `sessions check --store file:///base`.
pub fn file_in(base: PathBuf) -> Factory {
    factory(move |env| {
        let base = base.clone();
        async move { harness_in(&env, &base) }
    })
}

fn harness_in(env: &KitEnv, base: &Path) -> Result<Harness> {
    let dir = tempfile::Builder::new()
        .prefix(env.unique_name())
        .tempdir_in(base)
        .map_err(|e| {
            Error::configuration(format!(
                "cannot make a case directory in {}: {e}",
                base.display()
            ))
        })?;
    // The account index is opt-in: on, so the kit's S5 cases run.
    let store =
        Arc::new(FileStore::from_config_in(&env.config()?, dir.path())?.with_account_index(true));
    Ok(Harness::new(SessionBackend::from_sync(store.clone()))
        .with_raw(Raw::of(&store), true)
        .keep_alive(dir))
}
