//! The expiry stamp at the end of every value the stores write, so that a cache can
//! judge rule H7 (an entry expired by the store's clock is absent) by itself, in one
//! round trip (`RedisCache` runs the check inside a Lua script).

use std::fmt;

use session_api::{Error, Result};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// The canonical form of a stamp: UTC, nanoseconds, fixed width (30 characters), so
/// that comparing two stamps byte by byte compares the instants.
const CANONICAL: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");

/// What precedes the stamp at the end of a value.
pub(crate) const STAMP_FIELD: &[u8] = b"\"expires\":\"";
/// What follows the stamp: the end of the value.
const STAMP_END: &[u8] = b"\"}";
/// The length of a canonical stamp.
pub const STAMP_LEN: usize = 30;
/// How many bytes at the end of a value hold a stamp: the field name, the stamp and
/// the closing `"}`.
pub const STAMP_SUFFIX_LEN: usize = STAMP_FIELD.len() + STAMP_LEN + STAMP_END.len();

/// An instant in the form a value's stamp has: `2026-01-15T00:00:00.000000000Z` (UTC,
/// nine fractional digits, 30 characters). Stamps order as their instants do.
///
/// Every value the cache and cached_db stores write ends with
/// `"expires":"<stamp>"}` (the last [`STAMP_SUFFIX_LEN`] bytes): the session's expiry
/// by the store's clock. A [`Cache`](super::Cache) uses it in `add` and `replace`,
/// where an entry whose stamp is at or before "now" counts as absent; a value without
/// that ending (written by Django, by hand, or corrupt) has no stamp and only its
/// time to live ends it. [`Stamp::expired`] is the check for a cache of your own.
///
/// ```
/// use session_stores::cache::Stamp;
/// use time::macros::datetime;
/// let now = Stamp::at(datetime!(2026-01-15 0:00 UTC))?;
/// assert_eq!(now.as_str(), "2026-01-15T00:00:00.000000000Z");
/// let value = br#"{"data":{},"expires":"2026-01-14T23:59:59.000000000Z"}"#;
/// assert_eq!(Stamp::of(value).map(|s| s.as_str().to_owned()).as_deref(), Some("2026-01-14T23:59:59.000000000Z"));
/// assert!(Stamp::expired(value, &now));
/// assert!(!Stamp::expired(b"no stamp", &now));
/// # Ok::<(), session_api::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp([u8; STAMP_LEN]);

impl Stamp {
    /// The stamp of `instant`.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] for an instant outside the years 0 to 9999.
    pub fn at(instant: OffsetDateTime) -> Result<Stamp> {
        let text = instant
            .to_offset(UtcOffset::UTC)
            .format(CANONICAL)
            .map_err(|e| Error::serialization(format!("cannot format the expiry: {e}")))?;
        let bytes: [u8; STAMP_LEN] = text
            .as_bytes()
            .try_into()
            .map_err(|_| Error::serialization("the expiry is outside the years 0 to 9999"))?;
        Ok(Stamp(bytes))
    }

    /// The stamp `value` ends with, if it ends with one (see the type's docs).
    pub fn of(value: &[u8]) -> Option<Stamp> {
        let start = value.len().checked_sub(STAMP_SUFFIX_LEN)?;
        let suffix = &value[start..];
        let (field, rest) = suffix.split_at(STAMP_FIELD.len());
        let (stamp, end) = rest.split_at(STAMP_LEN);
        if field != STAMP_FIELD || end != STAMP_END {
            return None;
        }
        stamp.try_into().ok().map(Stamp)
    }

    /// Whether `value` carries a stamp at or before `now`: the check a cache runs in
    /// `add` and `replace` (rule H7).
    pub fn expired(value: &[u8], now: &Stamp) -> bool {
        Stamp::of(value).is_some_and(|stamp| stamp <= *now)
    }

    /// The stamp's text.
    pub fn as_str(&self) -> &str {
        // Built from formatted text or compared bytes; a foreign suffix that is not
        // UTF-8 shows as empty.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The stamp's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Stamp({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use time::macros::datetime;

    #[test]
    fn stamps_are_fixed_width_utc_and_order_as_instants() {
        let a = Stamp::at(datetime!(2026-01-15 0:00:00.5 UTC)).unwrap();
        let b = Stamp::at(datetime!(2026-01-15 0:00:01 UTC)).unwrap();
        let c = Stamp::at(datetime!(2026-01-15 2:00:00.000000001 +02:00)).unwrap();
        assert_eq!(a.as_str(), "2026-01-15T00:00:00.500000000Z");
        assert_eq!(c.as_str(), "2026-01-15T00:00:00.000000001Z");
        assert!(c < a && a < b);
        assert_eq!(
            Stamp::at(datetime!(0001-01-01 0:00 UTC))
                .unwrap()
                .as_str()
                .len(),
            30
        );
    }

    #[test]
    fn only_the_exact_ending_is_a_stamp() {
        let now = Stamp::at(datetime!(2026-01-15 0:00 UTC)).unwrap();
        let ends = |s: &str| Stamp::of(s.as_bytes());
        let good = r#"{"data":{},"expires":"2026-01-15T00:00:00.000000000Z"}"#;
        assert_eq!(ends(good), Some(now));
        assert!(Stamp::expired(good.as_bytes(), &now), "at now is expired");
        for bad in [
            "",
            "\"}",
            r#"{"data":{},"expires":"2026-01-15T00:00:00Z"}"#,
            r#"{"data":{},"expires":"2026-01-15T00:00:00.000000000Z"} "#,
            r#"{"data":{},"expire_":"2026-01-15T00:00:00.000000000Z"}"#,
        ] {
            assert_eq!(ends(bad), None, "{bad:?}");
            assert!(!Stamp::expired(bad.as_bytes(), &now));
        }
    }
}
