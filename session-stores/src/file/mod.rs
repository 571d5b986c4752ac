//! Django's file backend (`django.contrib.sessions.backends.file`, rule E5).
//!
//! One file per session in a directory: the file name is the cookie name followed by
//! the key (`sessionid` + `abcd…`), the content is Django's `session_data` encoding
//! ([`SessionCodec::encode`], rule F6), so a Django site sharing the directory and the
//! secret reads the same files. Unix only: the guarantees below rest on `O_NOFOLLOW`,
//! `O_NONBLOCK` and `flock`.
//!
//! # Guarantees
//!
//! - **Keys never escape the directory.** Keys are validated [`SessionKey`]s, and the
//!   path builder ([`FileStore::path_for`]) checks again that the key is 8 to 40
//!   characters of `[a-z0-9]` before a path is built ([`Error::InvalidKey`]
//!   otherwise, rules E5, H1).
//! - **Links are never followed, nothing blocks.** Session files are opened with
//!   `O_NOFOLLOW | O_NONBLOCK` after an `lstat`, and `fstat` must say "regular file".
//!   Anything else under a session's name (a symlink, a FIFO, a socket, a device, a
//!   directory) is never read or written through: it loads as no session,
//!   [`exists`](SessionStore::exists) is `false`, a save over it is [`Error::Create`]
//!   or [`Error::Update`] (it is never replaced), `clear_expired` leaves it, and a
//!   [`delete`](SessionStore::delete) unlinks it (the link itself, never its target;
//!   a directory stays).
//! - **No torn files.** Every write goes to a temporary file in the same directory
//!   (named `.` + cookie name + 6 random letters or digits + `.tmp`, a name that can
//!   never be read as a session), which is flushed to disk (`fsync`) and then renamed
//!   into place. Readers see the old or the new content, never a mix; concurrent
//!   writers to one key leave exactly one writer's complete content.
//! - **A logout is never undone.** An update locks the session file it replaces
//!   (`flock`, exclusive), checks that it is still the file under the name and not
//!   expired, and renames the new content over it before unlocking; a delete unlinks
//!   under the same lock, and whoever waited for the lock of a file that was replaced
//!   meanwhile starts again on its replacement. So once a delete has returned, no
//!   update that overlapped it can bring the session back. `flock` works across
//!   processes: this holds for any number of processes running this store on one
//!   directory. Django's own processes take no lock, so a Django save can still
//!   undo a logout made here (Django has that window itself), and on NFS Linux maps
//!   `flock` to `fcntl` locks, which do not exclude threads of one process: use a
//!   local file system. A lock not had within 10 s gives [`Error::Unavailable`].
//! - **Durability.** The content and modification time are synced before the rename;
//!   the directory is synced after it (a failure there is logged, not returned). A
//!   save that returned `Ok` survives a power loss on file systems that honour
//!   `fsync`.
//! - **Create is exclusive.** A save with [`SaveMode::Create`] renames its complete
//!   file into place only if the name is free (`renameat2(RENAME_NOREPLACE)`, or a
//!   hard link where that is missing), so no empty placeholder is ever visible; an
//!   existing live file is [`Error::Create`]. An *expired* file counts as absent: it
//!   is deleted under its lock and the name claimed again, and of two creators racing
//!   on it exactly one succeeds.
//! - **Update never re-creates.** A save with [`SaveMode::Update`] on a missing or
//!   expired file is [`Error::Update`] (rule D5).
//! - **Private files.** Session files are created with mode `0600`.
//!
//! # Directory
//!
//! [`FileStore::from_config`] keeps the files in a private folder it creates,
//! `<temp>/django-sessions-<uid>` (`std::env::temp_dir()`, which honours `TMPDIR`,
//! and the effective user id), with mode `0700`. It refuses, with
//! [`Error::Configuration`], a folder of that name that is a symlink, not a
//! directory, not ours or open to the group or others, and a temp dir writable by
//! every user without the sticky bit. **This departs from Django**, whose default
//! `SESSION_FILE_PATH` is the temp dir itself, where any local user can plant or read
//! session files; to share files with a Django site, give both the same directory.
//! [`FileStore::from_config_in`] and [`FileStore::new`] take the directory (Django's
//! `SESSION_FILE_PATH`). It must exist (a [`Error::Configuration`] otherwise, rule
//! E5); a directory writable by every user is logged as a warning.
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
//! # Versions
//!
//! The store is versioned (rule V1): a record's [`Version`] is the digest
//! (`crate::digest`) of the file's bytes and its modification time, which are the
//! data (Django's format, unchanged) and the expiry. So any write changes it (V3),
//! including a Django process's writes to a shared directory: a
//! [`save_if`](SessionStore::save_if) over a file Django rewrote since the load is
//! [`Error::Conflict`]. `save_if` reads, compares and renames under the session
//! file's exclusive `flock`, the lock every save, touch and delete of this store
//! takes (see the guarantees above), so it is atomic against them in every process
//! on the directory; Django takes no lock, so a Django write racing the compare is not
//! excluded. [`touch`](SessionStore::touch) sets the modification time under the same
//! lock and leaves the bytes as they are (it rewrites the file only when the process
//! may not re-time it, another user's file); a datetime `_session_expiry` does not
//! depend on it, as for a save. [`lookup`](SessionStore::lookup) reports an expired
//! file as [`Lookup::Expired`] (and deletes it).
//!
//! # Account index
//!
//! Opt-in ([`FileStore::with_account_index`]): marker files in a subdirectory, safe
//! across processes and restarts; see there for the cost.
//!
//! # Crash leftovers
//!
//! A process that dies in a save can leave its temporary file, and Django leaves an
//! empty file when it dies between claiming a name and writing it. Neither is ever read
//! as a session. [`FileStore::clear_expired`] removes this store's temporary files and
//! empty session files once their status change time (`ctime`, which no save can set)
//! is older than the grace period by the store's clock:
//! [`DEFAULT_LEFTOVER_GRACE`](FileStore::DEFAULT_LEFTOVER_GRACE) (one hour), or
//! [`with_leftover_grace`](FileStore::with_leftover_grace). A save holds the lock of
//! its temporary file while it writes, so even a save slower than the grace period
//! keeps its file. Django's own temporary files (`<name>_out_<random>`) are left alone.
//!
//! # Limits
//!
//! - Not an async store: it implements [`SessionStore`] only. Wrap it with
//!   [`SessionBackend::from_sync`](session_api::SessionBackend::from_sync), which runs
//!   it on tokio's blocking pool for the async side.
//! - The directory is named by its path at every call: it must not be replaced
//!   while the store runs (the private default directory cannot be, in a sticky temp
//!   dir).
//!
//! ```
//! use std::sync::Arc;
//! use session_api::signing::SecretKeys;
//! use session_api::{Session, SessionBackend, SessionConfig};
//! use session_stores::file::FileStore;
//!
//! # fn main() -> session_api::Result<()> {
//! let dir = tempfile::tempdir().map_err(session_api::Error::backend)?;
//! let config = SessionConfig::builder(SecretKeys::new("file-store-example-secret")).build()?;
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

