//! The file store and the signed-cookie store beside a real Django 5.2, in both
//! directions: Django's `backends.file` on the same directory (a tempdir per test)
//! and `backends.signed_cookies` with the same secrets.
//!
//! `cargo test -p session-stores --features file,signed_cookies --test django_interop_file_cookies`
#![cfg(all(feature = "file", feature = "signed_cookies"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod django;

use std::sync::Arc;

use async_trait::async_trait;
use django::cases::Pair;
use django::{Django, Engine, Site};
use session_api::{SessionBackend, SessionConfig};

mod file {
    use super::*;
    use session_stores::file::FileStore;
    use time::Duration;

    /// Django's `backends.file` and `FileStore` on one directory.
    struct FilePair {
        dir: tempfile::TempDir,
    }

    #[async_trait]
    impl Pair for FilePair {
        fn site(&self) -> Site {
            Site::new(Engine::File(self.dir.path().to_owned()))
        }

        async fn backend(&self, config: &SessionConfig) -> SessionBackend {
            let store = FileStore::from_config_in(config, self.dir.path()).expect("a file store");
            SessionBackend::from_sync(Arc::new(store))
        }

        /// Django dates its files with the real clock (the driver pins only
        /// `timezone.now()` and the signing clock); the tests start at the real now,
        /// so Django's mtimes are late by the time its writes take.
        fn django_write_skew(&self) -> Duration {
            Duration::seconds(2)
        }

        fn django_enforces_seconds(&self) -> bool {
            false
        }
    }

    async fn file(_django: &Django) -> Option<FilePair> {
        let dir = tempfile::tempdir().expect("a tempdir");
        Some(FilePair { dir })
    }

    crate::interop_cases!(file);
}

mod signed_cookies {
    use super::*;
    use django::cases::{key_of, Rust};
    use django::{now, OLD_SECRET, SECRET};
    use serde_json::{json, Value};
    use session_api::{Expiry, ExpiryArgs, ManualClock};
    use session_stores::signed_cookies::SignedCookieStore;
    use time::{Duration, OffsetDateTime};

    /// Django's `backends.signed_cookies` and `SignedCookieStore`: the cookie value
    /// is the session.
    struct CookiePair;

    #[async_trait]
    impl Pair for CookiePair {
        fn site(&self) -> Site {
            Site::new(Engine::SignedCookies)
        }

        async fn backend(&self, config: &SessionConfig) -> SessionBackend {
            SessionBackend::from_nonblocking_sync(Arc::new(SignedCookieStore::from_config(config)))
        }
    }

    fn data_value() -> Value {
        Value::Object(django::cases::data().into_iter().collect())
    }

    /// The signing timestamp's second.
    fn second(t: OffsetDateTime) -> OffsetDateTime {
        t.replace_nanosecond(0).unwrap()
    }

    async fn same_view(
        rust: &Rust,
        cookie: &str,
        django: &Django,
        site: &Site,
        at: OffsetDateTime,
    ) {
        let view = site.request(Some(cookie)).at(at).run(django);
        let session = rust.session(Some(cookie));
        let args = ExpiryArgs::default();
        assert_eq!(
            session.aget_expiry_age(args).await.unwrap(),
            view.expiry_age
        );
        assert_eq!(
            session.aget_expiry_date(args).await.unwrap(),
            view.expiry_date
        );
        assert_eq!(
            session.aget_expire_at_browser_close().await.unwrap(),
            view.browser_close
        );
        assert_eq!(
            session.aitems().await.unwrap(),
            view.items(),
            "the same data"
        );
    }

    #[tokio::test]
    async fn data_and_expiry_django_to_rust() {
        let Some(django) = django::django() else {
            return;
        };
        let t = now();
        let site = CookiePair.site();
        let cookie = site
            .request(None)
            .update(data_value())
            .save()
            .at(t)
            .run(django);
        let cookie = cookie.key();
        let clock = ManualClock::new(t + Duration::seconds(5));
        let rust = Rust::new(&CookiePair, &site, &clock).await;
        assert_eq!(
            rust.load(cookie).await.0,
            django::cases::data(),
            "the data arrives"
        );
        same_view(&rust, cookie, django, &site, t + Duration::seconds(5)).await;
        // The record lives as long as the signature: SESSION_COOKIE_AGE from signing.
        let age = Duration::seconds(site.cookie_age);
        assert_eq!(rust.record_expiry(cookie).await, Some(second(t) + age));
        clock.set(second(t) + age + Duration::seconds(1));
        assert_eq!(rust.load(cookie).await, (vec![], None), "expired for Rust");
        let late = site
            .request(Some(cookie))
            .at(second(t) + age + Duration::seconds(1));
        assert_eq!(late.run(django).data_text, "{}", "expired for Django");
    }

