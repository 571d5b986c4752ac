//! The axum-login example app (`examples/axum_login.rs`: axum-login 0.18 on
//! tower-sessions 0.14) on our SQLite store, over real HTTP on 127.0.0.1 with a
//! cookie-keeping client: login, the protected page, logout, and what a stolen or
//! chosen cookie is worth.

mod common;

// The example's router; its `main` is for `cargo run` only.
#[path = "../examples/axum_login.rs"]
#[allow(dead_code)]
mod example;

use common::http::{row, serve, sqlite, tower_store, Browser};
use tower_sessions_core_014::session::Id;

fn id_of(cookie: &str) -> i128 {
    cookie.parse::<Id>().expect("a tower-sessions id").0
}

#[tokio::test]
async fn login_protected_page_and_logout() {
    let (db, _dir) = sqlite().await;
    let addr = serve(example::app(tower_store(&db))).await;
    let browser = Browser::new(addr);

    // Anonymous: the protected page is refused and nothing is stored.
    let (status, _, _) = browser.get("/").await;
    assert_eq!(status, 401);
    assert_eq!(browser.session_cookie(), None);

    // The login form remembers where to go next: an anonymous session row.
    let (status, _, body) = browser.get("/login?next=/").await;
    assert_eq!(status, 200);
    assert!(body.contains("<form"));
    let anonymous = id_of(&browser.session_cookie().expect("a session cookie"));
    let stored = row(&db, anonymous)
        .await
        .expect("the anonymous session's row");
    assert_eq!(stored.get::<String>("next").unwrap().as_deref(), Some("/"));

    // A wrong password: refused, still anonymous.
    let (status, _, _) = browser
        .post("/login", &[("username", "alice"), ("password", "rabbit")])
        .await;
    assert_eq!(status, 401);
    assert_eq!(browser.get("/").await.0, 401);

    // The right one: back to `next`, under a new session id (fixation, rule A5).
    let (status, location, _) = browser
        .post(
            "/login",
            &[("username", "alice"), ("password", "wonderland")],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("/"));
    let cookie = browser.session_cookie().expect("a session cookie");
    let logged_in = id_of(&cookie);
    assert_ne!(logged_in, anonymous, "the login cycles the id");
    assert_eq!(row(&db, anonymous).await, None, "the anonymous row is gone");
    let stored = row(&db, logged_in)
        .await
        .expect("the logged-in session's row");
    assert!(
        stored.contains_key("axum-login.data"),
        "axum-login's data is in django_session"
    );
    assert!(!stored.contains_key("next"));

    let (status, _, body) = browser.get("/").await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "hello, alice"));

    // Logout deletes the row; the page is refused again.
    let (status, _, body) = browser.post("/logout", &[]).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "logged out"));
    assert_eq!(row(&db, logged_in).await, None);
    assert_eq!(browser.get("/").await.0, 401);

    // The cookie of before the logout, replayed, logs nobody in and brings back
    // no row.
    let thief = Browser::new(addr);
    thief.set_session_cookie(&cookie);
    assert_eq!(thief.get("/").await.0, 401);
    assert_eq!(row(&db, logged_in).await, None);
}

#[tokio::test]
async fn a_client_chosen_session_id_is_never_adopted() {
    let (db, _dir) = sqlite().await;
    let addr = serve(example::app(tower_store(&db))).await;
    let browser = Browser::new(addr);
    let chosen = Id(0x0123_4567_89ab_cdef);
    browser.set_session_cookie(&chosen.to_string());

    let (status, _, _) = browser
        .post(
            "/login",
            &[("username", "alice"), ("password", "wonderland")],
        )
        .await;
    assert_eq!(status, 303);
    let issued = id_of(&browser.session_cookie().expect("a session cookie"));
    assert_ne!(issued, chosen.0, "rule A3");
    assert_eq!(row(&db, chosen.0).await, None);
    assert!(row(&db, issued).await.is_some());
    assert_eq!(browser.get("/").await.0, 200);
}
