//! The cases: each starts its own site through the adapter it is given, so every
//! adapter answers the same requests over the same kind of store.

use std::sync::Arc;

use serde_json::{json, Value};
use session_api::config::SessionConfigBuilder;
use session_api::middleware::{http_date, SessionMiddleware};
use session_api::{IdTransport, KeyRenewal, SameSite, SessionBackend, SessionKey};
use session_stores::signed_cookies::SignedCookieStore;
use time::Duration;

use super::client::{bare, browser, get, get_with, Answer};
use super::raw;
use super::site::{custom_body, Adapter, SiteSpec, CUSTOM_STATUS};
use super::stores::{Fixture, HeldSaves};

const DELETED: &str = "expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0";
const TEXT: &str = "text/plain; charset=utf-8";

/// The session key a response's `Set-Cookie` sets for the default cookie name.
fn set_key(answer: &Answer) -> SessionKey {
    let value = answer
        .cookie_value("sessionid")
        .unwrap_or_else(|| panic!("no session cookie set: {answer:?}"));
    SessionKey::parse(&value).expect("a valid session key")
}

fn data(answer: &Answer) -> Value {
    serde_json::from_str(&answer.body).unwrap_or_else(|_| panic!("not JSON: {answer:?}"))
}

/// G3: a view that never touches the session sends no `Set-Cookie` and no `Vary`,
/// whether or not the request carried a session cookie.
pub async fn untouched_session_sends_no_set_cookie_and_no_vary(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let key = f.saved(&[("a", json!(1))]).await;
    for cookie in [None, Some(f.cookie(key.as_str()))] {
        let answer = get(&bare(), &server.url("/untouched"), cookie.as_deref()).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(answer.set_cookies.is_empty(), "{answer:?}");
        assert!(!answer.varies_on_cookie(), "{answer:?}");
    }
}

/// G3, G4: a read varies on `Cookie` and neither saves nor sets a cookie (the
/// record's expiry would move with the clock if it saved).
pub async fn read_session_varies_on_cookie_and_is_not_saved(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let client = browser();
    let first = get(&client, &server.url("/write"), None).await;
    assert_eq!(first.body, "visit 1");
    assert!(first.varies_on_cookie(), "{first:?}");
    let key = set_key(&first);
    let saved_until = f.load(&key).await.expect("saved").expires_at;

    f.clock.advance(Duration::minutes(5));
    let read = get(&client, &server.url("/read"), None).await;
    assert_eq!((read.status, data(&read)), (200, json!({"visits": 1})));
    assert!(read.varies_on_cookie(), "{read:?}");
    assert!(read.set_cookies.is_empty(), "a read set a cookie: {read:?}");
    assert_eq!(
        f.load(&key).await.expect("still there").expires_at,
        saved_until,
        "a read saved the session"
    );

    let second = get(&client, &server.url("/write"), None).await;
    assert_eq!(second.body, "visit 2");
    assert_eq!(set_key(&second), key);
}

/// G4, G6: the cookie's attributes are the settings' (Django's defaults; domain,
/// secure, samesite, path, and HttpOnly off; a name, an age and no samesite).
pub async fn cookie_attributes_follow_the_config(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let answer = get(&bare(), &server.url("/write"), None).await;
    let key = set_key(&answer);
    let expires = http_date(f.now() + Duration::seconds(1_209_600));
    assert_eq!(
        answer.cookie("sessionid"),
        Some(
            format!(
                "sessionid={}; expires={expires}; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax",
                key.as_str()
            )
            .as_str()
        )
    );

    let f = Fixture::with(|b| {
        b.cookie_domain(Some("rules.test".into()))
            .cookie_secure(true)
            .cookie_samesite(Some(SameSite::Strict))
            .cookie_path("/app")
            .cookie_httponly(false)
    })
    .await;
    let server = f.serve(adapter);
    let answer = get(&bare(), &server.url("/write"), None).await;
    let key = set_key(&answer);
    let expires = http_date(f.now() + Duration::seconds(1_209_600));
    assert_eq!(
        answer.cookie("sessionid"),
        Some(
            format!(
                "sessionid={}; Domain=rules.test; expires={expires}; Max-Age=1209600; \
                 Path=/app; SameSite=Strict; Secure",
                key.as_str()
            )
            .as_str()
        )
    );

    let f = Fixture::with(|b| {
        b.cookie_name("rules_sid")
            .cookie_age(3600)
            .cookie_samesite(None)
    })
    .await;
    let server = f.serve(adapter);
    let answer = get(&bare(), &server.url("/write"), None).await;
    let value = answer.cookie_value("rules_sid").expect("the named cookie");
    let expires = http_date(f.now() + Duration::seconds(3600));
    assert_eq!(
        answer.cookie("rules_sid"),
        Some(
            format!("rules_sid={value}; expires={expires}; HttpOnly; Max-Age=3600; Path=/")
                .as_str()
        )
    );
}

