//! The account index (rule S5), opt-in: [`FileStore::with_account_index`].
//!
//! One empty marker file per session of an account,
//! `<dir>/.<cookie name>.accounts/<account>/<key>`: a name Django's file backend
//! never reads (it lists only names starting with the cookie name). A save files the
//! session under its data's account before renaming it into place; nothing else
//! writes the index on the save path. Markers are a superset: one left by an account
//! change or a delete is ignored at list time (each listed session is read and must
//! be live and still carry the account) and removed by `clear_expired`.
//!
//! Locks: a marker is `flock`ed by whoever creates or removes it, always before the
//! session file's lock, so a sweep never removes the marker of a save in flight.

use std::cell::Cell;
use std::fs::{self, DirBuilder, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use session_api::store::auth_account_id;
use session_api::{AccountSession, AccountSessions, Error, Result, SessionData, SessionKey};

use super::entry::{
    lock_entry, lock_exclusive, open_or_create, remove_if_present, still_named, sync_dir, Entry,
    LOCK_WAIT,
};
use super::{is_valid_key, FileStore, Found, Looked};

impl FileStore {
    /// This store with the account index (rule S5) on or off (off by default):
    /// [`accounts`](session_api::SessionStore::accounts) lists and revokes an account's
    /// sessions, and [`Capabilities::list_by_account`](session_api::Capabilities) is
    /// true.
    ///
    /// It keeps a marker file per session of an account in
    /// `<dir>/.<cookie name>.accounts/<account>/` (directories of mode `0700`, files
    /// of mode `0600`), safe across processes and restarts. Its cost: every save of a
    /// logged-in session opens and `flock`s its marker (creating it, with a directory
    /// sync, at the first save under an account), and a listing reads each listed
    /// session. Sessions written by a Django process sharing the directory are not
    /// indexed until saved here.
    #[must_use]
    pub fn with_account_index(mut self, yes: bool) -> Self {
        self.account_index = yes;
        self
    }

    /// The index's directory.
    fn index_dir(&self) -> PathBuf {
        let mut name = self.temp_prefix.clone();
        name.push_str(".accounts");
        self.dir.join(name)
    }

    /// The directory of `account`'s markers.
    fn account_dir(&self, account: i64) -> PathBuf {
        self.index_dir().join(account.to_string())
    }

    /// Files `key` under the account of `data` (when the index is on and the data has
    /// one): its marker, locked, to hold until the session file is in place.
    pub(super) fn file_under_account(
        &self,
        key: &SessionKey,
        data: &SessionData,
    ) -> Result<Option<File>> {
        let Some(account) = auth_account_id(data).filter(|_| self.account_index) else {
            return Ok(None);
        };
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            ensure_dir(&self.index_dir(), &self.dir)?;
            let dir = self.account_dir(account);
            ensure_dir(&dir, &self.index_dir())?;
            let path = dir.join(key.as_str());
            // `None`: a sweep removed the emptied directory meanwhile; make it again.
            if let Some((file, meta, created)) = open_or_create(&path)? {
                lock_exclusive(&file, deadline)?;
                if still_named(&path, &meta)? == Some(true) {
                    if created {
                        sync_dir(&dir);
                    }
                    return Ok(Some(file));
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::unavailable(
                    "the account index entry of a session kept being removed",
                ));
            }
        }
    }

    /// The keys filed under `account` (valid key names only); none when it has no
    /// directory. The index directory is checked as well as the account's: a link in
    /// either place is refused, never followed.
    fn filed(&self, account: i64) -> Result<Vec<SessionKey>> {
        let dir = self.account_dir(account);
        if !is_our_dir(&self.index_dir())? || !is_our_dir(&dir)? {
            return Ok(Vec::new());
        }
        let mut keys = Vec::new();
        for entry in fs::read_dir(&dir).map_err(Error::backend)? {
            let name = entry.map_err(Error::backend)?.file_name();
            if let Some(key) = name
                .to_str()
                .filter(|name| is_valid_key(name))
                .and_then(|name| SessionKey::parse(name).ok())
            {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    /// The session of `key` if it is live and belongs to `account`.
    fn live_for(&self, key: &SessionKey, account: i64) -> Result<Option<Found>> {
        Ok(match self.look(&self.path_for(key.as_str())?)? {
            Looked::Live(found) if belongs(&found, account) => Some(found),
            Looked::Live(_) | Looked::Missing | Looked::Expired => None,
        })
    }

    /// Deletes the live sessions of `account` but `keep`, each under its marker's and
    /// its file's locks, re-checking the account there; removes their markers (and
    /// stale ones). Returns how many live sessions went.
    fn revoke(&self, account: i64, keep: Option<&SessionKey>) -> Result<u64> {
        let dir = self.account_dir(account);
        let now = self.clock.now();
        let mut revoked = 0;
        for key in self.filed(account)? {
            if Some(&key) == keep {
                continue;
            }
            let marker = dir.join(key.as_str());
            let Entry::Regular(lock, _) = lock_entry(&marker)? else {
                continue;
            };
            let live = Cell::new(false);
            let removed = self.remove_locked_if(&self.path_for(key.as_str())?, |found, _| {
                live.set(!self.is_expired(found, now));
                belongs(found, account)
            })?;
            if removed && live.get() {
                revoked += 1;
            }
            remove_if_present(&marker)?;
            drop(lock);
        }
        Ok(revoked)
    }

    /// `clear_expired` on the index: removes the markers whose session is gone,
    /// expired or filed under another account, then the emptied account directories.
    /// Failures are logged and skipped.
    pub(super) fn sweep_index(&self) {
        let index = self.index_dir();
        match is_our_dir(&index) {
            Ok(true) => {}
            Ok(false) => return,
            Err(err) => {
                tracing::warn!(error = %err, "the account index of the session directory is refused");
                return;
            }
        }
        let accounts = match fs::read_dir(&index) {
            Ok(accounts) => accounts,
            Err(err) => {
                tracing::warn!(error = %err, "could not list the account index");
                return;
            }
        };
        for entry in accounts.flatten() {
            let Some(account) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<i64>().ok().filter(|a| a.to_string() == name))
            else {
                continue;
            };
            if let Err(err) = self.sweep_account(account) {
                tracing::warn!(error = %err, "could not sweep the account index");
            }
            // Fails, harmlessly, while markers remain or a save re-creates one.
            let _ = fs::remove_dir(self.account_dir(account));
        }
    }

    /// Removes the stale markers of `account`.
    fn sweep_account(&self, account: i64) -> Result<()> {
        let dir = self.account_dir(account);
        for key in self.filed(account)? {
            let marker = dir.join(key.as_str());
            let Entry::Regular(lock, _) = lock_entry(&marker)? else {
                continue;
            };
            if self.live_for(&key, account)?.is_none() {
                remove_if_present(&marker)?;
            }
            drop(lock);
        }
        Ok(())
    }
}

impl AccountSessions for FileStore {
    /// Reads each filed session: only live ones still carrying `account` are listed.
    fn list_sessions(&self, account: i64) -> Result<Vec<AccountSession>> {
        let mut sessions = Vec::new();
        for key in self.filed(account)? {
            if let Some(found) = self.live_for(&key, account)? {
                sessions.push(AccountSession::new(key, found.expires_at));
            }
        }
        sessions.sort_by(|a, b| (a.expires_at, &a.key).cmp(&(b.expires_at, &b.key)));
        Ok(sessions)
    }

    fn revoke_all(&self, account: i64) -> Result<u64> {
        self.revoke(account, None)
    }

    fn revoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64> {
        self.revoke(account, Some(current))
    }
}

/// Whether `found` is a session of `account`.
fn belongs(found: &Found, account: i64) -> bool {
    found
        .data
        .as_ref()
        .is_some_and(|data| auth_account_id(data) == Some(account))
}

/// Whether `path` is a directory of ours (`false`: nothing is there). A link, anything
/// else, or another user's directory is refused with [`Error::Backend`], as the store's
/// own default directory is: whoever can plant one could point the index elsewhere.
fn is_our_dir(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() && meta.uid() == rustix::process::geteuid().as_raw() => Ok(true),
        Ok(_) => Err(not_our_directory(path)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(Error::backend(err)),
    }
}

/// Makes the directory `path` (mode `0700`) in `parent` unless it is there; a link,
/// anything else or another user's directory under the name is refused, never followed.
fn ensure_dir(path: &Path, parent: &Path) -> Result<()> {
    if is_our_dir(path)? {
        return Ok(());
    }
    match DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {
            sync_dir(parent);
            Ok(())
        }
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            if is_our_dir(path)? {
                Ok(())
            } else {
                Err(not_our_directory(path))
            }
        }
        Err(err) => Err(Error::backend(err)),
    }
}

fn not_our_directory(path: &Path) -> Error {
    Error::backend(io::Error::other(format!(
        "{} (the file store's account index) is not a directory of this user",
        path.display()
    )))
}
