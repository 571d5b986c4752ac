//! The absolute timeout (rule S1, OWASP ASVS 5 V7.3): a session ends a fixed time after
//! it was created, however active it is. The idle timeout is Django's integer expiry
//! (`SESSION_COOKIE_AGE` or `set_expiry(seconds)`), renewed by every save.
//!
//! The creation time travels in the session data under [`SESSION_CREATED_KEY`] (Unix
//! seconds), written by the first save once the timeout is configured. Keeping it in
//! the data, as Django keeps `_session_expiry`, means every backend stores it with no
//! change to its format, `cycle_key` keeps it (the data moves to the new key) and
//! `flush` ends it (the data is cleared, so the next session gets a new one).

use time::OffsetDateTime;

use crate::config::SessionConfig;
use crate::data::SessionData;

/// Reserved key holding the session's creation time, in Unix seconds (rule S1).
pub const SESSION_CREATED_KEY: &str = "_session_created";

/// When the session holding `data` was created: its stamp, else `now` (a session
/// not saved yet, or saved before the timeout was configured, starts its count now).
fn created_at(data: &SessionData, now: OffsetDateTime) -> OffsetDateTime {
    data.get_value(SESSION_CREATED_KEY)
        .and_then(serde_json::Value::as_i64)
        .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
        .unwrap_or(now)
}

/// The instant the absolute timeout ends the session, when one is configured.
pub(crate) fn deadline(
    config: &SessionConfig,
    data: &SessionData,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let timeout = config.absolute_timeout?;
    created_at(data, now).checked_add(time::Duration::seconds(timeout))
}

/// Whether the absolute timeout has ended the session holding `data` at `now`: loaded
/// data past it is no session at all (as an expired record, rule C9).
pub(crate) fn has_ended(config: &SessionConfig, data: &SessionData, now: OffsetDateTime) -> bool {
    deadline(config, data, now).is_some_and(|end| end <= now)
}

/// Writes the creation stamp into `data` when the timeout is configured and the data
/// has none, so that the record about to be saved carries it.
pub(crate) fn stamp(config: &SessionConfig, data: &mut SessionData, now: OffsetDateTime) {
    if config.absolute_timeout.is_some() && data.get_value(SESSION_CREATED_KEY).is_none() {
        data.insert(
            SESSION_CREATED_KEY.to_owned(),
            serde_json::Value::from(now.unix_timestamp()),
        );
    }
}

/// `at`, or the deadline when that is earlier: the earlier of the idle expiry and the
/// absolute timeout wins.
pub(crate) fn bound(
    config: &SessionConfig,
    data: &SessionData,
    now: OffsetDateTime,
    at: OffsetDateTime,
) -> OffsetDateTime {
    match deadline(config, data, now) {
        Some(end) if end < at => end,
        _ => at,
    }
}
