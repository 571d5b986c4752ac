//! The db test cases, written once and run per dialect (see `db_cases!`).

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use session_api::signing::SecretKeys;
use session_api::{
    AsyncSessionStore, Error, JsonSerializer, Record, SaveMode, Session, SessionBackend,
    SessionCodec, SessionConfig, SessionData, SessionKey, Version,
};
use session_stores::db::{AccountIdColumn, DbOptions, DbPool, DbStore};
use time::Duration;

use super::{open, open_with, options, Kind, SECRET, START};

fn data(pairs: serde_json::Value) -> SessionData {
    SessionData::from_value(pairs).expect("a JSON object")
}

fn key(text: &str) -> SessionKey {
    SessionKey::parse(text).expect("a valid key")
}

/// The record of `data` under `key`, expiring at `expires_at`.
pub fn rec(key: &SessionKey, data: &SessionData, expires_at: time::OffsetDateTime) -> Record {
    Record::new(key.clone(), data.clone(), expires_at)
}

/// The data `aload` gives for `key` (its record's), panicking on a store error.
pub async fn load<S: AsyncSessionStore + ?Sized>(s: &S, key: &SessionKey) -> Option<SessionData> {
    s.aload(key).await.expect("load").map(|record| record.data)
}

/// Values Django 5.2 wrote as `session_data` with [`SECRET`] at [`START`]
/// (session-api/tests/fixtures/django-5.2/signing.json).
pub fn django_fixtures() -> Vec<(serde_json::Value, &'static str)> {
    vec![
        (
            json!({"user": "bob", "cart": [3, 4], "flag": true, "none": null, "pi": 3.25}),
            "eyJ1c2VyIjoiYm9iIiwiY2FydCI6WzMsNF0sImZsYWciOnRydWUsIm5vbmUiOm51bGwsInBpIjozLjI1fQ\
             :1vb66i:5Rp6PnGNxnzIf6CfDhAMrMsLKsrn4mj5cd-Vh1AsGos",
        ),
        (
            json!({"text": "caf\u{e9} \u{4e2d}\u{6587} \u{1f600}"}),
            "eyJ0ZXh0IjoiY2FmXHUwMGU5IFx1NGUyZFx1NjU4NyBcdWQ4M2RcdWRlMDAifQ:1vb66i:\
             PdGKj6TuQ9sgbVIOETDDT25zHi59h8PwKoikYXZQa3c",
        ),
        (
            json!({"repeat": "ab".repeat(200)}),
            ".eJyrVipKLUhNLFGyUkpMGoWDCSrVAgBN1pyU:1vb66i:Nor2yy8BjDftn6nN_3LtqwcL-EB7_9sC_eXoRTjD80g",
        ),
        (
            json!({"_auth_user_id": "7", "_session_expiry": 600}),
            "eyJfYXV0aF91c2VyX2lkIjoiNyIsIl9zZXNzaW9uX2V4cGlyeSI6NjAwfQ:1vb66i:\
             JK7FA1GxyWkN6uUlSqUZKMt9McC2_J3le0R1HVIur5A",
        ),
    ]
}

