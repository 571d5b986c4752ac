//! Ids hashed at rest (rule S3): a wrapper over any server-side store with id keys
//! (memory, file, database, cache, cached_db) that keeps each record under a hash of
//! its key instead of the key, as Rack keeps `2::` + SHA-256 of the public id. A
//! leaked table, directory or Redis dump then holds no usable session id: presenting a
//! stored id as a cookie hashes it again and finds nothing.
//!
//! # The stored id
//!
//! ```text
//! h1 + base32(SHA-256(key))[..38]        (RFC 4648 alphabet, lowercase: a-z 2-7)
//! ```
//!
//! Forty characters of `[a-z0-9]`, so the stored id is itself a valid key for every
//! store below (rule H1): no store needs code of its own. `h1` names the scheme and
//! marks stored ids, so that the migration mode never takes one for a plain key (see
//! below). The digest is cut to 190 bits: finding a key for a stored id is a preimage
//! search of 2^190 steps, far beyond the 165 bits of a generated key (32 characters of
//! 36), which stay the weaker link; two keys collide after about 2^95 sessions. The
//! hash has no secret (as Rack's), so a key short enough to enumerate (the 8-character
//! minimum of rule A2, about 41 bits) could be found from its stored id: generated keys
//! are 32 characters.
//!
//! In Python: `"h1" + base64.b32encode(hashlib.sha256(key.encode()).digest()).decode().lower()[:38]`.
//!
//! # Guarantees
//!
//! - Keys sent by clients are hashed before any store call; records returned carry the
//!   client's key, never the stored id, and saves return the client's key.
//! - What the store holds (rows, files, cache keys) cannot be used as a cookie: a
//!   stored id presented as a key is hashed again, and in the migration mode a key
//!   shaped as a stored id is never looked up as a plain key either.
//! - Everything else is the store below's: its capabilities (plus
//!   [`Capabilities::hashed_ids`]), expiry, `clear_expired`, its concurrency rules.
//!
//! # Migrating from plain ids ([`HashMode::MigrateFromPlain`])
//!
//! Turning hashing on over existing records would log everybody out. In the migration
//! mode a key with no hashed record falls back to its plain record, which is moved
//! under the hashed id on the first load (or on a save of a session that was not
//! loaded, such as a cleared one); a logout deletes both. Run it for one
//! `SESSION_COOKIE_AGE`, after which every plain record has moved or expired, then
//! switch to [`HashMode::Hashed`] (and never back: a plain record left over by a failed
//! call would be found again). Plain records not moved yet are as exposed as before.
//! Turn it on on every instance at once: an instance still on plain ids logs out only
//! the plain record, and a session already moved would survive that logout.
//!
//! A move never undoes a logout, whatever the interleaving of the two: the argument
//! is beside the move's code (`Protocol::load_plain` in this file's source).
//!
//! # Limits
//!
//! - **Ids, not data**: a dump still shows what the sessions hold (Django's
//!   `session_data` is signed, not encrypted; cache values are readable).
//! - **Not shareable with Django**: Django looks rows and cache entries up by the plain
//!   key, so it finds none of the hashed records (a session the migration mode moves
//!   vanishes for Django), and in the hashed mode the Rust side finds none of Django's.
//! - The account index of the store below (rule S5), reached through the wrapper's
//!   `accounts()`, lists stored ids: revoke one through the store below, and compare
//!   with [`stored_id`] of a key. `revoke_all_except` takes the client's key and
//!   hashes it (in the migration mode it also spares the key's plain record).
//! - Versions, `touch` and the account index are the store below's (its
//!   capabilities say which). A record the migration mode has just moved is loaded
//!   without a version, so its next save is a plain update.
//! - A fresh key is not checked against unmoved plain records (that costs a round trip
//!   per create, for a collision of 165-bit keys).
//!
//! ```
//! use std::sync::Arc;
//! use session_api::signing::SecretKeys;
//! use session_api::{Session, SessionBackend, SessionConfig, SessionStore};
//! use session_stores::hashed_ids::{stored_id, HashMode, HashedIds};
//! use session_stores::memory::MemoryStore;
//!
//! # fn main() -> session_api::Result<()> {
//! let config = Arc::new(SessionConfig::builder(SecretKeys::new("s3cret-key")).build()?);
//! let memory = Arc::new(MemoryStore::new());
//! let hashed = HashedIds::new_sync(memory.clone(), HashMode::Hashed)?;
//! let backend = SessionBackend::from_nonblocking_sync(Arc::new(hashed));
//! let session = Session::new(backend, config, None);
//! session.set("cart", &[3, 4])?;
//! session.save()?;
//! let key = session.session_key().ok_or(session_api::Error::Update)?;
//! assert!(memory.load(&key)?.is_none()); // not stored under the key...
//! assert!(memory.load(&stored_id(&key)?)?.is_some()); // ...but under its hash
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use session_api::key::MAX_KEY_LEN;
use session_api::{
    AccountSession, AccountSessions, AsyncAccountSessions, AsyncSessionStore, Capabilities, Error,
    InlineAsync, KeyKind, Lookup, Record, Result, SaveMode, SessionKey, SessionStore, Version,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The first characters of every stored id: the scheme's name (SHA-256, base32, cut
/// to 38 characters), as Rack's `2::`.
pub const STORED_ID_MARKER: &str = "h1";

/// The length of a stored id: the longest key (rule H1).
pub const STORED_ID_LEN: usize = MAX_KEY_LEN;

/// RFC 4648's base32 alphabet, lowercase: a subset of the key alphabet.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The id the record of `key` is stored under (see the module docs).
///
/// ```
/// use session_api::SessionKey;
/// use session_stores::hashed_ids::stored_id;
/// # fn main() -> session_api::Result<()> {
/// let key = SessionKey::parse("abcdefgh12345678")?;
/// assert_eq!(stored_id(&key)?.as_str(), "h1ex4uuks4p65pjgogmw6hhvt4dsd6jfw2rgcrgf");
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// None in practice: the id is always 40 characters of `[a-z2-7]`; it is validated as
/// every key is.
pub fn stored_id(key: &SessionKey) -> Result<SessionKey> {
    let digest = Sha256::digest(key.as_str().as_bytes());
    let mut id = String::with_capacity(STORED_ID_LEN);
    id.push_str(STORED_ID_MARKER);
    // Five bits per character, most significant first.
    let (mut bits, mut held) = (0u16, 0u32);
    for &byte in digest.iter() {
        bits = (bits << 8) | u16::from(byte);
        held += 8;
        while held >= 5 {
            held -= 5;
            id.push(char::from(BASE32[usize::from((bits >> held) & 31)]));
        }
        // Only the unread bits (fewer than 5) are kept, so `bits` fits in 16.
        bits &= (1 << held) - 1;
        if id.len() >= STORED_ID_LEN {
            break;
        }
    }
    // 24 bytes give exactly 38 characters; the cut is only a guard.
    id.truncate(STORED_ID_LEN);
    SessionKey::parse(&id)
}

/// Whether `key` has the shape of a stored id: such a key is never looked up as a
/// plain key, or a dump of stored ids would open the very records it names.
fn is_stored_shape(key: &SessionKey) -> bool {
    key.as_str().len() == STORED_ID_LEN && key.as_str().starts_with(STORED_ID_MARKER)
}

/// How [`HashedIds`] treats records kept under plain keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashMode {
    /// Records live under stored ids only; plain records are never read.
    Hashed,
    /// As [`HashMode::Hashed`], and a key whose hashed record is missing falls back to
    /// its plain record, which is moved under the stored id; a logout deletes both.
    MigrateFromPlain,
}

