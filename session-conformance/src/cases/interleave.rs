//! A proptest of versioned saves (rules V1, V3): two clients of one record load,
//! change and save it with `asave_if` in random interleavings, and a model predicts
//! each save's outcome (written, `Conflict`, `UpdateError`) and the data that stays.
//! Shrunk failures print the sequence.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use serde_json::{json, Map, Value};
use session_api::store::Version;
use session_api::{Error, Record, SaveMode, SessionData, SessionKey};
use time::{Duration, OffsetDateTime};

use crate::cases::versions::loaded;
use crate::runner::{CaseResult, Ctx, Failure};

/// Sequences per run (small: each one is a handful of round trips to the store);
/// `SESSIONS_KIT_INTERLEAVE_CASES` overrides.
pub const DEFAULT_CASES: u32 = 24;
/// The longest sequence.
const MAX_STEPS: usize = 12;

const KEYS: [&str; 2] = ["a", "b"];

/// One step of two clients, `0` and `1`, on one record. Both start loaded.
#[derive(Debug, Clone)]
pub enum Step {
    /// The client loads the record and its version.
    Load(usize),
    /// The client sets a key of its copy.
    Set(usize, usize, i64),
    /// The client removes a key from its copy.
    Remove(usize, usize),
    /// The client saves its copy over the version it loaded (or last wrote).
    Save(usize),
    /// Someone else sets a key of the stored record with a plain update (V1: any
    /// save, plain or versioned, is a write).
    PlainSet(usize, i64),
    /// Someone deletes the record (a logout).
    Logout,
}

fn step() -> impl Strategy<Value = Step> {
    // Few values, so a save often writes what was there (ABA, V3).
    prop_oneof![
        2 => (0..2usize).prop_map(Step::Load),
        4 => (0..2usize, 0..KEYS.len(), 0..3i64).prop_map(|(c, k, v)| Step::Set(c, k, v)),
        1 => (0..2usize, 0..KEYS.len()).prop_map(|(c, k)| Step::Remove(c, k)),
        4 => (0..2usize).prop_map(Step::Save),
        1 => (0..KEYS.len(), 0..3i64).prop_map(|(k, v)| Step::PlainSet(k, v)),
        1 => Just(Step::Logout),
    ]
}

/// What a client holds: the data as loaded (or last written), the version and the
/// model's count of writes then, and its working copy.
#[derive(Debug, Clone)]
struct Loaded {
    base: Map<String, Value>,
    version: Version,
    writes: u64,
    copy: Map<String, Value>,
}

/// The model of the record: its data, if it exists, and how many writes it has had.
#[derive(Debug)]
struct Model {
    stored: Option<Map<String, Value>>,
    writes: u64,
}

fn mismatch(step: &Step, what: String) -> Failure {
    Failure(format!("after {step:?}: {what}"))
}

