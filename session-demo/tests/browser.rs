//! The demo site in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, which `.ci/run` installs) driven over WebDriver by fantoccini.
//! Logs in, reloads, logs out, sets a browser-close expiry, then tries to log in with
//! cookies disabled. Chromium and chromedriver run on loopback, each in a fresh
//! profile, and are stopped by the test. On failure a screenshot and the page source
//! go to `target/browser-test/`.
//!
//! With `CI=true` a missing Chromium fails the test; elsewhere it is skipped with a
//! note.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use support::Demo;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long one browser's steps may take before the test fails instead of hanging.
const STEPS_LIMIT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_logs_in_reloads_logs_out_and_needs_cookies() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
        );
        eprintln!("skipped: {CHROMIUM} or {CHROMEDRIVER} is missing");
        return;
    }
    let out = output_dir();
    let demo = Demo::start().await;
    let driver = Chromedriver::start(&out);

    // The two browsers run side by side: most of the time is Chromium starting.
    let allowed = async {
        let browser = driver.browser(Cookies::Allowed).await;
        let outcome = tokio::time::timeout(STEPS_LIMIT, with_cookies(&browser.client, &demo)).await;
        browser.finish(outcome, &out, "with-cookies").await
    };
    let blocked = async {
        let browser = driver.browser(Cookies::Blocked).await;
        let outcome =
            tokio::time::timeout(STEPS_LIMIT, without_cookies(&browser.client, &demo)).await;
        browser.finish(outcome, &out, "without-cookies").await
    };
    let (allowed, blocked) = tokio::join!(allowed, blocked);
    if let Some(failure) = allowed.or(blocked) {
        panic!("{failure} (screenshot and page in {})", out.display());
    }
}

/// Log in, reload, log out, then a browser-close expiry.
async fn with_cookies(browser: &Client, demo: &Demo) -> Result<(), String> {
    browser
        .goto(&demo.url("/login"))
        .await
        .during("open /login")?;
    let form_key = session_cookie(browser)
        .await?
        .ok_or("the login form set no test cookie")?;
    type_and_submit(browser, "alice").await?;
    wait_for_text(browser, "member", "alice").await?;
    let key = session_cookie(browser)
        .await?
        .ok_or("no session cookie after login")?;
    check(key != form_key, "login kept the session key (fixation)")?;

    browser.refresh().await.during("reload")?;
    wait_for_text(browser, "member", "alice").await?;
    check(
        session_cookie(browser).await?.as_deref() == Some(key.as_str()),
        "the session cookie changed on reload",
    )?;

    click(browser, "logout-button").await?;
    wait_for_text(browser, "status", "You're not logged in. Log in.").await?;
    check(
        session_cookie(browser).await?.is_none(),
        "the session cookie survived logout",
    )?;

    click(browser, "expiry-browser-close").await?;
    click(browser, "expiry-button").await?;
    wait_for_text(browser, "browser-close", "yes").await?;
    let cookie = browser
        .get_named_cookie("sessionid")
        .await
        .during("read the session cookie")?;
    check(
        cookie.expires_datetime().is_none() && cookie.max_age().is_none(),
        &format!("a browser-close session set a persistent cookie: {cookie}"),
    )
}

/// With cookies blocked the test cookie never comes back: the login page says so.
async fn without_cookies(browser: &Client, demo: &Demo) -> Result<(), String> {
    browser
        .goto(&demo.url("/login"))
        .await
        .during("open /login")?;
    type_and_submit(browser, "alice").await?;
    wait_for_text(browser, "message", "Please enable cookies and try again.").await?;
    let cookies = browser.get_all_cookies().await.during("read cookies")?;
    check(
        cookies.is_empty(),
        &format!("cookies were kept: {cookies:?}"),
    )
}

async fn type_and_submit(browser: &Client, name: &str) -> Result<(), String> {
    browser
        .find(Locator::Id("username"))
        .await
        .during("find the name field")?
        .send_keys(name)
        .await
        .during("type the name")?;
    click(browser, "login-button").await
}

async fn click(browser: &Client, id: &str) -> Result<(), String> {
    browser
        .find(Locator::Id(id))
        .await
        .during(&format!("find #{id}"))?
        .click()
        .await
        .during(&format!("click #{id}"))
}

