//! What a store author hands the kit: a factory from [`KitEnv`] to [`Harness`].

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use session_api::signing::SecretKeys;
use session_api::{
    AsyncSessionStore, Clock, ManualClock, Result, SessionBackend, SessionConfig, SessionKey,
};
use time::OffsetDateTime;

use crate::fixtures;

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
    /// A fresh environment for one case: a clock at [`fixtures::START`].
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
            clock: ManualClock::new(fixtures::START),
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

    /// `SECRET_KEY` for stores that sign: [`fixtures::SECRET`].
    pub fn secret_keys(&self) -> SecretKeys {
        SecretKeys::new(fixtures::SECRET)
    }

    /// `SESSION_COOKIE_AGE` for stores that need it: [`fixtures::COOKIE_AGE`].
    pub fn cookie_age(&self) -> i64 {
        fixtures::COOKIE_AGE
    }

    /// A name unique to this case and process: `[a-z0-9_]`, at most 50 characters.
    pub fn unique_name(&self) -> &str {
        &self.unique
    }

    /// The settings the kit's sessions use: Django's defaults on this clock and secret.
    pub fn config(&self) -> Result<SessionConfig> {
        SessionConfig::builder(self.secret_keys())
            .clock(self.clock())
            .cookie_age(self.cookie_age())
            .build()
    }
}

/// Direct access to a store's stored text, so the kit can plant tampered or
/// undecodable records (rule D7) and compare stored records with Django's (F6).
/// Optional: without it those cases are skipped, and the skip says the rule is not
/// checked.
#[async_trait]
pub trait RawRecords: Send + Sync + fmt::Debug {
    /// Stores `raw` as the record of `key`, live until `expires_at`, bypassing encoding.
    async fn write_raw(
        &self,
        key: &SessionKey,
        raw: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()>;
    /// The stored text of `key`, if any.
    async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>>;
}

/// The view below a store that keeps its records under hashed ids (rule S3,
/// [`session_api::Capabilities::hashed_ids`]): what a dump of the store holds, and the
/// store in its migration mode, for the kit's S3 cases. Optional, as [`RawRecords`]:
/// without it those cases are skipped, and the skip says the rule is not checked.
pub trait HashedIdsAccess: Send + Sync + fmt::Debug {
    /// The id the record of `key` is kept under.
    fn stored_id(&self, key: &SessionKey) -> Result<SessionKey>;
    /// The store below the hashing: records under their stored ids, as a dump holds
    /// them.
    fn below(&self) -> Arc<dyn AsyncSessionStore>;
    /// The hashing store over `below` (the store of [`HashedIdsAccess::below`], or the
    /// kit's wrapper of it) in the mode that also finds, and moves, records kept under
    /// plain keys: those written before hashing was turned on.
    fn migrating_over(&self, below: Arc<dyn AsyncSessionStore>) -> Result<SessionBackend>;
}

/// A store under test, as a factory built it.
#[derive(Clone)]
pub struct Harness {
    /// The store through both contracts.
    pub backend: SessionBackend,
    /// Raw access to stored records, when the store offers it.
    pub raw: Option<Arc<dyn RawRecords>>,
    /// Whether the store's raw text is Django's `session_data` (signed, compressed
    /// JSON with salt `django.contrib.sessions.SessionStore`), so the kit can check it
    /// byte for byte.
    pub django_session_data: bool,
    /// The view below the hashing, when the store keeps hashed ids (rule S3).
    pub hashed_ids: Option<Arc<dyn HashedIdsAccess>>,
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
            .field("hashed_ids", &self.hashed_ids)
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
            hashed_ids: None,
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

    /// Adds the view below a store that keeps hashed ids (rule S3).
    pub fn with_hashed_ids(mut self, access: Arc<dyn HashedIdsAccess>) -> Self {
        self.hashed_ids = Some(access);
        self
    }

    /// Keeps `guard` alive as long as the harness: a temporary directory, or a value
    /// whose `Drop` removes the case's table or keys.
    pub fn keep_alive<T: Send + Sync + 'static>(mut self, guard: T) -> Self {
        self.keep_alive.push(Arc::new(guard));
        self
    }
}

/// The error a factory returns when the store's server is not there. Outside CI the
/// runner skips every case, loudly, with this reason; under `CI=true` every case
/// fails. Any [`session_api::Error::Unavailable`] from a factory counts the same.
///
/// ```
/// let err = session_conformance::unavailable("no PostgreSQL on 127.0.0.1:5432");
/// assert!(matches!(err, session_api::Error::Unavailable(_)));
/// ```
pub fn unavailable(reason: impl Into<String>) -> session_api::Error {
    session_api::Error::unavailable(reason.into())
}
