//! Versioned saves (rules V1, V3): the version column, and `asave_if` as one
//! `UPDATE ... WHERE version = ?`.

use session_api::{Error, Record, Result, Version};

#[allow(unused_imports)] // Unused when no driver feature is enabled.
use super::params::{bind_extras, TimeRepr};
use super::pool::{db_error, on_connection, on_pool};
use super::store::DbStore;

/// The version column of [`Versioning::default`].
pub const DEFAULT_VERSION_COLUMN: &str = "version";

/// How a [`DbStore`] versions its records (rule V1), set with
/// [`DbOptions::versioning`](super::DbOptions::versioning).
///
/// ```
/// use session_api::SecretKeys;
/// use session_stores::db::{DbOptions, Versioning};
/// let shared_with_django = DbOptions::new(SecretKeys::new("secret")).versioning(Versioning::Off);
/// assert_eq!(shared_with_django.versioning_mode(), &Versioning::Off);
/// assert_eq!(Versioning::default(), Versioning::Column("version".to_owned()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Versioning {
    /// No version: exactly Django's table, and a store whose capabilities say
    /// `versioned: false` (`asave_if` is [`Error::Unsupported`]; two requests saving
    /// one session at once keep Django's last-writer-wins).
    Off,
    /// A counter column of this name, `bigint NOT NULL DEFAULT 0`, which `migrate`
    /// adds to the table (Django's, or one it creates) when it is missing. Every write
    /// of this store counts it up by one; `asave_if` writes only over the version it
    /// was given. Rows other writers insert start at the default 0; a writer that does
    /// not know the column (Django itself, sharing the table) leaves it as it is, so
    /// its writes are not seen as conflicts.
    Column(String),
}

impl Default for Versioning {
    /// [`Versioning::Column`] named [`DEFAULT_VERSION_COLUMN`].
    fn default() -> Self {
        Versioning::Column(DEFAULT_VERSION_COLUMN.to_owned())
    }
}

impl Versioning {
    /// The column name, when there is one.
    pub fn column(&self) -> Option<&str> {
        match self {
            Versioning::Off => None,
            Versioning::Column(name) => Some(name),
        }
    }
}

/// The token of a stored version. The column is a signed `bigint`; the token is its
/// bits (only equality matters), so every stored value has one and back.
pub(super) fn token(stored: i64) -> Version {
    Version::new(stored as u64)
}

/// The stored value of a token (the inverse of [`token`]).
fn stored(version: Version) -> i64 {
    version.get() as i64
}

impl DbStore {
    /// [`session_api::AsyncSessionStore::asave_if`]: one `UPDATE` of the live row
    /// whose version is `expected`, counting it up. Only when it matches no row does
    /// a second query tell why: a live row is a [`Error::Conflict`], none an
    /// [`Error::Update`] (rule D5: never re-created).
    pub(super) async fn save_if(&self, record: &Record, expected: Version) -> Result<Version> {
        let sql = self
            .sql
            .update_if
            .as_deref()
            .ok_or(Error::Unsupported("versioned saves"))?;
        let encoded = self.codec.encode(&record.data)?;
        let extras = self.extra_values(&record.data);
        let now = self.clock.now();
        // The statement pins the version and adds one, so the new one is known.
        let next = token(stored(expected).wrapping_add(1));
        let mut lost = false;
        let affected: u64 = on_pool!(&self.pool, |pool, DB| {
            on_connection!(pool, self.timeout, retried = lost, |conn| {
                let query = sqlx::query(sql)
                    .bind(encoded.as_str())
                    .bind(<DB as TimeRepr>::to_db(record.expires_at));
                bind_extras(query, self.columns(), extras.clone())?
                    .bind(record.key.as_str())
                    .bind(stored(expected))
                    .bind(<DB as TimeRepr>::to_db(now))
                    .execute(conn)
            })
            .map_err(db_error)?
            .rows_affected()
        });
        if affected > 0 {
            return Ok(next);
        }
        match self.fetch(&record.key).await? {
            // The first attempt's connection died after sending it: if the row holds
            // exactly this text (which carries its signing time) at the next version,
            // the write was this one.
            Some(row) if lost && row.version == Some(next) && row.text == encoded => Ok(next),
            Some(row) if row.is_live(now) => Err(Error::Conflict),
            _ => Err(Error::Update),
        }
    }
}
