//! The answers for session errors (rules G5, V2, V5) and their log line.

use crate::config::StoreFailurePolicy;
use crate::error::Error;
#[cfg(doc)]
use crate::session::Session;

/// The answer for a session error: what an adapter sends instead of the
/// application's response when the session could not be saved, and what a handler's
/// `?` on a session call becomes (axum `IntoResponse`, actix-web `ResponseError`).
/// Applications replace the adapter's answer through its error handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` of [`body`](Self::body).
    pub content_type: &'static str,
    /// A short, fixed text: never the error's details, which may name the backend.
    pub body: &'static str,
    /// A `Retry-After` header to send, in seconds (rule V5's
    /// [`StoreFailurePolicy::RetryAfter`]).
    pub retry_after: Option<u32>,
}

impl ErrorReply {
    /// The answer for `err` under the default [`StoreFailurePolicy`] (503 for an
    /// unreachable store); see [`for_policy`](Self::for_policy).
    pub fn for_error(err: &Error) -> Self {
        Self::for_policy(err, StoreFailurePolicy::default())
    }

    /// The answer for `err`: 400 for [`Error::SessionInterrupted`] (G5), 409 for
    /// [`Error::Conflict`] (V2), for [`Error::Unavailable`] what `policy` says (V5:
    /// 503, 503 with `Retry-After`, or 500; under
    /// [`StoreFailurePolicy::ServeEmpty`] a load never gets here, and a later call
    /// that still finds the store down is a 503), 500 for anything else. Details go
    /// to the log, not the client.
    pub fn for_policy(err: &Error, policy: StoreFailurePolicy) -> Self {
        const UNAVAILABLE: &str = "Service Unavailable: the session store is unavailable.\n";
        const INTERNAL: &str = "Internal Server Error: session failure.\n";
        let (status, body, retry_after) = match (err, policy) {
            (Error::SessionInterrupted, _) => (
                400,
                "Bad Request: the session was deleted by a concurrent request.\n",
                None,
            ),
            (Error::Conflict, _) => (
                409,
                "Conflict: the session was changed by a concurrent request.\n",
                None,
            ),
            (Error::Unavailable(_), StoreFailurePolicy::RetryAfter(seconds)) => {
                (503, UNAVAILABLE, Some(seconds))
            }
            (Error::Unavailable(_), StoreFailurePolicy::InternalError) => (500, INTERNAL, None),
            (Error::Unavailable(_), _) => (503, UNAVAILABLE, None),
            _ => (500, INTERNAL, None),
        };
        ErrorReply {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
            retry_after,
        }
    }
}

/// The log line the adapters write for a session error (a failed save, or a handler's
/// `?`); the client gets only the [`ErrorReply`] (or the application's handler), never
/// the details.
pub fn log_session_error(err: &Error) {
    match err {
        Error::SessionInterrupted => {
            tracing::info!(target: "django.contrib.sessions", "session interrupted: {err}")
        }
        _ => tracing::error!(target: "django.contrib.sessions", "session error: {err}"),
    }
}

/// A handler asked for the [`Session`] but no session middleware ran on the request:
/// a wiring mistake, answered 500 by the framework extractors.
#[derive(Debug, Clone, Copy, Default, thiserror::Error)]
#[error("no session middleware on this route: add the session layer (tower/axum: `.layer(SessionLayer::new(..))`; actix-web: `.wrap(Sessions::new(..))`)")]
pub struct MissingSessionLayer;

impl MissingSessionLayer {
    /// The reply the extractors send: 500, `text/plain`.
    pub fn reply(&self) -> ErrorReply {
        ErrorReply {
            status: 500,
            content_type: "text/plain; charset=utf-8",
            body: "Internal Server Error: no session middleware on this route.\n",
            retry_after: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g5_error_replies_by_kind() {
        let status = |err: Error| ErrorReply::for_error(&err).status;
        assert_eq!(status(Error::SessionInterrupted), 400);
        assert_eq!(status(Error::unavailable("connection refused")), 503);
        assert_eq!(status(Error::backend("disk full")), 500);
        assert_eq!(status(Error::Update), 500);
        assert_eq!(status(Error::Conflict), 409);
        let reply = ErrorReply::for_error(&Error::backend("secret detail"));
        assert_eq!(reply.content_type, "text/plain; charset=utf-8");
        assert!(!reply.body.contains("secret detail"));
    }

    /// V5: the failure policy picks the answer for an unreachable store only.
    #[test]
    fn v5_store_failure_policy_decides_the_unavailable_reply() {
        let down = Error::unavailable("connection refused");
        let reply = |err: &Error, policy| ErrorReply::for_policy(err, policy);
        let default = reply(&down, StoreFailurePolicy::Unavailable);
        assert_eq!((default.status, default.retry_after), (503, None));
        let retry = reply(&down, StoreFailurePolicy::RetryAfter(7));
        assert_eq!((retry.status, retry.retry_after), (503, Some(7)));
        assert_eq!(reply(&down, StoreFailurePolicy::InternalError).status, 500);
        assert_eq!(reply(&down, StoreFailurePolicy::ServeEmpty).status, 503);
        let other = reply(
            &Error::backend("disk full"),
            StoreFailurePolicy::RetryAfter(7),
        );
        assert_eq!((other.status, other.retry_after), (500, None));
    }
}
