//! Two requests on one session over a versioned store, through the session handle
//! (rule V2): the conflict policy decides what the later save does, `amodify` loses
//! nothing, and a logout is never undone.

use serde_json::{json, Value};
use session_api::{ConflictPolicy, Error, Session, SessionKey};

use crate::ensure;
use crate::runner::{CaseResult, Ctx, Failure};

/// How many requests append at once in [`v2_amodify_appends_lose_nothing`]: as many
/// as `MAX_MERGE_ATTEMPTS`, so each gets through (every conflict it meets is another
/// request's write, and there are 15 of those).
const APPENDERS: i64 = 16;

/// Two handles on `key` with `policy`, both loaded (each has read the session), as
/// two requests that arrived together.
async fn two_requests(
    ctx: &Ctx,
    key: &SessionKey,
    policy: ConflictPolicy,
) -> Result<(Session, Session), Failure> {
    let config = ctx.config_with(|b| b.conflict_policy(policy))?;
    let a = ctx.session_on(&config, Some(key.as_str()));
    let b = ctx.session_on(&config, Some(key.as_str()));
    a.akeys().await?;
    b.akeys().await?;
    Ok((a, b))
}

/// The stored data of `key`, as a fresh request reads it.
async fn stored(ctx: &Ctx, key: &SessionKey) -> Result<serde_json::Map<String, Value>, Failure> {
    let record = ctx
        .backend
        .nonblocking()
        .aload(key)
        .await?
        .ok_or_else(|| Failure("the session is gone".into()))?;
    Ok(record.data.into_map())
}

/// V2 (`Merge`, the default): two requests changing different keys both survive, and
/// a key one of them removed stays removed.
pub async fn v2_changes_to_different_keys_both_survive(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("keep", json!(0)), ("gone", json!(0))]).await?;
    let (a, b) = two_requests(&ctx, &key, ConflictPolicy::Merge).await?;
    a.aset("x", &1).await?;
    a.adelete("gone").await?;
    b.aset("y", &2).await?;
    a.asave().await?;
    b.asave().await?;
    let data = stored(&ctx, &key).await?;
    ensure!(
        data.get("x") == Some(&json!(1)) && data.get("y") == Some(&json!(2)),
        "one request's change was lost: {data:?}"
    );
    ensure!(
        !data.contains_key("gone"),
        "a removed key came back: {data:?}"
    );
    ensure!(
        data.get("keep") == Some(&json!(0)),
        "an untouched key went: {data:?}"
    );
    Ok(())
}

/// V2 (`Merge`): for a key both requests changed, the one saving last wins.
pub async fn v2_merge_the_later_save_wins_a_shared_key(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("n", json!("start"))]).await?;
    let (a, b) = two_requests(&ctx, &key, ConflictPolicy::Merge).await?;
    a.aset("n", &"a").await?;
    b.aset("n", &"b").await?;
    a.asave().await?;
    b.asave().await?;
    let data = stored(&ctx, &key).await?;
    ensure!(
        data.get("n") == Some(&json!("b")),
        "the later save did not win: {data:?}"
    );
    Ok(())
}

/// V2 (`Fail`): the later save of a changed session is `Conflict`, and the earlier
/// save's data stays.
pub async fn v2_fail_policy_later_save_is_a_conflict(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("n", json!("start"))]).await?;
    let (a, b) = two_requests(&ctx, &key, ConflictPolicy::Fail).await?;
    a.aset("n", &"a").await?;
    b.aset("other", &"b").await?;
    a.asave().await?;
    let r = b.asave().await;
    ensure!(
        matches!(r, Err(Error::Conflict)),
        "the later save under ConflictPolicy::Fail: {r:?}"
    );
    let data = stored(&ctx, &key).await?;
    ensure!(
        data.get("n") == Some(&json!("a")) && !data.contains_key("other"),
        "stored after the conflict: {data:?}"
    );
    Ok(())
}

/// V2: 16 requests append to one list with `amodify` at once: no entry is lost.
pub async fn v2_amodify_appends_lose_nothing(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("ids", json!([]))]).await?;
    let tasks: Vec<_> = (0..APPENDERS)
        .map(|id| {
            let s = ctx.session(Some(key.as_str()));
            tokio::spawn(async move {
                // Every request loads before any saves (the first attempt of
                // `amodify` works on what is loaded), so the saves conflict.
                s.akeys().await?;
                tokio::task::yield_now().await;
                s.amodify(|data| {
                    let mut ids: Vec<i64> = data.get("ids")?.unwrap_or_default();
                    ids.push(id);
                    data.set("ids", &ids)
                })
                .await
            })
        })
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| Failure(format!("an appender panicked: {e}")))??;
    }
    let s = ctx.session(Some(key.as_str()));
    let mut ids: Vec<i64> = s.aget("ids").await?.unwrap_or_default();
    ids.sort_unstable();
    let want: Vec<i64> = (0..APPENDERS).collect();
    ensure!(
        ids == want,
        "after {APPENDERS} appends the list holds {ids:?}"
    );
    Ok(())
}

/// V2, A6, D5: one request logs out (flush) while another has the session loaded:
/// the other's save is `UpdateError` under either policy and nothing is re-created.
pub async fn v2_save_after_a_concurrent_flush_is_update_error(ctx: Ctx) -> CaseResult {
    for policy in [ConflictPolicy::Merge, ConflictPolicy::Fail] {
        let key = ctx.saved(&[("a", json!(1))]).await?;
        let (logout, slow) = two_requests(&ctx, &key, policy).await?;
        slow.aset("b", &2).await?;
        logout.aflush().await?;
        let r = slow.asave().await;
        ensure!(
            matches!(r, Err(Error::Update)),
            "{policy:?}: a save after a concurrent logout: {r:?}"
        );
        ensure!(
            ctx.backend.nonblocking().aload(&key).await?.is_none(),
            "{policy:?}: the logged-out session came back"
        );
    }
    Ok(())
}
