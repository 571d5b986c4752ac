//! Conflicts of versioned saves (rules V1, V2): the merge of this request's changes
//! over a concurrent request's, and `modify`, the read-modify-write that re-runs.

use serde_json::Value;

use super::SessionGuard;
use crate::config::{ConflictPolicy, MAX_MERGE_ATTEMPTS};
use crate::data::SessionData;
use crate::error::{Error, Result};
use crate::events::{ConflictResolution, EventKey, SessionEvent};
use crate::store::SaveMode;

/// This request's changes to the data it loaded (rule V2).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Changes {
    /// After a `clear()`: the data is this request's alone; the other's keys go.
    Replace(SessionData),
    /// The keys whose value differs from the loaded one, and the keys removed.
    Patch {
        set: Vec<(String, Value)>,
        removed: Vec<String>,
    },
}

impl Changes {
    /// What turned `loaded` into `now`; everything, when the data was cleared.
    pub(crate) fn between(loaded: &SessionData, now: &SessionData, cleared: bool) -> Self {
        if cleared {
            return Changes::Replace(now.clone());
        }
        let set = now
            .iter()
            .filter(|(key, value)| loaded.get_value(key) != Some(*value))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let removed = loaded
            .keys()
            .filter(|key| !now.contains_key(key))
            .cloned()
            .collect();
        Changes::Patch { set, removed }
    }

    /// The changes applied over `fresh`, the data as the concurrent request left it.
    pub(crate) fn apply(&self, mut fresh: SessionData) -> SessionData {
        match self {
            Changes::Replace(data) => data.clone(),
            Changes::Patch { set, removed } => {
                for key in removed {
                    fresh.remove(key);
                }
                for (key, value) in set {
                    fresh.insert(key.clone(), value.clone());
                }
                fresh
            }
        }
    }
}

