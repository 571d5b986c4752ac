//! The guard's store lifecycle (sections A, D): create, save, delete, flush,
//! cycle_key, the expiry-only refresh (V4), and the store calls the handle makes,
//! timed for the observer when one is set (V6).

use std::sync::Arc;

use time::OffsetDateTime;

use super::{lock_std, Base, SessionGuard, Shared};
use crate::config::SessionConfig;
use crate::error::{Error, Result};
use crate::events::{ConflictResolution, EventKey, Observed, SessionEvent, SessionObserver};
use crate::key::SessionKey;
use crate::renewal;
use crate::store::{AsyncSessionStore, Record, SaveMode, SessionStore, Version};

/// The sync store as the handle calls it when an observer is set.
pub(super) type SyncTap<'s> = Observed<&'s dyn SessionStore, &'s (dyn SessionObserver + 'static)>;
/// The async store as the handle calls it when an observer is set.
pub(super) type AsyncTap<'s> =
    Observed<&'s dyn AsyncSessionStore, &'s (dyn SessionObserver + 'static)>;

impl Shared {
    /// The sync store; through `tap` (filled here) when an observer is set, so each
    /// call is timed (V6). Without one the store itself: no clock read, no allocation.
    pub(super) fn sync_store<'s>(
        &'s self,
        tap: &'s mut Option<SyncTap<'s>>,
    ) -> &'s dyn SessionStore {
        let store = self.backend.sync();
        match self.config.observer.as_deref() {
            None => store,
            Some(observer) => tap.insert(Observed::new(store, observer)),
        }
    }

    /// The async store; see [`sync_store`](Self::sync_store).
    pub(super) fn async_store<'s>(
        &'s self,
        tap: &'s mut Option<AsyncTap<'s>>,
    ) -> &'s dyn AsyncSessionStore {
        let store = self.backend.nonblocking();
        match self.config.observer.as_deref() {
            None => store,
            Some(observer) => tap.insert(Observed::new(store, observer)),
        }
    }
}

/// What an unmodified session's save under `save_every_request` does when a refresh
/// interval is set (rule V4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refresh {
    /// Its expiry would move by less than the interval: write nothing.
    Skip,
    /// Move the record's expiry to this instant without rewriting its data.
    Touch(OffsetDateTime),
    /// A full save (the store has no `touch`, the session was not loaded from a
    /// record, or a key renewal is due).
    Save,
}

