//! Versions (rule V1), versioned writes and touches (rule V4).
//!
//! A file's version is the digest of its bytes and its modification time: the bytes
//! are the data (Django's format, unchanged) and the time is the expiry, so a write
//! that changes either changes the version (V3), a Django process's writes included.

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;

use session_api::{Error, Record, Result, SessionKey, Version};
use tempfile::NamedTempFile;
use time::OffsetDateTime;

use super::entry::{lock_entry, remove_if_present, Entry};
use super::{FileStore, Found};
use crate::digest::version_of;

/// The version of a file holding `bytes` with the modification time of `meta`.
pub(super) fn version(bytes: &[u8], meta: &Metadata) -> Version {
    let mut stamped = Vec::with_capacity(bytes.len() + 16);
    stamped.extend_from_slice(bytes);
    stamped.extend_from_slice(&meta.mtime().to_be_bytes());
    stamped.extend_from_slice(&meta.mtime_nsec().to_be_bytes());
    version_of(&stamped)
}

impl FileStore {
    /// `record` encoded into a new temporary file with the modification time that
    /// makes it expire at its `expires_at`, and the version it will have once renamed
    /// into place (the time as the file system stored it).
    pub(super) fn write_record(
        &self,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<(NamedTempFile, Version)> {
        let mtime = self.mtime_for(&record.data, record.expires_at, now);
        let content = self.codec.encode(&record.data)?;
        let temp = self.write_temp(content.as_bytes(), mtime)?;
        let meta = temp.as_file().metadata().map_err(Error::backend)?;
        Ok((temp, version(content.as_bytes(), &meta)))
    }

    /// Replaces the live file of `record.key` if `check` accepts what is stored, all
    /// under the file's lock; returns the new version. A missing, non-regular or
    /// expired file is [`Error::Update`] (D5).
    pub(super) fn write_over(
        &self,
        record: &Record,
        now: OffsetDateTime,
        check: impl FnOnce(&Found) -> Result<()>,
    ) -> Result<Version> {
        let path = self.path_for(record.key.as_str())?;
        let (temp, version) = self.write_record(record, now)?;
        // S5: the index entry is locked before the session file (the order every
        // holder of both takes) and held until the new content is in place.
        let _filed = self.file_under_account(&record.key, &record.data)?;
        let Entry::Regular(file, meta) = lock_entry(&path)? else {
            return Err(Error::Update);
        };
        let found = self.read_found(&file, &meta)?;
        if self.is_expired(&found, now) {
            remove_if_present(&path)?;
            return Err(Error::Update);
        }
        check(&found)?;
        self.replace(temp, &path)?;
        // Unlocked only once the new content is in place.
        drop(file);
        Ok(version)
    }

    /// [`touch`](session_api::SessionStore::touch): sets the modification time that
    /// makes the live file of `key` expire at `expires_at`, under its lock. A file this
    /// process may not re-time (another user's, e.g. a Django process's) is rewritten
    /// instead, with the same data.
    pub(super) fn touch_file(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        let path = self.path_for(key.as_str())?;
        let now = self.clock.now();
        let Entry::Regular(file, meta) = lock_entry(&path)? else {
            return Err(Error::Update);
        };
        let found = self.read_found(&file, &meta)?;
        if self.is_expired(&found, now) {
            remove_if_present(&path)?;
            return Err(Error::Update);
        }
        // An empty or undecodable file loads as no session: nothing to refresh.
        let Some(data) = found.data else {
            return Err(Error::Update);
        };
        let mtime = self.mtime_for(&data, expires_at, now);
        match file.set_modified(mtime).and_then(|()| file.sync_all()) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
                let record = Record::new(key.clone(), data, expires_at);
                let (temp, _) = self.write_record(&record, now)?;
                self.replace(temp, &path)?;
            }
            Err(err) => return Err(Error::backend(err)),
        }
        // Unlocked only once the new time is in place.
        drop(file);
        Ok(())
    }
}
