//! Middleware for actix-web 4 (feature `actix`).
//!
//! Like the tower layer it only wires the [`middleware`](crate::middleware) core to the
//! framework: `Cookie` headers (and the id header, when the settings name one: rule
//! S6) in, `Set-Cookie`, the id header and `Vary` out. [`Session`] is
//! an extractor (`FromRequest`) and [`Error`] a `ResponseError`, so handlers take
//! `session: Session` and use `?`. When the session cannot be saved, and when a
//! handler's `?` returned a session error, the middleware answers with
//! [`ErrorReply::for_policy`] under the settings' store failure policy (rule V5), or
//! with the application's handler ([`Sessions::on_error`]).
//!
//! ```
//! use std::sync::Arc;
//! use actix_web::{web, App, HttpResponse};
//! use session_api::actix::Sessions;
//! use session_api::middleware::SessionMiddleware;
//! use session_api::{SecretKeys, Session, SessionBackend, SessionConfig};
//!
//! async fn index(session: Session) -> session_api::Result<HttpResponse> {
//!     let visits: i64 = session.aget("visits").await?.unwrap_or(0) + 1;
//!     session.aset("visits", &visits).await?;
//!     Ok(HttpResponse::Ok().body(format!("visit {visits}")))
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

use std::fmt;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue, COOKIE, RETRY_AFTER, VARY};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::error::Error;
use crate::middleware::{
    join_cookie_headers, log_session_error, ErrorReply, HeaderMode, MissingSessionLayer,
    ResponseDirectives, SessionMiddleware,
};
use crate::session::Session;

/// The answer sent for a session error; see [`Sessions::on_error`].
pub type ErrorHandler = Arc<dyn Fn(&Error) -> HttpResponse + Send + Sync>;

/// The middleware factory: `App::new().wrap(Sessions::new(middleware))`.
#[derive(Clone)]
pub struct Sessions {
    middleware: Arc<SessionMiddleware>,
    on_error: ErrorHandler,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("middleware", &self.middleware)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Wraps a middleware core; failures are answered with [`ErrorReply::for_policy`]
    /// under the settings' store failure policy (V5).
    pub fn new(middleware: SessionMiddleware) -> Self {
        let policy = middleware.config().store_failure;
        Sessions {
            middleware: Arc::new(middleware),
            on_error: Arc::new(move |err| reply_response(&ErrorReply::for_policy(err, policy))),
        }
    }

    /// Replaces the handler that answers session errors: a failed save, and a
    /// handler's `?` on a session call, such as a load during a store outage. It sees
    /// every error, whatever the store failure policy (V5).
    pub fn on_error(
        mut self,
        handler: impl Fn(&Error) -> HttpResponse + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Arc::new(handler);
        self
    }
}

/// An [`ErrorReply`] as an actix-web response, with its `Retry-After` when it has one.
pub fn reply_response(reply: &ErrorReply) -> HttpResponse {
    let mut response = HttpResponse::build(
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    response.content_type(reply.content_type);
    if let Some(seconds) = reply.retry_after {
        response.insert_header((RETRY_AFTER, seconds));
    }
    response.body(reply.body)
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
            on_error: Arc::clone(&self.on_error),
        }))
    }
}

/// The service [`Sessions`] wraps around an application.
pub struct SessionsService<S> {
    service: Rc<S>,
    middleware: Arc<SessionMiddleware>,
    on_error: ErrorHandler,
}

impl<S> fmt::Debug for SessionsService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionsService")
            .field("middleware", &self.middleware)
            .finish_non_exhaustive()
    }
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
        let headers = request.headers();
        let cookie = join_cookie_headers(headers.get_all(COOKIE).map(|v| v.as_bytes()));
        let id_values: Vec<&[u8]> = match self.middleware.config().id_transport.header() {
            Some(name) => headers.get_all(name).map(|v| v.as_bytes()).collect(),
            None => Vec::new(),
        };
        let request_session = self
            .middleware
            .request_session_from(cookie.as_deref(), &id_values);
        request
            .extensions_mut()
            .insert(request_session.session.clone());
        let service = Rc::clone(&self.service);
        let middleware = Arc::clone(&self.middleware);
        let on_error = Arc::clone(&self.on_error);
        Box::pin(async move {
            let response = service.call(request).await?;
            // A handler's `?` on a session error: the application's page answers it too.
            let page = response
                .response()
                .error()
                .and_then(|err| err.as_error::<Error>())
                .map(|err| on_error(err));
            let mut response = match page {
                Some(page) => {
                    let (request, _) = response.into_parts();
                    ServiceResponse::new(request, page.map_into_right_body())
                }
                None => response.map_into_left_body(),
            };
            let status = response.status().as_u16();
            let outcome = middleware
                .aprocess_response(&request_session, status)
                .await
                .and_then(|directives| apply(&mut response, directives));
            Ok(match outcome {
                Ok(()) => response,
                Err(err) => {
                    log_session_error(&err);
                    let (request, _) = response.into_parts();
                    ServiceResponse::new(request, on_error(&err).map_into_right_body())
                }
            })
        })
    }
}

/// Adds the directives' headers to the response.
fn apply<B>(
    response: &mut ServiceResponse<B>,
    directives: ResponseDirectives,
) -> crate::Result<()> {
    let vary: Vec<String> = response
        .headers()
        .get_all(VARY)
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    for write in directives.header_writes(vary.iter().map(String::as_str)) {
        let name = HeaderName::from_bytes(write.name.as_bytes()).map_err(Error::configuration)?;
        let value = HeaderValue::from_str(&write.value).map_err(Error::configuration)?;
        match write.mode {
            HeaderMode::Append => response.headers_mut().append(name, value),
            HeaderMode::Replace => {
                response.headers_mut().insert(name, value);
            }
        }
    }
    Ok(())
}

/// `session: Session` in a handler: the session [`Sessions`] put on the request.
impl FromRequest for Session {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(
            request
                .extensions()
                .get::<Session>()
                .cloned()
                .ok_or_else(|| MissingSessionLayer.into()),
        )
    }
}

impl ResponseError for MissingSessionLayer {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
    fn error_response(&self) -> HttpResponse {
        tracing::error!(target: "django.contrib.sessions", "{self}");
        reply_response(&self.reply())
    }
}

/// A handler's `?` on a session call answers like the middleware does: 400 for a
/// concurrent logout, 409 for a conflict (V2), 503 for an unreachable store, 500
/// otherwise; details go to the log. Behind [`Sessions`], its error handler ([`Sessions::on_error`]) answers
/// instead.
impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(ErrorReply::for_error(self).status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
    fn error_response(&self) -> HttpResponse {
        log_session_error(self);
        reply_response(&ErrorReply::for_error(self))
    }
}
