//! The rotation itself (rule S2): the due save of a session as a move to its
//! successor's key, and, for a session loaded from a versioned store, the merge of
//! this request's changes over a concurrent request's write (rule V2).

use serde_json::Value;

use super::{
    arevoke, forwarder, grace_until, is_forwarder, revoke, successors, KeyRenewal,
    SESSION_ROTATED_KEY,
};
use crate::config::{ConflictPolicy, SessionConfig, MAX_MERGE_ATTEMPTS};
use crate::data::SessionData;
use crate::error::{Error, Result};
use crate::key::SessionKey;
use crate::session::{record_expiry, Changes};
use crate::store::{AsyncSessionStore, Record, SaveMode, SessionStore, Version};

/// What a due rotation of a key does, decided on a fresh read of its record.
enum Rotation {
    /// The record is gone (a logout, an expiry): nothing to save into.
    Gone,
    /// Not rotated yet: write the successor (the first candidate), then the forwarder.
    Lead {
        /// The successor's key.
        successor: SessionKey,
        /// What replaces the old record's data.
        forwarder: SessionData,
        /// The old record as re-read, with its version (V2).
        current: Record,
    },
    /// Already rotated by a concurrent request within the grace: save into the
    /// successor (an update, so a logged-out successor is never re-created).
    Join(Vec<SessionKey>),
    /// Rotated, and the grace is over: a copied cookie (see [`Found::Superseded`](super::Found::Superseded)).
    Superseded(Vec<SessionKey>),
}

/// Decides a due rotation of `key` from its record as it is now in the store.
fn plan_rotation(
    config: &SessionConfig,
    renewal: KeyRenewal,
    key: &SessionKey,
    current: Option<Record>,
) -> Result<Rotation> {
    let Some(current) = current else {
        return Ok(Rotation::Gone);
    };
    let now = config.clock.now();
    let mut candidates = successors(config, key, &current.data)?;
    Ok(match grace_until(&current.data) {
        Some(until) if now.unix_timestamp() < until => Rotation::Join(candidates),
        Some(_) => Rotation::Superseded(candidates),
        None => Rotation::Lead {
            successor: candidates.swap_remove(0),
            forwarder: forwarder(renewal, &current.data, now),
            current,
        },
    })
}

/// A session loaded from a versioned store (rule V2): the version its data was
/// loaded at and this request's changes since, so a renewal writes those changes
/// over a concurrent request's instead of over its data.
pub(crate) struct Base {
    /// The version this request loaded (or last saved).
    pub(crate) version: Version,
    /// This request's changes since.
    pub(crate) changes: Changes,
}

/// What a renewal wrote.
pub(crate) struct Renewed {
    /// The successor's record as written (this request's data, or the merge).
    pub(crate) record: Record,
    /// Its version, when the write reported one (a versioned save into it).
    pub(crate) version: Option<Version>,
    /// V2: how many writes it took when this request's changes were merged over a
    /// concurrent request's.
    pub(crate) merged: Option<u32>,
}

impl Renewed {
    fn plain(record: Record) -> Self {
        Renewed {
            record,
            version: None,
            merged: None,
        }
    }
}

/// `base`'s changes over `fresh` (a concurrent request's data) as the record of
/// `key`. `keep_stamp` (a successor's data) keeps its key's issue time: this
/// request's stamp is of a rotation that another request made.
fn merged(
    config: &SessionConfig,
    base: &Base,
    fresh: SessionData,
    key: SessionKey,
    keep_stamp: Option<Value>,
) -> Record {
    let mut data = base.changes.apply(fresh);
    if let Some(issued) = keep_stamp {
        data.insert(SESSION_ROTATED_KEY.to_owned(), issued);
    }
    let expires_at = record_expiry(config, &data);
    Record::new(key, data, expires_at)
}

/// V2 on a rotation that leads: the record re-read since this request's load is
/// another request's write; under `Fail` a conflict, else `record` becomes this
/// request's changes over it.
fn rebase(
    config: &SessionConfig,
    base: Option<&Base>,
    current: Record,
    record: &mut Record,
) -> Result<Option<u32>> {
    let Some(base) = base.filter(|base| current.version != Some(base.version)) else {
        return Ok(None);
    };
    if config.conflict_policy == ConflictPolicy::Fail {
        return Err(Error::Conflict);
    }
    *record = merged(config, base, current.data, current.key, None);
    Ok(Some(1))
}

