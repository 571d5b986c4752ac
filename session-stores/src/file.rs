//! Django's file backend (`django.contrib.sessions.backends.file`, rule E5).
//!
//! One file per session in a directory: the file name is the cookie name followed by
//! the key (`sessionid` + `abcd…`), the content is Django's `session_data` encoding
//! ([`SessionCodec::encode`], rule F6), so a Django site sharing the directory and the
//! secret reads the same files.
//!
//! # Guarantees
//!
//! - **Keys never escape the directory.** Keys are validated [`SessionKey`]s, and the
//!   path builder ([`FileStore::path_for`]) checks again that the key is 8 to 40
//!   characters of `[a-z0-9]` before a path is built ([`Error::InvalidKey`]
//!   otherwise, rules E5, H1).
//! - **No torn files.** Every write goes to a temporary file in the same directory
//!   (named `.` + cookie name + random + `.tmp`, a name that can never be read as a
//!   session), which is flushed to disk (`fsync`) and then renamed over the session
//!   file. Readers see the old or the new content, never a mix; concurrent writers to
//!   one key leave exactly one writer's complete content. No lock files.
//! - **Durability.** The content and modification time are synced before the rename;
//!   on Unix the directory is synced after it (a failure there is logged, not
//!   returned). A save that returned `Ok` survives a power loss on file systems that
//!   honour `fsync`.
//! - **Create is exclusive.** A save with [`SaveMode::Create`] claims the name with
//!   create-exclusive (`O_EXCL`), as Django does; an existing live file is
//!   [`Error::Create`]. An *expired* file counts as absent: it is deleted and the name
//!   claimed again.
//! - **Update never re-creates.** A save with [`SaveMode::Update`] on a missing or expired
//!   file is [`Error::Update`] (rule D5).
//! - **Private files.** Session files are created with mode `0600` on Unix.
//!
//! # Directory
//!
//! [`FileStore::from_config`] keeps the files in the system temp dir, Django's default
//! for `SESSION_FILE_PATH`; [`FileStore::from_config_in`] and [`FileStore::new`] take
//! the directory. It must exist (a [`Error::Configuration`] otherwise, rule E5); a
//! directory writable by every user is logged as a warning.
//!
//! # Expiry
//!
//! A file expires at `_session_expiry` when that is a datetime; otherwise at its
//! modification time plus `_session_expiry` seconds (an integer other than 0) or plus
//! the cookie age (absent or 0). It is expired when fewer than one whole second is left
//! (Django's `get_expiry_age() <= 0`). An expired file found by `load`, `exists` or a
//! save is deleted; [`FileStore::clear_expired`] sweeps the rest.
//!
//! The file's modification time is *set* at every save, from the store's clock, so
//! expiry depends only on the injected [`Clock`] (tests move a `ManualClock`). The time
//! written is the one that makes the file expire at the `expires_at` given to
//! [`SessionStore::save`] (the [`Record`]'s): `expires_at - _session_expiry` for an integer expiry,
//! `expires_at - cookie age` without one (through a [`session_api::Session`] both are
//! simply "now"), and "now" for a datetime expiry (which does not depend on it).
//!
//! Unlike Django, an integer `_session_expiry` is enforced when loading (Django's file
//! backend compares it with nothing and so never expires such a session on load).
//!
//! # Limits
//!
//! - Not an async store: it implements [`SessionStore`] only. Wrap it with
//!   [`SessionBackend::from_sync`](session_api::SessionBackend::from_sync), which runs
//!   it on tokio's blocking pool for the async side.
//! - Between the expiry check and the rename of an update, a concurrent delete (a
//!   logout in another request) can be undone by the rename; Django has the same
//!   window. Two creators racing on the *same expired* key can both succeed; keys are
//!   random (165 bits), so this needs a chosen key.
//! - A process that dies between writing the temporary file and renaming it leaves the
//!   `.tmp` file behind; it is never read as a session and can be removed at any time.
//!
//! ```
//! use std::sync::Arc;
//! use session_api::signing::SecretKeys;
//! use session_api::{Session, SessionBackend, SessionConfig};
//! use session_stores::file::FileStore;
//!
//! # fn main() -> session_api::Result<()> {
//! let dir = tempfile::tempdir().map_err(session_api::Error::backend)?;
//! let config = SessionConfig::builder(SecretKeys::new("s3cret")).build()?;
//! let store = FileStore::from_config_in(&config, dir.path())?;
//! let backend = SessionBackend::from_sync(Arc::new(store));
//! let session = Session::new(backend, Arc::new(config), None);
//! session.set("cart", &[3, 4])?;
//! session.save()?;
//! let key = session.session_key().map(|k| k.as_str().to_owned()).unwrap_or_default();
//! assert!(dir.path().join(format!("sessionid{key}")).is_file());
//! # Ok(())
//! # }
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration as StdDuration, SystemTime};

