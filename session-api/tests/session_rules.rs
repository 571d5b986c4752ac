#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The session handle against Django's rules (sections A, B, C and D of
//! docs/django-spec.md), on the real memory store with a manual clock.

mod common;

use std::sync::Arc;

use common::{Fixture, ScriptedKeys, START};
use serde_json::{json, Value};
use session_api::expiry::isoformat;
use session_api::{
    Error, Expiry, ExpiryArgs, ExpiryValue, Record, SaveMode, SessionKey, SessionStore,
};
use time::macros::datetime;
use time::Duration;

// ---- A. keys and fixation ----------------------------------------------------------

#[test]
fn a2_h1_malformed_keys_are_never_adopted() {
    let f = Fixture::new();
    for bad in [
        "short",
        "abcdefg",
        &"a".repeat(41),
        "ABCDEFGHIJKL",
        "../../etc/passwd",
        "abcdefgh\0ijk",
        "abcdéfghijkl",
    ] {
        let s = f.session(Some(bad));
        assert!(s.session_key().is_none(), "{bad:?} adopted");
    }
    assert_eq!(f.store.calls(), 0);
}

#[test]
fn a3_unknown_key_is_dropped_on_load_and_save_creates_a_fresh_key() {
    let f = Fixture::new();
    let chosen = "attackerchosenkey123";
    let s = f.session(Some(chosen));
    assert_eq!(s.get_value("a").unwrap(), None);
    assert!(s.session_key().is_none(), "unknown key kept after load");
    s.set("x", &1).unwrap();
    s.save().unwrap();
    let new = s.session_key().unwrap();
    assert_ne!(new.as_str(), chosen);
    assert!(!f.store.exists(&SessionKey::parse(chosen).unwrap()).unwrap());
}

#[test]
fn a3_expired_key_is_dropped_on_load() {
    let f = Fixture::new();
    let key = f.saved();
    f.clock.advance(Duration::seconds(f.config.cookie_age + 1));
    let s = f.session(Some(key.as_str()));
    assert!(s.keys().unwrap().is_empty());
    assert!(s.session_key().is_none());
}

#[test]
fn a4_create_retries_on_collision_and_uses_a_fresh_key() {
    let existing = {
        let f = Fixture::new();
        f.saved()
    };
    let keys = Arc::new(ScriptedKeys::default());
    let f = Fixture::with(|b| b.key_generator(keys.clone()));
    // Occupy the first scripted key, then script it to come out first.
    let first = f.session(None);
    first.set("owner", &"first").unwrap();
    keys.0.lock().unwrap().push(existing.clone());
    first.save().unwrap();
    assert_eq!(first.session_key(), Some(existing.clone()));
    keys.0.lock().unwrap().push(existing.clone());
    let second = f.session(None);
    second.set("owner", &"second").unwrap();
    second.save().unwrap();
    assert_ne!(second.session_key(), Some(existing.clone()));
    // The colliding record is untouched.
    let check = f.session(Some(existing.as_str()));
    assert_eq!(
        check.get::<String>("owner").unwrap().as_deref(),
        Some("first")
    );
}

#[derive(Debug)]
struct AlwaysSame(SessionKey);
impl session_api::KeyGenerator for AlwaysSame {
    fn generate(&self) -> SessionKey {
        self.0.clone()
    }
}

#[test]
fn a4_create_gives_up_after_10000_collisions() {
    let f0 = Fixture::new();
    let key = f0.saved();
    let f = Fixture::with(|b| b.key_generator(Arc::new(AlwaysSame(key.clone()))));
    f.store
        .inner
        .save(
            &Record::new(key.clone(), Default::default(), START + Duration::days(1)),
            SaveMode::Create,
        )
        .unwrap();
    let s = f.session(None);
    assert!(matches!(
        s.create(),
        Err(Error::TooManyCollisions { attempts: 10_000 })
    ));
}

#[test]
fn a5_cycle_key_keeps_data_under_a_new_key_and_old_key_loads_empty() {
    let f = Fixture::new();
    let old = f.saved();
    let s = f.session(Some(old.as_str()));
    s.cycle_key().unwrap();
    let new = s.session_key().unwrap();
    assert_ne!(new, old);
    assert_eq!(s.get::<i64>("a").unwrap(), Some(1));
    assert_eq!(
        f.session(Some(new.as_str())).get::<i64>("a").unwrap(),
        Some(1)
    );
    let stale = f.session(Some(old.as_str()));
    assert_eq!(stale.get_value("a").unwrap(), None);
    assert!(stale.session_key().is_none());
}

