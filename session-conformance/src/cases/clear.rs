//! clear_expired (rule D8, G7).

use serde_json::json;
use session_api::Expiry;

use crate::ensure;
use crate::fixtures::COOKIE_AGE;
use crate::runner::{CaseResult, Ctx};

/// D8: clear_expired removes expired records and keeps live ones.
pub async fn d8_clear_expired_removes_only_expired(ctx: Ctx) -> CaseResult {
    let short = {
        let s = ctx.session(None);
        s.aset_expiry(Expiry::Seconds(10)).await?;
        s.asave().await?;
        s.session_key()
    };
    let long = ctx.saved(&[("a", json!(1))]).await?;
    ctx.advance(11);
    let store = ctx.backend.nonblocking();
    let removed = store.aclear_expired().await?;
    ensure!(removed >= 1, "clear_expired reported {removed} removals");
    if let Some(short) = short {
        ensure!(!store.aexists(&short).await?, "expired record kept");
    }
    ensure!(store.aexists(&long).await?, "live record removed");
    ensure!(
        store.aclear_expired().await? == 0,
        "second clear_expired removed more"
    );
    Ok(())
}

/// D8: an expired-and-cleared record cannot be updated back to life (D5).
pub async fn d8_cleared_record_is_not_resurrected_by_update(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let s = ctx.session(Some(key.as_str()));
    s.aget_value("a").await?; // loaded while live
    ctx.advance(COOKIE_AGE + 1);
    ctx.backend.nonblocking().aclear_expired().await?;
    s.aset("b", &2).await?;
    let r = s.asave().await;
    ensure!(
        matches!(r, Err(session_api::Error::Update)),
        "expected UpdateError, got {r:?}"
    );
    ensure!(
        !ctx.backend.nonblocking().aexists(&key).await?,
        "record resurrected"
    );
    Ok(())
}

/// D8: where the store declares clear_expired a no-op, it is harmless and says 0.
pub async fn d8_clear_expired_noop_is_harmless(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let removed = ctx.backend.nonblocking().aclear_expired().await?;
    ensure!(removed == 0, "a no-op clear_expired reported {removed}");
    let s = ctx.session(Some(key.as_str()));
    ensure!(
        s.aget::<i64>("a").await? == Some(1),
        "clear_expired lost a live session"
    );
    Ok(())
}