use session_api::data::SESSION_EXPIRY_KEY;
use session_api::key::{MAX_KEY_LEN, MIN_KEY_LEN};
use session_api::{
    Capabilities, Clock, Error, ExpiryValue, Record, Result, SaveMode, SessionCodec, SessionConfig,
    SessionData, SessionKey, SessionStore,
};
use time::{Duration, OffsetDateTime};

/// Suffix of temporary files; `.` is outside the key alphabet, so a temporary file is
/// never mistaken for a session whatever the cookie name.
const TEMP_SUFFIX: &str = ".tmp";

/// The file store (rule E5). See the [module documentation](self).
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    prefix: String,
    temp_prefix: String,
    cookie_age: i64,
    codec: SessionCodec,
    clock: Arc<dyn Clock>,
}

/// What is on disk under a session's name.
enum OnDisk {
    /// Nothing.
    Missing,
    /// Something that is not a regular file (a directory, a device...): never read,
    /// never deleted, but it occupies the name.
    NotRegular,
    /// A regular file.
    File(Found),
}

struct Found {
    /// The data; `None` when the file is empty (a create in progress) or undecodable.
    data: Option<SessionData>,
    /// When it expires (from the data's `_session_expiry`, else the file's mtime).
    expires_at: OffsetDateTime,
}

impl FileStore {
    /// A store keeping its files in `dir`, named `cookie_name + key`.
    ///
    /// `cookie_age` is `SESSION_COOKIE_AGE` in seconds; `codec` encodes the content
    /// (build it with the site's secret and the same `clock`); `clock` gives "now"
    /// for expiry and the modification times written.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] when `dir` does not exist or is not a directory, when
    /// `cookie_name` is empty or contains characters that are not allowed in a cookie
    /// name (which include `/` and `\`), or when `cookie_age` is not positive.
    pub fn new(
        dir: impl Into<PathBuf>,
        cookie_name: &str,
        cookie_age: i64,
        codec: SessionCodec,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let dir = dir.into();
        match fs::metadata(&dir) {
            Ok(meta) if meta.is_dir() => warn_if_world_writable(&dir, &meta),
            Ok(_) => {
                return Err(Error::configuration(format!(
                    "SESSION_FILE_PATH {} is not a directory",
                    dir.display()
                )))
            }
            Err(err) => {
                return Err(Error::configuration(format!(
                    "SESSION_FILE_PATH {} is not an accessible directory: {err}",
                    dir.display()
                )))
            }
        }
        if cookie_name.is_empty()
            || !cookie_name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
        {
            return Err(Error::configuration(format!(
                "the file store's prefix (SESSION_COOKIE_NAME) {cookie_name:?} is not a valid cookie name"
            )));
        }
        if cookie_age <= 0 {
            return Err(Error::configuration(format!(
                "SESSION_COOKIE_AGE must be positive, not {cookie_age}"
            )));
        }
        Ok(FileStore {
            dir,
            prefix: cookie_name.to_owned(),
            temp_prefix: format!(".{cookie_name}"),
            cookie_age,
            codec,
            clock,
        })
    }

    /// A store from the settings in the system temp dir (`std::env::temp_dir()`,
    /// Django's default for `SESSION_FILE_PATH`), with `SESSION_COOKIE_NAME`,
    /// `SESSION_COOKIE_AGE`, the secret keys, serializer and clock of `config`.
    ///
    /// The temp dir is usually writable by every user of the machine, who could then
    /// plant or read session files: give a private directory with
    /// [`from_config_in`](Self::from_config_in) in production (the store logs a
    /// warning for a world-writable directory).
    ///
    /// # Errors
    ///
    /// As [`FileStore::new`].
    pub fn from_config(config: &SessionConfig) -> Result<Self> {
        Self::from_config_in(config, std::env::temp_dir())
    }

