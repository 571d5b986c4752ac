//! The `file_load` target: the file store's load of arbitrary file content.

use std::fs::{self, File};
use std::sync::LazyLock;
use std::time::{Duration as StdDuration, SystemTime};

use serde_json::Value;
use session_api::data::SESSION_EXPIRY_KEY;
use session_api::signing::SESSION_SALT;
use session_api::{Clock, DecodeLimits, ExpiryValue, SessionKey, SessionStore};
use time::OffsetDateTime;

use crate::fixtures::{setup, FileFixture, COOKIE_AGE, SESSION_BASES, TIMESTAMP};
use crate::input::{candidate_bytes, split_flags, Mode};
use crate::oracle::{same_data, verifying_key, DecodeCase};

/// Files named `fuzzload + key`, so the `sessionid` stores of the other targets never
/// see them; the one file is removed before [`file_load`] returns.
static LOAD_FILES: LazyLock<FileFixture> = LazyLock::new(|| FileFixture::new("fuzzload"));

/// The key `file_load` stores its file under.
const FILE_KEY: &str = "fuzzsessionkey0123456789abcdefgh";

fn system_time(unix: i64) -> SystemTime {
    let secs = StdDuration::from_secs(unix.unsigned_abs());
    if unix >= 0 {
        SystemTime::UNIX_EPOCH + secs
    } else {
        SystemTime::UNIX_EPOCH - secs
    }
}

/// The file backend's load of arbitrary file content (rules D7, E5, C9, F7).
///
/// The content is written as the session file of one key in a private temporary
/// directory (one per process), then loaded through
/// [`FileStore`](session_stores::file::FileStore); the loaded record must carry the
/// key and the expiry the file implies. Flags: bit 0 mode (raw bytes / mutate a
/// [`SESSION_BASES`] value); bit 1 the file's modification time is one second more
/// than the cookie age ago (so it expires unless `_session_expiry` says otherwise);
/// bit 2 sign mode (the rest is a payload, signed here).
pub fn file_load(data: &[u8]) {
    let (flags, rest) = split_flags(data);
    let mode = Mode::of(flags, flags & 4 != 0, SESSION_SALT);
    let (content, base) = candidate_bytes(mode, rest, SESSION_BASES);
    let fixture = &*LOAD_FILES;
    let now = fixture.clock.now();
    let mtime_unix = if flags & 2 == 0 {
        TIMESTAMP
    } else {
        TIMESTAMP - COOKIE_AGE - 1
    };
    let key = setup(SessionKey::parse(FILE_KEY), "file key");
    let path = setup(fixture.store.path_for(FILE_KEY), "file path");
    setup(fs::write(&path, &content), "writing the session file");
    setup(
        File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(system_time(mtime_unix))),
        "setting the modification time",
    );

    let loaded = match fixture.store.load(&key) {
        Ok(loaded) => loaded,
        Err(err) => {
            panic!("property violated: FileStore::load failed on bad stored data (rule D7): {err}")
        }
    };

    // What the file holds, decoded independently of the store.
    let text = std::str::from_utf8(&content).ok().filter(|t| !t.is_empty());
    let decoded = text.and_then(|t| fixture.codec.try_decode(t).ok());
    let mtime = OffsetDateTime::from_unix_timestamp(mtime_unix).unwrap_or(now);
    let expires_at = ExpiryValue::from_stored(
        decoded
            .as_ref()
            .and_then(|d| d.get_value(SESSION_EXPIRY_KEY)),
    )
    .date(mtime, COOKIE_AGE);
    let expired = ExpiryValue::At(expires_at).age(now, COOKIE_AGE) <= 0;
    let expected = decoded.filter(|_| !expired);
    let agrees = match (&loaded, &expected) {
        (Some(record), Some(data)) => same_data(&record.data, data),
        (None, None) => true,
        _ => false,
    };
    assert!(
        agrees,
        "property violated: FileStore::load gave {loaded:?}, the file decodes to {expected:?} (expired: {expired})"
    );
    if let Some(record) = &loaded {
        // The record carries the expiry the file implies: `_session_expiry`, else the
        // modification time plus the cookie age (rules C9, E5).
        assert!(
            record.key == key && record.expires_at == expires_at,
            "property violated: FileStore::load gave the record {:?} expiring at {}, the file says {key:?} at {expires_at}",
            record.key,
            record.expires_at
        );
    }
    if let (Some(record), Some(text)) = (&loaded, text) {
        assert!(
            verifying_key(text, SESSION_SALT, true).is_some(),
            "property violated: a session file loaded without a valid signature"
        );
        DecodeCase {
            text,
            salt: SESSION_SALT,
            with_fallback: true,
            now: TIMESTAMP,
            max_age: None,
            limits: DecodeLimits::default(),
            base,
        }
        .check_mutant(Some(&Value::Object(record.data.as_map().clone())));
    }
    assert_eq!(
        path.exists(),
        !expired,
        "property violated: an expired file must be deleted on load, a live one kept (rule E5)"
    );
    let exists = match fixture.store.exists(&key) {
        Ok(exists) => exists,
        Err(err) => panic!("property violated: FileStore::exists failed: {err}"),
    };
    assert!(
        exists != expired,
        "property violated: exists() = {exists} after load of a file (expired: {expired})"
    );
    // Leave the directory empty for the next input.
    let _ = fs::remove_file(&path);
}