/// G4, C3: a browser-close session's cookie has neither Max-Age nor Expires, and keeps
/// it that way on later saves; the same with `SESSION_EXPIRE_AT_BROWSER_CLOSE`.
pub async fn browser_close_cookie_has_no_max_age_or_expires_and_keeps_it(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let client = browser();
    let first = get(&client, &server.url("/browser-close"), None).await;
    let key = set_key(&first);
    let session_cookie = format!("sessionid={}; HttpOnly; Path=/; SameSite=Lax", key.as_str());
    assert_eq!(first.cookie("sessionid"), Some(session_cookie.as_str()));

    f.clock.advance(Duration::hours(1));
    let later = get(&client, &server.url("/write"), None).await;
    assert_eq!(later.body, "visit 2", "the jar kept the session cookie");
    assert_eq!(later.cookie("sessionid"), Some(session_cookie.as_str()));

    let f = Fixture::with(|b| b.expire_at_browser_close(true)).await;
    let server = f.serve(adapter);
    let answer = get(&bare(), &server.url("/write"), None).await;
    let key = set_key(&answer);
    assert_eq!(
        answer.cookie("sessionid"),
        Some(format!("sessionid={}; HttpOnly; Path=/; SameSite=Lax", key.as_str()).as_str())
    );
}

/// G4: a response of 500 or above saves nothing and sets no cookie (still varying on
/// `Cookie`); 499 saves.
pub async fn server_errors_do_not_save(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let key = f.saved(&[("a", json!(1))]).await;
    let cookie = f.cookie(key.as_str());
    for status in [500, 503] {
        let path = format!("/status/{status}");
        for cookie in [None, Some(cookie.as_str())] {
            let answer = get(&bare(), &server.url(&path), cookie).await;
            assert_eq!(answer.status, status, "{answer:?}");
            assert!(answer.set_cookies.is_empty(), "{answer:?}");
            assert!(answer.varies_on_cookie(), "{answer:?}");
        }
        let record = f.load(&key).await.expect("still there");
        assert!(!record.data.contains_key("status"), "a {status} saved");
    }
    let answer = get(&bare(), &server.url("/status/499"), Some(&cookie)).await;
    assert_eq!(set_key(&answer), key);
    let record = f.load(&key).await.expect("still there");
    assert_eq!(record.data.get::<u16>("status").ok().flatten(), Some(499));
}

/// G2, A6: logout deletes the record and the cookie, with the cookie's Path, Domain
/// and SameSite; a browser then sends it no more.
pub async fn logout_deletes_the_cookie_with_the_same_path_domain_and_samesite(
    adapter: &dyn Adapter,
) {
    let f = Fixture::with(|b| {
        b.cookie_domain(Some("rules.test".into()))
            .cookie_path("/app")
            .cookie_samesite(Some(SameSite::Strict))
    })
    .await;
    let server = f.serve(adapter);
    let key = f.saved(&[("a", json!(1))]).await;
    let answer = get(
        &bare(),
        &server.url("/logout"),
        Some(&f.cookie(key.as_str())),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.cookie("sessionid"),
        Some(
            format!("sessionid=\"\"; Domain=rules.test; {DELETED}; Path=/app; SameSite=Strict")
                .as_str()
        )
    );
    assert!(answer.varies_on_cookie(), "{answer:?}");
    assert!(f.load(&key).await.is_none(), "the record survived logout");

    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let client = browser();
    let key = set_key(&get(&client, &server.url("/write"), None).await);
    let answer = get(&client, &server.url("/logout"), None).await;
    assert_eq!(
        answer.cookie("sessionid"),
        Some(format!("sessionid=\"\"; {DELETED}; Path=/; SameSite=Lax").as_str())
    );
    let after = get(&client, &server.url("/read"), None).await;
    assert_eq!(data(&after), json!({}));
    assert!(
        after.set_cookies.is_empty(),
        "the jar still sent the cookie: {after:?}"
    );
    assert!(f.load(&key).await.is_none());
}

