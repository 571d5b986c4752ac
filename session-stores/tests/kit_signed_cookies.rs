//! The conformance kit on the signed-cookie store (rules E6, H4 and everything that
//! applies to a client-side store).
#![cfg(feature = "signed_cookies")]

use std::sync::Arc;

use session_api::{JsonSerializer, Result, SessionBackend};
use session_conformance::{Harness, KitEnv};
use session_stores::signed_cookies::SignedCookieStore;

async fn factory(env: KitEnv) -> Result<Harness> {
    let store = SignedCookieStore::new(
        env.secret_keys(),
        env.cookie_age(),
        env.clock(),
        Arc::new(JsonSerializer),
    );
    Ok(Harness::new(SessionBackend::from_nonblocking_sync(
        Arc::new(store),
    )))
}

session_conformance::conformance_tests!(factory);
