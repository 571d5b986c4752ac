//! How values travel to and from each driver: the `expire_date` representation per
//! dialect, and the typed binding of extra-column values.

use session_api::{Error, Result};
use sqlx::database::Database;
use sqlx::query::Query;
use sqlx::{Encode, Type};
#[cfg(feature = "sqlite")]
use time::format_description::FormatItem;
#[cfg(feature = "sqlite")]
use time::macros::format_description;
#[cfg(any(feature = "sqlite", feature = "mysql"))]
use time::PrimitiveDateTime;
use time::{OffsetDateTime, UtcOffset};

use super::extension::{ColumnType, ExtraColumn, ExtraValue};

/// `t` in UTC, truncated to microseconds (what every dialect stores; Django's
/// precision), so a value written and read back compares equal.
pub(crate) fn db_time(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// How a driver represents `expire_date` in bound parameters and result columns.
pub(crate) trait TimeRepr {
    /// The Rust type bound and decoded.
    type Time;
    /// From a UTC instant (already truncated by [`db_time`]).
    fn to_db(t: OffsetDateTime) -> Self::Time;
    /// Back to an instant.
    fn from_db(v: Self::Time) -> Result<OffsetDateTime>;
}

/// SQLite text with microseconds: `2026-01-01 00:00:00.250000`.
#[cfg(feature = "sqlite")]
const SQLITE_WRITE_MICROS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]");

/// SQLite text of a whole second: `2026-01-01 00:00:00`.
#[cfg(feature = "sqlite")]
const SQLITE_WRITE_SECONDS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// What Django writes on SQLite (`str(datetime)`: the fraction only when non-zero).
#[cfg(feature = "sqlite")]
const SQLITE_READ: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]");

/// SQLite: Django's `datetime` column holds naive UTC text, written exactly as Django
/// writes it (`str(datetime)`: six fraction digits, left out when zero). That text
/// sorts and compares like the instants it names: up to the seconds it is fixed-width,
/// and a whole second (`...:00`) sorts before any fraction of it (`...:00.000001`).
#[cfg(feature = "sqlite")]
impl TimeRepr for sqlx::Sqlite {
    type Time = String;

    fn to_db(t: OffsetDateTime) -> String {
        let t = db_time(t);
        let format = if t.microsecond() == 0 {
            SQLITE_WRITE_SECONDS
        } else {
            SQLITE_WRITE_MICROS
        };
        PrimitiveDateTime::new(t.date(), t.time())
            .format(format)
            // Formatting fails only for years outside 0..=9999, which no session has;
            // fall back to the ISO form rather than fail.
            .unwrap_or_else(|_| t.to_string())
    }

    fn from_db(v: String) -> Result<OffsetDateTime> {
        let text = v.replacen('T', " ", 1);
        let text = text.strip_suffix("+00:00").unwrap_or(&text);
        PrimitiveDateTime::parse(text, SQLITE_READ)
            .map(PrimitiveDateTime::assume_utc)
            .map_err(|e| Error::serialization(format!("unreadable expire_date: {e}")))
    }
}

/// PostgreSQL: `timestamp with time zone`.
#[cfg(feature = "postgres")]
impl TimeRepr for sqlx::Postgres {
    type Time = OffsetDateTime;

    fn to_db(t: OffsetDateTime) -> OffsetDateTime {
        db_time(t)
    }

    fn from_db(v: OffsetDateTime) -> Result<OffsetDateTime> {
        Ok(db_time(v))
    }
}

/// MySQL: `datetime(6)` holding naive UTC, as Django writes it with `USE_TZ = True`.
/// Independent of the connection's `time_zone` (which only affects `timestamp`).
#[cfg(feature = "mysql")]
impl TimeRepr for sqlx::MySql {
    type Time = PrimitiveDateTime;

    fn to_db(t: OffsetDateTime) -> PrimitiveDateTime {
        let t = db_time(t);
        PrimitiveDateTime::new(t.date(), t.time())
    }

    fn from_db(v: PrimitiveDateTime) -> Result<OffsetDateTime> {
        Ok(v.assume_utc())
    }
}

/// Binds one value per extra column, typed by the column (a `NULL` is sent with the
/// column's type, which PostgreSQL requires).
///
/// # Errors
///
/// [`Error::Configuration`] when the extension gave the wrong number of values or a
/// value of the wrong type.
pub(crate) fn bind_extras<'q, DB>(
    mut query: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    columns: &[ExtraColumn],
    values: Vec<ExtraValue>,
) -> Result<Query<'q, DB, <DB as Database>::Arguments<'q>>>
where
    DB: Database,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<String>: Encode<'q, DB> + Type<DB>,
    Option<bool>: Encode<'q, DB> + Type<DB>,
{
    if values.len() != columns.len() {
        return Err(Error::configuration(format!(
            "session record extension gave {} values for {} columns",
            values.len(),
            columns.len()
        )));
    }
    for (column, value) in columns.iter().zip(values) {
        query = match (column.ty(), value) {
            (ColumnType::BigInt, ExtraValue::BigInt(v)) => query.bind(Some(v)),
            (ColumnType::BigInt, ExtraValue::Null) => query.bind(None::<i64>),
            (ColumnType::Text | ColumnType::VarChar(_), ExtraValue::Text(v)) => query.bind(Some(v)),
            (ColumnType::Text | ColumnType::VarChar(_), ExtraValue::Null) => {
                query.bind(None::<String>)
            }
            (ColumnType::Boolean, ExtraValue::Bool(v)) => query.bind(Some(v)),
            (ColumnType::Boolean, ExtraValue::Null) => query.bind(None::<bool>),
            (ty, value) => {
                return Err(Error::configuration(format!(
                    "session record extension gave {value:?} for column {:?} of type {ty:?}",
                    column.name()
                )))
            }
        };
    }
    Ok(query)
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use time::macros::datetime;

    #[test]
    fn sqlite_text_round_trips_and_sorts() {
        let t = datetime!(2026-01-01 0:00:00.1234567 +02:00);
        let text = <sqlx::Sqlite as TimeRepr>::to_db(t);
        assert_eq!(text, "2025-12-31 22:00:00.123456");
        assert_eq!(
            <sqlx::Sqlite as TimeRepr>::from_db(text).unwrap(),
            datetime!(2025-12-31 22:00:00.123456 UTC)
        );
        // Django's own form (no fraction when zero) parses and sorts correctly.
        let django = "2026-01-01 00:00:00".to_owned();
        assert_eq!(
            <sqlx::Sqlite as TimeRepr>::from_db(django.clone()).unwrap(),
            datetime!(2026-01-01 0:00 UTC)
        );
        let later = <sqlx::Sqlite as TimeRepr>::to_db(datetime!(2026-01-01 0:00:00.000001 UTC));
        assert!(django < later);
        assert_eq!(
            <sqlx::Sqlite as TimeRepr>::to_db(datetime!(2026-01-01 0:00 UTC)),
            django
        );
        let earlier = <sqlx::Sqlite as TimeRepr>::to_db(datetime!(2025-12-31 23:59:59.999999 UTC));
        assert!(earlier < django);
        assert!(<sqlx::Sqlite as TimeRepr>::from_db("garbage".to_owned()).is_err());
    }
}
