#![allow(clippy::unwrap_used)]
//! Finding 6 of issue 12: configuration validation (rule G6).
//!
//! - Every secret is validated, fallbacks included: empty or shorter than
//!   `MIN_SECRET_LEN` (8 bytes) is `Error::Configuration`; short but allowed is a
//!   warning like Django's security.W025. Before the fix an empty fallback, with which
//!   anyone can forge a session, was accepted.
//! - The cookie name, domain and path are restricted to what a `Set-Cookie` header
//!   can carry. Before the fix a control character or a non-ASCII byte in the domain
//!   or path was accepted, and every response setting the cookie failed.
//! - `SameSite=None` without `Secure` is a build error. Before the fix 16 of the 208
//!   valid combinations below sent `SameSite=None` without `Secure`.

use std::sync::Arc;

use session_conformance::logs;

use session_api::config::{SessionConfigBuilder, MIN_SECRET_LEN};
use session_api::middleware::SessionMiddleware;
use session_api::signing::SecretKeys;
use session_api::{Error, SameSite, SessionBackend, SessionConfig};
use session_stores::memory::MemoryStore;

/// 50 characters, 20 distinct: no warning.
const STRONG: &str = "k7Qz9vX2mP4wR8tY1nB6cJ3hL5sD0fG-k7Qz9vX2mP4wR8tY1n";

fn builder(keys: SecretKeys) -> SessionConfigBuilder {
    SessionConfig::builder(keys)
}

/// Every `(level, "target fields")` logged while `f` runs.
fn logged(f: impl FnOnce()) -> Vec<(tracing::Level, String)> {
    logs::logged(f)
        .into_iter()
        .map(|event| (event.level, format!("{} {}", event.target, event.fields)))
        .collect()
}

fn warnings(keys: SecretKeys) -> Vec<String> {
    let mut built = None;
    let events = logged(|| built = Some(builder(keys).build()));
    assert!(built.unwrap().is_ok(), "expected a valid configuration");
    events
        .into_iter()
        .filter(|(level, _)| *level == tracing::Level::WARN)
        .map(|(_, message)| message)
        .collect()
}

