//! Versioned saves through the store (rules V1, V3): a load gives a version,
//! `asave_if` writes only over it, and every write changes it.

use serde_json::{json, Value};
use session_api::store::{Lookup, Version};
use session_api::{AsyncSessionStore, Error, Record, SaveMode, SessionBackend, SessionKey};
use time::{Duration, OffsetDateTime};

use crate::ensure;
use crate::fixtures::data;
use crate::runner::{CaseResult, Ctx, Failure};

/// How many tasks append at once in [`v1_concurrent_appends_lose_nothing`].
const APPENDERS: usize = 16;
/// How often one appender may meet a conflict before the case gives up (each
/// conflict means another appender's write landed, so 16 suffice on a correct store;
/// the margin covers stores whose versions move on other writes too).
const APPEND_ATTEMPTS: usize = 64 * APPENDERS;

/// Creates a record of `pairs` under a fresh key, live for an hour.
async fn created(
    store: &dyn AsyncSessionStore,
    ctx: &Ctx,
    pairs: &[(&str, Value)],
) -> Result<(SessionKey, OffsetDateTime), Failure> {
    let expires_at = ctx.env.now() + Duration::hours(1);
    let key = store.acreate(&data(pairs), expires_at).await?;
    Ok((key, expires_at))
}

/// The loaded record and its version; fails when the record is gone or unversioned.
pub(crate) async fn loaded(
    store: &dyn AsyncSessionStore,
    key: &SessionKey,
) -> Result<(Record, Version), Failure> {
    let record = store
        .aload(key)
        .await?
        .ok_or_else(|| Failure("the saved record did not load".into()))?;
    let version = record
        .version
        .ok_or_else(|| Failure("a versioned store loaded a record without a version".into()))?;
    Ok((record, version))
}

/// V1: a load gives a version; `asave_if` with it writes, returns the version now
/// stored (what the next load gives) and may be chained; the sync side agrees (D9).
pub async fn v1_save_if_writes_over_the_loaded_version(ctx: Ctx) -> CaseResult {
    let store = ctx.backend.nonblocking();
    let (key, at) = created(store, &ctx, &[("a", json!(1))]).await?;
    let (_, v0) = loaded(store, &key).await?;
    match store.alookup(&key).await? {
        Lookup::Found(r) => ensure!(
            r.version == Some(v0),
            "lookup gave version {:?}, load {v0:?}",
            r.version
        ),
        other => return Err(Failure(format!("lookup of a live record: {other:?}"))),
    }
    let v1 = store
        .asave_if(&Record::new(key.clone(), data(&[("a", json!(2))]), at), v0)
        .await?;
    ensure!(v1 != v0, "new data stored under the old version {v0:?}");
    let (record, stored) = loaded(store, &key).await?;
    ensure!(
        record.data == data(&[("a", json!(2))]),
        "loaded {:?}",
        record.data
    );
    ensure!(
        stored == v1,
        "save_if returned {v1:?}, the reload gives {stored:?}"
    );
    let v2 = store
        .asave_if(&Record::new(key.clone(), data(&[("a", json!(3))]), at), v1)
        .await?;
    // D9: the same through the sync side, from a thread outside the runtime's workers.
    let sync = ctx.backend.clone();
    let k = key.clone();
    let (v3, stale, reloaded) = tokio::task::spawn_blocking(move || -> session_api::Result<_> {
        let store = sync.sync();
        let v3 = store.save_if(&Record::new(k.clone(), data(&[("a", json!(4))]), at), v2)?;
        let stale = store.save_if(&Record::new(k.clone(), data(&[("a", json!(5))]), at), v2);
        Ok((v3, stale, store.load(&k)?))
    })
    .await
    .map_err(|e| Failure(format!("the sync calls panicked: {e}")))??;
    ensure!(
        matches!(stale, Err(Error::Conflict)),
        "a sync save_if over a stale version: {stale:?}"
    );
    let reloaded =
        reloaded.ok_or_else(|| Failure("the record went after a sync save_if".into()))?;
    ensure!(
        reloaded.version == Some(v3) && reloaded.data == data(&[("a", json!(4))]),
        "sync save_if returned {v3:?}, the sync load gives {:?} with {:?}",
        reloaded.version,
        reloaded.data
    );
    Ok(())
}

/// V1: two clients load the same version; the second to save, with that version, is
/// a `Conflict` and the first one's data stays; so is a save over a version a plain
/// `asave` has replaced since.
pub async fn v1_stale_version_is_a_conflict_and_the_winner_stays(ctx: Ctx) -> CaseResult {
    let store = ctx.backend.nonblocking();
    let (key, at) = created(store, &ctx, &[("n", json!("start"))]).await?;
    let (_, a) = loaded(store, &key).await?;
    let (_, b) = loaded(store, &key).await?;
    let won = store
        .asave_if(&Record::new(key.clone(), data(&[("n", json!("a"))]), at), a)
        .await?;
    let lost = store
        .asave_if(&Record::new(key.clone(), data(&[("n", json!("b"))]), at), b)
        .await;
    ensure!(
        matches!(lost, Err(Error::Conflict)),
        "a save over a version another save replaced: {lost:?}"
    );
    let (record, _) = loaded(store, &key).await?;
    ensure!(
        record.data == data(&[("n", json!("a"))]),
        "the winner's data is not what is stored: {:?}",
        record.data
    );
    // A plain save is a write too (V1's "by any save, plain or versioned").
    let plain = Record::new(key.clone(), data(&[("n", json!("plain"))]), at);
    store.asave(&plain, SaveMode::Update).await?;
    let late = store
        .asave_if(
            &Record::new(key.clone(), data(&[("n", json!("late"))]), at),
            won,
        )
        .await;
    ensure!(
        matches!(late, Err(Error::Conflict)),
        "a save over a version a plain save replaced: {late:?}"
    );
    let (record, _) = loaded(store, &key).await?;
    ensure!(
        record.data == data(&[("n", json!("plain"))]),
        "the plain save's data is not what is stored: {:?}",
        record.data
    );
    Ok(())
}

