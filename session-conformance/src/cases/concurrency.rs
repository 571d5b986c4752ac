//! Concurrent handles on one store.

use serde_json::json;

use crate::ensure;
use crate::runner::{CaseResult, Ctx, Failure};

/// Concurrent saves of one key leave one writer's complete record.
pub async fn concurrent_saves_leave_a_whole_record(ctx: Ctx) -> CaseResult {
    let key = ctx.saved(&[("writer", json!(-1))]).await?;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let c = ctx.clone();
        let k = key.clone();
        tasks.push(tokio::spawn(async move {
            let s = c.session(Some(k.as_str()));
            s.aset("writer", &i).await?;
            s.aset("payload", &format!("{i}-").repeat(200)).await?;
            s.asave().await
        }));
    }
    for t in tasks {
        t.await
            .map_err(|e| Failure(format!("task panicked: {e}")))??;
    }
    let s = ctx.session(Some(key.as_str()));
    let writer: i64 = s
        .aget("writer")
        .await?
        .ok_or_else(|| Failure("record lost".into()))?;
    let payload: Option<String> = s.aget("payload").await?;
    ensure!(
        payload == Some(format!("{writer}-").repeat(200)),
        "torn record: writer {writer}, payload from someone else"
    );
    Ok(())
}

/// A4: concurrent creates get distinct keys and all records exist.
pub async fn concurrent_creates_get_distinct_keys(ctx: Ctx) -> CaseResult {
    let mut tasks = Vec::new();
    for i in 0..24 {
        let c = ctx.clone();
        tasks.push(tokio::spawn(
            async move { c.saved(&[("i", json!(i))]).await },
        ));
    }
    let mut keys = std::collections::HashSet::new();
    for t in tasks {
        let key = t
            .await
            .map_err(|e| Failure(format!("task panicked: {e}")))??;
        ensure!(keys.insert(key), "duplicate key");
    }
    for key in &keys {
        ensure!(
            ctx.backend.nonblocking().aexists(key).await?,
            "a created record is missing"
        );
    }
    Ok(())
}
