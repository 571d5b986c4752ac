//! Django-compatible sessions for Rust: the lean crate.
//!
//! - [`SessionKey`], [`SessionData`], [`Session`] (Django's `SessionBase`);
//! - the store contract: [`SessionStore`], [`AsyncSessionStore`] and the bridges;
//! - [`signing`]: Django's `signing.dumps`/`loads`, byte for byte;
//! - [`codec`]: [`SessionCodec`], Django's session-data encoding (rules F6, F7);
//! - [`middleware`]: the framework-agnostic middleware core;
//! - [`SessionConfig`]: every Django session setting with Django's default;
//! - [`events`]: lifecycle events and store timings for an observer (rule V6);
//! - `tower` (feature `tower`): a tower `Layer` for axum and hyper;
//! - `axum` (feature `axum`): `Session` as an axum extractor, `Error` as a response;
//! - `actix` (feature `actix`): middleware, the `Session` extractor and `ResponseError`
//!   for actix-web 4.
//!
//! Rule ids (A1, C4, ...) in the docs refer to `docs/django-spec.md`.

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;
pub mod clock;
pub mod codec;
pub mod config;
pub mod data;
pub mod error;
pub mod events;
pub mod expiry;
pub mod key;
pub mod middleware;
pub mod renewal;
pub mod serializer;
pub mod session;
pub mod signing;
pub mod store;
pub mod timeout;
#[cfg(feature = "tower")]
pub mod tower;

pub use clock::{Clock, ManualClock, SystemClock};
pub use codec::SessionCodec;
pub use config::{ConflictPolicy, IdTransport, SameSite, SessionConfig, StoreFailurePolicy};
pub use data::SessionData;
pub use error::{BoxError, Error, Result};
pub use expiry::{Expiry, ExpiryValue};
pub use key::{KeyGenerator, RandomKeys, SessionKey};
pub use renewal::KeyRenewal;
pub use serializer::{JsonSerializer, Serializer};
pub use session::{ExpiryArgs, Session, SessionGuard};
pub use signing::{DecodeLimits, SecretKeys, Signer, TimestampSigner};
pub use store::{
    AccountSession, AccountSessions, AsyncAccountSessions, AsyncSessionStore, AsyncToSync,
    Capabilities, InlineAsync, KeyKind, Lookup, Record, SaveMode, SessionBackend, SessionStore,
    SyncToAsync, Version,
};

/// The README's Rust blocks, compiled as doctests (they use axum and actix-web).
#[cfg(all(doctest, feature = "axum", feature = "actix"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// docs/users.md's Rust blocks, compiled as doctests.
#[cfg(all(doctest, feature = "axum", feature = "actix"))]
#[doc = include_str!("../../docs/users.md")]
pub struct UsersGuideDoctests;

/// docs/concurrency.md's Rust blocks, compiled as doctests.
#[cfg(all(doctest, feature = "axum", feature = "actix"))]
#[doc = include_str!("../../docs/concurrency.md")]
pub struct ConcurrencyGuideDoctests;

/// docs/integrators.md's Rust blocks, compiled as doctests.
#[cfg(all(doctest, feature = "axum", feature = "actix"))]
#[doc = include_str!("../../docs/integrators.md")]
pub struct IntegratorsGuideDoctests;
