//! Wire formats and bad stored data (rules D7, E6, F1..F7, H4). The kit signs with the
//! secret and clock of the Django 5.2 fixtures, so records must match literals that
//! real Django produced.

use serde_json::json;
use session_api::{Error, SessionCodec, SessionKey};
use time::Duration;

use crate::ensure;
use crate::runner::{CaseResult, Ctx, Failure};

/// `SessionStore().encode({"a": 1})` by Django 5.2 with the kit's secret and clock.
pub const DJANGO_SESSION_DATA_A1: &str =
    "eyJhIjoxfQ:1vb66i:0KgQxR-DD_SdAOrlJq1XOqtBamL_9pT69c0rmJwQeIM";
/// The signed-cookie backend's cookie for `{"a": 1}` by Django 5.2, same secret and clock.
pub const DJANGO_SIGNED_COOKIE_A1: &str =
    "eyJhIjoxfQ:1vb66i:ft8H3TpHg6IGqotJFCc6o3_jJlTeOaXkbJFlNfjxujo";
/// The stored `session_data` of the wire-format session ([`wire_format_pairs`]):
/// compressed (the leading `.`), signed at the kit's start time.
pub const WIRE_FORMAT_SESSION_DATA: &str = ".eJyrViotTi1SslJKyk9S0lEqSa0oAXKSE9NiSg0MUi0VYkpNUo1SYkrNTC3MgZwUC2MgJyXVwACouCi1IDURpDwxaRQOJqhUCwCQrK4J:1vb66i:ANfiWxMdpwOG9erBKsN5W9e1qLGlCaUftIqzarnGm2s";
/// The signed cookie of the wire-format session: the same compressed payload and
/// timestamp as [`WIRE_FORMAT_SESSION_DATA`], signed with the signed-cookie salt.
pub const WIRE_FORMAT_SIGNED_COOKIE: &str = ".eJyrViotTi1SslJKyk9S0lEqSa0oAXKSE9NiSg0MUi0VYkpNUo1SYkrNTC3MgZwUC2MgJyXVwACouCi1IDURpDwxaRQOJqhUCwCQrK4J:1vb66i:VUIddBN4ZSN3NYfp-CcgPbUVQHLk8Vuz2RRU5kF1pQg";
/// `Set-Cookie` for key `abcdefgh12345678`, `max_age = 600`, Django's default cookie
/// settings, at the kit's start time.
pub const WIRE_FORMAT_SET_COOKIE: &str = "sessionid=abcdefgh12345678; expires=Thu, 01 Jan 2026 00:10:00 GMT; HttpOnly; Max-Age=600; Path=/; SameSite=Lax";
/// `Set-Cookie` that deletes the session cookie (Django's `delete_cookie`).
pub const WIRE_FORMAT_DELETE_COOKIE: &str =
    "sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax";

fn raw(ctx: &Ctx) -> Result<&std::sync::Arc<dyn crate::RawRecords>, Failure> {
    ctx.harness
        .raw
        .as_ref()
        .ok_or_else(|| Failure("no raw access".into()))
}

async fn plant_and_load(ctx: &Ctx, text: &str) -> Result<bool, Failure> {
    let key = SessionKey::generate();
    let later = ctx.env.now() + Duration::hours(1);
    raw(ctx)?.write_raw(&key, text, later).await?;
    let s = ctx.session(Some(key.as_str()));
    let empty = s.akeys().await?.is_empty();
    Ok(empty && s.session_key().is_none())
}

