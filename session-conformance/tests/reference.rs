#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The whole kit against the reference store through the kit's own test harness
//! (`harness = false`): every case that applies to a server-side store with raw
//! access to Django `session_data` must pass.

mod reference_store;

use reference_store::{harness, Fault};
use session_conformance::{Harness, KitEnv};

async fn factory(env: KitEnv) -> session_api::Result<Harness> {
    Ok(harness(&env, Fault::None))
}

fn main() -> std::process::ExitCode {
    session_conformance::test_main(factory)
}