impl SessionGuard<'_> {
    /// This request's changes since the load (or the last versioned save).
    pub(super) fn pending_changes(&self) -> Changes {
        let now = self.state.data.clone().unwrap_or_default();
        match &self.state.base {
            Some(base) => Changes::between(&base.data, &now, self.state.cleared),
            // No version known: nothing to diff against; this request's data wins.
            None => Changes::Replace(now),
        }
    }

    fn conflict_event(&self, resolution: ConflictResolution) {
        if let Some(key) = self.key() {
            self.emit(SessionEvent::Conflict {
                key: EventKey::new(&key),
                resolution,
            });
        }
    }

    /// The save of `key`'s data lost to a concurrent write: fail (policy `Fail`), or
    /// merge and retry (policy `Merge`).
    pub(super) fn resolve_conflict(&mut self) -> Result<()> {
        if self.shared.config.conflict_policy == ConflictPolicy::Fail {
            self.conflict_event(ConflictResolution::Failed);
            return Err(Error::Conflict);
        }
        let pending = self.pending_changes();
        for attempts in 2..=MAX_MERGE_ATTEMPTS {
            self.reload_onto(&pending)?;
            match self.save_once(SaveMode::Update) {
                Ok(()) => {
                    self.conflict_event(ConflictResolution::Merged { attempts });
                    return Ok(());
                }
                Err(Error::Conflict) => continue,
                Err(err) => return Err(err),
            }
        }
        self.conflict_event(ConflictResolution::Failed);
        Err(Error::Conflict)
    }
    /// Async twin of [`resolve_conflict`](Self::resolve_conflict).
    pub(super) async fn aresolve_conflict(&mut self) -> Result<()> {
        if self.shared.config.conflict_policy == ConflictPolicy::Fail {
            self.conflict_event(ConflictResolution::Failed);
            return Err(Error::Conflict);
        }
        let pending = self.pending_changes();
        for attempts in 2..=MAX_MERGE_ATTEMPTS {
            self.areload_onto(&pending).await?;
            match self.asave_once(SaveMode::Update).await {
                Ok(()) => {
                    self.conflict_event(ConflictResolution::Merged { attempts });
                    return Ok(());
                }
                Err(Error::Conflict) => continue,
                Err(err) => return Err(err),
            }
        }
        self.conflict_event(ConflictResolution::Failed);
        Err(Error::Conflict)
    }

    /// Reloads the record through the usual load path (a forwarder within its grace
    /// leads to the successor, S2) and applies `pending` over it. A record gone
    /// meanwhile (a logout) is [`Error::Update`]: a logout is never undone (A6, D5).
    fn reload_onto(&mut self, pending: &Changes) -> Result<()> {
        let old = self.key();
        self.state.data = None;
        self.state.base = None;
        self.data()?;
        self.after_reload(old, pending)
    }
    /// Async twin of [`reload_onto`](Self::reload_onto).
    async fn areload_onto(&mut self, pending: &Changes) -> Result<()> {
        let old = self.key();
        self.state.data = None;
        self.state.base = None;
        self.adata().await?;
        self.after_reload(old, pending)
    }

    fn after_reload(
        &mut self,
        old: Option<crate::key::SessionKey>,
        pending: &Changes,
    ) -> Result<()> {
        self.refuse_degraded()?;
        if self.key().is_none() {
            return Err(match old {
                Some(old) => self.note_gone(&old, Error::Update),
                None => Error::Update,
            });
        }
        let fresh = self.state.data.take().unwrap_or_default();
        self.state.data = Some(pending.apply(fresh));
        self.state.cleared = false;
        Ok(())
    }

    /// See [`Session::modify`](super::Session::modify).
    pub fn modify<T, F>(&mut self, mut f: F) -> Result<T>
    where
        F: FnMut(&mut SessionData) -> Result<T>,
    {
        self.data()?;
        self.refuse_degraded()?;
        let pending = self.pending_changes();
        for attempts in 1..=MAX_MERGE_ATTEMPTS {
            if attempts > 1 {
                self.reload_onto(&pending)?;
            }
            let value = f(self.data_no_load())?;
            self.mark_modified();
            match self.save_once(SaveMode::Update) {
                Ok(()) => {
                    if attempts > 1 {
                        self.conflict_event(ConflictResolution::Merged { attempts });
                    }
                    return Ok(value);
                }
                Err(Error::Conflict) => continue,
                Err(err) => return Err(err),
            }
        }
        self.conflict_event(ConflictResolution::Failed);
        Err(Error::Conflict)
    }

    /// See [`Session::amodify`](super::Session::amodify).
    pub async fn amodify<T, F>(&mut self, mut f: F) -> Result<T>
    where
        F: FnMut(&mut SessionData) -> Result<T> + Send,
        T: Send,
    {
        self.adata().await?;
        self.refuse_degraded()?;
        let pending = self.pending_changes();
        for attempts in 1..=MAX_MERGE_ATTEMPTS {
            if attempts > 1 {
                self.areload_onto(&pending).await?;
            }
            let value = f(self.data_no_load())?;
            self.mark_modified();
            match self.asave_once(SaveMode::Update).await {
                Ok(()) => {
                    if attempts > 1 {
                        self.conflict_event(ConflictResolution::Merged { attempts });
                    }
                    return Ok(value);
                }
                Err(Error::Conflict) => continue,
                Err(err) => return Err(err),
            }
        }
        self.conflict_event(ConflictResolution::Failed);
        Err(Error::Conflict)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data(pairs: &[(&str, Value)]) -> SessionData {
        pairs.iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    /// V2: changed keys are written, removed keys removed, the rest keep the
    /// concurrent value.
    #[test]
    fn v2_a_patch_keeps_the_other_requests_keys() {
        let loaded = data(&[("a", json!(1)), ("b", json!(2)), ("gone", json!(0))]);
        let now = data(&[("a", json!(10)), ("b", json!(2)), ("new", json!(3))]);
        let changes = Changes::between(&loaded, &now, false);
        let fresh = data(&[
            ("a", json!(1)),
            ("b", json!(20)),
            ("gone", json!(0)),
            ("theirs", json!(4)),
        ]);
        let merged = changes.apply(fresh);
        assert_eq!(
            merged,
            data(&[
                ("a", json!(10)),
                ("b", json!(20)),
                ("theirs", json!(4)),
                ("new", json!(3))
            ])
        );
    }

    /// V2: after a `clear()` the other request's keys go.
    #[test]
    fn v2_a_clear_drops_the_other_requests_keys() {
        let loaded = data(&[("a", json!(1))]);
        let now = data(&[("a", json!(1))]);
        let merged = Changes::between(&loaded, &now, true).apply(data(&[("theirs", json!(4))]));
        assert_eq!(merged, now);
    }
}
