//! S2: key renewal with grace. A session's key is replaced every interval of activity;
//! the superseded key leads to the same session for a short grace, then presenting it
//! is the mark of a copied cookie: the session is revoked and an event raised on
//! `sessions.security`. Logout and login through the superseded key leave nothing
//! behind, and requests in flight across a renewal share one session.

use std::sync::Arc;

use session_api::middleware::SessionMiddleware;
use session_api::renewal::{
    KeyRenewal, SECURITY_TARGET, SESSION_GRACE_UNTIL_KEY, SESSION_ROTATED_KEY,
};
use session_api::timeout::SESSION_CREATED_KEY;
use session_api::{Error, Session, SessionConfig, SessionKey};

use crate::ensure;
use crate::logs::{captured, Logged};
use crate::runner::{CaseResult, Ctx, Failure};

/// Seconds between renewals, and the grace of a superseded key, in these cases.
const INTERVAL: i64 = 600;
const GRACE: i64 = 30;

fn renewing(ctx: &Ctx) -> session_api::Result<Arc<SessionConfig>> {
    ctx.config_with(|b| b.key_renewal(Some(KeyRenewal::every(INTERVAL).with_grace(GRACE))))
}

fn key_of(session: &Session) -> Result<SessionKey, Failure> {
    session
        .session_key()
        .ok_or_else(|| Failure("the session has no key".into()))
}

/// A new session holding `n = 0`, saved under `config`; its key.
async fn started(ctx: &Ctx, config: &Arc<SessionConfig>) -> Result<SessionKey, Failure> {
    let s = ctx.session_on(config, None);
    s.aset("n", &0).await?;
    s.asave().await?;
    key_of(&s)
}

/// One request on `key`: counts a visit and saves. The key its response carries.
async fn visit(
    ctx: &Ctx,
    config: &Arc<SessionConfig>,
    key: &SessionKey,
) -> Result<SessionKey, Failure> {
    let s = ctx.session_on(config, Some(key.as_str()));
    let n: i64 = s.aget("n").await?.unwrap_or(0);
    s.aset("n", &(n + 1)).await?;
    s.asave().await?;
    key_of(&s)
}

/// A session renewed once: its first key, then its successor (holding `n = 1`).
async fn renewed(
    ctx: &Ctx,
    config: &Arc<SessionConfig>,
) -> Result<(SessionKey, SessionKey), Failure> {
    let old = started(ctx, config).await?;
    ctx.advance(INTERVAL);
    let new = visit(ctx, config, &old).await?;
    ensure!(new != old, "a save after the interval kept the key");
    Ok((old, new))
}

/// Whether the store has a record under `key` at all (a session or a forwarder).
async fn stored(ctx: &Ctx, key: &SessionKey) -> Result<bool, Failure> {
    Ok(ctx.backend.nonblocking().aload(key).await?.is_some())
}

/// S2: the first save after the interval moves the session to a new key, with its
/// data (the creation time of S1 included) and a fresh rotation time; not a second
/// earlier. The old key's record then holds no session data; a second interval
/// renews again.
pub async fn s2_key_is_renewed_after_the_interval(ctx: Ctx) -> CaseResult {
    let config = ctx.config_with(|b| {
        b.key_renewal(Some(KeyRenewal::every(INTERVAL)))
            .absolute_timeout(Some(10 * INTERVAL))
    })?;
    let created = ctx.env.now().unix_timestamp();
    let first = started(&ctx, &config).await?;
    ctx.advance(INTERVAL - 1);
    let same = visit(&ctx, &config, &first).await?;
    ensure!(
        same == first,
        "the key changed before the interval was over"
    );
    ctx.advance(1);
    let second = visit(&ctx, &config, &first).await?;
    ensure!(second != first, "a save after the interval kept the key");

    let s = ctx.session_on(&config, Some(second.as_str()));
    ensure!(
        s.aget::<i64>("n").await? == Some(2),
        "the new key lost the data"
    );
    ensure!(
        s.aget::<i64>(SESSION_CREATED_KEY).await? == Some(created),
        "the renewal restarted the absolute timeout (S1)"
    );
    ensure!(
        s.aget::<i64>(SESSION_ROTATED_KEY).await? == Some(ctx.env.now().unix_timestamp()),
        "the new key does not carry its issue time"
    );
    let old = ctx.backend.nonblocking().aload(&first).await?;
    let old = old.ok_or_else(|| Failure("the superseded key's record is gone".into()))?;
    ensure!(
        !old.data.contains_key("n") && old.data.contains_key(SESSION_GRACE_UNTIL_KEY),
        "the superseded key's record still holds the session's data"
    );

    ctx.advance(INTERVAL);
    let third = visit(&ctx, &config, &second).await?;
    ensure!(
        third != second && third != first,
        "the second interval did not renew the key"
    );
    Ok(())
}

