//! The real stores behind the sites: SQLite in a temporary file (the default), and the
//! same store with a hold point in its saves for rule G5's race.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde_json::Value;
use session_api::config::SessionConfigBuilder;
use session_api::middleware::SessionMiddleware;
use session_api::{
    AsyncSessionStore, Capabilities, Lookup, ManualClock, Record, Result, SaveMode, SecretKeys,
    Session, SessionBackend, SessionConfig, SessionKey, Version,
};
use session_stores::db::{DbOptions, DbStore};
use tempfile::TempDir;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use super::site::{Adapter, Server, SiteSpec};

/// Settings on a manual clock and a migrated SQLite store in a fresh file.
pub struct Fixture {
    /// The clock of the settings and the store: it starts at the real time (whole
    /// seconds), so the client's cookie expiry agrees with the site's, and moves only
    /// when a case moves it.
    pub clock: ManualClock,
    /// The settings.
    pub config: Arc<SessionConfig>,
    /// The store.
    pub db: Arc<DbStore>,
    _dir: TempDir,
}

impl Fixture {
    /// Django's default settings.
    pub async fn new() -> Self {
        Self::with(|b| b).await
    }

    /// The default settings changed by `settings`.
    pub async fn with(settings: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder) -> Self {
        let now = OffsetDateTime::now_utc();
        let clock = ManualClock::new(now - time::Duration::nanoseconds(now.nanosecond().into()));
        let builder = SessionConfig::builder(SecretKeys::new("http-rules-secret"))
            .clock(Arc::new(clock.clone()));
        let config = Arc::new(settings(builder).build().expect("valid settings"));
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("sessions.sqlite3").display());
        let db = DbStore::connect(&url, DbOptions::from_config(&config))
            .await
            .expect("open SQLite");
        db.migrate().await.expect("create the session table");
        Fixture {
            clock,
            config,
            db: Arc::new(db),
            _dir: dir,
        }
    }

    /// Now, on the fixture's clock.
    pub fn now(&self) -> OffsetDateTime {
        session_api::Clock::now(&self.clock)
    }

    /// The SQLite store as a backend.
    pub fn backend(&self) -> SessionBackend {
        SessionBackend::from_async(Arc::clone(&self.db))
    }

    /// The middleware over the SQLite store.
    pub fn middleware(&self) -> SessionMiddleware {
        SessionMiddleware::new(self.backend(), Arc::clone(&self.config))
    }

    /// Serves the views over the SQLite store with the default error answers.
    pub fn serve(&self, adapter: &dyn Adapter) -> Server {
        adapter.serve(SiteSpec::new(self.middleware()))
    }

    /// A session saved straight through the store, holding `data`; its key.
    pub async fn saved(&self, data: &[(&str, Value)]) -> SessionKey {
        let session = Session::new(self.backend(), Arc::clone(&self.config), None);
        for (name, value) in data {
            session
                .aset_value(name, value.clone())
                .await
                .expect("set a value");
        }
        session.asave().await.expect("save the session");
        session.session_key().expect("a saved session has a key")
    }

    /// The record under `key`, read straight from the store.
    pub async fn load(&self, key: &SessionKey) -> Option<Record> {
        self.db.aload(key).await.expect("the store answers")
    }

    /// The `Cookie` header carrying `key` as the session cookie.
    pub fn cookie(&self, key: &str) -> String {
        format!("{}={key}", self.config.cookie_name)
    }
}

/// The SQLite store with a hold point: the next update armed with
/// [`hold_next_update`](Self::hold_next_update) waits until the case releases it (a
/// slow save), then goes on to the real store.
#[derive(Debug)]
pub struct HeldSaves {
    inner: Arc<DbStore>,
    next: Mutex<Option<Hold>>,
}

#[derive(Debug)]
struct Hold {
    entered: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

/// The case's side of a hold: `entered` fires when the save reaches the hold point,
/// sending on `release` lets it go on.
pub struct HoldHandle {
    /// Fires when the held save has started.
    pub entered: oneshot::Receiver<()>,
    /// Lets the held save go on.
    pub release: oneshot::Sender<()>,
}

impl HeldSaves {
    /// Wraps the real store.
    pub fn new(inner: Arc<DbStore>) -> Self {
        HeldSaves {
            inner,
            next: Mutex::new(None),
        }
    }

    /// Arms the hold for the next `SaveMode::Update` save.
    pub fn hold_next_update(&self) -> HoldHandle {
        let (entered_tx, entered_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        *self.next.lock().unwrap_or_else(PoisonError::into_inner) = Some(Hold {
            entered: entered_tx,
            release: release_rx,
        });
        HoldHandle {
            entered: entered_rx,
            release: release_tx,
        }
    }
}

impl HeldSaves {
    /// Waits for the case's release when an update is armed.
    async fn wait_if_held(&self) {
        let hold = self
            .next
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(hold) = hold {
            let _ = hold.entered.send(());
            let _ = hold.release.await;
        }
    }
}

#[async_trait]
impl AsyncSessionStore for HeldSaves {
    fn capabilities(&self) -> Capabilities {
        AsyncSessionStore::capabilities(&*self.inner)
    }
    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        self.inner.aexists(key).await
    }
    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        self.inner.aload(key).await
    }
    async fn alookup(&self, key: &SessionKey) -> Result<Lookup> {
        self.inner.alookup(key).await
    }
    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        if mode == SaveMode::Update {
            self.wait_if_held().await;
        }
        self.inner.asave(record, mode).await
    }
    // A versioned store's updates are `asave_if` (V1): they are held the same way.
    async fn asave_if(&self, record: &Record, expected: Version) -> Result<Version> {
        self.wait_if_held().await;
        self.inner.asave_if(record, expected).await
    }
    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        self.inner.adelete(key).await
    }
    async fn aclear_expired(&self) -> Result<u64> {
        self.inner.aclear_expired().await
    }
}