    /// As [`from_config`](Self::from_config), keeping the files in `dir` (Django's
    /// `SESSION_FILE_PATH`), which must exist.
    ///
    /// # Errors
    ///
    /// As [`FileStore::new`].
    pub fn from_config_in(config: &SessionConfig, dir: impl Into<PathBuf>) -> Result<Self> {
        let codec = SessionCodec::new(
            &config.secret_keys,
            Arc::clone(&config.clock),
            Arc::clone(&config.serializer),
        );
        Self::new(
            dir,
            &config.cookie_name,
            config.cookie_age,
            codec,
            Arc::clone(&config.clock),
        )
    }

    /// The directory holding the session files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file name prefix (the cookie name).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The path of the session file of `key`: directory + prefix + key.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] unless `key` is 8 to 40 characters of `[a-z0-9]`: no path
    /// is built from anything else (rules E5, H1).
    pub fn path_for(&self, key: &str) -> Result<PathBuf> {
        if !is_valid_key(key) {
            return Err(Error::InvalidKey {
                reason: "not 8 to 40 characters of [a-z0-9]",
            });
        }
        let mut name = String::with_capacity(self.prefix.len() + key.len());
        name.push_str(&self.prefix);
        name.push_str(key);
        Ok(self.dir.join(name))
    }

    /// Stores `text` as the file of `key`, as is, live until `expires_at` when the text
    /// carries no `_session_expiry` (its mtime is set to `expires_at - cookie_age`). For
    /// tools and tests: importing Django's files, planting fixtures. Normal writes go
    /// through the session API.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] for a key outside `[a-z0-9]{8,40}`; [`Error::Backend`] when
    /// the file cannot be written.
    pub fn write_raw(
        &self,
        key: &SessionKey,
        text: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        let path = self.path_for(key.as_str())?;
        let mtime = expires_at
            .checked_sub(Duration::seconds(self.cookie_age))
            .and_then(to_system_time)
            .unwrap_or_else(SystemTime::now);
        self.write_atomically(&path, text.as_bytes(), mtime)
    }

