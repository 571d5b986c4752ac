//! Keys and session fixation (rules A1..A4, H1, H6).

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::json;
use session_api::{Error, KeyGenerator, KeyKind, Record, SaveMode, SessionKey};

use crate::ensure;
use crate::runner::{CaseResult, Ctx, Failure};
use crate::spy::Call;

/// A1: saved sessions get 32-character `[a-z0-9]` keys.
pub async fn a1_created_keys_are_32_lowercase_alphanumerics(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    let k = key.as_str();
    ensure!(k.len() == 32, "key length {} != 32", k.len());
    ensure!(
        k.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "key has characters outside [a-z0-9]"
    );
    Ok(())
}

/// A1: keys are unique.
pub async fn a1_created_keys_are_distinct(ctx: Ctx) -> CaseResult {
    let mut seen = std::collections::HashSet::new();
    for i in 0..20 {
        let key = ctx.saved(&[("i", json!(i))]).await?;
        ensure!(seen.insert(key), "a key was handed out twice");
    }
    Ok(())
}

async fn rejected(ctx: &Ctx, bad: &str) -> CaseResult {
    // H1: an id store drops the key before any store call; a signed-cookie store
    // (whose key is the signed data) drops it when the signature fails on load.
    let id_keys = ctx.caps().key_kind == KeyKind::Id;
    let s = ctx.session(Some(bad));
    ensure!(
        !id_keys || s.session_key().is_none(),
        "malformed key {bad:?} was adopted"
    );
    ensure!(
        s.akeys().await?.is_empty(),
        "malformed key {bad:?} loaded data"
    );
    ensure!(
        s.session_key().is_none(),
        "malformed key {bad:?} kept after load"
    );
    ensure!(
        !id_keys || !ctx.spy.calls().contains(&Call::Load),
        "a malformed key reached the store"
    );
    s.aset("x", &1).await?;
    s.asave().await?;
    let key = s.session_key();
    ensure!(
        key.as_ref().map(SessionKey::as_str) != Some(bad),
        "saving reused the malformed key"
    );
    Ok(())
}

/// H1: a 7-character key is never adopted.
pub async fn h1_key_of_7_chars_is_rejected(ctx: Ctx) -> CaseResult {
    rejected(&ctx, "abcdefg").await
}

/// H1: a 41-character key is never adopted.
pub async fn h1_key_of_41_chars_is_rejected(ctx: Ctx) -> CaseResult {
    rejected(&ctx, &"a".repeat(41)).await
}

