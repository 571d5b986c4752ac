//! The store contract: exists, create, save in both modes, delete, load (rules D1..D9).

use serde_json::json;
use session_api::{Error, Expiry, Record, SaveMode, SessionData, SessionKey};
use time::Duration;

use crate::ensure;
use crate::fixtures::{data, COOKIE_AGE};
use crate::runner::{CaseResult, Ctx, Failure};

/// The data of a loaded record, for comparisons.
fn loaded_data(record: Option<Record>) -> Option<SessionData> {
    record.map(|r| r.data)
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
    ctx.advance(COOKIE_AGE + 1);
    ensure!(
        !ctx.backend.nonblocking().aexists(&key).await?,
        "expired record exists"
    );
    Ok(())
}

/// D2: create saves the (empty) session and sets modified.
pub async fn d2_create_saves_and_sets_modified(ctx: Ctx) -> CaseResult {
    let s = ctx.session(None);
    s.acreate().await?;
    ensure!(s.modified(), "create did not set modified");
    let key = s.session_key().ok_or_else(|| Failure("no key".into()))?;
    ensure!(
        ctx.backend.nonblocking().aexists(&key).await?,
        "created record missing"
    );
    Ok(())
}

/// D3: save without a key creates.
pub async fn d3_save_without_key_creates(ctx: Ctx) -> CaseResult {
    let s = ctx.session(None);
    s.aset("a", &1).await?;
    s.asave().await?;
    let key = s.session_key().ok_or_else(|| Failure("no key".into()))?;
    let loaded = loaded_data(ctx.backend.nonblocking().aload(&key).await?);
    ensure!(
        loaded == Some(data(&[("a", json!(1))])),
        "loaded {loaded:?}"
    );
    Ok(())
}

/// D4: `SaveMode::Create` on an existing key is CreateError and leaves the record
/// alone.
pub async fn d4_create_mode_on_existing_key_is_create_error(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let later = ctx.env.now() + Duration::hours(1);
    let evil = Record::new(key.clone(), data(&[("evil", json!(1))]), later);
    let r = ctx
        .backend
        .nonblocking()
        .asave(&evil, SaveMode::Create)
        .await;
    ensure!(
        matches!(r, Err(Error::Create)),
        "expected CreateError, got {r:?}"
    );
    let loaded = loaded_data(ctx.backend.nonblocking().aload(&key).await?);
    ensure!(
        loaded == Some(data(&[("a", json!(1))])),
        "record changed: {loaded:?}"
    );
    Ok(())
}

/// D4: the handle's `save_with(SaveMode::Create)` (Django's `save(must_create=True)`)
/// does not load first.
pub async fn d4_create_mode_does_not_load(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    ctx.spy.reset();
    let s = ctx.session(Some(key.as_str()));
    let r = s.asave_with(SaveMode::Create).await;
    ensure!(
        matches!(r, Err(Error::Create)),
        "expected CreateError, got {r:?}"
    );
    ensure!(
        !ctx.spy.calls().contains(&crate::spy::Call::Load),
        "save_with(SaveMode::Create) loaded first"
    );
    Ok(())
}

/// D5: update of a deleted record is UpdateError; it is not re-created.
pub async fn d5_update_of_deleted_record_is_update_error(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let store = ctx.backend.nonblocking();
    store.adelete(&key).await?;
    let later = ctx.env.now() + Duration::hours(1);
    let record = Record::new(key.clone(), data(&[("a", json!(2))]), later);
    let r = store.asave(&record, SaveMode::Update).await;
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
    let record = Record::new(key.clone(), data(&[("a", json!(2))]), later);
    let r = store.asave(&record, SaveMode::Update).await;
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
    let s = ctx.session(Some(key.as_str()));
    s.adelete("a").await?;
    s.aset("c", &3).await?;
    s.asave().await?;
    ensure!(
        s.session_key().as_ref() == Some(&key),
        "update changed the key"
    );
    let loaded = loaded_data(ctx.backend.nonblocking().aload(&key).await?);
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

/// D7, E1: load returns the whole record: its key, its data and the expiry it was
/// saved with (`get_expiry_date()` at save time), which is what a cache in front of
/// the store needs to keep the record's remaining age (E4).
pub async fn d7_load_returns_the_record_with_its_expiry(ctx: Ctx) -> CaseResult {
    let store = ctx.backend.nonblocking();
    let s = ctx.session(None);
    s.aset("a", &1).await?;
    s.aset_expiry(Expiry::Seconds(600)).await?;
    s.asave().await?;
    let key = s.session_key().ok_or_else(|| Failure("no key".into()))?;
    let record = store
        .aload(&key)
        .await?
        .ok_or_else(|| Failure("the saved record did not load".into()))?;
    let want_at = ctx.env.now() + Duration::seconds(600);
    ensure!(record.key == key, "loaded the record of another key");
    ensure!(
        record.expires_at == want_at,
        "loaded expiry {}, saved {want_at}",
        record.expires_at
    );
    ensure!(
        record.data == data(&[("a", json!(1)), ("_session_expiry", json!(600))]),
        "loaded {:?}",
        record.data
    );
    // A record written through the store directly keeps the expiry it was given.
    ctx.advance(5);
    let at = ctx.env.now() + Duration::hours(1);
    let other = Record::new(SessionKey::generate(), data(&[("b", json!(2))]), at);
    let other_key = store.asave(&other, SaveMode::Create).await?;
    let loaded = store.aload(&other_key).await?.map(|r| r.expires_at);
    ensure!(
        loaded == Some(at),
        "saved with expiry {at}, loaded {loaded:?}"
    );
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
        let loaded = store.load(&k)?.map(|r| r.data);
        let record = Record::new(k.clone(), data(&[("a", json!(2))]), later);
        store.save(&record, SaveMode::Update)?;
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
        loaded.as_ref().map(|r| &r.data) == Some(&data(&[("a", json!(2))])),
        "async side saw {loaded:?}"
    );
    ensure!(
        loaded.map(|r| r.expires_at) == Some(later),
        "the sync save's expiry was not kept"
    );
    Ok(())
}

/// G6, F1: the default serializer is JSON: a default config's serializer writes
/// Django's JSON, and what the store keeps (signed cookie, or raw `session_data`)
/// decodes as JSON.
pub async fn g6_default_serializer_is_json(ctx: Ctx) -> CaseResult {
    use session_api::signing::{loads, SESSION_SALT, SIGNED_COOKIES_SALT};
    use session_api::{JsonSerializer, KeyKind, Serializer, SessionConfig};

    let config = SessionConfig::builder(ctx.env.secret_keys()).build()?;
    let value = json!({"a": "café", "n": [1, 2.5]});
    let bytes = config.serializer.dumps(&value)?;
    ensure!(
        bytes == JsonSerializer.dumps(&value)?,
        "the default serializer wrote {:?}",
        String::from_utf8_lossy(&bytes)
    );
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let stored = if ctx.caps().key_kind == KeyKind::SignedPayload {
        Some((key.as_str().to_owned(), SIGNED_COOKIES_SALT))
    } else if ctx.harness.django_session_data {
        match &ctx.harness.raw {
            Some(raw) => raw.read_raw(&key).await?.map(|text| (text, SESSION_SALT)),
            None => None,
        }
    } else {
        None
    };
    if let Some((text, salt)) = stored {
        let keys = ctx.env.secret_keys();
        let decoded = loads(&text, &keys, salt, &JsonSerializer, None, ctx.env.clock())?;
        ensure!(
            decoded == json!({"a": 1}),
            "stored data decoded as {decoded}"
        );
    }
    Ok(())
}
