//! The HTTP side of the app tests: an axum router served on 127.0.0.1:0, a
//! cookie-keeping reqwest client, and a SQLite store in a temporary directory.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use reqwest::{StatusCode, Url};
use session_api::{AsyncSessionStore, SecretKeys};
use session_stores::db::{DbOptions, DbStore};
use session_tower_sessions::{key_for_id, TowerSessionsStore};

use super::SECRET;

/// tower-sessions' default cookie name.
pub const COOKIE: &str = "id";

/// A migrated SQLite store in Django's `django_session` table, in a temporary
/// directory that lives as long as the returned guard.
pub async fn sqlite() -> (Arc<DbStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("sessions.sqlite3").display());
    let db = DbStore::connect(&url, DbOptions::new(SecretKeys::new(SECRET)))
        .await
        .expect("SQLite");
    db.migrate().await.expect("migrate");
    assert_eq!(db.table(), "django_session");
    (Arc::new(db), dir)
}

/// `db` as a tower-sessions store.
pub fn tower_store(db: &Arc<DbStore>) -> TowerSessionsStore {
    TowerSessionsStore::new(db.clone()).expect("an id-keyed store")
}

/// Serves `app` on a free loopback port until the test's runtime ends.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

/// A browser stand-in: keeps cookies, does not follow redirects (so the tests see
/// them).
pub struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    base: Url,
}

impl Browser {
    /// A browser for the app at `addr`, with no cookie yet.
    pub fn new(addr: SocketAddr) -> Browser {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .expect("client");
        let base = Url::parse(&format!("http://{addr}/")).expect("url");
        Browser { client, jar, base }
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("path")
    }

    /// `GET path`: the status, the `Location` header (if any) and the body.
    pub async fn get(&self, path: &str) -> (StatusCode, Option<String>, String) {
        Self::read(self.client.get(self.url(path)).send().await.expect("GET")).await
    }

    /// `POST path` with a form.
    pub async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Option<String>, String) {
        Self::read(
            self.client
                .post(self.url(path))
                .form(form)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    async fn read(response: reqwest::Response) -> (StatusCode, Option<String>, String) {
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (status, location, response.text().await.expect("body"))
    }

    /// The session cookie the browser holds, if any.
    pub fn session_cookie(&self) -> Option<String> {
        let header = self.jar.cookies(&self.base)?;
        let header = header.to_str().ok()?.to_owned();
        header
            .split("; ")
            .find_map(|pair| pair.strip_prefix(&format!("{COOKIE}=")).map(str::to_owned))
    }

    /// Sets the session cookie by hand (a replayed or a client-chosen one).
    pub fn set_session_cookie(&self, value: &str) {
        self.jar
            .add_cookie_str(&format!("{COOKIE}={value}; Path=/"), &self.base);
    }
}

/// The data of the live row of tower-sessions' id `id`, read through our own
/// contract under [`key_for_id`]; `None` when there is none.
pub async fn row(db: &DbStore, id: i128) -> Option<session_api::SessionData> {
    db.aload(&key_for_id(id))
        .await
        .expect("load")
        .map(|r| r.data)
}