impl SessionGuard<'_> {
    /// Hands `event` to the observer, if one is set (V6).
    pub(super) fn emit(&self, event: SessionEvent<'_>) {
        if let Some(observer) = &self.shared.config.observer {
            observer.on_event(&event);
        }
    }

    /// V5: a degraded session (its load found the store down) is never written: its
    /// empty data would replace the stored session.
    pub(super) fn refuse_degraded(&self) -> Result<()> {
        if self.state.degraded {
            return Err(Error::unavailable(
                "the session store was unavailable when this session loaded; it is not saved",
            ));
        }
        Ok(())
    }

    /// G5's `UpdateError` as an event: the record to update is gone.
    pub(super) fn note_gone(&self, key: &SessionKey, err: Error) -> Error {
        if matches!(err, Error::Update) {
            self.emit(SessionEvent::Interrupted {
                key: EventKey::new(key),
            });
        }
        err
    }

    /// Records a successful write of `record`: its expiry (V4) and, from a versioned
    /// save, its version and data (V2); a plain write leaves no version, so the next
    /// save in this request is a plain update.
    fn written(&mut self, record: Record, version: Option<Version>) {
        self.state.stored_expiry = Some(record.expires_at);
        self.state.cleared = false;
        self.state.base = version.map(|version| Base {
            version,
            data: record.data,
        });
    }

    fn config_arc(&self) -> Arc<SessionConfig> {
        Arc::clone(&self.shared.config)
    }

    /// See [`Session::create`](super::Session::create).
    pub fn create(&mut self) -> Result<()> {
        let key = self.create_record()?;
        self.emit(SessionEvent::Created {
            key: EventKey::new(&key),
        });
        Ok(())
    }
    /// See [`Session::acreate`](super::Session::acreate).
    pub async fn acreate(&mut self) -> Result<()> {
        let key = self.acreate_record().await?;
        self.emit(SessionEvent::Created {
            key: EventKey::new(&key),
        });
        Ok(())
    }

    /// Writes the data under a fresh key; returns the key. No event: `create` and
    /// `cycle_key` report differently.
    fn create_record(&mut self) -> Result<SessionKey> {
        self.refuse_degraded()?;
        self.stamp_new_key();
        let data = self.data_to_write();
        let expires_at = self.record_expiry(&data);
        let config = self.config_arc();
        let shared = self.shared;
        let mut tap = None;
        let store = shared.sync_store(&mut tap);
        let key = store.create_with(&data, expires_at, &*config.key_generator)?;
        self.set_key(Some(key.clone()));
        self.mark_modified();
        // V2: a created record's version is unknown: the next save is a plain update.
        self.written(Record::new(key.clone(), data, expires_at), None);
        Ok(key)
    }
    /// Async twin of [`create_record`](Self::create_record).
    async fn acreate_record(&mut self) -> Result<SessionKey> {
        self.refuse_degraded()?;
        self.stamp_new_key();
        let data = self.data_to_write();
        let expires_at = self.record_expiry(&data);
        let config = self.config_arc();
        let shared = self.shared;
        let mut tap = None;
        let store = shared.async_store(&mut tap);
        let key = store
            .acreate_with(&data, expires_at, &*config.key_generator)
            .await?;
        self.set_key(Some(key.clone()));
        self.mark_modified();
        self.written(Record::new(key.clone(), data, expires_at), None);
        Ok(key)
    }

    /// See [`Session::save`](super::Session::save).
    pub fn save(&mut self) -> Result<()> {
        self.save_with(SaveMode::Update)
    }
    /// See [`Session::asave`](super::Session::asave).
    pub async fn asave(&mut self) -> Result<()> {
        self.asave_with(SaveMode::Update).await
    }

    /// See [`Session::save_with`](super::Session::save_with). On a versioned store an
    /// update is a `save_if` over the loaded version, and a conflict is resolved by
    /// the [`ConflictPolicy`](crate::config::ConflictPolicy) (V2).
    pub fn save_with(&mut self, mode: SaveMode) -> Result<()> {
        match self.save_once(mode) {
            Err(Error::Conflict) => self.resolve_conflict(),
            other => other,
        }
    }
    /// See [`Session::asave_with`](super::Session::asave_with).
    pub async fn asave_with(&mut self, mode: SaveMode) -> Result<()> {
        match self.asave_once(mode).await {
            Err(Error::Conflict) => self.aresolve_conflict().await,
            other => other,
        }
    }

    /// One save: a create, a renewal (S2), a versioned update (V1; a conflict is
    /// returned as [`Error::Conflict`]) or a plain write.
    pub(super) fn save_once(&mut self, mode: SaveMode) -> Result<()> {
        self.refuse_degraded()?;
        if self.key().is_none() {
            return self.create();
        }
        if mode == SaveMode::Update {
            self.data()?;
            self.refuse_degraded()?;
        }
        // Loading may have dropped an unknown key (A3): then it is a new session.
        let Some(key) = self.key() else {
            return self.create();
        };
        let renewal = match mode {
            SaveMode::Update => self.due_renewal(),
            SaveMode::Create => None,
        };
        let record = self.record(key.clone());
        let version = self.state.base.as_ref().map(|base| base.version);
        let shared = self.shared;
        let mut tap = None;
        let store = shared.sync_store(&mut tap);
        match (renewal, mode, version) {
            (Some(renewal), _, _) => {
                let base = self.renewal_base();
                let renewed =
                    renewal::rotate(&shared.config, renewal, store, record, base.as_ref())
                        .map_err(|err| self.note_gone(&key, err))?;
                self.renewed_to(key, renewed);
            }
            (None, SaveMode::Update, Some(version)) => {
                let stored = store
                    .save_if(&record, version)
                    .map_err(|err| self.note_gone(&key, err))?;
                self.versioned_saved(&key, record, stored);
            }
            (None, mode, _) => {
                let new_key = store
                    .save(&record, mode)
                    .map_err(|err| self.note_gone(&key, err))?;
                self.plainly_saved(mode, new_key, record);
            }
        }
        Ok(())
    }
    /// Async twin of [`save_once`](Self::save_once).
    pub(super) async fn asave_once(&mut self, mode: SaveMode) -> Result<()> {
        self.refuse_degraded()?;
        if self.key().is_none() {
            return self.acreate().await;
        }
        if mode == SaveMode::Update {
            self.adata().await?;
            self.refuse_degraded()?;
        }
        let Some(key) = self.key() else {
            return self.acreate().await;
        };
        let renewal = match mode {
            SaveMode::Update => self.due_renewal(),
            SaveMode::Create => None,
        };
        let record = self.record(key.clone());
        let version = self.state.base.as_ref().map(|base| base.version);
        let shared = self.shared;
        let mut tap = None;
        let store = shared.async_store(&mut tap);
        match (renewal, mode, version) {
            (Some(renewal), _, _) => {
                let base = self.renewal_base();
                let renewed =
                    renewal::arotate(&shared.config, renewal, store, record, base.as_ref())
                        .await
                        .map_err(|err| self.note_gone(&key, err))?;
                self.renewed_to(key, renewed);
            }
            (None, SaveMode::Update, Some(version)) => {
                let stored = store
                    .asave_if(&record, version)
                    .await
                    .map_err(|err| self.note_gone(&key, err))?;
                self.versioned_saved(&key, record, stored);
            }
            (None, mode, _) => {
                let new_key = store
                    .asave(&record, mode)
                    .await
                    .map_err(|err| self.note_gone(&key, err))?;
                self.plainly_saved(mode, new_key, record);
            }
        }
        Ok(())
    }

    /// After a versioned write (V1): the version the store now holds, the event.
    fn versioned_saved(&mut self, key: &SessionKey, record: Record, stored: Version) {
        self.emit(SessionEvent::Saved {
            key: EventKey::new(key),
        });
        self.written(record, Some(stored));
    }

    /// After a plain write: the key the store returned (a new one for signed
    /// cookies), no version, the event.
    fn plainly_saved(&mut self, mode: SaveMode, new_key: SessionKey, record: Record) {
        let event_key = new_key.clone();
        self.set_key(Some(new_key));
        self.written(record, None);
        self.emit(match mode {
            SaveMode::Create => SessionEvent::Created {
                key: EventKey::new(&event_key),
            },
            SaveMode::Update => SessionEvent::Saved {
                key: EventKey::new(&event_key),
            },
        });
    }

    /// V2: what a renewal must keep of a versioned session (its loaded version and
    /// this request's changes since); `None` for a record of unknown version.
    fn renewal_base(&self) -> Option<renewal::Base> {
        self.state.base.as_ref().map(|base| renewal::Base {
            version: base.version,
            changes: self.pending_changes(),
        })
    }

    /// After a renewal (S2): the session lives under the successor, holding what was
    /// written there (V2: this request's changes merged over another's, when they
    /// were), at the version the write reported, if any.
    fn renewed_to(&mut self, old: SessionKey, renewed: renewal::Renewed) {
        let successor = renewed.record.key.clone();
        self.emit(SessionEvent::Cycled {
            old: EventKey::new(&old),
            new: EventKey::new(&successor),
        });
        if let Some(attempts) = renewed.merged {
            self.emit(SessionEvent::Conflict {
                key: EventKey::new(&successor),
                resolution: ConflictResolution::Merged { attempts },
            });
        }
        self.renewed(old, successor);
        self.state.data = Some(renewed.record.data.clone());
        self.written(renewed.record, renewed.version);
    }

    fn record(&mut self, key: SessionKey) -> Record {
        let data = self.data_to_write();
        let expires_at = self.record_expiry(&data);
        Record::new(key, data, expires_at)
    }

    /// See [`Session::delete_record`](super::Session::delete_record).
    pub fn delete_record(&mut self, key: Option<&SessionKey>) -> Result<()> {
        let Some(key) = key.cloned().or_else(|| self.key()) else {
            return Ok(());
        };
        self.delete_key(&key)?;
        self.emit(SessionEvent::Deleted {
            key: EventKey::new(&key),
        });
        Ok(())
    }
    /// See [`Session::adelete_record`](super::Session::adelete_record).
    pub async fn adelete_record(&mut self, key: Option<&SessionKey>) -> Result<()> {
        let Some(key) = key.cloned().or_else(|| self.key()) else {
            return Ok(());
        };
        self.adelete_key(&key).await?;
        self.emit(SessionEvent::Deleted {
            key: EventKey::new(&key),
        });
        Ok(())
    }

    fn delete_key(&self, key: &SessionKey) -> Result<()> {
        let mut tap = None;
        self.shared.sync_store(&mut tap).delete(key)
    }
    async fn adelete_key(&self, key: &SessionKey) -> Result<()> {
        let mut tap = None;
        self.shared.async_store(&mut tap).adelete(key).await
    }

    /// The session is gone: no key, no record known.
    fn forget_record(&mut self, old: Option<SessionKey>) {
        self.set_key(None);
        self.state.base = None;
        self.state.stored_expiry = None;
        // A delete that went through: the store answers again (V5).
        self.state.degraded = false;
        if let Some(old) = old {
            self.emit(SessionEvent::Flushed {
                key: EventKey::new(&old),
            });
        }
    }

    /// See [`Session::flush`](super::Session::flush).
    pub fn flush(&mut self) -> Result<()> {
        if self.renewal().is_some() {
            // S2: a superseded key is followed first, so its successor goes too.
            self.data()?;
        }
        self.clear();
        let key = self.key();
        if let Some(key) = &key {
            self.delete_key(key)?;
        }
        // S2: the superseded key goes with the session.
        let shared = self.shared;
        let mut tap = None;
        renewal::forget(shared.sync_store(&mut tap), self.take_predecessor())?;
        self.forget_record(key);
        Ok(())
    }
    /// See [`Session::aflush`](super::Session::aflush).
    pub async fn aflush(&mut self) -> Result<()> {
        if self.renewal().is_some() {
            self.adata().await?;
        }
        self.clear();
        let key = self.key();
        if let Some(key) = &key {
            self.adelete_key(key).await?;
        }
        let predecessor = self.take_predecessor();
        let shared = self.shared;
        let mut tap = None;
        renewal::aforget(shared.async_store(&mut tap), predecessor).await?;
        self.forget_record(key);
        Ok(())
    }

    fn cycled(&self, old: Option<&SessionKey>, new: &SessionKey) {
        self.emit(match old {
            Some(old) => SessionEvent::Cycled {
                old: EventKey::new(old),
                new: EventKey::new(new),
            },
            None => SessionEvent::Created {
                key: EventKey::new(new),
            },
        });
    }

    /// See [`Session::cycle_key`](super::Session::cycle_key).
    pub fn cycle_key(&mut self) -> Result<()> {
        self.data()?;
        self.refuse_degraded()?;
        // Stamped before the copy, so the creation time survives the new key (S1) and
        // the new key's issue time is the renewal's (S2).
        self.stamp_new_key();
        let data = self.data_to_write();
        let old = lock_std(&self.shared.key).take();
        let new = self.create_record()?;
        self.state.data = Some(data);
        if let Some(old) = &old {
            self.delete_key(old)?;
        }
        // S2: a privilege change leaves no grace: the superseded key dies too.
        let shared = self.shared;
        let mut tap = None;
        renewal::forget(shared.sync_store(&mut tap), self.take_predecessor())?;
        self.cycled(old.as_ref(), &new);
        Ok(())
    }
    /// See [`Session::acycle_key`](super::Session::acycle_key).
    pub async fn acycle_key(&mut self) -> Result<()> {
        self.adata().await?;
        self.refuse_degraded()?;
        self.stamp_new_key();
        let data = self.data_to_write();
        let old = lock_std(&self.shared.key).take();
        let new = self.acreate_record().await?;
        self.state.data = Some(data);
        if let Some(old) = &old {
            self.adelete_key(old).await?;
        }
        let predecessor = self.take_predecessor();
        let shared = self.shared;
        let mut tap = None;
        renewal::aforget(shared.async_store(&mut tap), predecessor).await?;
        self.cycled(old.as_ref(), &new);
        Ok(())
    }

    // ---- expiry-only refresh (V4) --------------------------------------------------

    /// V4: what the response save of an unmodified, loaded session does with refresh
    /// interval `interval` (seconds): nothing while its expiry would move by less,
    /// else a touch where the store has one.
    pub(crate) fn refresh(&mut self, interval: i64) -> Refresh {
        let caps = self.shared.backend.capabilities();
        let (Some(loaded), Some(_)) = (self.state.stored_expiry, self.key()) else {
            return Refresh::Save;
        };
        if !caps.touch || self.modified() {
            return Refresh::Save;
        }
        let config = self.config_arc();
        let now = config.clock.now();
        let data = self.data_no_load();
        // S2: a due renewal needs the full save that rotates the key.
        if let Some(renewal) = renewal::applies(&config, caps) {
            if renewal::is_due(renewal, data, now) {
                return Refresh::Save;
            }
        }
        let data = data.clone();
        let next = self.record_expiry(&data);
        if (next - loaded).whole_seconds().abs() < interval {
            Refresh::Skip
        } else {
            Refresh::Touch(next)
        }
    }

    /// V4: moves the record's expiry to `expires_at`; [`Error::Update`] when it is
    /// gone. A touched record's version changed (V3): a later save in this request is
    /// a plain update.
    pub(crate) fn touch(&mut self, expires_at: OffsetDateTime) -> Result<()> {
        let key = self.key().ok_or(Error::Update)?;
        let mut tap = None;
        self.shared
            .sync_store(&mut tap)
            .touch(&key, expires_at)
            .map_err(|err| self.note_gone(&key, err))?;
        self.touched(&key, expires_at);
        Ok(())
    }
    /// Async twin of [`touch`](Self::touch).
    pub(crate) async fn atouch(&mut self, expires_at: OffsetDateTime) -> Result<()> {
        let key = self.key().ok_or(Error::Update)?;
        let mut tap = None;
        let result = self
            .shared
            .async_store(&mut tap)
            .atouch(&key, expires_at)
            .await;
        result.map_err(|err| self.note_gone(&key, err))?;
        self.touched(&key, expires_at);
        Ok(())
    }

    fn touched(&mut self, key: &SessionKey, expires_at: OffsetDateTime) {
        self.state.stored_expiry = Some(expires_at);
        self.state.base = None;
        self.emit(SessionEvent::Touched {
            key: EventKey::new(key),
        });
    }
}
