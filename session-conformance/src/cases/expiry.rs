//! Expiry (rules C1..C9), with the kit's clock: nothing sleeps.

use serde_json::json;
use session_api::{Expiry, ExpiryArgs, ExpiryValue};
use time::Duration;

use crate::ensure;
use crate::fixtures::COOKIE_AGE;
use crate::runner::{CaseResult, Ctx};

async fn loads(ctx: &Ctx, key: &session_api::SessionKey) -> Result<bool, crate::Failure> {
    let s = ctx.session(Some(key.as_str()));
    Ok(!s.akeys().await?.is_empty())
}

async fn saved_with(ctx: &Ctx, expiry: Expiry) -> Result<session_api::SessionKey, crate::Failure> {
    let s = ctx.session(None);
    s.aset("a", &1).await?;
    s.aset_expiry(expiry).await?;
    s.asave().await?;
    s.session_key()
        .ok_or_else(|| crate::Failure("no key after save".into()))
}

/// C4, C5: without a custom expiry a record lives `SESSION_COOKIE_AGE`.
pub async fn c5_default_lifetime_is_cookie_age(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    ctx.advance(COOKIE_AGE - 1);
    ensure!(
        loads(&ctx, &key).await?,
        "expired before SESSION_COOKIE_AGE"
    );
    ctx.advance(2);
    ensure!(
        !loads(&ctx, &key).await?,
        "still loads after SESSION_COOKIE_AGE"
    );
    Ok(())
}

/// C1: `set_expiry(n)` makes the record live n seconds.
pub async fn c1_integer_expiry_sets_the_lifetime(ctx: Ctx) -> CaseResult {
    let key = saved_with(&ctx, Expiry::Seconds(60)).await?;
    ctx.advance(59);
    ensure!(loads(&ctx, &key).await?, "expired before 60 s");
    ctx.advance(2);
    ensure!(!loads(&ctx, &key).await?, "still loads after 60 s");
    Ok(())
}

/// C2: `set_expiry(datetime)` is absolute.
pub async fn c2_datetime_expiry_is_absolute(ctx: Ctx) -> CaseResult {
    let at = ctx.env.now() + Duration::seconds(100);
    let key = saved_with(&ctx, Expiry::At(at)).await?;
    ctx.advance(50);
    let s = ctx.session(Some(key.as_str()));
    s.aset("b", &2).await?;
    s.asave().await?; // activity does not move an absolute expiry
    ctx.advance(49);
    ensure!(loads(&ctx, &key).await?, "expired before the datetime");
    ctx.advance(2);
    ensure!(!loads(&ctx, &key).await?, "still loads after the datetime");
    Ok(())
}

/// C2: `set_expiry(duration)` stores now + duration.
pub async fn c2_duration_expiry(ctx: Ctx) -> CaseResult {
    let key = saved_with(&ctx, Expiry::In(Duration::seconds(30))).await?;
    let s = ctx.session(Some(key.as_str()));
    let stored = s.aget_value("_session_expiry").await?;
    ensure!(
        stored == Some(json!("2026-01-01T00:00:30+00:00")),
        "stored {stored:?}"
    );
    ctx.advance(31);
    ensure!(!loads(&ctx, &key).await?, "still loads after the duration");
    Ok(())
}

/// C3, C7: `set_expiry(0)`: browser close; the record lives `SESSION_COOKIE_AGE`.
pub async fn c3_browser_close_expiry(ctx: Ctx) -> CaseResult {
    let key = saved_with(&ctx, Expiry::BrowserClose).await?;
    let s = ctx.session(Some(key.as_str()));
    ensure!(s.aget_expire_at_browser_close().await?, "not browser close");
    ensure!(
        s.aget_expiry_age(ExpiryArgs::default()).await? == COOKIE_AGE,
        "age of a browser-close session must be the cookie age"
    );
    ctx.advance(COOKIE_AGE - 1);
    ensure!(
        loads(&ctx, &key).await?,
        "browser-close record expired early"
    );
    Ok(())
}

/// C4: `set_expiry(None)` goes back to the default.
pub async fn c4_expiry_none_restores_default(ctx: Ctx) -> CaseResult {
    let s = ctx.session(None);
    s.aset_expiry(Expiry::Default).await?;
    s.aset_expiry(Expiry::Seconds(10)).await?;
    s.aset_expiry(Expiry::Default).await?;
    s.asave().await?;
    let key = s.session_key();
    ctx.advance(11);
    let again = ctx.session(key.as_ref().map(|k| k.as_str()));
    ensure!(
        again.aget_expiry_age(ExpiryArgs::default()).await? == COOKIE_AGE,
        "default expiry not restored"
    );
    Ok(())
}

