//! The session handle's dictionary and flags (rules B1..B10), through the store.

use serde_json::json;
use session_api::{Error, ExpiryArgs};

use crate::ensure;
use crate::runner::{CaseResult, Ctx};
use crate::spy::Call;

/// B1: nothing is loaded before the data is first touched.
pub async fn b1_no_load_before_first_access(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    ctx.spy.reset();
    let s = ctx.session(Some(key.as_str()));
    ensure!(
        ctx.spy.calls().is_empty(),
        "building a handle called the store"
    );
    s.aget_value("a").await?;
    s.aget_value("a").await?;
    let loads = ctx.spy.calls().iter().filter(|c| **c == Call::Load).count();
    ensure!(loads == 1, "expected one load, saw {loads}");
    Ok(())
}

/// B1: with no key, first access does not call the store.
pub async fn b1_no_key_no_store_call(ctx: Ctx) -> CaseResult {
    let s = ctx.session(None);
    s.akeys().await?;
    ensure!(
        ctx.spy.calls().is_empty(),
        "store called: {:?}",
        ctx.spy.calls()
    );
    Ok(())
}

/// B2: reads set `accessed`, not `modified`.
pub async fn b2_reads_set_accessed_only(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let s = ctx.session(Some(key.as_str()));
    ensure!(!s.accessed(), "accessed before any access");
    s.aget_value("a").await?;
    s.ahas_key("a").await?;
    s.akeys().await?;
    s.avalues().await?;
    s.aitems().await?;
    s.aget_expiry_age(ExpiryArgs::default()).await?;
    s.aget_expiry_date(ExpiryArgs::default()).await?;
    s.aget_expire_at_browser_close().await?;
    ensure!(s.accessed(), "reads did not set accessed");
    ensure!(!s.modified(), "reads set modified");
    Ok(())
}

/// B3: assignment, deletion, update (even empty), clear set `modified`.
pub async fn b3_writes_set_modified(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    for op in 0..4 {
        let s = ctx.session(Some(key.as_str()));
        match op {
            0 => s.aset("b", &2).await?,
            1 => s.adelete("a").await?,
            2 => s.lock().await.aupdate(Vec::new()).await?,
            _ => s.aclear().await,
        }
        ensure!(s.modified(), "operation {op} did not set modified");
    }
    Ok(())
}

/// B3: pop sets `modified` only when the key was present.
pub async fn b3_pop_modifies_only_when_present(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let s = ctx.session(Some(key.as_str()));
    s.apop_or("missing", json!(null)).await?;
    ensure!(!s.modified(), "pop of a missing key set modified");
    ensure!(
        s.apop("a").await? == json!(1),
        "pop returned the wrong value"
    );
    ensure!(s.modified(), "pop of a present key did not set modified");
    Ok(())
}

/// B3: setdefault sets `modified` only when it inserts.
pub async fn b3_setdefault_modifies_only_when_inserting(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let s = ctx.session(Some(key.as_str()));
    ensure!(
        s.asetdefault("a", json!(9)).await? == json!(1),
        "setdefault replaced a value"
    );
    ensure!(!s.modified(), "setdefault of a present key set modified");
    ensure!(
        s.asetdefault("b", json!(9)).await? == json!(9),
        "setdefault did not insert"
    );
    ensure!(s.modified(), "setdefault insert did not set modified");
    Ok(())
}

/// B4: clear empties without loading and sets both flags.
pub async fn b4_clear_does_not_load(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    ctx.spy.reset();
    let s = ctx.session(Some(key.as_str()));
    s.aclear().await;
    ensure!(
        !ctx.spy.calls().contains(&Call::Load),
        "clear loaded the session"
    );
    ensure!(s.accessed() && s.modified(), "clear did not set both flags");
    s.asave().await?;
    // Signed cookies re-sign on save: reload through the key the save returned.
    let saved = s.session_key().unwrap_or(key);
    let again = ctx.session(Some(saved.as_str()));
    ensure!(again.akeys().await?.is_empty(), "cleared data came back");
    Ok(())
}

