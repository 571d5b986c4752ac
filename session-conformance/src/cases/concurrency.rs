//! Concurrent handles on one store.

use serde_json::json;
use session_api::{Error, Record, SaveMode, SessionData};

use crate::ensure;
use crate::runner::{CaseResult, Ctx, Failure};

/// Concurrent saves of one key leave one writer's complete record.
pub async fn concurrent_saves_leave_a_whole_record(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("writer", json!(-1))]).await?;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let c = ctx.clone();
        let k = key.clone();
        tasks.push(tokio::spawn(async move {
            let s = c.session(Some(k.as_str()));
            s.aset("writer", &i).await?;
            s.aset("payload", &format!("{i}-").repeat(200)).await?;
            s.asave().await
        }));
    }
    for t in tasks {
        t.await
            .map_err(|e| Failure(format!("task panicked: {e}")))??;
    }
    let s = ctx.session(Some(key.as_str()));
    let writer: i64 = s
        .aget("writer")
        .await?
        .ok_or_else(|| Failure("record lost".into()))?;
    let payload: Option<String> = s.aget("payload").await?;
    ensure!(
        payload == Some(format!("{writer}-").repeat(200)),
        "torn record: writer {writer}, payload from someone else"
    );
    Ok(())
}

/// A4: concurrent creates get distinct keys and all records exist.
pub async fn concurrent_creates_get_distinct_keys(ctx: Ctx) -> CaseResult {
    let mut tasks = Vec::new();
    for i in 0..24 {
        let c = ctx.clone();
        tasks.push(tokio::spawn(
            async move { c.saved(&[("i", json!(i))]).await },
        ));
    }
    let mut keys = std::collections::HashSet::new();
    for t in tasks {
        let key = t
            .await
            .map_err(|e| Failure(format!("task panicked: {e}")))??;
        ensure!(keys.insert(key), "duplicate key");
    }
    for key in &keys {
        ensure!(
            ctx.backend.nonblocking().aexists(key).await?,
            "a created record is missing"
        );
    }
    Ok(())
}

/// How many logout/update pairs the resurrection cases race (issue 12: at least 2,000).
const LOGOUT_RACES: usize = 2_000;
/// How many pairs run at once.
const LOGOUT_WAVE: usize = 50;

/// A6, D5, D6: a logout is never undone. A delete races an update of the same
/// record; once both have returned the record is gone, whichever ran first (an update
/// after the delete is `Error::Update`, never a re-created record). Runs on the store
/// itself, not through the kit's recorder, so nothing serializes the race.
pub async fn a6_logout_is_never_undone_by_a_concurrent_update(ctx: Ctx) -> CaseResult {
    let store = ctx.harness.backend.clone();
    let expires_at = ctx.env.now() + time::Duration::days(1);
    let mut resurrected = 0usize;
    for _ in 0..LOGOUT_RACES / LOGOUT_WAVE {
        let mut pairs = Vec::with_capacity(LOGOUT_WAVE);
        for _ in 0..LOGOUT_WAVE {
            let data = SessionData::from_value(json!({"_auth_user_id": "42"}))
                .ok_or_else(|| Failure("fixture is not an object".into()))?;
            let key = store.nonblocking().acreate(&data, expires_at).await?;
            let update = Record::new(key.clone(), data, expires_at);
            let (deleter, updater) = (store.clone(), store.clone());
            let k = key.clone();
            let logout = tokio::spawn(async move { deleter.nonblocking().adelete(&k).await });
            let write = tokio::spawn(async move {
                updater.nonblocking().asave(&update, SaveMode::Update).await
            });
            pairs.push((key, logout, write));
        }
        for (key, logout, write) in pairs {
            logout
                .await
                .map_err(|e| Failure(format!("task panicked: {e}")))??;
            match write
                .await
                .map_err(|e| Failure(format!("task panicked: {e}")))?
            {
                Ok(_) | Err(Error::Update) => {}
                Err(other) => return Err(other.into()),
            }
            if store.nonblocking().aexists(&key).await?
                || store.nonblocking().aload(&key).await?.is_some()
            {
                resurrected += 1;
            }
        }
    }
    ensure!(
        resurrected == 0,
        "{resurrected} of {LOGOUT_RACES} logged-out sessions came back after a concurrent update"
    );
    Ok(())
}

/// The same race through the sync contract, from plain threads (sync callers such as
/// a WSGI-style server): a logout is never undone (A6, D9).
pub async fn a6_sync_logout_is_never_undone_by_a_concurrent_update(ctx: Ctx) -> CaseResult {
    let store = ctx.harness.backend.clone();
    let expires_at = ctx.env.now() + time::Duration::days(1);
    let data = SessionData::from_value(json!({"_auth_user_id": "42"}))
        .ok_or_else(|| Failure("fixture is not an object".into()))?;
    let mut keys = Vec::with_capacity(LOGOUT_RACES / 4);
    for _ in 0..LOGOUT_RACES / 4 {
        keys.push(store.nonblocking().acreate(&data, expires_at).await?);
    }
    // Plain threads drive the sync side, as sync callers do; the runtime's own
    // blocking pool would be the async bridge's path, already covered above.
    let outcome = tokio::task::spawn_blocking(move || -> Result<usize, Failure> {
        let mut resurrected = 0;
        for wave in keys.chunks(LOGOUT_WAVE) {
            std::thread::scope(|scope| -> Result<(), Failure> {
                let mut handles = Vec::new();
                for key in wave {
                    let record = Record::new(key.clone(), data.clone(), expires_at);
                    let s = &store;
                    handles.push(scope.spawn(move || s.sync().delete(key)));
                    let s = &store;
                    handles.push(scope.spawn(
                        move || match s.sync().save(&record, SaveMode::Update) {
                            Ok(_) | Err(Error::Update) => Ok(()),
                            Err(other) => Err(other),
                        },
                    ));
                }
                for handle in handles {
                    handle
                        .join()
                        .map_err(|_| Failure("thread panicked".into()))??;
                }
                Ok(())
            })?;
            for key in wave {
                if store.sync().exists(key)? || store.sync().load(key)?.is_some() {
                    resurrected += 1;
                }
            }
        }
        Ok(resurrected)
    })
    .await
    .map_err(|e| Failure(format!("task panicked: {e}")))??;
    ensure!(
        outcome == 0,
        "{outcome} of {} logged-out sessions came back after a concurrent sync update",
        LOGOUT_RACES / 4
    );
    Ok(())
}