/// D1, D4..D7, E1: create, load, exists, update, delete, and the errors.
pub async fn crud_and_semantics(kind: Kind) {
    let Some(db) = open(kind, "crud").await else {
        return;
    };
    let s = &*db.store;
    let caps = s.capabilities();
    assert!(caps.server_side && caps.clear_expired && !caps.list_by_account);

    let exp = START + Duration::hours(1);
    let mut d = data(json!({"user": "bob"}));
    let k = s.acreate(&d, exp).await.unwrap();
    // The record comes back with its expire_date, and the version a new row starts
    // at (V1: the column's default).
    assert_eq!(
        s.aload(&k).await.unwrap(),
        Some(rec(&k, &d, exp).with_version(Some(Version::new(0))))
    );
    assert!(s.aexists(&k).await.unwrap());

    // D4: insert-if-absent on a live row.
    assert!(matches!(
        s.asave(&rec(&k, &d, exp), SaveMode::Create).await,
        Err(Error::Create)
    ));
    assert_eq!(load(s, &k).await, Some(d.clone()), "unchanged");

    // D5: update of an existing row; twice with identical values (MySQL counts
    // matched rows, not changed ones, so this must not be an Update error).
    d.set("cart", &[1, 2]).unwrap();
    assert_eq!(
        s.asave(&rec(&k, &d, exp), SaveMode::Update).await.unwrap(),
        k
    );
    assert_eq!(
        s.asave(&rec(&k, &d, exp), SaveMode::Update).await.unwrap(),
        k
    );
    assert_eq!(load(s, &k).await, Some(d.clone()));

    // expire_date round-trips at microsecond precision, in UTC.
    let odd = START + Duration::new(3_600, 123_456_789);
    s.asave(
        &rec(&k, &d, odd.to_offset(time::macros::offset!(+5:30))),
        SaveMode::Update,
    )
    .await
    .unwrap();
    let (raw, at) = s.read_raw(&k).await.unwrap().unwrap();
    assert_eq!(at, START + Duration::new(3_600, 123_456_000));
    assert_eq!(s.codec().decode(&raw), d);

    // D6: delete; again is not an error.
    s.adelete(&k).await.unwrap();
    assert_eq!(load(s, &k).await, None);
    assert!(!s.aexists(&k).await.unwrap());
    s.adelete(&k).await.unwrap();

    // D5: an update never re-creates the record.
    assert!(matches!(
        s.asave(&rec(&k, &d, exp), SaveMode::Update).await,
        Err(Error::Update)
    ));
    assert!(s.read_raw(&k).await.unwrap().is_none());

    // A key of another length (8..40 characters) is stored as given.
    for text in ["abcdefgh", &"z".repeat(40)] {
        let k = key(text);
        s.asave(&rec(&k, &d, exp), SaveMode::Create).await.unwrap();
        assert_eq!(load(s, &k).await, Some(d.clone()));
    }
    assert_eq!(db.count_rows().await, 2);
    db.cleanup().await;
}

/// C9, E1, H7: the expired-but-not-purged cases.
pub async fn expired_rows(kind: Kind) {
    let Some(db) = open(kind, "expired").await else {
        return;
    };
    let s = &*db.store;
    let k = key("expiredkey0000000000000000000001");
    let d = data(json!({"a": 1}));
    s.asave(
        &rec(&k, &d, START + Duration::seconds(10)),
        SaveMode::Create,
    )
    .await
    .unwrap();

    db.clock.advance(Duration::seconds(9));
    assert_eq!(load(s, &k).await, Some(d.clone()));
    // At expire_date == now the row is no longer live (load needs expire_date > now).
    db.clock.advance(Duration::seconds(1));
    assert_eq!(load(s, &k).await, None);
    assert!(!s.aexists(&k).await.unwrap());
    // ... and clear_expired (expire_date < now, as Django) leaves it for now.
    assert_eq!(s.aclear_expired().await.unwrap(), 0);

    // H7 (stricter than Django, which matches the key only): an expired, unpurged
    // row counts as absent, so an update fails and leaves it as it was.
    let now = START + Duration::seconds(10);
    assert!(matches!(
        s.asave(&rec(&k, &d, now + Duration::hours(1)), SaveMode::Update)
            .await,
        Err(Error::Update)
    ));
    assert_eq!(load(s, &k).await, None);
    let (_, at) = s.read_raw(&k).await.unwrap().unwrap();
    assert_eq!(at, now, "not revived");

    // must_create over an expired, unpurged row succeeds and replaces it.
    db.clock.advance(Duration::hours(2));
    let fresh = data(json!({"fresh": true}));
    s.asave(
        &rec(&k, &fresh, START + Duration::hours(5)),
        SaveMode::Create,
    )
    .await
    .unwrap();
    assert_eq!(load(s, &k).await, Some(fresh.clone()));
    // ... but not over a live one.
    assert!(matches!(
        s.asave(&rec(&k, &d, START + Duration::hours(5)), SaveMode::Create)
            .await,
        Err(Error::Create)
    ));

    // clear_expired removes only what expired before now.
    let gone = key("expiredkey0000000000000000000002");
    s.asave(&rec(&gone, &d, START), SaveMode::Create)
        .await
        .unwrap();
    assert_eq!(s.aclear_expired().await.unwrap(), 1);
    assert!(s.read_raw(&gone).await.unwrap().is_none());
    assert_eq!(load(s, &k).await, Some(fresh));
    db.cleanup().await;
}

