//! The conformance kit on the cache store over the shared Redis (127.0.0.1:6379 or
//! `SESSIONS_TEST_REDIS_URL`). Each case has its own key prefix (`env.unique_name()`),
//! whose keys are removed when the case ends. Redis keeps real time while the kit
//! moves a manual clock: the expiry stored in each value is what expires sessions here.
// The shared test helpers need a database driver.
#![cfg(all(feature = "redis", feature = "sqlite", feature = "kit"))]

mod common;

use session_api::Result;
use session_conformance::{Harness, KitEnv};

async fn factory(env: KitEnv) -> Result<Harness> {
    common::redis::kit_cache_harness(&env).await
}

session_conformance::conformance_tests!(factory);
