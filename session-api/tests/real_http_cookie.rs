//! Issue 12, finding 5, over real HTTP on 127.0.0.1: a non-ASCII byte in another
//! cookie of the request (Latin-1 `caf\xe9`, or valid UTF-8 `José`) never hides the
//! session cookie, for both adapters. Django reads such headers.
#![cfg(all(feature = "axum", feature = "actix"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::Fixture;
use session_api::middleware::SessionMiddleware;
use session_api::{Session, SessionKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Counts visits: `visit 2` proves the request's session was found.
async fn visits(session: Session) -> session_api::Result<String> {
    let visits: i64 = session.aget("visits").await?.unwrap_or(0) + 1;
    session.aset("visits", &visits).await?;
    Ok(format!("visit {visits}"))
}

/// The Cookie header values a browser may send beside the session cookie.
fn hostile_prefixes() -> Vec<Vec<u8>> {
    vec![
        b"theme=caf\xe9; ".to_vec(),
        "name=José; ".as_bytes().to_vec(),
        b"a=\x80\xff; b=2; ".to_vec(),
    ]
}

/// One HTTP/1.1 request written by hand (the header bytes go on the wire as given);
/// returns the raw response.
async fn raw_get(addr: SocketAddr, cookie: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request =
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nCookie: ".to_vec();
    request.extend_from_slice(cookie);
    request.extend_from_slice(b"\r\n\r\n");
    stream.write_all(&request).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the server answered")
        .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// Checks every hostile prefix against a server at `addr` on `f`'s store.
async fn check(f: &Fixture, addr: SocketAddr) {
    for prefix in hostile_prefixes() {
        let session = f.session(None);
        session.set("visits", &1).unwrap();
        session.save().unwrap();
        let key: SessionKey = session.session_key().unwrap();
        let mut cookie = prefix.clone();
        cookie.extend_from_slice(format!("sessionid={}", key.as_str()).as_bytes());
        let response = raw_get(addr, &cookie).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            response.ends_with("visit 2"),
            "session not found behind {:?}: {response}",
            String::from_utf8_lossy(&prefix)
        );
        // The session cookie is rewritten with the same key, not replaced.
        assert!(
            response.contains(&format!("sessionid={}", key.as_str())),
            "{response}"
        );
        assert_eq!(
            f.session(Some(key.as_str())).get::<i64>("visits").unwrap(),
            Some(2)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_finds_the_session_cookie_behind_non_ascii_cookies() {
    let f = Fixture::new();
    let app = axum::Router::new()
        .route("/", axum::routing::get(visits))
        .layer(session_api::tower::SessionLayer::new(
            SessionMiddleware::new(f.backend.clone(), f.config.clone()),
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    check(&f, addr).await;
    server.abort();
}

#[actix_web::test]
async fn actix_finds_the_session_cookie_behind_non_ascii_cookies() {
    let f = Fixture::new();
    let middleware = SessionMiddleware::new(f.backend.clone(), f.config.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(session_api::actix::Sessions::new(middleware.clone()))
            .route("/", actix_web::web::get().to(visits))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    check(&f, addr).await;
    handle.stop(true).await;
}