    /// The stored text of `key`, expired or not; `None` when there is no file.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] for a malformed key; [`Error::Backend`] when the file
    /// cannot be read.
    pub fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
        match fs::read_to_string(self.path_for(key.as_str())?) {
            Ok(text) => Ok(Some(text)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Error::backend(err)),
        }
    }

    /// Reads what is stored under `path` (bounded by the codec's decoding limit).
    fn read_record(&self, path: &Path) -> Result<OnDisk> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(OnDisk::Missing),
            Err(err) => return Err(Error::backend(err)),
        };
        let meta = file.metadata().map_err(Error::backend)?;
        if !meta.is_file() {
            return Ok(OnDisk::NotRegular);
        }
        let mtime = meta
            .modified()
            .ok()
            .and_then(from_system_time)
            .unwrap_or_else(|| self.clock.now());
        let limit = self.codec.signer().limits().max_signed_len;
        let mut bytes = Vec::new();
        file.take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(Error::backend)?;
        let data = if bytes.is_empty() || bytes.len() > limit {
            None
        } else {
            match String::from_utf8(bytes) {
                Ok(text) => self.codec.decode_stored(&text),
                Err(_) => None,
            }
        };
        let expiry = ExpiryValue::from_stored(
            data.as_ref()
                .and_then(|data| data.get_value(SESSION_EXPIRY_KEY)),
        );
        Ok(OnDisk::File(Found {
            expires_at: expiry.date(mtime, self.cookie_age),
            data,
        }))
    }

    /// Django's `get_expiry_age(expiry=...) <= 0` at `now`.
    fn is_expired(&self, found: &Found, now: OffsetDateTime) -> bool {
        ExpiryValue::At(found.expires_at).age(now, self.cookie_age) <= 0
    }

    /// The modification time that makes a file holding `data` expire at `expires_at`.
    fn modification_for(
        &self,
        data: &SessionData,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> OffsetDateTime {
        let age = match ExpiryValue::from_stored(data.get_value(SESSION_EXPIRY_KEY)) {
            ExpiryValue::At(_) => return now,
            ExpiryValue::Seconds(seconds) if seconds != 0 => seconds,
            ExpiryValue::Absent | ExpiryValue::Seconds(_) => self.cookie_age,
        };
        expires_at
            .checked_sub(Duration::seconds(age))
            .unwrap_or(now)
    }

    /// Claims `path` with create-exclusive; an expired file there is removed first.
    fn claim(&self, path: &Path, mtime: SystemTime, now: OffsetDateTime) -> Result<()> {
        for _ in 0..2 {
            match open_exclusive(path) {
                Ok(file) => {
                    if let Err(err) = file.set_modified(mtime) {
                        drop(file);
                        remove_if_present(path)?;
                        return Err(Error::backend(err));
                    }
                    return Ok(());
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                    match self.read_record(path)? {
                        OnDisk::File(found) if self.is_expired(&found, now) => {
                            remove_if_present(path)?;
                        }
                        // Removed in the meantime: try again.
                        OnDisk::Missing => {}
                        OnDisk::File(_) | OnDisk::NotRegular => return Err(Error::Create),
                    }
                }
                Err(err) => return Err(Error::backend(err)),
            }
        }
        Err(Error::Create)
    }

    /// Temp file in the same directory, synced, then renamed over `path`.
    fn write_atomically(&self, path: &Path, content: &[u8], mtime: SystemTime) -> Result<()> {
        let mut temp = tempfile::Builder::new()
            .prefix(&self.temp_prefix)
            .suffix(TEMP_SUFFIX)
            .tempfile_in(&self.dir)
            .map_err(Error::backend)?;
        temp.write_all(content).map_err(Error::backend)?;
        temp.as_file().set_modified(mtime).map_err(Error::backend)?;
        temp.as_file().sync_all().map_err(Error::backend)?;
        // On failure the temp file is dropped, which deletes it.
        temp.persist(path)
            .map_err(|err| Error::backend(err.error))?;
        sync_dir(&self.dir);
        Ok(())
    }
}

impl SessionStore for FileStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::server_side()
    }

    fn exists(&self, key: &SessionKey) -> Result<bool> {
        let path = self.path_for(key.as_str())?;
        match self.read_record(&path)? {
            OnDisk::Missing => Ok(false),
            OnDisk::NotRegular => Ok(true),
            OnDisk::File(found) => {
                if self.is_expired(&found, self.clock.now()) {
                    remove_if_present(&path)?;
                    Ok(false)
                } else {
                    Ok(true)
                }
            }
        }
    }

    fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        let path = self.path_for(key.as_str())?;
        match self.read_record(&path)? {
            OnDisk::Missing | OnDisk::NotRegular => Ok(None),
            OnDisk::File(found) => {
                if self.is_expired(&found, self.clock.now()) {
                    remove_if_present(&path)?;
                    Ok(None)
                } else {
                    let expires_at = found.expires_at;
                    Ok(found
                        .data
                        .map(|data| Record::new(key.clone(), data, expires_at)))
                }
            }
        }
    }

    fn save(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let path = self.path_for(record.key.as_str())?;
        let now = self.clock.now();
        let mtime = to_system_time(self.modification_for(&record.data, record.expires_at, now))
            .or_else(|| to_system_time(now))
            .unwrap_or_else(SystemTime::now);
        let content = self.codec.encode(&record.data)?;
        match mode {
            SaveMode::Create => {
                self.claim(&path, mtime, now)?;
                if let Err(err) = self.write_atomically(&path, content.as_bytes(), mtime) {
                    // Release the name this save claimed (the rename did not happen).
                    remove_if_present(&path)?;
                    return Err(err);
                }
            }
            SaveMode::Update => {
                match self.read_record(&path)? {
                    OnDisk::Missing | OnDisk::NotRegular => return Err(Error::Update),
                    OnDisk::File(found) if self.is_expired(&found, now) => {
                        remove_if_present(&path)?;
                        return Err(Error::Update);
                    }
                    OnDisk::File(_) => {}
                }
                self.write_atomically(&path, content.as_bytes(), mtime)?;
            }
        }
        Ok(record.key.clone())
    }

    fn delete(&self, key: &SessionKey) -> Result<()> {
        let path = self.path_for(key.as_str())?;
        remove_if_present(&path)
    }

    /// Removes the expired session files of this store: regular files named prefix +
    /// a valid key. Other files (other prefixes, temporary files, directories) are
    /// never touched, and no file is created. A file that cannot be read is logged and
    /// skipped.
    fn clear_expired(&self) -> Result<u64> {
        let now = self.clock.now();
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir).map_err(Error::backend)? {
            let entry = entry.map_err(Error::backend)?;
            let name = entry.file_name();
            let Some(key) = name.to_str().and_then(|n| n.strip_prefix(&self.prefix)) else {
                continue;
            };
            if !is_valid_key(key) || !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let path = self.path_for(key)?;
            match self.read_record(&path) {
                Ok(OnDisk::File(found)) if self.is_expired(&found, now) => {
                    match fs::remove_file(&path) {
                        Ok(()) => removed += 1,
                        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                        Err(err) => {
                            tracing::warn!(error = %err, "could not remove an expired session file")
                        }
                    }
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "could not read a session file"),
            }
        }
        Ok(removed)
    }
}

