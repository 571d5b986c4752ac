//! The cases, grouped by rule family. Each is a plain `pub async fn(Ctx) -> CaseResult`
//! that store authors can also call directly.

pub mod accounts;
pub mod clear;
pub mod concurrency;
pub mod contract;
pub mod dict;
pub mod encoding;
pub mod events;
pub mod expiry;
pub mod hashed;
pub mod interleave;
pub mod keys;
pub mod lifecycle;
pub mod merge;
pub mod middleware;
pub mod model;
pub mod renewal;
pub mod sealed;
pub mod timeouts;
pub mod touch;
pub mod versions;
