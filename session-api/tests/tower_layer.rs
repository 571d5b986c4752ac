//! The tower layer on a plain tower service (no axum), with a body type of its own:
//! the layer and the application's error answer work for any body that can carry the
//! error text. The middleware rules themselves run over real HTTP, for every adapter,
//! in `tests/http_rules/`.
#![cfg(feature = "tower")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::convert::Infallible;
use std::sync::Arc;

use common::Fixture;
use http::header::{COOKIE, SET_COOKIE};
use http::{Request, Response, StatusCode};
use session_api::middleware::SessionMiddleware;
use session_api::tower::SessionLayer;
use session_api::{Error, Session, SessionBackend, SessionKey};
use session_stores::signed_cookies::SignedCookieStore;
use tower::{service_fn, Layer, ServiceExt};

/// Counts visits; `/big` stores more than a signed cookie can hold (rule H4).
async fn app(request: Request<String>) -> Result<Response<String>, Infallible> {
    let session = request.extensions().get::<Session>().unwrap().clone();
    if request.uri().path() == "/big" {
        let big: String = (0..300)
            .map(|_| SessionKey::generate().as_str().to_owned())
            .collect();
        session.aset("big", &big).await.unwrap();
    } else {
        let n: i64 = session.aget("visits").await.unwrap().unwrap_or(0) + 1;
        session.aset("visits", &n).await.unwrap();
    }
    Ok(Response::new("handler body".to_owned()))
}

fn request(path: &str, cookie: Option<&str>) -> Request<String> {
    let mut builder = Request::builder().uri(path);
    if let Some(c) = cookie {
        builder = builder.header(COOKIE, c);
    }
    builder.body(String::new()).unwrap()
}

/// The application's error answer, in the service's own body type.
fn json_error(err: &Error) -> Response<String> {
    let mut response = Response::new(format!("{{\"session_error\": {}}}", err.is_bad_signature()));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}

#[tokio::test]
async fn the_layer_serves_a_plain_tower_service_with_its_own_body_type() {
    let f = Fixture::new();
    let svc = SessionLayer::new(SessionMiddleware::new(f.backend.clone(), f.config.clone()))
        .on_error(json_error)
        .layer(service_fn(app));
    let response = svc.clone().oneshot(request("/", None)).await.unwrap();
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let pair = set_cookie.split(';').next().unwrap();
    let response = svc.oneshot(request("/", Some(pair))).await.unwrap();
    assert_eq!(response.into_body(), "handler body");
    let key = pair.trim_start_matches("sessionid=");
    assert_eq!(f.session(Some(key)).get::<i64>("visits").unwrap(), Some(2));
}

#[tokio::test]
async fn the_applications_error_answer_uses_the_services_body_type() {
    let f = Fixture::new();
    let store = SignedCookieStore::from_config(&f.config);
    let backend = SessionBackend::from_nonblocking_sync(Arc::new(store));
    let response = SessionLayer::new(SessionMiddleware::new(backend, f.config.clone()))
        .on_error(json_error)
        .layer(service_fn(app))
        .oneshot(request("/big", None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!response.headers().contains_key(SET_COOKIE));
    assert_eq!(response.into_body(), "{\"session_error\": false}");
}
