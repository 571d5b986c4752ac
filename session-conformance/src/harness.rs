//! What a store author hands the kit: a factory from [`KitEnv`] to [`Harness`].

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use session_api::signing::SecretKeys;
use session_api::{Clock, ManualClock, Result, SessionBackend, SessionConfig, SessionKey};
use time::macros::datetime;
use time::OffsetDateTime;

/// Where every kit clock starts: 2026-01-01T00:00:00Z, the Django fixtures' timestamp.
pub const KIT_START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);
/// The secret every kit store signs with: the one the Django 5.2 fixtures were made
/// with, so stored records can be compared with Django's literal output.
pub const KIT_SECRET: &str = "shared-fixture-secret-do-not-use-in-production";
/// `SESSION_COOKIE_AGE` in the kit: Django's default.
pub const KIT_COOKIE_AGE: i64 = 1_209_600;

/// What the kit gives a store factory: the clock the store must read time from, the
/// secret it must sign with, and a name unique to this case (for table names, key
/// prefixes, directories) so cases never collide.
#[derive(Debug, Clone)]
pub struct KitEnv {
    clock: ManualClock,
    unique: String,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl KitEnv {
    /// A fresh environment for one case.
    pub fn new(case: &str) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let case: String = case
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(24)
            .collect::<String>()
            .to_ascii_lowercase();
        KitEnv {
            clock: ManualClock::new(KIT_START),
            unique: format!("kit_{pid}_{n}_{case}"),
        }
    }

    /// The clock, for the store to read "now" from.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(self.clock.clone())
    }

    /// The clock's current time.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The same clock, to move it.
    pub fn manual_clock(&self) -> &ManualClock {
        &self.clock
    }

    /// `SECRET_KEY` for stores that sign.
    pub fn secret_keys(&self) -> SecretKeys {
        SecretKeys::new(KIT_SECRET)
    }

    /// `SESSION_COOKIE_AGE` for stores that need it.
    pub fn cookie_age(&self) -> i64 {
        KIT_COOKIE_AGE
    }

    /// A name unique to this case and process: `[a-z0-9_]`, at most 50 characters.
    pub fn unique_name(&self) -> &str {
        &self.unique
    }

    /// The settings the kit's sessions use: Django's defaults on this clock.
    pub fn config(&self) -> Result<SessionConfig> {
        SessionConfig::builder(self.secret_keys())
            .clock(self.clock())
            .build()
    }
}

/// Direct access to a store's stored bytes, so the kit can plant tampered or
/// undecodable records (rule D7). Optional: without it those cases are reported as
/// skipped, with that reason.
#[async_trait]
pub trait RawRecords: Send + Sync + fmt::Debug {
    /// Stores `raw` as the record of `key`, live until `expires_at`, bypassing encoding.
    async fn write_raw(
        &self,
        key: &SessionKey,
        raw: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()>;
    /// The stored bytes of `key`, if any (for wire-format snapshots).
    async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>>;
}

/// A store under test, as a factory built it.
#[derive(Clone)]
pub struct Harness {
    /// The store through both contracts.
    pub backend: SessionBackend,
    /// Raw access to stored records, when the store offers it.
    pub raw: Option<Arc<dyn RawRecords>>,
    /// Whether the store's wire format is Django's `session_data` (signed, compressed
    /// JSON with salt `django.contrib.sessions.SessionStore`), so the kit can check it
    /// byte for byte.
    pub django_session_data: bool,
    /// What the case's store needs alive until the case ends (a temporary directory,
    /// a guard that drops the case's table or keys); dropped with the harness.
    keep_alive: Vec<Arc<dyn Any + Send + Sync>>,
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("backend", &self.backend)
            .field("raw", &self.raw)
            .field("django_session_data", &self.django_session_data)
            .field("keep_alive", &self.keep_alive.len())
            .finish()
    }
}

impl Harness {
    /// A harness without raw access.
    pub fn new(backend: SessionBackend) -> Self {
        Harness {
            backend,
            raw: None,
            django_session_data: false,
            keep_alive: Vec::new(),
        }
    }

    /// Adds raw access; `django_session_data` says whether the raw text is Django's
    /// `session_data` encoding.
    pub fn with_raw(mut self, raw: Arc<dyn RawRecords>, django_session_data: bool) -> Self {
        self.raw = Some(raw);
        self.django_session_data = django_session_data;
        self
    }

    /// Keeps `guard` alive as long as the harness: a temporary directory, or a value
    /// whose `Drop` removes the case's table or keys.
    pub fn keep_alive<T: Send + Sync + 'static>(mut self, guard: T) -> Self {
        self.keep_alive.push(Arc::new(guard));
        self
    }
}

/// The error a factory returns when the store's server is not there (outside CI): the
/// runner reports every case as skipped with this reason instead of failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store unavailable: {}", self.0)
    }
}

impl std::error::Error for Unavailable {}

/// Builds the [`Unavailable`] error for a factory to return.
///
/// ```
/// let err = session_conformance::unavailable("no PostgreSQL on 127.0.0.1:5432");
/// assert!(err.to_string().contains("unavailable"));
/// ```
pub fn unavailable(reason: impl Into<String>) -> session_api::Error {
    session_api::Error::backend(Unavailable(reason.into()))
}