/// B5: a nested change is not saved unless `modified` is set.
pub async fn b5_nested_mutation_needs_modified(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("cart", json!({"items": [1]}))]).await?;
    let s = ctx.session(Some(key.as_str()));
    s.lock()
        .await
        .adata()
        .await?
        .insert("cart".into(), json!({"items": [1, 2]}));
    ensure!(!s.modified(), "in-place mutation set modified");
    let mw =
        session_api::middleware::SessionMiddleware::new(ctx.backend.clone(), ctx.config().clone());
    let cookie = format!("{}={}", ctx.config().cookie_name, key.as_str());
    let req = mw.request_session(Some(&cookie));
    req.session
        .lock()
        .await
        .adata()
        .await?
        .insert("cart".into(), json!({"items": [1, 2]}));
    ctx.spy.reset();
    mw.aprocess_response(&req, 200).await?;
    ensure!(ctx.spy.writes() == 0, "an unmodified session was written");
    let check = ctx.session(Some(key.as_str()));
    ensure!(
        check.aget_value("cart").await? == Some(json!({"items": [1]})),
        "nested change was saved without modified"
    );
    req.session.set_modified(true);
    mw.aprocess_response(&req, 200).await?;
    let saved = req.session.session_key().unwrap_or(key);
    let check = ctx.session(Some(saved.as_str()));
    ensure!(
        check.aget_value("cart").await? == Some(json!({"items": [1, 2]})),
        "setting modified did not save the nested change"
    );
    Ok(())
}

/// B6: deleting or popping a missing key is an error; pop with default returns it.
pub async fn b6_missing_key_is_key_error(ctx: Ctx) -> CaseResult {
    let s = ctx.session(None);
    ensure!(
        matches!(s.adelete("nope").await, Err(Error::KeyNotFound(_))),
        "delete of missing key"
    );
    ensure!(
        matches!(s.apop("nope").await, Err(Error::KeyNotFound(_))),
        "pop of missing key"
    );
    ensure!(
        s.apop_or("nope", json!(5)).await? == json!(5),
        "pop default"
    );
    Ok(())
}

/// B8: the test cookie survives a save and reload.
pub async fn b8_test_cookie_round_trip(ctx: Ctx) -> CaseResult {
    let s = ctx.session(None);
    s.aset_test_cookie().await?;
    s.asave().await?;
    let key = s.session_key();
    let again = ctx.session(key.as_ref().map(|k| k.as_str()));
    ensure!(
        again.atest_cookie_worked().await?,
        "test cookie did not survive"
    );
    again.adelete_test_cookie().await?;
    ensure!(
        !again.atest_cookie_worked().await?,
        "test cookie not deleted"
    );
    ensure!(
        matches!(
            again.adelete_test_cookie().await,
            Err(Error::KeyNotFound(_))
        ),
        "second delete_test_cookie must be an error"
    );
    Ok(())
}

/// B9: empty only without key and data.
pub async fn b9_is_empty(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    ensure!(
        ctx.session(None).ais_empty().await,
        "fresh session not empty"
    );
    ensure!(
        !ctx.session(Some(key.as_str())).ais_empty().await,
        "keyed session empty"
    );
    let s = ctx.session(None);
    s.aset("a", &1).await?;
    ensure!(!s.ais_empty().await, "session with data empty");
    // The sync twin agrees (B10).
    let sync = ctx.session(Some(key.as_str()));
    let sync_empty = tokio::task::spawn_blocking(move || sync.is_empty())
        .await
        .map_err(|e| crate::Failure(format!("sync side panicked: {e}")))??;
    ensure!(!sync_empty, "keyed session empty through the sync twin");
    Ok(())
}

/// B10, D9: sync methods and async twins store the same thing.
pub async fn b10_sync_and_async_twins_agree(ctx: Ctx) -> CaseResult {
    let sync_ctx = ctx.clone();
    let sync_key = tokio::task::spawn_blocking(move || -> Result<_, session_api::Error> {
        let s = sync_ctx.session(None);
        s.set("a", &1)?;
        s.lock_sync()?
            .update(vec![("b".to_owned(), json!([1, "x"]))])?;
        s.setdefault("c", json!(null))?;
        s.pop("a")?;
        s.set_test_cookie()?;
        s.save()?;
        Ok(s.session_key())
    })
    .await
    .map_err(|e| crate::Failure(format!("sync side panicked: {e}")))??;
    let a = ctx.session(None);
    a.aset("a", &1).await?;
    a.lock()
        .await
        .aupdate(vec![("b".to_owned(), json!([1, "x"]))])
        .await?;
    a.asetdefault("c", json!(null)).await?;
    a.apop("a").await?;
    a.aset_test_cookie().await?;
    a.asave().await?;
    let async_key = a.session_key();
    let from_sync = ctx.session(sync_key.as_ref().map(|k| k.as_str()));
    let from_async = ctx.session(async_key.as_ref().map(|k| k.as_str()));
    let x = from_sync.aitems().await?;
    let y = from_async.aitems().await?;
    ensure!(
        !x.is_empty() && x == y,
        "sync stored {x:?}, async stored {y:?}"
    );
    Ok(())
}

