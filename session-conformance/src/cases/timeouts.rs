//! S1: the absolute timeout (OWASP ASVS 5 V7.3): a session ends a fixed time after its
//! creation however active it is, the earlier of the idle expiry and the absolute
//! timeout wins, and the creation time survives `cycle_key`.

use session_api::timeout::SESSION_CREATED_KEY;
use session_api::ExpiryArgs;
use time::Duration;

use crate::ensure;
use crate::runner::{CaseResult, Ctx};

/// Idle timeout (the cookie age) and absolute timeout of these cases, in seconds.
const IDLE: i64 = 600;
const ABSOLUTE: i64 = 3600;

/// One request: a handle on `key` under the timeout settings, that bumps a counter and
/// saves (activity). Returns the key to send back, `None` when the session was gone.
async fn active_request(
    ctx: &Ctx,
    config: &std::sync::Arc<session_api::SessionConfig>,
    key: &str,
) -> session_api::Result<Option<String>> {
    let s = ctx.session_on(config, Some(key));
    let Some(n) = s.aget::<i64>("n").await? else {
        return Ok(None);
    };
    s.aset("n", &(n + 1)).await?;
    s.asave().await?;
    Ok(s.session_key().map(|k| k.as_str().to_owned()))
}

fn timeouts(ctx: &Ctx) -> session_api::Result<std::sync::Arc<session_api::SessionConfig>> {
    ctx.config_with(|b| b.cookie_age(IDLE).absolute_timeout(Some(ABSOLUTE)))
}

async fn started(
    ctx: &Ctx,
    config: &std::sync::Arc<session_api::SessionConfig>,
) -> session_api::Result<String> {
    let s = ctx.session_on(config, None);
    s.aset("n", &0).await?;
    s.asave().await?;
    Ok(s.session_key()
        .map(|k| k.as_str().to_owned())
        .unwrap_or_default())
}

/// S1: a session used every minute (each use renewing its idle expiry) lives until its
/// absolute timeout, not a second longer.
pub async fn s1_absolute_timeout_ends_an_active_session(ctx: Ctx) -> CaseResult {
    let config = timeouts(&ctx)?;
    let mut key = started(&ctx, &config).await?;
    for minute in 1..ABSOLUTE / 60 {
        ctx.advance(60);
        let Some(next) = active_request(&ctx, &config, &key).await? else {
            let message = format!("the session ended after {minute} active minutes");
            return Err(crate::Failure(message));
        };
        key = next;
    }
    ctx.advance(60);
    let s = ctx.session_on(&config, Some(&key));
    ensure!(
        s.akeys().await?.is_empty(),
        "an active session outlived its absolute timeout"
    );
    ensure!(
        s.session_key().is_none(),
        "the timed-out key was kept as the session's key"
    );
    Ok(())
}

/// S1: `get_expiry_age`/`get_expiry_date` give the earlier of the idle expiry and the
/// absolute timeout, and the stored record expires then.
pub async fn s1_expiry_is_the_earlier_of_idle_and_absolute(ctx: Ctx) -> CaseResult {
    let config = ctx.config_with(|b| b.cookie_age(IDLE).absolute_timeout(Some(1000)))?;
    let start = ctx.env.now();
    let key = started(&ctx, &config).await?;
    ctx.advance(500);
    let s = ctx.session_on(&config, Some(&key));
    let age = s.aget_expiry_age(ExpiryArgs::default()).await?;
    ensure!(
        age == 500,
        "expiry age {age}, the absolute timeout leaves 500"
    );
    let date = s.aget_expiry_date(ExpiryArgs::default()).await?;
    ensure!(
        date == start + Duration::seconds(1000),
        "expiry date {date}, the absolute timeout ends at {}",
        start + Duration::seconds(1000)
    );
    s.aset("n", &1).await?;
    s.asave().await?;
    if ctx.caps().server_side {
        let stored = s
            .session_key()
            .ok_or_else(|| crate::Failure("no key".into()))?;
        let record = ctx.backend.nonblocking().aload(&stored).await?;
        let expires = record.map(|r| r.expires_at);
        ensure!(
            expires == Some(start + Duration::seconds(1000)),
            "the record expires at {expires:?}, not at the absolute timeout"
        );
    }
    Ok(())
}

/// S1: `cycle_key` (a login) keeps the creation time: the new key does not restart the
/// absolute timeout.
pub async fn s1_creation_time_survives_cycle_key(ctx: Ctx) -> CaseResult {
    // An idle timeout longer than the absolute one, so only the latter can end it.
    let config =
        ctx.config_with(|b| b.cookie_age(2 * ABSOLUTE).absolute_timeout(Some(ABSOLUTE)))?;
    let key = started(&ctx, &config).await?;
    ctx.advance(ABSOLUTE / 2);
    let s = ctx.session_on(&config, Some(&key));
    s.acycle_key().await?;
    s.asave().await?;
    let cycled = s
        .session_key()
        .map(|k| k.as_str().to_owned())
        .unwrap_or_default();
    ensure!(cycled != key, "cycle_key kept the key");
    ctx.advance(ABSOLUTE / 2 - 1);
    let live = ctx.session_on(&config, Some(&cycled));
    ensure!(
        live.aget::<i64>("n").await?.is_some(),
        "the session ended before its absolute timeout"
    );
    ctx.advance(1);
    let late = ctx.session_on(&config, Some(&cycled));
    ensure!(
        late.akeys().await?.is_empty(),
        "cycle_key restarted the absolute timeout"
    );
    Ok(())
}

/// S1: `flush` (a logout) ends the count: the next session starts a new one.
pub async fn s1_flush_starts_a_new_count(ctx: Ctx) -> CaseResult {
    let config = timeouts(&ctx)?;
    let key = started(&ctx, &config).await?;
    ctx.advance(ABSOLUTE - 100);
    let s = ctx.session_on(&config, Some(&key));
    s.aflush().await?;
    s.aset("n", &0).await?;
    s.asave().await?;
    let fresh = s
        .session_key()
        .map(|k| k.as_str().to_owned())
        .unwrap_or_default();
    ctx.advance(200);
    let later = ctx.session_on(&config, Some(&fresh));
    ensure!(
        later.aget::<i64>("n").await?.is_some(),
        "the session after a flush inherited the old creation time"
    );
    Ok(())
}

/// S1: off by default, and then nothing is added to the data (a record stays byte for
/// byte what Django writes).
pub async fn s1_no_timeout_no_stamp(ctx: Ctx) -> CaseResult {
    let s = ctx.session(None);
    s.aset("n", &0).await?;
    s.asave().await?;
    ensure!(
        !s.ahas_key(SESSION_CREATED_KEY).await?,
        "a creation stamp was written with no absolute timeout configured"
    );
    let with = ctx.session_on(&timeouts(&ctx)?, None);
    with.aset("n", &0).await?;
    with.asave().await?;
    ensure!(
        with.aget::<i64>(SESSION_CREATED_KEY).await? == Some(ctx.env.now().unix_timestamp()),
        "no creation stamp with an absolute timeout"
    );
    Ok(())
}
