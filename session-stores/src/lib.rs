//! Session stores for `session-api`, one module per backend, each behind a feature.
//!
//! | feature | module | Django engine |
//! | --- | --- | --- |
//! | `memory` | [`memory`] | a process-local store |
//! | `file` | [`file`](mod@file) | `django.contrib.sessions.backends.file` |
//! | `signed_cookies` | [`signed_cookies`] | `django.contrib.sessions.backends.signed_cookies` |
//! | `encrypted_cookies` | [`encrypted_cookies`] | none: cookies sealed with an AEAD (this project's own) |
//! | `sqlite`, `postgres`, `mysql` | [`db`] | `django.contrib.sessions.backends.db` |
//! | `cache`, `redis` | [`cache`] | `django.contrib.sessions.backends.cache` |
//! | `cached_db` | [`cached_db`] | `django.contrib.sessions.backends.cached_db` |
//! | `hashed_ids` | [`hashed_ids`] | none: a wrapper keeping any server-side store's records under hashed ids (this project's own) |

#[cfg(any(feature = "memory", feature = "cache"))]
mod expiring;

#[cfg(any(feature = "file", feature = "cache"))]
mod digest;

#[cfg(feature = "memory")]
pub mod memory;

#[cfg(feature = "file")]
pub mod file;

#[cfg(feature = "signed_cookies")]
pub mod signed_cookies;

#[cfg(feature = "encrypted_cookies")]
pub mod encrypted_cookies;

#[cfg(feature = "db")]
pub mod db;

#[cfg(feature = "cache")]
pub mod cache;

#[cfg(feature = "cached_db")]
pub mod cached_db;

#[cfg(feature = "hashed_ids")]
pub mod hashed_ids;

/// docs/backends.md's Rust blocks, compiled as doctests.
#[cfg(all(
    doctest,
    feature = "memory",
    feature = "file",
    feature = "signed_cookies",
    feature = "sqlite",
    feature = "postgres",
    feature = "redis",
    feature = "cached_db",
    feature = "hashed_ids"
))]
#[doc = include_str!("../../docs/backends.md")]
pub struct BackendsDoctests;

/// docs/django.md's Rust blocks, compiled as doctests.
#[cfg(all(
    doctest,
    feature = "file",
    feature = "signed_cookies",
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "redis",
    feature = "cached_db"
))]
#[doc = include_str!("../../docs/django.md")]
pub struct DjangoGuideDoctests;

/// docs/scaling.md's Rust blocks, compiled as doctests (its TLS example needs
/// `redis_tls`).
#[cfg(all(doctest, feature = "redis_tls"))]
#[doc = include_str!("../../docs/scaling.md")]
pub struct ScalingDoctests;
