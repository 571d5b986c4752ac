//! The db cases of the optional operations, run per dialect (see `db_cases!`):
//! lookup (expired vs missing), versioned saves (V1, V3), touch (V4), the account
//! index (S5), and a table shared with Django (versioning off, or a Django table
//! `migrate` gives the version column).

use std::sync::Arc;

use serde_json::json;
use session_api::signing::SecretKeys;
use session_api::{
    AsyncAccountSessions, AsyncSessionStore, Clock, Error, Lookup, ManualClock, Record, SaveMode,
    SessionBackend, SessionData, SessionKey, Version,
};
use session_stores::db::{AccountIdColumn, DbOptions, DbPool, DbStore, Versioning};
use time::{Duration, OffsetDateTime};

use super::cases::{django_fixtures, load, rec};
use super::{exec, open, open_with, options, Kind, SECRET, START};

fn data(pairs: serde_json::Value) -> SessionData {
    SessionData::from_value(pairs).expect("a JSON object")
}

/// The record and version `aload` gives for `key`, which must be live and versioned.
async fn loaded(s: &DbStore, key: &SessionKey) -> (Record, Version) {
    let record = s.aload(key).await.unwrap().expect("a live record");
    let version = record.version.expect("a versioned record");
    (record, version)
}

/// The version column of `key`'s row, read with SQL of its own.
async fn stored_version(s: &DbStore, key: &SessionKey) -> i64 {
    let sql = format!(
        "SELECT version FROM {} WHERE session_key = '{}'",
        s.table(),
        key.as_str()
    );
    match s.pool() {
        #[cfg(feature = "sqlite")]
        DbPool::Sqlite(p) => sqlx::query_scalar(&sql).fetch_one(p).await,
        #[cfg(feature = "postgres")]
        DbPool::Postgres(p) => sqlx::query_scalar(&sql).fetch_one(p).await,
        #[cfg(feature = "mysql")]
        DbPool::MySql(p) => sqlx::query_scalar(&sql).fetch_one(p).await,
        _ => unreachable!("all drivers are compiled in for these tests"),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Whether the table of `s` has a column `version`.
async fn has_version_column(s: &DbStore) -> bool {
    let sql = format!("SELECT version FROM {} WHERE 1 = 0", s.table());
    match s.pool() {
        #[cfg(feature = "sqlite")]
        DbPool::Sqlite(p) => sqlx::raw_sql(&sql).execute(p).await.is_ok(),
        #[cfg(feature = "postgres")]
        DbPool::Postgres(p) => sqlx::raw_sql(&sql).execute(p).await.is_ok(),
        #[cfg(feature = "mysql")]
        DbPool::MySql(p) => sqlx::raw_sql(&sql).execute(p).await.is_ok(),
        _ => unreachable!("all drivers are compiled in for these tests"),
    }
}

/// D7, V6: one query tells a live record, an expired one and none apart; `aload` is
/// the same lookup.
pub async fn lookup_tells_expired_from_missing(kind: Kind) {
    let Some(db) = open(kind, "lookup").await else {
        return;
    };
    let s = &*db.store;
    let d = data(json!({"a": 1}));
    let k = s.acreate(&d, START + Duration::seconds(10)).await.unwrap();
    match s.alookup(&k).await.unwrap() {
        Lookup::Found(r) => {
            assert_eq!(r.data, d);
            assert_eq!(r.expires_at, START + Duration::seconds(10));
            assert_eq!(r.version, s.aload(&k).await.unwrap().unwrap().version);
        }
        other => panic!("{kind:?}: lookup of a live record: {other:?}"),
    }
    assert_eq!(
        s.alookup(&SessionKey::generate()).await.unwrap(),
        Lookup::Missing
    );
    // At expire_date == now the row is expired (live needs expire_date > now), and
    // stays expired, not missing, until it is purged.
    db.clock.advance(Duration::seconds(10));
    assert_eq!(s.alookup(&k).await.unwrap(), Lookup::Expired);
    assert_eq!(s.aload(&k).await.unwrap(), None);
    db.clock.advance(Duration::seconds(1));
    assert_eq!(s.aclear_expired().await.unwrap(), 1);
    assert_eq!(s.alookup(&k).await.unwrap(), Lookup::Missing);
    // A live row whose data does not decode is missing (C9), not an error.
    s.write_raw(&k, "garbage", START + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(s.alookup(&k).await.unwrap(), Lookup::Missing);
    db.cleanup().await;
}

/// V1, V3, D5: a load gives the version; `asave_if` writes over it and returns the
/// next one; a stale version is a conflict that leaves the winner; any plain save,
/// touch or raw write changes the version; a deleted or expired record is an update
/// error and is not re-created; the sync side agrees (D9).
pub async fn versioned_saves(kind: Kind) {
    let Some(db) = open(kind, "versioned").await else {
        return;
    };
    let s = &*db.store;
    let caps = s.capabilities();
    assert!(caps.versioned && caps.touch, "{caps:?}");
    let exp = START + Duration::hours(1);
    let k = s.acreate(&data(json!({"n": 0})), exp).await.unwrap();
    let (_, v0) = loaded(s, &k).await;
    assert_eq!(
        v0,
        Version::new(0),
        "a new row starts at the column's default"
    );

    let v1 = s
        .asave_if(&rec(&k, &data(json!({"n": 1})), exp), v0)
        .await
        .unwrap();
    assert_ne!(v1, v0);
    let (r, stored) = loaded(s, &k).await;
    assert_eq!((r.data, stored), (data(json!({"n": 1})), v1));

    // Two writers loaded v1: the first wins, the second is a conflict.
    let v2 = s
        .asave_if(&rec(&k, &data(json!({"n": "a"})), exp), v1)
        .await
        .unwrap();
    let lost = s
        .asave_if(&rec(&k, &data(json!({"n": "b"})), exp), v1)
        .await;
    assert!(matches!(lost, Err(Error::Conflict)), "{kind:?}: {lost:?}");
    assert_eq!(load(s, &k).await, Some(data(json!({"n": "a"}))));

    // A plain save of the same data still moves the version (V1: any save).
    s.asave(&rec(&k, &data(json!({"n": "a"})), exp), SaveMode::Update)
        .await
        .unwrap();
    let (_, v3) = loaded(s, &k).await;
    assert_ne!(v3, v2);
    assert!(matches!(
        s.asave_if(&rec(&k, &data(json!({"n": "late"})), exp), v2)
            .await,
        Err(Error::Conflict)
    ));
    // V3: a touch moves the expiry, so the version too.
    s.atouch(&k, exp + Duration::hours(1)).await.unwrap();
    let (_, v4) = loaded(s, &k).await;
    assert_ne!(v4, v3);
    // A raw write replaces the row: its version moves on, never back to a loaded one.
    let (text, _) = s.read_raw(&k).await.unwrap().unwrap();
    s.write_raw(&k, &text, exp).await.unwrap();
    let (_, v5) = loaded(s, &k).await;
    assert!(![v0, v1, v2, v3, v4].contains(&v5), "{v5:?}");

    // D9: the sync side, from a thread outside the runtime's workers.
    let backend = SessionBackend::from_async(Arc::clone(&db.store));
    let key = k.clone();
    let (v6, stale) = tokio::task::spawn_blocking(move || {
        let sync = backend.sync();
        let v6 = sync.save_if(&rec(&key, &data(json!({"n": "sync"})), exp), v5);
        let stale = sync.save_if(&rec(&key, &data(json!({"n": "stale"})), exp), v5);
        (v6, stale)
    })
    .await
    .unwrap();
    let v6 = v6.unwrap();
    assert!(matches!(stale, Err(Error::Conflict)), "{stale:?}");
    assert_eq!(loaded(s, &k).await.1, v6);

    // D5: a deleted record is an update error, and nothing is re-created.
    s.adelete(&k).await.unwrap();
    let gone = s.asave_if(&rec(&k, &data(json!({"n": 9})), exp), v6).await;
    assert!(matches!(gone, Err(Error::Update)), "{kind:?}: {gone:?}");
    assert!(s.read_raw(&k).await.unwrap().is_none(), "re-created");

    // H7: an expired, unpurged row is an update error too, and is not revived.
    let short = START + Duration::seconds(30);
    let e = s.acreate(&data(json!({"n": 0})), short).await.unwrap();
    let (_, v) = loaded(s, &e).await;
    db.clock.advance(Duration::seconds(30));
    let expired = s.asave_if(&rec(&e, &data(json!({"n": 1})), exp), v).await;
    assert!(
        matches!(expired, Err(Error::Update)),
        "{kind:?}: {expired:?}"
    );
    assert_eq!(s.read_raw(&e).await.unwrap().unwrap().1, short, "revived");

    // A create over that expired row takes it over: its version goes on counting,
    // so the old record's version is no version of the new one.
    s.asave(&rec(&e, &data(json!({"new": true})), exp), SaveMode::Create)
        .await
        .unwrap();
    let (r, fresh) = loaded(s, &e).await;
    assert_eq!(r.data, data(json!({"new": true})));
    assert_ne!(fresh, v);
    assert!(matches!(
        s.asave_if(&rec(&e, &data(json!({"old": true})), exp), v)
            .await,
        Err(Error::Conflict)
    ));
    db.cleanup().await;
}

/// V1: concurrent read-modify-writes over `asave_if`, retrying on conflict, lose
/// nothing: every writer's id is in the list at the end.
pub async fn concurrent_versioned_appends(kind: Kind) {
    let Some(db) = open(kind, "appends").await else {
        return;
    };
    let exp = START + Duration::hours(1);
    let k = db
        .store
        .acreate(&data(json!({"ids": []})), exp)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for id in 0..8_u64 {
        let (s, k) = (Arc::clone(&db.store), k.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let record = s.aload(&k).await.unwrap().unwrap();
                let mut ids = record.data.get_value("ids").unwrap().clone();
                ids.as_array_mut().unwrap().push(json!(id));
                let mut d = record.data.clone();
                d.insert("ids".into(), ids);
                match s.asave_if(&rec(&k, &d, exp), record.version.unwrap()).await {
                    Ok(_) => return,
                    Err(Error::Conflict) => {}
                    Err(other) => panic!("appender {id}: {other:?}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let d = load(&*db.store, &k).await.unwrap();
    let mut ids: Vec<u64> = d
        .get_value("ids")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_u64)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..8).collect::<Vec<_>>(), "{kind:?}");
    db.cleanup().await;
}

/// V4, D5: a touch moves a live row's expiry and keeps its data; a missing or
/// expired row is an update error and stays as it was.
pub async fn touch_moves_the_expiry(kind: Kind) {
    let Some(db) = open(kind, "touch").await else {
        return;
    };
    let s = &*db.store;
    let d = data(json!({"a": 1}));
    let k = s.acreate(&d, START + Duration::seconds(60)).await.unwrap();
    let (text, _) = s.read_raw(&k).await.unwrap().unwrap();
    db.clock.advance(Duration::seconds(30));
    let moved = START + Duration::new(3_600, 250_000_000);
    s.atouch(&k, moved).await.unwrap();
    assert_eq!(
        s.read_raw(&k).await.unwrap(),
        Some((text, moved)),
        "the same session_data, the new expiry"
    );
    db.clock.advance(Duration::seconds(60));
    assert_eq!(s.aload(&k).await.unwrap().map(|r| r.data), Some(d.clone()));

    let unknown = SessionKey::generate();
    assert!(matches!(
        s.atouch(&unknown, moved).await,
        Err(Error::Update)
    ));
    assert!(s.read_raw(&unknown).await.unwrap().is_none(), "created");
    let short = db.clock.now() + Duration::seconds(5);
    let e = s.acreate(&d, short).await.unwrap();
    db.clock.advance(Duration::seconds(5));
    assert!(matches!(s.atouch(&e, moved).await, Err(Error::Update)));
    assert_eq!(s.read_raw(&e).await.unwrap().unwrap().1, short, "revived");
    db.cleanup().await;
}

/// S5: the account index through `accounts()`: live sessions soonest first,
/// `revoke_all_except` spares the current one, `revoke_all` counts live sessions;
/// a store without an account column has none.
pub async fn account_index(kind: Kind) {
    let clock = ManualClock::new(START);
    let opts = options("index", &clock).extension(Arc::new(AccountIdColumn::new()));
    let Some(db) = open_with(kind, clock, opts).await else {
        return;
    };
    let s = &*db.store;
    let index = s.accounts().expect("an account column gives an index");
    let user = |id: i64| data(json!({"_auth_user_id": id.to_string()}));
    let mut keys = Vec::new();
    for minutes in [30, 10, 20] {
        let at = START + Duration::minutes(minutes);
        keys.push((s.acreate(&user(7), at).await.unwrap(), at));
    }
    let other = s
        .acreate(&user(8), START + Duration::hours(1))
        .await
        .unwrap();
    let expired = s.acreate(&user(7), START).await.unwrap();
    let listed: Vec<(SessionKey, OffsetDateTime)> = index
        .alist_sessions(7)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.key, a.expires_at))
        .collect();
    let mut want = keys.clone();
    want.sort_by_key(|(_, at)| *at);
    assert_eq!(listed, want, "{kind:?}: live ones, soonest first");
    assert_eq!(s.list_account_sessions(7).await.unwrap(), want);

    let current = &keys[1].0;
    assert_eq!(index.arevoke_all_except(7, current).await.unwrap(), 2);
    assert!(load(s, current).await.is_some());
    assert!(load(s, &keys[0].0).await.is_none() && load(s, &keys[2].0).await.is_none());
    assert_eq!(index.arevoke_all_except(7, current).await.unwrap(), 0);
    // The expired row is no session: not counted, left to clear_expired.
    assert_eq!(index.arevoke_all(7).await.unwrap(), 1);
    assert!(index.alist_sessions(7).await.unwrap().is_empty());
    assert!(s.read_raw(&expired).await.unwrap().is_some());
    assert!(load(s, &other).await.is_some(), "another account's session");
    // The sync side (AsyncToSync) reaches the same index.
    let backend = SessionBackend::from_async(Arc::clone(&db.store));
    let listed =
        tokio::task::spawn_blocking(move || backend.sync().accounts().map(|a| a.list_sessions(8)))
            .await
            .unwrap()
            .expect("the sync side has the index")
            .unwrap();
    assert_eq!(listed.len(), 1);
    if kind == Kind::Sqlite {
        // SQLite keeps whatever text it is given: one unreadable expire_date (compared
        // as text, it sorts after the bound) is skipped, not a failed listing.
        let odd = s
            .acreate(&user(8), START + Duration::hours(2))
            .await
            .unwrap();
        exec(
            s,
            &format!(
                "UPDATE {} SET expire_date = 'not a date' WHERE session_key = '{}'",
                s.table(),
                odd.as_str()
            ),
        )
        .await;
        let listed = index.alist_sessions(8).await.unwrap();
        assert_eq!(listed.len(), 1, "the readable row only");
        assert_eq!(listed[0].key, other);
    }

    let plain = DbStore::new(
        s.pool().clone(),
        DbOptions::new(SecretKeys::new(SECRET)).table(s.table()),
    )
    .unwrap();
    assert!(plain.accounts().is_none());
    assert!(matches!(
        plain.arevoke_all(8).await,
        Err(Error::Configuration(_))
    ));
    db.cleanup().await;
}

/// E1: with `Versioning::Off` the table is exactly Django's (no version column) and
/// the store says it is not versioned; everything else works, touch included.
pub async fn django_layout_unversioned(kind: Kind) {
    let clock = ManualClock::new(START);
    let opts = options("djangolayout", &clock).versioning(Versioning::Off);
    let Some(db) = open_with(kind, clock, opts).await else {
        return;
    };
    let s = &*db.store;
    assert!(!has_version_column(s).await, "{kind:?}: a version column");
    let caps = s.capabilities();
    assert!(!caps.versioned && caps.touch, "{caps:?}");
    let d = data(json!({"a": 1}));
    let exp = START + Duration::hours(1);
    let k = s.acreate(&d, exp).await.unwrap();
    let r = s.aload(&k).await.unwrap().unwrap();
    assert_eq!(r.version, None);
    assert!(matches!(
        s.asave_if(&r, Version::new(0)).await,
        Err(Error::Unsupported(_))
    ));
    s.asave(&rec(&k, &d, exp), SaveMode::Update).await.unwrap();
    s.atouch(&k, exp + Duration::hours(1)).await.unwrap();
    assert_eq!(
        s.read_raw(&k).await.unwrap().unwrap().1,
        exp + Duration::hours(1)
    );
    db.clock.advance(Duration::hours(3));
    assert_eq!(s.alookup(&k).await.unwrap(), Lookup::Expired);
    db.cleanup().await;
}

/// Django's `CREATE TABLE` for `table` on `kind` (sqlmigrate sessions 0001, as in
/// `schema.rs`, under another name; the index is left out: it does not matter here).
fn django_table(kind: Kind, table: &str) -> String {
    match kind {
        Kind::Sqlite => format!(
            r#"CREATE TABLE "{table}" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL)"#
        ),
        Kind::Postgres => format!(
            r#"CREATE TABLE "{table}" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL)"#
        ),
        Kind::MySql => format!(
            "CREATE TABLE `{table}` (`session_key` varchar(40) NOT NULL PRIMARY KEY, `session_data` longtext NOT NULL, `expire_date` datetime(6) NOT NULL)"
        ),
    }
}

/// Django's own `INSERT` of a row (its columns only; an hour after [`START`]).
fn django_insert(kind: Kind, table: &str, key: &str, session_data: &str) -> String {
    let at = match kind {
        Kind::Postgres => "'2026-01-01 01:00:00+00'",
        Kind::Sqlite | Kind::MySql => "'2026-01-01 01:00:00'",
    };
    format!(
        "INSERT INTO {table} (session_key, session_data, expire_date) \
         VALUES ('{key}', '{session_data}', {at})"
    )
}

/// E1, V1: a table Django created, with Django's rows in it, is served as it is by
/// an unversioned store; `migrate` of a versioned store adds the column (once: it is
/// idempotent), old rows load with version 0, and Django's later inserts (which do
/// not name the column) get 0 too. Django's updates do not count the version up, so
/// a versioned save over one is not seen as a conflict: what sharing gives up.
pub async fn django_table_gains_the_version_column(kind: Kind) {
    let clock = ManualClock::new(START);
    // A scratch store gives the connection; its own table is not used.
    let Some(db) = open_with(kind, clock.clone(), options("scratch", &clock)).await else {
        return;
    };
    let table = super::unique_table("djangotable");
    exec(&db.store, &django_table(kind, &table)).await;
    let (obj, django) = &django_fixtures()[0];
    let old = SessionKey::parse("djangooldrow0000").unwrap();
    exec(
        &db.store,
        &django_insert(kind, &table, old.as_str(), django),
    )
    .await;

    let store = |versioning: Versioning| {
        let opts = DbOptions::new(SecretKeys::new(SECRET))
            .clock(Arc::new(clock.clone()))
            .table(table.as_str())
            .versioning(versioning);
        DbStore::new(db.store.pool().clone(), opts).unwrap()
    };
    let off = store(Versioning::Off);
    off.migrate().await.unwrap();
    assert!(!has_version_column(&off).await);
    assert_eq!(load(&off, &old).await, Some(data(obj.clone())));

    let on = store(Versioning::default());
    on.migrate().await.unwrap();
    on.migrate().await.unwrap();
    assert!(
        has_version_column(&on).await,
        "{kind:?}: migrate added the column"
    );
    let r = on.aload(&old).await.unwrap().unwrap();
    assert_eq!(
        (r.data.clone(), r.version),
        (data(obj.clone()), Some(Version::new(0)))
    );
    let v1 = on.asave_if(&r, Version::new(0)).await.unwrap();
    assert_eq!(stored_version(&on, &old).await, 1);
    assert!(matches!(
        on.asave_if(&r, Version::new(0)).await,
        Err(Error::Conflict)
    ));

    // Django inserts after the migration: the default gives version 0.
    let new = SessionKey::parse("djangonewrow0000").unwrap();
    exec(&on, &django_insert(kind, &table, new.as_str(), django)).await;
    assert_eq!(
        on.aload(&new).await.unwrap().unwrap().version,
        Some(Version::new(0))
    );
    // Django's update (`UPDATE ... SET session_data, expire_date`) leaves the version.
    exec(
        &on,
        &format!(
            "UPDATE {table} SET session_data = 'x' WHERE session_key = '{}'",
            old.as_str()
        ),
    )
    .await;
    assert_eq!(stored_version(&on, &old).await, 1);
    assert!(
        on.asave_if(&r, v1).await.is_ok(),
        "Django's write is not seen"
    );
    // The unversioned store still works on the migrated table.
    assert_eq!(load(&off, &old).await, Some(data(obj.clone())));
    exec(&db.store, &format!("DROP TABLE {table}")).await;
    db.cleanup().await;
}