/// Waits (bounded) until the element `id` holds `expected`: a click's navigation may
/// still be under way when the click returns.
async fn wait_for_text(browser: &Client, id: &str, expected: &str) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(element) = browser.find(Locator::Id(id)).await {
            if let Ok(text) = element.text().await {
                if text == expected {
                    return Ok(());
                }
                last = text;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("#{id} shows {last:?}, not {expected:?}"))
}

/// The `sessionid` cookie's value, if the browser keeps one.
async fn session_cookie(browser: &Client) -> Result<Option<String>, String> {
    let cookies = browser.get_all_cookies().await.during("read cookies")?;
    Ok(cookies
        .iter()
        .find(|c| c.name() == "sessionid")
        .map(|c| c.value().to_owned()))
}

fn check(ok: bool, failure: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(failure.to_owned())
    }
}

/// Names the step a WebDriver command failed in.
trait During<T> {
    fn during(self, step: &str) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> During<T> for Result<T, E> {
    fn during(self, step: &str) -> Result<T, String> {
        self.map_err(|err| format!("{step}: {err}"))
    }
}

/// `target/browser-test/`: screenshots, page sources and chromedriver's log.
fn output_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target directory");
    let out = target.join("browser-test");
    std::fs::create_dir_all(&out).unwrap();
    out
}

/// Whether the browser keeps cookies.
#[derive(Clone, Copy)]
enum Cookies {
    Allowed,
    Blocked,
}

/// chromedriver on a loopback port of its own, killed (by its handle) when dropped.
struct Chromedriver {
    child: Child,
    addr: SocketAddr,
}

impl Chromedriver {
    fn start(out: &Path) -> Chromedriver {
        // A port the system just handed out; chromedriver binds it right after.
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={}", addr.port()))
            .arg(format!(
                "--log-path={}",
                out.join("chromedriver.log").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Chromedriver { child, addr };
        let ready = (0..200).any(|_| {
            TcpStream::connect(addr).is_ok() || {
                std::thread::sleep(Duration::from_millis(50));
                false
            }
        });
        assert!(ready, "chromedriver did not listen on {addr}");
        driver
    }

    /// A new headless Chromium in a fresh profile.
    async fn browser(&self, cookies: Cookies) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            // Loopback only: every other host fails to resolve.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".to_owned(),
            "--window-size=1024,768".to_owned(),
        ];
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut options = json!({ "binary": CHROMIUM, "args": args });
        if let Cookies::Blocked = cookies {
            options["prefs"] = json!({ "profile.default_content_setting_values.cookies": 2 });
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://{}", self.addr))
            .await
            .expect("a WebDriver session in headless Chromium");
        Browser {
            client,
            _profile: profile,
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver session and its profile directory.
struct Browser {
    client: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Closes the browser; on a failed or timed-out run, first saves a screenshot and
    /// the page source as `out/NAME.png` and `out/NAME.html`, and returns the failure.
    async fn finish(
        self,
        outcome: Result<Result<(), String>, tokio::time::error::Elapsed>,
        out: &Path,
        name: &str,
    ) -> Option<String> {
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(failure)) => Some(failure),
            Err(_) => Some(format!("the steps took over {STEPS_LIMIT:?}")),
        };
        if let Some(failure) = &failure {
            let shot = out.join(format!("{name}.png"));
            let page = out.join(format!("{name}.html"));
            save(&shot, self.client.screenshot()).await;
            save(&page, async {
                self.client.source().await.map(String::into_bytes)
            })
            .await;
            eprintln!(
                "{name}: {failure}; see {} and {}",
                shot.display(),
                page.display()
            );
        }
        let _ = self.client.close().await;
        failure.map(|failure| format!("{name}: {failure}"))
    }
}

async fn save<E: std::fmt::Display>(path: &Path, bytes: impl Future<Output = Result<Vec<u8>, E>>) {
    match bytes.await {
        Ok(bytes) => std::fs::write(path, bytes).unwrap(),
        Err(err) => eprintln!("could not save {}: {err}", path.display()),
    }
}
