//! Shared by the demo's tests: the site in this process on 127.0.0.1:0, and a client
//! that keeps cookies as a browser does.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use session_api::{SecretKeys, SessionConfig};
use session_demo::store;
use tempfile::TempDir;

/// The site over a SQLite file of its own, served until dropped.
pub struct Demo {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: TempDir,
}

impl Demo {
    /// Starts the site on the current runtime.
    pub async fn start() -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("demo.sqlite3").display());
        let config = Arc::new(
            SessionConfig::builder(SecretKeys::new("session-demo-test-secret"))
                .build()
                .unwrap(),
        );
        let opened = store::open(&url, "django_session", &config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = session_demo::app(opened, config);
        let task = tokio::spawn(async move { axum::serve(listener, app).await });
        Demo {
            addr,
            task,
            _dir: dir,
        }
    }

    /// The URL of `path` on the site.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A client with a cookie jar; `follow` says whether it follows redirects.
pub fn client(follow: bool) -> reqwest::Client {
    let redirects = if follow {
        reqwest::redirect::Policy::limited(5)
    } else {
        reqwest::redirect::Policy::none()
    };
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(redirects)
        .no_proxy()
        // A hung server fails the test instead of hanging the suite.
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// GETs `url`; the status and body.
pub async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// POSTs `form` to `url`; the response.
pub async fn post(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
    client.post(url).form(form).send().await.unwrap()
}

/// The inner HTML of the element with `id` in `html`, up to the first closing tag
/// (the pages mark what tests read with ids on elements that hold text only).
pub fn element(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let open_end = start + html[start..].find('>').unwrap() + 1;
    let close = open_end + html[open_end..].find("</").unwrap();
    html[open_end..close].to_owned()
}

/// Logs in as `name` the way a browser does: the form page (which sets the test
/// cookie), then the form. Returns the page the login lands on.
pub async fn log_in(
    client: &reqwest::Client,
    demo_url: impl Fn(&str) -> String,
    name: &str,
) -> String {
    let (status, _) = get(client, &demo_url("/login")).await;
    assert_eq!(status, 200);
    let response = post(client, &demo_url("/login"), &[("username", name)]).await;
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.unwrap()
}
