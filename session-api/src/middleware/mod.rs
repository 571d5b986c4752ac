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

mod headers;
mod reply;

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

pub use headers::{
    cookie_value, http_date, join_cookie_headers, vary_lists, vary_lists_cookie, HeaderMode,
    HeaderWrite, IdHeader, ResponseDirectives,
};
pub use reply::{log_session_error, ErrorReply, MissingSessionLayer};

use headers::{format_cookie, header_token, CookieParts};

use crate::config::{IdTransport, SameSite, SessionConfig, StoreFailurePolicy};
use crate::error::{Error, Result};
use crate::key::SessionKey;
use crate::session::{ExpiryArgs, Refresh, Session, SessionGuard};
use crate::store::SessionBackend;

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

    /// G2..G5 with the sync store. Saves only when needed and the status is below
    /// 500; with a refresh interval, an unmodified session is touched or left alone
    /// (V4); a degraded session (V5) is neither saved nor its cookie changed.
    pub fn process_response(
        &self,
        request: &RequestSession,
        status: u16,
    ) -> Result<ResponseDirectives> {
        let mut session = request.session.lock_sync()?;
        let max_age = match self.plan(request, &mut session)? {
            Plan::Done(directives) => return Ok(directives),
            Plan::Save { vary, .. } | Plan::Touch { vary, .. } if status >= 500 => {
                return Ok(self.vary(vary))
            }
            Plan::Save { vary, max_age } => {
                if let Err(err) = session.save() {
                    return self.unsaved(request, &session, vary, interrupted(err));
                }
                max_age
            }
            Plan::Touch {
                vary,
                max_age,
                expires_at,
            } => {
                if let Err(err) = session.touch(expires_at) {
                    return self.unsaved(request, &session, vary, interrupted(err));
                }
                max_age
            }
        };
        Ok(self.saved(request, &session, max_age))
    }

    /// Async twin of [`process_response`](Self::process_response).
    pub async fn aprocess_response(
        &self,
        request: &RequestSession,
        status: u16,
    ) -> Result<ResponseDirectives> {
        let mut session = request.session.lock().await;
        let max_age = match self.aplan(request, &mut session).await? {
            Plan::Done(directives) => return Ok(directives),
            Plan::Save { vary, .. } | Plan::Touch { vary, .. } if status >= 500 => {
                return Ok(self.vary(vary))
            }
            Plan::Save { vary, max_age } => {
                if let Err(err) = session.asave().await {
                    return self.unsaved(request, &session, vary, interrupted(err));
                }
                max_age
            }
            Plan::Touch {
                vary,
                max_age,
                expires_at,
            } => {
                if let Err(err) = session.atouch(expires_at).await {
                    return self.unsaved(request, &session, vary, interrupted(err));
                }
                max_age
            }
        };
        Ok(self.saved(request, &session, max_age))
    }

    /// A response save failed with `err`. V5: under
    /// [`StoreFailurePolicy::ServeEmpty`] a store that went away is logged and the
    /// page served without touching the cookie, but only while the session keeps the
    /// key the request presented: after a `cycle_key`, a renewal or a creation in
    /// this request the client's cookie names a record that is gone (or none), and
    /// serving the page without the new one would end the session silently.
    /// Anything else is the error.
    fn unsaved(
        &self,
        request: &RequestSession,
        session: &SessionGuard<'_>,
        vary: bool,
        err: Error,
    ) -> Result<ResponseDirectives> {
        let same_key = session.session_key() == request.presented;
        match err {
            Error::Unavailable(source)
                if same_key && self.config.store_failure == StoreFailurePolicy::ServeEmpty =>
            {
                tracing::warn!(
                    target: "sessions",
                    error = %source,
                    "session store unavailable: the session was not saved, the page is served"
                );
                Ok(self.vary(vary))
            }
            other => Err(other),
        }
    }

    fn plan_start(&self, request: &RequestSession, session: &SessionGuard<'_>) -> Option<Plan> {
        if session.degraded() {
            // V5: the store was down at load: no save, and the client keeps its cookie.
            return Some(Plan::Done(self.vary(session.accessed())));
        }
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
        Ok(self.plan_write(session, vary, max_age))
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
        Ok(self.plan_write(session, vary, max_age))
    }

    /// The write of a session that needs one: a save, or under `save_every_request`
    /// with a refresh interval, for an unmodified session, a touch or nothing (V4).
    /// Nothing written means no cookie either: the browser's copy keeps the expiry
    /// of the last write, which is the record's.
    fn plan_write(&self, session: &mut SessionGuard<'_>, vary: bool, max_age: Option<i64>) -> Plan {
        if session.degraded() {
            // V5: the load (for the expiry above) found the store down.
            return Plan::Done(self.vary(session.accessed()));
        }
        let interval = match self.config.refresh_interval {
            Some(interval) if self.config.save_every_request && !session.modified() => interval,
            _ => return Plan::Save { vary, max_age },
        };
        match session.refresh(interval) {
            Refresh::Skip => Plan::Done(self.vary(vary)),
            Refresh::Touch(expires_at) => Plan::Touch {
                vary,
                max_age,
                expires_at,
            },
            Refresh::Save => Plan::Save { vary, max_age },
        }
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
    Save {
        vary: bool,
        max_age: Option<i64>,
    },
    /// V4: move the record's expiry only.
    Touch {
        vary: bool,
        max_age: Option<i64>,
        expires_at: OffsetDateTime,
    },
}

/// G5: a vanished record during the response save means a concurrent logout.
fn interrupted(err: Error) -> Error {
    match err {
        Error::Update => Error::SessionInterrupted,
        other => other,
    }
}