/// G2, G3: logging out a request without a session cookie sends no cookie, and still
/// varies on `Cookie` (the session was accessed).
pub async fn logout_without_a_cookie_sends_none_but_varies(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let answer = get(&bare(), &server.url("/logout"), None).await;
    assert_eq!(answer.status, 200);
    assert!(answer.set_cookies.is_empty(), "{answer:?}");
    assert!(answer.varies_on_cookie(), "{answer:?}");
}

/// A5: login (`cycle_key`) sets a new cookie value with the data moved to it; the old
/// value no longer opens anything (and its cookie is deleted, G2).
pub async fn login_cycles_the_key_and_the_old_key_stops_working(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let client = browser();
    let before = set_key(&get(&client, &server.url("/write"), None).await);
    let login = get(&client, &server.url("/login"), None).await;
    assert_eq!(login.status, 200);
    let after = set_key(&login);
    assert_ne!(before, after, "login kept the key");
    let read = get(&client, &server.url("/read"), None).await;
    assert_eq!(data(&read), json!({"visits": 1, "_auth_user_id": "42"}));

    assert!(f.load(&before).await.is_none(), "the old record survived");
    let old = get(
        &bare(),
        &server.url("/read"),
        Some(&f.cookie(before.as_str())),
    )
    .await;
    assert_eq!((old.status, data(&old)), (200, json!({})));
    assert_eq!(
        old.cookie("sessionid"),
        Some(format!("sessionid=\"\"; {DELETED}; Path=/; SameSite=Lax").as_str())
    );
}