/// H1: uppercase keys are never adopted (case-insensitive file systems).
pub async fn h1_uppercase_key_is_rejected(ctx: Ctx) -> CaseResult {
    rejected(&ctx, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345").await
}

/// H1: non-ASCII keys are never adopted.
pub async fn h1_non_ascii_key_is_rejected(ctx: Ctx) -> CaseResult {
    rejected(&ctx, "abcdéfghijklmnopqrstuvwxyz01234").await
}

/// H1: path-shaped keys are never adopted.
pub async fn h1_path_traversal_key_is_rejected(ctx: Ctx) -> CaseResult {
    rejected(&ctx, "../../../../etc/passwd").await?;
    rejected(&ctx, "..%2f..%2fetc%2fpasswd").await
}

/// H1: keys with NUL are never adopted.
pub async fn h1_nul_in_key_is_rejected(ctx: Ctx) -> CaseResult {
    rejected(&ctx, "abcdefgh\0ijklmnop").await
}

/// A2: keys of 8 and 40 characters are valid store keys.
pub async fn a2_keys_of_8_and_40_chars_are_accepted(ctx: Ctx) -> CaseResult {
    for len in [8, 40] {
        let key = SessionKey::parse(&"k".repeat(len))?;
        let data = [("len", json!(len))].into_iter().collect();
        let expires = ctx.env.now() + time::Duration::hours(1);
        ctx.backend
            .nonblocking()
            .asave(&Record::new(key.clone(), data, expires), SaveMode::Create)
            .await?;
        let s = ctx.session(Some(key.as_str()));
        ensure!(
            s.aget::<usize>("len").await? == Some(len),
            "a {len}-character key did not load its record"
        );
    }
    Ok(())
}

/// A3: a well-formed key the store does not have is dropped; saving makes a new key.
pub async fn a3_unknown_key_is_never_adopted(ctx: Ctx) -> CaseResult {
    let chosen = "attackerchosen0000000000000000ab";
    let s = ctx.session(Some(chosen));
    ensure!(s.akeys().await?.is_empty(), "unknown key loaded data");
    ensure!(s.session_key().is_none(), "unknown key kept after load");
    s.aset("x", &1).await?;
    s.asave().await?;
    ensure!(
        s.session_key().as_ref().map(SessionKey::as_str) != Some(chosen),
        "the client-chosen key was adopted"
    );
    ensure!(
        !ctx.backend
            .nonblocking()
            .aexists(&SessionKey::parse(chosen)?)
            .await?,
        "a record exists under the client-chosen key"
    );
    Ok(())
}

/// A3: a deleted key is dropped on load.
pub async fn a3_deleted_key_is_not_adopted(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("a", json!(1))]).await?;
    ctx.backend.nonblocking().adelete(&key).await?;
    let s = ctx.session(Some(key.as_str()));
    ensure!(s.akeys().await?.is_empty(), "deleted record still loads");
    ensure!(s.session_key().is_none(), "deleted key kept after load");
    s.aset("x", &1).await?;
    s.asave().await?;
    ensure!(
        s.session_key().as_ref() != Some(&key),
        "deleted key re-adopted on save"
    );
    Ok(())
}

#[derive(Debug, Default)]
struct ScriptedKeys(Mutex<Vec<SessionKey>>);

impl KeyGenerator for ScriptedKeys {
    fn generate(&self) -> SessionKey {
        let mut keys = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.is_empty() {
            SessionKey::generate()
        } else {
            keys.remove(0)
        }
    }
}

/// A4: create retries on a collision and never touches the existing record.
pub async fn a4_create_retries_on_collision(ctx: Ctx) -> CaseResult {
    let existing = ctx.saved(&[("owner", json!("first"))]).await?;
    let keys = Arc::new(ScriptedKeys(Mutex::new(vec![
        existing.clone(),
        existing.clone(),
    ])));
    let s = ctx.session_with_keys(keys)?;
    s.aset("owner", &"second").await?;
    s.asave().await?;
    let new = s.session_key();
    ensure!(
        new.is_some() && new.as_ref() != Some(&existing),
        "collision not retried"
    );
    let first = ctx.session(Some(existing.as_str()));
    ensure!(
        first.aget::<String>("owner").await?.as_deref() == Some("first"),
        "the colliding create overwrote the existing record"
    );
    Ok(())
}

#[derive(Debug)]
struct AlwaysSame(SessionKey);

impl KeyGenerator for AlwaysSame {
    fn generate(&self) -> SessionKey {
        self.0.clone()
    }
}

/// A4: create gives up after 10,000 collisions with an error.
pub async fn a4_create_gives_up_after_10000_collisions(ctx: Ctx) -> CaseResult {
    let existing = ctx.saved(&[("a", json!(1))]).await?;
    let s = ctx.session_with_keys(Arc::new(AlwaysSame(existing)))?;
    match s.acreate().await {
        Err(Error::TooManyCollisions { attempts: 10_000 }) => Ok(()),
        other => Err(Failure(format!(
            "expected TooManyCollisions, got {other:?}"
        ))),
    }
}

/// H6, A4: a create is one insert-if-absent; no `exists` round trip first.
pub async fn h6_create_does_not_ask_exists_first(ctx: Ctx) -> CaseResult {
    let s = ctx.session(None);
    s.aset("a", &1).await?;
    ctx.spy.reset();
    s.asave().await?;
    ensure!(
        !ctx.spy.calls().contains(&Call::Exists),
        "create asked exists first: {:?}",
        ctx.spy.calls()
    );
    Ok(())
}
