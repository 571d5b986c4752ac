#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The middleware core against section G of docs/django-spec.md, through its sync
//! `process_response` (the adapters use the async twin, and the exact `Set-Cookie`
//! headers are checked over real HTTP for every adapter in `tests/http_rules/`).

mod common;

use common::Fixture;
use session_api::middleware::{cookie_value, ErrorReply, SessionMiddleware};
use session_api::{Error, Expiry, SameSite};

fn middleware(f: &Fixture) -> SessionMiddleware {
    SessionMiddleware::new(f.backend.clone(), f.config.clone())
}

#[test]
fn g1_session_key_comes_from_the_named_cookie_last_one_wins() {
    assert_eq!(
        cookie_value("a=1; sessionid=abcdefgh12; b=2", "sessionid").as_deref(),
        Some("abcdefgh12")
    );
    assert_eq!(
        cookie_value("sessionid=first0000; sessionid=\"second000\"", "sessionid").as_deref(),
        Some("second000")
    );
    assert_eq!(cookie_value("other=1", "sessionid"), None);
    assert_eq!(cookie_value("", "sessionid"), None);
    assert_eq!(cookie_value(";;=;sessionid", "sessionid"), None);

    let f = Fixture::new();
    let key = f.saved();
    let mw = middleware(&f);
    let header = format!("csrftoken=x; sessionid={}", key.as_str());
    let req = mw.request_session(Some(&header));
    assert!(req.cookie_present);
    assert_eq!(req.session.session_key(), Some(key));
    assert!(!req.session.accessed(), "G1: the handle is built lazily");
}

#[test]
fn g2_invalid_cookie_is_deleted() {
    let f = Fixture::new();
    let mw = middleware(&f);
    let req = mw.request_session(Some("sessionid=../../etc/passwd"));
    assert!(req.cookie_present);
    let out = mw.process_response(&req, 200).unwrap();
    assert!(out
        .set_cookie
        .unwrap()
        .starts_with("sessionid=\"\"; expires=Thu, 01 Jan 1970"));
}

#[test]
fn g2_delete_cookie_is_secure_for_prefixed_names_and_samesite_none() {
    let f = Fixture::with(|b| b.cookie_samesite(Some(SameSite::None)).cookie_secure(true));
    let mw = middleware(&f);
    let req = mw.request_session(Some("sessionid=x"));
    let out = mw.process_response(&req, 200).unwrap();
    assert!(out.set_cookie.unwrap().ends_with("SameSite=None; Secure"));

    let f = Fixture::with(|b| b.cookie_name("__Host-sid").cookie_secure(true));
    let mw = middleware(&f);
    let req = mw.request_session(Some("__Host-sid=x"));
    let out = mw.process_response(&req, 200).unwrap();
    assert!(out.set_cookie.unwrap().ends_with("; Secure"));
}

#[test]
fn g3_vary_only_when_accessed() {
    let f = Fixture::new();
    let mw = middleware(&f);
    let untouched = mw.request_session(None);
    let out = mw.process_response(&untouched, 200).unwrap();
    assert_eq!(out.set_cookie, None);
    assert!(!out.vary_cookie);

    let key = f.saved();
    let read = mw.request_session(Some(&format!("sessionid={}", key.as_str())));
    read.session.get_value("a").unwrap();
    let saves = f.store.saves.load(std::sync::atomic::Ordering::SeqCst);
    let out = mw.process_response(&read, 200).unwrap();
    assert!(out.vary_cookie);
    assert_eq!(out.set_cookie, None, "reading must not set a cookie");
    assert_eq!(
        f.store.saves.load(std::sync::atomic::Ordering::SeqCst),
        saves,
        "reading must not save"
    );
}

#[test]
fn g4_max_age_follows_custom_expiry_and_browser_close_omits_it() {
    let f = Fixture::new();
    let mw = middleware(&f);
    let req = mw.request_session(None);
    req.session.set_expiry(Expiry::Seconds(300)).unwrap();
    let cookie = mw.process_response(&req, 200).unwrap().set_cookie.unwrap();
    assert!(cookie.contains("; Max-Age=300; "), "{cookie}");

    let req = mw.request_session(None);
    req.session.set_expiry(Expiry::BrowserClose).unwrap();
    let cookie = mw.process_response(&req, 200).unwrap().set_cookie.unwrap();
    assert!(
        !cookie.contains("Max-Age") && !cookie.contains("expires"),
        "{cookie}"
    );

    let f = Fixture::with(|b| b.expire_at_browser_close(true));
    let mw = middleware(&f);
    let req = mw.request_session(None);
    req.session.set("a", &1).unwrap();
    let cookie = mw.process_response(&req, 200).unwrap().set_cookie.unwrap();
    assert!(!cookie.contains("Max-Age"), "{cookie}");
}

