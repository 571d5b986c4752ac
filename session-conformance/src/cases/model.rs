//! A proptest state machine: random operation sequences against the store and a
//! reference model must agree (sections A..D). Shrunk failures print the sequence.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use serde_json::{json, Map, Value};
use session_api::{Error, Expiry, Session, SessionKey};
use time::{Duration, OffsetDateTime};

use crate::fixtures::COOKIE_AGE;
use crate::runner::{CaseResult, Ctx, Failure};

/// Cases per run; `SESSIONS_KIT_PROPTEST_CASES` overrides.
pub const DEFAULT_CASES: u32 = 256;

const KEYS: [&str; 3] = ["a", "b", "_session_expiry"];

/// One step of a request sequence.
#[derive(Debug, Clone)]
pub enum Op {
    /// `session[k] = v`.
    Set(usize, i64),
    /// `del session[k]`.
    Delete(usize),
    /// `session.pop(k)`.
    Pop(usize),
    /// `session.clear()`.
    Clear,
    /// `session.save()`.
    Save,
    /// Compare the loaded data.
    Items,
    /// A new request with the current key.
    Reopen,
    /// `cycle_key()`.
    CycleKey,
    /// `flush()`.
    Flush,
    /// `set_expiry(n)`, `None` for the default.
    SetExpiry(Option<i64>),
    /// Time passes (a new request starts).
    Advance(i64),
    /// `clear_expired()`.
    ClearExpired,
    /// Another request flushes this session (a concurrent logout).
    ConcurrentFlush,
    /// Another request sets `b` and saves.
    ConcurrentSave(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..KEYS.len() - 1, -3i64..100).prop_map(|(k, v)| Op::Set(k, v)),
        2 => (0..KEYS.len()).prop_map(Op::Delete),
        1 => (0..KEYS.len()).prop_map(Op::Pop),
        1 => Just(Op::Clear),
        4 => Just(Op::Save),
        3 => Just(Op::Items),
        2 => Just(Op::Reopen),
        1 => Just(Op::CycleKey),
        1 => Just(Op::Flush),
        1 => prop_oneof![Just(None), Just(Some(0)), Just(Some(30)), Just(Some(600))].prop_map(Op::SetExpiry),
        2 => prop_oneof![Just(10i64), Just(31), Just(601), Just(COOKIE_AGE + 1)].prop_map(Op::Advance),
        1 => Just(Op::ClearExpired),
        1 => Just(Op::ConcurrentFlush),
        1 => (0i64..9).prop_map(Op::ConcurrentSave),
    ]
}

#[derive(Debug, Default)]
struct Model {
    records: HashMap<String, (Map<String, Value>, OffsetDateTime)>,
    key: Option<String>,
    data: Option<Map<String, Value>>,
    /// The store gives versions (V1): the handle's saves are versioned and merge.
    versioned: bool,
    /// What the handle loaded (or last wrote with a versioned save), when it knows the
    /// record's version (V2): what its changes are measured from.
    base: Option<Map<String, Value>>,
    /// Another request wrote the record since `base`.
    stale: bool,
    /// The handle's data was cleared since `base` (V2: its keys replace the other's).
    cleared: bool,
}

fn expires(data: &Map<String, Value>, now: OffsetDateTime) -> OffsetDateTime {
    let age = match data.get("_session_expiry").and_then(Value::as_i64) {
        Some(n) if n != 0 => n,
        _ => COOKIE_AGE,
    };
    now + Duration::seconds(age)
}

impl Model {
    fn live(&self, key: &str, now: OffsetDateTime) -> Option<&Map<String, Value>> {
        self.records
            .get(key)
            .filter(|(_, at)| *at > now)
            .map(|(d, _)| d)
    }

    fn loaded(&mut self, now: OffsetDateTime) -> &mut Map<String, Value> {
        if self.data.is_none() {
            let found = self.key.as_deref().and_then(|k| self.live(k, now)).cloned();
            if found.is_none() {
                self.key = None;
            }
            self.base = found.clone().filter(|_| self.versioned);
            self.stale = false;
            self.data = Some(found.unwrap_or_default());
        }
        self.data.get_or_insert_with(Map::new)
    }

