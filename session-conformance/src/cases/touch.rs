//! Expiry-only refreshes (rule V4): `atouch` moves a live record's expiry and leaves
//! its data; a missing or expired record is `UpdateError`; the middleware touches an
//! unmodified session under `save_every_request` once per `refresh_interval`.

use serde_json::json;
use session_api::middleware::SessionMiddleware;
use session_api::{Error, SessionKey};
use time::Duration;

use crate::ensure;
use crate::fixtures::{data, COOKIE_AGE};
use crate::runner::{CaseResult, Ctx, Failure};
use crate::spy::Call;

/// The refresh interval of [`v4_refresh_interval_touches_once_per_interval`].
const INTERVAL: i64 = 60;

/// V4: a touch moves the expiry (the record outlives its old expiry) and keeps the
/// data; the sync side agrees (D9).
pub async fn v4_touch_moves_the_expiry_and_keeps_the_data(ctx: Ctx) -> CaseResult {
    let store = ctx.backend.nonblocking();
    let stored = data(&[("a", json!(1)), ("b", json!("two"))]);
    let key = store
        .acreate(&stored, ctx.env.now() + Duration::seconds(600))
        .await?;
    ctx.advance(100);
    let moved = ctx.env.now() + Duration::seconds(3600);
    store.atouch(&key, moved).await?;
    let record = store
        .aload(&key)
        .await?
        .ok_or_else(|| Failure("a touched record did not load".into()))?;
    ensure!(
        record.expires_at == moved,
        "touched to {moved}, loads with expiry {}",
        record.expires_at
    );
    ensure!(
        record.data == stored,
        "a touch changed the data: {:?}",
        record.data
    );
    // Past the old expiry the record lives on.
    ctx.advance(600);
    ensure!(
        store.aload(&key).await?.is_some(),
        "a touched record expired at its old expiry"
    );
    let sync = ctx.backend.clone();
    let again = ctx.env.now() + Duration::seconds(7200);
    let k = key.clone();
    let record = tokio::task::spawn_blocking(move || -> session_api::Result<_> {
        sync.sync().touch(&k, again)?;
        sync.sync().load(&k)
    })
    .await
    .map_err(|e| Failure(format!("the sync calls panicked: {e}")))??
    .ok_or_else(|| Failure("a record touched through the sync side did not load".into()))?;
    ensure!(
        record.expires_at == again && record.data == stored,
        "after a sync touch to {again}: expiry {}, data {:?}",
        record.expires_at,
        record.data
    );
    Ok(())
}

/// V4, D5: a touch of a missing or an expired record is `UpdateError` and makes
/// nothing live.
pub async fn v4_touch_of_a_missing_or_expired_record_is_update_error(ctx: Ctx) -> CaseResult {
    let store = ctx.backend.nonblocking();
    let later = ctx.env.now() + Duration::hours(1);
    let unknown = SessionKey::generate();
    let r = store.atouch(&unknown, later).await;
    ensure!(
        matches!(r, Err(Error::Update)),
        "touch of an unknown key: {r:?}"
    );
    ensure!(
        !store.aexists(&unknown).await? && store.aload(&unknown).await?.is_none(),
        "a touch created a record"
    );

    let deleted = store.acreate(&data(&[("a", json!(1))]), later).await?;
    store.adelete(&deleted).await?;
    let r = store.atouch(&deleted, later).await;
    ensure!(
        matches!(r, Err(Error::Update)),
        "touch of a deleted record: {r:?}"
    );
    ensure!(
        store.aload(&deleted).await?.is_none(),
        "a touch re-created a deleted record"
    );

    let expiring = store
        .acreate(
            &data(&[("a", json!(1))]),
            ctx.env.now() + Duration::seconds(60),
        )
        .await?;
    ctx.advance(61);
    let r = store
        .atouch(&expiring, ctx.env.now() + Duration::hours(1))
        .await;
    ensure!(
        matches!(r, Err(Error::Update)),
        "touch of an expired record: {r:?}"
    );
    ensure!(
        !store.aexists(&expiring).await? && store.aload(&expiring).await?.is_none(),
        "a touch revived an expired record"
    );
    Ok(())
}

/// After `advance` seconds, a request that does not touch its session, with the
/// recorder reset just before it.
async fn unmodified_request(
    ctx: &Ctx,
    mw: &SessionMiddleware,
    cookie: &str,
    advance: i64,
) -> CaseResult {
    ctx.advance(advance);
    ctx.spy.reset();
    let req = mw.request_session(Some(cookie));
    mw.aprocess_response(&req, 200).await?;
    Ok(())
}

/// V4, G4: with `save_every_request` and `refresh_interval = 60`, a request that does
/// not modify its session writes nothing while its expiry would move by less than 60
/// seconds, and touches (one write, no save) once it would move further; a modified
/// session is saved as always.
pub async fn v4_refresh_interval_touches_once_per_interval(ctx: Ctx) -> CaseResult {
    let stored = data(&[("a", json!(1))]);
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let config =
        ctx.config_with(|b| b.save_every_request(true).refresh_interval(Some(INTERVAL)))?;
    let mw = SessionMiddleware::new(ctx.backend.clone(), config.clone());
    let cookie = format!("{}={}", config.cookie_name, key.as_str());
    let respond = |advance| unmodified_request(&ctx, &mw, &cookie, advance);

    respond(INTERVAL / 2).await?;
    ensure!(
        ctx.spy.writes() == 0,
        "a refresh within the interval wrote: {:?}",
        ctx.spy.calls()
    );
    respond(INTERVAL / 2 + 1).await?;
    ensure!(
        ctx.spy.count(&Call::Touch) == 1 && ctx.spy.writes() == 1,
        "a refresh after the interval is one touch, saw {:?}",
        ctx.spy.calls()
    );
    let record = ctx
        .backend
        .nonblocking()
        .aload(&key)
        .await?
        .ok_or_else(|| Failure("the touched session did not load".into()))?;
    let want = ctx.env.now() + Duration::seconds(COOKIE_AGE);
    ensure!(
        record.expires_at == want && record.data == stored,
        "after the touch: expiry {} (want {want}), data {:?}",
        record.expires_at,
        record.data
    );
    // The interval counts from the touch.
    respond(INTERVAL / 2).await?;
    ensure!(
        ctx.spy.writes() == 0,
        "a refresh within the interval of the touch wrote: {:?}",
        ctx.spy.calls()
    );
    // G4: a modified session is saved, whatever the interval.
    ctx.spy.reset();
    let req = mw.request_session(Some(&cookie));
    req.session.aset("a", &2).await?;
    mw.aprocess_response(&req, 200).await?;
    ensure!(
        ctx.spy.writes() == 1 && ctx.spy.count(&Call::Touch) == 0,
        "a modified session is saved in full, saw {:?}",
        ctx.spy.calls()
    );
    Ok(())
}
