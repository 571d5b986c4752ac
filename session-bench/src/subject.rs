//! What is measured: the operations, one cell of the table, the store-like
//! [`Subject`] each column implements, and [`Measured`], the object-safe form the
//! runner holds ([`StoreBench`] turns a [`Subject`] into one).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::error::{BenchError, Result};
use crate::measure::{concurrently, Latencies, Sample};
use crate::payload::{Payload, PayloadSize};

/// One operation of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// A new session under a fresh key.
    Create,
    /// Reading an existing session.
    Load,
    /// Writing an existing session again.
    Save,
    /// A request: load, change one key, save.
    Cycle,
    /// Deleting an existing session.
    Delete,
    /// Signing session data into a cookie value.
    Encode,
    /// Verifying a cookie value and reading the data back.
    Decode,
    /// A request through the middleware core that never touches its session.
    Untouched,
    /// A request through the middleware core that reads one key of its session.
    Touched,
}

impl Op {
    /// The store operations, in the order they run (deletes use the sessions the
    /// creates made).
    pub const STORE: [Op; 5] = [Op::Create, Op::Load, Op::Save, Op::Cycle, Op::Delete];
    /// The cookie operations.
    pub const COOKIE: [Op; 2] = [Op::Encode, Op::Decode];
    /// The middleware requests.
    pub const REQUEST: [Op; 2] = [Op::Untouched, Op::Touched];
    /// The writes a versioned save changes: a save, and a request's load and save.
    pub const VERSIONED: [Op; 2] = [Op::Save, Op::Cycle];

    /// The label of the table, and the word the Django peer knows.
    pub fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Load => "load",
            Op::Save => "save",
            Op::Cycle => "cycle",
            Op::Delete => "delete",
            Op::Encode => "encode",
            Op::Decode => "decode",
            Op::Untouched => "untouched request",
            Op::Touched => "request reading a key",
        }
    }
}

/// One cell of the table: an operation on a payload by some concurrent tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cell {
    /// The operation.
    pub op: Op,
    /// The payload.
    pub size: PayloadSize,
    /// How many tasks run it at once.
    pub tasks: usize,
}

/// How long and how much to measure.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// How long one timed run of one column lasts.
    pub run_for: Duration,
    /// Sessions made up front per task for load, save and cycle.
    pub keys_per_task: usize,
    /// The most tasks any cell runs.
    pub max_tasks: usize,
}

/// A column of the table, as the runner holds it.
#[async_trait]
pub trait Measured: Send + Sync {
    /// Why this column has no figure for `cell`, if it has none by design.
    fn not_applicable(&self, cell: &Cell) -> Option<&'static str>;

    /// Makes what the cells need before any timing (sessions to load and save).
    async fn prepare(&self, payloads: &[Payload], budget: &Budget) -> Result<()>;

    /// One timed run of `cell`; `round` tells the rounds of one cell apart.
    async fn measure(
        &self,
        cell: Cell,
        round: usize,
        payload: &Payload,
        budget: &Budget,
    ) -> Result<Sample>;

    /// Deletes every session this column made and still holds.
    async fn finish(&self) -> Result<()>;
}

/// A session store as the benchmark drives it: this project's stores, the raw
/// clients doing the same statements, tower-sessions' stores.
#[async_trait]
pub trait Subject: Send + Sync + 'static {
    /// How a session is addressed.
    type Key: Clone + Send + Sync + 'static;
    /// What [`save`](Self::save) writes: built once per session, outside the timing.
    type Saved: Send + Sync + 'static;

    /// Creates a session holding `payload` under a fresh key.
    async fn create(&self, payload: &Payload) -> Result<Self::Key>;
    /// Loads the session of `key`; [`BenchError::NotFound`] when it is not there.
    async fn load(&self, key: &Self::Key) -> Result<()>;
    /// What [`save`](Self::save) writes for the session of `key`: the payload with
    /// the counter at 1 and at 2, so that consecutive saves change the row.
    fn saved(&self, key: &Self::Key, payload: &Payload) -> Self::Saved;
    /// Writes an existing session again: its `n`-th save, which writes the
    /// counter's other value.
    async fn save(&self, saved: &Self::Saved, n: u64) -> Result<()>;
    /// Loads the session of `key`, sets the counter to `counter`, saves it.
    async fn cycle(&self, key: &Self::Key, counter: u64) -> Result<()>;
    /// Deletes the session of `key`.
    async fn delete(&self, key: &Self::Key) -> Result<()>;
}

