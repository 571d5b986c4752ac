//! The framework-agnostic middleware core (section G).
//!
//! An adapter (tower, actix-web, ...) does three things and nothing else:
//! 1. [`SessionMiddleware::request_session`] with the request's `Cookie` header (or
//!    [`SessionMiddleware::request_session_from`] with the id header's values too, when
//!    the settings name one: rule S6);
//! 2. hands a clone of its [`Session`] to the application;
//! 3. [`SessionMiddleware::process_response`] (or its async twin) with the response
//!    status, then appends the returned `Set-Cookie`, sets the id header, patches
//!    `Vary`, and on an error answers with [`ErrorReply::for_error`] or the
//!    application's own handler.
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

use crate::config::{IdTransport, SameSite, SessionConfig};
use crate::error::{Error, Result};
use crate::key::SessionKey;
use crate::session::{ExpiryArgs, Session, SessionGuard};
use crate::store::SessionBackend;

/// What the adapter must add to the response.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ResponseDirectives {
    /// A complete `Set-Cookie` header value (set or delete the session cookie).
    pub set_cookie: Option<String>,
    /// The id header to set (rule S6): the new key, or an empty value when the
    /// session ended. Only for requests answered through the header.
    pub set_header: Option<IdHeader>,
    /// Whether to add `Cookie` to the `Vary` header.
    pub vary_cookie: bool,
    /// A header name to add to `Vary` as well: the id header, whenever the settings
    /// read one and the response depends on the session (rule S6).
    pub vary_header: Option<String>,
}

/// How an adapter writes one of [`ResponseDirectives::header_writes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMode {
    /// Add a header line beside any of the same name (`Set-Cookie`, `Vary`).
    Append,
    /// Replace every header line of that name (the id header, rule S6).
    Replace,
}

/// One header line an adapter writes: the name, the value and how.
#[derive(Clone, PartialEq, Eq)]
pub struct HeaderWrite {
    /// The header's name.
    pub name: String,
    /// The header's value (may carry the session key: never log it, rule H5).
    pub value: String,
    /// Append or replace.
    pub mode: HeaderMode,
}

impl fmt::Debug for HeaderWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderWrite")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl ResponseDirectives {
    /// The header lines to write, given the response's `Vary` values as they are:
    /// `Set-Cookie`, the id header, and `Vary: Cookie` / `Vary: <id header>` unless
    /// already listed (Django's `patch_vary_headers`). Every adapter writes these
    /// in order, so the rules live here once.
    pub fn header_writes<'a>(
        self,
        vary: impl Iterator<Item = &'a str> + Clone,
    ) -> Vec<HeaderWrite> {
        let mut writes = Vec::new();
        if let Some(cookie) = self.set_cookie {
            writes.push(HeaderWrite {
                name: "Set-Cookie".to_owned(),
                value: cookie,
                mode: HeaderMode::Append,
            });
        }
        if let Some(id) = self.set_header {
            writes.push(HeaderWrite {
                name: id.name,
                value: id.value,
                mode: HeaderMode::Replace,
            });
        }
        let vary_names = self
            .vary_cookie
            .then(|| "Cookie".to_owned())
            .into_iter()
            .chain(self.vary_header);
        for name in vary_names {
            if !vary_lists(vary.clone(), &name) {
                writes.push(HeaderWrite {
                    name: "Vary".to_owned(),
                    value: name,
                    mode: HeaderMode::Append,
                });
            }
        }
        writes
    }
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
            .field("set_header", &self.set_header)
            .field("vary_cookie", &self.vary_cookie)
            .field("vary_header", &self.vary_header)
            .finish()
    }
}

/// A response header carrying the session id (rule S6).
#[derive(Clone, PartialEq, Eq)]
pub struct IdHeader {
    /// The header's name, as configured ([`IdTransport`]).
    pub name: String,
    /// The key, or empty: the client drops its token.
    pub value: String,
}

/// `Debug` shows whether a value is set, never the key (rule H5).
impl fmt::Debug for IdHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.value.is_empty() {
            ""
        } else {
            "<redacted>"
        };
        f.debug_struct("IdHeader")
            .field("name", &self.name)
            .field("value", &value)
            .finish()
    }
}

/// Which carrier a request's session id came in, and the response answers through
/// (rule S6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// The session cookie: `Set-Cookie` answers (Django's way).
    Cookie,
    /// The id header: the same header answers.
    Header,
}

/// Django's `SessionMiddleware`, without any framework types.
#[derive(Debug, Clone)]
pub struct SessionMiddleware {
    backend: SessionBackend,
    config: Arc<SessionConfig>,
}

