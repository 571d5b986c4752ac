//! Expiry values and Django's age/date arithmetic (rules C1..C8).

use serde_json::Value;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// What `set_expiry` accepts (rules C1..C4).
///
/// ```
/// use session_api::expiry::Expiry;
/// use time::Duration;
/// let _in_ten_minutes = Expiry::In(Duration::minutes(10));
/// let _inactivity = Expiry::Seconds(600);
/// let _browser_close = Expiry::BrowserClose; // same as Expiry::Seconds(0)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Expire after this many seconds of inactivity (C1); 0 means browser close (C3).
    Seconds(i64),
    /// Expire at this instant (C2).
    At(OffsetDateTime),
    /// Expire this long from now, stored as an absolute instant (C2).
    In(Duration),
    /// Expire when the browser closes (C3).
    BrowserClose,
    /// Back to the global policy: removes the custom expiry (C4).
    Default,
}

/// A stored `_session_expiry`, parsed (or an explicit `expiry` argument, rule C5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryValue {
    /// No custom expiry (absent or `null`).
    Absent,
    /// Inactivity seconds; 0 = browser close.
    Seconds(i64),
    /// An absolute instant.
    At(OffsetDateTime),
}

impl ExpiryValue {
    /// Parses a stored `_session_expiry`. Values of another shape (a string that is
    /// not an ISO 8601 datetime, a list, ...) are treated as absent with a warning:
    /// stored data must never make a request fail.
    pub fn from_stored(value: Option<&Value>) -> Self {
        match value {
            None | Some(Value::Null) => ExpiryValue::Absent,
            Some(Value::Bool(b)) => ExpiryValue::Seconds(i64::from(*b)),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => ExpiryValue::Seconds(i),
                // Saturating float-to-int cast: a huge float means "far away".
                None => ExpiryValue::Seconds(n.as_f64().map_or(0, |f| f.floor() as i64)),
            },
            Some(Value::String(s)) => match parse_isoformat(s) {
                Some(at) => ExpiryValue::At(at),
                None => {
                    tracing::warn!("ignoring a _session_expiry that is not an ISO 8601 datetime");
                    ExpiryValue::Absent
                }
            },
            Some(_) => {
                tracing::warn!("ignoring a _session_expiry of an unexpected type");
                ExpiryValue::Absent
            }
        }
    }

    /// Seconds from `modification` until expiry (rule C5): the cookie age when absent
    /// or 0; the integer when an integer; `expiry - modification` floored to whole
    /// seconds (negative when past) when a datetime.
    pub fn age(self, modification: OffsetDateTime, cookie_age: i64) -> i64 {
        match self {
            ExpiryValue::Absent | ExpiryValue::Seconds(0) => cookie_age,
            ExpiryValue::Seconds(s) => s,
            ExpiryValue::At(at) => floor_seconds(at - modification),
        }
    }

    /// The expiry instant (rule C6): a datetime as is, otherwise
    /// `modification + (seconds or cookie age)`.
    pub fn date(self, modification: OffsetDateTime, cookie_age: i64) -> OffsetDateTime {
        match self {
            ExpiryValue::At(at) => at,
            ExpiryValue::Absent | ExpiryValue::Seconds(0) => {
                saturating_add(modification, cookie_age)
            }
            ExpiryValue::Seconds(s) => saturating_add(modification, s),
        }
    }

    /// Rule C7: the setting when absent, otherwise whether it is 0.
    pub fn expires_at_browser_close(self, setting: bool) -> bool {
        match self {
            ExpiryValue::Absent => setting,
            ExpiryValue::Seconds(s) => s == 0,
            ExpiryValue::At(_) => false,
        }
    }
}

fn saturating_add(at: OffsetDateTime, seconds: i64) -> OffsetDateTime {
    at.checked_add(Duration::seconds(seconds))
        .unwrap_or(if seconds < 0 {
            OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT)
        } else {
            OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT)
        })
}

/// Python's `delta.days * 86400 + delta.seconds`: total seconds floored.
fn floor_seconds(delta: Duration) -> i64 {
    let whole = delta.whole_seconds();
    if delta.subsec_nanoseconds() < 0 {
        whole - 1
    } else {
        whole
    }
}

