//! cycle_key (login) and flush (logout): rules A5, A6.

use serde_json::json;

use crate::ensure;
use crate::runner::{CaseResult, Ctx, Failure};
use crate::spy::Call;

/// A5: cycle_key keeps the data under a new key.
pub async fn a5_cycle_key_keeps_data_under_new_key(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    // A second passes, so a signed-cookie store's re-signed value differs too.
    ctx.advance(1);
    let s = ctx.session(Some(key.as_str()));
    s.acycle_key().await?;
    s.asave().await?;
    let new = s.session_key().ok_or_else(|| Failure("no key".into()))?;
    ensure!(new != key, "cycle_key kept the key");
    let again = ctx.session(Some(new.as_str()));
    ensure!(
        again.aget::<i64>("a").await? == Some(1),
        "data lost by cycle_key"
    );
    Ok(())
}

/// A5: after cycle_key the old key loads as empty.
pub async fn a5_cycle_key_old_key_loads_empty(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let s = ctx.session(Some(key.as_str()));
    s.acycle_key().await?;
    let old = ctx.session(Some(key.as_str()));
    ensure!(old.akeys().await?.is_empty(), "old key still loads");
    ensure!(
        old.session_key().is_none(),
        "old key adopted after cycle_key"
    );
    ensure!(
        !ctx.backend.nonblocking().aexists(&key).await?,
        "old record exists"
    );
    Ok(())
}

/// A5: the new record is written before the old one is deleted.
pub async fn a5_cycle_key_writes_before_deleting(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let s = ctx.session(Some(key.as_str()));
    s.aget_value("a").await?;
    ctx.spy.reset();
    s.acycle_key().await?;
    let calls = ctx.spy.calls();
    let write = calls
        .iter()
        .position(|c| matches!(c, Call::Create | Call::Save { .. }));
    let delete = calls.iter().position(|c| *c == Call::Delete);
    ensure!(
        matches!((write, delete), (Some(w), Some(d)) if w < d),
        "expected a write then a delete, saw {calls:?}"
    );
    Ok(())
}

/// A6: flush deletes the record.
pub async fn a6_flush_deletes_the_record(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let s = ctx.session(Some(key.as_str()));
    s.aflush().await?;
    ensure!(
        !ctx.backend.nonblocking().aexists(&key).await?,
        "record survived flush"
    );
    let again = ctx.session(Some(key.as_str()));
    ensure!(again.akeys().await?.is_empty(), "flushed key still loads");
    Ok(())
}

/// A6, B9: flush empties the handle and drops its key.
pub async fn a6_flush_empties_and_drops_key(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let s = ctx.session(Some(key.as_str()));
    s.aflush().await?;
    ensure!(s.session_key().is_none(), "flush kept the key");
    ensure!(s.ais_empty().await, "flushed session not empty");
    ensure!(s.akeys().await?.is_empty(), "flush kept data");
    Ok(())
}

/// A7: after flush (sync and async) `modified` and `accessed` are both set, as
/// Django's flush leaves them (it calls clear).
pub async fn a7_flush_leaves_modified_and_accessed(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let s = ctx.session(Some(key.as_str()));
    s.aflush().await?;
    ensure!(s.modified(), "aflush left modified unset");
    ensure!(s.accessed(), "aflush left accessed unset");
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let s = ctx.session(Some(key.as_str()));
    let flags = tokio::task::spawn_blocking(move || -> session_api::Result<_> {
        s.flush()?;
        Ok((s.modified(), s.accessed()))
    })
    .await
    .map_err(|e| Failure(format!("sync side panicked: {e}")))??;
    ensure!(
        flags == (true, true),
        "flush left (modified, accessed) = {flags:?}"
    );
    Ok(())
}
