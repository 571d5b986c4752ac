//! The store contract: exists, create, save, update, delete, load (rules D1..D9).

use serde_json::json;
use session_api::{Error, SessionData, SessionKey};
use time::Duration;

use crate::ensure;
use crate::runner::{CaseResult, Ctx, Failure};

fn data(pairs: &[(&str, serde_json::Value)]) -> SessionData {
    pairs.iter().map(|(k, v)| (*k, v.clone())).collect()
}

/// D1: exists after save, not after delete.
pub async fn d1_exists_follows_the_record(ctx: Ctx) -> CaseResult {
    let store = ctx.backend.nonblocking();
    let key = ctx.saved(&[("a", json!(1))]).await?;
    ensure!(store.aexists(&key).await?, "exists false after save");
    store.adelete(&key).await?;
    ensure!(!store.aexists(&key).await?, "exists true after delete");
    ensure!(
        !store.aexists(&SessionKey::generate()).await?,
        "exists true for a random key"
    );
    Ok(())
}

/// D1, C9: an expired record does not exist.
pub async fn d1_expired_record_does_not_exist(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    ctx.advance(crate::KIT_COOKIE_AGE + 1);
    ensure!(
        !ctx.backend.nonblocking().aexists(&key).await?,
        "expired record exists"
    );
    Ok(())
}

/// D2: create saves the (empty) session and sets modified.
pub async fn d2_create_saves_and_sets_modified(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.acreate().await?;
    ensure!(s.modified(), "create did not set modified");
    let key = s
        .session_key()
        .cloned()
        .ok_or_else(|| Failure("no key".into()))?;
    ensure!(
        ctx.backend.nonblocking().aexists(&key).await?,
        "created record missing"
    );
    Ok(())
}

/// D3: save without a key creates.
pub async fn d3_save_without_key_creates(ctx: Ctx) -> CaseResult {
    let mut s = ctx.session(None);
    s.aset("a", &1).await?;
    s.asave(false).await?;
    let key = s
        .session_key()
        .cloned()
        .ok_or_else(|| Failure("no key".into()))?;
    let loaded = ctx.backend.nonblocking().aload(&key).await?;
    ensure!(
        loaded == Some(data(&[("a", json!(1))])),
        "loaded {loaded:?}"
    );
    Ok(())
}

/// D4: must_create on an existing key is CreateError and leaves the record alone.
pub async fn d4_must_create_on_existing_key_is_create_error(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let later = ctx.env.now() + Duration::hours(1);
    let r = ctx
        .backend
        .nonblocking()
        .asave(&key, &data(&[("evil", json!(1))]), later, true)
        .await;
    ensure!(
        matches!(r, Err(Error::Create)),
        "expected CreateError, got {r:?}"
    );
    let loaded = ctx.backend.nonblocking().aload(&key).await?;
    ensure!(
        loaded == Some(data(&[("a", json!(1))])),
        "record changed: {loaded:?}"
    );
    Ok(())
}

/// D4: the handle's save(must_create=true) does not load first.
pub async fn d4_must_create_does_not_load(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    ctx.spy.reset();
    let mut s = ctx.session(Some(key.as_str()));
    let r = s.asave(true).await;
    ensure!(
        matches!(r, Err(Error::Create)),
        "expected CreateError, got {r:?}"
    );
    ensure!(
        !ctx.spy.calls().contains(&crate::spy::Call::Load),
        "save(must_create) loaded first"
    );
    Ok(())
}

/// D5: update of a deleted record is UpdateError; it is not re-created.
pub async fn d5_update_of_deleted_record_is_update_error(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let store = ctx.backend.nonblocking();
    store.adelete(&key).await?;
    let later = ctx.env.now() + Duration::hours(1);
    let r = store
        .asave(&key, &data(&[("a", json!(2))]), later, false)
        .await;
    ensure!(
        matches!(r, Err(Error::Update)),
        "expected UpdateError, got {r:?}"
    );
    ensure!(
        !store.aexists(&key).await?,
        "the deleted record was resurrected"
    );
    Ok(())
}

/// D5: update of a never-created key is UpdateError.
pub async fn d5_update_of_unknown_key_is_update_error(ctx: Ctx) -> CaseResult {
    let key = SessionKey::generate();
    let later = ctx.env.now() + Duration::hours(1);
    let store = ctx.backend.nonblocking();
    let r = store
        .asave(&key, &data(&[("a", json!(2))]), later, false)
        .await;
    ensure!(
        matches!(r, Err(Error::Update)),
        "expected UpdateError, got {r:?}"
    );
    ensure!(!store.aexists(&key).await?, "update created a record");
    Ok(())
}

/// D5: update of an existing record replaces its data.
pub async fn d5_update_replaces_data(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1)), ("b", json!(2))]).await?;
    let mut s = ctx.session(Some(key.as_str()));
    s.adelete("a").await?;
    s.aset("c", &3).await?;
    s.asave(false).await?;
    ensure!(s.session_key() == Some(&key), "update changed the key");
    let loaded = ctx.backend.nonblocking().aload(&key).await?;
    ensure!(
        loaded == Some(data(&[("b", json!(2)), ("c", json!(3))])),
        "loaded {loaded:?}"
    );
    Ok(())
}

/// D6: deleting a missing record is not an error; other records are untouched.
pub async fn d6_delete_is_idempotent_and_targeted(ctx: Ctx) -> CaseResult {
    let keep = ctx.saved(&[("keep", json!(1))]).await?;
    let gone = ctx.saved(&[("gone", json!(1))]).await?;
    let store = ctx.backend.nonblocking();
    store.adelete(&gone).await?;
    store.adelete(&gone).await?;
    store.adelete(&SessionKey::generate()).await?;
    ensure!(store.aexists(&keep).await?, "delete removed another record");
    Ok(())
}

/// D7: a missing record loads as None.
pub async fn d7_missing_record_loads_none(ctx: Ctx) -> CaseResult {
    let loaded = ctx
        .backend
        .nonblocking()
        .aload(&SessionKey::generate())
        .await?;
    ensure!(loaded.is_none(), "loaded {loaded:?}");
    Ok(())
}

/// D9: the sync and async sides are the same store.
pub async fn d9_sync_and_async_sides_agree(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let c = ctx.clone();
    let k = key.clone();
    let later = ctx.env.now() + Duration::hours(1);
    let seen = tokio::task::spawn_blocking(move || -> Result<_, Error> {
        let store = c.backend.sync();
        let loaded = store.load(&k)?;
        store.save(&k, &data(&[("a", json!(2))]), later, false)?;
        Ok((loaded, store.exists(&k)?))
    })
    .await
    .map_err(|e| Failure(format!("sync side panicked: {e}")))??;
    ensure!(
        seen == (Some(data(&[("a", json!(1))])), true),
        "sync side saw {seen:?}"
    );
    let loaded = ctx.backend.nonblocking().aload(&key).await?;
    ensure!(
        loaded == Some(data(&[("a", json!(2))])),
        "async side saw {loaded:?}"
    );
    Ok(())
}
