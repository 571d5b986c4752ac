//! What is under a session's name, read without following a link or blocking, and
//! the `flock` protocol that makes a logout atomic against an update.
//!
//! Every writer of this store replaces a session file by renaming a new file over it
//! (an inode's content never changes after it is named), while holding an exclusive
//! `flock` on the file it replaces; a delete unlinks under the same lock. A holder
//! checks, once locked, that its inode is still the one named by the path, so whoever
//! waited for the lock of a replaced file sees the replacement and starts again. A
//! touch only re-times the locked file in place, so a holder reads the file's
//! metadata again once locked.

use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration as StdDuration, Instant, SystemTime};

use rustix::fs::{flock, FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use session_api::{Error, Result};
use time::{Duration, OffsetDateTime};

/// How long a store call waits, in all, for the lock of one session file before
/// giving up with [`Error::Unavailable`]. Locks are held for one write and rename.
pub(super) const LOCK_WAIT: StdDuration = StdDuration::from_secs(10);

/// The longest pause between two tries of a held lock.
const MAX_PAUSE: StdDuration = StdDuration::from_millis(5);

/// What is under a name in the session directory.
pub(super) enum Entry {
    /// Nothing.
    Missing,
    /// Something that is not a regular file (a symlink, a FIFO, a socket, a device, a
    /// directory): never opened for reading, never written through.
    NotRegular,
    /// A regular file, open read-only, with its `fstat`.
    Regular(File, Metadata),
}

/// What is under `path`, opened with `O_NOFOLLOW | O_NONBLOCK` when it is a regular
/// file: a symlink is never followed, and a FIFO or device never blocks the call.
///
/// The name is first checked with `lstat`, so a non-regular entry is not even opened;
/// the `fstat` of the opened file closes the race with a replacement in between.
pub(super) fn open_entry(path: &Path) -> Result<Entry> {
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_file() => return Ok(Entry::NotRegular),
        Ok(_) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Entry::Missing),
        Err(err) => return Err(Error::backend(err)),
    }
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => File::from(fd),
        Err(Errno::NOENT) => return Ok(Entry::Missing),
        // A symlink (ELOOP; EMLINK on FreeBSD) or a socket (ENXIO) put there since the
        // lstat.
        Err(Errno::LOOP | Errno::MLINK | Errno::NXIO) => return Ok(Entry::NotRegular),
        Err(err) => return Err(Error::backend(io::Error::from(err))),
    };
    let meta = file.metadata().map_err(Error::backend)?;
    if meta.is_file() {
        Ok(Entry::Regular(file, meta))
    } else {
        Ok(Entry::NotRegular)
    }
}

/// As [`open_entry`], with the regular file exclusively locked and checked to be still
/// the one named by `path` (retrying when it was replaced while waiting). Others'
/// writes and deletes of that name wait until the returned file is dropped.
///
/// The metadata returned is read once the lock is held: a touch re-times the file in
/// place (same inode) under this lock, so a `fstat` from before the wait could judge
/// expiry on the old time and delete a session that was just refreshed.
///
/// # Errors
///
/// [`Error::Unavailable`] when the lock is not had within [`LOCK_WAIT`];
/// [`Error::Backend`] when the file system refuses the lock or a read.
pub(super) fn lock_entry(path: &Path) -> Result<Entry> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        let (file, meta) = match open_entry(path)? {
            Entry::Regular(file, meta) => (file, meta),
            other => return Ok(other),
        };
        lock_exclusive(&file, deadline)?;
        match still_named(path, &meta)? {
            Some(true) => {
                let meta = file.metadata().map_err(Error::backend)?;
                return Ok(Entry::Regular(file, meta));
            }
            Some(false) => {}
            None => return Ok(Entry::Missing),
        }
    }
}

/// Tries the exclusive lock of `file` once: `false` when someone holds it.
pub(super) fn try_lock(file: &File) -> Result<bool> {
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(Errno::WOULDBLOCK) => Ok(false),
        Err(err) => Err(Error::backend(io::Error::from(err))),
    }
}

/// Waits for the exclusive lock of `file` until `deadline`, polling (a blocking
/// `flock` could wait for ever on a stuck holder).
pub(super) fn lock_exclusive(file: &File, deadline: Instant) -> Result<()> {
    let mut pause = StdDuration::from_micros(20);
    loop {
        match flock(file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(()),
            Err(Errno::WOULDBLOCK | Errno::INTR) => {}
            Err(err) => return Err(Error::backend(io::Error::from(err))),
        }
        if Instant::now() >= deadline {
            return Err(Error::unavailable(format!(
                "a session file stayed locked for {} s",
                LOCK_WAIT.as_secs()
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// The regular file under `path`, created (mode `0600`) when missing, opened as
/// [`open_entry`] opens (never through a link, never blocking), with its `fstat` and
/// whether this call created it; `None` when its directory is gone.
///
/// # Errors
///
/// [`Error::Backend`] when something other than a regular file is under the name, or
/// the file system refuses.
pub(super) fn open_or_create(path: &Path) -> Result<Option<(File, Metadata, bool)>> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let private = Mode::RUSR | Mode::WUSR;
    let (fd, created) = match rustix::fs::open(path, flags | OFlags::CREATE | OFlags::EXCL, private)
    {
        Ok(fd) => (fd, true),
        Err(Errno::EXIST) => match rustix::fs::open(path, flags, Mode::empty()) {
            Ok(fd) => (fd, false),
            Err(Errno::NOENT) => return Ok(None),
            Err(err) => return Err(Error::backend(io::Error::from(err))),
        },
        Err(Errno::NOENT) => return Ok(None),
        Err(err) => return Err(Error::backend(io::Error::from(err))),
    };
    let file = File::from(fd);
    let meta = file.metadata().map_err(Error::backend)?;
    if !meta.is_file() {
        return Err(Error::backend(io::Error::other(
            "something other than a regular file is under the name",
        )));
    }
    Ok(Some((file, meta, created)))
}

/// Whether `path` still names the file of `meta` (`None`: it names nothing).
pub(super) fn still_named(path: &Path, meta: &Metadata) -> Result<Option<bool>> {
    match fs::symlink_metadata(path) {
        Ok(now) => Ok(Some(now.dev() == meta.dev() && now.ino() == meta.ino())),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(Error::backend(err)),
    }
}

/// Unlinks `path`; a missing name is not an error.
pub(super) fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(Error::backend(err)),
    }
}

/// Makes a rename durable. A failure is logged: the data itself is synced.
pub(super) fn sync_dir(dir: &Path) {
    if let Err(err) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(error = %err, "could not sync the session directory");
    }
}

/// When the file last changed status (its `ctime`): set by the kernel at each write,
/// rename or change of modification time, and never settable by a save, unlike the
/// modification time this store writes.
pub(super) fn changed_at(meta: &Metadata) -> Option<OffsetDateTime> {
    let nanos = i128::from(meta.ctime())
        .checked_mul(1_000_000_000)?
        .checked_add(i128::from(meta.ctime_nsec()))?;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// `at` as a `SystemTime`, if representable.
pub(super) fn to_system_time(at: OffsetDateTime) -> Option<SystemTime> {
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
pub(super) fn from_system_time(at: SystemTime) -> Option<OffsetDateTime> {
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
    fn changed_at_is_the_status_change_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"x").unwrap();
        let before = OffsetDateTime::now_utc() - Duration::seconds(5);
        // Setting the modification time far back leaves the status change time recent.
        let file = File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH).unwrap();
        let changed = changed_at(&file.metadata().unwrap()).unwrap();
        assert!(changed >= before, "{changed}");
    }
}
