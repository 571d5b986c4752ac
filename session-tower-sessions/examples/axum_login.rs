//! An axum-login 0.18 app (tower-sessions 0.14) whose sessions are rows of Django's
//! `django_session` table, in SQLite, through this project's database store.
//!
//! ```sh
//! cargo run -p session-tower-sessions --features v0_14 --example axum_login
//! # then open http://127.0.0.1:3000/login and sign in as alice / wonderland
//! ```
//!
//! Routes: `GET /login` (a form; remembers `?next=` in the session), `POST /login`,
//! `GET /` (the protected page: 401 without a login), `POST /logout`.
//! `tests/axum_login_app.rs` drives this very router over HTTP.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_login::tower_sessions::{Expiry, SessionManagerLayer};
use axum_login::{login_required, AuthManagerLayerBuilder, AuthUser, AuthnBackend, UserId};
use serde::Deserialize;
use session_api::SecretKeys;
use session_stores::db::{DbOptions, DbStore};
use session_tower_sessions::v0_14::tower_sessions_core::ExpiredDeletion;
use session_tower_sessions::TowerSessionsStore;

/// A user of the demo.
#[derive(Clone)]
pub struct User {
    id: i64,
    name: String,
    /// Stands for a password hash: changing it logs the user out everywhere
    /// (axum-login compares it with the one the session was logged in with).
    password: String,
}

// Never print the password.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl AuthUser for User {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        self.password.as_bytes()
    }
}

/// The user database of the demo: alice / wonderland.
#[derive(Clone)]
pub struct Users(Arc<HashMap<i64, User>>);

impl Users {
    /// The demo's one user.
    pub fn demo() -> Self {
        let alice = User {
            id: 1,
            name: "alice".to_owned(),
            password: "wonderland".to_owned(),
        };
        Users(Arc::new(HashMap::from([(alice.id, alice)])))
    }
}

/// The login form.
#[derive(Clone, Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

impl AuthnBackend for Users {
    type User = User;
    type Credentials = Credentials;
    type Error = Infallible;

    async fn authenticate(&self, creds: Credentials) -> Result<Option<User>, Infallible> {
        // A real app verifies a password hash (argon2, say) here.
        Ok(self
            .0
            .values()
            .find(|u| u.name == creds.username && u.password == creds.password)
            .cloned())
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, Infallible> {
        Ok(self.0.get(id).cloned())
    }
}

type AuthSession = axum_login::AuthSession<Users>;

/// Where the session remembers the page to return to after the login.
const NEXT_KEY: &str = "next";

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

async fn login_form(auth: AuthSession, Query(next): Query<Next>) -> Response {
    // Only local paths, so the login cannot redirect elsewhere.
    if let Some(next) = next
        .next
        .filter(|n| n.starts_with('/') && !n.starts_with("//"))
    {
        if auth.session.insert(NEXT_KEY, next).await.is_err() {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    Html(
        "<form method=post action=/login>\
         <input name=username> <input name=password type=password> \
         <button>Log in</button></form>",
    )
    .into_response()
}

async fn login(mut auth: AuthSession, Form(creds): Form<Credentials>) -> Response {
    let user = match auth.authenticate(creds).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            return (StatusCode::UNAUTHORIZED, "wrong user name or password").into_response()
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    // A new session id (axum-login's cycle_id), so an id known before the login is
    // worth nothing after it.
    if auth.login(&user).await.is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let next = match auth.session.remove::<String>(NEXT_KEY).await {
        Ok(next) => next.unwrap_or_else(|| "/".to_owned()),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    Redirect::to(&next).into_response()
}

async fn protected(auth: AuthSession) -> Response {
    match auth.user {
        Some(user) => format!("hello, {}", user.name).into_response(),
        // login_required! has answered already; kept for a route without it.
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn logout(mut auth: AuthSession) -> Response {
    match auth.logout().await {
        Ok(_) => "logged out".into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The app over `store`: tower-sessions' layer with our store, axum-login on it.
pub fn app(store: TowerSessionsStore) -> Router {
    let sessions = SessionManagerLayer::new(store)
        // This demo serves plain HTTP on loopback; behind TLS keep the default (true).
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(1)));
    let auth = AuthManagerLayerBuilder::new(Users::demo(), sessions).build();
    Router::new()
        .route("/", get(protected))
        .route_layer(login_required!(Users))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .layer(auth)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("SESSIONS_SECRET_KEY").unwrap_or_else(|_| "change me".to_owned());
    let db = DbStore::connect(
        "sqlite://tower-sessions-demo.sqlite3",
        DbOptions::new(SecretKeys::new(secret)),
    )
    .await?;
    db.migrate().await?;
    let store = TowerSessionsStore::new(Arc::new(db))?;

    // Django's `clearsessions`, hourly.
    let sweeper = store.clone();
    tokio::spawn(async move {
        let mut hourly = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            hourly.tick().await;
            if let Err(err) = sweeper.delete_expired().await {
                eprintln!("clearing expired sessions failed: {err}");
            }
        }
    });

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000/login (alice / wonderland)");
    axum::serve(listener, app(store)).await?;
    Ok(())
}
