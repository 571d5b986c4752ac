//! The write path: temporary files, and their rename into place.

use std::io::{self, Write};
use std::path::Path;
use std::time::SystemTime;

use session_api::{Error, Result};
use tempfile::NamedTempFile;
use time::OffsetDateTime;

use super::entry::{lock_entry, remove_if_present, still_named, sync_dir, try_lock, Entry};
use super::{FileStore, TEMP_RANDOM_LEN, TEMP_SUFFIX};

impl FileStore {
    /// The content in a new temporary file of the directory, synced, with its
    /// modification time set, locked for as long as it lives (so that `clear_expired`
    /// never takes it for a leftover).
    pub(super) fn write_temp(&self, content: &[u8], mtime: SystemTime) -> Result<NamedTempFile> {
        let mut temp = self.locked_temp()?;
        temp.write_all(content).map_err(Error::backend)?;
        temp.as_file().set_modified(mtime).map_err(Error::backend)?;
        temp.as_file().sync_all().map_err(Error::backend)?;
        Ok(temp)
    }

    /// A new empty temporary file, locked by us and still named. Only a sweeper that
    /// judged it past the grace period (a grace of zero, or clock skew) can have
    /// locked it first, in the instant between its creation and our lock: the sweeper
    /// then removes it (under its lock), and we take another.
    fn locked_temp(&self) -> Result<NamedTempFile> {
        for _ in 0..3 {
            let temp = tempfile::Builder::new()
                .prefix(&self.temp_prefix)
                .suffix(TEMP_SUFFIX)
                .rand_bytes(TEMP_RANDOM_LEN)
                .tempfile_in(&self.dir)
                .map_err(Error::backend)?;
            // Locked, and not removed by a sweeper that held the lock before us.
            if try_lock(temp.as_file())? {
                let meta = temp.as_file().metadata().map_err(Error::backend)?;
                if still_named(temp.path(), &meta)? == Some(true) {
                    return Ok(temp);
                }
            }
        }
        Err(Error::unavailable(
            "clear_expired keeps taking the new temporary files: its grace period is too short",
        ))
    }

    /// Renames `temp` over `path` (the caller holds the lock of what is there).
    pub(super) fn replace(&self, temp: NamedTempFile, path: &Path) -> Result<()> {
        // On failure the temp file is dropped, which deletes it.
        temp.persist(path)
            .map_err(|err| Error::backend(err.error))?;
        sync_dir(&self.dir);
        Ok(())
    }

    /// Renames `temp` to `path` if the name is free; an expired file there is deleted
    /// first (under its lock, so of two creators exactly one wins).
    pub(super) fn create(
        &self,
        mut temp: NamedTempFile,
        path: &Path,
        now: OffsetDateTime,
    ) -> Result<()> {
        for _ in 0..2 {
            match temp.persist_noclobber(path) {
                Ok(_) => {
                    sync_dir(&self.dir);
                    return Ok(());
                }
                Err(err) if err.error.kind() == io::ErrorKind::AlreadyExists => {
                    temp = err.file;
                    match lock_entry(path)? {
                        // Removed in the meantime: try again.
                        Entry::Missing => {}
                        Entry::NotRegular => return Err(Error::Create),
                        Entry::Regular(file, meta) => {
                            if !self.is_expired(&self.read_found(&file, &meta)?, now) {
                                return Err(Error::Create);
                            }
                            remove_if_present(path)?;
                        }
                    }
                }
                Err(err) => return Err(Error::backend(err.error)),
            }
        }
        Err(Error::Create)
    }
}