/// The next step of a versioned save into an existing successor (`found`, loaded
/// under `record.key`), the stored version to save over; `None` when it is gone.
fn join_step(
    config: &SessionConfig,
    base: &Base,
    found: Option<Record>,
    record: &mut Record,
) -> Result<Option<Option<Version>>> {
    let Some(successor) = found.filter(|found| !is_forwarder(&found.data)) else {
        return Ok(None);
    };
    // The successor is another request's write since this request's load (V2).
    if config.conflict_policy == ConflictPolicy::Fail {
        return Err(Error::Conflict);
    }
    let stamp = successor.data.get_value(SESSION_ROTATED_KEY).cloned();
    *record = merged(config, base, successor.data, record.key.clone(), stamp);
    Ok(Some(successor.version))
}

/// Saves `record` into the successor a concurrent rotation wrote, trying each
/// candidate key: by update, so a logged-out successor is never re-created (S2, D5);
/// with a [`Base`], this request's changes are merged over the successor's data and
/// saved over its version (V2, see [`merge_into`]).
fn join(
    config: &SessionConfig,
    store: &dyn SessionStore,
    base: Option<&Base>,
    mut record: Record,
    candidates: Vec<SessionKey>,
) -> Result<Renewed> {
    for candidate in candidates {
        record.key = candidate;
        let Some(base) = base else {
            match store.save(&record, SaveMode::Update) {
                Err(Error::Update) => continue,
                other => return other.map(|_| Renewed::plain(record)),
            }
        };
        if let Some((version, attempts)) = merge_into(config, store, base, &mut record)? {
            return Ok(Renewed {
                record,
                version,
                merged: Some(attempts),
            });
        }
    }
    Err(Error::Update)
}

/// V2 in a join: loads the successor under `record.key`, merges `base`'s changes over
/// it and saves over its version, reloading on a conflict up to
/// [`MAX_MERGE_ATTEMPTS`] times ([`Error::Conflict`] after that). `None` when the
/// successor is gone (then nothing is written); else its new version and the
/// attempts it took.
fn merge_into(
    config: &SessionConfig,
    store: &dyn SessionStore,
    base: &Base,
    record: &mut Record,
) -> Result<Option<(Option<Version>, u32)>> {
    for attempts in 1..=MAX_MERGE_ATTEMPTS {
        let found = store.load(&record.key)?;
        let Some(version) = join_step(config, base, found, record)? else {
            return Ok(None);
        };
        let written = match version {
            Some(version) => store.save_if(record, version).map(Some),
            None => store.save(record, SaveMode::Update).map(|_| None),
        };
        match written {
            Err(Error::Conflict) => continue,
            Err(Error::Update) => return Ok(None),
            other => return other.map(|version| Some((version, attempts))),
        }
    }
    Err(Error::Conflict)
}

/// Async twin of [`join`].
async fn ajoin(
    config: &SessionConfig,
    store: &dyn AsyncSessionStore,
    base: Option<&Base>,
    mut record: Record,
    candidates: Vec<SessionKey>,
) -> Result<Renewed> {
    for candidate in candidates {
        record.key = candidate;
        let Some(base) = base else {
            match store.asave(&record, SaveMode::Update).await {
                Err(Error::Update) => continue,
                other => return other.map(|_| Renewed::plain(record)),
            }
        };
        if let Some((version, attempts)) = amerge_into(config, store, base, &mut record).await? {
            return Ok(Renewed {
                record,
                version,
                merged: Some(attempts),
            });
        }
    }
    Err(Error::Update)
}

