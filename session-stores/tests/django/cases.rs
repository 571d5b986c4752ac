//! The interop cases every server-side backend runs, in both directions (Django
//! writes and Rust reads or acts, then the other way round): data and expiry, a
//! `cycle_key`, an update and a logout, `set_expiry` with seconds, 0, a datetime and a
//! past time, secret rotation with fallbacks, and the stored bytes.
//!
//! "Now" is pinned on both sides: the Rust stores run on a `ManualClock`, the driver
//! pins Django's `timezone.now()` and signing clock to the same instant.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use session_api::{
    Expiry, ExpiryArgs, ManualClock, Session, SessionBackend, SessionConfig, SessionKey,
};
use time::{Duration, OffsetDateTime};

use super::{now, Django, Site, OLD_SECRET, SECRET};

/// One backend seen from both sides.
#[async_trait]
pub trait Pair: Send + Sync {
    /// Django's settings for the storage.
    fn site(&self) -> Site;

    /// The Rust store on the same storage, configured as `config` says (secrets,
    /// cookie age, clock).
    async fn backend(&self, config: &SessionConfig) -> SessionBackend;

    /// How far the storage's expiry of a Django-written record may be from Django's
    /// `get_expiry_date()` at save time: zero for the database (`expire_date` is
    /// it); for files, the time Django's write took, since Django dates its files
    /// with the real clock, not the pinned one.
    fn django_write_skew(&self) -> Duration {
        Duration::ZERO
    }

    /// Whether Django enforces an integer (inactivity) expiry when loading. Django's
    /// file backend does not (docs/backends.md, file store limits).
    fn django_enforces_seconds(&self) -> bool {
        true
    }

    /// Whether Django's side reads sessions from a cache first (cached_db). Cache
    /// entries live on Redis's real clock and hold the data unsigned, so where a case
    /// moves the pinned time past an expiry, or checks a secret, it first removes
    /// Django's cache entry as Redis would once its TTL ran out.
    fn cached(&self) -> bool {
        false
    }
}

/// The data of the cases: every JSON type, nesting, non-ASCII text, floats Python
/// writes in exponent form, Django's auth keys.
pub fn data() -> Vec<(String, Value)> {
    let value = json!({
        "_auth_user_id": "42",
        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
        "name": "Zoë ✓ 😀 \u{7f} \"quoted\" \\ /",
        "count": 3,
        "negative": -7,
        "ratio": 0.1,
        "huge": 1e100,
        "tiny": 1.5e-7,
        "flag": true,
        "nothing": null,
        "cart": [1, "two", {"three": 3.5}],
        "nested": {"a": {"b": [], "c": {}}},
    });
    match value {
        Value::Object(map) => map.into_iter().collect(),
        _ => unreachable!("an object"),
    }
}

/// The Rust side on a pair: its config and backend.
pub struct Rust {
    pub config: Arc<SessionConfig>,
    pub backend: SessionBackend,
}

impl Rust {
    /// The Rust side for `site`'s secrets on `clock`.
    pub async fn new(pair: &dyn Pair, site: &Site, clock: &ManualClock) -> Rust {
        let config = site.rust_config(clock);
        let backend = pair.backend(&config).await;
        Rust { config, backend }
    }

    /// A request's session for the cookie `key`.
    pub fn session(&self, key: Option<&str>) -> Session {
        Session::new(self.backend.clone(), self.config.clone(), key)
    }

    /// A new session holding `items`, saved; returns its key.
    pub async fn create(&self, items: &[(String, Value)], expiry: Option<Expiry>) -> String {
        let session = self.session(None);
        for (key, value) in items {
            session.aset_value(key, value.clone()).await.expect("set");
        }
        if let Some(expiry) = expiry {
            session.aset_expiry(expiry).await.expect("set_expiry");
        }
        session.asave().await.expect("save");
        key_of(&session)
    }