/// A store whose records are kept under [`stored_id`]s of their keys (rule S3).
///
/// Wraps an async store ([`HashedIds::new`]: database, cache, cached_db) or a sync one
/// ([`HashedIds::new_sync`]: memory, file) and implements the same contract; a store
/// implementing both can be wrapped by either, and the wrapper then has both.
#[derive(Debug)]
pub struct HashedIds<S: ?Sized = dyn AsyncSessionStore> {
    inner: Arc<S>,
    mode: HashMode,
}

/// The wrapper only makes sense where records live on the server under id keys.
fn check_below(caps: Capabilities) -> Result<()> {
    if caps.server_side && caps.key_kind == KeyKind::Id {
        Ok(())
    } else {
        Err(Error::configuration(
            "HashedIds needs a server-side store with id keys (not a cookie store)",
        ))
    }
}

impl<S: AsyncSessionStore + ?Sized> HashedIds<S> {
    /// Hashes the ids of the async store `inner`.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] when `inner` keeps no records on the server or its keys
    /// are not ids (signed or encrypted cookies).
    pub fn new(inner: Arc<S>, mode: HashMode) -> Result<Self> {
        check_below(inner.capabilities())?;
        Ok(HashedIds { inner, mode })
    }
}

impl<S: SessionStore + ?Sized> HashedIds<S> {
    /// Hashes the ids of the sync store `inner`.
    ///
    /// # Errors
    ///
    /// As [`HashedIds::new`].
    pub fn new_sync(inner: Arc<S>, mode: HashMode) -> Result<Self> {
        check_below(inner.capabilities())?;
        Ok(HashedIds { inner, mode })
    }
}

