//! axum glue (feature `axum`): [`Session`] is an extractor and [`Error`] a response.
//!
//! The extractor takes the session the [`SessionLayer`](crate::tower::SessionLayer)
//! put on the request; without the layer it rejects with [`MissingSessionLayer`]
//! (500, and a log line naming the fix). A handler reads a typed value with one await
//! and propagates errors with `?`:
//!
//! ```
//! use session_api::Session;
//!
//! async fn visits(session: Session) -> session_api::Result<String> {
//!     let visits: i64 = session.aget("visits").await?.unwrap_or(0) + 1;
//!     session.aset("visits", &visits).await?;
//!     Ok(format!("visit {visits}"))
//! }
//! # let _ = visits;
//! ```

use std::sync::Arc;

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::error::Error;
use crate::middleware::{log_session_error, ErrorReply, MissingSessionLayer};
use crate::session::Session;
use crate::tower::reply_response;

/// The session error a handler's `?` answered with, carried on its response so that
/// the layer's [`ErrorHandler`](crate::tower::ErrorHandler) answers it.
#[derive(Debug, Clone)]
pub(crate) struct HandlerError(pub(crate) Arc<Error>);

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(MissingSessionLayer)
    }
}

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        tracing::error!(target: "django.contrib.sessions", "{self}");
        reply_response(&self.reply())
    }
}

/// A handler's `?` on a session call answers like the layer does: 400 for a
/// concurrent logout, 409 for a conflict (V2), 503 for an unreachable store, 500
/// otherwise, with a short
/// `text/plain` body; the details go to the log. Behind a
/// [`SessionLayer`](crate::tower::SessionLayer) with
/// [`on_error`](crate::tower::SessionLayer::on_error), the application's handler
/// answers instead.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        log_session_error(&self);
        let mut response = reply_response(&ErrorReply::for_error(&self));
        response
            .extensions_mut()
            .insert(HandlerError(Arc::new(self)));
        response
    }
}
