//! `clear_expired`: expired sessions and crash leftovers.

use std::fs::{self, Metadata};
use std::path::Path;

use session_api::{Error, Result};
use time::OffsetDateTime;

use super::entry::{open_entry, remove_if_present, still_named, try_lock, Entry};
use super::{is_valid_key, FileStore, Found, TEMP_RANDOM_LEN, TEMP_SUFFIX};

impl FileStore {
    /// [`clear_expired`](session_api::SessionStore::clear_expired), documented there.
    pub(super) fn sweep(&self) -> Result<u64> {
        let now = self.clock.now();
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir).map_err(Error::backend)? {
            let entry = entry.map_err(Error::backend)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            if let Some(key) = name.strip_prefix(&self.prefix).filter(|k| is_valid_key(k)) {
                match self.sweep_session(&self.path_for(key)?, now) {
                    Ok(true) => removed += 1,
                    Ok(false) => {}
                    Err(err) => tracing::warn!(error = %err, "could not sweep a session file"),
                }
            } else if self.is_temp_name(name) {
                if let Err(err) = self.sweep_temp(&entry.path(), now) {
                    tracing::warn!(error = %err, "could not sweep a temporary session file");
                }
            }
        }
        // After the session files, so the expired ones are counted above.
        if self.account_index {
            self.sweep_index();
        }
        Ok(removed)
    }

    /// `clear_expired` on one name of the session namespace: removes an expired file
    /// or an empty one (a claimed name) past the grace period.
    fn sweep_session(&self, path: &Path, now: OffsetDateTime) -> Result<bool> {
        let doomed = |found: &Found, meta: &Metadata| {
            self.is_expired(found, now) || (meta.len() == 0 && self.is_past_grace(meta, now))
        };
        let Entry::Regular(file, meta) = open_entry(path)? else {
            return Ok(false);
        };
        if !doomed(&self.read_found(&file, &meta)?, &meta) {
            return Ok(false);
        }
        drop(file);
        self.remove_locked_if(path, doomed)
    }

    /// `clear_expired` on one of this store's temporary files: removed when past the
    /// grace period and not locked by the save writing it.
    fn sweep_temp(&self, path: &Path, now: OffsetDateTime) -> Result<bool> {
        let Entry::Regular(file, meta) = open_entry(path)? else {
            return Ok(false);
        };
        if !self.is_past_grace(&meta, now)
            || !try_lock(&file)?
            || still_named(path, &meta)? != Some(true)
        {
            return Ok(false);
        }
        remove_if_present(path)?;
        Ok(true)
    }

    /// Whether `name` is one of this store's temporary files: temp prefix, exactly
    /// [`TEMP_RANDOM_LEN`] letters or digits, `.tmp`.
    fn is_temp_name(&self, name: &str) -> bool {
        name.strip_prefix(&self.temp_prefix)
            .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
            .is_some_and(|random| {
                random.len() == TEMP_RANDOM_LEN && random.bytes().all(|b| b.is_ascii_alphanumeric())
            })
    }
}
