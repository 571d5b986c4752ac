//! The conformance kit on cached_db over the shared Redis and SQLite (a file in a
//! tempdir per case). Each case has its own table and key prefix, both removed when
//! the case ends.
#![cfg(all(
    feature = "cached_db",
    feature = "redis",
    feature = "sqlite",
    feature = "kit"
))]

mod common;

use session_api::Result;
use session_conformance::{Harness, KitEnv};

async fn factory(env: KitEnv) -> Result<Harness> {
    common::redis::kit_cached_db_harness(common::Kind::Sqlite, &env).await
}

session_conformance::conformance_tests!(factory);
