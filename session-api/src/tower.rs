//! A tower `Layer` for axum, hyper and any tower-based server (feature `tower`).
//!
//! It only wires the [`middleware`](crate::middleware) core to `http` types: the
//! request's `Cookie` headers in, `Set-Cookie` and `Vary: Cookie` out, 400 Bad Request
//! for [`Error::SessionInterrupted`]. Handlers reach the session through the
//! [`SessionHandle`] request extension (axum: `Extension<SessionHandle>`).
//!
//! ```
//! use std::sync::Arc;
//! use session_api::middleware::SessionMiddleware;
//! use session_api::tower::{SessionHandle, SessionLayer};
//! use session_api::{SecretKeys, SessionBackend, SessionConfig};
//! # fn demo(backend: SessionBackend) -> session_api::Result<()> {
//! let config = Arc::new(SessionConfig::builder(SecretKeys::new("change me")).build()?);
//! let layer = SessionLayer::new(SessionMiddleware::new(backend, config));
//! // axum: Router::new().route("/", get(handler)).layer(layer)
//! async fn handler(session: SessionHandle) -> session_api::Result<String> {
//!     let mut session = session.lock().await;
//!     let visits: i64 = session.aget("visits").await?.unwrap_or(0) + 1;
//!     session.aset("visits", &visits).await?;
//!     Ok(format!("visit {visits}"))
//! }
//! # let _ = layer; Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{HeaderValue, COOKIE, SET_COOKIE, VARY};
use http::{Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::Error;
pub use crate::middleware::SessionHandle;
use crate::middleware::{join_cookie_headers, vary_lists_cookie, SessionMiddleware};

/// The layer: wraps a service with Django's session middleware.
#[derive(Debug, Clone)]
pub struct SessionLayer {
    middleware: Arc<SessionMiddleware>,
}

impl SessionLayer {
    /// A layer over a middleware core.
    pub fn new(middleware: SessionMiddleware) -> Self {
        SessionLayer {
            middleware: Arc::new(middleware),
        }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            middleware: Arc::clone(&self.middleware),
        }
    }
}

/// The service [`SessionLayer`] produces.
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    middleware: Arc<SessionMiddleware>,
}

/// The future of [`SessionService`].
pub type SessionFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = SessionFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let header = join_cookie_headers(
            request
                .headers()
                .get_all(COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let handle = SessionHandle::new(self.middleware.request_session(header.as_deref()));
        request.extensions_mut().insert(handle.clone());
        // The ready service goes into the future; a fresh clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let middleware = Arc::clone(&self.middleware);
        Box::pin(async move {
            let mut response = inner.call(request).await?;
            let mut session = handle.lock().await;
            match middleware
                .aprocess_response(&mut session, response.status().as_u16())
                .await
            {
                Ok(directives) => {
                    if let Some(cookie) = directives.set_cookie {
                        match HeaderValue::from_str(&cookie) {
                            Ok(value) => {
                                response.headers_mut().append(SET_COOKIE, value);
                            }
                            Err(_) => return Ok(error_response(StatusCode::INTERNAL_SERVER_ERROR)),
                        }
                    }
                    if directives.vary_cookie {
                        patch_vary(&mut response);
                    }
                    Ok(response)
                }
                Err(Error::SessionInterrupted) => Ok(error_response(StatusCode::BAD_REQUEST)),
                Err(err) => {
                    tracing::error!(target: "django.contrib.sessions", "session save failed: {err}");
                    Ok(error_response(StatusCode::INTERNAL_SERVER_ERROR))
                }
            }
        })
    }
}

fn error_response<B: Default>(status: StatusCode) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = status;
    response
}

/// Django's `patch_vary_headers(response, ("Cookie",))`: add `Cookie` unless present.
fn patch_vary<B>(response: &mut Response<B>) {
    let listed = response
        .headers()
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok());
    if !vary_lists_cookie(listed) {
        response
            .headers_mut()
            .append(VARY, HeaderValue::from_static("Cookie"));
    }
}