    /// A new request: nothing loaded, nothing known of the record.
    fn reopen(&mut self) {
        self.data = None;
        self.base = None;
        self.stale = false;
        self.cleared = false;
    }

    /// What an update of `stored` writes (V2): the handle's data, or, when another
    /// request wrote since the handle's versioned load, the handle's changes (keys set
    /// to a new value, keys removed; everything after a clear) over `stored`.
    fn merged(&self, data: Map<String, Value>, stored: &Map<String, Value>) -> Map<String, Value> {
        let Some(base) = self.base.as_ref().filter(|_| self.stale && !self.cleared) else {
            return data;
        };
        let mut merged = stored.clone();
        for key in base.keys().filter(|k| !data.contains_key(*k)) {
            merged.shift_remove(key);
        }
        for (key, value) in data.iter().filter(|(k, v)| base.get(*k) != Some(*v)) {
            merged.insert(key.clone(), value.clone());
        }
        merged
    }
}

fn mismatch(op: &Op, what: String) -> Failure {
    Failure(format!("after {op:?}: {what}"))
}

/// Calls the sync method or its async twin (rule B10: both must agree with the model).
macro_rules! call {
    ($sync:expr, $s:expr, $m:ident ( $($a:expr),* ), $am:ident) => {
        if $sync { $s.$m($($a),*) } else { $s.$am($($a),*).await }
    };
}