impl<S: ?Sized> HashedIds<S> {
    /// The store below, whose records are under stored ids (for account listings and
    /// maintenance).
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    /// The mode.
    pub fn mode(&self) -> HashMode {
        self.mode
    }
}

/// The contract's operations over the store below, written once for both sides: the
/// async side runs them on the store, the sync side on [`InlineAsync`] of it.
struct Protocol<'a, S: ?Sized> {
    below: &'a S,
    mode: HashMode,
}

/// `record` with `key` in place of its key.
fn rekeyed(record: &Record, key: &SessionKey) -> Record {
    let mut moved = record.clone();
    moved.key = key.clone();
    moved
}

impl<S: AsyncSessionStore + ?Sized> Protocol<'_, S> {
    /// Whether `key` may have a plain record to fall back to.
    fn may_be_plain(&self, key: &SessionKey) -> bool {
        self.mode == HashMode::MigrateFromPlain && !is_stored_shape(key)
    }

    async fn exists(&self, key: &SessionKey) -> Result<bool> {
        if self.below.aexists(&stored_id(key)?).await? {
            return Ok(true);
        }
        Ok(self.may_be_plain(key) && self.below.aexists(key).await?)
    }

    async fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        Ok(self.lookup(key).await?.into_record())
    }

    async fn lookup(&self, key: &SessionKey) -> Result<Lookup> {
        let hashed = stored_id(key)?;
        let below = match self.below.alookup(&hashed).await? {
            Lookup::Found(record) => return Ok(Lookup::Found(rekeyed(&record, key))),
            other => other,
        };
        if !self.may_be_plain(key) {
            return Ok(below);
        }
        Ok(match self.load_plain(key, &hashed).await? {
            Some(record) => Lookup::Found(record),
            None => below,
        })
    }

    /// Moves the plain record of `key` under `hashed` and returns it, without a
    /// version (the moved record's is not the plain one's).
    ///
    /// Why no interleaving with a logout ([`Protocol::delete`]: D1 deletes the plain
    /// record, then D2 the hashed one) leaves a record behind, whatever the order of
    /// the steps of both:
    ///
    /// - Nothing writes the plain record but the application before hashing, so once
    ///   D1 has run it is gone for good.
    /// - The hashed record is written only by a create (the move's, or the save's in
    ///   [`Protocol::save_plain`]), each followed by a check that the plain record
    ///   still exists. A create before D2 is removed by D2. A create after D2 is after
    ///   D1, so its check finds no plain record and the mover deletes what it created.
    /// - Updates never create (rule D5), so a request that loaded the session before
    ///   the logout cannot bring it back by saving.
    ///
    /// The same holds for concurrent moves (a create that finds the hashed record
    /// already there is [`Error::Create`] and writes nothing) and for the move of
    /// [`Protocol::save_plain`]. What the order cannot prevent: between a create after
    /// D2 and its removal, a request may read the session it raced, as it could have a
    /// moment before the logout; nothing it writes survives. A failing store call can
    /// leave what it failed to remove, as a failing logout does.
    async fn load_plain(&self, key: &SessionKey, hashed: &SessionKey) -> Result<Option<Record>> {
        let Some(plain) = self.below.aload(key).await? else {
            return Ok(None);
        };
        match self
            .below
            .asave(&rekeyed(&plain, hashed), SaveMode::Create)
            .await
        {
            Ok(_) => {}
            // A concurrent move created it: that record is the session now.
            Err(Error::Create) => {
                let moved = self.below.aload(hashed).await?;
                return Ok(moved.map(|record| rekeyed(&record, key)));
            }
            Err(err) => return Err(err),
        }
        if self.below.aexists(key).await? {
            self.below.adelete(key).await?;
            Ok(Some(rekeyed(&plain, key).with_version(None)))
        } else {
            // A logout deleted the plain record meanwhile: undo the move.
            self.below.adelete(hashed).await?;
            Ok(None)
        }
    }

    async fn save(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let hashed = rekeyed(record, &stored_id(&record.key)?);
        match self.below.asave(&hashed, mode).await {
            Ok(_) => Ok(record.key.clone()),
            Err(Error::Update) if self.may_be_plain(&record.key) => {
                self.save_plain(record, &hashed).await
            }
            Err(err) => Err(err),
        }
    }

    /// An update of a session whose record is still plain (one saved without being
    /// loaded, such as a cleared one): writes `hashed` in its place, with the order and
    /// checks of [`Protocol::load_plain`].
    async fn save_plain(&self, record: &Record, hashed: &Record) -> Result<SessionKey> {
        let key = &record.key;
        // No plain record: the update of a missing record fails, as without hashing.
        if !self.below.aexists(key).await? {
            return Err(Error::Update);
        }
        match self.below.asave(hashed, SaveMode::Create).await {
            Ok(_) => {}
            // A concurrent move won: update its record.
            Err(Error::Create) => {
                self.below.asave(hashed, SaveMode::Update).await?;
                return Ok(key.clone());
            }
            Err(err) => return Err(err),
        }
        if self.below.aexists(key).await? {
            self.below.adelete(key).await?;
            Ok(key.clone())
        } else {
            self.below.adelete(&hashed.key).await?;
            Err(Error::Update)
        }
    }

    /// V1 over the stored id. A versioned record was loaded from its hashed record (a
    /// moved one comes without a version), so there is no plain fallback.
    async fn save_if(&self, record: &Record, expected: Version) -> Result<Version> {
        let hashed = rekeyed(record, &stored_id(&record.key)?);
        self.below.asave_if(&hashed, expected).await
    }

    /// V4 over the stored id; in the migration mode, a record still plain is touched
    /// where it is (it moves on its next load). A touch never creates, so it cannot
    /// undo a logout.
    async fn touch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        match self.below.atouch(&stored_id(key)?, expires_at).await {
            Err(Error::Update) if self.may_be_plain(key) => {
                self.below.atouch(key, expires_at).await
            }
            other => other,
        }
    }

    /// A logout: in the migration mode the plain record first, then the hashed one
    /// (the order [`Protocol::load_plain`] relies on).
    async fn delete(&self, key: &SessionKey) -> Result<()> {
        if self.may_be_plain(key) {
            self.below.adelete(key).await?;
        }
        self.below.adelete(&stored_id(key)?).await
    }
}

