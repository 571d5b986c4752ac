//! The account index (rule S5): the live sessions of each account, listed soonest
//! expiry first, kept up to date by every save and delete, and revoked at once
//! without a revoked session coming back.

use serde_json::{json, Value};
use session_api::store::{AccountSession, AsyncAccountSessions};
use session_api::{Error, Record, SaveMode, SessionKey};
use time::{Duration, OffsetDateTime};

use crate::ensure;
use crate::fixtures::data;
use crate::runner::{CaseResult, Ctx, Failure};

fn index(ctx: &Ctx) -> Result<&dyn AsyncAccountSessions, Failure> {
    ctx.backend
        .nonblocking()
        .accounts()
        .ok_or_else(|| Failure("list_by_account is declared but accounts() is None".into()))
}

/// The key the index lists for `key`: under hashed ids the stored id (S3).
fn listed_as(ctx: &Ctx, key: &SessionKey) -> Result<SessionKey, Failure> {
    match &ctx.harness.hashed_ids {
        Some(access) if ctx.caps().hashed_ids => Ok(access.stored_id(key)?),
        _ => Ok(key.clone()),
    }
}

/// Saves a new record under a fresh key for `account` (none for `None`), expiring
/// `seconds` from now.
async fn session_of(
    ctx: &Ctx,
    account: Option<&str>,
    seconds: i64,
) -> Result<(SessionKey, OffsetDateTime), Failure> {
    let expires_at = ctx.env.now() + Duration::seconds(seconds);
    let key = ctx
        .backend
        .nonblocking()
        .acreate(&account_data(account, "x"), expires_at)
        .await?;
    Ok((key, expires_at))
}

fn account_data(account: Option<&str>, note: &str) -> session_api::SessionData {
    match account {
        Some(id) => data(&[("_auth_user_id", json!(id)), ("note", json!(note))]),
        None => data(&[("note", json!(note))]),
    }
}

/// Checks that `account` lists exactly `want` (key, expiry), in that order.
async fn ensure_listed(
    ctx: &Ctx,
    account: i64,
    want: &[&(SessionKey, OffsetDateTime)],
    when: &str,
) -> CaseResult {
    let got = index(ctx)?.alist_sessions(account).await?;
    let mut expected = Vec::with_capacity(want.len());
    for (key, at) in want {
        expected.push(AccountSession::new(listed_as(ctx, key)?, *at));
    }
    ensure!(
        got == expected,
        "{when}: account {account} lists {:?}, expected {:?}",
        brief(&got),
        brief(&expected)
    );
    Ok(())
}

/// Key prefixes and expiries, for messages (H5: never whole keys).
fn brief(sessions: &[AccountSession]) -> Vec<(String, OffsetDateTime)> {
    sessions
        .iter()
        .map(|s| (s.key.as_str().chars().take(6).collect(), s.expires_at))
        .collect()
}

/// S5: each account lists its live sessions, soonest expiry first; a session without
/// an account is in no list; an expired one is not listed, before and after
/// `clear_expired`; the sync side lists the same (D9).
pub async fn s5_index_lists_the_live_sessions_of_each_account(ctx: Ctx) -> CaseResult {
    let late = session_of(&ctx, Some("7"), 300).await?;
    let soon = session_of(&ctx, Some("7"), 100).await?;
    let other = session_of(&ctx, Some("8"), 200).await?;
    session_of(&ctx, None, 400).await?;
    ensure_listed(&ctx, 7, &[&soon, &late], "after three saves").await?;
    ensure_listed(&ctx, 8, &[&other], "after three saves").await?;
    ensure_listed(&ctx, 9, &[], "an account without sessions").await?;
    // D9: the sync side lists the same.
    let sync = ctx.backend.clone();
    let listed = tokio::task::spawn_blocking(move || match sync.sync().accounts() {
        Some(index) => index.list_sessions(7).map(Some),
        None => Ok(None),
    })
    .await
    .map_err(|e| Failure(format!("the sync listing panicked: {e}")))??;
    let listed = listed.ok_or_else(|| Failure("the sync side has no account index".into()))?;
    let want = index(&ctx)?.alist_sessions(7).await?;
    ensure!(
        listed == want,
        "the sync side lists {:?}, the async side {:?}",
        brief(&listed),
        brief(&want)
    );
    ctx.advance(150);
    ensure_listed(&ctx, 7, &[&late], "once one session expired").await?;
    ctx.backend.nonblocking().aclear_expired().await?;
    ensure_listed(&ctx, 7, &[&late], "after clear_expired").await?;
    ensure_listed(&ctx, 8, &[&other], "after clear_expired").await?;
    Ok(())
}