/// Per task: the sessions of one payload.
type PerTask<T> = Arc<Vec<Vec<T>>>;

/// A create run: its payload, its number of tasks and its round.
type RunOf = (PayloadSize, usize, usize);

struct State<S: Subject> {
    keys: HashMap<PayloadSize, PerTask<S::Key>>,
    saved: HashMap<PayloadSize, PerTask<S::Saved>>,
    /// What each create run made, per task, for the delete run of the same cell.
    created: HashMap<RunOf, Vec<Vec<S::Key>>>,
}

/// A [`Subject`] as a column of the table.
pub struct StoreBench<S: Subject> {
    subject: Arc<S>,
    state: Mutex<State<S>>,
}

impl<S: Subject> StoreBench<S> {
    /// The column of `subject`.
    pub fn new(subject: S) -> Self {
        StoreBench {
            subject: Arc::new(subject),
            state: Mutex::new(State {
                keys: HashMap::new(),
                saved: HashMap::new(),
                created: HashMap::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<S>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn keys(&self, size: PayloadSize) -> Result<PerTask<S::Key>> {
        self.state()
            .keys
            .get(&size)
            .cloned()
            .ok_or_else(|| BenchError::Setup("measured before it was prepared".into()))
    }

    /// `per_task` sessions of `payload` for each of `tasks` tasks, made by a few
    /// concurrent workers (SQLite takes one writer at a time, and a crowd of them
    /// would wait out its lock timeout).
    async fn create_many(
        &self,
        payload: &Payload,
        tasks: usize,
        per_task: usize,
    ) -> Result<Vec<Vec<S::Key>>> {
        let workers = tasks.min(PREPARE_WORKERS);
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let subject = Arc::clone(&self.subject);
                let payload = payload.clone();
                tokio::spawn(async move {
                    let mut slots = Vec::new();
                    for slot in (worker..tasks).step_by(workers) {
                        let mut keys = Vec::with_capacity(per_task);
                        for _ in 0..per_task {
                            keys.push(subject.create(&payload).await?);
                        }
                        slots.push((slot, keys));
                    }
                    Ok::<_, BenchError>(slots)
                })
            })
            .collect();
        let mut all: Vec<(usize, Vec<S::Key>)> = Vec::with_capacity(tasks);
        for handle in handles {
            all.extend(
                handle
                    .await
                    .map_err(|e| BenchError::Setup(format!("a task died: {e}")))??,
            );
        }
        all.sort_by_key(|(slot, _)| *slot);
        Ok(all.into_iter().map(|(_, keys)| keys).collect())
    }

    /// One load per task at once, so the pool has its connections open before any
    /// timing.
    async fn warm(&self, keys: &PerTask<S::Key>) -> Result<()> {
        let handles: Vec<_> = keys
            .iter()
            .filter_map(|task| task.first().cloned())
            .map(|key| {
                let subject = Arc::clone(&self.subject);
                tokio::spawn(async move { subject.load(&key).await })
            })
            .collect();
        for handle in handles {
            handle
                .await
                .map_err(|e| BenchError::Setup(format!("a task died: {e}")))??;
        }
        Ok(())
    }
}

/// How many workers make the sessions of [`Measured::prepare`].
const PREPARE_WORKERS: usize = 4;

#[async_trait]
impl<S: Subject> Measured for StoreBench<S> {
    fn not_applicable(&self, cell: &Cell) -> Option<&'static str> {
        (!Op::STORE.contains(&cell.op)).then_some("a store operation column")
    }

    async fn prepare(&self, payloads: &[Payload], budget: &Budget) -> Result<()> {
        for payload in payloads {
            let keys = self
                .create_many(payload, budget.max_tasks, budget.keys_per_task)
                .await?;
            let saved = keys
                .iter()
                .map(|task| {
                    task.iter()
                        .map(|k| self.subject.saved(k, payload))
                        .collect()
                })
                .collect();
            let keys = Arc::new(keys);
            self.warm(&keys).await?;
            let mut state = self.state();
            state.keys.insert(payload.size, keys);
            state.saved.insert(payload.size, Arc::new(saved));
        }
        Ok(())
    }

    async fn measure(
        &self,
        cell: Cell,
        round: usize,
        payload: &Payload,
        budget: &Budget,
    ) -> Result<Sample> {
        let deadline = Instant::now() + budget.run_for;
        let subject = &self.subject;
        match cell.op {
            Op::Create => {
                let made: Arc<Mutex<Vec<(usize, Vec<S::Key>)>>> = Arc::default();
                let sample = concurrently(cell.tasks, |task| {
                    let (subject, payload, made) =
                        (Arc::clone(subject), payload.clone(), Arc::clone(&made));
                    async move {
                        let mut lat = Latencies::default();
                        let mut keys = Vec::new();
                        while Instant::now() < deadline || keys.is_empty() {
                            keys.push(lat.time(subject.create(&payload)).await?);
                        }
                        made.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push((task, keys));
                        Ok(lat)
                    }
                })
                .await?;
                let mut made =
                    std::mem::take(&mut *made.lock().unwrap_or_else(PoisonError::into_inner));
                made.sort_by_key(|(task, _)| *task);
                self.state().created.insert(
                    (cell.size, cell.tasks, round),
                    made.into_iter().map(|(_, keys)| keys).collect(),
                );
                Ok(sample)
            }
            Op::Load | Op::Cycle => {
                let keys = self.keys(cell.size)?;
                let cycle = cell.op == Op::Cycle;
                concurrently(cell.tasks, |task| {
                    let (subject, keys) = (Arc::clone(subject), Arc::clone(&keys));
                    async move {
                        let mine = &keys[task];
                        let mut lat = Latencies::default();
                        let mut n: u64 = 0;
                        while Instant::now() < deadline || n == 0 {
                            let key = &mine[n as usize % mine.len()];
                            n += 1;
                            if cycle {
                                lat.time(subject.cycle(key, n)).await?;
                            } else {
                                lat.time(subject.load(key)).await?;
                            }
                        }
                        Ok(lat)
                    }
                })
                .await
            }
            Op::Save => {
                let saved =
                    self.state().saved.get(&cell.size).cloned().ok_or_else(|| {
                        BenchError::Setup("measured before it was prepared".into())
                    })?;
                concurrently(cell.tasks, |task| {
                    let (subject, saved) = (Arc::clone(subject), Arc::clone(&saved));
                    async move {
                        let mine = &saved[task];
                        let mut lat = Latencies::default();
                        let mut n: u64 = 0;
                        while Instant::now() < deadline || n == 0 {
                            // Round the task's sessions; each session's next save
                            // writes the other counter value.
                            let i = n as usize % mine.len();
                            let turn = n / mine.len() as u64;
                            lat.time(subject.save(&mine[i], turn)).await?;
                            n += 1;
                        }
                        Ok(lat)
                    }
                })
                .await
            }
            Op::Delete => {
                // The sessions the create run of this cell made (as many as the store
                // creates in one run, which is about as many as it deletes); made
                // now when that run did not happen.
                let created = self.state().created.remove(&(cell.size, cell.tasks, round));
                let created = match created {
                    Some(keys) => keys,
                    None => {
                        self.create_many(payload, cell.tasks, budget.keys_per_task)
                            .await?
                    }
                };
                let created = Arc::new(created);
                concurrently(cell.tasks, |task| {
                    let (subject, created) = (Arc::clone(subject), Arc::clone(&created));
                    async move {
                        let mut lat = Latencies::default();
                        for key in &created[task] {
                            lat.time(subject.delete(key)).await?;
                        }
                        Ok(lat)
                    }
                })
                .await
            }
            Op::Encode | Op::Decode | Op::Untouched | Op::Touched => Err(BenchError::Setup(
                format!("{} is not a store operation", cell.op.name()),
            )),
        }
    }

    async fn finish(&self) -> Result<()> {
        let left: Vec<S::Key> = {
            let mut guard = self.state();
            let state = &mut *guard;
            let prepared = state
                .keys
                .drain()
                .flat_map(|(_, keys)| keys.iter().flatten().cloned().collect::<Vec<_>>());
            let created = state
                .created
                .drain()
                .flat_map(|(_, keys)| keys.into_iter().flatten());
            let left = prepared.chain(created).collect();
            state.saved.clear();
            left
        };
        for key in &left {
            self.subject.delete(key).await?;
        }
        Ok(())
    }
}