/// C5, C6: age and date count from the given modification; explicit expiry does not load.
pub async fn c5_age_and_date_from_modification(ctx: Ctx) -> CaseResult {
    let key = saved_with(&ctx, Expiry::Seconds(600)).await?;
    ctx.spy.reset();
    let s = ctx.session(Some(key.as_str()));
    let now = ctx.env.now();
    let explicit = ExpiryArgs {
        modification: Some(now),
        expiry: Some(ExpiryValue::At(now + Duration::seconds(90))),
    };
    ensure!(s.aget_expiry_age(explicit).await? == 90, "explicit age");
    ensure!(
        ctx.spy.calls().is_empty(),
        "explicit expiry loaded the session"
    );
    let from = ExpiryArgs {
        modification: Some(now + Duration::seconds(5)),
        expiry: None,
    };
    ensure!(s.aget_expiry_age(from).await? == 600, "stored integer age");
    ensure!(
        s.aget_expiry_date(from).await? == now + Duration::seconds(605),
        "date = modification + age"
    );
    Ok(())
}

/// C8: an integer expiry is inactivity-based: each save pushes it.
pub async fn c8_save_extends_integer_expiry(ctx: Ctx) -> CaseResult {
    let key = saved_with(&ctx, Expiry::Seconds(60)).await?;
    for _ in 0..3 {
        ctx.advance(50);
        let s = ctx.session(Some(key.as_str()));
        s.aset("touch", &true).await?;
        s.asave().await?;
    }
    ctx.advance(50);
    ensure!(
        loads(&ctx, &key).await?,
        "activity did not extend the session"
    );
    Ok(())
}

/// C9: reading a session does not extend it.
pub async fn c9_reading_does_not_extend(ctx: Ctx) -> CaseResult {
    let key = saved_with(&ctx, Expiry::Seconds(100)).await?;
    for _ in 0..9 {
        ctx.advance(10);
        ensure!(loads(&ctx, &key).await?, "expired early");
    }
    ctx.advance(11);
    ensure!(!loads(&ctx, &key).await?, "reading extended the session");
    Ok(())
}

/// C9, A3: an expired record loads as empty and its key is dropped.
pub async fn c9_expired_record_loads_empty_and_drops_key(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    ctx.advance(COOKIE_AGE + 1);
    let s = ctx.session(Some(key.as_str()));
    ensure!(s.akeys().await?.is_empty(), "expired data loaded");
    ensure!(s.session_key().is_none(), "expired key kept");
    s.aset("b", &1).await?;
    s.asave().await?;
    ensure!(
        s.session_key().as_ref() != Some(&key),
        "expired key re-adopted"
    );
    Ok(())
}

/// C5: a stored expiry of the wrong type never breaks the request.
pub async fn c5_malformed_stored_expiry_is_ignored(ctx: Ctx) -> CaseResult {
    let key = ctx
        .saved(&[("_session_expiry", json!({"not": "an expiry"}))])
        .await?;
    let s = ctx.session(Some(key.as_str()));
    ensure!(
        s.aget_expiry_age(ExpiryArgs::default()).await? == COOKIE_AGE,
        "a malformed expiry must fall back to the cookie age"
    );
    Ok(())
}

/// A `SESSION_COOKIE_AGE` other than Django's default (rule C10).
const CUSTOM_AGE: i64 = 3_600;

/// A handle on the store with the kit's settings but `SESSION_COOKIE_AGE` =
/// [`CUSTOM_AGE`] and `SESSION_EXPIRE_AT_BROWSER_CLOSE` = `browser_close`.
fn custom_session(
    ctx: &Ctx,
    key: Option<&str>,
    browser_close: bool,
) -> Result<session_api::Session, crate::Failure> {
    let config = session_api::SessionConfig::builder(ctx.env.secret_keys())
        .clock(ctx.env.clock())
        .cookie_age(CUSTOM_AGE)
        .expire_at_browser_close(browser_close)
        .build()?;
    Ok(session_api::Session::new(
        ctx.backend.clone(),
        std::sync::Arc::new(config),
        key,
    ))
}

/// C10: a non-default cookie age is the age read back by default, after
/// browser-close expiry and after resetting the expiry.
pub async fn c10_custom_cookie_age_is_read_back(ctx: Ctx) -> CaseResult {
    let s = custom_session(&ctx, None, false)?;
    s.aset("a", &1).await?;
    s.asave().await?;
    let key = s.session_key();
    let s = custom_session(&ctx, key.as_ref().map(|k| k.as_str()), false)?;
    let now = ctx.env.now();
    for (step, expiry) in [
        ("by default", None),
        ("at browser close", Some(Expiry::BrowserClose)),
        ("after Expiry::Default", Some(Expiry::Default)),
    ] {
        if let Some(expiry) = expiry {
            s.aset_expiry(expiry).await?;
        }
        let age = s.aget_expiry_age(ExpiryArgs::default()).await?;
        ensure!(age == CUSTOM_AGE, "{step}: age {age}, not {CUSTOM_AGE}");
        let date = s.aget_expiry_date(ExpiryArgs::default()).await?;
        ensure!(
            date == now + Duration::seconds(CUSTOM_AGE),
            "{step}: date {date}"
        );
    }
    Ok(())
}

