//! The middleware's write rules through the store (G2..G5, B3).

use serde_json::json;

use session_api::middleware::{RequestSession, SessionMiddleware};

use crate::ensure;
use crate::runner::{CaseResult, Ctx, Failure};

fn middleware(ctx: &Ctx) -> SessionMiddleware {
    SessionMiddleware::new(ctx.backend.clone(), ctx.config().clone())
}

fn request(ctx: &Ctx, mw: &SessionMiddleware, key: &session_api::SessionKey) -> RequestSession {
    let cookie = format!("{}={}", ctx.config().cookie_name, key.as_str());
    mw.request_session(Some(&cookie))
}

/// G4: a request that only reads writes nothing.
pub async fn g4_no_write_when_unmodified(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let mw = middleware(&ctx);
    let req = request(&ctx, &mw, &key);
    req.session.aget_value("a").await?;
    ctx.spy.reset();
    let out = mw.aprocess_response(&req, 200).await?;
    ensure!(ctx.spy.writes() == 0, "an unmodified session was written");
    ensure!(
        out.set_cookie.is_none(),
        "an unmodified session set a cookie"
    );
    ensure!(out.vary_cookie, "an accessed session must vary on Cookie");
    Ok(())
}

/// G4: a modified session is saved and its cookie set.
pub async fn g4_modified_session_is_saved(ctx: Ctx) -> CaseResult {
    let mw = middleware(&ctx);
    let req = mw.request_session(None);
    req.session.aset("a", &1).await?;
    let out = mw.aprocess_response(&req, 200).await?;
    let key = req
        .session
        .session_key()
        .ok_or_else(|| Failure("no key".into()))?;
    let cookie = out.set_cookie.unwrap_or_default();
    ensure!(
        cookie.starts_with(&format!("sessionid={};", key.as_str())),
        "cookie {cookie:?}"
    );
    let again = ctx.session(Some(key.as_str()));
    ensure!(again.aget::<i64>("a").await? == Some(1), "not saved");
    Ok(())
}

/// G4: SESSION_SAVE_EVERY_REQUEST writes even unmodified sessions.
pub async fn g4_save_every_request_writes(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let mut config = (**ctx.config()).clone();
    config.save_every_request = true;
    let mw = SessionMiddleware::new(ctx.backend.clone(), std::sync::Arc::new(config));
    let req = request(&ctx, &mw, &key);
    ctx.spy.reset();
    let out = mw.aprocess_response(&req, 200).await?;
    ensure!(
        ctx.spy.writes() == 1,
        "expected one write, saw {:?}",
        ctx.spy.calls()
    );
    ensure!(out.set_cookie.is_some(), "no cookie");
    Ok(())
}

/// G4: no save and no cookie on a 5xx response.
pub async fn g4_no_save_on_500(ctx: Ctx) -> CaseResult {
    let mw = middleware(&ctx);
    let req = mw.request_session(None);
    req.session.aset("a", &1).await?;
    ctx.spy.reset();
    let out = mw.aprocess_response(&req, 500).await?;
    ensure!(ctx.spy.writes() == 0, "saved on a 500");
    ensure!(out.set_cookie.is_none(), "cookie set on a 500");
    Ok(())
}

/// G2: a flushed session deletes the cookie.
pub async fn g2_flushed_session_deletes_cookie(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let mw = middleware(&ctx);
    let req = request(&ctx, &mw, &key);
    req.session.aflush().await?;
    let out = mw.aprocess_response(&req, 200).await?;
    let cookie = out.set_cookie.unwrap_or_default();
    ensure!(
        cookie.starts_with("sessionid=\"\"; expires=Thu, 01 Jan 1970"),
        "cookie {cookie:?}"
    );
    ensure!(out.vary_cookie, "no Vary on delete");
    Ok(())
}

/// G5, D5: a session deleted by a concurrent logout is not resurrected by the slower
/// request's save; the slower request gets SessionInterrupted.
pub async fn g5_concurrent_logout_is_not_resurrected(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let mw = middleware(&ctx);
    let slow = request(&ctx, &mw, &key);
    slow.session.aset("b", &2).await?;
    let logout = request(&ctx, &mw, &key);
    logout.session.aflush().await?;
    mw.aprocess_response(&logout, 200).await?;
    let r = mw.aprocess_response(&slow, 200).await;
    ensure!(
        matches!(r, Err(session_api::Error::SessionInterrupted)),
        "expected SessionInterrupted, got {r:?}"
    );
    ensure!(
        !ctx.backend.nonblocking().aexists(&key).await?,
        "logged-out session resurrected"
    );
    Ok(())
}