/// A3, H1, F5: a tampered cookie (an unknown key, a malformed value, a signed cookie
/// with a changed byte) gives an empty session and a 200, and the cookie is deleted.
pub async fn tampered_cookie_gives_an_empty_session_and_200(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let key = f.saved(&[("a", json!(1))]).await;
    let mut changed = key.as_str().to_owned();
    let last = if changed.ends_with('a') { "b" } else { "a" };
    changed.replace_range(changed.len() - 1.., last);
    for value in [changed.as_str(), "../../etc/passwd", "\"%00\"", "x"] {
        let answer = get(&bare(), &server.url("/read"), Some(&f.cookie(value))).await;
        assert_eq!(
            (answer.status, data(&answer)),
            (200, json!({})),
            "{value:?}"
        );
        assert!(
            answer
                .cookie("sessionid")
                .is_some_and(|c| c.contains(DELETED)),
            "{answer:?}"
        );
    }
    assert!(f.load(&key).await.is_some(), "the real session was touched");

    let store = SignedCookieStore::from_config(&f.config);
    let backend = SessionBackend::from_nonblocking_sync(Arc::new(store));
    let server = adapter.serve(SiteSpec::new(SessionMiddleware::new(
        backend,
        Arc::clone(&f.config),
    )));
    let signed = get(&bare(), &server.url("/write"), None)
        .await
        .cookie_value("sessionid")
        .expect("a signed cookie");
    let works = get(&bare(), &server.url("/read"), Some(&f.cookie(&signed))).await;
    assert_eq!(data(&works), json!({"visits": 1}));
    let middle = signed.len() / 2;
    let flipped = if &signed[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let mut tampered = signed.clone();
    tampered.replace_range(middle..=middle, flipped);
    let answer = get(&bare(), &server.url("/read"), Some(&f.cookie(&tampered))).await;
    assert_eq!((answer.status, data(&answer)), (200, json!({})));
}

/// G5: a logout that completes while another request's save is still running makes
/// that save fail: 400, no cookie, and the session is not written back.
pub async fn concurrent_logout_during_a_slow_save_answers_400_and_nothing_comes_back(
    adapter: &dyn Adapter,
) {
    let f = Fixture::new().await;
    let held = Arc::new(HeldSaves::new(Arc::clone(&f.db)));
    let backend = SessionBackend::from_async(Arc::clone(&held));
    let server = adapter.serve(SiteSpec::new(SessionMiddleware::new(
        backend,
        Arc::clone(&f.config),
    )));
    let key = f.saved(&[("visits", json!(1))]).await;
    let cookie = f.cookie(key.as_str());

    let hold = held.hold_next_update();
    let slow = tokio::spawn({
        let url = server.url("/write");
        let cookie = cookie.clone();
        async move { get(&bare(), &url, Some(&cookie)).await }
    });
    // Bounded: an adapter that never saves fails here instead of hanging.
    tokio::time::timeout(std::time::Duration::from_secs(20), hold.entered)
        .await
        .expect("the slow save reached the store")
        .expect("the slow save started");
    let logout = get(&bare(), &server.url("/logout"), Some(&cookie)).await;
    assert_eq!(logout.status, 200);
    assert!(f.load(&key).await.is_none(), "logout deleted nothing");
    hold.release.send(()).expect("the slow save waits");

    let slow = slow.await.expect("the slow request");
    assert_eq!(slow.status, 400, "{slow:?}");
    assert_eq!(
        slow.body,
        "Bad Request: the session was deleted by a concurrent request.\n"
    );
    assert_eq!(slow.content_type.as_deref(), Some(TEXT));
    assert!(slow.cookie("sessionid").is_none(), "{slow:?}");
    assert!(f.load(&key).await.is_none(), "the session was resurrected");
    let read = get(&bare(), &server.url("/read"), Some(&cookie)).await;
    assert_eq!(data(&read), json!({}));
}

/// The `Cookie` header carrying `key` after `prefix` (raw bytes).
fn cookie_after(prefix: &[u8], key: &SessionKey) -> Vec<u8> {
    let mut value = prefix.to_vec();
    value.extend_from_slice(b"sessionid=");
    value.extend_from_slice(key.as_str().as_bytes());
    raw::cookie_header(&value)
}

/// Checks that a raw request found the session `key` (saved with one visit) and
/// counted a visit on it.
async fn assert_found(f: &Fixture, answer: &raw::RawAnswer, key: &SessionKey) {
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "visit 2"),
        "{answer:?}"
    );
    let record = f.load(key).await.expect("still there");
    assert_eq!(record.data.get::<i64>("visits").ok().flatten(), Some(2));
}

/// Garbage headers give no 500, never a hang: invalid UTF-8 in another cookie (the
/// session cookie is still found), in the session cookie (an empty session), in
/// another header.
pub async fn non_utf8_header_bytes_give_no_500(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let prefixes: [&[u8]; 3] = [
        b"theme=caf\xe9; ",
        "name=Jos\u{e9}; ".as_bytes(),
        b"a=\x80\xff; b=2; ",
    ];
    for prefix in prefixes {
        let key = f.saved(&[("visits", json!(1))]).await;
        let answer = raw::get(server.addr(), "/write", &[cookie_after(prefix, &key)]).await;
        assert_found(&f, &answer, &key).await;
    }
    let answer = raw::get(
        server.addr(),
        "/read",
        &[raw::cookie_header(b"sessionid=\xff\xfe\x80abc")],
    )
    .await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "{}"),
        "{answer:?}"
    );
    let answer = raw::get(server.addr(), "/read", &[b"X-Junk: \xff\xfe\x80".to_vec()]).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "{}"),
        "{answer:?}"
    );
}