async fn run_steps(ctx: &Ctx, steps: &[Step]) -> CaseResult {
    let store = ctx.backend.nonblocking();
    let expires_at: OffsetDateTime = ctx.env.now() + Duration::hours(1);
    let mut first = Map::new();
    first.insert("a".into(), json!(0));
    let key: SessionKey = store
        .acreate(&SessionData::from_map(first.clone()), expires_at)
        .await?;
    let mut model = Model {
        stored: Some(first),
        writes: 0,
    };
    let (record, version) = loaded(store, &key).await?;
    let base = record.data.as_map().clone();
    let client = Loaded {
        base: base.clone(),
        version,
        writes: 0,
        copy: base,
    };
    let mut clients = [Some(client.clone()), Some(client)];
    for step in steps {
        match step {
            Step::Load(c) => {
                let got = store.aload(&key).await?;
                clients[*c] = match (got, &model.stored) {
                    (Some(record), Some(stored)) => {
                        let data = record.data.as_map().clone();
                        if data != *stored {
                            return Err(mismatch(
                                step,
                                format!("loaded {data:?}, model {stored:?}"),
                            ));
                        }
                        let version = record
                            .version
                            .ok_or_else(|| mismatch(step, "a load without a version".into()))?;
                        Some(Loaded {
                            base: data.clone(),
                            version,
                            writes: model.writes,
                            copy: data,
                        })
                    }
                    (None, None) => None,
                    (got, want) => {
                        return Err(mismatch(step, format!("loaded {got:?}, model {want:?}")))
                    }
                };
            }
            Step::Set(c, k, v) => {
                if let Some(client) = clients[*c].as_mut() {
                    client.copy.insert(KEYS[*k].into(), json!(v));
                }
            }
            Step::Remove(c, k) => {
                if let Some(client) = clients[*c].as_mut() {
                    client.copy.shift_remove(KEYS[*k]);
                }
            }
            Step::Save(c) => {
                let Some(client) = clients[*c].as_mut() else {
                    continue;
                };
                let record = Record::new(
                    key.clone(),
                    SessionData::from_map(client.copy.clone()),
                    expires_at,
                );
                let got = store.asave_if(&record, client.version).await;
                // V1: a save over an unchanged record writes; over a changed one it is
                // a conflict, unless the same data is back (V3: a digest version may
                // come back with the same bytes, a counter does not).
                let (stored_now, untouched, same_data) = match &model.stored {
                    None => (None, false, false),
                    Some(stored) => (
                        Some(stored),
                        model.writes == client.writes,
                        *stored == client.base,
                    ),
                };
                match (got, stored_now) {
                    (Err(Error::Update), None) => {}
                    (Ok(version), Some(_)) if untouched || same_data => {
                        model.writes += 1;
                        model.stored = Some(client.copy.clone());
                        client.base = client.copy.clone();
                        client.version = version;
                        client.writes = model.writes;
                    }
                    (Err(Error::Conflict), Some(_)) if !untouched => {}
                    (got, stored) => {
                        return Err(mismatch(
                            step,
                            format!(
                                "save_if gave {got:?}; the model holds {stored:?}, the \
                                 client loaded {:?} and {} writes happened since",
                                client.base,
                                model.writes - client.writes
                            ),
                        ))
                    }
                }
            }
            Step::PlainSet(k, v) => {
                let mut data = model.stored.clone().unwrap_or_default();
                data.insert(KEYS[*k].into(), json!(v));
                let record =
                    Record::new(key.clone(), SessionData::from_map(data.clone()), expires_at);
                let got = store.asave(&record, SaveMode::Update).await;
                match (got, model.stored.is_some()) {
                    (Ok(_), true) => {
                        model.writes += 1;
                        model.stored = Some(data);
                    }
                    (Err(Error::Update), false) => {}
                    (got, _) => {
                        return Err(mismatch(
                            step,
                            format!(
                                "a plain update gave {got:?}, the model holds {:?}",
                                model.stored
                            ),
                        ))
                    }
                }
            }
            Step::Logout => {
                store.adelete(&key).await?;
                model.stored = None;
                model.writes += 1;
            }
        }
    }
    let last = store.aload(&key).await?.map(|r| r.data.as_map().clone());
    if last != model.stored {
        return Err(Failure(format!(
            "in the end the store holds {last:?}, the model {:?}",
            model.stored
        )));
    }
    Ok(())
}

/// V1, V3: random interleavings of two clients' loads and versioned saves agree
/// with the model.
pub async fn v1_interleaved_versioned_saves_agree_with_the_model(ctx: Ctx) -> CaseResult {
    let cases = std::env::var("SESSIONS_KIT_INTERLEAVE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let config = Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        runner
            .run(&proptest::collection::vec(step(), 1..=MAX_STEPS), |steps| {
                handle
                    .block_on(run_steps(&ctx, &steps))
                    .map_err(|f| TestCaseError::fail(f.0))
            })
            .map_err(|err| match err {
                TestError::Fail(reason, steps) => {
                    Failure(format!("{reason}\nminimal failing sequence:\n{steps:#?}"))
                }
                TestError::Abort(reason) => Failure(format!("proptest aborted: {reason}")),
            })
    })
    .await
    .map_err(|e| Failure(format!("the interleaving check panicked: {e}")))?
}