#[test]
fn a6_flush_deletes_the_record_and_drops_the_key() {
    let f = Fixture::new();
    let key = f.saved();
    let s = f.session(Some(key.as_str()));
    s.flush().unwrap();
    assert!(s.session_key().is_none());
    assert!(s.keys().unwrap().is_empty());
    assert!(!f.store.exists(&key).unwrap());
}

// ---- B. the handle -----------------------------------------------------------------

#[test]
fn b1_no_store_call_until_first_access() {
    let f = Fixture::new();
    let key = f.saved();
    let before = f.store.calls();
    let s = f.session(Some(key.as_str()));
    assert!(!s.accessed());
    assert_eq!(f.store.calls(), before);
    s.get_value("a").unwrap();
    assert_eq!(f.store.calls(), before + 1);
    s.get_value("a").unwrap();
    assert_eq!(f.store.calls(), before + 1, "loaded twice");
}

#[test]
fn b1_without_a_key_first_access_does_not_call_the_store() {
    let f = Fixture::new();
    let s = f.session(None);
    assert!(s.keys().unwrap().is_empty());
    assert_eq!(f.store.calls(), 0);
}

#[test]
fn b2_b3_flags_per_method() {
    let f = Fixture::new();
    let key = f.saved();
    type Op = fn(&session_api::Session);
    let cases: Vec<(&str, Op, bool)> = vec![
        ("get", |s| drop(s.get_value("a")), false),
        ("contains", |s| drop(s.contains("a")), false),
        ("has_key", |s| drop(s.has_key("a")), false),
        ("keys", |s| drop(s.keys()), false),
        ("values", |s| drop(s.values()), false),
        ("items", |s| drop(s.items()), false),
        (
            "get_expiry_age",
            |s| drop(s.get_expiry_age(ExpiryArgs::default())),
            false,
        ),
        (
            "get_expiry_date",
            |s| drop(s.get_expiry_date(ExpiryArgs::default())),
            false,
        ),
        ("set", |s| s.set("b", &2).unwrap(), true),
        ("delete", |s| s.delete("a").unwrap(), true),
        ("update empty", |s| s.update(Vec::new()).unwrap(), true),
        ("clear", |s| s.clear().unwrap(), true),
        ("pop present", |s| drop(s.pop("a").unwrap()), true),
        (
            "pop missing with default",
            |s| drop(s.pop_or("zz", json!(0)).unwrap()),
            false,
        ),
        (
            "setdefault present",
            |s| drop(s.setdefault("a", json!(5)).unwrap()),
            false,
        ),
        (
            "setdefault inserts",
            |s| drop(s.setdefault("n", json!(5)).unwrap()),
            true,
        ),
        (
            "set_expiry value",
            |s| s.set_expiry(Expiry::Seconds(5)).unwrap(),
            true,
        ),
        (
            "set_expiry None when absent",
            |s| s.set_expiry(Expiry::Default).unwrap(),
            false,
        ),
    ];
    for (name, op, modifies) in cases {
        let s = f.session(Some(key.as_str()));
        op(&s);
        assert!(s.accessed(), "{name}: accessed not set");
        assert_eq!(s.modified(), modifies, "{name}: modified");
    }
    // set_expiry(None) modifies when an expiry was set.
    let s = f.session(Some(key.as_str()));
    s.set_expiry(Expiry::Seconds(5)).unwrap();
    s.save().unwrap();
    let s = f.session(Some(key.as_str()));
    s.set_expiry(Expiry::Default).unwrap();
    assert!(s.modified());
    // create sets modified.
    let s = f.session(None);
    s.create().unwrap();
    assert!(s.modified());
}

#[test]
fn b4_clear_does_not_load() {
    let f = Fixture::new();
    let key = f.saved();
    let before = f.store.calls();
    let s = f.session(Some(key.as_str()));
    s.clear().unwrap();
    assert_eq!(f.store.calls(), before);
    assert!(s.accessed() && s.modified());
    assert_eq!(s.session_key(), Some(key));
}

