//! The HTTP client side: reqwest, with a cookie jar (a browser) or without (the case
//! writes the `Cookie` header itself), and what a case reads off a response.

use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE, COOKIE, SET_COOKIE, VARY};
use session_api::middleware::{cookie_value, vary_lists, vary_lists_cookie};

/// A client that keeps cookies as a browser does.
pub fn browser() -> reqwest::Client {
    build(reqwest::Client::builder().cookie_store(true))
}

/// A client without a jar.
pub fn bare() -> reqwest::Client {
    build(reqwest::Client::builder())
}

fn build(builder: reqwest::ClientBuilder) -> reqwest::Client {
    builder
        .no_proxy()
        // A hung server fails the case instead of hanging the suite.
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a reqwest client")
}

/// What a case reads off a response.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// Every `Set-Cookie` value.
    pub set_cookies: Vec<String>,
    /// Every `Vary` value.
    pub vary: Vec<String>,
    /// The `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: String,
    /// Every header.
    pub headers: HeaderMap,
}

impl Answer {
    /// The `Set-Cookie` header for cookie `name`, if one was sent.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}=");
        let mut found = self.set_cookies.iter().filter(|c| c.starts_with(&prefix));
        let first = found.next();
        assert!(
            found.next().is_none(),
            "two Set-Cookie for {name}: {self:?}"
        );
        first.map(String::as_str)
    }

    /// The value the `Set-Cookie` for `name` sets.
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        self.cookie(name)
            .map(|c| c.split(';').next().unwrap_or(c))
            .and_then(|pair| cookie_value(pair, name))
    }

    /// Whether `Vary` lists `Cookie`.
    pub fn varies_on_cookie(&self) -> bool {
        vary_lists_cookie(self.vary.iter().map(String::as_str))
    }

    /// Whether `Vary` lists the header `name`.
    pub fn varies_on(&self, name: &str) -> bool {
        vary_lists(self.vary.iter().map(String::as_str), name)
    }

    /// Every value of the response header `name`.
    pub fn header(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }
}

/// GETs `url`, with `cookie` as the `Cookie` header when given (besides the jar's).
pub async fn get(client: &reqwest::Client, url: &str, cookie: Option<&str>) -> Answer {
    let headers: Vec<(&str, &str)> = cookie.map(|c| (COOKIE.as_str(), c)).into_iter().collect();
    get_with(client, url, &headers).await
}

/// GETs `url` with `headers` (name, value) added.
pub async fn get_with(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the server answered");
    let headers = response.headers();
    let all = |name| {
        headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
    };
    let set_cookies = all(SET_COOKIE);
    let vary = all(VARY);
    let content_type = all(CONTENT_TYPE).into_iter().next();
    let headers = headers.clone();
    Answer {
        status: response.status().as_u16(),
        set_cookies,
        vary,
        content_type,
        headers,
        body: response.text().await.expect("a text body"),
    }
}
