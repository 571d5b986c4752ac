//! What a store declares it supports; the kit selects its cases from it.

use crate::error::Result;
use crate::key::SessionKey;

/// What a store's keys are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Random ids validated by [`SessionKey::parse`]; the data lives in the store.
    Id,
    /// The key carries the data itself (signed cookies, rule E6); parsed with
    /// [`SessionKey::signed_payload`]; every save returns a new key.
    SignedPayload,
    /// The key carries the data sealed with an AEAD (encrypted cookies): parsed like
    /// [`KeyKind::SignedPayload`] and a new key on every save, but the client can read
    /// nothing and the format is this project's own, not Django's.
    SealedPayload,
}

/// What a store supports. The conformance kit selects its cases from this
/// declaration, never from the backend's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The kind of key.
    pub key_kind: KeyKind,
    /// Records live on the server, so `exists`, `delete` and update-of-a-deleted-record
    /// mean something (false for signed cookies).
    pub server_side: bool,
    /// `clear_expired` removes expired records (false where the backend expires them
    /// itself or keeps none: cache, signed cookies; rule D8).
    pub clear_expired: bool,
    /// The backend evicts expired records on its own (Redis TTL).
    pub backend_ttl: bool,
    /// The store can list and revoke every session of an account (rule E2).
    pub list_by_account: bool,
    /// Records are kept under a hash of their key, not the key (rule S3): what the
    /// store holds cannot be presented as a cookie.
    pub hashed_ids: bool,
    /// Loads give the record's [`Version`](super::Version) and
    /// [`asave_if`](super::AsyncSessionStore::asave_if) writes only over the loaded
    /// version (rule V1).
    pub versioned: bool,
    /// [`atouch`](super::AsyncSessionStore::atouch) moves a record's expiry without
    /// rewriting its data (rule V4).
    pub touch: bool,
}

impl Capabilities {
    /// A server-side store with id keys and `clear_expired`: memory, file, db.
    pub const fn server_side() -> Self {
        Capabilities {
            key_kind: KeyKind::Id,
            server_side: true,
            clear_expired: true,
            backend_ttl: false,
            list_by_account: false,
            hashed_ids: false,
            versioned: false,
            touch: false,
        }
    }

    /// A client-side store whose key is the signed data (signed cookies).
    pub const fn client_side() -> Self {
        Capabilities {
            key_kind: KeyKind::SignedPayload,
            server_side: false,
            clear_expired: false,
            backend_ttl: false,
            list_by_account: false,
            hashed_ids: false,
            versioned: false,
            touch: false,
        }
    }

    /// A client-side store whose key is the data sealed with an AEAD (encrypted
    /// cookies).
    pub const fn client_side_sealed() -> Self {
        Capabilities {
            key_kind: KeyKind::SealedPayload,
            ..Self::client_side()
        }
    }

    /// Builder-style: sets [`Capabilities::clear_expired`].
    pub const fn with_clear_expired(mut self, yes: bool) -> Self {
        self.clear_expired = yes;
        self
    }

    /// Builder-style: sets [`Capabilities::backend_ttl`].
    pub const fn with_backend_ttl(mut self, yes: bool) -> Self {
        self.backend_ttl = yes;
        self
    }

    /// Builder-style: sets [`Capabilities::list_by_account`].
    pub const fn with_list_by_account(mut self, yes: bool) -> Self {
        self.list_by_account = yes;
        self
    }

    /// Builder-style: sets [`Capabilities::hashed_ids`].
    pub const fn with_hashed_ids(mut self, yes: bool) -> Self {
        self.hashed_ids = yes;
        self
    }

    /// Builder-style: sets [`Capabilities::versioned`].
    pub const fn with_versioned(mut self, yes: bool) -> Self {
        self.versioned = yes;
        self
    }

    /// Builder-style: sets [`Capabilities::touch`].
    pub const fn with_touch(mut self, yes: bool) -> Self {
        self.touch = yes;
        self
    }

    /// Parses a key the way this store's keys are parsed.
    pub fn parse_key(&self, value: &str) -> Result<SessionKey> {
        match self.key_kind {
            KeyKind::Id => SessionKey::parse(value),
            KeyKind::SignedPayload | KeyKind::SealedPayload => SessionKey::signed_payload(value),
        }
    }
}