impl<S: ?Sized> HashedIds<S> {
    fn on<'a, B: ?Sized>(&self, below: &'a B) -> Protocol<'a, B> {
        Protocol {
            below,
            mode: self.mode,
        }
    }
}

#[async_trait]
impl<S: AsyncSessionStore + ?Sized> AsyncSessionStore for HashedIds<S> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities().with_hashed_ids(true)
    }
    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        self.on(&*self.inner).exists(key).await
    }
    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        self.on(&*self.inner).load(key).await
    }
    async fn alookup(&self, key: &SessionKey) -> Result<Lookup> {
        self.on(&*self.inner).lookup(key).await
    }
    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        self.on(&*self.inner).save(record, mode).await
    }
    async fn asave_if(&self, record: &Record, expected: Version) -> Result<Version> {
        self.on(&*self.inner).save_if(record, expected).await
    }
    async fn atouch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        self.on(&*self.inner).touch(key, expires_at).await
    }
    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        self.on(&*self.inner).delete(key).await
    }
    async fn aclear_expired(&self) -> Result<u64> {
        self.inner.aclear_expired().await
    }
    fn accounts(&self) -> Option<&dyn AsyncAccountSessions> {
        self.inner
            .accounts()
            .map(|_| self as &dyn AsyncAccountSessions)
    }
}

/// The error of an account call when the store below keeps no index.
fn no_index() -> Error {
    Error::Unsupported("account index")
}

/// The stored ids `revoke_all_except(current)` must spare: the hashed one, and in
/// the migration mode the plain one too (a current session not moved yet).
fn spared(mode: HashMode, current: &SessionKey) -> Result<Vec<SessionKey>> {
    let mut keep = vec![stored_id(current)?];
    if mode == HashMode::MigrateFromPlain && !is_stored_shape(current) {
        keep.push(current.clone());
    }
    Ok(keep)
}

