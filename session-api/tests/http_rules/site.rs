//! What an adapter must provide: serve the shared views behind its session middleware
//! on 127.0.0.1:0, with the default or the application's own error page.

use std::net::SocketAddr;

use session_api::middleware::SessionMiddleware;
use session_api::Error;

/// One framework's adapter under test.
pub trait Adapter: Sync {
    /// Serves [`views::view`](super::views::view) for every path as `spec` says,
    /// until the returned server is dropped.
    fn serve(&self, spec: SiteSpec) -> Server;
}

/// How the site under test is wired.
pub struct SiteSpec {
    /// The session middleware; `None` serves the views without it (a wiring mistake).
    pub middleware: Option<SessionMiddleware>,
    /// Who answers a session error.
    pub error_page: ErrorPage,
}

impl SiteSpec {
    /// The views behind `middleware`, with the adapter's default error answers.
    pub fn new(middleware: SessionMiddleware) -> Self {
        SiteSpec {
            middleware: Some(middleware),
            error_page: ErrorPage::Default,
        }
    }

    /// The same with the application's own error page.
    pub fn custom_error_page(mut self) -> Self {
        self.error_page = ErrorPage::Custom;
        self
    }
}

/// Who answers a session error.
pub enum ErrorPage {
    /// The adapter's default (`ErrorReply::for_error`).
    Default,
    /// The application's handler: [`CUSTOM_STATUS`] and [`custom_body`].
    Custom,
}

/// The status of the application's own error page.
pub const CUSTOM_STATUS: u16 = 503;

/// The body of the application's own error page: it names the kind of error, so the
/// cases see the handler was given the right one.
pub fn custom_body(err: &Error) -> String {
    let kind = match err {
        Error::SessionInterrupted => "interrupted",
        Error::Unavailable(_) => "unavailable",
        _ => "other",
    };
    format!("custom error page: {kind}")
}

/// A running server; dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Server {
    /// A server listening on `addr`, stopped by `stop`.
    pub fn new(addr: SocketAddr, stop: impl FnOnce() + Send + 'static) -> Self {
        Server {
            addr,
            stop: Some(Box::new(stop)),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of `path` on it.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}