/// D7, F7: rows that do not decode load as `None`, never as an error.
pub async fn undecodable_rows(kind: Kind) {
    let Some(db) = open(kind, "undecodable").await else {
        return;
    };
    let s = &*db.store;
    let exp = START + Duration::hours(1);
    let k = key("corruptkey000000000000000000000a");
    let other_secret = SessionCodec::new(
        &SecretKeys::new("another-secret"),
        Arc::new(db.clock.clone()),
        Arc::new(JsonSerializer),
    )
    .encode(&data(json!({"a": 1})))
    .unwrap();
    let not_an_object = s
        .codec()
        .signer()
        .sign_object(&json!([1, 2]), &JsonSerializer, true)
        .unwrap();
    let bad_base64 = s.codec().signer().sign("!!!not-base64!!!");
    for raw in [
        "garbage",
        "",
        &other_secret,
        &not_an_object,
        &bad_base64,
        "eyJhIjoxfQ:1vb66i:tampered",
    ] {
        s.write_raw(&k, raw, exp).await.unwrap();
        assert_eq!(load(s, &k).await, None, "{raw:?}");
        // The row is there and live; only its data is unusable.
        assert!(s.aexists(&k).await.unwrap());
    }
    // Django's own row decodes.
    let (obj, signed) = &django_fixtures()[0];
    s.write_raw(&k, signed, exp).await.unwrap();
    assert_eq!(load(s, &k).await, Some(data(obj.clone())));
    db.cleanup().await;
}

/// D5, G5: a session deleted by one handle (logout, `Session::flush`) is not
/// resurrected by a concurrent save from another handle.
pub async fn logout_not_resurrected(kind: Kind) {
    let Some(db) = open(kind, "logout").await else {
        return;
    };
    let backend = SessionBackend::from_async(Arc::clone(&db.store));
    let config = Arc::new(
        SessionConfig::builder(SecretKeys::new(SECRET))
            .clock(Arc::new(db.clock.clone()))
            .build()
            .unwrap(),
    );
    // The sync API, through the AsyncToSync bridge.
    let a = Session::new(backend.clone(), Arc::clone(&config), None);
    a.set("user", "bob").unwrap();
    a.save().unwrap();
    let k = a.session_key().unwrap();

    let b = Session::new(backend.clone(), Arc::clone(&config), Some(k.as_str()));
    assert_eq!(b.get::<String>("user").unwrap().as_deref(), Some("bob"));

    a.flush().unwrap();
    assert!(a.session_key().is_none());

    b.set("cart", &[1, 2, 3]).unwrap();
    assert!(matches!(b.save(), Err(Error::Update)));
    assert!(db.store.read_raw(&k).await.unwrap().is_none(), "row absent");

    // The async twins behave the same.
    let c = Session::new(backend.clone(), Arc::clone(&config), None);
    c.aset("user", "carol").await.unwrap();
    c.asave().await.unwrap();
    let k = c.session_key().unwrap();
    let d = Session::new(backend, config, Some(k.as_str()));
    assert!(d.ahas_key("user").await.unwrap());
    c.aflush().await.unwrap();
    d.aset("x", &1).await.unwrap();
    assert!(matches!(d.asave().await, Err(Error::Update)));
    assert!(db.store.read_raw(&k).await.unwrap().is_none());
    db.cleanup().await;
}