/// What the wire-format session holds: unicode, and long enough to be compressed.
pub fn wire_format_pairs() -> [(&'static str, serde_json::Value); 3] {
    [
        ("user", json!("bob")),
        ("text", json!("café 中文 😀")),
        ("repeat", json!("ab".repeat(200))),
    ]
}

/// Saves the wire-format session; returns its key, which for signed cookies is the
/// cookie itself.
async fn saved_wire_format_session(ctx: &Ctx) -> Result<SessionKey, Failure> {
    ctx.saved(&wire_format_pairs()).await
}

/// D7: undecodable stored data loads as an empty session, without panicking.
pub async fn d7_undecodable_record_loads_empty(ctx: Ctx) -> CaseResult {
    let neighbour = ctx.saved(&[("keep", json!(1))]).await?;
    let long = "x".repeat(100_000);
    for text in [
        "",
        "garbage",
        ":",
        "::",
        ".",
        ".:1vb66i:sig",
        "\u{1}\u{2}\u{3}",
        &long,
    ] {
        ensure!(
            plant_and_load(&ctx, text).await?,
            "{:.20?} did not load as empty",
            text
        );
    }
    let s = ctx.session(Some(neighbour.as_str()));
    ensure!(
        s.aget::<i64>("keep").await? == Some(1),
        "a bad record hurt another session"
    );
    Ok(())
}

/// F5, F7: a record whose signature was tampered with loads as empty.
pub async fn f7_tampered_record_loads_empty(ctx: Ctx) -> CaseResult {
    let mut tampered = DJANGO_SESSION_DATA_A1.to_owned();
    tampered.pop();
    tampered.push('X');
    ensure!(
        plant_and_load(&ctx, &tampered).await?,
        "tampered signature accepted"
    );
    let mut tampered_value = DJANGO_SESSION_DATA_A1.replacen("eyJhIjox", "eyJhIjoy", 1);
    ensure!(
        plant_and_load(&ctx, &tampered_value).await?,
        "tampered value accepted"
    );
    tampered_value = format!("{DJANGO_SESSION_DATA_A1}=");
    ensure!(
        plant_and_load(&ctx, &tampered_value).await?,
        "re-padded signature accepted"
    );
    Ok(())
}

/// F5: a record signed with another secret loads as empty.
pub async fn f5_record_signed_with_other_secret_loads_empty(ctx: Ctx) -> CaseResult {
    let codec = SessionCodec::new(
        &session_api::SecretKeys::new("some-other-secret"),
        ctx.env.clock(),
        std::sync::Arc::new(session_api::JsonSerializer),
    );
    let data = [("a", json!(1))].into_iter().collect();
    ensure!(
        plant_and_load(&ctx, &codec.encode(&data)?).await?,
        "a record signed with another secret loaded"
    );
    Ok(())
}

/// D7: a validly signed record whose JSON is not an object loads as empty.
pub async fn d7_non_object_record_loads_empty(ctx: Ctx) -> CaseResult {
    let signer = session_api::TimestampSigner::new(
        &ctx.env.secret_keys(),
        session_api::signing::SESSION_SALT,
        ctx.env.clock(),
    );
    let list = signer.sign_object(&json!([1, 2]), &session_api::JsonSerializer, true)?;
    ensure!(
        plant_and_load(&ctx, &list).await?,
        "a list loaded as a session"
    );
    Ok(())
}

/// F6: the stored `session_data` is Django's encoding, byte for byte.
pub async fn f6_session_data_is_djangos_encoding(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let stored = raw(&ctx)?.read_raw(&key).await?;
    ensure!(
        stored.as_deref() == Some(DJANGO_SESSION_DATA_A1),
        "stored {stored:?}, Django writes {DJANGO_SESSION_DATA_A1:?}"
    );
    let key = saved_wire_format_session(&ctx).await?;
    let stored = raw(&ctx)?.read_raw(&key).await?;
    ensure!(
        stored.as_deref() == Some(WIRE_FORMAT_SESSION_DATA),
        "stored {stored:?}, expected {WIRE_FORMAT_SESSION_DATA:?}"
    );
    Ok(())
}

/// F6: a record Django wrote loads.
pub async fn f6_django_written_record_loads(ctx: Ctx) -> CaseResult {
    let key = SessionKey::generate();
    let later = ctx.env.now() + Duration::hours(1);
    raw(&ctx)?
        .write_raw(&key, DJANGO_SESSION_DATA_A1, later)
        .await?;
    let s = ctx.session(Some(key.as_str()));
    ensure!(
        s.aget::<i64>("a").await? == Some(1),
        "Django's record did not load"
    );
    Ok(())
}

/// E6: the signed cookie is Django's, byte for byte, and Django's cookie loads.
pub async fn e6_signed_cookie_is_djangos(ctx: Ctx) -> CaseResult {
    let s = ctx.session(None);
    s.aset("a", &1).await?;
    s.asave().await?;
    let cookie = s.session_key().map(|k| k.as_str().to_owned());
    ensure!(
        cookie.as_deref() == Some(DJANGO_SIGNED_COOKIE_A1),
        "cookie {cookie:?}, Django writes {DJANGO_SIGNED_COOKIE_A1:?}"
    );
    let from_django = ctx.session(Some(DJANGO_SIGNED_COOKIE_A1));
    ensure!(
        from_django.aget::<i64>("a").await? == Some(1),
        "Django's cookie did not load"
    );
    let cookie = saved_wire_format_session(&ctx).await?;
    ensure!(
        cookie.as_str() == WIRE_FORMAT_SIGNED_COOKIE,
        "cookie {:?}, expected {WIRE_FORMAT_SIGNED_COOKIE:?}",
        cookie.as_str()
    );
    Ok(())
}

/// E6, F5: tampered or truncated cookies load as empty sessions.
pub async fn e6_tampered_cookie_loads_empty(ctx: Ctx) -> CaseResult {
    let truncated = &DJANGO_SIGNED_COOKIE_A1[..DJANGO_SIGNED_COOKIE_A1.len() - 3];
    let flipped = DJANGO_SIGNED_COOKIE_A1.replacen("eyJhIjox", "eyJhIjoy", 1);
    let repadded = format!("{DJANGO_SIGNED_COOKIE_A1}=");
    for bad in [
        truncated,
        flipped.as_str(),
        repadded.as_str(),
        "eyJhIjoxfQ",
        "::",
    ] {
        let s = ctx.session(Some(bad));
        ensure!(s.akeys().await?.is_empty(), "{bad:?} loaded data");
        ensure!(s.session_key().is_none(), "{bad:?} kept as key");
    }
    Ok(())
}

/// H4: a cookie over 4096 bytes is an error the application sees.
pub async fn h4_oversized_cookie_is_an_error(ctx: Ctx) -> CaseResult {
    let s = ctx.session(None);
    // Incompressible: distinct numbers.
    let big: Vec<u64> = (0..2000u64)
        .map(|i| i.wrapping_mul(2_654_435_761))
        .collect();
    s.aset("big", &big).await?;
    match s.asave().await {
        Err(Error::CookieTooLarge { size, limit }) if size > limit => Ok(()),
        other => Err(Failure(format!("expected CookieTooLarge, got {other:?}"))),
    }
}

/// G4, G2: the session cookie headers, byte for byte (deterministic clock and key).
pub async fn g4_set_cookie_header_wire_format(ctx: Ctx) -> CaseResult {
    let mw =
        session_api::middleware::SessionMiddleware::new(ctx.backend.clone(), ctx.config().clone());
    let header = mw.set_cookie_header("abcdefgh12345678", Some(600));
    ensure!(
        header == WIRE_FORMAT_SET_COOKIE,
        "Set-Cookie {header:?}, expected {WIRE_FORMAT_SET_COOKIE:?}"
    );
    let delete = mw.delete_cookie_header();
    ensure!(
        delete == WIRE_FORMAT_DELETE_COOKIE,
        "delete Set-Cookie {delete:?}, expected {WIRE_FORMAT_DELETE_COOKIE:?}"
    );
    Ok(())
}

/// E6, A2: a signed-cookie value under 8 characters is no key at all (Django's
/// `_validate_session_key`): dropped at once, and the middleware deletes the cookie.
pub async fn e6_short_cookie_value_is_dropped_and_deleted(ctx: Ctx) -> CaseResult {
    let mw =
        session_api::middleware::SessionMiddleware::new(ctx.backend.clone(), ctx.config().clone());
    let req = mw.request_session(Some(&format!("{}=abc1234", ctx.config().cookie_name)));
    ensure!(
        req.session.session_key().is_none(),
        "a 7-character value was kept as the key before any read"
    );
    let out = mw.aprocess_response(&req, 200).await?;
    let cookie = out.set_cookie.unwrap_or_default();
    ensure!(
        cookie.contains("Max-Age=0"),
        "the short cookie was not deleted: {cookie:?}"
    );
    Ok(())
}

/// B1, D3: after a save the data stays loaded in the handle: reading it again needs
/// no load, and gives what was saved (Django's `test_save_doesnt_clear_data`).
pub async fn b1_data_stays_loaded_after_save(ctx: Ctx) -> CaseResult {
    let s = ctx.session(None);
    s.aset("a", &1).await?;
    s.asave().await?;
    ctx.spy.reset();
    ensure!(
        s.aget::<i64>("a").await? == Some(1),
        "data lost by the save"
    );
    ensure!(
        ctx.spy.calls().is_empty(),
        "reading after a save went to the store: {:?}",
        ctx.spy.calls()
    );
    Ok(())
}