#[test]
fn b5_nested_mutation_needs_set_modified() {
    let f = Fixture::new();
    let s = f.session(None);
    s.set("cart", &json!({"items": [1]})).unwrap();
    s.save().unwrap();
    let key = s.session_key().unwrap();
    let s = f.session(Some(key.as_str()));
    {
        // Raw data access goes through the guard (`SessionGuard::data`).
        let mut guard = s.lock_sync().unwrap();
        let data = guard.data().unwrap();
        if let Some(Value::Object(cart)) = data.as_map().get("cart").cloned().as_mut() {
            cart.insert("items".into(), json!([1, 2]));
        }
        // Mutating a copy of a nested value is invisible to the handle:
        assert!(!guard.modified());
        guard
            .data()
            .unwrap()
            .insert("cart".into(), json!({"items": [1, 2]}));
    }
    assert!(!s.modified(), "direct data access must not set modified");
    s.set_modified(true);
    assert!(s.modified());
    s.save().unwrap();
    let again = f.session(Some(key.as_str()));
    assert_eq!(
        again.get_value("cart").unwrap(),
        Some(json!({"items": [1, 2]}))
    );
}

#[test]
fn b6_delete_or_pop_of_missing_key_is_key_error() {
    let f = Fixture::new();
    let s = f.session(None);
    assert!(matches!(s.delete("nope"), Err(Error::KeyNotFound(k)) if k == "nope"));
    assert!(matches!(s.pop("nope"), Err(Error::KeyNotFound(_))));
    assert_eq!(s.pop_or("nope", json!("dflt")).unwrap(), json!("dflt"));
    assert!(!s.modified());
}

#[test]
fn b8_test_cookie_trio() {
    let f = Fixture::new();
    let s = f.session(None);
    assert!(!s.test_cookie_worked().unwrap());
    s.set_test_cookie().unwrap();
    assert_eq!(
        s.get::<String>("testcookie").unwrap().as_deref(),
        Some("worked")
    );
    assert!(s.test_cookie_worked().unwrap());
    s.delete_test_cookie().unwrap();
    assert!(!s.test_cookie_worked().unwrap());
    assert!(matches!(s.delete_test_cookie(), Err(Error::KeyNotFound(_))));
}

#[test]
fn b9_is_empty_only_without_key_and_data() {
    let f = Fixture::new();
    let key = f.saved();
    let s = f.session(None);
    assert!(s.is_empty().unwrap());
    let s = f.session(Some(key.as_str()));
    assert!(!s.is_empty().unwrap(), "a keyed session is not empty");
    let s = f.session(None);
    s.set("a", &1).unwrap();
    assert!(!s.is_empty().unwrap());
    s.clear().unwrap();
    assert!(s.is_empty().unwrap());
}

#[tokio::test]
async fn b10_async_twins_have_the_same_effects() {
    let f = Fixture::new();
    let key = f.saved();
    let s = f.session(Some(key.as_str()));
    assert_eq!(s.aget::<i64>("a").await.unwrap(), Some(1));
    assert!(s.accessed() && !s.modified());
    assert!(s.ahas_key("a").await.unwrap());
    assert_eq!(s.akeys().await.unwrap(), ["a"]);
    assert_eq!(s.avalues().await.unwrap(), [json!(1)]);
    assert_eq!(s.aitems().await.unwrap(), [("a".to_owned(), json!(1))]);
    assert_eq!(s.asetdefault("a", json!(9)).await.unwrap(), json!(1));
    assert!(!s.modified());
    assert_eq!(s.apop_or("zz", json!(0)).await.unwrap(), json!(0));
    assert!(!s.modified());
    assert_eq!(
        s.aget_expiry_age(ExpiryArgs::default()).await.unwrap(),
        1_209_600
    );
    assert!(!s.aget_expire_at_browser_close().await.unwrap());
    assert!(!s.modified());
    s.aset_test_cookie().await.unwrap();
    assert!(s.modified());
    assert!(s.atest_cookie_worked().await.unwrap());
    s.adelete_test_cookie().await.unwrap();
    s.aupdate(vec![("b".to_owned(), json!(2))]).await.unwrap();
    assert_eq!(s.apop("b").await.unwrap(), json!(2));
    s.aset_expiry(Expiry::Seconds(60)).await.unwrap();
    s.asave().await.unwrap();
    s.acycle_key().await.unwrap();
    let new = s.session_key().unwrap();
    assert_ne!(new, key);
    assert!(s.aexists(&new).await.unwrap());
    assert!(!s.aexists(&key).await.unwrap());
    assert!(s.exists(&new).unwrap(), "the sync twin agrees (D9)");
    s.aflush().await.unwrap();
    assert!(s.session_key().is_none());
    assert!(s.ais_empty().await);
    assert!(!f.store.exists(&new).unwrap());
    let fresh = f.session(None);
    fresh.aset("x", &1).await.unwrap();
    fresh.acreate().await.unwrap();
    assert!(fresh.modified());
}