/// A 10 KB `Cookie` header (a long cookie beside the session cookie), a 10 KB session
/// cookie (not a key: an empty session, the cookie deleted), a 10 KB other header.
pub async fn ten_kilobyte_headers_give_no_500(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let long = "a".repeat(10 * 1024);
    let key = f.saved(&[("visits", json!(1))]).await;
    let prefix = format!("junk={long}; ");
    let answer = raw::get(
        server.addr(),
        "/write",
        &[cookie_after(prefix.as_bytes(), &key)],
    )
    .await;
    assert_found(&f, &answer, &key).await;

    let header = raw::cookie_header(format!("sessionid={long}").as_bytes());
    let answer = raw::get(server.addr(), "/read", &[header]).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "{}"),
        "{answer:?}"
    );
    assert!(
        answer.set_cookies.iter().any(|c| c.contains(DELETED)),
        "{answer:?}"
    );

    let answer = raw::get(
        server.addr(),
        "/read",
        &[format!("X-Junk: {long}").into_bytes()],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

/// 300 session cookies in one header: the last one wins, as in Django's
/// `parse_cookie`; 300 `Cookie` headers: the server may refuse them (431), but never
/// with a 5xx.
pub async fn three_hundred_duplicate_cookies_give_no_500(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let key = f.saved(&[("visits", json!(1))]).await;
    let decoys: String = (0..299)
        .map(|_| format!("sessionid={}; ", SessionKey::generate().as_str()))
        .collect();
    let answer = raw::get(
        server.addr(),
        "/write",
        &[cookie_after(decoys.as_bytes(), &key)],
    )
    .await;
    assert_found(&f, &answer, &key).await;

    let headers: Vec<Vec<u8>> = (0..300)
        .map(|i| raw::cookie_header(format!("c{i}=1").as_bytes()))
        .collect();
    let answer = raw::get(server.addr(), "/read", &headers).await;
    // hyper and actix-web both refuse about 100 headers with 431.
    assert!(matches!(answer.status, 200 | 431), "{answer:?}");
}

/// Two `Cookie` headers (as HTTP/2 splits them) are read as one, in order: the
/// session cookie in the second is found, and of two session cookies the last wins.
pub async fn two_cookie_headers_are_read_as_one(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let key = f.saved(&[("visits", json!(1))]).await;
    let answer = raw::get(
        server.addr(),
        "/write",
        &[raw::cookie_header(b"theme=dark"), cookie_after(b"", &key)],
    )
    .await;
    assert_found(&f, &answer, &key).await;

    let other = f.saved(&[("visits", json!(5))]).await;
    let answer = raw::get(
        server.addr(),
        "/write",
        &[cookie_after(b"", &other), cookie_after(b"", &key)],
    )
    .await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "visit 3"),
        "{answer:?}"
    );
}

/// During a store outage (the store's pool closed), the application's error page
/// answers both a failed save and a handler's `?` on a failed load; views that never
/// touch the session still answer 200; nobody's cookie is deleted.
pub async fn store_outage_the_error_page_answers_and_untouched_views_still_200(
    adapter: &dyn Adapter,
) {
    let f = Fixture::new().await;
    let server = adapter.serve(SiteSpec::new(f.middleware()).custom_error_page());
    let key = f.saved(&[("visits", json!(1))]).await;
    let cookie = f.cookie(key.as_str());
    f.db.pool().close().await;

    for cookie in [None, Some(cookie.as_str())] {
        let answer = get(&bare(), &server.url("/untouched"), cookie).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, "untouched"));
        assert!(answer.set_cookies.is_empty(), "{answer:?}");
    }
    let expected = custom_body(&session_api::Error::unavailable("outage"));
    let save = get(&bare(), &server.url("/write"), None).await;
    assert_eq!(
        (save.status, save.body.as_str()),
        (CUSTOM_STATUS, expected.as_str())
    );
    assert!(save.set_cookies.is_empty(), "{save:?}");
    let load = get(&bare(), &server.url("/read"), Some(&cookie)).await;
    assert_eq!(
        (load.status, load.body.as_str()),
        (CUSTOM_STATUS, expected.as_str())
    );
    assert!(
        load.set_cookies.is_empty(),
        "the cookie was deleted: {load:?}"
    );
}

/// During a store outage the default answer is 503 with a short, fixed text: never
/// the error's details.
pub async fn store_outage_default_answer_is_503_without_details(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let key = f.saved(&[("visits", json!(1))]).await;
    f.db.pool().close().await;
    for (path, cookie) in [("/write", None), ("/read", Some(f.cookie(key.as_str())))] {
        let answer = get(&bare(), &server.url(path), cookie.as_deref()).await;
        assert_eq!(answer.status, 503, "{answer:?}");
        assert_eq!(answer.content_type.as_deref(), Some(TEXT));
        assert_eq!(
            answer.body,
            "Service Unavailable: the session store is unavailable.\n"
        );
        assert!(answer.set_cookies.is_empty(), "{answer:?}");
    }
}