/// F1: unicode, nested values, floats and key order survive the store.
pub async fn f1_data_round_trips_exactly(ctx: Ctx) -> CaseResult {
    let pairs = [
        ("zeta", json!("café 中文 😀 \u{7f} \"quoted\" \\")),
        ("alpha", json!({"nested": [1, 2.5, 1e16, -0.0, null, true]})),
        ("mid", json!(123456789012345678_i64)),
        ("_auth_user_id", json!("42")),
    ];
    let key = ctx.saved(&pairs).await?;
    let s = ctx.session(Some(key.as_str()));
    let items = s.aitems().await?;
    let want: Vec<_> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    ensure!(items == want, "stored {want:?}, loaded {items:?}");
    Ok(())
}

/// B2, B3, B10: each async method on its own sets `accessed`, and `modified` only
/// when it changes the data.
pub async fn b3_async_methods_one_by_one_set_the_flags(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    for (op, modifies) in [
        ("ahas_key", false),
        ("akeys", false),
        ("avalues", false),
        ("aitems", false),
        ("apop_or missing", false),
        ("apop_or present", true),
        ("asetdefault present", false),
        ("asetdefault missing", true),
        ("aupdate empty", true),
        ("aupdate", true),
    ] {
        let s = ctx.session(Some(key.as_str()));
        match op {
            "ahas_key" => drop(s.ahas_key("a").await?),
            "akeys" => drop(s.akeys().await?),
            "avalues" => drop(s.avalues().await?),
            "aitems" => drop(s.aitems().await?),
            "apop_or missing" => drop(s.apop_or("nope", json!(0)).await?),
            "apop_or present" => drop(s.apop_or("a", json!(0)).await?),
            "asetdefault present" => drop(s.asetdefault("a", json!(0)).await?),
            "asetdefault missing" => drop(s.asetdefault("b", json!(0)).await?),
            "aupdate empty" => s.aupdate(Vec::new()).await?,
            _ => s.aupdate(vec![("b".to_owned(), json!(2))]).await?,
        }
        ensure!(s.accessed(), "{op} did not set accessed");
        ensure!(
            s.modified() == modifies,
            "{op}: modified {}, expected {modifies}",
            s.modified()
        );
    }
    Ok(())
}

/// B11: the sync methods return what Django's do: pop the removed value (or the
/// default), setdefault the kept or inserted value, has_key, keys and values in
/// insertion order.
pub async fn b11_sync_return_values(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1)), ("b", json!("x"))]).await?;
    let s = ctx.session(Some(key.as_str()));
    let checks = tokio::task::spawn_blocking(move || -> Result<Vec<_>, Error> {
        Ok(vec![
            ("has_key present", json!(s.has_key("a")?), json!(true)),
            ("has_key missing", json!(s.has_key("z")?), json!(false)),
            ("keys", json!(s.keys()?), json!(["a", "b"])),
            ("values", json!(s.values()?), json!([1, "x"])),
            ("setdefault present", s.setdefault("a", json!(9))?, json!(1)),
            ("setdefault missing", s.setdefault("c", json!(9))?, json!(9)),
            ("pop", s.pop("b")?, json!("x")),
            ("pop_or missing", s.pop_or("b", json!(5))?, json!(5)),
            ("keys after", json!(s.keys()?), json!(["a", "c"])),
            ("values after", json!(s.values()?), json!([1, 9])),
        ])
    })
    .await
    .map_err(|e| crate::Failure(format!("sync side panicked: {e}")))??;
    for (what, got, want) in checks {
        ensure!(got == want, "{what} returned {got}, expected {want}");
    }
    Ok(())
}
