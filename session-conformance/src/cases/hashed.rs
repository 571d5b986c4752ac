//! S3: ids hashed at rest, for stores that declare
//! [`Capabilities::hashed_ids`](session_api::Capabilities::hashed_ids) and show the kit
//! the store below ([`HashedIdsAccess`]): what the store holds is not the key, does not
//! reveal it and cannot be presented as a cookie; records kept under plain keys move
//! under their stored ids, and a logout racing a move is never undone.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use session_api::middleware::SessionMiddleware;
use session_api::store::{AsyncAccountSessions, Lookup, Version};
use session_api::{
    AsyncSessionStore, Capabilities, Error, Record, SaveMode, Session, SessionBackend, SessionData,
    SessionKey,
};
use time::OffsetDateTime;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use crate::ensure;
use crate::fixtures::COOKIE_AGE;
use crate::harness::HashedIdsAccess;
use crate::runner::{CaseResult, Ctx, Failure};

fn access(ctx: &Ctx) -> Result<Arc<dyn HashedIdsAccess>, Failure> {
    ctx.harness
        .hashed_ids
        .clone()
        .ok_or_else(|| Failure("the harness shows nothing below the hashing".into()))
}

fn data(value: serde_json::Value) -> Result<SessionData, Failure> {
    SessionData::from_value(value).ok_or_else(|| Failure("not a JSON object".into()))
}

/// A record kept under `key` itself in the store below: one written before hashing
/// was turned on.
async fn plant_plain(
    ctx: &Ctx,
    below: &dyn AsyncSessionStore,
    key: &SessionKey,
) -> Result<(), Failure> {
    let record = Record::new(key.clone(), data(json!({"a": 1}))?, live_until(ctx));
    below.asave(&record, SaveMode::Create).await?;
    Ok(())
}

/// The expiry of the records these cases write: a cookie age from now.
fn live_until(ctx: &Ctx) -> time::OffsetDateTime {
    ctx.env.now() + time::Duration::seconds(COOKIE_AGE)
}

/// S3: the record is kept under its stored id, not under the key; the id shares no
/// piece of the key, and keys one character apart get unrelated ids.
pub async fn s3_stored_id_is_not_the_key(ctx: Ctx) -> CaseResult {
    let access = access(&ctx)?;
    let below = access.below();
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let id = access.stored_id(&key)?;
    ensure!(id != key, "the stored id is the key");
    let stored = below.aload(&id).await?;
    ensure!(
        stored.is_some_and(|r| r.data.get_value("a") == Some(&json!(1))),
        "no record under the stored id"
    );
    ensure!(
        below.aload(&key).await?.is_none(),
        "the record is also kept under the key itself"
    );
    let (key_text, id_text) = (key.as_str(), id.as_str());
    for piece in key_text.as_bytes().windows(6) {
        let piece = String::from_utf8_lossy(piece);
        ensure!(
            !id_text.contains(piece.as_ref()),
            "the stored id holds {piece:?} of the key"
        );
    }
    let last = key_text.chars().last().unwrap_or('a');
    let neighbour = format!(
        "{}{}",
        &key_text[..key_text.len() - 1],
        if last == 'a' { 'b' } else { 'a' }
    );
    let other = access.stored_id(&SessionKey::parse(&neighbour)?)?;
    let same = id_text
        .bytes()
        .zip(other.as_str().bytes())
        .filter(|(a, b)| a == b)
        .count();
    ensure!(
        same < id_text.len() / 2,
        "keys one character apart have stored ids alike in {same} places"
    );
    Ok(())
}