#[cfg(not(unix))]
compile_error!(
    "the file store (feature `file`) needs a Unix target: it relies on O_NOFOLLOW, O_NONBLOCK and flock"
);

mod accounts;
mod entry;
mod private_dir;
mod sweep;
mod versioned;
mod write;

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration as StdDuration, SystemTime};

use session_api::data::SESSION_EXPIRY_KEY;
use session_api::key::{MAX_KEY_LEN, MIN_KEY_LEN};
use session_api::{
    AccountSessions, Capabilities, Clock, Error, ExpiryValue, Lookup, Record, Result, SaveMode,
    SessionCodec, SessionConfig, SessionData, SessionKey, SessionStore, Version,
};
use time::{Duration, OffsetDateTime};

use entry::{
    changed_at, from_system_time, lock_entry, open_entry, remove_if_present, to_system_time, Entry,
};

/// Suffix of temporary files; `.` is outside the key alphabet, so a temporary file is
/// never mistaken for a session whatever the cookie name.
const TEMP_SUFFIX: &str = ".tmp";

/// Random letters and digits in a temporary file's name.
const TEMP_RANDOM_LEN: usize = 6;

/// The file store (rule E5). See the [module documentation](self).
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    prefix: String,
    temp_prefix: String,
    cookie_age: i64,
    leftover_grace: StdDuration,
    /// Whether the account index (rule S5) is kept: see
    /// [`with_account_index`](FileStore::with_account_index).
    account_index: bool,
    codec: SessionCodec,
    clock: Arc<dyn Clock>,
}

/// A regular session file, read.
struct Found {
    /// The data; `None` when the file is empty (a claimed name) or undecodable.
    data: Option<SessionData>,
    /// When it expires (from the data's `_session_expiry`, else the file's mtime).
    expires_at: OffsetDateTime,
    /// The digest of the bytes and modification time (rule V1).
    version: Version,
}

/// What is under a session's name, as `lookup` reports it.
enum Looked {
    /// Nothing, or something that is not a regular file.
    Missing,
    /// An expired file (deleted on the way).
    Expired,
    /// A live regular file.
    Live(Found),
}