/// S2: within the grace the superseded key reaches the same session: its reads see
/// the successor's data, its writes land in the successor, and the response carries
/// the successor's key (G4: the middleware sets the cookie even for a read).
pub async fn s2_old_key_within_the_grace_is_the_same_session(ctx: Ctx) -> CaseResult {
    let config = renewing(&ctx)?;
    let (old, new) = renewed(&ctx, &config).await?;
    ctx.advance(GRACE - 1);

    let s = ctx.session_on(&config, Some(old.as_str()));
    ensure!(
        s.aget::<i64>("n").await? == Some(1),
        "the superseded key did not reach the session"
    );
    ensure!(
        key_of(&s)? == new,
        "the superseded key was not moved to its successor"
    );
    s.aset("m", &7).await?;
    s.asave().await?;
    ensure!(key_of(&s)? == new, "a write made another key");
    let fresh = ctx.session_on(&config, Some(new.as_str()));
    ensure!(
        fresh.aget::<i64>("m").await? == Some(7),
        "a write through the superseded key did not land in the successor"
    );

    let mw = SessionMiddleware::new(ctx.backend.clone(), Arc::clone(&config));
    let cookie = format!("{}={}", config.cookie_name, old.as_str());
    let request = mw.request_session(Some(&cookie));
    ensure!(
        request.session.aget::<i64>("m").await? == Some(7),
        "the middleware's session did not follow the superseded key"
    );
    let out = mw.aprocess_response(&request, 200).await?;
    let set = out.set_cookie.unwrap_or_default();
    ensure!(
        set.starts_with(&format!("{}={};", config.cookie_name, new.as_str())),
        "the response does not carry the successor's key: {:?}",
        set.split(';').next().map(|pair| pair.len())
    );
    Ok(())
}

/// S2: after the grace the superseded key is the mark of a copied cookie: it loads
/// an empty session, the successor is revoked (nothing is left under either key), the
/// response deletes the cookie (G2), and one WARN event is raised on
/// `sessions.security` without either key in full (H5).
pub async fn s2_old_key_after_the_grace_revokes_the_session(ctx: Ctx) -> CaseResult {
    let config = renewing(&ctx)?;
    let (old, new) = renewed(&ctx, &config).await?;
    ctx.advance(GRACE);

    let mw = SessionMiddleware::new(ctx.backend.clone(), Arc::clone(&config));
    let cookie = format!("{}={}", config.cookie_name, old.as_str());
    let (outcome, events) = captured(async {
        let request = mw.request_session(Some(&cookie));
        let keys = request.session.akeys().await?;
        let out = mw.aprocess_response(&request, 200).await?;
        Ok::<_, Error>((keys, request.session.session_key(), out))
    })
    .await;
    let (keys, key, out) = outcome?;
    ensure!(
        keys.is_empty() && key.is_none(),
        "the superseded key still opened a session after the grace"
    );
    ensure!(
        out.set_cookie
            .is_some_and(|c| c.contains("Max-Age=0") && c.contains("expires=Thu, 01 Jan 1970")),
        "the copied cookie was not deleted"
    );
    ensure!(
        !stored(&ctx, &new).await? && !stored(&ctx, &old).await?,
        "the session survived a copied cookie"
    );
    let revoked = ctx.session_on(&config, Some(new.as_str()));
    ensure!(
        revoked.akeys().await?.is_empty(),
        "the successor still opens the session"
    );
    check_one_event(&events, &[&old, &new])
}

