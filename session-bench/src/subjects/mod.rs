//! The columns of the store table, one module each: this project's stores, the raw
//! clients, tower-sessions' stores and the Django peer.

pub mod django;
mod encoded;
pub mod ours;
pub mod raw_redis;
pub mod raw_sql;
pub mod tower;

pub use encoded::Encoded;
use time::OffsetDateTime;

/// Every session of the benchmark expires an hour after it was written, so what a
/// crashed run leaves behind goes by itself.
pub const TTL: time::Duration = time::Duration::hours(1);

/// The expiry of a session written now.
pub fn expires() -> OffsetDateTime {
    OffsetDateTime::now_utc() + TTL
}