/// S3: a stored id presented as a cookie, through the middleware and to the store in
/// either mode, loads nothing, is not adopted, and neither a save nor a logout with it
/// touches the session it names.
pub async fn s3_stored_id_presented_as_a_key_loads_nothing(ctx: Ctx) -> CaseResult {
    let access = access(&ctx)?;
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let id = access.stored_id(&key)?;
    let migrating = access.migrating_over(access.below())?;
    for (mode, backend) in [("", ctx.backend.clone()), (" (migration mode)", migrating)] {
        let mw = SessionMiddleware::new(backend.clone(), ctx.config().clone());
        let cookie = format!("{}={}", ctx.config().cookie_name, id.as_str());
        let request = mw.request_session(Some(&cookie));
        ensure!(
            request.session.akeys().await?.is_empty(),
            "the stored id loaded the session{mode}"
        );
        ensure!(
            request.session.session_key().is_none(),
            "the stored id was kept as the session's key{mode}"
        );
        let store = backend.nonblocking();
        ensure!(!store.aexists(&id).await?, "the stored id exists{mode}");
        let overwrite = Record::new(id.clone(), data(json!({"a": 666}))?, live_until(&ctx));
        let saved = store.asave(&overwrite, SaveMode::Update).await;
        ensure!(
            matches!(saved, Err(Error::Update)),
            "an update under the stored id gave {saved:?}{mode}"
        );
        store.adelete(&id).await?;
    }
    let back = ctx.session(Some(key.as_str()));
    ensure!(
        back.aget::<i64>("a").await? == Some(1),
        "a save or logout presenting the stored id changed the session it names"
    );
    Ok(())
}

/// S3: in the migration mode a plain record exists and loads; the load moves it under
/// its stored id (data and expiry kept, the returned record under the client's key),
/// and the session goes on there.
pub async fn s3_plain_record_moves_on_load(ctx: Ctx) -> CaseResult {
    let access = access(&ctx)?;
    let below = access.below();
    let migrating = access.migrating_over(Arc::clone(&below))?;
    let key = SessionKey::generate();
    let id = access.stored_id(&key)?;
    plant_plain(&ctx, &*below, &key).await?;
    ensure!(
        migrating.nonblocking().aexists(&key).await?,
        "a plain record does not exist in the migration mode"
    );
    let record = migrating.nonblocking().aload(&key).await?;
    let record = record.ok_or_else(|| Failure("the plain record did not load".into()))?;
    ensure!(record.key == key, "the loaded record is not under the key");
    ensure!(
        record.data.get_value("a") == Some(&json!(1)),
        "the plain record's data did not load"
    );
    ensure!(
        below.aload(&key).await?.is_none(),
        "the plain record stayed after the move"
    );
    let moved = below.aload(&id).await?;
    let moved = moved.ok_or_else(|| Failure("nothing under the stored id".into()))?;
    ensure!(
        moved.data == record.data && moved.expires_at == record.expires_at,
        "the moved record differs from the plain one"
    );
    let s = Session::new(migrating, ctx.config().clone(), Some(key.as_str()));
    s.aset("a", &2).await?;
    s.asave().await?;
    let updated = below.aload(&id).await?;
    ensure!(
        updated.is_some_and(|r| r.data.get_value("a") == Some(&json!(2))),
        "a save after the move did not update the moved record"
    );
    Ok(())
}

/// S3: in the migration mode, a session saved without being loaded (cleared) whose
/// record is still plain is written under its stored id and the plain record goes;
/// an update of a key with no record at all still fails (D5) and creates nothing.
pub async fn s3_plain_record_moves_on_save(ctx: Ctx) -> CaseResult {
    let access = access(&ctx)?;
    let below = access.below();
    let migrating = access.migrating_over(Arc::clone(&below))?;
    let key = SessionKey::generate();
    plant_plain(&ctx, &*below, &key).await?;
    let s = Session::new(migrating.clone(), ctx.config().clone(), Some(key.as_str()));
    s.aclear().await;
    s.asave().await?;
    ensure!(
        below.aload(&key).await?.is_none(),
        "the plain record stayed after the save"
    );
    let moved = below.aload(&access.stored_id(&key)?).await?;
    ensure!(
        moved.is_some_and(|r| r.data.as_map().is_empty()),
        "the cleared session was not saved under its stored id"
    );
    let unknown = SessionKey::generate();
    let record = Record::new(unknown.clone(), data(json!({"a": 1}))?, live_until(&ctx));
    let saved = migrating
        .nonblocking()
        .asave(&record, SaveMode::Update)
        .await;
    ensure!(
        matches!(saved, Err(Error::Update)),
        "an update of an unknown key gave {saved:?}"
    );
    ensure!(
        !below.aexists(&access.stored_id(&unknown)?).await?,
        "an update of an unknown key created a record"
    );
    Ok(())
}

/// What the request racing the logout does to a session whose record is still plain.
#[derive(Debug, Clone, Copy)]
enum Move {
    /// Loads it (the move on load).
    Load,
    /// Saves it without loading it (the move on save).
    Save,
}

