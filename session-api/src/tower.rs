//! A tower `Layer` for axum, hyper and any tower-based server (feature `tower`).
//!
//! It only wires the [`middleware`](crate::middleware) core to `http` types: the
//! request's `Cookie` headers (and the id header, when the settings name one: rule
//! S6) in, `Set-Cookie`, the id header and `Vary` out. Handlers reach
//! the [`Session`](crate::Session) through the request extensions; with feature `axum`, `Session` is
//! an extractor (see [`crate::axum`]). When the session cannot be saved, and when an
//! axum handler's `?` returned a session error, the layer answers through an
//! [`ErrorHandler`]: [`DefaultErrorHandler`] sends [`ErrorReply::for_policy`] (400 for
//! a concurrent logout, 409 for a conflict, for an unreachable store what
//! [`SessionConfig::store_failure`](crate::config::SessionConfig::store_failure) says,
//! 500 otherwise); [`SessionLayer::on_error`] replaces it.
//!
//! ```
//! use std::sync::Arc;
//! use session_api::middleware::SessionMiddleware;
//! use session_api::tower::SessionLayer;
//! use session_api::{SecretKeys, SessionBackend, SessionConfig};
//! # fn demo(backend: SessionBackend) -> session_api::Result<()> {
//! let config = Arc::new(SessionConfig::builder(SecretKeys::new("change me")).build()?);
//! let layer = SessionLayer::new(SessionMiddleware::new(backend, config))
//!     // Optional: answer failures in the application's own format.
//!     .on_error(|err: &session_api::Error| {
//!         let mut response = http::Response::new(format!("{{\"error\": \"{err}\"}}"));
//!         *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
//!         response
//!     });
//! // axum: Router::new().route("/", get(handler)).layer(layer)
//! # let _ = layer; Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, COOKIE, RETRY_AFTER, VARY};
use http::{Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use crate::config::StoreFailurePolicy;
use crate::error::Error;
use crate::middleware::{
    join_cookie_headers, log_session_error, ErrorReply, HeaderMode, ResponseDirectives,
    SessionMiddleware,
};

/// Turns a session error (a failed save, or a handler's `?` on a session call) into
/// the response sent instead of the application's.
///
/// Implemented for [`DefaultErrorHandler`] and for every
/// `Fn(&Error) -> Response<B> + Clone + Send + Sync + 'static`.
pub trait ErrorHandler<B>: Clone + Send + Sync + 'static {
    /// The response for `err`.
    fn respond(&self, err: &Error) -> Response<B>;
}

/// The default [`ErrorHandler`]: [`ErrorReply::for_policy`] as a `text/plain`
/// response, under the store failure policy of the layer's settings (rule V5).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultErrorHandler {
    store_failure: StoreFailurePolicy,
}

impl DefaultErrorHandler {
    /// The handler answering an unreachable store as `store_failure` says.
    pub fn new(store_failure: StoreFailurePolicy) -> Self {
        DefaultErrorHandler { store_failure }
    }
}

impl<B: From<&'static str>> ErrorHandler<B> for DefaultErrorHandler {
    fn respond(&self, err: &Error) -> Response<B> {
        reply_response(&ErrorReply::for_policy(err, self.store_failure))
    }
}

impl<B, F> ErrorHandler<B> for F
where
    F: Fn(&Error) -> Response<B> + Clone + Send + Sync + 'static,
{
    fn respond(&self, err: &Error) -> Response<B> {
        self(err)
    }
}

/// An [`ErrorReply`] as an `http` response, with its `Retry-After` when it has one.
pub fn reply_response<B: From<&'static str>>(reply: &ErrorReply) -> Response<B> {
    let mut response = Response::new(B::from(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    if let Some(seconds) = reply.retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The layer: wraps a service with Django's session middleware.
#[derive(Debug, Clone)]
pub struct SessionLayer<H = DefaultErrorHandler> {
    middleware: Arc<SessionMiddleware>,
    on_error: H,
}

impl SessionLayer {
    /// A layer over a middleware core, answering failures with [`DefaultErrorHandler`]
    /// under the settings' store failure policy.
    pub fn new(middleware: SessionMiddleware) -> Self {
        let on_error = DefaultErrorHandler::new(middleware.config().store_failure);
        SessionLayer {
            middleware: Arc::new(middleware),
            on_error,
        }
    }
}

impl<H> SessionLayer<H> {
    /// Replaces the handler that answers session errors: a failed save, and (with
    /// axum) a handler's `?` on a session call, such as a load during a store outage.
    /// It sees every error, whatever the store failure policy (V5); under
    /// [`StoreFailurePolicy::ServeEmpty`] a load that finds the store down is no
    /// error (the request is served), so it does not get there.
    pub fn on_error<H2>(self, handler: H2) -> SessionLayer<H2> {
        SessionLayer {
            middleware: self.middleware,
            on_error: handler,
        }
    }
}

impl<S, H: Clone> Layer<S> for SessionLayer<H> {
    type Service = SessionService<S, H>;
    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            middleware: Arc::clone(&self.middleware),
            on_error: self.on_error.clone(),
        }
    }
}

/// The service [`SessionLayer`] produces.
#[derive(Debug, Clone)]
pub struct SessionService<S, H = DefaultErrorHandler> {
    inner: S,
    middleware: Arc<SessionMiddleware>,
    on_error: H,
}

/// The future of [`SessionService`].
pub type SessionFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, H, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S, H>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    H: ErrorHandler<ResBody>,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = SessionFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let headers = request.headers();
        let cookie = join_cookie_headers(headers.get_all(COOKIE).iter().map(|v| v.as_bytes()));
        let id_values: Vec<&[u8]> = match self.middleware.config().id_transport.header() {
            Some(name) => headers.get_all(name).iter().map(|v| v.as_bytes()).collect(),
            None => Vec::new(),
        };
        let request_session = self
            .middleware
            .request_session_from(cookie.as_deref(), &id_values);
        request
            .extensions_mut()
            .insert(request_session.session.clone());
        // The ready service goes into the future; a fresh clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let middleware = Arc::clone(&self.middleware);
        let on_error = self.on_error.clone();
        Box::pin(async move {
            let mut response = inner.call(request).await?;
            // A handler's `?` on a session error: the application's page answers it too.
            #[cfg(feature = "axum")]
            if let Some(crate::axum::HandlerError(err)) = response.extensions_mut().remove() {
                response = on_error.respond(&err);
            }
            let status = response.status().as_u16();
            let outcome = middleware
                .aprocess_response(&request_session, status)
                .await
                .and_then(|directives| apply(&mut response, directives));
            Ok(match outcome {
                Ok(()) => response,
                Err(err) => {
                    log_session_error(&err);
                    on_error.respond(&err)
                }
            })
        })
    }
}

/// Adds the directives' headers to the response.
fn apply<B>(response: &mut Response<B>, directives: ResponseDirectives) -> crate::Result<()> {
    let vary: Vec<String> = response
        .headers()
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    for write in directives.header_writes(vary.iter().map(String::as_str)) {
        let name = HeaderName::from_bytes(write.name.as_bytes()).map_err(Error::configuration)?;
        let value = HeaderValue::from_str(&write.value).map_err(Error::configuration)?;
        match write.mode {
            HeaderMode::Append => {
                response.headers_mut().append(name, value);
            }
            HeaderMode::Replace => {
                response.headers_mut().insert(name, value);
            }
        }
    }
    Ok(())
}
