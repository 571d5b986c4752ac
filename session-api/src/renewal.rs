//! Key renewal with grace (rule S2): a session's key is replaced every
//! [`KeyRenewal::interval`] seconds of activity, the superseded key keeps working for
//! [`KeyRenewal::grace`] seconds (requests already in flight), then fails; presented
//! after that it is the mark of a copied cookie and revokes the session. `cycle_key`
//! (a login) leaves no grace and a logout through any key ends them all (OWASP ASVS 5
//! V7.2.4, V7.4.1).
//!
//! It works on every server-side store through the record contract alone:
//!
//! - the rotation time travels in the data under [`SESSION_ROTATED_KEY`] (written at
//!   creation, at `cycle_key` and at each rotation), as S1's creation time does;
//! - rotating writes the successor first (insert-if-absent), then replaces the old
//!   record's data with a *forwarder*: the old rotation stamp and
//!   [`SESSION_GRACE_UNTIL_KEY`], no session data, kept as long as the successor was
//!   at the time of the rotation;
//! - the successor's key is derived from the old key and its rotation stamp with an HMAC
//!   under `SECRET_KEY`. So the forwarder stores no key (a dump of the store, even with
//!   S3's hashed ids, shows nothing to present), two requests that rotate the same key
//!   at once arrive at the same successor (one session, not two), and a request that
//!   loaded the old data before the rotation saves into the successor instead of
//!   forking it.
//!
//! Client-side stores (signed or encrypted cookies) have no server-side key to rotate:
//! there the option does nothing.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::config::SessionConfig;
use crate::data::SessionData;
use crate::error::Result;
use crate::key::{SessionKey, GENERATED_KEY_LEN, KEY_ALPHABET};
use crate::store::{AsyncSessionStore, Capabilities, KeyKind, Lookup, Record, SessionStore};

mod rotation;

pub(crate) use rotation::{arotate, rotate, Base, Renewed};

/// Reserved key holding when the session's current key was issued (creation,
/// `cycle_key` or the last rotation), in Unix seconds (rule S2).
pub const SESSION_ROTATED_KEY: &str = "_session_rotated";
/// Reserved key that makes a record a forwarder: until when (Unix seconds) its key
/// still leads to the successor (rule S2).
pub const SESSION_GRACE_UNTIL_KEY: &str = "_session_grace_until";
/// The `tracing` target of security events: a superseded key presented after its
/// grace (a copied cookie) is logged here at WARN, with key prefixes and hashes only.
pub const SECURITY_TARGET: &str = "sessions.security";
/// The default grace, in seconds, during which a superseded key still works.
pub const DEFAULT_GRACE: i64 = 30;

/// Salt of the successor-key HMAC, so it never equals another signature of this
/// project or Django's.
const SUCCESSOR_SALT: &[u8] = b"session_api.renewal.successor";

/// The renewal setting ([`SessionConfig::key_renewal`], rule S2).
///
/// ```
/// use session_api::renewal::KeyRenewal;
/// let every_15_minutes = KeyRenewal::every(15 * 60);
/// assert_eq!(every_15_minutes.grace(), 30);
/// assert_eq!(every_15_minutes.with_grace(10).grace(), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRenewal {
    interval: i64,
    grace: i64,
}

impl KeyRenewal {
    /// A new key on the first save `seconds` after the current key was issued, with
    /// the default grace ([`DEFAULT_GRACE`]).
    pub const fn every(seconds: i64) -> Self {
        KeyRenewal {
            interval: seconds,
            grace: DEFAULT_GRACE,
        }
    }

    /// The same with another grace, in seconds: how long the superseded key keeps
    /// leading to the successor. It must be positive and shorter than the interval
    /// (checked by [`SessionConfigBuilder::build`](crate::config::SessionConfigBuilder::build)).
    #[must_use]
    pub const fn with_grace(mut self, seconds: i64) -> Self {
        self.grace = seconds;
        self
    }

    /// Seconds between rotations.
    pub const fn interval(&self) -> i64 {
        self.interval
    }

    /// Seconds a superseded key keeps working.
    pub const fn grace(&self) -> i64 {
        self.grace
    }

    /// The configuration error, if any: both positive and the grace shorter than the
    /// interval, so a key is never superseded twice within one grace.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.interval <= 0 {
            return Some(format!(
                "the key renewal interval must be positive, not {}",
                self.interval
            ));
        }
        if self.grace <= 0 || self.grace >= self.interval {
            return Some(format!(
                "the key renewal grace must be positive and shorter than the interval ({} s), not {}",
                self.interval, self.grace
            ));
        }
        None
    }
}

