#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The whole kit against the reference store: every case must pass.

mod reference_store;

use reference_store::{harness, Fault};
use session_conformance::{Harness, KitEnv};

async fn factory(env: KitEnv) -> session_api::Result<Harness> {
    Ok(harness(&env, Fault::None))
}

session_conformance::conformance_tests!(factory);