/// A request's session plus how its id arrived (rule G2 needs both). The adapters
/// keep it; handlers get a clone of [`session`](Self::session).
#[derive(Debug, Clone)]
pub struct RequestSession {
    /// The session handle the application uses (cheap to clone).
    pub session: Session,
    /// The request had a cookie named `SESSION_COOKIE_NAME` (valid or not), and the
    /// settings read cookies.
    pub cookie_present: bool,
    /// The request is answered through the id header and carried a non-empty value in
    /// it (valid or not; rule S6).
    pub header_present: bool,
    /// The carrier the response answers through.
    pub carrier: Carrier,
    /// The key the request presented, when it was one of the store's.
    presented: Option<SessionKey>,
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
    /// nothing is loaded here. With an id header configured (rule S6), use
    /// [`request_session_from`](Self::request_session_from).
    pub fn request_session(&self, cookie_header: Option<&str>) -> RequestSession {
        self.request_session_from(cookie_header, &[])
    }

    /// G1 and S6: the session of a request from its `Cookie` header and every value of
    /// the id header ([`IdTransport::header`]; pass none when it is not configured).
    ///
    /// Under [`IdTransport::CookieAndHeader`] the session cookie wins; the header is
    /// used only without one. A header sent more than once, or not UTF-8, is a bad
    /// key (a fresh session, H1); an empty one is a client asking for the header
    /// transport without a key yet.
    pub fn request_session_from(
        &self,
        cookie_header: Option<&str>,
        header_values: &[&[u8]],
    ) -> RequestSession {
        let transport = &self.config.id_transport;
        let cookie = cookie_header
            .filter(|_| transport.uses_cookie())
            .and_then(|h| cookie_value(h, &self.config.cookie_name));
        let header = transport.header().and_then(|_| header_token(header_values));
        let (carrier, value) = match (transport, cookie, header) {
            (IdTransport::Header { .. }, _, header) => (Carrier::Header, header),
            (_, Some(cookie), _) => (Carrier::Cookie, Some(cookie)),
            (IdTransport::CookieAndHeader { .. }, None, Some(header)) => {
                (Carrier::Header, Some(header))
            }
            (_, None, _) => (Carrier::Cookie, None),
        };
        let value = value.filter(|v| carrier == Carrier::Cookie || !v.is_empty());
        let presented = value
            .as_deref()
            .and_then(|v| self.backend.capabilities().parse_key(v).ok());
        RequestSession {
            session: Session::new(self.backend.clone(), self.config.clone(), value.as_deref()),
            cookie_present: carrier == Carrier::Cookie && value.is_some(),
            header_present: carrier == Carrier::Header && value.is_some(),
            carrier,
            presented,
        }
    }

