//! The framework-agnostic middleware core (section G).
//!
//! An adapter (tower, actix-web, ...) does three things and nothing else:
//! 1. [`SessionMiddleware::request_session`] with the request's `Cookie` header;
//! 2. hands a clone of its [`Session`] to the application;
//! 3. [`SessionMiddleware::process_response`] (or its async twin) with the response
//!    status, then appends the returned `Set-Cookie` and `Vary: Cookie`, and on an
//!    error answers with [`ErrorReply::for_error`] or the application's own handler.
//!
//! ```
//! # use std::sync::Arc;
//! # use session_api::{middleware::SessionMiddleware, SessionBackend, config::SessionConfig};
//! # async fn handle(mw: &SessionMiddleware, cookie_header: Option<&str>) -> session_api::Result<()> {
//! let request = mw.request_session(cookie_header);
//! request.session.aset("visits", &1).await?;
//! let directives = mw.aprocess_response(&request, 200).await?;
//! if let Some(set_cookie) = directives.set_cookie { /* append a Set-Cookie header */ }
//! if directives.vary_cookie { /* patch Vary: Cookie */ }
//! # Ok(()) }
//! ```

use std::fmt::{self, Write as _};
use std::sync::Arc;

use time::macros::format_description;
use time::{Duration, OffsetDateTime};

use crate::config::{SameSite, SessionConfig};
use crate::error::{Error, Result};
use crate::session::{ExpiryArgs, Session, SessionGuard};
use crate::store::SessionBackend;

/// What the adapter must add to the response.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ResponseDirectives {
    /// A complete `Set-Cookie` header value (set or delete the session cookie).
    pub set_cookie: Option<String>,
    /// Whether to add `Cookie` to the `Vary` header.
    pub vary_cookie: bool,
}

/// The `Set-Cookie` value carries the full session key (or, for signed cookies, the
/// data): `Debug` shows the cookie's name and attributes only (rule H5).
impl fmt::Debug for ResponseDirectives {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = self.set_cookie.as_deref().map(|cookie| {
            let (pair, attributes) = cookie.split_once(';').unwrap_or((cookie, ""));
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            format!("{name}=<redacted>;{attributes}")
        });
        f.debug_struct("ResponseDirectives")
            .field("set_cookie", &redacted)
            .field("vary_cookie", &self.vary_cookie)
            .finish()
    }
}

/// Django's `SessionMiddleware`, without any framework types.
#[derive(Debug, Clone)]
pub struct SessionMiddleware {
    backend: SessionBackend,
    config: Arc<SessionConfig>,
}

/// A request's session plus whether the request carried the session cookie (rule G2
/// needs both). The adapters keep it; handlers get a clone of [`session`](Self::session).
#[derive(Debug, Clone)]
pub struct RequestSession {
    /// The session handle the application uses (cheap to clone).
    pub session: Session,
    /// The request had a cookie named `SESSION_COOKIE_NAME` (valid or not).
    pub cookie_present: bool,
}

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
}

impl ErrorReply {
    /// The default answer for `err`: 400 for [`Error::SessionInterrupted`] (G5), 503
    /// for [`Error::Unavailable`], 500 for anything else. Details go to the log, not
    /// the client.
    pub fn for_error(err: &Error) -> Self {
        let (status, body) = match err {
            Error::SessionInterrupted => (
                400,
                "Bad Request: the session was deleted by a concurrent request.\n",
            ),
            Error::Unavailable(_) => (
                503,
                "Service Unavailable: the session store is unavailable.\n",
            ),
            _ => (500, "Internal Server Error: session failure.\n"),
        };
        ErrorReply {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
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
        }
    }
}

impl SessionMiddleware {
    /// The middleware over a store and settings.
    pub fn new(backend: SessionBackend, config: Arc<SessionConfig>) -> Self {
        SessionMiddleware { backend, config }
    }

    /// The settings.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The store.
    pub fn backend(&self) -> &SessionBackend {
        &self.backend
    }

    /// G1: the session of a request, from its `Cookie` header (if any). Built lazily:
    /// nothing is loaded here.
    pub fn request_session(&self, cookie_header: Option<&str>) -> RequestSession {
        let value = cookie_header.and_then(|h| cookie_value(h, &self.config.cookie_name));
        RequestSession {
            session: Session::new(self.backend.clone(), self.config.clone(), value.as_deref()),
            cookie_present: value.is_some(),
        }
    }

