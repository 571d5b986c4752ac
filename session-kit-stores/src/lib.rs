//! The conformance kit's view of the stores of `session-stores`, written once for
//! the two places that run the kit on them: the `sessions check` command
//! (`session-cli`) and the stores' own kit tests (`session-stores/tests/kit_*.rs`).
//! Not published.
//!
//! - [`Raw`]: raw access ([`session_conformance::RawRecords`]) to the stores that
//!   have it (file, database, cache), over their inherent `write_raw`/`read_raw`.
//! - One kit factory per store, each behind the feature of that store: every call
//!   builds a fresh store on the kit's clock and secret, with what the case needs kept
//!   alive and cleaned up when it ends (a temporary directory, the case's table, the
//!   case's Redis keys). A server that cannot be reached makes the factory return
//!   [`session_conformance::unavailable`], so the kit skips (or, under `CI=true`,
//!   fails) every case.
//!
//! ```no_run
//! // session-stores/tests/kit_memory.rs (`harness = false`)
//! fn main() -> std::process::ExitCode {
//!     session_conformance::test_main(session_kit_stores::memory)
//! }
//! ```

#[cfg(feature = "cache")]
pub mod cache;
#[cfg(all(
    feature = "cached_db",
    any(feature = "sqlite", feature = "postgres", feature = "mysql")
))]
pub mod cached_db;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub mod db;
#[cfg(feature = "file")]
pub mod file;
#[cfg(feature = "hashed_ids")]
pub mod hashed_ids;
mod raw;
#[cfg(feature = "redis")]
pub mod redis_topology;

pub use raw::Raw;

#[cfg(any(
    feature = "memory",
    feature = "signed_cookies",
    feature = "encrypted_cookies"
))]
use session_api::{Result, SessionBackend};
#[cfg(any(
    feature = "memory",
    feature = "signed_cookies",
    feature = "encrypted_cookies"
))]
use session_conformance::{Harness, KitEnv};
#[cfg(any(
    feature = "memory",
    feature = "signed_cookies",
    feature = "encrypted_cookies"
))]
use std::sync::Arc;

/// The kit factory of the memory store: a fresh map on the kit's clock.
#[cfg(feature = "memory")]
pub async fn memory(env: KitEnv) -> Result<Harness> {
    let store = session_stores::memory::MemoryStore::with_clock(env.clock());
    Ok(Harness::new(SessionBackend::from_nonblocking_sync(
        Arc::new(store),
    )))
}

/// The kit factory of the signed-cookie store, on the kit's secret, clock and cookie
/// age. It keeps nothing, so there is no raw access.
#[cfg(feature = "signed_cookies")]
pub async fn signed_cookies(env: KitEnv) -> Result<Harness> {
    let config = env.config()?;
    let store = session_stores::signed_cookies::SignedCookieStore::from_config(&config);
    Ok(Harness::new(SessionBackend::from_nonblocking_sync(
        Arc::new(store),
    )))
}

/// The kit factory of the encrypted-cookie store, on the kit's clock and cookie age
/// and a fixed key ring. It keeps nothing, so there is no raw access.
#[cfg(feature = "encrypted_cookies")]
pub async fn encrypted_cookies(env: KitEnv) -> Result<Harness> {
    use session_stores::encrypted_cookies::{EncryptedCookieStore, KeyRing};
    let config = env.config()?;
    let keys = KeyRing::new("kit2", &[0x5e; 32])?.with_older("kit1", &[0x1d; 32])?;
    let store = EncryptedCookieStore::from_config(keys, &config);
    Ok(Harness::new(SessionBackend::from_nonblocking_sync(
        Arc::new(store),
    )))
}

/// `url` without its password, for messages: `scheme://***@host...`.
///
/// ```
/// use session_kit_stores::redact;
/// assert_eq!(redact("postgres://app:pw@db/site"), "postgres://***@db/site");
/// assert_eq!(redact("sqlite:///tmp/s.sqlite3"), "sqlite:///tmp/s.sqlite3");
/// ```
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}