#[test]
fn g4_no_save_and_no_cookie_on_500() {
    let f = Fixture::new();
    let mw = middleware(&f);
    let req = mw.request_session(None);
    req.session.set("a", &1).unwrap();
    let out = mw.process_response(&req, 500).unwrap();
    assert_eq!(out.set_cookie, None);
    assert!(out.vary_cookie);
    assert!(req.session.session_key().is_none());
    assert_eq!(f.store.saves.load(std::sync::atomic::Ordering::SeqCst), 0);
    let out = mw.process_response(&req, 503).unwrap();
    assert_eq!(out.set_cookie, None);
    let out = mw.process_response(&req, 499).unwrap();
    assert!(out.set_cookie.is_some());
}

#[test]
fn g4_save_every_request_refreshes_an_unmodified_session() {
    let f = Fixture::with(|b| b.save_every_request(true));
    let key = f.saved();
    let mw = middleware(&f);
    let saves = f.store.saves.load(std::sync::atomic::Ordering::SeqCst);
    let req = mw.request_session(Some(&format!("sessionid={}", key.as_str())));
    let out = mw.process_response(&req, 200).unwrap();
    assert!(out.set_cookie.is_some());
    assert_eq!(
        f.store.saves.load(std::sync::atomic::Ordering::SeqCst),
        saves + 1
    );
    // An empty session without a cookie is still not saved.
    let req = mw.request_session(None);
    assert_eq!(mw.process_response(&req, 200).unwrap().set_cookie, None);
}

#[test]
fn g4_unmodified_session_is_not_saved() {
    let f = Fixture::new();
    let key = f.saved();
    let mw = middleware(&f);
    let saves = f.store.saves.load(std::sync::atomic::Ordering::SeqCst);
    let req = mw.request_session(Some(&format!("sessionid={}", key.as_str())));
    req.session.get_value("a").unwrap();
    mw.process_response(&req, 200).unwrap();
    assert_eq!(
        f.store.saves.load(std::sync::atomic::Ordering::SeqCst),
        saves
    );
}

#[test]
fn g5_concurrent_logout_is_session_interrupted() {
    let f = Fixture::new();
    let key = f.saved();
    let mw = middleware(&f);
    let cookie = format!("sessionid={}", key.as_str());
    let slow = mw.request_session(Some(&cookie));
    slow.session.set("b", &2).unwrap();
    let logout = mw.request_session(Some(&cookie));
    logout.session.flush().unwrap();
    mw.process_response(&logout, 200).unwrap();
    assert!(matches!(
        mw.process_response(&slow, 200),
        Err(Error::SessionInterrupted)
    ));
    assert!(!f.session(Some(key.as_str())).has_key("b").unwrap());
}

#[tokio::test]
async fn g_async_twin_matches_sync() {
    let f = Fixture::new();
    let mw = middleware(&f);
    let req = mw.request_session(None);
    req.session.aset("a", &1).await.unwrap();
    let out = mw.aprocess_response(&req, 200).await.unwrap();
    let key = req.session.session_key().unwrap();
    assert!(out
        .set_cookie
        .unwrap()
        .starts_with(&format!("sessionid={}; expires=", key.as_str())));
    let req = mw.request_session(Some(&format!("sessionid={}", key.as_str())));
    req.session.aflush().await.unwrap();
    let out = mw.aprocess_response(&req, 200).await.unwrap();
    assert!(out.set_cookie.unwrap().starts_with("sessionid=\"\""));
}

#[tokio::test]
async fn g4_the_handlers_clone_is_the_session_the_middleware_saves() {
    let f = Fixture::new();
    let mw = middleware(&f);
    let req = mw.request_session(None);
    // What an adapter hands to the application: a clone sharing the request's state.
    let handler_session = req.session.clone();
    handler_session.aset("a", &1).await.unwrap();
    drop(handler_session);
    let out = mw.aprocess_response(&req, 200).await.unwrap();
    let key = req.session.session_key().expect("saved under a fresh key");
    assert!(out
        .set_cookie
        .unwrap()
        .starts_with(&format!("sessionid={};", key.as_str())));
    assert_eq!(
        f.session(Some(key.as_str())).get::<i64>("a").unwrap(),
        Some(1)
    );
}

#[test]
fn g5_error_replies_are_400_503_and_500_without_details() {
    let interrupted = ErrorReply::for_error(&Error::SessionInterrupted);
    assert_eq!(interrupted.status, 400);
    let unavailable = ErrorReply::for_error(&Error::unavailable("connection refused"));
    assert_eq!(unavailable.status, 503);
    let failed = ErrorReply::for_error(&Error::backend("secret-db-host:5432 exploded"));
    assert_eq!(failed.status, 500);
    for reply in [interrupted, unavailable, failed] {
        assert_eq!(reply.content_type, "text/plain; charset=utf-8");
        assert!(!reply.body.is_empty());
        assert!(
            !reply.body.contains("secret-db-host") && !reply.body.contains("refused"),
            "the body must not leak the error's details: {}",
            reply.body
        );
    }
}
