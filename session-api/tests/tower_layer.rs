//! The tower layer: the middleware rules (section G) through `http` types.
#![cfg(feature = "tower")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::convert::Infallible;
use std::sync::Arc;

use common::Fixture;
use http::header::{HeaderValue, CONTENT_TYPE, COOKIE, SET_COOKIE, VARY};
use http::{Request, Response, StatusCode};
use session_api::middleware::SessionMiddleware;
use session_api::tower::SessionLayer;
use session_api::{Error, Session, SessionBackend, SessionKey};
use session_stores::signed_cookies::SignedCookieStore;
use tower::{service_fn, Layer, ServiceExt};

async fn visits(request: Request<String>) -> Result<Response<String>, Infallible> {
    let session = request.extensions().get::<Session>().unwrap().clone();
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
                let session = request.extensions().get::<Session>().unwrap().clone();
                session.aset("b", &2).await.unwrap();
                backend.nonblocking().adelete(&k).await.unwrap();
                Ok::<_, Infallible>(Response::new(String::new()))
            }
        }),
    );
    let response = svc.oneshot(request("/", Some(&cookie))).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// A real store failure: the signed-cookie store refuses a value over the browser's
/// cookie limit (rule H4), so the response save fails.
fn oversized_cookie_layer() -> SessionLayer {
    let f = Fixture::new();
    let store = SignedCookieStore::from_config(&f.config);
    let backend = SessionBackend::from_nonblocking_sync(Arc::new(store));
    SessionLayer::new(SessionMiddleware::new(backend, f.config.clone()))
}

async fn oversized(request: Request<String>) -> Result<Response<String>, Infallible> {
    let session = request.extensions().get::<Session>().unwrap().clone();
    session.aset("big", &incompressible()).await.unwrap();
    Ok(Response::new("handler body".to_owned()))
}

#[tokio::test]
async fn a_failed_save_answers_500_with_a_short_text_body() {
    let response = oversized_cookie_layer()
        .layer(service_fn(oversized))
        .oneshot(request("/", None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
    assert!(!response.headers().contains_key(SET_COOKIE));
    let body = response.into_body();
    assert!(body.starts_with("Internal Server Error"), "{body}");
    assert!(!body.contains("4096"), "details leak to the client: {body}");
}

#[tokio::test]
async fn the_application_replaces_the_error_answer() {
    let layer = oversized_cookie_layer().on_error(|err: &Error| {
        let mut response =
            Response::new(format!("{{\"session_error\": {}}}", err.is_bad_signature()));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response
    });
    let response = layer
        .layer(service_fn(oversized))
        .oneshot(request("/", None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.into_body(), "{\"session_error\": false}");
}

#[tokio::test]
async fn a_non_utf8_cookie_header_does_not_hide_the_session_cookie() {
    let f = Fixture::new();
    let key = f.saved();
    let svc = SessionLayer::new(SessionMiddleware::new(f.backend.clone(), f.config.clone()))
        .layer(service_fn(visits));
    // One header, as a browser sends it: a Latin-1 byte in another cookie's value.
    let mut header = b"theme=caf\xe9; sessionid=".to_vec();
    header.extend_from_slice(key.as_str().as_bytes());
    let mut req = request("/", None);
    req.headers_mut()
        .append(COOKIE, HeaderValue::from_bytes(&header).unwrap());
    let response = svc.oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The visit counted on the existing session: the cookie was found.
    assert_eq!(
        f.session(Some(key.as_str())).get::<i64>("visits").unwrap(),
        Some(1)
    );
}

/// About 9,600 random characters: even zlib-compressed (the signed cookie is) they are
/// far over the 4,096-byte cookie limit.
fn incompressible() -> String {
    (0..300)
        .map(|_| SessionKey::generate().as_str().to_owned())
        .collect()
}
