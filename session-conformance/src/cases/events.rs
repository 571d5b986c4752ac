//! Lifecycle events (rule V6): an observer hears what a sequence of requests did to
//! a session, in order, with the keys involved.

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::json;
use session_api::events::{SessionEvent, SessionObserver};
use session_api::{Error, SessionKey};

use crate::ensure;
use crate::runner::{CaseResult, Ctx, Failure};

/// An event as the recorder keeps it: its kind and keys.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Heard {
    Created(SessionKey),
    Loaded(SessionKey),
    Saved(SessionKey),
    Cycled(SessionKey, SessionKey),
    Flushed(SessionKey),
    Interrupted(SessionKey),
    /// Any other event, by its `Debug` form (keys there are digests, H5).
    Other(String),
}

/// Keeps every event it hears.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<Heard>>);

impl Recorder {
    /// The events heard since the last call.
    fn take(&self) -> Vec<Heard> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl SessionObserver for Recorder {
    fn on_event(&self, event: &SessionEvent<'_>) {
        let heard = match *event {
            SessionEvent::Created { key } => Heard::Created(key.key().clone()),
            SessionEvent::Loaded { key } => Heard::Loaded(key.key().clone()),
            SessionEvent::Saved { key } => Heard::Saved(key.key().clone()),
            SessionEvent::Cycled { old, new } => {
                Heard::Cycled(old.key().clone(), new.key().clone())
            }
            SessionEvent::Flushed { key } => Heard::Flushed(key.key().clone()),
            SessionEvent::Interrupted { key } => Heard::Interrupted(key.key().clone()),
            other => Heard::Other(format!("{other:?}")),
        };
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(heard);
    }
}

fn key_of(s: &session_api::Session) -> Result<SessionKey, Failure> {
    s.session_key()
        .ok_or_else(|| Failure("the session has no key".into()))
}

/// V6: a login-and-logout sequence is heard as created, loaded, saved, cycled,
/// flushed; a save after a concurrent delete as interrupted.
pub async fn v6_observer_hears_the_lifecycle(ctx: Ctx) -> CaseResult {
    let recorder = Arc::new(Recorder::default());
    let config = ctx.config_with(|b| b.observer(recorder.clone()))?;
    let step = |what: &str, want: Vec<Heard>| {
        let heard = recorder.take();
        if heard == want {
            Ok(())
        } else {
            Err(Failure(format!(
                "{what}: heard {heard:?}, expected {want:?}"
            )))
        }
    };

    let first = ctx.session_on(&config, None);
    first.aset("a", &1).await?;
    first.asave().await?;
    let key = key_of(&first)?;
    step("a first save", vec![Heard::Created(key.clone())])?;

    let next = ctx.session_on(&config, Some(key.as_str()));
    next.aget::<i64>("a").await?;
    step("a read", vec![Heard::Loaded(key.clone())])?;
    next.aset("a", &2).await?;
    next.asave().await?;
    step("an update", vec![Heard::Saved(key.clone())])?;
    next.acycle_key().await?;
    let cycled = key_of(&next)?;
    step("cycle_key", vec![Heard::Cycled(key, cycled.clone())])?;
    next.aflush().await?;
    step("flush", vec![Heard::Flushed(cycled)])?;

    let other = ctx.saved(&[("a", json!(1))]).await?;
    let late = ctx.session_on(&config, Some(other.as_str()));
    late.aset("b", &2).await?;
    recorder.take();
    ctx.backend.nonblocking().adelete(&other).await?;
    let r = late.asave().await;
    ensure!(
        matches!(r, Err(Error::Update)),
        "a save after a delete: {r:?}"
    );
    step("a save after a delete", vec![Heard::Interrupted(other)])?;
    Ok(())
}
