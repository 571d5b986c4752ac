//! The stores of `session-api` under [tower-sessions] and the crates built on it
//! ([axum-login], axum-messages, ...): [`TowerSessionsStore`] implements
//! tower-sessions-core's `SessionStore` and `ExpiredDeletion` over any server-side,
//! id-keyed [`AsyncSessionStore`](session_api::AsyncSessionStore) of this project
//! (memory, file, the database on SQLite/PostgreSQL/MySQL, the Redis or memory cache,
//! cached_db, or a store of your own that passes the kit).
//!
//! Features pick the tower-sessions-core version; both may be on at once:
//!
//! | feature | tower-sessions-core | used by | module |
//! | --- | --- | --- | --- |
//! | `v0_14` | 0.14 | tower-sessions 0.14, axum-login 0.18 | `v0_14` |
//! | `v0_15` | 0.15 | tower-sessions 0.15 | `v0_15` |
//!
//! No feature is on by default: without one, only the id mapping ([`key_for_id`],
//! [`id_for_key`]) is compiled. Each module re-exports its version of the crate as
//! `tower_sessions_core`, and its docs have an example.
//!
//! # What their calls become
//!
//! - **Ids.** tower-sessions' `Id` (an `i128`) is stored under [`key_for_id`]: the
//!   id as a `u128` in base 36, 25 characters of `[0-9a-z]`. That is a valid key for
//!   every store here, Django's `session_key` column included, so with the database
//!   store the rows are ordinary `django_session` rows (`session_data` in Django's
//!   signed encoding, readable by Django with the same `SECRET_KEY`).
//! - **Data and expiry.** Their `Record::data` (a map of JSON values) is our
//!   [`SessionData`](session_api::SessionData), their `expiry_date` our
//!   `expires_at`; the store's clock decides when a record has expired.
//! - **`create`** is insert-if-absent (`SaveMode::Create`). On a collision the
//!   record gets a new random `Id` and the insert is tried again, as tower-sessions'
//!   own stores do, so an id is used only once an insert proved it free (rules A4,
//!   H6).
//! - **`save`**, an upsert in tower-sessions' contract, is an update of the live
//!   record only (`SaveMode::Update`). tower-sessions calls `create` for every
//!   session without a stored record (no cookie, a cookie whose record was not
//!   found, after `cycle_id` or `flush`) and `save` only for an id it holds, so the
//!   two calls already say which is meant. A `save` that finds no record means the
//!   record went away after the request loaded it (a logout or `cycle_id` in a
//!   concurrent request, expiry) or was never stored (an id the client chose,
//!   followed by `Session::clear`): writing it would undo the logout or adopt the
//!   client's id (rule A3). So nothing is written and the call returns `Ok`, as
//!   tower-sessions' Redis store does with `SET XX`; a warning is logged, and the
//!   session's next request starts empty.
//! - **`delete`** deletes; **`delete_expired`** is the store's `clear_expired` (a
//!   no-op where the backend expires records itself: Redis).
//!
//! # Limits
//!
//! - Cookie stores (signed or encrypted cookies) are refused by
//!   [`TowerSessionsStore::new`]: tower-sessions owns the cookie and keeps one id
//!   per session.
//! - tower-sessions' `cycle_id` deletes the old record before the new one is
//!   created (Django writes the new one first, rule A5): a failure in between logs
//!   the user out rather than keeping the old id.
//! - The cookie is tower-sessions' (an id in URL-safe base64), not Django's, so a
//!   Django site and a tower-sessions app can share the table but not a login.
//! - As the cache of tower-sessions' `CachingSessionStore`, this store would never
//!   fill (the cache is filled with `save`, which here only updates): use our
//!   `cached_db` store as the one store instead.
//!
//! [tower-sessions]: https://docs.rs/tower-sessions
//! [axum-login]: https://docs.rs/axum-login

mod id;
// Without a version feature only the id mapping is left: there is no trait to
// implement.
#[cfg(any(feature = "v0_14", feature = "v0_15"))]
mod store;
#[cfg(any(feature = "v0_14", feature = "v0_15"))]
mod versions;

pub use id::{id_for_key, key_for_id, KEY_LEN};
#[cfg(any(feature = "v0_14", feature = "v0_15"))]
pub use store::TowerSessionsStore;
#[cfg(feature = "v0_14")]
pub use versions::v0_14;
#[cfg(feature = "v0_15")]
pub use versions::v0_15;

/// The README's Rust blocks, compiled as doctests.
#[cfg(all(doctest, feature = "v0_14", feature = "v0_15"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