    /// The session's items for the cookie `key`, and its key after the load.
    pub async fn load(&self, key: &str) -> (Vec<(String, Value)>, Option<String>) {
        let session = self.session(Some(key));
        let items = session.aitems().await.expect("items");
        (items, session.session_key().map(|k| k.as_str().to_owned()))
    }

    /// The store's record expiry for `key` (`None`: no live record).
    pub async fn record_expiry(&self, key: &str) -> Option<OffsetDateTime> {
        let key = self
            .backend
            .capabilities()
            .parse_key(key)
            .expect("a valid key");
        let record = self.backend.nonblocking().aload(&key).await.expect("load");
        // To the microsecond, as Django (and a file's mtime as the driver reads it).
        record.map(|r| {
            let at = r.expires_at;
            at.replace_nanosecond(at.microsecond() * 1_000)
                .expect("valid")
        })
    }
}

/// The key of a saved session.
pub fn key_of(session: &Session) -> String {
    session
        .session_key()
        .expect("a saved session has a key")
        .as_str()
        .to_owned()
}

/// Rust's view of a loaded session's expiry equals Django's at the same instant.
async fn same_expiry_view(session: &Session, django: &super::Reply) {
    let args = ExpiryArgs::default();
    assert_eq!(
        session.aget_expiry_age(args).await.expect("age"),
        django.expiry_age,
        "get_expiry_age"
    );
    assert_eq!(
        session.aget_expiry_date(args).await.expect("date"),
        django.expiry_date,
        "get_expiry_date"
    );
    assert_eq!(
        session
            .aget_expire_at_browser_close()
            .await
            .expect("browser close"),
        django.browser_close,
        "get_expire_at_browser_close"
    );
}

fn within(a: OffsetDateTime, b: OffsetDateTime, slack: Duration) -> bool {
    (a - b).abs() <= slack
}

/// Django writes; Rust reads the same data, in the same order, and the same expiry.
pub async fn data_and_expiry_django_to_rust(django: &Django, pair: &dyn Pair) {
    let t = now();
    let site = pair.site();
    let written = site
        .request(None)
        .update(Value::Object(data().into_iter().collect()))
        .save()
        .at(t)
        .run(django);
    let key = written.key();
    assert_eq!(written.items(), data());

    let clock = ManualClock::new(t + Duration::seconds(5));
    let rust = Rust::new(pair, &site, &clock).await;
    let session = rust.session(Some(key));
    assert_eq!(session.aitems().await.unwrap(), data(), "the data arrives");
    assert_eq!(key_of(&session), key, "the key is kept");
    let django_now = site.request(Some(key)).at(clock_now(&clock)).run(django);
    same_expiry_view(&session, &django_now).await;

    let stored = site.raw(django, key).expire_date.expect("a stored expiry");
    assert!(
        within(stored, written.expiry_date, pair.django_write_skew()),
        "stored expiry {stored} vs Django's {}",
        written.expiry_date
    );
    assert_eq!(
        rust.record_expiry(key).await,
        Some(stored),
        "the record's expiry"
    );
}

/// Rust writes; Django reads the same data, in the same order, and the same expiry.
pub async fn data_and_expiry_rust_to_django(django: &Django, pair: &dyn Pair) {
    let t = now();
    let site = pair.site();
    let clock = ManualClock::new(t);
    let rust = Rust::new(pair, &site, &clock).await;
    let key = rust.create(&data(), None).await;

    clock.advance(Duration::seconds(5));
    let read = site.request(Some(&key)).at(clock_now(&clock)).run(django);
    assert_eq!(
        read.key.as_deref(),
        Some(key.as_str()),
        "Django keeps the key"
    );
    assert_eq!(read.items(), data(), "the data arrives");
    let session = rust.session(Some(&key));
    same_expiry_view(&session, &read).await;
    let cookie_age = Duration::seconds(site.cookie_age);
    assert_eq!(site.raw(django, &key).expire_date, Some(t + cookie_age));
}