/// H4: a signed cookie over the browser limit fails the save: 500, a short fixed text,
/// no cookie; the application's page replaces that answer too.
pub async fn failed_save_answers_500_with_a_short_text_body(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let middleware = || {
        let store = SignedCookieStore::from_config(&f.config);
        let backend = SessionBackend::from_nonblocking_sync(Arc::new(store));
        SessionMiddleware::new(backend, Arc::clone(&f.config))
    };
    let server = adapter.serve(SiteSpec::new(middleware()));
    let answer = get(&bare(), &server.url("/big"), None).await;
    assert_eq!(answer.status, 500, "{answer:?}");
    assert_eq!(answer.content_type.as_deref(), Some(TEXT));
    assert_eq!(answer.body, "Internal Server Error: session failure.\n");
    assert!(answer.set_cookies.is_empty(), "{answer:?}");

    let server = adapter.serve(SiteSpec::new(middleware()).custom_error_page());
    let answer = get(&bare(), &server.url("/big"), None).await;
    assert_eq!(answer.status, CUSTOM_STATUS);
    assert_eq!(answer.body, "custom error page: other");
}

/// A handler's `?` on a session call answers 500 with a fixed text, never a 200, and
/// never shows the session's data.
pub async fn handler_error_answers_500_not_200(adapter: &dyn Adapter) {
    let f = Fixture::new().await;
    let server = f.serve(adapter);
    let client = browser();
    assert_eq!(get(&client, &server.url("/name"), None).await.status, 200);
    let answer = get(&client, &server.url("/typed"), None).await;
    assert_eq!(answer.status, 500, "{answer:?}");
    assert_eq!(answer.content_type.as_deref(), Some(TEXT));
    assert_eq!(answer.body, "Internal Server Error: session failure.\n");
}

/// A route without the session middleware answers 500 and names the fix.
pub async fn without_the_layer_the_extractor_answers_500_and_says_why(adapter: &dyn Adapter) {
    let server = adapter.serve(SiteSpec {
        middleware: None,
        error_page: super::site::ErrorPage::Default,
    });
    let answer = get(&bare(), &server.url("/write"), None).await;
    assert_eq!(answer.status, 500, "{answer:?}");
    assert_eq!(answer.content_type.as_deref(), Some(TEXT));
    assert!(
        answer.body.contains("no session middleware on this route"),
        "{answer:?}"
    );
}

/// The id header of the header-transport cases (rule S6).
const TOKEN: &str = "X-Session-Token";

fn header_only(b: SessionConfigBuilder) -> SessionConfigBuilder {
    b.id_transport(IdTransport::Header {
        header: TOKEN.into(),
    })
}

/// The key a response's id header carries.
fn token_key(answer: &Answer) -> SessionKey {
    let values = answer.header(TOKEN);
    assert_eq!(values.len(), 1, "{answer:?}");
    SessionKey::parse(&values[0]).expect("a valid session key")
}