/// S2: a request that loaded the session before the renewal and saves after the
/// grace is refused (G5's `Update`, answered 400) and revokes the session like a
/// copied cookie; one that saves within the grace lands in the successor.
pub async fn s2_a_save_after_the_grace_through_the_old_key_revokes(ctx: Ctx) -> CaseResult {
    let config = renewing(&ctx)?;
    let old = started(&ctx, &config).await?;
    let early = ctx.session_on(&config, Some(old.as_str()));
    let late = ctx.session_on(&config, Some(old.as_str()));
    early.aget::<i64>("n").await?;
    late.aget::<i64>("n").await?;
    ctx.advance(INTERVAL);
    let new = visit(&ctx, &config, &old).await?;

    ctx.advance(GRACE - 1);
    early.aset("early", &1).await?;
    early.asave().await?;
    ensure!(
        key_of(&early)? == new,
        "a save within the grace did not join the successor"
    );

    ctx.advance(1);
    late.aset("late", &1).await?;
    let (saved, events) = captured(late.asave()).await;
    ensure!(
        matches!(saved, Err(Error::Update)),
        "a save through the superseded key after the grace gave {saved:?}, not Update"
    );
    ensure!(
        !stored(&ctx, &new).await? && !stored(&ctx, &old).await?,
        "the session survived a save through the superseded key after the grace"
    );
    check_one_event(&events, &[&old, &new])
}

/// S2, A6: a logout through the superseded key within the grace deletes the
/// successor and the superseded key's record: nothing is left to open.
pub async fn s2_logout_through_the_old_key_within_the_grace_leaves_nothing(ctx: Ctx) -> CaseResult {
    let config = renewing(&ctx)?;
    let (old, new) = renewed(&ctx, &config).await?;
    ctx.advance(GRACE / 2);
    let s = ctx.session_on(&config, Some(old.as_str()));
    s.aflush().await?;
    ensure!(
        !stored(&ctx, &new).await?,
        "the successor survived the logout"
    );
    ensure!(
        !stored(&ctx, &old).await?,
        "the superseded key's record survived the logout"
    );
    for key in [&old, &new] {
        let again = ctx.session_on(&config, Some(key.as_str()));
        ensure!(
            again.akeys().await?.is_empty(),
            "a key opened a session after the logout"
        );
    }
    Ok(())
}

/// S2, A5: a login (`cycle_key`) through the superseded key within the grace leaves
/// no grace: the new key holds the data, the superseded key and the successor hold
/// nothing.
pub async fn s2_login_through_the_old_key_leaves_no_grace(ctx: Ctx) -> CaseResult {
    let config = renewing(&ctx)?;
    let (old, new) = renewed(&ctx, &config).await?;
    ctx.advance(GRACE / 2);
    let s = ctx.session_on(&config, Some(old.as_str()));
    s.acycle_key().await?;
    s.aset("_auth_user_id", "42").await?;
    s.asave().await?;
    let login = key_of(&s)?;
    ensure!(login != old && login != new, "the login kept a key");
    ensure!(
        !stored(&ctx, &new).await? && !stored(&ctx, &old).await?,
        "a key from before the login still has a record"
    );
    let again = ctx.session_on(&config, Some(login.as_str()));
    ensure!(
        again.aget::<i64>("n").await? == Some(1),
        "the login lost the data"
    );
    Ok(())
}

/// S2: requests in flight across a renewal share one session: one that loaded the
/// old data before the renewal and saves after it writes into the successor (no
/// third key, no fork), a new request on the old key joins it too, and once the
/// successor is logged out a request still holding the old data cannot bring it
/// back (A6, G5).
pub async fn s2_requests_in_flight_share_one_session(ctx: Ctx) -> CaseResult {
    let config = renewing(&ctx)?;
    let old = started(&ctx, &config).await?;
    let first = ctx.session_on(&config, Some(old.as_str()));
    let second = ctx.session_on(&config, Some(old.as_str()));
    let stale = ctx.session_on(&config, Some(old.as_str()));
    for s in [&first, &second, &stale] {
        s.aget::<i64>("n").await?;
    }
    ctx.advance(INTERVAL);
    first.aset("first", &1).await?;
    first.asave().await?;
    let new = key_of(&first)?;
    ensure!(new != old, "the renewal kept the key");
    second.aset("second", &1).await?;
    second.asave().await?;
    ensure!(
        key_of(&second)? == new,
        "two requests renewing at once made two sessions"
    );
    let third = ctx.session_on(&config, Some(old.as_str()));
    ensure!(
        third.aget::<i64>("second").await? == Some(1) && key_of(&third)? == new,
        "a request on the old key did not join the one session"
    );

    ctx.session_on(&config, Some(new.as_str())).aflush().await?;
    stale.aset("stale", &1).await?;
    let saved = stale.asave().await;
    ensure!(
        matches!(saved, Err(Error::Update)),
        "a request holding the old data saved after the logout: {saved:?}"
    );
    ensure!(
        !stored(&ctx, &new).await?,
        "a request holding the old data brought the logged-out session back"
    );
    Ok(())
}

