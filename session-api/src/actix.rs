//! Middleware for actix-web 4 (feature `actix`).
//!
//! Like the tower layer it only wires the [`middleware`](crate::middleware) core to the
//! framework: `Cookie` headers in, `Set-Cookie` and `Vary: Cookie` out, 400 Bad Request
//! for [`Error::SessionInterrupted`]. Handlers take `web::ReqData<SessionHandle>`.
//!
//! ```
//! use std::sync::Arc;
//! use actix_web::{web, App, HttpResponse};
//! use session_api::actix::{SessionHandle, Sessions};
//! use session_api::middleware::SessionMiddleware;
//! use session_api::{SecretKeys, SessionBackend, SessionConfig};
//!
//! async fn index(session: web::ReqData<SessionHandle>) -> HttpResponse {
//!     let mut session = session.lock().await;
//!     let visits: i64 = session.aget("visits").await.ok().flatten().unwrap_or(0) + 1;
//!     let _ = session.aset("visits", &visits).await;
//!     HttpResponse::Ok().body(format!("visit {visits}"))
//! }
//!
//! # fn demo(backend: SessionBackend) -> session_api::Result<()> {
//! let config = Arc::new(SessionConfig::builder(SecretKeys::new("change me")).build()?);
//! let middleware = SessionMiddleware::new(backend, config);
//! let _app = App::new()
//!     .wrap(Sessions::new(middleware))
//!     .route("/", web::get().to(index));
//! # Ok(()) }
//! ```

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderValue, COOKIE, SET_COOKIE, VARY};
use actix_web::{HttpMessage, HttpResponse};

use crate::error::Error;
pub use crate::middleware::SessionHandle;
use crate::middleware::{
    join_cookie_headers, vary_lists_cookie, ResponseDirectives, SessionMiddleware,
};

/// The middleware factory: `App::new().wrap(Sessions::new(middleware))`.
#[derive(Debug, Clone)]
pub struct Sessions {
    middleware: Arc<SessionMiddleware>,
}

impl Sessions {
    /// Wraps a middleware core.
    pub fn new(middleware: SessionMiddleware) -> Self {
        Sessions {
            middleware: Arc::new(middleware),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Sessions
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionsService {
            service: Rc::new(service),
            middleware: Arc::clone(&self.middleware),
        }))
    }
}

/// The service [`Sessions`] wraps around an application.
#[derive(Debug)]
pub struct SessionsService<S> {
    service: Rc<S>,
    middleware: Arc<SessionMiddleware>,
}

impl<S, B> Service<ServiceRequest> for SessionsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let header = join_cookie_headers(
            request
                .headers()
                .get_all(COOKIE)
                .filter_map(|v| v.to_str().ok()),
        );
        let handle = SessionHandle::new(self.middleware.request_session(header.as_deref()));
        request.extensions_mut().insert(handle.clone());
        let service = Rc::clone(&self.service);
        let middleware = Arc::clone(&self.middleware);
        Box::pin(async move {
            let mut response = service.call(request).await?;
            let mut session = handle.lock().await;
            let status = response.status().as_u16();
            let failure = match middleware.aprocess_response(&mut session, status).await {
                Ok(directives) => apply(&mut response, directives),
                Err(Error::SessionInterrupted) => Some(HttpResponse::BadRequest().finish()),
                Err(err) => {
                    tracing::error!(target: "django.contrib.sessions", "session save failed: {err}");
                    Some(HttpResponse::InternalServerError().finish())
                }
            };
            Ok(match failure {
                None => response.map_into_left_body(),
                Some(replacement) => {
                    let (request, _) = response.into_parts();
                    ServiceResponse::new(request, replacement.map_into_right_body())
                }
            })
        })
    }
}

/// Adds the directives' headers; a response to send instead when that is impossible.
fn apply<B>(
    response: &mut ServiceResponse<B>,
    directives: ResponseDirectives,
) -> Option<HttpResponse> {
    if let Some(cookie) = directives.set_cookie {
        match HeaderValue::from_str(&cookie) {
            Ok(value) => response.headers_mut().append(SET_COOKIE, value),
            Err(_) => return Some(HttpResponse::InternalServerError().finish()),
        }
    }
    let listed = vary_lists_cookie(
        response
            .headers()
            .get_all(VARY)
            .filter_map(|v| v.to_str().ok()),
    );
    if directives.vary_cookie && !listed {
        response
            .headers_mut()
            .append(VARY, HeaderValue::from_static("Cookie"));
    }
    None
}