async fn run_ops(ctx: &Ctx, ops: &[Op], sync: bool) -> CaseResult {
    let mut model = Model {
        versioned: ctx.caps().versioned,
        ..Model::default()
    };
    let mut real: Session = ctx.session(None);
    let clear_expired = ctx.caps().clear_expired;
    for op in ops {
        let now = ctx.env.now();
        match op {
            Op::Set(k, v) => {
                call!(sync, real, set(KEYS[*k], v), aset)?;
                model.loaded(now).insert(KEYS[*k].to_owned(), json!(v));
            }
            Op::Delete(k) | Op::Pop(k) => {
                let got = if matches!(op, Op::Pop(_)) {
                    call!(sync, real, pop(KEYS[*k]), apop)
                } else {
                    call!(sync, real, delete(KEYS[*k]), adelete).map(|()| Value::Null)
                };
                let want = model.loaded(now).shift_remove(KEYS[*k]);
                match (got, want) {
                    (Ok(_), Some(_)) | (Err(Error::KeyNotFound(_)), None) => {}
                    (got, want) => {
                        return Err(mismatch(op, format!("store {got:?}, model {want:?}")))
                    }
                }
            }
            Op::Clear => {
                if sync {
                    real.clear()?;
                } else {
                    real.aclear().await;
                }
                model.data = Some(Map::new());
                model.cleared = true;
            }
            Op::Save => {
                let got = call!(sync, real, save(), asave);
                let data = model.loaded(now).clone();
                let updating = model.key.clone();
                match (got, updating) {
                    (Ok(()), None) => {
                        let key = real.session_key().map(|k| k.as_str().to_owned());
                        let key = key.ok_or_else(|| mismatch(op, "create left no key".into()))?;
                        let at = expires(&data, now);
                        model.records.insert(key.clone(), (data, at));
                        model.key = Some(key);
                        // V2: a created record's version is unknown to the handle.
                        model.base = None;
                        model.cleared = false;
                    }
                    // H7: an expired record counts as absent, as a deleted one does.
                    (Ok(()), Some(key)) if model.live(&key, now).is_some() => {
                        let stored = model.live(&key, now).cloned().unwrap_or_default();
                        let data = model.merged(data, &stored);
                        let at = expires(&data, now);
                        model.records.insert(key, (data.clone(), at));
                        model.base = model.base.is_some().then(|| data.clone());
                        model.data = Some(data);
                        model.stale = false;
                        model.cleared = false;
                    }
                    (Err(Error::Update), Some(key)) if model.live(&key, now).is_none() => {}
                    (got, key) => {
                        return Err(mismatch(
                            op,
                            format!("store {got:?} while model key {key:?}"),
                        ))
                    }
                }
            }
            Op::Items => {
                let got: Map<String, Value> =
                    call!(sync, real, items(), aitems)?.into_iter().collect();
                let want = model.loaded(now).clone();
                if got != want {
                    return Err(mismatch(op, format!("store {got:?}, model {want:?}")));
                }
            }
            Op::Reopen | Op::Advance(_) => {
                if let Op::Advance(s) = op {
                    ctx.advance(*s);
                }
                let key = real.session_key();
                real = ctx.session(key.as_ref().map(SessionKey::as_str));
                model.reopen();
            }
            Op::CycleKey => {
                call!(sync, real, cycle_key(), acycle_key)?;
                let data = model.loaded(now).clone();
                if let Some(old) = model.key.take() {
                    model.records.remove(&old);
                }
                let key = real.session_key().map(|k| k.as_str().to_owned());
                let key = key.ok_or_else(|| mismatch(op, "cycle_key left no key".into()))?;
                let at = expires(&data, now);
                model.records.insert(key.clone(), (data, at));
                model.key = Some(key);
                model.base = None;
                model.cleared = false;
            }
            Op::Flush => {
                call!(sync, real, flush(), aflush)?;
                if let Some(old) = model.key.take() {
                    model.records.remove(&old);
                }
                model.data = Some(Map::new());
                model.base = None;
            }
            Op::SetExpiry(e) => {
                real.aset_expiry(e.map_or(Expiry::Default, Expiry::Seconds))
                    .await?;
                let data = model.loaded(now);
                match e {
                    Some(n) => data.insert("_session_expiry".into(), json!(n)),
                    None => data.shift_remove("_session_expiry"),
                };
            }
            Op::ClearExpired => {
                if sync {
                    ctx.backend.sync().clear_expired()?;
                } else {
                    ctx.backend.nonblocking().aclear_expired().await?;
                }
                if clear_expired {
                    model.records.retain(|_, (_, at)| *at > now);
                }
            }
            Op::ConcurrentFlush => {
                if let Some(key) = model.key.clone() {
                    let other = ctx.session(Some(&key));
                    call!(sync, other, flush(), aflush)?;
                    model.records.remove(&key);
                }
            }
            Op::ConcurrentSave(v) => {
                if let Some(key) = model.key.clone() {
                    let other = ctx.session(Some(&key));
                    call!(sync, other, set("b", v), aset)?;
                    call!(sync, other, save(), asave)?;
                    let other_key = other.session_key().map(|k| k.as_str().to_owned());
                    let mut data = model.live(&key, now).cloned().unwrap_or_default();
                    data.insert("b".into(), json!(v));
                    if let Some(k) = other_key {
                        let at = expires(&data, now);
                        model.stale |= k == key;
                        model.records.insert(k, (data, at));
                    }
                }
            }
        }
        let real_key = real.session_key().map(|k| k.as_str().to_owned());
        if real_key != model.key {
            return Err(mismatch(
                op,
                format!("store key {real_key:?}, model key {:?}", model.key),
            ));
        }
    }
    Ok(())
}

/// Random request sequences through the async API agree with the reference model.
pub async fn model_agrees_with_store(ctx: Ctx) -> CaseResult {
    model_check(ctx, false).await
}

/// The same sequences through the sync API (run on the blocking pool) agree too.
pub async fn sync_model_agrees_with_store(ctx: Ctx) -> CaseResult {
    model_check(ctx, true).await
}

async fn model_check(ctx: Ctx, sync: bool) -> CaseResult {
    let cases = std::env::var("SESSIONS_KIT_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let handle = tokio::runtime::Handle::current();
    let outcome = tokio::task::spawn_blocking(move || {
        let config = Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        runner
            .run(&proptest::collection::vec(op(), 1..40), |ops| {
                handle
                    .block_on(run_ops(&ctx, &ops, sync))
                    .map_err(|f| TestCaseError::fail(f.0))
            })
            .map_err(|err| match err {
                TestError::Fail(reason, ops) => {
                    Failure(format!("{reason}\nminimal failing sequence:\n{ops:#?}"))
                }
                TestError::Abort(reason) => Failure(format!("proptest aborted: {reason}")),
            })
    })
    .await
    .map_err(|e| Failure(format!("the model check panicked: {e}")))?;
    outcome
}