    #[tokio::test]
    async fn data_and_expiry_rust_to_django() {
        let Some(django) = django::django() else {
            return;
        };
        let t = now();
        let site = CookiePair.site();
        let clock = ManualClock::new(t);
        let rust = Rust::new(&CookiePair, &site, &clock).await;
        let cookie = rust.create(&django::cases::data(), None).await;
        let read = site
            .request(Some(&cookie))
            .at(t + Duration::seconds(5))
            .run(django);
        assert_eq!(read.items(), django::cases::data(), "the data arrives");
        clock.advance(Duration::seconds(5));
        same_view(&rust, &cookie, django, &site, t + Duration::seconds(5)).await;
    }

    /// Django updates, cycles the key and logs out; Rust reads each new cookie. A
    /// cookie replaced by a later one still verifies: signed cookies cannot be
    /// revoked (rule E6), on either side.
    #[tokio::test]
    async fn update_cycle_logout_django_to_rust() {
        let Some(django) = django::django() else {
            return;
        };
        let t = now();
        let site = CookiePair.site();
        let clock = ManualClock::new(t);
        let rust = Rust::new(&CookiePair, &site, &clock).await;
        let login = vec![
            ("_auth_user_id".to_owned(), json!("42")),
            ("cart".to_owned(), json!([1])),
        ];
        let c0 = rust.create(&login, None).await;

        let c1 = site
            .request(Some(&c0))
            .update(json!({"cart": [1, 2]}))
            .save()
            .at(t + Duration::seconds(1))
            .run(django);
        let c1 = c1.key().to_owned();
        clock.set(t + Duration::seconds(2));
        let (items, _) = rust.load(&c1).await;
        assert_eq!(
            items[1],
            ("cart".to_owned(), json!([1, 2])),
            "the update arrives"
        );

        let c2 = site
            .request(Some(&c1))
            .cycle_key()
            .at(t + Duration::seconds(3))
            .run(django);
        let c2 = c2.key().to_owned();
        assert_ne!(c2, c1, "cycle_key re-signs");
        clock.set(t + Duration::seconds(4));
        assert_eq!(rust.load(&c2).await.0, items);
        assert_eq!(
            rust.load(&c1).await.0,
            items,
            "the replaced cookie still verifies"
        );

        let out = site
            .request(Some(&c2))
            .flush()
            .at(t + Duration::seconds(5))
            .run(django);
        assert_eq!(
            (out.key, out.data_text.as_str()),
            (None, "{}"),
            "no cookie after logout"
        );
        assert_eq!(rust.load(&c2).await.0, items, "a kept copy still verifies");
    }

