//! How a [`DbStore`](super::DbStore) is configured ([`DbOptions`]) and how the pools
//! this crate opens are sized ([`DbPoolOptions`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use session_api::{
    Clock, DecodeLimits, JsonSerializer, SecretKeys, Serializer, SessionConfig, SystemClock,
};

use super::extension::RecordExtension;
use super::versioning::Versioning;

/// Django's table name.
pub const DEFAULT_TABLE: &str = "django_session";
/// Default pool size.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// Default wait for a free (or new) connection before a call fails.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of rows one `clear_expired` statement deletes.
pub const DEFAULT_CLEAR_BATCH: u32 = 5_000;
/// Default bound on one store call, from asking the pool for a connection to the
/// last byte of the answer (see [`DbOptions::operation_timeout`]).
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// How a [`DbStore`](super::DbStore) behaves: the codec's secrets, serializer and
/// limits, the table, the clock, the `clear_expired` batch size, the timeout of each
/// call, how records are versioned ([`Versioning`]) and an optional
/// [`RecordExtension`]. [`DbStore::new`](super::DbStore::new) and
/// [`DbStore::connect`](super::DbStore::connect) honour every field.
///
/// How big the pool is and how it hands out connections is the pool's business:
/// a pool you build yourself carries its own settings, and the pools this crate opens
/// take theirs from [`DbPoolOptions`].
///
/// ```
/// use std::time::Duration;
/// use session_api::SecretKeys;
/// use session_stores::db::DbOptions;
/// let options = DbOptions::new(SecretKeys::new("secret"))
///     .table("app_sessions")
///     .clear_batch_size(1_000)
///     .operation_timeout(Duration::from_secs(2));
/// assert_eq!(options.table_name(), "app_sessions");
/// ```
#[derive(Clone)]
pub struct DbOptions {
    pub(super) table: String,
    pub(super) clear_batch: u32,
    pub(super) timeout: Duration,
    pub(super) secret_keys: SecretKeys,
    pub(super) serializer: Arc<dyn Serializer>,
    pub(super) limits: DecodeLimits,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) extension: Option<Arc<dyn RecordExtension>>,
    pub(super) versioning: Versioning,
}

impl fmt::Debug for DbOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbOptions")
            .field("table", &self.table)
            .field("clear_batch", &self.clear_batch)
            .field("operation_timeout", &self.timeout)
            .field("secret_keys", &self.secret_keys)
            .field("serializer", &self.serializer)
            .field("limits", &self.limits)
            .field("extension", &self.extension)
            .field("versioning", &self.versioning)
            .finish_non_exhaustive()
    }
}

impl DbOptions {
    /// Defaults: table `django_session`, JSON, Django's decoding limits, the system
    /// clock, batches of 5,000, a 5 s timeout per call, no extension, versioned
    /// saves on a `version` column ([`Versioning::default`]).
    pub fn new(secret_keys: SecretKeys) -> Self {
        DbOptions {
            table: DEFAULT_TABLE.to_owned(),
            clear_batch: DEFAULT_CLEAR_BATCH,
            timeout: DEFAULT_OPERATION_TIMEOUT,
            secret_keys,
            serializer: Arc::new(JsonSerializer),
            limits: DecodeLimits::default(),
            clock: Arc::new(SystemClock),
            extension: None,
            versioning: Versioning::default(),
        }
    }

    /// The secrets, serializer and clock of `config`; defaults for the rest.
    pub fn from_config(config: &SessionConfig) -> Self {
        Self::new(config.secret_keys.clone())
            .serializer(Arc::clone(&config.serializer))
            .clock(Arc::clone(&config.clock))
    }

    /// The table name; checked as an SQL identifier when the store is built.
    #[must_use]
    pub fn table(mut self, name: impl Into<String>) -> Self {
        self.table = name.into();
        self
    }

    /// The configured table name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Rows deleted per `clear_expired` statement (at least 1). Each batch is its own
    /// statement and transaction, so locks stay short.
    #[must_use]
    pub fn clear_batch_size(mut self, rows: u32) -> Self {
        self.clear_batch = rows.max(1);
        self
    }