    /// G2..G5 with the sync store. Saves only when needed and the status is below 500.
    pub fn process_response(
        &self,
        request: &RequestSession,
        status: u16,
    ) -> Result<ResponseDirectives> {
        let mut session = request.session.lock_sync()?;
        match self.plan(request.cookie_present, &mut session)? {
            Plan::Done(directives) => Ok(directives),
            Plan::Save { vary, max_age } => {
                if status >= 500 {
                    return Ok(ResponseDirectives {
                        set_cookie: None,
                        vary_cookie: vary,
                    });
                }
                session.save().map_err(interrupted)?;
                Ok(self.saved(&session, max_age))
            }
        }
    }

    /// Async twin of [`process_response`](Self::process_response).
    pub async fn aprocess_response(
        &self,
        request: &RequestSession,
        status: u16,
    ) -> Result<ResponseDirectives> {
        let mut session = request.session.lock().await;
        match self.aplan(request.cookie_present, &mut session).await? {
            Plan::Done(directives) => Ok(directives),
            Plan::Save { vary, max_age } => {
                if status >= 500 {
                    return Ok(ResponseDirectives {
                        set_cookie: None,
                        vary_cookie: vary,
                    });
                }
                session.asave().await.map_err(interrupted)?;
                Ok(self.saved(&session, max_age))
            }
        }
    }

    fn plan_start(&self, cookie_present: bool, session: &SessionGuard<'_>) -> Option<Plan> {
        let empty = session.is_empty();
        if cookie_present && empty {
            // G2: the session was emptied; delete the cookie.
            return Some(Plan::Done(ResponseDirectives {
                set_cookie: Some(self.delete_cookie_header()),
                vary_cookie: true,
            }));
        }
        let wants_save = session.modified() || self.config.save_every_request;
        if !wants_save || empty {
            // G3: vary only when accessed.
            return Some(Plan::Done(ResponseDirectives {
                set_cookie: None,
                vary_cookie: session.accessed(),
            }));
        }
        None
    }

    fn plan(&self, cookie_present: bool, session: &mut SessionGuard<'_>) -> Result<Plan> {
        if let Some(done) = self.plan_start(cookie_present, session) {
            return Ok(done);
        }
        let vary = session.accessed();
        let max_age = if session.get_expire_at_browser_close()? {
            None
        } else {
            Some(session.get_expiry_age(ExpiryArgs::default())?)
        };
        Ok(Plan::Save { vary, max_age })
    }

    async fn aplan(&self, cookie_present: bool, session: &mut SessionGuard<'_>) -> Result<Plan> {
        if let Some(done) = self.plan_start(cookie_present, session) {
            return Ok(done);
        }
        let vary = session.accessed();
        let max_age = if session.aget_expire_at_browser_close().await? {
            None
        } else {
            Some(session.aget_expiry_age(ExpiryArgs::default()).await?)
        };
        Ok(Plan::Save { vary, max_age })
    }

    fn saved(&self, session: &SessionGuard<'_>, max_age: Option<i64>) -> ResponseDirectives {
        let key = session.session_key();
        let value = key.as_ref().map_or("", |k| k.as_str());
        ResponseDirectives {
            set_cookie: Some(self.set_cookie_header(value, max_age)),
            vary_cookie: true,
        }
    }

    /// The `Set-Cookie` value Django writes for a session cookie (rule G4), attributes
    /// in the order of Python's `Morsel.OutputString` (sorted by name).
    pub fn set_cookie_header(&self, value: &str, max_age: Option<i64>) -> String {
        let c = &self.config;
        let expires = max_age.map(|age| {
            let at = self.config.clock.now().checked_add(Duration::seconds(age));
            http_date(at.unwrap_or(OffsetDateTime::UNIX_EPOCH))
        });
        let samesite = c.cookie_samesite;
        format_cookie(&CookieParts {
            name: &c.cookie_name,
            value,
            domain: c.cookie_domain.as_deref(),
            expires: expires.as_deref(),
            httponly: c.cookie_httponly,
            max_age,
            path: &c.cookie_path,
            samesite,
            secure: c.cookie_secure,
        })
    }

