//! Django-compatible sessions for Rust: the lean crate.
//!
//! See the repository README and `docs/architecture.md`. Rule ids (A1, C4, ...) in the
//! docs refer to `docs/django-spec.md`.

pub mod clock;
pub mod data;
pub mod error;
pub mod key;
pub mod serializer;
pub mod signing;

pub use clock::{Clock, ManualClock, SystemClock};
pub use data::SessionData;
pub use error::{BoxError, Error, Result};
pub use key::{KeyGenerator, RandomKeys, SessionKey};
pub use serializer::{JsonSerializer, Serializer};
pub mod config;
pub mod expiry;
pub mod middleware;
pub mod session;
pub mod store;

pub use config::{SameSite, SessionConfig};
pub use expiry::{Expiry, ExpiryValue};
pub use session::{ExpiryArgs, Session};
pub use store::{
    AsyncSessionStore, AsyncToSync, Capabilities, KeyKind, SessionBackend, SessionStore,
    SyncToAsync,
};
