//! Sessions in an actix-web app: a visit counter, login and logout.
//!
//! ```sh
//! cargo run -p session-api --features actix --example actix
//! curl -c jar -b jar http://127.0.0.1:8080/        # visit 1, visit 2, ...
//! curl -c jar -b jar -X POST http://127.0.0.1:8080/login
//! curl -c jar -b jar -X POST http://127.0.0.1:8080/logout
//! ```

use std::sync::Arc;

use actix_web::{web, App, HttpResponse, HttpServer};
use session_api::actix::Sessions;
use session_api::middleware::SessionMiddleware;
use session_api::{SecretKeys, Session, SessionBackend, SessionConfig};
use session_stores::memory::MemoryStore;

/// One extractor argument, one await per read; errors propagate with `?` and answer
/// 500 (503 when the store is unreachable), never a silent 200.
async fn visits(session: Session) -> session_api::Result<HttpResponse> {
    let visits: i64 = session.aget("visits").await?.unwrap_or(0) + 1;
    session.aset("visits", &visits).await?;
    Ok(HttpResponse::Ok().body(format!("visit {visits}\n")))
}

/// Login: a new key first (rule A5, no session fixation), then the account.
async fn login(session: Session) -> session_api::Result<HttpResponse> {
    session.acycle_key().await?;
    session.aset("_auth_user_id", "42").await?;
    Ok(HttpResponse::Ok().body("logged in\n"))
}

/// Logout: the record is deleted and the cookie removed (rules A6, G2).
async fn logout(session: Session) -> session_api::Result<HttpResponse> {
    session.aflush().await?;
    Ok(HttpResponse::Ok().body("logged out\n"))
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("SECRET_KEY").unwrap_or_else(|_| "dev-only-secret".to_owned());
    let config = Arc::new(SessionConfig::builder(SecretKeys::new(secret)).build()?);
    let backend = SessionBackend::from_nonblocking_sync(Arc::new(MemoryStore::new()));
    let middleware = SessionMiddleware::new(backend, config);
    println!("listening on http://127.0.0.1:8080");
    HttpServer::new(move || {
        App::new()
            .wrap(Sessions::new(middleware.clone()))
            .route("/", web::get().to(visits))
            .route("/login", web::post().to(login))
            .route("/logout", web::post().to(logout))
    })
    .bind(("127.0.0.1", 8080))?
    .run()
    .await?;
    Ok(())
}