    /// The `Set-Cookie` value of Django's `delete_cookie` (rule G2).
    pub fn delete_cookie_header(&self) -> String {
        let c = &self.config;
        let secure = c.cookie_name.starts_with("__Secure-")
            || c.cookie_name.starts_with("__Host-")
            || c.cookie_samesite == Some(SameSite::None);
        format_cookie(&CookieParts {
            name: &c.cookie_name,
            value: "\"\"",
            domain: c.cookie_domain.as_deref(),
            expires: Some("Thu, 01 Jan 1970 00:00:00 GMT"),
            httponly: false,
            max_age: Some(0),
            path: &c.cookie_path,
            samesite: c.cookie_samesite,
            secure,
        })
    }
}

enum Plan {
    Done(ResponseDirectives),
    Save { vary: bool, max_age: Option<i64> },
}

/// G5: a vanished record during the response save means a concurrent logout.
fn interrupted(err: Error) -> Error {
    match err {
        Error::Update => Error::SessionInterrupted,
        other => other,
    }
}

struct CookieParts<'a> {
    name: &'a str,
    value: &'a str,
    domain: Option<&'a str>,
    expires: Option<&'a str>,
    httponly: bool,
    max_age: Option<i64>,
    path: &'a str,
    samesite: Option<SameSite>,
    secure: bool,
}

fn format_cookie(p: &CookieParts<'_>) -> String {
    let mut out = format!("{}={}", p.name, p.value);
    // `write!` into a String cannot fail.
    if let Some(domain) = p.domain {
        let _ = write!(out, "; Domain={domain}");
    }
    if let Some(expires) = p.expires {
        let _ = write!(out, "; expires={expires}");
    }
    if p.httponly {
        out.push_str("; HttpOnly");
    }
    if let Some(age) = p.max_age {
        let _ = write!(out, "; Max-Age={age}");
    }
    let _ = write!(out, "; Path={}", p.path);
    if let Some(samesite) = p.samesite {
        let _ = write!(out, "; SameSite={}", samesite.as_str());
    }
    if p.secure {
        out.push_str("; Secure");
    }
    out
}

/// The `Cookie` headers of a request as one header: HTTP/2 may split cookies over
/// several headers. Read as bytes (invalid UTF-8 replaced), so a non-ASCII value of
/// another cookie never hides the session cookie.
pub fn join_cookie_headers<'a>(headers: impl Iterator<Item = &'a [u8]>) -> Option<String> {
    let joined: Vec<_> = headers.map(String::from_utf8_lossy).collect();
    (!joined.is_empty()).then(|| joined.join("; "))
}

/// Whether `Vary` headers already list `Cookie` (or `*`), as Django's
/// `patch_vary_headers` checks before adding it.
pub fn vary_lists_cookie<'a>(headers: impl Iterator<Item = &'a str>) -> bool {
    headers
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("cookie") || v.trim() == "*")
}

/// An HTTP date as Django's `http_date` writes it: `Wed, 09 Dec 2026 09:52:36 GMT`.
pub fn http_date(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.format(format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    ))
    .unwrap_or_default()
}

/// The value of cookie `name` in a `Cookie` header, parsed as Django's `parse_cookie`
/// does (split on `;`, trim, the last occurrence wins, surrounding quotes removed).
pub fn cookie_value(header: &str, name: &str) -> Option<String> {
    let mut found = None;
    for chunk in header.split(';') {
        let (key, value) = chunk.split_once('=').unwrap_or(("", chunk));
        if key.trim() == name {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            found = Some(unquoted);
        }
    }
    found.map(str::to_owned)
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
        let reply = ErrorReply::for_error(&Error::backend("secret detail"));
        assert_eq!(reply.content_type, "text/plain; charset=utf-8");
        assert!(!reply.body.contains("secret detail"));
    }

    #[test]
    fn h5_directives_debug_hides_the_cookie_value() {
        let directives = ResponseDirectives {
            set_cookie: Some("sessionid=abcdefghijklmnopqrstuvwxyz012345; HttpOnly; Path=/".into()),
            vary_cookie: true,
        };
        let shown = format!("{directives:?}");
        assert!(!shown.contains("abcdefghijklmnop"), "{shown}");
        assert!(
            shown.contains("sessionid=<redacted>; HttpOnly; Path=/"),
            "{shown}"
        );
    }
}