    #[tokio::test]
    async fn update_cycle_logout_rust_to_django() {
        let Some(django) = django::django() else {
            return;
        };
        let t = now();
        let site = CookiePair.site();
        let clock = ManualClock::new(t);
        let rust = Rust::new(&CookiePair, &site, &clock).await;
        let c0 = site
            .request(None)
            .update(json!({"_auth_user_id": "42", "cart": [1]}))
            .save()
            .at(t)
            .run(django);
        let c0 = c0.key().to_owned();

        clock.set(t + Duration::seconds(1));
        let session = rust.session(Some(&c0));
        session.aset("cart", &json!([1, 2])).await.unwrap();
        session.asave().await.unwrap();
        let c1 = key_of(&session);
        let read = site
            .request(Some(&c1))
            .at(t + Duration::seconds(2))
            .run(django);
        assert_eq!(read.data_text, r#"{"_auth_user_id":"42","cart":[1,2]}"#);

        clock.set(t + Duration::seconds(3));
        let session = rust.session(Some(&c1));
        session.acycle_key().await.unwrap();
        session.asave().await.unwrap();
        let c2 = key_of(&session);
        assert_ne!(c2, c1, "cycle_key re-signs");
        let read = site
            .request(Some(&c2))
            .at(t + Duration::seconds(4))
            .run(django);
        assert_eq!(read.data_text, r#"{"_auth_user_id":"42","cart":[1,2]}"#);
        let old = site
            .request(Some(&c1))
            .at(t + Duration::seconds(4))
            .run(django);
        assert_eq!(
            old.data_text, read.data_text,
            "the replaced cookie still verifies"
        );

        clock.set(t + Duration::seconds(5));
        let session = rust.session(Some(&c2));
        session.aflush().await.unwrap();
        assert_eq!(session.session_key(), None, "no cookie after logout");
        let kept = site
            .request(Some(&c2))
            .at(t + Duration::seconds(6))
            .run(django);
        assert_eq!(kept.data_text, read.data_text, "a kept copy still verifies");
    }

    fn expiries(t: OffsetDateTime) -> [Expiry; 4] {
        [
            Expiry::Seconds(600),
            Expiry::BrowserClose,
            Expiry::At(t + Duration::hours(3) + Duration::microseconds(123_456)),
            Expiry::At(t - Duration::hours(1)),
        ]
    }

    /// Each expiry reaches the other side as the same `_session_expiry` and the same
    /// cookie expiry (age, date, browser close). The signature itself is checked
    /// against SESSION_COOKIE_AGE only, on both sides (Django ticket #19201): a
    /// cookie with `set_expiry(600)` or a past datetime still loads (rule C11).
    #[tokio::test]
    async fn set_expiry_django_to_rust() {
        let Some(django) = django::django() else {
            return;
        };
        let t = now();
        let site = CookiePair.site();
        let clock = ManualClock::new(t);
        let rust = Rust::new(&CookiePair, &site, &clock).await;
        for expiry in expiries(t) {
            let cookie = site
                .request(None)
                .update(json!({"v": 1}))
                .set_expiry(expiry)
                .save()
                .at(t)
                .run(django);
            let cookie = cookie.key();
            clock.set(t + Duration::seconds(10));
            same_view(&rust, cookie, django, &site, t + Duration::seconds(10)).await;
            clock.set(t + Duration::seconds(700));
            assert_eq!(
                rust.load(cookie).await.0.len(),
                2,
                "{expiry:?}: loads in Rust"
            );
        }
    }

    #[tokio::test]
    async fn set_expiry_rust_to_django() {
        let Some(django) = django::django() else {
            return;
        };
        let t = now();
        let site = CookiePair.site();
        let clock = ManualClock::new(t);
        let rust = Rust::new(&CookiePair, &site, &clock).await;
        for expiry in expiries(t) {
            clock.set(t);
            let cookie = rust
                .create(&[("v".to_owned(), json!(1))], Some(expiry))
                .await;
            clock.set(t + Duration::seconds(10));
            same_view(&rust, &cookie, django, &site, t + Duration::seconds(10)).await;
            let late = site
                .request(Some(&cookie))
                .at(t + Duration::seconds(700))
                .run(django);
            assert_eq!(late.items().len(), 2, "{expiry:?}: loads in Django");
        }
    }

    #[tokio::test]
    async fn secret_rotation_django_to_rust() {
        let Some(django) = django::django() else {
            return;
        };
        let t = now();
        let old = CookiePair.site().with_secrets(OLD_SECRET, &[]);
        let rotated = old.with_secrets(SECRET, &[OLD_SECRET]);
        let new_only = old.with_secrets(SECRET, &[]);
        let cookie = old
            .request(None)
            .update(json!({"user": "42"}))
            .save()
            .at(t)
            .run(django);
        let cookie = cookie.key();

        let clock = ManualClock::new(t + Duration::seconds(1));
        let unrotated = Rust::new(&CookiePair, &new_only, &clock).await;
        assert_eq!(
            unrotated.load(cookie).await,
            (vec![], None),
            "the new secret alone fails"
        );
        let rust = Rust::new(&CookiePair, &rotated, &clock).await;
        let session = rust.session(Some(cookie));
        session.aset("seen", &true).await.unwrap();
        session.asave().await.unwrap();
        let resigned = key_of(&session);
        let read = new_only
            .request(Some(&resigned))
            .at(t + Duration::seconds(2))
            .run(django);
        assert_eq!(read.data_text, r#"{"user":"42","seen":true}"#);
    }

    #[tokio::test]
    async fn secret_rotation_rust_to_django() {
        let Some(django) = django::django() else {
            return;
        };
        let t = now();
        let old = CookiePair.site().with_secrets(OLD_SECRET, &[]);
        let rotated = old.with_secrets(SECRET, &[OLD_SECRET]);
        let new_only = old.with_secrets(SECRET, &[]);
        let clock = ManualClock::new(t);
        let rust_old = Rust::new(&CookiePair, &old, &clock).await;
        let cookie = rust_old
            .create(&[("user".to_owned(), json!("42"))], None)
            .await;

        let unrotated = new_only.request(Some(&cookie)).at(t).run(django);
        assert_eq!(unrotated.data_text, "{}", "the new secret alone fails");
        let read = rotated
            .request(Some(&cookie))
            .update(json!({"seen": true}))
            .save()
            .at(t + Duration::seconds(1))
            .run(django);
        let rust_new = Rust::new(&CookiePair, &new_only, &clock).await;
        clock.set(t + Duration::seconds(2));
        let (items, _) = rust_new.load(read.key()).await;
        assert_eq!(
            items,
            vec![
                ("user".to_owned(), json!("42")),
                ("seen".to_owned(), json!(true))
            ]
        );
    }

    /// The same data signed at the same second gives the same cookie on both sides,
    /// and a Rust re-save of Django's cookie at that second gives it back.
    #[tokio::test]
    async fn cookie_values_equal() {
        let Some(django) = django::django() else {
            return;
        };
        let t = now();
        let site = CookiePair.site();
        let clock = ManualClock::new(t);
        let rust = Rust::new(&CookiePair, &site, &clock).await;
        for expiry in [None, Some(expiries(t)[2]), Some(Expiry::Seconds(600))] {
            let mut request = site.request(None).update(data_value());
            if let Some(expiry) = expiry {
                request = request.set_expiry(expiry);
            }
            let from_django = request.save().at(t).run(django);
            let from_rust = rust.create(&django::cases::data(), expiry).await;
            assert_eq!(from_django.key(), from_rust, "the same cookie ({expiry:?})");
            let session = rust.session(Some(from_django.key()));
            session.aitems().await.unwrap();
            session.set_modified(true);
            session.asave().await.unwrap();
            assert_eq!(key_of(&session), from_rust, "a Rust re-save ({expiry:?})");
        }
    }
}
