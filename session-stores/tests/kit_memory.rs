//! The conformance kit against the memory store.
#![cfg(feature = "memory")]

use std::sync::Arc;

use session_api::SessionBackend;
use session_conformance::{Harness, KitEnv};
use session_stores::memory::MemoryStore;

async fn factory(env: KitEnv) -> session_api::Result<Harness> {
    let store = MemoryStore::with_clock(env.clock());
    Ok(Harness::new(SessionBackend::from_nonblocking_sync(
        Arc::new(store),
    )))
}

session_conformance::conformance_tests!(factory);