/// The store below's index, over stored ids: listings give them, `current` is hashed.
#[async_trait]
impl<S: AsyncSessionStore + ?Sized> AsyncAccountSessions for HashedIds<S> {
    async fn alist_sessions(&self, account: i64) -> Result<Vec<AccountSession>> {
        let index = self.inner.accounts().ok_or_else(no_index)?;
        index.alist_sessions(account).await
    }
    async fn arevoke_all(&self, account: i64) -> Result<u64> {
        let index = self.inner.accounts().ok_or_else(no_index)?;
        index.arevoke_all(account).await
    }
    async fn arevoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64> {
        let index = self.inner.accounts().ok_or_else(no_index)?;
        let keep = spared(self.mode, current)?;
        if let [hashed] = keep.as_slice() {
            return index.arevoke_all_except(account, hashed).await;
        }
        // Two to spare: one by one, through the store's own deletes.
        let mut revoked = 0;
        for session in index.alist_sessions(account).await? {
            if !keep.contains(&session.key) {
                self.inner.adelete(&session.key).await?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }
}

/// The sync side runs the one `Protocol` on the sync store through [`InlineAsync`],
/// whose futures complete on their first poll (each call is the sync call, made
/// inline): `block_on` never waits on anything but the store's own blocking call.
impl<S: SessionStore + ?Sized> SessionStore for HashedIds<S> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities().with_hashed_ids(true)
    }
    fn exists(&self, key: &SessionKey) -> Result<bool> {
        let below = InlineAsync(Arc::clone(&self.inner));
        futures::executor::block_on(self.on(&below).exists(key))
    }
    fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        let below = InlineAsync(Arc::clone(&self.inner));
        futures::executor::block_on(self.on(&below).load(key))
    }
    fn lookup(&self, key: &SessionKey) -> Result<Lookup> {
        let below = InlineAsync(Arc::clone(&self.inner));
        futures::executor::block_on(self.on(&below).lookup(key))
    }
    fn save(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let below = InlineAsync(Arc::clone(&self.inner));
        futures::executor::block_on(self.on(&below).save(record, mode))
    }
    fn save_if(&self, record: &Record, expected: Version) -> Result<Version> {
        let below = InlineAsync(Arc::clone(&self.inner));
        futures::executor::block_on(self.on(&below).save_if(record, expected))
    }
    fn touch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        let below = InlineAsync(Arc::clone(&self.inner));
        futures::executor::block_on(self.on(&below).touch(key, expires_at))
    }
    fn delete(&self, key: &SessionKey) -> Result<()> {
        let below = InlineAsync(Arc::clone(&self.inner));
        futures::executor::block_on(self.on(&below).delete(key))
    }
    fn clear_expired(&self) -> Result<u64> {
        self.inner.clear_expired()
    }
    fn accounts(&self) -> Option<&dyn AccountSessions> {
        self.inner.accounts().map(|_| self as &dyn AccountSessions)
    }
}

/// The sync twin of the async index above.
impl<S: SessionStore + ?Sized> AccountSessions for HashedIds<S> {
    fn list_sessions(&self, account: i64) -> Result<Vec<AccountSession>> {
        self.inner
            .accounts()
            .ok_or_else(no_index)?
            .list_sessions(account)
    }
    fn revoke_all(&self, account: i64) -> Result<u64> {
        self.inner
            .accounts()
            .ok_or_else(no_index)?
            .revoke_all(account)
    }
    fn revoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64> {
        let index = self.inner.accounts().ok_or_else(no_index)?;
        let keep = spared(self.mode, current)?;
        if let [hashed] = keep.as_slice() {
            return index.revoke_all_except(account, hashed);
        }
        let mut revoked = 0;
        for session in index.list_sessions(account)? {
            if !keep.contains(&session.key) {
                self.inner.delete(&session.key)?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> SessionKey {
        SessionKey::parse(s).unwrap()
    }

    /// Pinned against Python's hashlib and base64 (the formula of the module docs),
    /// so the scheme cannot drift: stores hold these ids.
    #[test]
    fn stored_ids_are_the_documented_scheme() {
        assert_eq!(
            stored_id(&key("abcdefgh12345678")).unwrap().as_str(),
            "h1ex4uuks4p65pjgogmw6hhvt4dsd6jfw2rgcrgf"
        );
        assert_eq!(
            stored_id(&key("0123456789abcdefghijklmnopqrstuv"))
                .unwrap()
                .as_str(),
            "h1omzx6r474fynopst4jd7gbjoijb4zhbkb75geg"
        );
    }

    #[test]
    fn stored_ids_have_the_stored_shape_and_keys_do_not() {
        let generated = SessionKey::generate();
        assert!(!is_stored_shape(&generated));
        let id = stored_id(&generated).unwrap();
        assert!(is_stored_shape(&id));
        assert!(!is_stored_shape(&key("h1aaaaaaaa")), "too short to be one");
    }
}