/// S6: with the header transport a client opts in with an empty header, gets its key
/// in the same header, and sends it back; the header answers only when the key
/// changes (login) and is set empty on logout; cookies are neither read nor set, and
/// responses vary on the header, not on `Cookie`.
pub async fn header_transport_carries_the_key_in_the_header_only(adapter: &dyn Adapter) {
    let f = Fixture::with(header_only).await;
    let server = f.serve(adapter);
    let first = get_with(&bare(), &server.url("/write"), &[(TOKEN, "")]).await;
    assert_eq!((first.status, first.body.as_str()), (200, "visit 1"));
    assert!(first.set_cookies.is_empty(), "{first:?}");
    assert!(
        first.varies_on(TOKEN) && !first.varies_on_cookie(),
        "{first:?}"
    );
    let key = token_key(&first);

    let second = get_with(&bare(), &server.url("/write"), &[(TOKEN, key.as_str())]).await;
    assert_eq!((second.status, second.body.as_str()), (200, "visit 2"));
    assert!(
        second.header(TOKEN).is_empty(),
        "an unchanged key was re-sent: {second:?}"
    );
    assert!(second.set_cookies.is_empty(), "{second:?}");
    assert!(second.varies_on(TOKEN), "{second:?}");

    let cookie = get(&bare(), &server.url("/read"), Some(&f.cookie(key.as_str()))).await;
    assert_eq!(data(&cookie), json!({}), "a cookie was read: {cookie:?}");
    assert!(cookie.set_cookies.is_empty() && cookie.header(TOKEN).is_empty());

    let login = get_with(&bare(), &server.url("/login"), &[(TOKEN, key.as_str())]).await;
    let after = token_key(&login);
    assert_ne!(after, key, "login kept the key");
    assert!(
        f.load(&key).await.is_none(),
        "the old record survived the login"
    );

    let logout = get_with(&bare(), &server.url("/logout"), &[(TOKEN, after.as_str())]).await;
    assert_eq!(logout.status, 200);
    assert_eq!(logout.header(TOKEN), [""], "{logout:?}");
    assert!(logout.set_cookies.is_empty(), "{logout:?}");
    assert!(f.load(&after).await.is_none(), "the record survived logout");
}

/// S6: with the cookie and the header, the cookie wins when both arrive; the header
/// alone is used and answered in the header; a request with neither is Django's
/// cookie request, one with an empty header opts into the header. Every response
/// varies on both.
pub async fn cookie_and_header_the_cookie_wins_and_each_is_answered_in_kind(adapter: &dyn Adapter) {
    let f = Fixture::with(|b| {
        b.id_transport(IdTransport::CookieAndHeader {
            header: TOKEN.into(),
        })
    })
    .await;
    let server = f.serve(adapter);
    let by_cookie = f.saved(&[("visits", json!(1))]).await;
    let by_header = f.saved(&[("visits", json!(5))]).await;

    let cookie = f.cookie(by_cookie.as_str());
    let both = get_with(
        &bare(),
        &server.url("/write"),
        &[("cookie", cookie.as_str()), (TOKEN, by_header.as_str())],
    )
    .await;
    assert_eq!(both.body, "visit 2", "the header won over the cookie");
    assert_eq!(set_key(&both), by_cookie);
    assert!(both.header(TOKEN).is_empty(), "{both:?}");
    assert!(both.varies_on_cookie() && both.varies_on(TOKEN), "{both:?}");

    let header = get_with(
        &bare(),
        &server.url("/write"),
        &[(TOKEN, by_header.as_str())],
    )
    .await;
    assert_eq!(header.body, "visit 6");
    assert!(header.set_cookies.is_empty(), "{header:?}");
    assert!(header.header(TOKEN).is_empty(), "{header:?}");
    assert!(
        header.varies_on_cookie() && header.varies_on(TOKEN),
        "{header:?}"
    );

    let neither = get(&bare(), &server.url("/write"), None).await;
    assert_eq!(neither.body, "visit 1");
    let _ = set_key(&neither);
    assert!(neither.header(TOKEN).is_empty(), "{neither:?}");

    let empty = get_with(&bare(), &server.url("/write"), &[(TOKEN, "")]).await;
    assert_eq!(empty.body, "visit 1");
    assert!(empty.set_cookies.is_empty(), "{empty:?}");
    let fresh = token_key(&empty);
    assert_eq!(
        f.load(&fresh)
            .await
            .expect("saved")
            .data
            .get::<i64>("visits")
            .ok()
            .flatten(),
        Some(1)
    );
    for (key, visits) in [(&by_cookie, 2), (&by_header, 6)] {
        let record = f.load(key).await.expect("still there");
        assert_eq!(
            record.data.get::<i64>("visits").ok().flatten(),
            Some(visits)
        );
    }
}