/// Rust logs in; Django cycles the key, updates, logs out; Rust sees each step.
pub async fn cycle_update_logout_django_to_rust(django: &Django, pair: &dyn Pair) {
    let t = now();
    let site = pair.site();
    let clock = ManualClock::new(t);
    let rust = Rust::new(pair, &site, &clock).await;
    let login = vec![
        ("_auth_user_id".to_owned(), json!("42")),
        ("cart".to_owned(), json!([1])),
    ];
    let k0 = rust.create(&login, None).await;

    let cycled = site
        .request(Some(&k0))
        .cycle_key()
        .save()
        .at(t + Duration::seconds(1))
        .run(django);
    let k1 = cycled.key().to_owned();
    assert_ne!(k1, k0, "cycle_key gives a new key");
    clock.advance(Duration::seconds(2));
    assert_eq!(rust.load(&k0).await, (vec![], None), "the old key is gone");
    assert_eq!(rust.load(&k1).await, (login.clone(), Some(k1.clone())));

    site.request(Some(&k1))
        .update(json!({"cart": [1, 2]}))
        .save()
        .at(t + Duration::seconds(3))
        .run(django);
    clock.advance(Duration::seconds(2));
    let (items, _) = rust.load(&k1).await;
    assert_eq!(
        items[1],
        ("cart".to_owned(), json!([1, 2])),
        "the update arrives"
    );

    let out = site
        .request(Some(&k1))
        .flush()
        .at(t + Duration::seconds(5))
        .run(django);
    assert_eq!(out.key, None);
    clock.advance(Duration::seconds(2));
    assert_eq!(rust.load(&k1).await, (vec![], None), "the logout arrives");
    let k1 = SessionKey::parse(&k1).unwrap();
    assert!(!rust.backend.nonblocking().aexists(&k1).await.unwrap());
}

/// Django logs in; Rust cycles the key, updates, logs out; Django sees each step.
pub async fn cycle_update_logout_rust_to_django(django: &Django, pair: &dyn Pair) {
    let t = now();
    let site = pair.site();
    let clock = ManualClock::new(t);
    let rust = Rust::new(pair, &site, &clock).await;
    let login = json!({"_auth_user_id": "42", "cart": [1]});
    let k0 = site
        .request(None)
        .update(login.clone())
        .save()
        .at(t)
        .run(django)
        .key()
        .to_owned();

    clock.advance(Duration::seconds(1));
    let session = rust.session(Some(&k0));
    session.acycle_key().await.unwrap();
    session.asave().await.unwrap();
    let k1 = key_of(&session);
    assert_ne!(k1, k0, "cycle_key gives a new key");
    let old = site
        .request(Some(&k0))
        .at(t + Duration::seconds(2))
        .run(django);
    assert_eq!(
        (old.key, old.data_text.as_str()),
        (None, "{}"),
        "the old key is gone"
    );
    let new = site
        .request(Some(&k1))
        .at(t + Duration::seconds(2))
        .run(django);
    assert_eq!(new.data_text, login.to_string());

    clock.advance(Duration::seconds(2));
    let session = rust.session(Some(&k1));
    session.aset("cart", &json!([1, 2])).await.unwrap();
    session.asave().await.unwrap();
    let updated = site
        .request(Some(&k1))
        .at(t + Duration::seconds(4))
        .run(django);
    assert_eq!(updated.items()[1], ("cart".to_owned(), json!([1, 2])));

    clock.advance(Duration::seconds(2));
    let session = rust.session(Some(&k1));
    session.aflush().await.unwrap();
    assert_eq!(session.session_key(), None);
    let out = site
        .request(Some(&k1))
        .at(t + Duration::seconds(6))
        .run(django);
    assert_eq!(
        (out.key, out.data_text.as_str()),
        (None, "{}"),
        "the logout arrives"
    );
}

/// Removes Django's cache entry of `key` on a cached pair (see [`Pair::cached`]).
fn expire_cache_entry(django: &Django, pair: &dyn Pair, site: &Site, key: &str) {
    if pair.cached() {
        site.cache_delete(django, key);
    }
}