/// S2 through the sync methods: a save after the interval renews, the old key within
/// the grace reaches the successor, after it revokes the session.
pub async fn s2_sync_methods_renew_follow_and_revoke(ctx: Ctx) -> CaseResult {
    let config = renewing(&ctx)?;
    let old = started(&ctx, &config).await?;
    ctx.advance(INTERVAL);
    let sync_ctx = ctx.clone();
    let sync_config = Arc::clone(&config);
    let sync_old = old.clone();
    let outcome = tokio::task::spawn_blocking(move || -> session_api::Result<_> {
        let s = sync_ctx.session_on(&sync_config, Some(sync_old.as_str()));
        s.set("n", &1)?;
        s.save()?;
        let new = s.session_key();
        sync_ctx.advance(GRACE - 1);
        let follower = sync_ctx.session_on(&sync_config, Some(sync_old.as_str()));
        let followed = (follower.get::<i64>("n")?, follower.session_key());
        sync_ctx.advance(1);
        let late = sync_ctx.session_on(&sync_config, Some(sync_old.as_str()));
        let after = (late.keys()?, late.session_key());
        Ok((new, followed, after))
    })
    .await
    .map_err(|e| Failure(format!("the sync side panicked: {e}")))?;
    let (new, followed, after) = outcome?;
    let new = new.ok_or_else(|| Failure("the sync save left no key".into()))?;
    ensure!(new != old, "a sync save after the interval kept the key");
    ensure!(
        followed == (Some(1), Some(new.clone())),
        "the old key within the grace did not reach the successor through the sync side"
    );
    ensure!(
        after.0.is_empty() && after.1.is_none(),
        "the old key after the grace opened a session through the sync side"
    );
    ensure!(
        !stored(&ctx, &new).await?,
        "the sync side did not revoke the session"
    );
    Ok(())
}

/// S2: off by default (nothing is added to the data, the key stays), and on a store
/// whose key is the data (signed or encrypted cookies) the option does nothing.
pub async fn s2_off_by_default_and_a_no_op_on_cookie_stores(ctx: Ctx) -> CaseResult {
    let s = ctx.session(None);
    s.aset("n", &0).await?;
    s.asave().await?;
    ensure!(
        !s.ahas_key(SESSION_ROTATED_KEY).await?,
        "a rotation stamp was written with renewal off"
    );
    let key = key_of(&s)?;
    if ctx.caps().server_side {
        ctx.advance(10 * INTERVAL);
        let later = ctx.session(Some(key.as_str()));
        later.aset("n", &1).await?;
        later.asave().await?;
        ensure!(key_of(&later)? == key, "the key changed with renewal off");
    }
    let on = ctx.session_on(&renewing(&ctx)?, None);
    on.aset("n", &0).await?;
    on.asave().await?;
    let stamped = on.ahas_key(SESSION_ROTATED_KEY).await?;
    ensure!(
        stamped == ctx.caps().server_side,
        "rotation stamp written: {stamped}, for a store with server-side records: {}",
        ctx.caps().server_side
    );
    Ok(())
}

/// Checks that `events` holds exactly one copied-cookie event, at WARN, on the
/// security target, naming none of `keys` in full.
fn check_one_event(events: &[Logged], keys: &[&SessionKey]) -> CaseResult {
    let security: Vec<_> = events
        .iter()
        .filter(|e| e.target == SECURITY_TARGET)
        .collect();
    ensure!(
        security.len() == 1,
        "{} events on {SECURITY_TARGET} for one copied cookie",
        security.len()
    );
    let event = security[0];
    ensure!(
        event.level == tracing::Level::WARN,
        "the copied-cookie event is logged at {}, not WARN",
        event.level
    );
    for key in keys {
        ensure!(
            !event.fields.contains(key.as_str()),
            "the copied-cookie event shows a full key (H5)"
        );
    }
    Ok(())
}
