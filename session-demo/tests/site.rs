//! The demo's pages over real HTTP on 127.0.0.1: each example of Django's sessions
//! documentation does what the documentation says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{client, element, get, log_in, post, Demo};

#[tokio::test]
async fn one_comment_per_session() {
    let demo = Demo::start().await;
    let browser = client(true);
    let first = post(&browser, &demo.url("/comment"), &[("comment", "<b>hi</b>")]).await;
    let first = first.text().await.unwrap();
    assert_eq!(
        element(&first, "message"),
        "Thanks for your comment: “&lt;b&gt;hi&lt;/b&gt;”"
    );
    let second = post(&browser, &demo.url("/comment"), &[("comment", "again")]).await;
    assert_eq!(
        element(&second.text().await.unwrap(), "message"),
        "You've already commented."
    );
    // Another visitor (another session) may comment.
    let other = post(&client(true), &demo.url("/comment"), &[("comment", "me")]).await;
    assert!(element(&other.text().await.unwrap(), "message").starts_with("Thanks"));
}

#[tokio::test]
async fn login_needs_the_test_cookie_back() {
    let demo = Demo::start().await;
    // Straight to the form's target, as a browser that refused the test cookie.
    let refused = post(&client(true), &demo.url("/login"), &[("username", "alice")]).await;
    assert_eq!(refused.status().as_u16(), 200);
    assert_eq!(
        element(&refused.text().await.unwrap(), "message"),
        "Please enable cookies and try again."
    );
    let browser = client(true);
    let home = log_in(&browser, |p| demo.url(p), "alice").await;
    assert_eq!(element(&home, "member"), "alice");
    // The test cookie was deleted once it had worked.
    let (_, session) = get(&browser, &demo.url("/session")).await;
    assert!(
        !element(&session, "data").contains("testcookie"),
        "{session}"
    );
}

#[tokio::test]
async fn login_cycles_the_key_and_logout_flushes() {
    let demo = Demo::start().await;
    let browser = client(false);
    let form = browser.get(demo.url("/login")).send().await.unwrap();
    let before = session_cookie(&form).expect("the test cookie's session");
    let login = post(&browser, &demo.url("/login"), &[("username", "<i>bob</i>")]).await;
    assert_eq!(login.status().as_u16(), 303);
    let after = session_cookie(&login).expect("a new session cookie");
    assert_ne!(before, after, "login kept the key (session fixation)");
    let (_, home) = get(&browser, &demo.url("/")).await;
    assert_eq!(element(&home, "member"), "&lt;i&gt;bob&lt;/i&gt;");

    let logout = post(&browser, &demo.url("/logout"), &[]).await;
    assert_eq!(logout.status().as_u16(), 303);
    let deleted = logout.headers()["set-cookie"].to_str().unwrap();
    assert!(
        deleted.starts_with("sessionid=\"\"; expires=Thu, 01 Jan 1970"),
        "{deleted}"
    );
    let (_, home) = get(&browser, &demo.url("/")).await;
    assert!(element(&home, "status").starts_with("You're not logged in."));
}

/// The value of the `sessionid` cookie a response sets.
fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("sessionid="))
        .map(|c| c.split(';').next().unwrap_or(c).to_owned())
}

#[tokio::test]
async fn every_expiry_choice_shows_on_the_session_page() {
    let demo = Demo::start().await;
    let browser = client(true);
    let (_, fresh) = get(&browser, &demo.url("/session")).await;
    assert_eq!(element(&fresh, "data"), "{}");
    assert_eq!(element(&fresh, "expiry-age"), "1209600 seconds");

    for (choice, age, at_close) in [
        ("seconds", Some("300 seconds"), "no"),
        ("timedelta", None, "no"),
        ("datetime", None, "no"),
        ("browser-close", Some("1209600 seconds"), "yes"),
        ("default", Some("1209600 seconds"), "no"),
    ] {
        let response = post(&browser, &demo.url("/expiry"), &[("choice", choice)]).await;
        assert_eq!(response.status().as_u16(), 200, "{choice}");
        let page = response.text().await.unwrap();
        assert_eq!(element(&page, "browser-close"), at_close, "{choice}");
        let shown = element(&page, "expiry-age");
        let seconds: i64 = shown.trim_end_matches(" seconds").parse().unwrap();
        match age {
            Some(age) => assert_eq!(shown, age, "{choice}"),
            // An instant: at most an hour (timedelta) or a day (datetime) away.
            None => assert!((0..=86_400).contains(&seconds), "{choice}: {shown}"),
        }
        let data = element(&page, "data");
        assert_eq!(
            data.contains("_session_expiry"),
            choice != "default",
            "{choice}: {data}"
        );
    }
}

#[tokio::test]
async fn a_browser_close_expiry_sets_a_session_cookie() {
    let demo = Demo::start().await;
    let browser = client(false);
    let response = post(
        &browser,
        &demo.url("/expiry"),
        &[("choice", "browser-close")],
    )
    .await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("sessionid="), "{cookie}");
    assert!(
        !cookie.contains("Max-Age") && !cookie.contains("expires"),
        "{cookie}"
    );
}