/// A datetime with microseconds, three hours after `t`.
fn later(t: OffsetDateTime) -> OffsetDateTime {
    t + Duration::hours(3) + Duration::microseconds(123_456)
}

/// Django's `set_expiry(600)`, `(0)`, `(datetime)` and a past datetime; Rust honours
/// each.
pub async fn set_expiry_django_to_rust(django: &Django, pair: &dyn Pair) {
    let t = now();
    let site = pair.site();
    let clock = ManualClock::new(t);
    let rust = Rust::new(pair, &site, &clock).await;
    let write = |expiry: Expiry| {
        site.request(None)
            .update(json!({"v": 1}))
            .set_expiry(expiry)
            .save()
            .at(t)
            .run(django)
            .key()
            .to_owned()
    };
    let skew = pair.django_write_skew();

    // Seconds: inactivity, counted from the save.
    let key = write(Expiry::Seconds(600));
    clock.set(t + Duration::seconds(599));
    let session = rust.session(Some(&key));
    assert_eq!(
        session.aget_value("_session_expiry").await.unwrap(),
        Some(json!(600))
    );
    let view = site.request(Some(&key)).at(clock_now(&clock)).run(django);
    same_expiry_view(&session, &view).await;
    clock.set(t + Duration::seconds(601) + skew);
    assert_eq!(
        rust.load(&key).await,
        (vec![], None),
        "600 s later it has expired"
    );

    // 0: until the browser closes; the record lives SESSION_COOKIE_AGE.
    clock.set(t);
    let key = write(Expiry::BrowserClose);
    clock.set(t + Duration::hours(1));
    let session = rust.session(Some(&key));
    assert!(session.aget_expire_at_browser_close().await.unwrap());
    let view = site.request(Some(&key)).at(clock_now(&clock)).run(django);
    same_expiry_view(&session, &view).await;
    let expires = rust.record_expiry(&key).await.expect("live");
    assert!(within(
        expires,
        t + Duration::seconds(site.cookie_age),
        skew
    ));

    // A datetime: absolute, to the microsecond.
    clock.set(t);
    let at = later(t);
    let key = write(Expiry::At(at));
    clock.set(t + Duration::seconds(10));
    let session = rust.session(Some(&key));
    assert_eq!(
        session
            .aget_expiry_date(ExpiryArgs::default())
            .await
            .unwrap(),
        at
    );
    let view = site.request(Some(&key)).at(clock_now(&clock)).run(django);
    same_expiry_view(&session, &view).await;
    assert_eq!(rust.record_expiry(&key).await, Some(at));
    clock.set(at - Duration::seconds(1));
    assert_eq!(rust.load(&key).await.0.len(), 2, "live just before");
    clock.set(at + Duration::seconds(1));
    assert_eq!(rust.load(&key).await, (vec![], None), "gone just after");

    // A past datetime: Django saves it; it loads as no session (rules C9, C11).
    clock.set(t);
    let key = write(Expiry::At(t - Duration::hours(1)));
    assert!(site.raw(django, &key).exists, "Django stored it");
    assert_eq!(rust.load(&key).await, (vec![], None));
}

