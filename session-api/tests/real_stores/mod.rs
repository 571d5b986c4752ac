//! The real stores the concurrency, event and failure-policy tests run on: memory,
//! files in a temporary directory, SQLite in a temporary file; all on one manual
//! clock with the same settings.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use session_api::config::SessionConfigBuilder;
use session_api::events::{
    ConflictResolution, ExpirySource, SessionEvent, SessionObserver, StoreOp, StoreOperation,
};
use session_api::middleware::SessionMiddleware;
use session_api::{
    Capabilities, ManualClock, Record, SecretKeys, Session, SessionBackend, SessionConfig,
    SessionKey,
};
use session_stores::db::{DbOptions, DbStore};
use session_stores::file::FileStore;
use session_stores::memory::MemoryStore;
use tempfile::TempDir;
use time::macros::datetime;
use time::OffsetDateTime;

pub const START: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

/// One real store with the settings it runs under.
pub struct Store {
    pub name: &'static str,
    pub backend: SessionBackend,
    pub config: Arc<SessionConfig>,
    pub clock: ManualClock,
    /// Set by [`Store::observed`].
    pub events: Option<Arc<Recorder>>,
    pub db: Option<Arc<DbStore>>,
    _dir: Option<TempDir>,
}

impl Store {
    pub fn caps(&self) -> Capabilities {
        self.backend.capabilities()
    }

    pub fn session(&self, key: Option<&SessionKey>) -> Session {
        Session::new(
            self.backend.clone(),
            Arc::clone(&self.config),
            key.map(SessionKey::as_str),
        )
    }

    pub fn middleware(&self) -> SessionMiddleware {
        SessionMiddleware::new(self.backend.clone(), Arc::clone(&self.config))
    }

    /// A saved session holding `data`; its key.
    pub async fn saved(&self, data: &[(&str, Value)]) -> SessionKey {
        let session = self.session(None);
        for (name, value) in data {
            session.aset_value(name, value.clone()).await.unwrap();
        }
        session.asave().await.unwrap();
        session.session_key().unwrap()
    }

    /// The stored record, read straight from the store.
    pub async fn record(&self, key: &SessionKey) -> Option<Record> {
        self.backend.nonblocking().aload(key).await.unwrap()
    }

    /// The stored value of `name` under `key`.
    pub async fn stored(&self, key: &SessionKey, name: &str) -> Option<Value> {
        let record = self.record(key).await?;
        record.data.get_value(name).cloned()
    }

    /// The SQLite file of the "sqlite" store.
    pub fn db_path(&self) -> std::path::PathBuf {
        self._dir.as_ref().unwrap().path().join("sessions.sqlite3")
    }

    pub fn now(&self) -> OffsetDateTime {
        session_api::Clock::now(&self.clock)
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.advance(time::Duration::seconds(seconds));
    }
}

/// Each real store under `settings` (the clock and the observer, when `observe`, are
/// set here).
pub async fn stores(
    observe: bool,
    settings: impl Fn(SessionConfigBuilder) -> SessionConfigBuilder,
) -> Vec<Store> {
    let mut out = Vec::new();
    for name in ["memory", "file", "sqlite"] {
        out.push(store(name, observe, &settings).await);
    }
    out
}

/// The real store `name` ("memory", "file" or "sqlite").
pub async fn store(
    name: &'static str,
    observe: bool,
    settings: impl Fn(SessionConfigBuilder) -> SessionConfigBuilder,
) -> Store {
    let clock = ManualClock::new(START);
    let events = observe.then(|| Arc::new(Recorder::default()));
    let mut builder = settings(
        SessionConfig::builder(SecretKeys::new("concurrency-test-secret"))
            .clock(Arc::new(clock.clone())),
    );
    if let Some(events) = &events {
        builder = builder.observer(events.clone());
    }
    let config = Arc::new(builder.build().unwrap());
    let (backend, db, dir) = match name {
        "memory" => (
            SessionBackend::from_nonblocking_sync(Arc::new(MemoryStore::with_clock(Arc::new(
                clock.clone(),
            )))),
            None,
            None,
        ),
        "file" => {
            let dir = tempfile::tempdir().unwrap();
            let store = FileStore::from_config_in(&config, dir.path()).unwrap();
            (SessionBackend::from_sync(Arc::new(store)), None, Some(dir))
        }
        _ => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("sessions.sqlite3").display());
            let db = Arc::new(
                DbStore::connect(&url, DbOptions::from_config(&config))
                    .await
                    .unwrap(),
            );
            db.migrate().await.unwrap();
            (
                SessionBackend::from_async(Arc::clone(&db)),
                Some(db),
                Some(dir),
            )
        }
    };
    Store {
        name,
        backend,
        config,
        clock,
        events,
        db,
        _dir: dir,
    }
}

/// One event as the recorder keeps it: its kind, the raw keys it names (through
/// [`EventKey::key`](session_api::events::EventKey::key)) and its `Debug` form.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub kind: &'static str,
    pub keys: Vec<SessionKey>,
    pub detail: String,
}

/// A real observer: keeps every event and operation it hears.
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<Seen>>,
    operations: Mutex<Vec<StoreOperation>>,
}

impl Recorder {
    pub fn events(&self) -> Vec<Seen> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.events().into_iter().map(|e| e.kind).collect()
    }

    pub fn operations(&self) -> Vec<StoreOperation> {
        self.operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn count(&self, op: StoreOp) -> usize {
        self.operations().iter().filter(|o| o.op == op).count()
    }

    pub fn clear(&self) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl SessionObserver for Recorder {
    fn on_event(&self, event: &SessionEvent<'_>) {
        let (kind, keys) = match *event {
            SessionEvent::Created { key } => ("created", vec![key.key().clone()]),
            SessionEvent::Loaded { key } => ("loaded", vec![key.key().clone()]),
            SessionEvent::Saved { key } => ("saved", vec![key.key().clone()]),
            SessionEvent::Cycled { old, new } => {
                ("cycled", vec![old.key().clone(), new.key().clone()])
            }
            SessionEvent::Flushed { key } => ("flushed", vec![key.key().clone()]),
            SessionEvent::Deleted { key } => ("deleted", vec![key.key().clone()]),
            SessionEvent::Expired { key, source } => (
                match source {
                    ExpirySource::Load => "expired_on_load",
                    ExpirySource::ClearExpired { .. } => "expired_cleared",
                    _ => "expired",
                },
                key.map(|k| k.key().clone()).into_iter().collect(),
            ),
            SessionEvent::Interrupted { key } => ("interrupted", vec![key.key().clone()]),
            SessionEvent::Conflict { key, resolution } => (
                match resolution {
                    ConflictResolution::Merged { .. } => "conflict_merged",
                    _ => "conflict_failed",
                },
                vec![key.key().clone()],
            ),
            SessionEvent::Touched { key } => ("touched", vec![key.key().clone()]),
            _ => ("other", Vec::new()),
        };
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Seen {
                kind,
                keys,
                detail: format!("{event:?}"),
            });
    }

    fn on_operation(&self, op: &StoreOperation) {
        self.operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(*op);
    }
}