/// S5: a save files the session under the account of the data it writes: another
/// account moves it, none takes it out; a delete takes it out.
pub async fn s5_saves_and_deletes_keep_the_index(ctx: Ctx) -> CaseResult {
    let store = ctx.backend.nonblocking();
    let (key, at) = session_of(&ctx, Some("7"), 300).await?;
    let entry = (key.clone(), at);
    let save = |account: Option<&'static str>| {
        let record = Record::new(key.clone(), account_data(account, "saved"), at);
        async move { store.asave(&record, SaveMode::Update).await }
    };
    save(Some("8")).await?;
    ensure_listed(&ctx, 7, &[], "after a save for account 8").await?;
    ensure_listed(&ctx, 8, &[&entry], "after a save for account 8").await?;
    save(None).await?;
    ensure_listed(&ctx, 8, &[], "after a save without an account").await?;
    save(Some("7")).await?;
    ensure_listed(&ctx, 7, &[&entry], "after a save for account 7 again").await?;
    store.adelete(&key).await?;
    ensure_listed(&ctx, 7, &[], "after the delete").await?;
    Ok(())
}

/// S5: `revoke_all` deletes every session of the account, says how many, and leaves
/// other accounts alone.
pub async fn s5_revoke_all_ends_every_session_of_the_account(ctx: Ctx) -> CaseResult {
    let store = ctx.backend.nonblocking();
    let mut revoked = Vec::new();
    for seconds in [100, 200, 300] {
        revoked.push(session_of(&ctx, Some("7"), seconds).await?);
    }
    let kept = session_of(&ctx, Some("8"), 100).await?;
    let n = index(&ctx)?.arevoke_all(7).await?;
    ensure!(n == 3, "revoke_all of three sessions returned {n}");
    for (key, _) in &revoked {
        ensure!(
            store.aload(key).await?.is_none(),
            "a revoked session still loads"
        );
    }
    ensure!(
        store.aload(&kept.0).await?.is_some(),
        "revoking account 7 ended a session of account 8"
    );
    ensure_listed(&ctx, 7, &[], "after revoke_all").await?;
    ensure_listed(&ctx, 8, &[&kept], "after revoke_all of account 7").await?;
    let n = index(&ctx)?.arevoke_all(7).await?;
    ensure!(n == 0, "a second revoke_all returned {n}");
    Ok(())
}

/// S5: `revoke_all_except` ("log out other devices") keeps exactly the current
/// session.
pub async fn s5_revoke_all_except_keeps_the_current_session(ctx: Ctx) -> CaseResult {
    let store = ctx.backend.nonblocking();
    let first = session_of(&ctx, Some("7"), 100).await?;
    let current = session_of(&ctx, Some("7"), 200).await?;
    let last = session_of(&ctx, Some("7"), 300).await?;
    let n = index(&ctx)?.arevoke_all_except(7, &current.0).await?;
    ensure!(n == 2, "revoke_all_except of three sessions returned {n}");
    ensure!(
        store.aload(&current.0).await?.is_some(),
        "the current session was revoked"
    );
    for (key, _) in [&first, &last] {
        ensure!(
            store.aload(key).await?.is_none(),
            "another device's session still loads"
        );
    }
    ensure_listed(&ctx, 7, &[&current], "after revoke_all_except").await?;
    Ok(())
}

/// S5, D5: a request that loaded a session before it was revoked cannot bring it
/// back: its save (plain, versioned, or through the handle) is `UpdateError`.
pub async fn s5_revoked_session_is_not_recreated_by_its_save(ctx: Ctx) -> CaseResult {
    let store = ctx.backend.nonblocking();
    let (key, _) = session_of(&ctx, Some("7"), 300).await?;
    let mut record = store
        .aload(&key)
        .await?
        .ok_or_else(|| Failure("the saved session did not load".into()))?;
    let handle = ctx.session(Some(key.as_str()));
    handle.aset("late", &true).await?;
    index(&ctx)?.arevoke_all(7).await?;

    record.data.insert("late".into(), Value::Bool(true));
    let r = store.asave(&record, SaveMode::Update).await;
    ensure!(
        matches!(r, Err(Error::Update)),
        "a save of a revoked session: {r:?}"
    );
    if let (true, Some(version)) = (ctx.caps().versioned, record.version) {
        let r = store.asave_if(&record, version).await;
        ensure!(
            matches!(r, Err(Error::Update)),
            "a versioned save of a revoked session: {r:?}"
        );
    }
    let r = handle.asave().await;
    ensure!(
        matches!(r, Err(Error::Update)),
        "the handle's save of a revoked session: {r:?}"
    );
    ensure!(
        store.aload(&key).await?.is_none(),
        "a revoked session came back"
    );
    ensure_listed(&ctx, 7, &[], "after the revoked session's saves").await?;
    Ok(())
}
