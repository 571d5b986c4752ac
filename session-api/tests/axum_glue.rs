//! The axum glue: `Session` as an extractor, `Error` as a response, through a real
//! axum `Router` with the tower layer.
#![cfg(feature = "axum")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::{to_bytes, Body};
use axum::routing::get;
use axum::Router;
use common::Fixture;
use http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{Request, StatusCode};
use session_api::middleware::SessionMiddleware;
use session_api::tower::SessionLayer;
use session_api::Session;
use tower::ServiceExt;

/// The README's handler: one extractor argument, one await per read, `?` for errors.
async fn visits(session: Session) -> session_api::Result<String> {
    let visits: i64 = session.aget("visits").await?.unwrap_or(0) + 1;
    session.aset("visits", &visits).await?;
    Ok(format!("visit {visits}"))
}

/// Reads `name` as an integer: fails with `Error::Serialization` when it is text.
async fn typed(session: Session) -> session_api::Result<String> {
    let n: Option<i64> = session.aget("name").await?;
    Ok(format!("{n:?}"))
}

fn router(f: &Fixture) -> Router {
    Router::new()
        .route("/", get(visits))
        .route("/typed", get(typed))
        .layer(SessionLayer::new(SessionMiddleware::new(
            f.backend.clone(),
            f.config.clone(),
        )))
}

fn get_request(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().uri(path);
    if let Some(c) = cookie {
        builder = builder.header(COOKIE, c);
    }
    builder.body(Body::empty()).unwrap()
}

async fn body_text(response: axum::response::Response) -> String {
    let bytes = to_bytes(response.into_body(), 64 * 1024).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn the_extractor_reads_and_writes_the_requests_session() {
    let f = Fixture::new();
    let app = router(&f);
    let response = app.clone().oneshot(get_request("/", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(body_text(response).await, "visit 1");
    let response = app.oneshot(get_request("/", Some(&pair))).await.unwrap();
    assert_eq!(body_text(response).await, "visit 2");
}

#[tokio::test]
async fn without_the_layer_the_extractor_rejects_with_500_and_says_why() {
    let app = Router::new().route("/", get(visits));
    let response = app.oneshot(get_request("/", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
    assert!(body_text(response)
        .await
        .contains("no session middleware on this route"));
}

#[tokio::test]
async fn a_handlers_question_mark_answers_500_not_200() {
    let f = Fixture::new();
    let session = f.session(None);
    session.set("name", "bob").unwrap();
    session.save().unwrap();
    let cookie = format!("sessionid={}", session.session_key().unwrap().as_str());
    let response = router(&f)
        .oneshot(get_request("/typed", Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = body_text(response).await;
    assert!(body.starts_with("Internal Server Error"), "{body}");
    assert!(!body.contains("bob"), "session data leaked: {body}");
}