/// V1, D5, A6: a versioned save of a deleted or expired record is `UpdateError`, and
/// nothing is re-created.
pub async fn v1_save_if_never_recreates(ctx: Ctx) -> CaseResult {
    let store = ctx.backend.nonblocking();
    let (key, at) = created(store, &ctx, &[("a", json!(1))]).await?;
    let (_, v) = loaded(store, &key).await?;
    store.adelete(&key).await?;
    let r = store
        .asave_if(&Record::new(key.clone(), data(&[("a", json!(2))]), at), v)
        .await;
    ensure!(
        matches!(r, Err(Error::Update)),
        "save_if of a deleted record: {r:?}"
    );
    ensure!(
        !store.aexists(&key).await? && store.aload(&key).await?.is_none(),
        "a versioned save re-created a deleted record"
    );

    let short = ctx.env.now() + Duration::seconds(60);
    let expiring = store.acreate(&data(&[("a", json!(1))]), short).await?;
    let (_, v) = loaded(store, &expiring).await?;
    ctx.advance(61);
    let later = ctx.env.now() + Duration::hours(1);
    let r = store
        .asave_if(
            &Record::new(expiring.clone(), data(&[("a", json!(2))]), later),
            v,
        )
        .await;
    ensure!(
        matches!(r, Err(Error::Update)),
        "save_if of an expired record: {r:?}"
    );
    ensure!(
        store.aload(&expiring).await?.is_none(),
        "a versioned save revived an expired record"
    );
    Ok(())
}

/// V3: a plain save of new data changes the version: the version loaded before it is
/// a conflict after it.
pub async fn v3_version_changes_with_the_data(ctx: Ctx) -> CaseResult {
    let store = ctx.backend.nonblocking();
    let (key, at) = created(store, &ctx, &[("a", json!(1))]).await?;
    let (_, before) = loaded(store, &key).await?;
    let plain = Record::new(key.clone(), data(&[("a", json!(2))]), at);
    store.asave(&plain, SaveMode::Update).await?;
    let (_, after) = loaded(store, &key).await?;
    ensure!(
        after != before,
        "a plain save of new data kept version {before:?}"
    );
    let r = store
        .asave_if(
            &Record::new(key.clone(), data(&[("a", json!(3))]), at),
            before,
        )
        .await;
    ensure!(
        matches!(r, Err(Error::Conflict)),
        "save_if over the version before a plain save: {r:?}"
    );
    Ok(())
}

/// One appender: load, append `id` to the list under `ids`, save over the loaded
/// version, and on a conflict start again.
async fn append(
    backend: SessionBackend,
    key: SessionKey,
    expires_at: OffsetDateTime,
    id: usize,
) -> Result<(), Failure> {
    let store = backend.nonblocking();
    for _ in 0..APPEND_ATTEMPTS {
        let (record, version) = loaded(store, &key).await?;
        // Lets the other appenders load too: a store whose compare-and-set is not
        // one atomic step shows lost appends, not just in rare schedules.
        tokio::task::yield_now().await;
        let mut ids = match record.data.get_value("ids") {
            Some(Value::Array(ids)) => ids.clone(),
            other => return Err(Failure(format!("the list is {other:?}"))),
        };
        ids.push(json!(id));
        let mut data = record.data.clone();
        data.insert("ids".into(), Value::Array(ids));
        match store
            .asave_if(&Record::new(key.clone(), data, expires_at), version)
            .await
        {
            Ok(_) => return Ok(()),
            Err(Error::Conflict) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Err(Failure(format!(
        "appender {id} met {APPEND_ATTEMPTS} conflicts in a row"
    )))
}

/// V1: 16 tasks each append their id to one list by load, append, `asave_if`, and
/// retry on `Conflict`: every id is there in the end. Runs on the store itself, not
/// through the kit's recorder.
pub async fn v1_concurrent_appends_lose_nothing(ctx: Ctx) -> CaseResult {
    let backend = ctx.harness.backend.clone();
    let store = backend.nonblocking();
    let (key, at) = created(store, &ctx, &[("ids", json!([]))]).await?;
    let tasks: Vec<_> = (0..APPENDERS)
        .map(|id| tokio::spawn(append(backend.clone(), key.clone(), at, id)))
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| Failure(format!("an appender panicked: {e}")))??;
    }
    let (record, _) = loaded(store, &key).await?;
    let mut ids: Vec<u64> = match record.data.get_value("ids") {
        Some(Value::Array(ids)) => ids.iter().filter_map(Value::as_u64).collect(),
        other => return Err(Failure(format!("the list is {other:?}"))),
    };
    ids.sort_unstable();
    let want: Vec<u64> = (0..APPENDERS as u64).collect();
    ensure!(
        ids == want,
        "after {APPENDERS} appends the list holds {ids:?}"
    );
    Ok(())
}
