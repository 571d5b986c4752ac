//! Session stores for `session-api`, one module per backend, each behind a feature.
//!
//! | feature | module | Django engine |
//! | --- | --- | --- |
//! | `memory` | [`memory`] | a process-local store |
//! | `file` | [`file`](mod@file) | `django.contrib.sessions.backends.file` |
//! | `signed_cookies` | [`signed_cookies`] | `django.contrib.sessions.backends.signed_cookies` |
//! | `sqlite`, `postgres`, `mysql` | [`db`] | `django.contrib.sessions.backends.db` |
//! | `cache`, `redis` | [`cache`] | `django.contrib.sessions.backends.cache` |
//! | `cached_db` | [`cached_db`] | `django.contrib.sessions.backends.cached_db` |

#[cfg(any(feature = "memory", feature = "cache"))]
mod expiring;

#[cfg(feature = "memory")]
pub mod memory;

#[cfg(feature = "file")]
pub mod file;

#[cfg(feature = "signed_cookies")]
pub mod signed_cookies;

#[cfg(feature = "db")]
pub mod db;

#[cfg(feature = "cache")]
pub mod cache;

#[cfg(feature = "cached_db")]
pub mod cached_db;

/// docs/backends.md's Rust blocks, compiled as doctests.
#[cfg(all(
    doctest,
    feature = "memory",
    feature = "file",
    feature = "signed_cookies",
    feature = "sqlite",
    feature = "postgres",
    feature = "redis",
    feature = "cached_db"
))]
#[doc = include_str!("../../docs/backends.md")]
pub struct BackendsDoctests;