    /// The longest one call of the store may take ([`DEFAULT_OPERATION_TIMEOUT`], 5 s,
    /// by default; at least 1 ms): `load`, `exists`, `save`, `delete`, each statement
    /// of `migrate`, each batch of `clear_expired`, the account listing and revoking,
    /// and the raw access. The time counts from asking the pool for a connection, so
    /// it also caps [`DbPoolOptions::acquire_timeout`].
    ///
    /// A call that runs out is [`Error::Unavailable`](session_api::Error::Unavailable)
    /// (adapters answer 503), however far it got: a statement already sent to a
    /// server that went silent is abandoned too. Its connection is closed rather than
    /// returned to the pool, so the next call gets a fresh one. The abandoned
    /// statement may still have run on the server: an `Unavailable` save or delete
    /// has an unknown outcome, as any failure reported by a network store.
    #[must_use]
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The session serializer (JSON by default, rule F1).
    #[must_use]
    pub fn serializer(mut self, serializer: Arc<dyn Serializer>) -> Self {
        self.serializer = serializer;
        self
    }

    /// Decoding limits of the codec (rule H3): a stored `session_data` over the limit
    /// loads as `None`.
    #[must_use]
    pub fn decode_limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Where "now" comes from (inject a `ManualClock` in tests).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Extra columns filled from the data on every save (rule E2).
    #[must_use]
    pub fn extension(mut self, extension: Arc<dyn RecordExtension>) -> Self {
        self.extension = Some(extension);
        self
    }

    /// How records are versioned (rule V1): [`Versioning::Off`] for exactly Django's
    /// table, or a counter column (the default, [`Versioning::default`]).
    #[must_use]
    pub fn versioning(mut self, versioning: Versioning) -> Self {
        self.versioning = versioning;
        self
    }

    /// The configured versioning.
    pub fn versioning_mode(&self) -> &Versioning {
        &self.versioning
    }
}

/// How the pools this crate opens ([`DbPool::connect`](super::DbPool::connect),
/// [`DbStore::connect`](super::DbStore::connect)) are sized and checked.
///
/// Every field is applied to the sqlx pool. A pool built with sqlx directly and given
/// to [`DbStore::new`](super::DbStore::new) keeps its own settings.
///
/// ```
/// use std::time::Duration;
/// use session_stores::db::DbPoolOptions;
/// let options = DbPoolOptions::default()
///     .max_connections(4)
///     .acquire_timeout(Duration::from_secs(3))
///     .test_before_acquire(true);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbPoolOptions {
    max_connections: u32,
    acquire_timeout: Duration,
    test_before_acquire: bool,
}

impl Default for DbPoolOptions {
    /// 10 connections, a 10 s acquire timeout, no ping before each acquire (one
    /// round trip per call; see [`test_before_acquire`](Self::test_before_acquire)).
    fn default() -> Self {
        DbPoolOptions {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            test_before_acquire: false,
        }
    }
}

impl DbPoolOptions {
    /// Pool size (at least 1).
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long a call waits for a free connection (or for a new one to open) before
    /// it fails with [`Error::Unavailable`](session_api::Error::Unavailable). Also
    /// bounds the first connection of [`DbPool::connect`](super::DbPool::connect).
    /// A store call waits at most its [`DbOptions::operation_timeout`] in all, so
    /// the shorter of the two applies.
    #[must_use]
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Whether the pool pings an idle connection before handing it out (sqlx's
    /// `test_before_acquire`; default `false`, unlike sqlx's own default).
    ///
    /// - `false`: each call is one round trip. A connection that died while idle
    ///   (a database restart, a proxy's idle timeout, `pg_terminate_backend`) is
    ///   found dead by the call's statement, which then runs once more on a
    ///   connection that answers a ping (the pool's other idle connections are
    ///   tried in turn, and a new one opened when none answers), so no call fails
    ///   because of it. Every statement of the store is safe to run twice (see
    ///   [`DbStore`](super::DbStore)).
    /// - `true`: the pool pings before every call (a round trip more) and replaces
    ///   a dead connection before any statement runs on it.
    ///
    /// A connection whose network went silent, rather than closed, is found by
    /// neither: the call runs out of its [`DbOptions::operation_timeout`], as the
    /// ping would. Either way each connection is pinged when it is returned to the
    /// pool (sqlx does that in every case, off the caller's path) and dropped if the
    /// ping fails or takes longer than the store's operation timeout.
    #[must_use]
    pub fn test_before_acquire(mut self, test: bool) -> Self {
        self.test_before_acquire = test;
        self
    }

    /// These settings on a sqlx pool builder.
    pub(super) fn apply<DB: sqlx::Database>(
        &self,
        pool: sqlx::pool::PoolOptions<DB>,
    ) -> sqlx::pool::PoolOptions<DB> {
        pool.max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            .test_before_acquire(self.test_before_acquire)
    }
}