fn configuration_error(b: SessionConfigBuilder) -> String {
    match b.build() {
        Err(err @ Error::Configuration(_)) => err.to_string(),
        Err(other) => panic!("expected a configuration error, got {other}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn g6_empty_or_too_short_secrets_are_errors_fallbacks_included() {
    assert_eq!(MIN_SECRET_LEN, 8);
    let too_short = "seven77";
    for keys in [
        SecretKeys::new(""),
        SecretKeys::new(too_short),
        SecretKeys::new(STRONG).with_fallbacks([""]),
        SecretKeys::new(STRONG).with_fallbacks(["x"]),
        SecretKeys::new(STRONG).with_fallbacks([STRONG, too_short]),
    ] {
        let message = configuration_error(builder(keys.clone()));
        assert!(!message.contains(too_short), "the secret is in {message:?}");
        assert!(keys.validate().is_err());
    }
    // An empty fallback is what let anyone forge a session: the empty key's HMAC is
    // public. A config that accepts it would verify this value.
    assert!(builder(SecretKeys::new(STRONG)).build().is_ok());
    assert!(SecretKeys::new(STRONG).validate().is_ok());
}

#[test]
fn g6_short_but_allowed_secrets_warn_like_w025() {
    assert!(warnings(SecretKeys::new(STRONG)).is_empty());
    let cases = [
        // Fewer than 50 characters.
        (SecretKeys::new(&STRONG[..49]), "SECRET_KEY"),
        (SecretKeys::new("eight888"), "SECRET_KEY"),
        // Fewer than 5 distinct characters.
        (SecretKeys::new("abcd".repeat(20)), "SECRET_KEY"),
        // Django's generated development key.
        (
            SecretKeys::new(format!("django-insecure-{STRONG}")),
            "SECRET_KEY",
        ),
        // Fallbacks too, by index.
        (
            SecretKeys::new(STRONG).with_fallbacks([STRONG, "old-secret"]),
            "SECRET_KEY_FALLBACKS[1]",
        ),
    ];
    for (keys, name) in cases {
        let warned = warnings(keys);
        assert_eq!(warned.len(), 1, "{name}: {warned:?}");
        assert!(warned[0].contains(name), "{warned:?}");
        assert!(warned[0].contains("W025"), "{warned:?}");
        assert!(
            !warned[0].contains("eight888") && !warned[0].contains("old-secret"),
            "the secret is in the warning: {warned:?}"
        );
    }
}

#[test]
fn g6_cookie_name_domain_and_path_fit_a_set_cookie_header() {
    let b = || builder(SecretKeys::new(STRONG));
    for bad in [
        "",
        "a;b",
        "a b",
        "a=b",
        "sess\u{7f}",
        "séssion",
        "a\tb",
        "a\nb",
    ] {
        configuration_error(b().cookie_name(bad));
    }
    for bad in [
        "no-slash",
        "/a;b",
        "/a\nb",
        "/a\rb",
        "/a\u{1}b",
        "/a\u{7f}b",
        "/caf\u{e9}",
        "/\u{0}",
    ] {
        configuration_error(b().cookie_path(bad));
    }
    for bad in [
        "",
        ".",
        "..example.com",
        "a..b",
        "example.com.",
        "-a.example.com",
        "a-.example.com",
        "exa mple.com",
        "a;b",
        "a,b",
        "ex\u{0}ample.com",
        "example.com\r\nX-Injected: 1",
        "ex\u{e4}mple.com",
        "example.com:8000",
        "[::1]",
        &format!("{}.com", "a".repeat(64)),
        &format!("{}com", "a.".repeat(127)),
    ] {
        configuration_error(b().cookie_domain(Some(bad.to_owned())));
    }
    for good in [
        "example.com",
        ".example.com",
        "localhost",
        "127.0.0.1",
        "a-b.example.co.uk",
        "XN--BCHER-KVA.example",
        "my_app.internal",
    ] {
        let config = b().cookie_domain(Some(good.to_owned())).build().unwrap();
        assert_eq!(config.cookie_domain.as_deref(), Some(good));
    }
    for good in ["/", "/app", "/a b", "/a,b", "/~user/%20x"] {
        b().cookie_path(good).build().unwrap();
    }
}

/// Every combination of the settings that shape the cookie's attributes: 4 SameSite
/// values, Secure, HttpOnly, 3 kinds of name, a domain or none, 2 paths and
/// expire-at-browser-close, 384 in all; 208 of them were valid before the fix.
#[test]
fn g6_samesite_none_is_always_secure() {
    let backend = SessionBackend::from_nonblocking_sync(Arc::new(MemoryStore::new()));
    let (mut valid, mut insecure, mut refused_none) = (0, 0, 0);
    for samesite in [
        None,
        Some(SameSite::Lax),
        Some(SameSite::Strict),
        Some(SameSite::None),
    ] {
        for secure in [false, true] {
            for httponly in [false, true] {
                for name in ["sessionid", "__Host-sid", "__Secure-sid"] {
                    for domain in [None, Some("example.com")] {
                        for path in ["/", "/app"] {
                            for at_close in [false, true] {
                                let built = builder(SecretKeys::new(STRONG))
                                    .cookie_samesite(samesite)
                                    .cookie_secure(secure)
                                    .cookie_httponly(httponly)
                                    .cookie_name(name)
                                    .cookie_domain(domain.map(str::to_owned))
                                    .cookie_path(path)
                                    .expire_at_browser_close(at_close)
                                    .build();
                                let Ok(config) = built else {
                                    if samesite == Some(SameSite::None)
                                        && !secure
                                        && name == "sessionid"
                                    {
                                        refused_none += 1;
                                    }
                                    continue;
                                };
                                valid += 1;
                                let mw = SessionMiddleware::new(
                                    backend.clone(),
                                    Arc::new(config.clone()),
                                );
                                let max_age = (!at_close).then_some(config.cookie_age);
                                for header in [
                                    mw.set_cookie_header("abcdefgh12345678", max_age),
                                    mw.delete_cookie_header(),
                                ] {
                                    assert!(
                                        header.bytes().all(|b| (0x20..0x7f).contains(&b)),
                                        "{header:?}"
                                    );
                                    let attrs: Vec<&str> = header.split("; ").collect();
                                    if attrs.contains(&"SameSite=None")
                                        && !attrs.contains(&"Secure")
                                    {
                                        insecure += 1;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    println!("{valid} valid combinations, {insecure} headers with SameSite=None but no Secure");
    assert_eq!(insecure, 0);
    // The 16 combinations that sent SameSite=None without Secure are now refused.
    assert_eq!(refused_none, 16);
    assert_eq!(valid, 208 - 16);
    let message =
        configuration_error(builder(SecretKeys::new(STRONG)).cookie_samesite(Some(SameSite::None)));
    assert!(message.contains("Secure"), "{message}");
}

/// S1: an absolute timeout must be positive; none is the default (Django's behaviour).
#[test]
fn s1_absolute_timeout_must_be_positive() {
    let keys = || SecretKeys::new("a-long-enough-secret-for-the-tests-0123456789");
    assert_eq!(builder(keys()).build().unwrap().absolute_timeout, None);
    for bad in [0, -1] {
        let message = configuration_error(builder(keys()).absolute_timeout(Some(bad)));
        assert!(message.contains("absolute timeout"), "{message}");
    }
    let ok = builder(keys()).absolute_timeout(Some(1)).build().unwrap();
    assert_eq!(ok.absolute_timeout, Some(1));
}

/// V4: a refresh interval cannot be negative, nor reach the cookie age: an
/// unmodified active session would then never be refreshed before it expires.
#[test]
fn v4_refresh_interval_is_shorter_than_the_cookie_age() {
    let keys = || SecretKeys::new(STRONG);
    assert_eq!(builder(keys()).build().unwrap().refresh_interval, None);
    for (age, bad) in [(3600, -1), (3600, 3600), (3600, 7200)] {
        let message = configuration_error(
            builder(keys())
                .cookie_age(age)
                .save_every_request(true)
                .refresh_interval(Some(bad)),
        );
        assert!(message.contains("refresh interval"), "{message}");
    }
    let ok = builder(keys())
        .cookie_age(3600)
        .refresh_interval(Some(3599))
        .build()
        .unwrap();
    assert_eq!(ok.refresh_interval, Some(3599));
}
