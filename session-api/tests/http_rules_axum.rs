//! The shared HTTP rule list (`tests/http_rules/`) against axum with the tower layer,
//! over real HTTP on 127.0.0.1.
#![cfg(feature = "axum")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_rules;

use axum::body::Body;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use http_rules::site::{custom_body, Adapter, ErrorPage, Server, SiteSpec, CUSTOM_STATUS};
use http_rules::views::view;
use session_api::tower::SessionLayer;
use session_api::{Error, Session};

struct Axum;

static AXUM: Axum = Axum;

/// Every path goes to the shared views.
async fn handler(uri: Uri, session: Session) -> session_api::Result<Response> {
    let reply = view(uri.path(), session).await?;
    let status = StatusCode::from_u16(reply.status).expect("a valid status");
    Ok((status, reply.body).into_response())
}

fn custom_page(err: &Error) -> Response<Body> {
    let status = StatusCode::from_u16(CUSTOM_STATUS).expect("a valid status");
    (status, custom_body(err)).into_response()
}

impl Adapter for Axum {
    fn serve(&self, spec: SiteSpec) -> Server {
        let routes = Router::new().route("/{*path}", any(handler));
        let app = match (spec.middleware, spec.error_page) {
            (None, _) => routes,
            (Some(middleware), ErrorPage::Default) => routes.layer(SessionLayer::new(middleware)),
            (Some(middleware), ErrorPage::Custom) => {
                routes.layer(SessionLayer::new(middleware).on_error(custom_page))
            }
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let task = tokio::spawn(async move { axum::serve(listener, app).await });
        Server::new(addr, move || task.abort())
    }
}

http_rules::http_rule_tests!(AXUM);