/// 8 to 40 characters of `[a-z0-9]` (rules A2, H1), checked again here before any path
/// is built.
fn is_valid_key(key: &str) -> bool {
    (MIN_KEY_LEN..=MAX_KEY_LEN).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn open_exclusive(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(Error::backend(err)),
    }
}

/// Makes the rename durable (Unix). A failure is logged: the data itself is synced.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(err) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(error = %err, "could not sync the session directory");
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(unix)]
fn warn_if_world_writable(dir: &Path, meta: &fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o002 != 0 {
        tracing::warn!(
            dir = %dir.display(),
            "the session directory is writable by every user; give the file store a private directory (FileStore::from_config_in)"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_world_writable(_dir: &Path, _meta: &fs::Metadata) {}

/// `at` as a `SystemTime`, if representable.
fn to_system_time(at: OffsetDateTime) -> Option<SystemTime> {
    let secs = at.unix_timestamp();
    let nanos = StdDuration::from_nanos(u64::from(at.nanosecond()));
    let whole = if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(StdDuration::from_secs(secs.unsigned_abs()))
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(StdDuration::from_secs(secs.unsigned_abs()))
    };
    whole?.checked_add(nanos)
}

/// A file time as an `OffsetDateTime`, if representable (never panics on odd mtimes).
fn from_system_time(at: SystemTime) -> Option<OffsetDateTime> {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => OffsetDateTime::UNIX_EPOCH.checked_add(Duration::try_from(after).ok()?),
        Err(before) => {
            OffsetDateTime::UNIX_EPOCH.checked_sub(Duration::try_from(before.duration()).ok()?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn time_conversions_round_trip_and_never_panic() {
        for at in [
            datetime!(2026-01-01 0:00 UTC),
            datetime!(2026-01-01 0:00:00.123456789 UTC),
            datetime!(1969-12-31 23:59:59.5 UTC),
            datetime!(1900-01-01 0:00 UTC),
        ] {
            let system = to_system_time(at).unwrap();
            assert_eq!(from_system_time(system), Some(at));
        }
        let _ = to_system_time(OffsetDateTime::new_utc(
            time::Date::MAX,
            time::Time::MIDNIGHT,
        ));
        let _ = to_system_time(OffsetDateTime::new_utc(
            time::Date::MIN,
            time::Time::MIDNIGHT,
        ));
    }

    #[test]
    fn h1_key_check_is_independent_of_session_key() {
        assert!(is_valid_key("abcdefgh"));
        assert!(is_valid_key(&"a".repeat(40)));
        for bad in [
            "",
            "abcdefg",
            "../abcdefgh",
            "ABCDEFGH",
            "abcdefgh/",
            "abcdéfgh",
            "abcd\0efgh",
        ] {
            assert!(!is_valid_key(bad), "{bad:?}");
        }
        assert!(!is_valid_key(&"a".repeat(41)));
    }
}