    /// G2..G5 with the sync store. Saves only when needed and the status is below 500.
    pub fn process_response(
        &self,
        request: &RequestSession,
        status: u16,
    ) -> Result<ResponseDirectives> {
        let mut session = request.session.lock_sync()?;
        match self.plan(request, &mut session)? {
            Plan::Done(directives) => Ok(directives),
            Plan::Save { vary, max_age } => {
                if status >= 500 {
                    return Ok(self.vary(vary));
                }
                session.save().map_err(interrupted)?;
                Ok(self.saved(request, &session, max_age))
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
        match self.aplan(request, &mut session).await? {
            Plan::Done(directives) => Ok(directives),
            Plan::Save { vary, max_age } => {
                if status >= 500 {
                    return Ok(self.vary(vary));
                }
                session.asave().await.map_err(interrupted)?;
                Ok(self.saved(request, &session, max_age))
            }
        }
    }

    fn plan_start(&self, request: &RequestSession, session: &SessionGuard<'_>) -> Option<Plan> {
        let empty = session.is_empty();
        if empty && request.cookie_present {
            // G2: the session was emptied; delete the cookie.
            return Some(Plan::Done(ResponseDirectives {
                set_cookie: Some(self.delete_cookie_header()),
                ..self.vary(true)
            }));
        }
        if empty && request.header_present {
            // S6, as G2: the client drops its token.
            return Some(Plan::Done(ResponseDirectives {
                set_header: self.id_header(""),
                ..self.vary(true)
            }));
        }
        let wants_save = session.modified() || self.config.save_every_request;
        if !wants_save || empty {
            // G3: vary only when accessed.
            return Some(Plan::Done(self.vary(session.accessed())));
        }
        None
    }

    fn plan(&self, request: &RequestSession, session: &mut SessionGuard<'_>) -> Result<Plan> {
        if let Some(done) = self.plan_start(request, session) {
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

    async fn aplan(
        &self,
        request: &RequestSession,
        session: &mut SessionGuard<'_>,
    ) -> Result<Plan> {
        if let Some(done) = self.plan_start(request, session) {
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

    fn saved(
        &self,
        request: &RequestSession,
        session: &SessionGuard<'_>,
        max_age: Option<i64>,
    ) -> ResponseDirectives {
        let key = session.session_key();
        let value = key.as_ref().map_or("", |k| k.as_str());
        match request.carrier {
            Carrier::Cookie => ResponseDirectives {
                set_cookie: Some(self.set_cookie_header(value, max_age)),
                ..self.vary(true)
            },
            // S6: the header answers only when the key changed; it has no lifetime
            // to refresh.
            Carrier::Header => ResponseDirectives {
                set_header: (key != request.presented)
                    .then(|| self.id_header(value))
                    .flatten(),
                ..self.vary(true)
            },
        }
    }

    /// Directives that only vary (when `vary`): on `Cookie` when cookies are read, on
    /// the id header when one is (G3, S6).
    fn vary(&self, vary: bool) -> ResponseDirectives {
        let transport = &self.config.id_transport;
        ResponseDirectives {
            set_cookie: None,
            set_header: None,
            vary_cookie: vary && transport.uses_cookie(),
            vary_header: transport.header().filter(|_| vary).map(str::to_owned),
        }
    }

    fn id_header(&self, value: &str) -> Option<IdHeader> {
        self.config.id_transport.header().map(|name| IdHeader {
            name: name.to_owned(),
            value: value.to_owned(),
        })
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
    vary_lists(headers, "cookie")
}

/// Whether `Vary` headers already list the header `name` (or `*`), compared without
/// regard to case.
pub fn vary_lists<'a>(headers: impl Iterator<Item = &'a str>, name: &str) -> bool {
    headers
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(name) || v.trim() == "*")
}

/// The id header's value (rule S6), trimmed (possibly empty); `None` when absent.
/// Several values are joined with `", "` (as a proxy would fold them) and bytes that
/// are not UTF-8 replaced: either way no store's key parses from it, so it is treated
/// as any bad key (H1), never as one of the values.
fn header_token(values: &[&[u8]]) -> Option<String> {
    if values.is_empty() {
        return None;
    }
    let values: Vec<_> = values.iter().map(|v| String::from_utf8_lossy(v)).collect();
    Some(values.join(", ").trim_matches([' ', '\t']).to_owned())
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

    /// G3, S6: the header lines every adapter writes, `Vary` added only where missing.
    #[test]
    fn header_writes_append_cookies_replace_the_id_header_and_patch_vary_once() {
        let directives = ResponseDirectives {
            set_cookie: Some("sessionid=abc; Path=/".to_owned()),
            set_header: Some(IdHeader {
                name: "X-Session-Token".to_owned(),
                value: String::new(),
            }),
            vary_cookie: true,
            vary_header: Some("X-Session-Token".to_owned()),
        };
        let shown = |writes: Vec<HeaderWrite>| -> Vec<(String, String, HeaderMode)> {
            writes
                .into_iter()
                .map(|w| (w.name, w.value, w.mode))
                .collect()
        };
        let all = shown(
            directives
                .clone()
                .header_writes(["Accept-Encoding"].into_iter()),
        );
        assert_eq!(
            all,
            [
                (
                    "Set-Cookie".into(),
                    "sessionid=abc; Path=/".into(),
                    HeaderMode::Append
                ),
                ("X-Session-Token".into(), String::new(), HeaderMode::Replace),
                ("Vary".into(), "Cookie".into(), HeaderMode::Append),
                ("Vary".into(), "X-Session-Token".into(), HeaderMode::Append),
            ]
        );
        let listed = shown(
            directives
                .clone()
                .header_writes(["accept, COOKIE"].into_iter()),
        );
        assert_eq!(listed.last().map(|w| w.1.as_str()), Some("X-Session-Token"));
        assert_eq!(listed.len(), 3, "Cookie was listed already: {listed:?}");
        let star = shown(directives.header_writes(["*"].into_iter()));
        assert_eq!(star.len(), 2, "Vary: * covers every header: {star:?}");
        assert!(ResponseDirectives::default()
            .header_writes(std::iter::empty())
            .is_empty());
    }

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
            set_header: Some(IdHeader {
                name: "X-Session-Token".into(),
                value: "zyxwvutsrqponmlkjihgfedcba543210".into(),
            }),
            vary_cookie: true,
            vary_header: Some("X-Session-Token".into()),
        };
        let shown = format!("{directives:?}");
        assert!(!shown.contains("abcdefghijklmnop"), "{shown}");
        assert!(!shown.contains("zyxwvutsrqponmlk"), "{shown}");
        assert!(
            shown.contains("sessionid=<redacted>; HttpOnly; Path=/"),
            "{shown}"
        );
        assert!(shown.contains("value: \"<redacted>\""), "{shown}");
    }

    #[test]
    fn s6_id_header_values_are_one_trimmed_value_or_no_key() {
        assert_eq!(header_token(&[]), None);
        assert_eq!(
            header_token(&[b"  abc12345\t"]).as_deref(),
            Some("abc12345")
        );
        assert_eq!(header_token(&[b""]).as_deref(), Some(""));
        let twice = header_token(&[b"abc12345", b"abc12345"]).unwrap_or_default();
        assert!(SessionKey::parse(&twice).is_err() && SessionKey::signed_payload(&twice).is_err());
        let bytes = header_token(&[b"abc\xff12345"]).unwrap_or_default();
        assert!(SessionKey::parse(&bytes).is_err() && SessionKey::signed_payload(&bytes).is_err());
    }
}