/// Rust's `set_expiry` with seconds, 0, a datetime and a past datetime; Django
/// honours each.
pub async fn set_expiry_rust_to_django(django: &Django, pair: &dyn Pair) {
    let t = now();
    let site = pair.site();
    let clock = ManualClock::new(t);
    let rust = Rust::new(pair, &site, &clock).await;
    let v = vec![("v".to_owned(), json!(1))];
    let django_at = |key: &str, at: OffsetDateTime| site.request(Some(key)).at(at).run(django);

    // Seconds.
    clock.set(t);
    let key = rust.create(&v, Some(Expiry::Seconds(600))).await;
    let view = django_at(&key, t + Duration::seconds(599));
    assert_eq!(view.data_text, r#"{"v":1,"_session_expiry":600}"#);
    assert_eq!(view.expiry_age, 600);
    clock.set(t + Duration::seconds(599));
    same_expiry_view(&rust.session(Some(&key)), &view).await;
    expire_cache_entry(django, pair, &site, &key);
    let after = django_at(&key, t + Duration::seconds(601));
    if pair.django_enforces_seconds() {
        assert_eq!((after.key, after.data_text.as_str()), (None, "{}"));
    } else {
        // Django's file backend never expires an integer expiry on load.
        assert_eq!(after.key.as_deref(), Some(key.as_str()));
    }

    // 0.
    clock.set(t);
    let key = rust.create(&v, Some(Expiry::BrowserClose)).await;
    let view = django_at(&key, t + Duration::hours(1));
    assert!(view.browser_close);
    assert_eq!(view.expiry_age, site.cookie_age);
    assert_eq!(view.data_text, r#"{"v":1,"_session_expiry":0}"#);

    // A datetime.
    clock.set(t);
    let at = later(t);
    let key = rust.create(&v, Some(Expiry::At(at))).await;
    let view = django_at(&key, t + Duration::seconds(10));
    assert_eq!(view.expiry_date, at);
    assert_eq!(site.raw(django, &key).expire_date, Some(at));
    clock.set(t + Duration::seconds(10));
    same_expiry_view(&rust.session(Some(&key)), &view).await;
    assert_eq!(
        django_at(&key, at - Duration::seconds(1)).key.as_deref(),
        Some(key.as_str())
    );
    expire_cache_entry(django, pair, &site, &key);
    let after = django_at(&key, at + Duration::seconds(1));
    assert_ne!(after.key.as_deref(), Some(key.as_str()), "gone just after");
    assert_eq!(after.data_text, "{}");

    // A past datetime: saved without error (rule C11), no session for Django.
    clock.set(t);
    let key = rust
        .create(&v, Some(Expiry::At(t - Duration::hours(1))))
        .await;
    let view = django_at(&key, t);
    assert_ne!(view.key.as_deref(), Some(key.as_str()));
    assert_eq!(view.data_text, "{}");
}

/// Django signs with the old secret; Rust, with it in its fallbacks, reads and
/// re-signs with the new one; Django without fallbacks reads that.
pub async fn secret_rotation_django_to_rust(django: &Django, pair: &dyn Pair) {
    let t = now();
    let base = pair.site();
    let old = base.with_secrets(OLD_SECRET, &[]);
    let rotated = base.with_secrets(SECRET, &[OLD_SECRET]);
    let new_only = base.with_secrets(SECRET, &[]);
    let key = old
        .request(None)
        .update(json!({"user": "42"}))
        .save()
        .at(t)
        .run(django)
        .key()
        .to_owned();
    let other = old
        .request(None)
        .update(json!({"user": "43"}))
        .save()
        .at(t)
        .run(django)
        .key()
        .to_owned();

    let clock = ManualClock::new(t + Duration::seconds(1));
    let unrotated = Rust::new(pair, &new_only, &clock).await;
    assert_eq!(
        unrotated.load(&other).await,
        (vec![], None),
        "the old secret alone fails"
    );
    let rust = Rust::new(pair, &rotated, &clock).await;
    let session = rust.session(Some(&key));
    assert_eq!(
        session.aget::<String>("user").await.unwrap().as_deref(),
        Some("42")
    );
    session.aset("seen", &true).await.unwrap();
    session.asave().await.unwrap();

    let read = new_only
        .request(Some(&key))
        .at(t + Duration::seconds(2))
        .run(django);
    assert_eq!(
        read.data_text, r#"{"user":"42","seen":true}"#,
        "re-signed with the new secret"
    );
}

/// Rust signs with the old secret; Django, with it in its fallbacks, reads and
/// re-signs; Rust without fallbacks reads that.
pub async fn secret_rotation_rust_to_django(django: &Django, pair: &dyn Pair) {
    let t = now();
    let base = pair.site();
    let old = base.with_secrets(OLD_SECRET, &[]);
    let rotated = base.with_secrets(SECRET, &[OLD_SECRET]);
    let new_only = base.with_secrets(SECRET, &[]);
    let clock = ManualClock::new(t);
    let rust_old = Rust::new(pair, &old, &clock).await;
    let user = vec![("user".to_owned(), json!("42"))];
    let key = rust_old.create(&user, None).await;
    let other = rust_old.create(&user, None).await;

    // Django keeps the key of a record it cannot decode (its `load` gives `{}`).
    // (A cached copy is not signed: Django would serve it whatever the secret.)
    expire_cache_entry(django, pair, &new_only, &other);
    let unrotated = new_only.request(Some(&other)).at(t).run(django);
    assert_eq!(unrotated.data_text, "{}", "the old secret alone fails");
    let read = rotated
        .request(Some(&key))
        .update(json!({"seen": true}))
        .save()
        .at(t + Duration::seconds(1))
        .run(django);
    assert_eq!(read.data_text, r#"{"user":"42","seen":true}"#);

    clock.advance(Duration::seconds(2));
    let rust_new = Rust::new(pair, &new_only, &clock).await;
    let (items, _) = rust_new.load(&key).await;
    assert_eq!(
        items,
        vec![user[0].clone(), ("seen".to_owned(), json!(true))]
    );
}

/// The same data saved at the same instant is stored as the same bytes by both
/// sides, with and without a custom expiry; a Rust re-save of Django's record keeps
/// them.
pub async fn stored_bytes_equal(django: &Django, pair: &dyn Pair) {
    let t = now();
    let site = pair.site();
    let clock = ManualClock::new(t);
    let rust = Rust::new(pair, &site, &clock).await;
    for expiry in [None, Some(Expiry::At(later(t))), Some(Expiry::Seconds(600))] {
        let mut request = site
            .request(None)
            .update(Value::Object(data().into_iter().collect()));
        if let Some(expiry) = expiry {
            request = request.set_expiry(expiry);
        }
        let from_django = request.save().at(t).run(django).key().to_owned();
        let from_rust = rust.create(&data(), expiry).await;
        let django_raw = site.raw(django, &from_django);
        let rust_raw = site.raw(django, &from_rust);
        assert_eq!(
            django_raw.text, rust_raw.text,
            "the same bytes ({expiry:?})"
        );
        if pair.django_write_skew() == Duration::ZERO {
            assert_eq!(django_raw.expire_date, rust_raw.expire_date, "{expiry:?}");
        }

        let session = rust.session(Some(&from_django));
        session.aitems().await.unwrap();
        session.set_modified(true);
        session.asave().await.unwrap();
        assert_eq!(
            site.raw(django, &from_django).text,
            django_raw.text,
            "a Rust re-save keeps Django's bytes ({expiry:?})"
        );
    }
}

/// The clock's time.
pub fn clock_now(clock: &ManualClock) -> OffsetDateTime {
    session_api::Clock::now(clock)
}

/// One `#[tokio::test]` per case on `$pair`, an async fn taking the `&Django` and
/// giving an `Option<impl Pair>` (`None` skips): every case, or those listed after a
/// `;`.
#[macro_export]
macro_rules! interop_cases {
    ($pair:expr) => {
        $crate::interop_cases!($pair;
            data_and_expiry_django_to_rust,
            data_and_expiry_rust_to_django,
            cycle_update_logout_django_to_rust,
            cycle_update_logout_rust_to_django,
            set_expiry_django_to_rust,
            set_expiry_rust_to_django,
            secret_rotation_django_to_rust,
            secret_rotation_rust_to_django,
            stored_bytes_equal,
        );
    };
    ($pair:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(django) = $crate::django::django() else { return };
                let Some(pair) = $pair(django).await else { return };
                $crate::django::cases::$case(django, &pair).await;
            }
        )*
    };
}
