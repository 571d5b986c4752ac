//! The conformance kit on cached_db over the shared Redis and PostgreSQL
//! (`SESSIONS_TEST_POSTGRES_URL`). Each case has its own table and key prefix, both
//! removed when the case ends.
// The shared test helpers need the SQLite driver too.
#![cfg(all(
    feature = "cached_db",
    feature = "redis",
    feature = "postgres",
    feature = "sqlite",
    feature = "kit"
))]

mod common;

use session_api::Result;
use session_conformance::{Harness, KitEnv};

async fn factory(env: KitEnv) -> Result<Harness> {
    common::redis::kit_cached_db_harness(common::Kind::Postgres, &env).await
}

session_conformance::conformance_tests!(factory);
