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

fn middleware_with(
    ctx: &Ctx,
    change: impl FnOnce(&mut session_api::SessionConfig),
) -> SessionMiddleware {
    let mut config = (**ctx.config()).clone();
    change(&mut config);
    SessionMiddleware::new(ctx.backend.clone(), std::sync::Arc::new(config))
}

/// G6: `SESSION_COOKIE_HTTPONLY = False` leaves `HttpOnly` off the cookie.
pub async fn g6_cookie_without_httponly(ctx: Ctx) -> CaseResult {
    let mw = middleware_with(&ctx, |c| c.cookie_httponly = false);
    let req = mw.request_session(None);
    req.session.aset("a", &1).await?;
    let cookie = mw.aprocess_response(&req, 200).await?.set_cookie;
    let cookie = cookie.ok_or_else(|| Failure("no cookie".into()))?;
    ensure!(!cookie.contains("HttpOnly"), "HttpOnly sent: {cookie:?}");
    Ok(())
}

/// G2, G3: a logout on a request that carried no session cookie sends no cookie
/// (there is nothing to delete) but still varies on Cookie (the session was accessed).
pub async fn g2_logout_without_a_cookie_sends_none_but_varies(ctx: Ctx) -> CaseResult {
    let mw = middleware(&ctx);
    let req = mw.request_session(Some("theme=dark"));
    req.session.aflush().await?;
    let out = mw.aprocess_response(&req, 200).await?;
    ensure!(
        out.set_cookie.is_none(),
        "cookie sent: {:?}",
        out.set_cookie
    );
    ensure!(out.vary_cookie, "no Vary: Cookie after a logout");
    Ok(())
}

/// G3, G4: a SESSION_SAVE_EVERY_REQUEST renewal of a session the view never touched
/// varies on Cookie: the response sets the cookie, so a shared cache must not reuse it
/// for another client. (Django patches Vary only when the view accessed the session;
/// sending it with every Set-Cookie is the safe superset.)
pub async fn g3_save_every_request_renewal_varies_on_cookie(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let mw = middleware_with(&ctx, |c| c.save_every_request = true);
    let req = request(&ctx, &mw, &key);
    let out = mw.aprocess_response(&req, 200).await?;
    ensure!(out.set_cookie.is_some(), "no renewal cookie");
    ensure!(out.vary_cookie, "a renewal without Vary: Cookie");
    Ok(())
}

/// G4: no save and no cookie on a 503 either (every status >= 500).
pub async fn g4_no_save_on_503(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let mw = middleware(&ctx);
    let req = request(&ctx, &mw, &key);
    req.session.aset("a", &2).await?;
    ctx.spy.reset();
    let out = mw.aprocess_response(&req, 503).await?;
    ensure!(
        ctx.spy.writes() == 0,
        "saved on a 503: {:?}",
        ctx.spy.calls()
    );
    ensure!(out.set_cookie.is_none(), "cookie set on a 503");
    let again = ctx.session(Some(key.as_str()));
    ensure!(
        again.aget::<i64>("a").await? == Some(1),
        "the 503's change was stored"
    );
    Ok(())
}

/// B4, G4: a session emptied with `clear()` but not flushed keeps its key: it is saved
/// (empty) and its cookie is sent again, not deleted.
pub async fn g4_cleared_session_is_saved_and_its_cookie_resent(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let mw = middleware(&ctx);
    let req = request(&ctx, &mw, &key);
    req.session.aclear().await;
    let out = mw.aprocess_response(&req, 200).await?;
    let cookie = out
        .set_cookie
        .ok_or_else(|| Failure("no cookie for a cleared session".into()))?;
    let sent = req
        .session
        .session_key()
        .ok_or_else(|| Failure("the cleared session lost its key".into()))?;
    ensure!(
        cookie.starts_with(&format!("{}={};", ctx.config().cookie_name, sent.as_str())),
        "cookie {cookie:?} is not the session's"
    );
    let again = ctx.session(Some(sent.as_str()));
    ensure!(
        again.akeys().await?.is_empty(),
        "the cleared data came back"
    );
    Ok(())
}

/// G5: the concurrent-logout error says what happened, in Django's words.
pub async fn g5_concurrent_logout_error_message(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let mw = middleware(&ctx);
    let slow = request(&ctx, &mw, &key);
    slow.session.aset("b", &2).await?;
    ctx.backend.nonblocking().adelete(&key).await?;
    let message = match mw.aprocess_response(&slow, 200).await {
        Err(err @ session_api::Error::SessionInterrupted) => err.to_string(),
        other => {
            return Err(Failure(format!(
                "expected SessionInterrupted, got {other:?}"
            )))
        }
    };
    ensure!(
        message
            == "The request's session was deleted before the request completed. The user may \
                have logged out in a concurrent request, for example.",
        "message {message:?}"
    );
    Ok(())
}