impl FileStore {
    /// How old a crash leftover must be before
    /// [`clear_expired`](SessionStore::clear_expired) removes it: one hour (see
    /// [Crash leftovers](self#crash-leftovers)).
    pub const DEFAULT_LEFTOVER_GRACE: StdDuration = StdDuration::from_secs(3600);

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
            leftover_grace: Self::DEFAULT_LEFTOVER_GRACE,
            account_index: false,
            codec,
            clock,
        })
    }

    /// A store from the settings in its private default directory,
    /// `<temp>/django-sessions-<uid>` (see [Directory](self#directory); created with
    /// mode `0700`, unlike Django's default, the temp dir itself), with
    /// `SESSION_COOKIE_NAME`, `SESSION_COOKIE_AGE`, the secret keys, serializer and
    /// clock of `config`.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] when that folder cannot be created, or exists but is a
    /// symlink, not a directory, not owned by the effective user or accessible to its
    /// group or others, or when the temp dir is writable by every user without the
    /// sticky bit; otherwise as [`FileStore::new`].
    pub fn from_config(config: &SessionConfig) -> Result<Self> {
        Self::from_config_in(config, Self::default_dir()?)
    }

    /// The directory [`from_config`](Self::from_config) uses, created (mode `0700`)
    /// and checked as it says.
    ///
    /// # Errors
    ///
    /// As [`from_config`](Self::from_config).
    pub fn default_dir() -> Result<PathBuf> {
        private_dir::private_dir_in(&std::env::temp_dir())
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

    /// This store with crash leftovers removed by
    /// [`clear_expired`](SessionStore::clear_expired) once older than `grace` (by the
    /// store's clock) instead of [`DEFAULT_LEFTOVER_GRACE`](Self::DEFAULT_LEFTOVER_GRACE).
    /// Keep it well above the longest save and any clock skew between the processes
    /// sharing the directory.
    #[must_use]
    pub fn with_leftover_grace(mut self, grace: StdDuration) -> Self {
        self.leftover_grace = grace;
        self
    }

    /// The directory holding the session files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file name prefix (the cookie name).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How old a crash leftover must be before `clear_expired` removes it.
    pub fn leftover_grace(&self) -> StdDuration {
        self.leftover_grace
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
    /// carries no `_session_expiry` (its mtime is set to `expires_at - cookie_age`),
    /// replacing whatever is under the name (a regular file under its lock). For tools
    /// and tests: importing Django's files, planting fixtures. Normal writes go through
    /// the session API.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] for a key outside `[a-z0-9]{8,40}`; [`Error::Backend`] when
    /// the file cannot be written (a directory under the name, for one).
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
        let temp = self.write_temp(text.as_bytes(), mtime)?;
        let _lock = lock_entry(&path)?;
        self.replace(temp, &path)
    }

    /// The stored text of `key`, expired or not; `None` when there is no regular file
    /// under its name.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] for a malformed key; [`Error::Backend`] when the file
    /// cannot be read or is not UTF-8.
    pub fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
        match open_entry(&self.path_for(key.as_str())?)? {
            Entry::Missing | Entry::NotRegular => Ok(None),
            Entry::Regular(mut file, _) => {
                let mut text = String::new();
                file.read_to_string(&mut text).map_err(Error::backend)?;
                Ok(Some(text))
            }
        }
    }

    /// Reads an open session file (bounded by the codec's decoding limit).
    fn read_found(&self, file: &File, meta: &Metadata) -> Result<Found> {
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
        let version = versioned::version(&bytes, meta);
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
        Ok(Found {
            expires_at: expiry.date(mtime, self.cookie_age),
            data,
            version,
        })
    }

    /// Django's `get_expiry_age(expiry=...) <= 0` at `now`.
    fn is_expired(&self, found: &Found, now: OffsetDateTime) -> bool {
        ExpiryValue::At(found.expires_at).age(now, self.cookie_age) <= 0
    }

    /// Whether a file's status last changed more than the grace period before `now`.
    fn is_past_grace(&self, meta: &Metadata, now: OffsetDateTime) -> bool {
        changed_at(meta).is_some_and(|changed| now - changed > self.leftover_grace)
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

    /// What is under `path`, read, as `lookup`, `load` and `exists` see it; an
    /// expired file is deleted.
    fn look(&self, path: &Path) -> Result<Looked> {
        let Entry::Regular(file, meta) = open_entry(path)? else {
            return Ok(Looked::Missing);
        };
        let found = self.read_found(&file, &meta)?;
        drop(file);
        let now = self.clock.now();
        if self.is_expired(&found, now) {
            self.remove_locked_if(path, |found, _| self.is_expired(found, now))?;
            Ok(Looked::Expired)
        } else {
            Ok(Looked::Live(found))
        }
    }

    /// The modification time a save at `now` gives a file holding `data`, valid until
    /// `expires_at`.
    fn mtime_for(
        &self,
        data: &SessionData,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> SystemTime {
        to_system_time(self.modification_for(data, expires_at, now))
            .or_else(|| to_system_time(now))
            .unwrap_or_else(SystemTime::now)
    }

    /// Removes the regular file under `path` if `doomed` holds for it once it is
    /// locked (and so can no longer be replaced); whether it was removed.
    fn remove_locked_if(
        &self,
        path: &Path,
        doomed: impl Fn(&Found, &Metadata) -> bool,
    ) -> Result<bool> {
        let Entry::Regular(file, meta) = lock_entry(path)? else {
            return Ok(false);
        };
        if !doomed(&self.read_found(&file, &meta)?, &meta) {
            return Ok(false);
        }
        remove_if_present(path)?;
        // Unlocked only now that the name is gone.
        drop(file);
        Ok(true)
    }
}

impl SessionStore for FileStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::server_side()
            .with_versioned(true)
            .with_touch(true)
            .with_list_by_account(self.account_index)
    }

    fn exists(&self, key: &SessionKey) -> Result<bool> {
        Ok(matches!(
            self.look(&self.path_for(key.as_str())?)?,
            Looked::Live(_)
        ))
    }

    fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        Ok(self.lookup(key)?.into_record())
    }

    /// As `load`; an expired file is [`Lookup::Expired`] (and deleted), an empty or
    /// undecodable one [`Lookup::Missing`].
    fn lookup(&self, key: &SessionKey) -> Result<Lookup> {
        Ok(match self.look(&self.path_for(key.as_str())?)? {
            Looked::Missing => Lookup::Missing,
            Looked::Expired => Lookup::Expired,
            Looked::Live(Found { data: None, .. }) => Lookup::Missing,
            Looked::Live(Found {
                data: Some(data),
                expires_at,
                version,
            }) => Lookup::Found(
                Record::new(key.clone(), data, expires_at).with_version(Some(version)),
            ),
        })
    }

    fn save(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let now = self.clock.now();
        match mode {
            SaveMode::Create => {
                let path = self.path_for(record.key.as_str())?;
                let (temp, _) = self.write_record(record, now)?;
                // S5: filed before the name appears, so a live session is always listed.
                let _filed = self.file_under_account(&record.key, &record.data)?;
                self.create(temp, &path, now)?;
            }
            SaveMode::Update => {
                self.write_over(record, now, |_| Ok(()))?;
            }
        }
        Ok(record.key.clone())
    }

    /// Compares and writes under the session file's `flock`, the lock every save and
    /// delete of this store takes (see [Versions](self#versions)).
    fn save_if(&self, record: &Record, expected: Version) -> Result<Version> {
        self.write_over(record, self.clock.now(), |found| {
            if found.version == expected {
                Ok(())
            } else {
                Err(Error::Conflict)
            }
        })
    }

    /// Sets the file's modification time (under its lock); the content is not
    /// rewritten (see [Versions](self#versions)).
    fn touch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        self.touch_file(key, expires_at)
    }

    fn delete(&self, key: &SessionKey) -> Result<()> {
        let path = self.path_for(key.as_str())?;
        match lock_entry(&path)? {
            Entry::Missing => Ok(()),
            Entry::Regular(file, _) => {
                remove_if_present(&path)?;
                drop(file);
                Ok(())
            }
            // A symlink, FIFO or socket is unlinked (never followed); a directory is
            // no session and stays.
            Entry::NotRegular => match fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => Ok(()),
                Ok(_) => remove_if_present(&path),
                Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(err) => Err(Error::backend(err)),
            },
        }
    }

    /// Removes the expired session files of this store (regular files named prefix +
    /// a valid key) and its crash leftovers past the grace period: empty session files
    /// and its temporary files that no save holds (see
    /// [Crash leftovers](self#crash-leftovers)). Returns how many session files it
    /// removed, expired or empty; temporary files are not counted. Other names (other
    /// prefixes, Django's temporary files) and non-regular entries are never touched,
    /// and no file is created. A file that cannot be read or removed is logged and
    /// skipped.
    fn clear_expired(&self) -> Result<u64> {
        self.sweep()
    }

    /// The account index, when [`with_account_index`](FileStore::with_account_index)
    /// turned it on.
    fn accounts(&self) -> Option<&dyn AccountSessions> {
        if self.account_index {
            Some(self)
        } else {
            None
        }
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

fn warn_if_world_writable(dir: &Path, meta: &fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o002 != 0 {
        tracing::warn!(
            dir = %dir.display(),
            "the session directory is writable by every user; give the file store a private directory (FileStore::from_config_in)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
