//! The tower layer: the middleware rules (section G) through `http` types.
#![cfg(feature = "tower")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::convert::Infallible;

use common::Fixture;
use http::header::{COOKIE, SET_COOKIE, VARY};
use http::{Request, Response, StatusCode};
use session_api::middleware::SessionMiddleware;
use session_api::tower::{SessionHandle, SessionLayer};
use tower::{service_fn, Layer, ServiceExt};

async fn visits(request: Request<String>) -> Result<Response<String>, Infallible> {
    let handle = request.extensions().get::<SessionHandle>().unwrap().clone();
    let mut session = handle.lock().await;
    let status = match request.uri().path() {
        "/logout" => {
            session.aflush().await.unwrap();
            StatusCode::OK
        }
        "/boom" => {
            session.aset("x", &1).await.unwrap();
            StatusCode::INTERNAL_SERVER_ERROR
        }
        "/read" => {
            session.aget_value("visits").await.unwrap();
            StatusCode::OK
        }
        _ => {
            let n: i64 = session.aget("visits").await.unwrap().unwrap_or(0) + 1;
            session.aset("visits", &n).await.unwrap();
            StatusCode::OK
        }
    };
    let mut response = Response::new(String::new());
    *response.status_mut() = status;
    Ok(response)
}

fn request(path: &str, cookie: Option<&str>) -> Request<String> {
    let mut builder = Request::builder().uri(path);
    if let Some(c) = cookie {
        builder = builder.header(COOKIE, c);
    }
    builder.body(String::new()).unwrap()
}

#[tokio::test]
async fn g1_g4_cookie_round_trip_through_the_layer() {
    let f = Fixture::new();
    let layer = SessionLayer::new(SessionMiddleware::new(f.backend.clone(), f.config.clone()));
    let svc = layer.layer(service_fn(visits));

    let response = svc.clone().oneshot(request("/", None)).await.unwrap();
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("sessionid="), "{set_cookie}");
    assert_eq!(response.headers()[VARY], "Cookie");
    let pair = set_cookie.split(';').next().unwrap().to_owned();

    // HTTP/2 style: the cookie split over two headers.
    let mut req = request("/", Some("other=1"));
    req.headers_mut().append(COOKIE, pair.parse().unwrap());
    let response = svc.clone().oneshot(req).await.unwrap();
    assert!(response.headers().contains_key(SET_COOKIE));
    let key = pair.trim_start_matches("sessionid=");
    assert_eq!(f.session(Some(key)).get::<i64>("visits").unwrap(), Some(2));

    // G3: a read varies on Cookie but sets nothing.
    let response = svc
        .clone()
        .oneshot(request("/read", Some(&pair)))
        .await
        .unwrap();
    assert!(!response.headers().contains_key(SET_COOKIE));
    assert_eq!(response.headers()[VARY], "Cookie");
}

#[tokio::test]
async fn g2_g4_logout_deletes_and_500_does_not_save() {
    let f = Fixture::new();
    let svc = SessionLayer::new(SessionMiddleware::new(f.backend.clone(), f.config.clone()))
        .layer(service_fn(visits));
    let response = svc.clone().oneshot(request("/boom", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!response.headers().contains_key(SET_COOKIE));

    let key = f.saved();
    let cookie = format!("sessionid={}", key.as_str());
    let response = svc
        .clone()
        .oneshot(request("/logout", Some(&cookie)))
        .await
        .unwrap();
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(
        set_cookie.starts_with("sessionid=\"\"; expires=Thu, 01 Jan 1970"),
        "{set_cookie}"
    );
}

#[tokio::test]
async fn g5_concurrent_logout_answers_400() {
    let f = Fixture::new();
    let key = f.saved();
    let cookie = format!("sessionid={}", key.as_str());
    let backend = f.backend.clone();
    let k = key.clone();
    // The handler logs the session out behind the request's back, then modifies it.
    let svc = SessionLayer::new(SessionMiddleware::new(f.backend.clone(), f.config.clone())).layer(
        service_fn(move |request: Request<String>| {
            let backend = backend.clone();
            let k = k.clone();
            async move {
                let handle = request.extensions().get::<SessionHandle>().unwrap().clone();
                let mut session = handle.lock().await;
                session.aset("b", &2).await.unwrap();
                backend.nonblocking().adelete(&k).await.unwrap();
                Ok::<_, Infallible>(Response::new(String::new()))
            }
        }),
    );
    let response = svc.oneshot(request("/", Some(&cookie))).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
