//! The demo site: the examples of Django's sessions documentation on axum, over
//! session-api and any store of session-stores.
//!
//! ```sh
//! cargo run -p session-demo          # http://127.0.0.1:8000, sessions in ./session-demo.sqlite3
//! cargo run -p session-demo -- --store memory
//! cargo run -p session-demo --features postgres -- --store postgres://postgres@127.0.0.1/test
//! ```
//!
//! The secret comes from `SESSIONS_SECRET_KEY` (a development secret otherwise);
//! [`store`] lists the `--store` URLs, [`pages`] the pages.

mod html;
pub mod pages;
pub mod store;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use session_api::middleware::SessionMiddleware;
use session_api::tower::SessionLayer;
use session_api::SessionConfig;

use pages::Site;
use store::Opened;

/// The site over `store` with `config`; session errors answer with
/// [`pages::error_page`].
pub fn app(store: Opened, config: Arc<SessionConfig>) -> Router {
    let site = Site {
        store: store.label.into(),
    };
    let error_site = site.clone();
    let layer = SessionLayer::new(SessionMiddleware::new(store.backend, config))
        .on_error(move |err: &session_api::Error| pages::error_page(&error_site, err));
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/comment", post(pages::comment))
        .route("/expiry", post(pages::expiry))
        .route("/session", get(pages::session_page))
        .with_state(site)
        .layer(layer)
}