const DATE_TIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
const DATE_TIME_MICROS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]");
const OFFSET: &[FormatItem<'static>] =
    format_description!("[offset_hour sign:mandatory]:[offset_minute]");

/// Python's `datetime.isoformat()` for an aware datetime (rule C2):
/// `2026-11-27T09:17:35.123456+00:00`, the microseconds left out when zero (and
/// anything finer than a microsecond dropped, as Python has no nanoseconds).
pub fn isoformat(at: OffsetDateTime) -> String {
    let micros = at.microsecond();
    let at = at.replace_nanosecond(micros * 1000).unwrap_or(at);
    let body = if micros == 0 {
        at.format(DATE_TIME)
    } else {
        at.format(DATE_TIME_MICROS)
    };
    let offset = at.offset().format(OFFSET);
    match (body, offset) {
        (Ok(b), Ok(o)) => b + &o,
        // Only years outside 0..=9999 fail to format; Python cannot hold them either.
        _ => String::new(),
    }
}

/// Parses what [`isoformat`] writes (and Python's `fromisoformat` reads for the forms
/// Django stores): `YYYY-MM-DDTHH:MM:SS[.ffffff][±HH:MM]` (also `Z`). A datetime
/// without an offset is taken as UTC.
pub fn parse_isoformat(s: &str) -> Option<OffsetDateTime> {
    if s.len() > 40 || !s.is_ascii() {
        return None;
    }
    let (naive, offset) = split_offset(s)?;
    let naive = if naive.contains(' ') && naive.len() > 10 && naive.as_bytes()[10] == b' ' {
        let mut owned = naive.to_owned();
        owned.replace_range(10..11, "T");
        owned
    } else {
        naive.to_owned()
    };
    let dt = PrimitiveDateTime::parse(&naive, DATE_TIME_MICROS)
        .or_else(|_| PrimitiveDateTime::parse(&naive, DATE_TIME))
        .ok()?;
    Some(dt.assume_offset(offset))
}

fn split_offset(s: &str) -> Option<(&str, UtcOffset)> {
    if let Some(naive) = s.strip_suffix('Z') {
        return Some((naive, UtcOffset::UTC));
    }
    if s.len() > 6 {
        let (naive, tail) = s.split_at(s.len() - 6);
        if tail.starts_with(['+', '-']) && tail.as_bytes()[3] == b':' {
            return Some((naive, UtcOffset::parse(tail, OFFSET).ok()?));
        }
    }
    Some((s, UtcOffset::UTC))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    #[test]
    fn c2_isoformat_matches_django_fixture() {
        // session-api/tests/fixtures/django-5.2/expiry.json, made by Django 5.2.
        assert_eq!(
            isoformat(datetime!(2026-01-01 0:00:10 UTC)),
            "2026-01-01T00:00:10+00:00"
        );
        assert_eq!(
            isoformat(datetime!(2026-01-02 0:00:00.000005 UTC)),
            "2026-01-02T00:00:00.000005+00:00"
        );
        assert_eq!(
            isoformat(datetime!(2026-01-02 0:00:00.0000059 +02:00)),
            "2026-01-02T00:00:00.000005+02:00"
        );
    }

    #[test]
    fn c2_isoformat_round_trips() {
        for at in [
            datetime!(2026-01-01 0:00:10 UTC),
            datetime!(2026-01-02 0:00:00.000005 UTC),
            datetime!(2026-06-02 13:14:15.5 -05:30),
        ] {
            assert_eq!(parse_isoformat(&isoformat(at)), Some(at));
        }
        assert_eq!(
            parse_isoformat("2026-01-01T00:00:10"),
            Some(datetime!(2026-01-01 0:00:10 UTC))
        );
        assert_eq!(
            parse_isoformat("2026-01-01T00:00:10Z"),
            Some(datetime!(2026-01-01 0:00:10 UTC))
        );
        assert_eq!(parse_isoformat("yesterday"), None);
        assert_eq!(parse_isoformat(""), None);
    }

    #[test]
    fn c5_age_rules() {
        let now = datetime!(2026-01-01 0:00 UTC);
        assert_eq!(ExpiryValue::Absent.age(now, 1209600), 1209600);
        assert_eq!(ExpiryValue::Seconds(0).age(now, 1209600), 1209600);
        assert_eq!(ExpiryValue::Seconds(600).age(now, 1209600), 600);
        let at = datetime!(2026-01-01 0:00:10.5 UTC);
        assert_eq!(ExpiryValue::At(at).age(now, 1), 10);
        // Past datetimes floor towards negative infinity, as Python's timedelta does.
        let past = datetime!(2025-12-31 23:59:59.5 UTC);
        assert_eq!(ExpiryValue::At(past).age(now, 1), -1);
    }

    #[test]
    fn c6_date_rules() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let at = datetime!(2026-02-01 0:00 UTC);
        assert_eq!(ExpiryValue::At(at).date(now, 5), at);
        assert_eq!(
            ExpiryValue::Seconds(60).date(now, 5),
            datetime!(2026-01-01 0:01 UTC)
        );
        assert_eq!(
            ExpiryValue::Absent.date(now, 5),
            datetime!(2026-01-01 0:00:05 UTC)
        );
        assert_eq!(
            ExpiryValue::Seconds(0).date(now, 5),
            datetime!(2026-01-01 0:00:05 UTC)
        );
        // Absurd stored values saturate rather than panic.
        let _ = ExpiryValue::Seconds(i64::MAX).date(now, 5);
        let _ = ExpiryValue::Seconds(i64::MIN).date(now, 5);
    }

    #[test]
    fn c7_browser_close() {
        assert!(ExpiryValue::Absent.expires_at_browser_close(true));
        assert!(!ExpiryValue::Absent.expires_at_browser_close(false));
        assert!(ExpiryValue::Seconds(0).expires_at_browser_close(false));
        assert!(!ExpiryValue::Seconds(5).expires_at_browser_close(true));
    }

    #[test]
    fn stored_values_of_any_shape_never_panic() {
        for v in [
            json!(null),
            json!(600),
            json!(600.7),
            json!(1e300),
            json!("2026-01-01T00:00:10+00:00"),
            json!("garbage"),
            json!([1]),
            json!({"a": 1}),
            json!(true),
        ] {
            let e = ExpiryValue::from_stored(Some(&v));
            let now = datetime!(2026-01-01 0:00 UTC);
            let _ = e.age(now, 10);
            let _ = e.date(now, 10);
        }
        assert_eq!(
            ExpiryValue::from_stored(Some(&json!(600.7))),
            ExpiryValue::Seconds(600)
        );
    }
}