/// Async twin of [`merge_into`].
async fn amerge_into(
    config: &SessionConfig,
    store: &dyn AsyncSessionStore,
    base: &Base,
    record: &mut Record,
) -> Result<Option<(Option<Version>, u32)>> {
    for attempts in 1..=MAX_MERGE_ATTEMPTS {
        let found = store.aload(&record.key).await?;
        let Some(version) = join_step(config, base, found, record)? else {
            return Ok(None);
        };
        let written = match version {
            Some(version) => store.asave_if(record, version).await.map(Some),
            None => store.asave(record, SaveMode::Update).await.map(|_| None),
        };
        match written {
            Err(Error::Conflict) => continue,
            Err(Error::Update) => return Ok(None),
            other => return other.map(|version| Some((version, attempts))),
        }
    }
    Err(Error::Conflict)
}

/// The due save of `record` (the session's data under its current key, stamped with
/// the rotation time) as a rotation through the sync store; returns what it wrote
/// under the successor's key. [`Error::Update`] when the session is gone (a
/// concurrent logout: the caller's G5) or was revoked meanwhile.
///
/// With a [`Base`] (a versioned store's session), the old record re-read at another
/// version, or a successor a concurrent rotation already wrote, holds another
/// request's change: this request's changes are merged over it (rule V2), or, under
/// [`ConflictPolicy::Fail`], the save is [`Error::Conflict`] and nothing rotates.
///
/// The successor is written before the forwarder, so a request following the
/// forwarder always finds it; a forwarder that cannot be written (the old record
/// vanished: a logout) takes the new successor away again.
pub(crate) fn rotate(
    config: &SessionConfig,
    renewal: KeyRenewal,
    store: &dyn SessionStore,
    mut record: Record,
    base: Option<&Base>,
) -> Result<Renewed> {
    let old = record.key.clone();
    let current = store.load(&old)?;
    match plan_rotation(config, renewal, &old, current)? {
        Rotation::Gone => Err(Error::Update),
        Rotation::Superseded(candidates) => {
            revoke(store, &old, &candidates)?;
            Err(Error::Update)
        }
        Rotation::Join(candidates) => join(config, store, base, record, candidates),
        Rotation::Lead {
            successor,
            forwarder,
            current,
        } => {
            let merged = rebase(config, base, current, &mut record)?;
            record.key = successor;
            // Lost to a concurrent rotation: the same successor, now joined.
            let (created, renewed) = match store.save(&record, SaveMode::Create) {
                Err(Error::Create) => {
                    let successor = vec![record.key.clone()];
                    (false, join(config, store, base, record, successor)?)
                }
                Err(err) => return Err(err),
                Ok(_) => (
                    true,
                    Renewed {
                        merged,
                        ..Renewed::plain(record)
                    },
                ),
            };
            let forward = Record::new(old, forwarder, renewed.record.expires_at);
            if let Err(err) = store.save(&forward, SaveMode::Update) {
                if created {
                    store.delete(&renewed.record.key)?;
                }
                return Err(err);
            }
            Ok(renewed)
        }
    }
}
/// Async twin of [`rotate`].
pub(crate) async fn arotate(
    config: &SessionConfig,
    renewal: KeyRenewal,
    store: &dyn AsyncSessionStore,
    mut record: Record,
    base: Option<&Base>,
) -> Result<Renewed> {
    let old = record.key.clone();
    let current = store.aload(&old).await?;
    match plan_rotation(config, renewal, &old, current)? {
        Rotation::Gone => Err(Error::Update),
        Rotation::Superseded(candidates) => {
            arevoke(store, &old, &candidates).await?;
            Err(Error::Update)
        }
        Rotation::Join(candidates) => ajoin(config, store, base, record, candidates).await,
        Rotation::Lead {
            successor,
            forwarder,
            current,
        } => {
            let merged = rebase(config, base, current, &mut record)?;
            record.key = successor;
            let (created, renewed) = match store.asave(&record, SaveMode::Create).await {
                Err(Error::Create) => {
                    let successor = vec![record.key.clone()];
                    (false, ajoin(config, store, base, record, successor).await?)
                }
                Err(err) => return Err(err),
                Ok(_) => (
                    true,
                    Renewed {
                        merged,
                        ..Renewed::plain(record)
                    },
                ),
            };
            let forward = Record::new(old, forwarder, renewed.record.expires_at);
            if let Err(err) = store.asave(&forward, SaveMode::Update).await {
                if created {
                    store.adelete(&renewed.record.key).await?;
                }
                return Err(err);
            }
            Ok(renewed)
        }
    }
}