#[tokio::test]
async fn b4_b9_async_clear_does_not_load_and_empties() {
    let f = Fixture::new();
    let key = f.saved();
    let before = f.store.calls();
    let s = f.session(Some(key.as_str()));
    assert!(!s.ais_empty().await, "a keyed session is not empty");
    s.aclear().await;
    assert_eq!(f.store.calls(), before, "B4: clear must not load");
    assert!(s.accessed() && s.modified());
    assert!(!s.ais_empty().await, "clear keeps the key");
    let fresh = f.session(None);
    fresh.aset("a", &1).await.unwrap();
    assert!(!fresh.ais_empty().await);
    fresh.aclear().await;
    assert!(fresh.ais_empty().await);
}

// ---- C. expiry -------------------------------------------------------------------

#[test]
fn c1_set_expiry_int_stores_seconds() {
    let f = Fixture::new();
    let s = f.session(None);
    s.set_expiry(Expiry::Seconds(600)).unwrap();
    assert_eq!(s.get_value("_session_expiry").unwrap(), Some(json!(600)));
    assert_eq!(s.get_expiry_age(ExpiryArgs::default()).unwrap(), 600);
}

#[test]
fn c2_set_expiry_datetime_and_duration_store_isoformat() {
    let f = Fixture::new();
    let s = f.session(None);
    s.set_expiry(Expiry::At(datetime!(2026-01-02 0:00:00.000005 UTC)))
        .unwrap();
    assert_eq!(
        s.get_value("_session_expiry").unwrap(),
        Some(json!("2026-01-02T00:00:00.000005+00:00"))
    );
    s.set_expiry(Expiry::In(Duration::seconds(10))).unwrap();
    assert_eq!(
        s.get_value("_session_expiry").unwrap(),
        Some(json!("2026-01-01T00:00:10+00:00"))
    );
    assert_eq!(s.get_expiry_age(ExpiryArgs::default()).unwrap(), 10);
    assert_eq!(
        s.get_expiry_date(ExpiryArgs::default()).unwrap(),
        START + Duration::seconds(10)
    );
}

#[test]
fn c3_c7_set_expiry_zero_is_browser_close() {
    let f = Fixture::new();
    let s = f.session(None);
    assert!(!s.get_expire_at_browser_close().unwrap());
    s.set_expiry(Expiry::BrowserClose).unwrap();
    assert_eq!(s.get_value("_session_expiry").unwrap(), Some(json!(0)));
    assert!(s.get_expire_at_browser_close().unwrap());
    assert_eq!(s.get_expiry_age(ExpiryArgs::default()).unwrap(), 1_209_600);
    s.set_expiry(Expiry::Seconds(5)).unwrap();
    assert!(!s.get_expire_at_browser_close().unwrap());

    let f = Fixture::with(|b| b.expire_at_browser_close(true));
    let s = f.session(None);
    assert!(s.get_expire_at_browser_close().unwrap());
    s.set_expiry(Expiry::Seconds(5)).unwrap();
    assert!(!s.get_expire_at_browser_close().unwrap());
}

#[test]
fn c4_set_expiry_none_removes_and_never_errors() {
    let f = Fixture::new();
    let s = f.session(None);
    s.set_expiry(Expiry::Default).unwrap();
    s.set_expiry(Expiry::Seconds(5)).unwrap();
    s.set_expiry(Expiry::Default).unwrap();
    assert_eq!(s.get_value("_session_expiry").unwrap(), None);
}

#[test]
fn c5_c6_explicit_arguments_do_not_load() {
    let f = Fixture::new();
    let key = f.saved();
    let before = f.store.calls();
    let s = f.session(Some(key.as_str()));
    let modification = datetime!(2026-01-01 0:00 UTC);
    let args = |expiry| ExpiryArgs {
        modification: Some(modification),
        expiry: Some(expiry),
    };
    assert_eq!(
        s.get_expiry_age(args(ExpiryValue::Seconds(60))).unwrap(),
        60
    );
    assert_eq!(
        s.get_expiry_age(args(ExpiryValue::Absent)).unwrap(),
        1_209_600
    );
    let at = datetime!(2026-01-01 0:01:30.9 UTC);
    assert_eq!(s.get_expiry_age(args(ExpiryValue::At(at))).unwrap(), 90);
    assert_eq!(s.get_expiry_date(args(ExpiryValue::At(at))).unwrap(), at);
    assert_eq!(
        s.get_expiry_date(args(ExpiryValue::Seconds(60))).unwrap(),
        modification + Duration::seconds(60)
    );
    assert_eq!(
        f.store.calls(),
        before,
        "explicit expiry loaded the session"
    );
    assert!(!s.accessed());
}