/// C10: a record saved under a non-default cookie age lives exactly that long, by
/// default, at browser close and after resetting the expiry. Server-side only: a
/// signed cookie's lifetime is the store's own `max_age` (E6), not the session's.
pub async fn c10_custom_cookie_age_bounds_the_record(ctx: Ctx) -> CaseResult {
    for (step, expiry) in [
        ("by default", None),
        ("at browser close", Some(Expiry::BrowserClose)),
        ("after Expiry::Default", Some(Expiry::Default)),
    ] {
        let s = custom_session(&ctx, None, false)?;
        s.aset("a", &1).await?;
        if let Some(expiry) = expiry {
            s.aset_expiry(Expiry::Seconds(60)).await?;
            s.aset_expiry(expiry).await?;
        }
        s.asave().await?;
        let key = s
            .session_key()
            .ok_or_else(|| crate::Failure("no key after save".into()))?;
        ctx.advance(CUSTOM_AGE - 1);
        ensure!(loads(&ctx, &key).await?, "{step}: expired before the age");
        ctx.advance(2);
        ensure!(!loads(&ctx, &key).await?, "{step}: loads after the age");
    }
    Ok(())
}

/// C5, C6, B10: the async age and date read back an absolute expiry and a duration,
/// before and after a save.
pub async fn c6_async_age_and_date_read_back(ctx: Ctx) -> CaseResult {
    let now = ctx.env.now();
    for (what, expiry, age) in [
        ("datetime", Expiry::At(now + Duration::seconds(100)), 100),
        ("duration", Expiry::In(Duration::seconds(30)), 30),
    ] {
        let key = saved_with(&ctx, expiry).await?;
        let s = ctx.session(Some(key.as_str()));
        let got = s.aget_expiry_age(ExpiryArgs::default()).await?;
        ensure!(got == age, "{what}: age {got}, not {age}");
        let date = s.aget_expiry_date(ExpiryArgs::default()).await?;
        ensure!(date == now + Duration::seconds(age), "{what}: date {date}");
    }
    Ok(())
}

/// C7: with SESSION_EXPIRE_AT_BROWSER_CLOSE on, a per-session expiry of 0 is browser
/// close, a non-zero one overrides the setting, and `Expiry::Default` falls back to it.
pub async fn c7_site_wide_browser_close_with_per_session_expiry(ctx: Ctx) -> CaseResult {
    let at = ctx.env.now() + Duration::seconds(100);
    for (site, expiry, want) in [
        (true, None, true),
        (true, Some(Expiry::BrowserClose), true),
        (true, Some(Expiry::Seconds(60)), false),
        (true, Some(Expiry::At(at)), false),
        (true, Some(Expiry::Default), true),
        (false, None, false),
        (false, Some(Expiry::BrowserClose), true),
    ] {
        let s = custom_session(&ctx, None, site)?;
        s.aset("a", &1).await?;
        if let Some(expiry) = expiry {
            s.aset_expiry(Expiry::Seconds(60)).await?;
            s.aset_expiry(expiry).await?;
        }
        s.asave().await?;
        let key = s.session_key();
        let again = custom_session(&ctx, key.as_ref().map(|k| k.as_str()), site)?;
        let got = again.aget_expire_at_browser_close().await?;
        ensure!(
            got == want,
            "setting {site}, expiry {expiry:?}: browser close {got}, not {want}"
        );
    }
    Ok(())
}

/// C11: an expiry already past at save time (a past datetime, a negative duration)
/// is saved, and the record then loads as empty. Server-side only: a signed cookie
/// is checked against `SESSION_COOKIE_AGE` alone (E6, Django ticket #19201), so a
/// cookie saved with a past expiry still loads, in Django as here.
pub async fn c11_expiry_past_at_save_loads_empty(ctx: Ctx) -> CaseResult {
    let past = ctx.env.now() - Duration::seconds(10);
    for (what, expiry) in [
        ("past datetime", Expiry::At(past)),
        ("negative duration", Expiry::In(Duration::seconds(-10))),
    ] {
        let key = saved_with(&ctx, expiry).await?;
        ensure!(!loads(&ctx, &key).await?, "{what}: the record still loads");
    }
    Ok(())
}
