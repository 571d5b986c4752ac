//! The actix-web middleware: the middleware rules (section G) through actix types.
#![cfg(feature = "actix")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::http::header::{COOKIE, SET_COOKIE, VARY};
use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse};
use common::Fixture;
use std::sync::Arc;

use session_api::actix::Sessions;
use session_api::middleware::SessionMiddleware;
use session_api::{Session, SessionBackend, SessionKey};
use session_stores::signed_cookies::SignedCookieStore;

async fn visit(session: Session) -> session_api::Result<HttpResponse> {
    let n: i64 = session.aget("visits").await?.unwrap_or(0) + 1;
    session.aset("visits", &n).await?;
    Ok(HttpResponse::Ok().body(n.to_string()))
}

async fn logout(session: Session) -> session_api::Result<HttpResponse> {
    session.aflush().await?;
    Ok(HttpResponse::Ok().finish())
}

async fn boom(session: Session) -> session_api::Result<HttpResponse> {
    session.aset("x", &1).await?;
    Ok(HttpResponse::InternalServerError().finish())
}

/// Reads `name` as an integer: fails with `Error::Serialization` when it is text.
async fn typed(session: Session) -> session_api::Result<HttpResponse> {
    let n: Option<i64> = session.aget("name").await?;
    Ok(HttpResponse::Ok().body(format!("{n:?}")))
}

/// Stores a value over the browser's cookie limit: the signed-cookie store's save
/// fails (rule H4), a real store failure.
async fn oversized(session: Session) -> session_api::Result<HttpResponse> {
    session.aset("big", &incompressible()).await?;
    Ok(HttpResponse::Ok().body("handler body"))
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
        web::get().to(move |session: Session| {
            let backend = backend.clone();
            let k = k.clone();
            async move {
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

#[actix_web::test]
async fn without_the_middleware_the_extractor_answers_500_and_says_why() {
    let app = test::init_service(App::new().route("/", web::get().to(visit))).await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = test::read_body(res).await;
    let body = std::str::from_utf8(&body).unwrap();
    assert!(
        body.contains("no session middleware on this route"),
        "{body}"
    );
}

#[actix_web::test]
async fn a_handlers_question_mark_answers_500_not_200() {
    let f = Fixture::new();
    let session = f.session(None);
    session.set("name", "bob").unwrap();
    session.save().unwrap();
    let mw = SessionMiddleware::new(f.backend.clone(), f.config.clone());
    let app = test::init_service(
        App::new()
            .wrap(Sessions::new(mw))
            .route("/typed", web::get().to(typed)),
    )
    .await;
    let req = test::TestRequest::get()
        .uri("/typed")
        .insert_header((
            COOKIE,
            format!("sessionid={}", session.session_key().unwrap().as_str()),
        ))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = test::read_body(res).await;
    assert!(!std::str::from_utf8(&body).unwrap().contains("bob"));
}

fn oversized_app_parts() -> (SessionMiddleware, Fixture) {
    let f = Fixture::new();
    let store = SignedCookieStore::from_config(&f.config);
    let backend = SessionBackend::from_nonblocking_sync(Arc::new(store));
    (SessionMiddleware::new(backend, f.config.clone()), f)
}

#[actix_web::test]
async fn a_failed_save_answers_500_with_a_short_text_body() {
    let (mw, _f) = oversized_app_parts();
    let app = test::init_service(
        App::new()
            .wrap(Sessions::new(mw))
            .route("/", web::get().to(oversized)),
    )
    .await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(res.headers().get(SET_COOKIE).is_none());
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "text/plain; charset=utf-8"
    );
    let body = test::read_body(res).await;
    assert!(body.starts_with(b"Internal Server Error"));
}

#[actix_web::test]
async fn the_application_replaces_the_error_answer() {
    let (mw, _f) = oversized_app_parts();
    let sessions = Sessions::new(mw).on_error(|err| {
        HttpResponse::ServiceUnavailable().body(format!("custom: {}", err.is_bad_signature()))
    });
    let app = test::init_service(
        App::new()
            .wrap(sessions)
            .route("/", web::get().to(oversized)),
    )
    .await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(test::read_body(res).await, "custom: false");
}

/// About 9,600 random characters: even zlib-compressed (the signed cookie is) they are
/// far over the 4,096-byte cookie limit.
fn incompressible() -> String {
    (0..300)
        .map(|_| SessionKey::generate().as_str().to_owned())
        .collect()
}
