//! The file store's default directory: `<temp>/django-sessions-<uid>`, private to the
//! user running the store (rule E5, issue 12).

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use session_api::{Error, Result};

/// `<base>/django-sessions-<effective uid>`, created with mode `0700` when missing.
///
/// # Errors
///
/// [`Error::Configuration`] when `base` is writable by every user without the sticky
/// bit (others could then rename the folder away and put theirs in its place), or
/// when the name is already taken by anything but a directory of ours that only we
/// can access: a symlink, a file, another user's directory, or one with any group or
/// world permission. Nothing is changed in that case: the store never uses, fixes or
/// removes such a folder.
pub(super) fn private_dir_in(base: &Path) -> Result<PathBuf> {
    let uid = rustix::process::geteuid().as_raw();
    let dir = base.join(format!("django-sessions-{uid}"));
    let refuse = |why: String| {
        Err(Error::configuration(format!(
            "the file store's default directory {}: {why}; remove it or give the store a directory (FileStore::from_config_in)",
            dir.display()
        )))
    };
    match fs::metadata(base) {
        Ok(meta) if meta.permissions().mode() & 0o1002 == 0o002 => {
            return refuse(format!(
                "{} is writable by every user and not sticky",
                base.display()
            ))
        }
        Ok(_) => {}
        Err(err) => return refuse(format!("cannot use {}: {err}", base.display())),
    }
    match DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => return refuse(format!("cannot be created: {err}")),
    }
    let meta = match fs::symlink_metadata(&dir) {
        Ok(meta) => meta,
        Err(err) => return refuse(format!("cannot be read: {err}")),
    };
    let mode = meta.permissions().mode();
    if meta.file_type().is_symlink() {
        refuse("it is a symlink".to_owned())
    } else if !meta.is_dir() {
        refuse("it is not a directory".to_owned())
    } else if meta.uid() != uid {
        refuse(format!(
            "it belongs to uid {}, not to us ({uid})",
            meta.uid()
        ))
    } else if mode & 0o077 != 0 {
        refuse(format!(
            "its mode {:o} gives access to others (0700 is required)",
            mode & 0o777
        ))
    } else {
        Ok(dir)
    }
}