/// A6, D5: an update that waits on the row lock of a logout's uncommitted `DELETE`
/// finds no row once the logout commits: `Error::Update`, and the row stays gone
/// (the update is never an upsert). The deterministic interleaving of the kit's
/// random logout/update race (`a6_logout_is_never_undone_by_a_concurrent_update`).
pub async fn update_waiting_on_a_logout_finds_no_row(kind: Kind) {
    let Some(db) = open(kind, "logoutlock").await else {
        return;
    };
    let store = Arc::clone(&db.store);
    let d = data(json!({"user": "bob"}));
    let exp = START + Duration::hours(1);
    let k = store.acreate(&d, exp).await.unwrap();
    let delete = format!(
        "DELETE FROM {} WHERE session_key = '{}'",
        store.table(),
        k.as_str()
    );
    // The logout's transaction, on a connection of its own: the row is deleted and
    // locked, not committed yet. Then the update starts, and must wait for it.
    macro_rules! race {
        ($pool:expr) => {{
            let mut tx = $pool.begin().await.unwrap();
            sqlx::raw_sql(&delete).execute(&mut *tx).await.unwrap();
            let (s, r) = (Arc::clone(&store), rec(&k, &d, exp + Duration::hours(1)));
            let update = tokio::spawn(async move { s.asave(&r, SaveMode::Update).await });
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            assert!(!update.is_finished(), "{kind:?}: the update did not wait");
            tx.commit().await.unwrap();
            update.await.unwrap()
        }};
    }
    let outcome = match store.pool() {
        #[cfg(feature = "sqlite")]
        DbPool::Sqlite(p) => race!(p),
        #[cfg(feature = "postgres")]
        DbPool::Postgres(p) => race!(p),
        #[cfg(feature = "mysql")]
        DbPool::MySql(p) => race!(p),
        _ => unreachable!("all drivers are compiled in for these tests"),
    };
    assert!(
        matches!(outcome, Err(Error::Update)),
        "{kind:?}: {outcome:?}"
    );
    assert_eq!(
        store.read_raw(&k).await.unwrap(),
        None,
        "{kind:?}: row absent"
    );
    assert_eq!(load(&*store, &k).await, None);
    db.cleanup().await;
}

