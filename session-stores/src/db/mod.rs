//! The database store: Django's `django.contrib.sessions.backends.db` on SQLite,
//! PostgreSQL and MySQL/MariaDB through sqlx (features `sqlite`, `postgres`, `mysql`).
//!
//! The table is Django's `django_session` (rule E1) and `session_data` is Django's
//! encoding (rule F6, [`SessionCodec`](session_api::SessionCodec)), so a Django site and this store can share
//! one table:
//!
//! | column | SQLite | PostgreSQL | MySQL / MariaDB |
//! | --- | --- | --- | --- |
//! | `session_key` | `varchar(40)` primary key | same | same |
//! | `session_data` | `text` | `text` | `longtext` |
//! | `expire_date` (indexed) | `datetime`: UTC text `YYYY-MM-DD HH:MM:SS[.ffffff]` | `timestamp with time zone` | `datetime(6)`, UTC |
//!
//! Semantics (rules D1..D8, E1, H6):
//!
//! * `save` with [`SaveMode::Create`](session_api::SaveMode::Create) is a plain `INSERT`; a unique violation is [`Error::Create`](session_api::Error::Create),
//!   except that a row which has expired but is not purged yet is taken over by an
//!   `UPDATE ... WHERE expire_date <= now` (rule H7: the key is free; its version
//!   goes on counting).
//! * `save` with [`SaveMode::Update`](session_api::SaveMode::Update) is `UPDATE ... WHERE session_key = ? AND expire_date > now`; no
//!   row is [`Error::Update`](session_api::Error::Update). Never an upsert, so a concurrent logout is never undone.
//!   Stricter than Django (rule H7): an expired row counts as absent whether or not it
//!   was purged yet, so updating it is [`Error::Update`](session_api::Error::Update) rather than a revival.
//! * `load` and `exists` see only rows with `expire_date > now`; `load` returns the
//!   record with its `expire_date` and version, or `None` for a row whose data does
//!   not decode (a bad signature is logged, rule F7). `lookup` is the same query,
//!   telling an expired row from none; `load` is `lookup(..).into_record()`.
//! * Versioned saves (rules V1, V3; [`Versioning`], on by default): a `version`
//!   counter column that every write counts up; `asave_if` is one
//!   `UPDATE ... WHERE session_key = ? AND version = ? AND expire_date > now`, and
//!   only when it matches nothing a second query tells [`Error::Conflict`](session_api::Error::Conflict)
//!   (a live row) from [`Error::Update`](session_api::Error::Update) (none).
//! * `touch` (rule V4) is `UPDATE ... SET expire_date = ? WHERE session_key = ? AND
//!   expire_date > now`; no row is [`Error::Update`](session_api::Error::Update).
//! * `clear_expired` deletes rows with `expire_date < now` in bounded batches.
//! * "now" is always the store's injected [`Clock`](session_api::Clock), sent as a bound parameter (never
//!   the database's `NOW()`). Every value is a bound parameter; the only text put into
//!   SQL is the validated table and column names and the batch size.
//!
//! Custom records (rule E2): a [`RecordExtension`] adds columns filled from the data on
//! every save; [`AccountIdColumn`] is the seed's `account_id` example, which gives the
//! store its account index (rule S5: [`session_api::AsyncSessionStore::accounts`],
//! and [`DbStore::list_account_sessions`], [`DbStore::revoke_account_sessions`]).
//!
//! `migrate` creates exactly Django's schema: the table, the `expire_date` index and,
//! on PostgreSQL, the `varchar_pattern_ops` `_like` index of the primary key, under
//! Django's index names (what `manage.py sqlmigrate sessions 0001` prints); then, on a
//! versioned store, adds the version column to a table that lacks it (Django's own
//! included). With [`Versioning::Off`] the table stays exactly Django's.
//!
//! The store is async-native ([`AsyncSessionStore`](session_api::AsyncSessionStore)); the sync side comes from
//! [`SessionBackend::from_async`](session_api::SessionBackend::from_async).
//!
//! # Errors
//!
//! A database that cannot be reached in time is [`Error::Unavailable`](session_api::Error::Unavailable) (adapters
//! answer 503): the call ran out of its operation timeout
//! ([`DbOptions::operation_timeout`], 5 s by default, waiting for a connection and
//! a statement already sent included), the pool timed out waiting for a connection
//! or is closed, an I/O error on the connection, or the server reporting that it went
//! away (SQLSTATE class `08`, PostgreSQL's `57P01`..`57P03`). Every other driver failure is
//! [`Error::Backend`](session_api::Error::Backend). A connection that was closed while idle in the pool (a database
//! restart, `pg_terminate_backend`, a proxy's idle timeout) costs no call: the
//! statement that finds it dead is run once more on a connection that answers a ping
//! (see [`DbPoolOptions::test_before_acquire`]). Every statement is safe to run twice:
//! loads, deletes, updates of the same values (a version counted up twice is still a
//! new version), `migrate`'s catalogue check, the one transaction of `write_raw`; an
//! insert or a versioned save whose first attempt committed before its answer was
//! lost finds its own row (the same text under the same key, at the next version)
//! and counts as done. A connection whose call timed out is closed, never handed to
//! the next call.
//!
//! One round trip per call: the pools this crate opens do not ping before each call,
//! every statement is a single one (a create is one `INSERT`), and each statement's
//! text is built once per store, so sqlx prepares it once per connection and reuses
//! it. (sqlx 0.8 pings each connection as it goes back to the pool, off the caller's
//! path; that ping cannot be turned off.)
//!
//! The `sqlx` crate is re-exported ([`sqlx`](mod@sqlx)), so a pool of your own can be
//! built with the same version: `DbStore::new(sqlx::PgPool::connect(..).await?, ..)`.
//!
//! ```no_run
//! # async fn demo() -> session_api::Result<()> {
//! use std::sync::Arc;
//! use session_api::{SecretKeys, SessionBackend};
//! use session_stores::db::{AccountIdColumn, DbOptions, DbPool, DbPoolOptions, DbStore};
//!
//! let pool = DbPool::connect(
//!     "postgres://app@127.0.0.1/site",
//!     &DbPoolOptions::default().max_connections(5),
//! )
//! .await?;
//! let options = DbOptions::new(SecretKeys::new("django-secret-key"))
//!     .extension(Arc::new(AccountIdColumn::new()));
//! let store = DbStore::new(pool, options)?;
//! store.migrate().await?;
//! let revoked = store.revoke_account_sessions(42).await?;
//! let backend = SessionBackend::from_async(Arc::new(store));
//! # let _ = (revoked, backend); Ok(()) }
//! ```

// Without a driver feature `DbPool` has no variant: the crate still builds (for
// `--features db` alone), every dispatch being unreachable.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(
        unreachable_code,
        unused_variables,
        unused_mut,
        unused_imports,
        unused_assignments,
        unused_macros,
        dead_code,
        clippy::never_loop
    )
)]

mod accounts;
mod extension;
mod migrate;
mod options;
mod params;
mod pool;
mod raw;
mod sql;
mod store;
mod versioning;

pub use extension::{AccountIdColumn, ColumnType, ExtraColumn, ExtraValue, RecordExtension};
pub use options::{
    DbOptions, DbPoolOptions, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_CLEAR_BATCH,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_OPERATION_TIMEOUT, DEFAULT_TABLE,
};
pub use pool::DbPool;
pub use sql::{validate_identifier, Dialect, MAX_IDENTIFIER_LEN};
pub use store::DbStore;
pub use versioning::{Versioning, DEFAULT_VERSION_COLUMN};

/// The re-exported `sqlx` crate (with the driver features this crate was built
/// with), for building a pool of your own for [`DbStore::new`] or running queries
/// on [`DbStore::pool`].
pub use sqlx;