/// The renewal setting when it applies to this store: configured, and the store keeps
/// records under id keys (on client-side stores the key is the data, so there is no
/// key to rotate and the option does nothing).
pub(crate) fn applies(config: &SessionConfig, caps: Capabilities) -> Option<KeyRenewal> {
    config
        .key_renewal
        .filter(|_| caps.server_side && caps.key_kind == KeyKind::Id)
}

/// Writes the issue time of a new key into `data` (creation, `cycle_key`, rotation).
pub(crate) fn stamp(data: &mut SessionData, now: OffsetDateTime) {
    data.insert(
        SESSION_ROTATED_KEY.to_owned(),
        Value::from(now.unix_timestamp()),
    );
}

/// Whether a save of `data` at `now` must rotate the key: the interval has passed
/// since its key was issued, or it has no stamp (saved before the option was on).
pub(crate) fn is_due(renewal: KeyRenewal, data: &SessionData, now: OffsetDateTime) -> bool {
    match rotated_at(data) {
        Some(issued) => now.unix_timestamp().saturating_sub(issued) >= renewal.interval,
        None => true,
    }
}

fn rotated_at(data: &SessionData) -> Option<i64> {
    data.get_value(SESSION_ROTATED_KEY).and_then(Value::as_i64)
}

/// Until when the record holding `data` forwards to its successor: `Some` exactly for
/// a forwarder.
fn grace_until(data: &SessionData) -> Option<i64> {
    data.get_value(SESSION_GRACE_UNTIL_KEY)
        .and_then(Value::as_i64)
}

/// Whether `data` is a forwarder rather than a session.
pub(crate) fn is_forwarder(data: &SessionData) -> bool {
    grace_until(data).is_some()
}

/// The forwarder that replaces the data of `old` (whose own data was `old_data`) once
/// its successor is written at `now`.
fn forwarder(renewal: KeyRenewal, old_data: &SessionData, now: OffsetDateTime) -> SessionData {
    let mut data = SessionData::new();
    if let Some(issued) = old_data.get_value(SESSION_ROTATED_KEY) {
        data.insert(SESSION_ROTATED_KEY.to_owned(), issued.clone());
    }
    data.insert(
        SESSION_GRACE_UNTIL_KEY.to_owned(),
        Value::from(now.unix_timestamp().saturating_add(renewal.grace)),
    );
    data
}

/// The successor of `key` (whose data, or forwarder, is `data`) under each secret of
/// the ring, the current one first: rotation uses the first; following and revoking
/// try them all, so a `SECRET_KEY` rotated during a grace still finds the session.
///
/// A keyed hash (HMAC-SHA256 under a key derived from the salt and the secret, as
/// Django's `salted_hmac`) of the old key and its rotation stamp, read as 32
/// characters of `[a-z0-9]` by rejection sampling (uniform, as [`SessionKey::generate`]).
/// Without the secret, the successor cannot be told from a random key.
fn successors(
    config: &SessionConfig,
    key: &SessionKey,
    data: &SessionData,
) -> Result<Vec<SessionKey>> {
    let message = match rotated_at(data) {
        Some(issued) => format!("{}:{issued}", key.as_str()),
        None => format!("{}:", key.as_str()),
    };
    let secrets =
        std::iter::once(config.secret_keys.current()).chain(config.secret_keys.fallbacks());
    secrets
        .map(|secret| SessionKey::parse(&derive(secret, &message)))
        .collect()
}

fn derive(secret: &[u8], message: &str) -> String {
    // 36 letters per 252 byte values, as `SessionKey::generate`.
    const ACCEPT_BELOW: u8 = 252;
    let derived = Sha256::new()
        .chain_update(SUCCESSOR_SALT)
        .chain_update(secret)
        .finalize();
    // HMAC zero-pads a key shorter than its block, so this is the 32-byte key itself
    // without the fallible `new_from_slice` (as the signer does).
    let mut hmac_key = hmac::digest::Key::<Hmac<Sha256>>::default();
    hmac_key[..derived.len()].copy_from_slice(&derived);
    let mut out = String::with_capacity(GENERATED_KEY_LEN);
    let mut block: u32 = 0;
    while out.len() < GENERATED_KEY_LEN {
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&hmac_key);
        mac.update(&block.to_be_bytes());
        mac.update(message.as_bytes());
        let bytes = mac.finalize().into_bytes();
        let accepted = bytes.iter().filter(|&&b| b < ACCEPT_BELOW);
        for &b in accepted.take(GENERATED_KEY_LEN - out.len()) {
            out.push(char::from(
                KEY_ALPHABET[usize::from(b) % KEY_ALPHABET.len()],
            ));
        }
        block = block.wrapping_add(1);
    }
    out
}

