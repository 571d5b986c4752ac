//! The shared HTTP rule list (`tests/http_rules/`) against actix-web with its session
//! middleware, over real HTTP on 127.0.0.1.
#![cfg(feature = "actix")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_rules;

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use http_rules::site::{custom_body, Adapter, ErrorPage, Server, SiteSpec, CUSTOM_STATUS};
use http_rules::views::view;
use session_api::actix::Sessions;
use session_api::Session;

struct Actix;

static ACTIX: Actix = Actix;

/// Every path goes to the shared views.
async fn handler(request: HttpRequest, session: Session) -> session_api::Result<HttpResponse> {
    let reply = view(request.path(), session).await?;
    let status = StatusCode::from_u16(reply.status).expect("a valid status");
    Ok(HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(reply.body))
}

impl Adapter for Actix {
    fn serve(&self, spec: SiteSpec) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let sessions = spec.middleware.map(|middleware| match spec.error_page {
            ErrorPage::Default => Sessions::new(middleware),
            ErrorPage::Custom => Sessions::new(middleware).on_error(|err| {
                HttpResponse::build(StatusCode::from_u16(CUSTOM_STATUS).unwrap())
                    .body(custom_body(err))
            }),
        });
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        // actix-web runs on its own single-threaded system, in a thread of its own.
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = match sessions {
                    Some(sessions) => HttpServer::new(move || {
                        App::new()
                            .wrap(sessions.clone())
                            .default_service(web::to(handler))
                    })
                    .workers(1)
                    .disable_signals()
                    .listen(listener)
                    .unwrap()
                    .run(),
                    None => HttpServer::new(|| App::new().default_service(web::to(handler)))
                        .workers(1)
                        .disable_signals()
                        .listen(listener)
                        .unwrap()
                        .run(),
                };
                handle_tx.send(server.handle()).unwrap();
                server.await
            })
        });
        let handle = handle_rx.recv().unwrap();
        Server::new(addr, move || {
            // Sent at once; the thread ends when the server has stopped.
            drop(handle.stop(false));
            thread.join().unwrap().unwrap();
        })
    }
}

http_rules::http_rule_tests!(ACTIX);