/// S6, H1: a hostile id header (not UTF-8, 10 KB, a path, quotes and NUL, an unknown
/// key, the header twice) gives an empty session and a 200, never a 500, and the
/// answer tells the client to drop its token; the real session is untouched.
pub async fn hostile_id_headers_give_an_empty_session_never_500(adapter: &dyn Adapter) {
    let f = Fixture::with(header_only).await;
    let server = f.serve(adapter);
    let key = f.saved(&[("visits", json!(1))]).await;
    let mut unknown = key.as_str().to_owned();
    let last = if unknown.ends_with('a') { "b" } else { "a" };
    unknown.replace_range(unknown.len() - 1.., last);
    let line = |value: &[u8]| {
        let mut line = format!("{TOKEN}: ").into_bytes();
        line.extend_from_slice(value);
        line
    };
    let long = "a".repeat(10 * 1024);
    let hostile: Vec<Vec<Vec<u8>>> = vec![
        vec![line(b"\xff\xfe\x80abc")],
        vec![line(long.as_bytes())],
        vec![line(b"../../etc/passwd")],
        vec![line(b"\"%00\"")],
        vec![line(unknown.as_bytes())],
        vec![line(key.as_str().as_bytes()), line(key.as_str().as_bytes())],
    ];
    for headers in hostile {
        let answer = raw::get(server.addr(), "/read", &headers).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (200, "{}"),
            "{answer:?}"
        );
        assert_eq!(answer.header(TOKEN), [""], "{answer:?}");
        assert!(answer.set_cookies.is_empty(), "{answer:?}");
    }
    let record = f.load(&key).await.expect("still there");
    assert_eq!(record.data.get::<i64>("visits").ok().flatten(), Some(1));
}

/// S2 over S6: a renewal answers with the successor's key in the header; the old key
/// within the grace reaches the session and is answered with the successor's key;
/// after the grace it loads nothing, the session is revoked and the client is told
/// to drop its token.
pub async fn header_transport_carries_a_renewed_key(adapter: &dyn Adapter) {
    let f =
        Fixture::with(|b| header_only(b).key_renewal(Some(KeyRenewal::every(600).with_grace(30))))
            .await;
    let server = f.serve(adapter);
    let first = token_key(&get_with(&bare(), &server.url("/write"), &[(TOKEN, "")]).await);
    f.clock.advance(Duration::seconds(600));
    let renewal = get_with(&bare(), &server.url("/write"), &[(TOKEN, first.as_str())]).await;
    assert_eq!(renewal.body, "visit 2");
    let second = token_key(&renewal);
    assert_ne!(second, first, "the key was not renewed");

    f.clock.advance(Duration::seconds(29));
    let late = get_with(&bare(), &server.url("/read"), &[(TOKEN, first.as_str())]).await;
    assert_eq!(data(&late)["visits"], json!(2), "{late:?}");
    assert_eq!(token_key(&late), second);

    f.clock.advance(Duration::seconds(1));
    let copied = get_with(&bare(), &server.url("/read"), &[(TOKEN, first.as_str())]).await;
    assert_eq!((copied.status, data(&copied)), (200, json!({})));
    assert_eq!(copied.header(TOKEN), [""], "{copied:?}");
    assert!(
        f.load(&second).await.is_none(),
        "the session survived a copied token"
    );
}

/// S2 with the cookie: the renewal sets the successor's cookie (a browser then sends
/// it), and a request still sending the old cookie within the grace gets the
/// successor's cookie back.
pub async fn renewal_sets_the_successor_cookie(adapter: &dyn Adapter) {
    let f = Fixture::with(|b| b.key_renewal(Some(KeyRenewal::every(600)))).await;
    let server = f.serve(adapter);
    let client = browser();
    let first = set_key(&get(&client, &server.url("/write"), None).await);
    f.clock.advance(Duration::seconds(600));
    let renewal = get(&client, &server.url("/write"), None).await;
    let second = set_key(&renewal);
    assert_ne!(second, first, "the key was not renewed");
    let next = get(&client, &server.url("/write"), None).await;
    assert_eq!(next.body, "visit 3", "the browser lost the session");
    assert_eq!(set_key(&next), second);

    let old = get(
        &bare(),
        &server.url("/read"),
        Some(&f.cookie(first.as_str())),
    )
    .await;
    assert_eq!(data(&old)["visits"], json!(3), "{old:?}");
    assert_eq!(set_key(&old), second);
}
