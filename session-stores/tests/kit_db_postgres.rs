//! The conformance kit on the db store, Postgres dialect. Each case gets its own table
//! (`env.unique_name()`), dropped with the case's harness.
#![cfg(all(feature = "postgres", feature = "kit"))]

mod common;

use session_api::Result;
use session_conformance::{Harness, KitEnv};

async fn factory(env: KitEnv) -> Result<Harness> {
    common::kit_harness(common::Kind::Postgres, &env).await
}

session_conformance::conformance_tests!(factory);