/// What a record loaded under a presented key is.
enum Found {
    /// A session, or nothing: adopt it as usual.
    Record(Option<Record>),
    /// A forwarder within its grace: the session is its successor (the first of these
    /// candidates that loads).
    Follow(Vec<SessionKey>),
    /// A forwarder after its grace: a copied cookie. Revoke the successor (every
    /// candidate) and the forwarder, report it, and load nothing.
    Superseded(Vec<SessionKey>),
}

/// Classifies the record loaded under `key`.
fn inspect(config: &SessionConfig, key: &SessionKey, loaded: Option<Record>) -> Result<Found> {
    let Some(record) = loaded else {
        return Ok(Found::Record(None));
    };
    let Some(until) = grace_until(&record.data) else {
        return Ok(Found::Record(Some(record)));
    };
    let candidates = successors(config, key, &record.data)?;
    if config.clock.now().unix_timestamp() < until {
        Ok(Found::Follow(candidates))
    } else {
        Ok(Found::Superseded(candidates))
    }
}

/// What a presented key loads, once forwarders are followed (rule S2).
pub(crate) enum Loaded {
    /// The key's own record, or nothing (a forwarder past its grace loads nothing).
    Own(Option<Record>),
    /// The key's record is past its expiry (the store told so: rule V6's "expired on
    /// load").
    Expired,
    /// A forwarder within its grace led to this record: the session continues under
    /// the record's key.
    Successor(Record),
}

/// A followed successor that is itself a forwarder (only under clocks far apart: the
/// grace is shorter than the interval) is no session.
fn successor_record(record: Record) -> Loaded {
    if is_forwarder(&record.data) {
        Loaded::Own(None)
    } else {
        Loaded::Successor(record)
    }
}

/// Loads what `key` leads to through the sync store, when renewal applies: a
/// forwarder within its grace is followed, one after it is a copied cookie (the
/// session is revoked and the event raised) and loads nothing.
pub(crate) fn load(
    config: &SessionConfig,
    store: &dyn SessionStore,
    key: &SessionKey,
) -> Result<Loaded> {
    let loaded = match store.lookup(key)? {
        Lookup::Expired => return Ok(Loaded::Expired),
        found => found.into_record(),
    };
    if applies(config, store.capabilities()).is_none() {
        return Ok(Loaded::Own(loaded));
    }
    match inspect(config, key, loaded)? {
        Found::Record(record) => Ok(Loaded::Own(record)),
        Found::Follow(candidates) => {
            for candidate in &candidates {
                if let Some(mut found) = store.load(candidate)? {
                    found.key = candidate.clone();
                    return Ok(successor_record(found));
                }
            }
            Ok(Loaded::Own(None))
        }
        Found::Superseded(candidates) => {
            revoke(store, key, &candidates)?;
            Ok(Loaded::Own(None))
        }
    }
}

/// Async twin of [`load`].
pub(crate) async fn aload(
    config: &SessionConfig,
    store: &dyn AsyncSessionStore,
    key: &SessionKey,
) -> Result<Loaded> {
    let loaded = match store.alookup(key).await? {
        Lookup::Expired => return Ok(Loaded::Expired),
        found => found.into_record(),
    };
    if applies(config, store.capabilities()).is_none() {
        return Ok(Loaded::Own(loaded));
    }
    match inspect(config, key, loaded)? {
        Found::Record(record) => Ok(Loaded::Own(record)),
        Found::Follow(candidates) => {
            for candidate in &candidates {
                if let Some(mut found) = store.aload(candidate).await? {
                    found.key = candidate.clone();
                    return Ok(successor_record(found));
                }
            }
            Ok(Loaded::Own(None))
        }
        Found::Superseded(candidates) => {
            arevoke(store, key, &candidates).await?;
            Ok(Loaded::Own(None))
        }
    }
}