/// F6: the stored `session_data` is what `SessionCodec::encode` gives, and what
/// Django 5.2 wrote for the same data, secret and time.
pub async fn django_session_data(kind: Kind) {
    let Some(db) = open(kind, "djangobytes").await else {
        return;
    };
    let s = &*db.store;
    let codec = SessionCodec::new(
        &SecretKeys::new(SECRET),
        Arc::new(db.clock.clone()),
        Arc::new(JsonSerializer),
    );
    for (obj, django) in django_fixtures() {
        let d = data(obj);
        let k = s.acreate(&d, START + Duration::hours(1)).await.unwrap();
        let (stored, _) = s.read_raw(&k).await.unwrap().unwrap();
        assert_eq!(stored, codec.encode(&d).unwrap());
        assert_eq!(stored, django, "byte-identical to Django");
        // And Django's row reads back as the data.
        s.write_raw(&k, django, START + Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(load(s, &k).await, Some(d));
    }
    db.cleanup().await;
}

/// E2, S5: custom records; listing and revoking an account's sessions.
pub async fn account_sessions(kind: Kind) {
    let clock = session_api::ManualClock::new(START);
    let opts = options("accounts", &clock).extension(Arc::new(AccountIdColumn::new()));
    let Some(db) = open_with(kind, clock, opts).await else {
        return;
    };
    let s = &*db.store;
    assert!(s.capabilities().list_by_account);

    let user = |id: &str| data(json!({"_auth_user_id": id, "_auth_user_backend": "b"}));
    let (e1, e2) = (START + Duration::hours(1), START + Duration::hours(2));
    let k1 = key("account7session1");
    let k2 = key("account7session2");
    let k3 = key("account7session3");
    s.asave(&rec(&k2, &user("7"), e2), SaveMode::Create)
        .await
        .unwrap();
    s.asave(&rec(&k1, &user("7"), e1), SaveMode::Create)
        .await
        .unwrap();
    s.asave(
        &rec(&k3, &user("7"), START - Duration::seconds(1)),
        SaveMode::Create,
    )
    .await
    .unwrap();
    let k8 = key("account8session1");
    s.asave(
        &rec(&k8, &data(json!({"_auth_user_id": 8})), e1),
        SaveMode::Create,
    )
    .await
    .unwrap();
    let anon = key("anonymoussession");
    s.asave(
        &rec(&anon, &data(json!({"cart": [1]})), e1),
        SaveMode::Create,
    )
    .await
    .unwrap();
    let odd = key("notanumbersession");
    s.asave(&rec(&odd, &user("abc"), e1), SaveMode::Create)
        .await
        .unwrap();

    // Live ones only, soonest expiry first.
    assert_eq!(
        s.list_account_sessions(7).await.unwrap(),
        vec![(k1.clone(), e1), (k2.clone(), e2)]
    );
    assert_eq!(
        s.list_account_sessions(8).await.unwrap(),
        vec![(k8.clone(), e1)]
    );
    assert!(s.list_account_sessions(9).await.unwrap().is_empty());

    // Login (an update that adds _auth_user_id) and logout-by-data (removes it) move
    // the row in and out of the listing.
    s.asave(&rec(&anon, &user("9"), e2), SaveMode::Update)
        .await
        .unwrap();
    assert_eq!(
        s.list_account_sessions(9).await.unwrap(),
        vec![(anon.clone(), e2)]
    );
    s.asave(&rec(&anon, &data(json!({})), e2), SaveMode::Update)
        .await
        .unwrap();
    assert!(s.list_account_sessions(9).await.unwrap().is_empty());

    // Revoke deletes the account's live sessions; the expired row is no session
    // (S5) and is left to clear_expired.
    assert_eq!(s.revoke_account_sessions(7).await.unwrap(), 2);
    assert!(s.list_account_sessions(7).await.unwrap().is_empty());
    assert_eq!(load(s, &k1).await, None);
    assert!(s.read_raw(&k3).await.unwrap().is_some());
    assert_eq!(load(s, &k8).await.map(|d| d.len()), Some(1));
    assert_eq!(s.revoke_account_sessions(7).await.unwrap(), 0);

    // A store without the extension says so.
    let plain = DbStore::new(
        s.pool().clone(),
        DbOptions::new(SecretKeys::new(SECRET)).table(s.table()),
    )
    .unwrap();
    assert!(!plain.capabilities().list_by_account);
    assert!(matches!(
        plain.list_account_sessions(7).await,
        Err(Error::Configuration(_))
    ));
    assert!(matches!(
        plain.revoke_account_sessions(7).await,
        Err(Error::Configuration(_))
    ));
    // An extra column may not reuse a base column's name.
    let clash = DbOptions::new(SecretKeys::new(SECRET))
        .extension(Arc::new(AccountIdColumn::named("Session_Key").unwrap()));
    assert!(matches!(
        DbStore::new(s.pool().clone(), clash),
        Err(Error::Configuration(_))
    ));
    db.cleanup().await;
}

/// `migrate` twice is fine; table names are validated before any SQL is built.
pub async fn migrate_and_names(kind: Kind) {
    let Some(db) = open(kind, "migrate").await else {
        return;
    };
    let s = &*db.store;
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    for bad in [
        "bad name",
        "x; DROP TABLE y",
        "1abc",
        "",
        "a\"b",
        &"a".repeat(64),
    ] {
        let opts = DbOptions::new(SecretKeys::new(SECRET)).table(bad);
        assert!(
            matches!(
                DbStore::new(s.pool().clone(), opts),
                Err(Error::Configuration(_))
            ),
            "{bad:?}"
        );
    }
    // The longest name works, with its indexes (names must fit every dialect).
    let long = format!("{}_{}", super::unique_table("long"), "x".repeat(63))
        .split_at(63)
        .0
        .to_owned();
    let opts = DbOptions::new(SecretKeys::new(SECRET))
        .clock(Arc::new(db.clock.clone()))
        .table(long.as_str())
        .extension(Arc::new(AccountIdColumn::new()));
    let long_store = DbStore::new(s.pool().clone(), opts).unwrap();
    long_store.migrate().await.unwrap();
    long_store.migrate().await.unwrap();
    let k = key("longtablesession");
    long_store
        .asave(
            &rec(
                &k,
                &data(json!({"_auth_user_id": "1"})),
                START + Duration::hours(1),
            ),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(long_store.list_account_sessions(1).await.unwrap().len(), 1);
    super::exec(s, &format!("DROP TABLE {long}")).await;

    assert!(matches!(
        DbStore::connect(
            "redis://127.0.0.1/",
            DbOptions::new(SecretKeys::new(SECRET))
        )
        .await,
        Err(Error::Configuration(_))
    ));
    db.cleanup().await;
}

/// D8: batches loop until nothing is left.
pub async fn clear_expired_batches(kind: Kind) {
    let clock = session_api::ManualClock::new(START);
    let opts = options("batches", &clock).clear_batch_size(7);
    let Some(db) = open_with(kind, clock, opts).await else {
        return;
    };
    db.insert_expired(20).await;
    let d = data(json!({"live": 1}));
    for i in 0..3 {
        db.store
            .asave(
                &rec(
                    &key(&format!("livesession{i}")),
                    &d,
                    START + Duration::hours(1),
                ),
                SaveMode::Create,
            )
            .await
            .unwrap();
    }
    // A batch size that divides the count exactly still ends.
    assert_eq!(db.store.aclear_expired().await.unwrap(), 20);
    assert_eq!(db.count_rows().await, 3);
    assert_eq!(db.store.aclear_expired().await.unwrap(), 0);
    db.insert_expired(14).await;
    assert_eq!(db.store.aclear_expired().await.unwrap(), 14);
    assert_eq!(db.count_rows().await, 3);
    db.cleanup().await;
}

/// D8 at scale: 100,000 expired rows go, live rows stay. Prints the timing.
pub async fn clear_100k(kind: Kind) {
    let Some(db) = open(kind, "clear100k").await else {
        return;
    };
    let started = Instant::now();
    db.insert_expired(100_000).await;
    let inserted = started.elapsed();
    let d = data(json!({"live": 1}));
    for i in 0..5 {
        db.store
            .asave(
                &rec(
                    &key(&format!("livesession{i}")),
                    &d,
                    START + Duration::hours(1),
                ),
                SaveMode::Create,
            )
            .await
            .unwrap();
    }
    let started = Instant::now();
    let removed = db.store.aclear_expired().await.unwrap();
    let cleared = started.elapsed();
    eprintln!(
        "{kind:?}: inserted 100k expired rows in {inserted:?}, clear_expired took {cleared:?}"
    );
    assert_eq!(removed, 100_000);
    assert_eq!(db.count_rows().await, 5);
    assert_eq!(load(&*db.store, &key("livesession0")).await, Some(d));
    db.cleanup().await;
}

/// D9: the sync side (AsyncToSync) has the same semantics.
pub async fn sync_bridge(kind: Kind) {
    let Some(db) = open(kind, "bridge").await else {
        return;
    };
    let backend = SessionBackend::from_async(Arc::clone(&db.store));
    let sync = backend.sync();
    let d = data(json!({"via": "sync"}));
    let k = sync.create(&d, START + Duration::hours(1)).unwrap();
    assert_eq!(
        sync.load(&k).unwrap(),
        Some(rec(&k, &d, START + Duration::hours(1)).with_version(Some(Version::new(0))))
    );
    assert!(sync.exists(&k).unwrap());
    assert!(matches!(
        sync.save(&rec(&k, &d, START + Duration::hours(1)), SaveMode::Create),
        Err(Error::Create)
    ));
    sync.delete(&k).unwrap();
    assert!(matches!(
        sync.save(&rec(&k, &d, START + Duration::hours(1)), SaveMode::Update),
        Err(Error::Update)
    ));
    assert_eq!(sync.clear_expired().unwrap(), 0);
    db.cleanup().await;
}

/// A4, H6: concurrent creates get distinct keys; two inserts of one key race to
/// exactly one winner.
pub async fn concurrent_creates(kind: Kind) {
    let Some(db) = open(kind, "concurrent").await else {
        return;
    };
    let exp = START + Duration::hours(1);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = Arc::clone(&db.store);
        tasks.push(tokio::spawn(async move {
            let d = data(json!({ "n": i }));
            store.acreate(&d, exp).await.unwrap()
        }));
    }
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(t.await.unwrap());
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 16);

    let contested = key("contestedkey0000");
    let mut racers = Vec::new();
    for i in 0..4 {
        let store = Arc::clone(&db.store);
        let k = contested.clone();
        racers.push(tokio::spawn(async move {
            store
                .asave(
                    &rec(&k, &data(json!({ "winner": i })), exp),
                    SaveMode::Create,
                )
                .await
        }));
    }
    let mut wins = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(_) => wins += 1,
            Err(Error::Create) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(wins, 1);
    db.cleanup().await;
}