/// Store calls the move makes at most (load hashed, load plain, create hashed, check
/// plain, delete plain); the logout makes two (plain, then hashed).
const MOVE_CALLS: usize = 5;
const LOGOUT_CALLS: usize = 2;

/// S3, A6: a logout racing the move of a plain record, in every order of their store
/// calls (the logout's two calls at each pair of places among the move's five, for a
/// load and for a save), leaves no record, and a save by the request that loaded it
/// fails (D5) instead of bringing it back.
pub async fn s3_logout_during_a_move_is_never_undone(ctx: Ctx) -> CaseResult {
    let access = access(&ctx)?;
    let below = access.below();
    let direct = access.migrating_over(Arc::clone(&below))?;
    let places = MOVE_CALLS + LOGOUT_CALLS;
    for mv in [Move::Load, Move::Save] {
        for first in 0..places {
            for second in first + 1..places {
                let order = format!("{mv:?}, the logout's calls at {first} and {second}");
                let key = SessionKey::generate();
                plant_plain(&ctx, &*below, &key).await?;
                let record = Record::new(key.clone(), data(json!({"b": 2}))?, live_until(&ctx));
                let mut mover = {
                    let (key, record) = (key.clone(), record.clone());
                    Request::start(&*access, &below, move |backend| async move {
                        let store = backend.nonblocking();
                        match mv {
                            Move::Load => store.aload(&key).await,
                            Move::Save => {
                                store.asave(&record, SaveMode::Update).await.map(|_| None)
                            }
                        }
                    })
                    .await?
                };
                let mut logout = {
                    let key = key.clone();
                    Request::start(&*access, &below, move |backend| async move {
                        backend.nonblocking().adelete(&key).await.map(|()| None)
                    })
                    .await?
                };
                for place in 0..places {
                    if place == first || place == second {
                        logout.step().await?;
                    } else {
                        mover.step().await?;
                    }
                }
                let moved = mover.finish().await?;
                logout
                    .finish()
                    .await?
                    .map_err(|e| Failure(format!("{order}: the logout failed: {e}")))?;
                let loaded = match (mv, moved) {
                    (_, Ok(loaded)) => loaded,
                    (Move::Save, Err(Error::Update)) => None,
                    (_, Err(e)) => return Err(Failure(format!("{order}: the move failed: {e}"))),
                };
                if let Some(loaded) = loaded {
                    ensure!(loaded.key == key, "{order}: loaded under another key");
                    let late = direct.nonblocking().asave(&loaded, SaveMode::Update).await;
                    ensure!(
                        matches!(late, Err(Error::Update)),
                        "{order}: a save after the logout gave {late:?}"
                    );
                }
                ensure!(
                    !below.aexists(&key).await?,
                    "{order}: the plain record survived the logout"
                );
                ensure!(
                    !below.aexists(&access.stored_id(&key)?).await?,
                    "{order}: the logout was undone (a record under the stored id)"
                );
                ensure!(
                    direct.nonblocking().aload(&key).await?.is_none(),
                    "{order}: the session loads after its logout"
                );
            }
        }
    }
    Ok(())
}

/// How long a request may take to reach its next store call before the case fails (a
/// lock held across store calls would otherwise hang it).
const STALL: Duration = Duration::from_secs(10);

/// What a request returns in [`s3_logout_during_a_move_is_never_undone`].
type Outcome = session_api::Result<Option<Record>>;

/// A request on the hashing store (migration mode) over a [`Turnstile`], stepped
/// one store call at a time.
struct Request {
    arrived: mpsc::UnboundedReceiver<()>,
    go: Arc<Semaphore>,
    task: Option<JoinHandle<Outcome>>,
    outcome: Option<Outcome>,
    calls: usize,
}

