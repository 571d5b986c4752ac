//! Sessions in an axum app: a visit counter, login and logout.
//!
//! ```sh
//! cargo run -p session-api --features axum --example axum
//! curl -c jar -b jar http://127.0.0.1:3000/        # visit 1, visit 2, ...
//! curl -c jar -b jar -X POST http://127.0.0.1:3000/login
//! curl -c jar -b jar -X POST http://127.0.0.1:3000/logout
//! ```

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use session_api::middleware::SessionMiddleware;
use session_api::tower::SessionLayer;
use session_api::{SecretKeys, Session, SessionBackend, SessionConfig};
use session_stores::memory::MemoryStore;

/// One extractor argument, one await per read; errors propagate with `?` and answer
/// 500 (503 when the store is unreachable), never a silent 200.
async fn visits(session: Session) -> session_api::Result<String> {
    let visits: i64 = session.aget("visits").await?.unwrap_or(0) + 1;
    session.aset("visits", &visits).await?;
    Ok(format!("visit {visits}\n"))
}

/// Login: a new key first (rule A5, no session fixation), then the account.
async fn login(session: Session) -> session_api::Result<&'static str> {
    session.acycle_key().await?;
    session.aset("_auth_user_id", "42").await?;
    Ok("logged in\n")
}

/// Logout: the record is deleted and the cookie removed (rules A6, G2).
async fn logout(session: Session) -> session_api::Result<&'static str> {
    session.aflush().await?;
    Ok("logged out\n")
}

/// The router with the session layer.
fn app(secret: String) -> session_api::Result<Router> {
    let config = Arc::new(SessionConfig::builder(SecretKeys::new(secret)).build()?);
    let backend = SessionBackend::from_nonblocking_sync(Arc::new(MemoryStore::new()));
    Ok(Router::new()
        .route("/", get(visits))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .layer(SessionLayer::new(SessionMiddleware::new(backend, config))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("SECRET_KEY").unwrap_or_else(|_| "dev-only-secret".to_owned());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app(secret)?).await?;
    Ok(())
}
