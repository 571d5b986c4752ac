//! An app on tower-sessions 0.15's own middleware (`SessionManagerLayer`) over our
//! SQLite store, over real HTTP on 127.0.0.1 with a cookie-keeping client: login
//! with `cycle_id`, a protected page, logout with `flush`, and a slow request racing
//! a logout. (axum-login has no release on tower-sessions 0.15 yet: its 0.18 is on
//! 0.14, tested in `axum_login_app.rs`.)

mod common;

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use session_tower_sessions::TowerSessionsStore;
use tokio::sync::Notify;
use tower_sessions_015::session::Id;
use tower_sessions_015::{Session, SessionManagerLayer};

use common::http::{row, serve, sqlite, tower_store, Browser};

const USER_KEY: &str = "user";

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// Holds the slow request between its load and its write.
#[derive(Default)]
struct Gate {
    loaded: Notify,
    proceed: Notify,
}

fn failed(err: impl std::fmt::Display) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response()
}

async fn login(session: Session, Form(creds): Form<Credentials>) -> Response {
    if (creds.username.as_str(), creds.password.as_str()) != ("alice", "wonderland") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if let Err(err) = session.cycle_id().await {
        return failed(err);
    }
    match session.insert(USER_KEY, "alice").await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(err) => failed(err),
    }
}

async fn protected(session: Session) -> Response {
    match session.get::<String>(USER_KEY).await {
        Ok(Some(user)) => format!("hello, {user}").into_response(),
        Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
        Err(err) => failed(err),
    }
}

async fn logout(session: Session) -> Response {
    match session.flush().await {
        Ok(()) => "logged out".into_response(),
        Err(err) => failed(err),
    }
}

/// Loads the session, waits for the test, then changes it: the middleware saves it
/// after whatever happened meanwhile.
async fn slow_write(State(gate): State<Arc<Gate>>, session: Session) -> Response {
    if let Err(err) = session.get::<String>(USER_KEY).await {
        return failed(err);
    }
    gate.loaded.notify_one();
    gate.proceed.notified().await;
    match session.insert("seen", true).await {
        Ok(()) => "written".into_response(),
        Err(err) => failed(err),
    }
}

fn app(store: TowerSessionsStore, gate: Arc<Gate>) -> Router {
    Router::new()
        .route("/", get(protected))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/slow", get(slow_write))
        .with_state(gate)
        .layer(SessionManagerLayer::new(store).with_secure(false))
}

fn id_of(cookie: &str) -> i128 {
    cookie.parse::<Id>().expect("a tower-sessions id").0
}

#[tokio::test]
async fn login_protected_page_and_logout() {
    let (db, _dir) = sqlite().await;
    let addr = serve(app(tower_store(&db), Arc::default())).await;
    let browser = Browser::new(addr);

    assert_eq!(browser.get("/").await.0, 401);
    let wrong = [("username", "alice"), ("password", "rabbit")];
    assert_eq!(browser.post("/login", &wrong).await.0, 401);
    assert_eq!(
        browser.session_cookie(),
        None,
        "nothing stored for a failed login"
    );

    let right = [("username", "alice"), ("password", "wonderland")];
    let (status, location, _) = browser.post("/login", &right).await;
    assert_eq!((status.as_u16(), location.as_deref()), (303, Some("/")));
    let cookie = browser.session_cookie().expect("a session cookie");
    let stored = row(&db, id_of(&cookie))
        .await
        .expect("a django_session row");
    assert_eq!(
        stored.get::<String>(USER_KEY).unwrap().as_deref(),
        Some("alice")
    );

    let (status, _, body) = browser.get("/").await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "hello, alice"));

    let (status, _, body) = browser.post("/logout", &[]).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "logged out"));
    assert_eq!(row(&db, id_of(&cookie)).await, None);
    assert_eq!(browser.get("/").await.0, 401);

    let thief = Browser::new(addr);
    thief.set_session_cookie(&cookie);
    assert_eq!(
        thief.get("/").await.0,
        401,
        "a replayed cookie is worth nothing"
    );
}

#[tokio::test]
async fn a_request_racing_a_logout_does_not_undo_it() {
    let (db, _dir) = sqlite().await;
    let gate = Arc::new(Gate::default());
    let addr = serve(app(tower_store(&db), gate.clone())).await;
    let tab = Browser::new(addr);
    let right = [("username", "alice"), ("password", "wonderland")];
    assert_eq!(tab.post("/login", &right).await.0, 303);
    let cookie = tab.session_cookie().expect("logged in");
    let other_tab = Browser::new(addr);
    other_tab.set_session_cookie(&cookie);

    // The slow request loads the session; the other tab logs out; then the slow
    // request changes the session and the middleware saves it.
    let slow = tab.get("/slow");
    let logout = async {
        gate.loaded.notified().await;
        let logged_out = other_tab.post("/logout", &[]).await.0;
        gate.proceed.notify_one();
        logged_out
    };
    let ((slow_status, _, slow_body), logout_status) = tokio::join!(slow, logout);
    assert_eq!(logout_status, 200);
    // The save found no record and wrote nothing (the adapter's `save` is an update).
    assert_eq!((slow_status.as_u16(), slow_body.as_str()), (200, "written"));
    assert_eq!(row(&db, id_of(&cookie)).await, None, "the logout stands");
    assert_eq!(tab.get("/").await.0, 401);
}
