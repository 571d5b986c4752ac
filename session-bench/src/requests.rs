//! The request table: what the middleware core costs a request that never touches
//! its session (the target: no store call, no session data), next to one that
//! reads a key (one load). The store counts its calls; an untouched request that
//! makes one fails the measurement.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use session_api::middleware::SessionMiddleware;
use session_api::{
    AsyncSessionStore, Capabilities, KeyGenerator, Record, SaveMode, SecretKeys, SessionBackend,
    SessionConfig, SessionData, SessionKey,
};
use session_stores::memory::MemoryStore;
use time::OffsetDateTime;

use crate::error::{BenchError, Result};
use crate::measure::{concurrently, Latencies, Sample};
use crate::payload::{Payload, PayloadSize, COUNTER};
use crate::subject::{Budget, Cell, Measured, Op};
use crate::subjects::expires;

/// A store that counts the calls that reach it.
#[derive(Debug)]
struct Counting {
    inner: SessionBackend,
    calls: AtomicU64,
}

impl Counting {
    fn count(&self) -> &dyn AsyncSessionStore {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.nonblocking()
    }
}

#[async_trait]
impl AsyncSessionStore for Counting {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn aexists(&self, key: &SessionKey) -> session_api::Result<bool> {
        self.count().aexists(key).await
    }
    async fn aload(&self, key: &SessionKey) -> session_api::Result<Option<Record>> {
        self.count().aload(key).await
    }
    async fn asave(&self, record: &Record, mode: SaveMode) -> session_api::Result<SessionKey> {
        self.count().asave(record, mode).await
    }
    async fn acreate_with(
        &self,
        data: &SessionData,
        expires_at: OffsetDateTime,
        keys: &dyn KeyGenerator,
    ) -> session_api::Result<SessionKey> {
        self.count().acreate_with(data, expires_at, keys).await
    }
    async fn adelete(&self, key: &SessionKey) -> session_api::Result<()> {
        self.count().adelete(key).await
    }
    async fn aclear_expired(&self) -> session_api::Result<u64> {
        self.count().aclear_expired().await
    }
}

/// The middleware core over the memory store, with a session per payload.
pub struct RequestBench {
    middleware: SessionMiddleware,
    store: Arc<Counting>,
    cookies: std::sync::Mutex<Vec<(PayloadSize, String)>>,
}

impl RequestBench {
    /// The middleware with `secret`'s settings.
    ///
    /// # Errors
    ///
    /// [`BenchError::Store`] when the settings are refused.
    pub fn new(secret: &str) -> Result<Self> {
        let store = Arc::new(Counting {
            inner: SessionBackend::from_nonblocking_sync(Arc::new(MemoryStore::new())),
            calls: AtomicU64::new(0),
        });
        let config = Arc::new(SessionConfig::builder(SecretKeys::new(secret)).build()?);
        let backend = SessionBackend::from_async(Arc::clone(&store));
        Ok(RequestBench {
            middleware: SessionMiddleware::new(backend, config),
            store,
            cookies: std::sync::Mutex::default(),
        })
    }

    fn cookie(&self, size: PayloadSize) -> Result<String> {
        self.cookies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|(s, _)| *s == size)
            .map(|(_, c)| c.clone())
            .ok_or_else(|| BenchError::Setup("measured before it was prepared".into()))
    }
}

#[async_trait]
impl Measured for RequestBench {
    fn not_applicable(&self, cell: &Cell) -> Option<&'static str> {
        (!matches!(cell.op, Op::Untouched | Op::Touched)).then_some("a request column")
    }

    async fn prepare(&self, payloads: &[Payload], _budget: &Budget) -> Result<()> {
        for payload in payloads {
            let key = self
                .store
                .inner
                .nonblocking()
                .acreate(&payload.data, expires())
                .await?;
            let cookie = format!("{}={}", self.middleware.config().cookie_name, key.as_str());
            self.cookies
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((payload.size, cookie));
        }
        Ok(())
    }

    async fn measure(
        &self,
        cell: Cell,
        _round: usize,
        _payload: &Payload,
        budget: &Budget,
    ) -> Result<Sample> {
        let cookie = Arc::new(self.cookie(cell.size)?);
        let deadline = Instant::now() + budget.run_for;
        let touch = cell.op == Op::Touched;
        let before = self.store.calls.load(Ordering::Relaxed);
        let sample = concurrently(cell.tasks, |_| {
            let (middleware, cookie) = (self.middleware.clone(), Arc::clone(&cookie));
            async move {
                let mut lat = Latencies::default();
                let mut first = true;
                while first || Instant::now() < deadline {
                    first = false;
                    lat.time(async {
                        let request = middleware.request_session(Some(cookie.as_str()));
                        if touch {
                            let _: Option<i64> = request.session.aget(COUNTER).await?;
                        }
                        let response = middleware.aprocess_response(&request, 200).await?;
                        if response.set_cookie.is_some() {
                            return Err(BenchError::Setup(
                                "a read-only request set a cookie".into(),
                            ));
                        }
                        Ok(())
                    })
                    .await?;
                }
                Ok(lat)
            }
        })
        .await?;
        let calls = self.store.calls.load(Ordering::Relaxed) - before;
        let requests = sample.latencies.len() as u64;
        let expected = if touch { requests } else { 0 };
        if calls != expected {
            return Err(BenchError::Setup(format!(
                "{requests} requests made {calls} store calls, not {expected}"
            )));
        }
        Ok(sample)
    }

    async fn finish(&self) -> Result<()> {
        Ok(())
    }
}