/// A copied cookie: deletes the successor (under every secret's candidate) and the
/// forwarder, then raises the event.
fn revoke(
    store: &dyn SessionStore,
    presented: &SessionKey,
    candidates: &[SessionKey],
) -> Result<()> {
    for candidate in candidates {
        store.delete(candidate)?;
    }
    store.delete(presented)?;
    report_copied_cookie(presented, candidates);
    Ok(())
}

/// Async twin of [`revoke`].
async fn arevoke(
    store: &dyn AsyncSessionStore,
    presented: &SessionKey,
    candidates: &[SessionKey],
) -> Result<()> {
    for candidate in candidates {
        store.adelete(candidate).await?;
    }
    store.adelete(presented).await?;
    report_copied_cookie(presented, candidates);
    Ok(())
}

/// Deletes the forwarder a session came through or left behind, on logout and login
/// (so a superseded key never outlives its session's end).
pub(crate) fn forget(store: &dyn SessionStore, predecessor: Option<SessionKey>) -> Result<()> {
    match predecessor {
        Some(key) => store.delete(&key),
        None => Ok(()),
    }
}

/// Async twin of [`forget`].
pub(crate) async fn aforget(
    store: &dyn AsyncSessionStore,
    predecessor: Option<SessionKey>,
) -> Result<()> {
    match predecessor {
        Some(key) => store.adelete(&key).await,
        None => Ok(()),
    }
}

/// Raises the copied-cookie event (rule S2): a WARN on [`SECURITY_TARGET`] naming the
/// presented and the revoked key by their first characters and a short SHA-256, never
/// in full (rule H5). The one place the event is raised, so it can be routed to an
/// observer as well.
pub(crate) fn report_copied_cookie(presented: &SessionKey, revoked: &[SessionKey]) {
    let revoked = revoked.first();
    tracing::warn!(
        target: SECURITY_TARGET,
        event = "copied_cookie",
        presented = %presented,
        presented_sha256 = %short_digest(presented),
        revoked = ?revoked.map(ToString::to_string),
        revoked_sha256 = ?revoked.map(short_digest),
        "a superseded session key was presented after its grace period: the session was revoked"
    );
}

/// The first 8 bytes of the key's SHA-256, in hex: enough to correlate log lines (and,
/// with S3, a stored row), nothing to present as a cookie.
fn short_digest(key: &SessionKey) -> String {
    let mut hex = String::with_capacity(16);
    // Writing into a String cannot fail.
    let _ = write_short_digest(key, &mut hex);
    hex
}

/// Writes [`short_digest`] of `key` (rule H5): how the security log and the
/// observers' [`EventKey`](crate::events::EventKey) show keys.
pub(crate) fn write_short_digest(
    key: &SessionKey,
    out: &mut impl std::fmt::Write,
) -> std::fmt::Result {
    let digest = Sha256::digest(key.as_str().as_bytes());
    for byte in &digest[..8] {
        write!(out, "{byte:02x}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::SecretKeys;

    fn config(secrets: SecretKeys) -> SessionConfig {
        SessionConfig::builder(secrets)
            .key_renewal(Some(KeyRenewal::every(600)))
            .build()
            .unwrap()
    }

    #[test]
    fn s2_successors_are_valid_keys_stable_and_secret_bound() {
        let key = SessionKey::parse("abcdefgh12345678").unwrap();
        let mut data = SessionData::new();
        stamp(&mut data, OffsetDateTime::UNIX_EPOCH);
        let ring = config(SecretKeys::new("renewal-secret-1").with_fallbacks(["renewal-secret-0"]));
        let first = successors(&ring, &key, &data).unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first, successors(&ring, &key, &data).unwrap());
        assert!(first.iter().all(|k| k.as_str().len() == GENERATED_KEY_LEN));
        assert_ne!(first[0], first[1], "each secret gives its own successor");
        let other = config(SecretKeys::new("renewal-secret-0"));
        assert_eq!(successors(&other, &key, &data).unwrap()[0], first[1]);
        stamp(
            &mut data,
            OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1),
        );
        assert_ne!(successors(&ring, &key, &data).unwrap()[0], first[0]);
    }

    #[test]
    fn s2_grace_must_be_positive_and_shorter_than_the_interval() {
        for bad in [
            KeyRenewal::every(0),
            KeyRenewal::every(60).with_grace(0),
            KeyRenewal::every(60).with_grace(60),
        ] {
            assert!(bad.problem().is_some(), "{bad:?}");
        }
        assert!(KeyRenewal::every(60).with_grace(59).problem().is_none());
    }
}
