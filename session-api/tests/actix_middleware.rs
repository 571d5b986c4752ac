//! The actix-web middleware: the middleware rules (section G) through actix types.
#![cfg(feature = "actix")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::http::header::{COOKIE, SET_COOKIE, VARY};
use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse};
use common::Fixture;
use session_api::actix::{SessionHandle, Sessions};
use session_api::middleware::SessionMiddleware;

async fn visit(session: web::ReqData<SessionHandle>) -> HttpResponse {
    let mut session = session.lock().await;
    let n: i64 = session.aget("visits").await.unwrap().unwrap_or(0) + 1;
    session.aset("visits", &n).await.unwrap();
    HttpResponse::Ok().body(n.to_string())
}

async fn logout(session: web::ReqData<SessionHandle>) -> HttpResponse {
    session.lock().await.aflush().await.unwrap();
    HttpResponse::Ok().finish()
}

async fn boom(session: web::ReqData<SessionHandle>) -> HttpResponse {
    session.lock().await.aset("x", &1).await.unwrap();
    HttpResponse::InternalServerError().finish()
}

#[actix_web::test]
async fn g1_g2_g4_cookie_round_trip_logout_and_500() {
    let f = Fixture::new();
    let mw = SessionMiddleware::new(f.backend.clone(), f.config.clone());
    let app = test::init_service(
        App::new()
            .wrap(Sessions::new(mw))
            .route("/", web::get().to(visit))
            .route("/logout", web::get().to(logout))
            .route("/boom", web::get().to(boom)),
    )
    .await;

    let res = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let set_cookie = res
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.starts_with("sessionid="), "{set_cookie}");
    assert_eq!(res.headers().get(VARY).unwrap(), "Cookie");
    let pair = set_cookie.split(';').next().unwrap().to_owned();

    let req = test::TestRequest::get()
        .uri("/")
        .insert_header((COOKIE, pair.as_str()))
        .to_request();
    let body = test::call_and_read_body(&app, req).await;
    assert_eq!(body, "2");

    let req = test::TestRequest::get()
        .uri("/logout")
        .insert_header((COOKIE, pair.as_str()))
        .to_request();
    let res = test::call_service(&app, req).await;
    let deleted = res.headers().get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(
        deleted.starts_with("sessionid=\"\"; expires=Thu, 01 Jan 1970"),
        "{deleted}"
    );
    let key = pair.trim_start_matches("sessionid=");
    assert!(f.session(Some(key)).keys().unwrap().is_empty());

    let res = test::call_service(&app, test::TestRequest::get().uri("/boom").to_request()).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(res.headers().get(SET_COOKIE).is_none());
}

#[actix_web::test]
async fn g5_concurrent_logout_answers_400() {
    let f = Fixture::new();
    let key = f.saved();
    let backend = f.backend.clone();
    let k = key.clone();
    let mw = SessionMiddleware::new(f.backend.clone(), f.config.clone());
    let app = test::init_service(App::new().wrap(Sessions::new(mw)).route(
        "/",
        web::get().to(move |session: web::ReqData<SessionHandle>| {
            let backend = backend.clone();
            let k = k.clone();
            async move {
                let mut session = session.lock().await;
                session.aset("b", &2).await.unwrap();
                backend.nonblocking().adelete(&k).await.unwrap();
                HttpResponse::Ok().finish()
            }
        }),
    ))
    .await;
    let req = test::TestRequest::get()
        .uri("/")
        .insert_header((COOKIE, format!("sessionid={}", key.as_str())))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}