#[test]
fn c5_age_counts_from_the_given_modification() {
    let f = Fixture::new();
    let s = f.session(None);
    s.set_expiry(Expiry::At(START + Duration::seconds(100)))
        .unwrap();
    let args = ExpiryArgs {
        modification: Some(START + Duration::seconds(40)),
        expiry: None,
    };
    assert_eq!(s.get_expiry_age(args).unwrap(), 60);
    f.clock.advance(Duration::seconds(150));
    assert_eq!(s.get_expiry_age(ExpiryArgs::default()).unwrap(), -50);
}

#[test]
fn c8_integer_expiry_is_inactivity_based() {
    let f = Fixture::new();
    let s = f.session(None);
    s.set_expiry(Expiry::Seconds(60)).unwrap();
    s.save().unwrap();
    let key = s.session_key().unwrap();
    for _ in 0..3 {
        f.clock.advance(Duration::seconds(50));
        let s = f.session(Some(key.as_str()));
        s.set_modified(true);
        s.save().unwrap(); // activity: each save pushes the expiry
    }
    f.clock.advance(Duration::seconds(59));
    assert!(f
        .session(Some(key.as_str()))
        .get_value("_session_expiry")
        .unwrap()
        .is_some());
}

#[test]
fn c8_datetime_expiry_is_absolute() {
    let f = Fixture::new();
    let s = f.session(None);
    s.set_expiry(Expiry::At(START + Duration::seconds(60)))
        .unwrap();
    s.save().unwrap();
    let key = s.session_key().unwrap();
    f.clock.advance(Duration::seconds(50));
    let s = f.session(Some(key.as_str()));
    s.set_modified(true);
    s.save().unwrap();
    f.clock.advance(Duration::seconds(11));
    let s = f.session(Some(key.as_str()));
    assert!(s.keys().unwrap().is_empty());
}

#[test]
fn c9_reading_does_not_extend_a_session() {
    let f = Fixture::new();
    let key = f.saved();
    for _ in 0..10 {
        f.clock.advance(Duration::seconds(f.config.cookie_age / 10));
        let _ = f.session(Some(key.as_str())).get_value("a").unwrap();
    }
    f.clock.advance(Duration::seconds(1));
    assert_eq!(f.session(Some(key.as_str())).get_value("a").unwrap(), None);
}

#[test]
fn c2_expiry_fixture_from_django() {
    // Strings from session-api/tests/fixtures/django-5.2/expiry.json.
    let text = include_str!("fixtures/django-5.2/expiry.json");
    let v: Value = serde_json::from_str(text).unwrap();
    let stored: Vec<&str> = v["set_expiry(datetime) stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(isoformat(datetime!(2026-01-01 0:00:10 UTC)), stored[0]);
    assert_eq!(
        isoformat(datetime!(2026-01-02 0:00:00.000005 UTC)),
        stored[1]
    );
}

// ---- D. store contract through the handle ----------------------------------------

#[test]
fn d4_save_must_create_on_existing_key_is_create_error() {
    let f = Fixture::new();
    let key = f.saved();
    let s = f.session(Some(key.as_str()));
    assert!(matches!(s.save_with(SaveMode::Create), Err(Error::Create)));
    assert_eq!(
        f.session(Some(key.as_str())).get::<i64>("a").unwrap(),
        Some(1)
    );
}

#[test]
fn d5_update_of_a_deleted_record_is_update_error_and_not_resurrected() {
    let f = Fixture::new();
    let key = f.saved();
    let request = f.session(Some(key.as_str()));
    request.set("b", &2).unwrap(); // loaded while the record existed
    f.session(Some(key.as_str())).flush().unwrap(); // concurrent logout
    assert!(matches!(request.save(), Err(Error::Update)));
    assert!(!f.store.exists(&key).unwrap());
}

#[test]
fn d6_delete_record_without_any_key_does_nothing() {
    let f = Fixture::new();
    let s = f.session(None);
    s.delete_record(None).unwrap();
    assert_eq!(f.store.calls(), 0);
}