impl Request {
    /// Starts `run` on the hashing store over a turnstile in front of `below`; returns
    /// once it stops before its first store call (or has ended).
    async fn start<F, Fut>(
        access: &dyn HashedIdsAccess,
        below: &Arc<dyn AsyncSessionStore>,
        run: F,
    ) -> Result<Self, Failure>
    where
        F: FnOnce(SessionBackend) -> Fut,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let (arrived, waiting) = mpsc::unbounded_channel();
        let go = Arc::new(Semaphore::new(0));
        let turnstile = Turnstile {
            below: Arc::clone(below),
            arrived,
            go: Arc::clone(&go),
        };
        let backend = access.migrating_over(Arc::new(turnstile))?;
        let mut request = Request {
            arrived: waiting,
            go,
            task: Some(tokio::spawn(run(backend))),
            outcome: None,
            calls: 0,
        };
        request.settle().await?;
        Ok(request)
    }

    /// Waits until the request stops before its next store call, or ends.
    async fn settle(&mut self) -> Result<(), Failure> {
        let Some(running) = self.task.as_mut() else {
            return Ok(());
        };
        let arrived = &mut self.arrived;
        let next = async {
            tokio::select! {
                biased;
                Some(()) = arrived.recv() => None,
                joined = running => Some(joined),
            }
        };
        match tokio::time::timeout(STALL, next).await {
            Err(_) => Err(Failure(format!(
                "a request neither reached its next store call nor ended within {STALL:?}"
            ))),
            Ok(None) => Ok(()),
            Ok(Some(joined)) => {
                self.task = None;
                let outcome = joined.map_err(|e| Failure(format!("a request panicked: {e}")))?;
                self.outcome = Some(outcome);
                Ok(())
            }
        }
    }

    /// Lets the request make one store call, and waits until it stops again or ends.
    async fn step(&mut self) -> Result<(), Failure> {
        if self.task.is_some() {
            self.calls += 1;
            ensure!(
                self.calls <= 4 * MOVE_CALLS,
                "a request made more than {} store calls",
                4 * MOVE_CALLS
            );
            self.go.add_permits(1);
            self.settle().await?;
        }
        Ok(())
    }

    /// Runs the request to its end; its outcome.
    async fn finish(mut self) -> Result<Outcome, Failure> {
        while self.task.is_some() {
            self.step().await?;
        }
        self.outcome
            .take()
            .ok_or_else(|| Failure("a request ended without an outcome".into()))
    }
}

impl Drop for Request {
    /// A case that fails mid-way stops its requests rather than leave them waiting.
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A store in front of `below` that stops before every call until the case lets it
/// through, so the case decides the order of two requests' store calls.
#[derive(Debug)]
struct Turnstile {
    below: Arc<dyn AsyncSessionStore>,
    arrived: mpsc::UnboundedSender<()>,
    go: Arc<Semaphore>,
}

impl Turnstile {
    async fn pass(&self) {
        // A case that stopped listening has aborted this request already.
        let _ = self.arrived.send(());
        if let Ok(permit) = self.go.acquire().await {
            permit.forget();
        }
    }
}

#[async_trait]
impl AsyncSessionStore for Turnstile {
    fn capabilities(&self) -> Capabilities {
        self.below.capabilities()
    }
    async fn aexists(&self, key: &SessionKey) -> session_api::Result<bool> {
        self.pass().await;
        self.below.aexists(key).await
    }
    async fn aload(&self, key: &SessionKey) -> session_api::Result<Option<Record>> {
        self.pass().await;
        self.below.aload(key).await
    }
    async fn alookup(&self, key: &SessionKey) -> session_api::Result<Lookup> {
        self.pass().await;
        self.below.alookup(key).await
    }
    async fn asave(&self, record: &Record, mode: SaveMode) -> session_api::Result<SessionKey> {
        self.pass().await;
        self.below.asave(record, mode).await
    }
    async fn asave_if(&self, record: &Record, expected: Version) -> session_api::Result<Version> {
        self.pass().await;
        self.below.asave_if(record, expected).await
    }
    async fn atouch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
    ) -> session_api::Result<()> {
        self.pass().await;
        self.below.atouch(key, expires_at).await
    }
    async fn adelete(&self, key: &SessionKey) -> session_api::Result<()> {
        self.pass().await;
        self.below.adelete(key).await
    }
    async fn aclear_expired(&self) -> session_api::Result<u64> {
        self.pass().await;
        self.below.aclear_expired().await
    }
    /// The index of the store below, unstepped: the S3 cases step records, not the
    /// account index (whose rule, S5, has its own cases).
    fn accounts(&self) -> Option<&dyn AsyncAccountSessions> {
        self.below.accounts()
    }
}
