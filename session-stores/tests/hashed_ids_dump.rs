//! Rule S3's promise on real stores, through the middleware core: with ids hashed at
//! rest, a stolen copy of the SQLite database (its `django_session` rows) or of the
//! Redis keys holds no usable cookie; every stored id presented as the session cookie
//! gives an empty session. The same theft from the plain store opens every session,
//! which shows the procedure finds usable ids when there are any.
//!
//! Redis is the shared server (skipped loudly when absent, failed under `CI=true`),
//! each run under a key prefix of its own, removed at the end.
#![cfg(all(feature = "hashed_ids", feature = "sqlite", feature = "redis"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::redis::{shared, shared_url, KeyCleanup};
use fred::prelude::ClientLike;
use session_api::middleware::SessionMiddleware;
use session_api::{AsyncSessionStore, SecretKeys, SessionBackend, SessionConfig};
use session_stores::cache::CacheStore;
use session_stores::db::sqlx::{self, Connection, SqliteConnection};
use session_stores::db::{DbOptions, DbPool, DbPoolOptions, DbStore};
use session_stores::hashed_ids::{HashMode, HashedIds};

const USERS: i64 = 5;

/// The stores under test: the plain one (the control) and the wrapper in each mode.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Setup {
    Plain,
    Hashed(HashMode),
}

const SETUPS: [Setup; 3] = [
    Setup::Plain,
    Setup::Hashed(HashMode::Hashed),
    Setup::Hashed(HashMode::MigrateFromPlain),
];

fn config() -> Arc<SessionConfig> {
    Arc::new(
        SessionConfig::builder(SecretKeys::new(common::SECRET))
            .build()
            .unwrap(),
    )
}

fn middleware<S: AsyncSessionStore + 'static>(store: Arc<S>, setup: Setup) -> SessionMiddleware {
    let backend = match setup {
        Setup::Plain => SessionBackend::from_async(store),
        Setup::Hashed(mode) => {
            SessionBackend::from_async(Arc::new(HashedIds::new(store, mode).unwrap()))
        }
    };
    SessionMiddleware::new(backend, config())
}

/// Signs `USERS` users in through the middleware; their cookies' values.
async fn sign_in(mw: &SessionMiddleware) -> Vec<String> {
    let mut cookies = Vec::new();
    for user in 0..USERS {
        let request = mw.request_session(None);
        request.session.aset("user", &user).await.unwrap();
        let out = mw.aprocess_response(&request, 200).await.unwrap();
        let header = out.set_cookie.expect("a Set-Cookie header");
        let pair = header.split(';').next().unwrap();
        let value = pair.strip_prefix("sessionid=").expect("the session cookie");
        cookies.push(value.to_owned());
    }
    cookies
}

/// The user of the session a request presenting `cookie` gets, if any; a value that
/// opens nothing must not be kept as the session's key either (A3).
async fn user_of(mw: &SessionMiddleware, cookie: &str) -> Option<i64> {
    let request = mw.request_session(Some(&format!("sessionid={cookie}")));
    let user = request.session.aget::<i64>("user").await.unwrap();
    if user.is_none() {
        assert!(request.session.session_key().is_none(), "{cookie} adopted");
    }
    user
}

/// Presents every stolen id as the cookie; how many open a session.
async fn usable(mw: &SessionMiddleware, stolen: &[String]) -> usize {
    let mut opened = 0;
    for id in stolen {
        if user_of(mw, id).await.is_some() {
            opened += 1;
        }
    }
    opened
}

/// What each setup must give: every stolen id works on the plain store, none on the
/// hashed one (nor is any a cookie).
async fn check(setup: Setup, mw: &SessionMiddleware, cookies: &[String], stolen: &[String]) {
    assert_eq!(
        stolen.len(),
        cookies.len(),
        "{setup:?}: one stored id per session"
    );
    let opened = usable(mw, stolen).await;
    match setup {
        Setup::Plain => assert_eq!(opened, cookies.len(), "the control opens every session"),
        Setup::Hashed(_) => {
            assert_eq!(opened, 0, "{setup:?}: a stolen id opened a session");
            assert!(
                stolen.iter().all(|id| !cookies.contains(id)),
                "{setup:?}: a cookie is in the dump"
            );
        }
    }
    // The attempts changed nothing: every user still has their session.
    for (user, cookie) in (0..).zip(cookies) {
        assert_eq!(user_of(mw, cookie).await, Some(user), "{setup:?}");
    }
}

/// The theft: `VACUUM INTO` a copy of the database file, then the session keys read
/// from the copy with nothing but SQLite.
async fn steal_rows(site: &std::path::Path, copy: &std::path::Path) -> Vec<String> {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", site.display()))
        .await
        .unwrap();
    sqlx::query("VACUUM INTO ?")
        .bind(copy.display().to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let mut stolen = SqliteConnection::connect(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    let rows: Vec<String> = sqlx::query_scalar("SELECT session_key FROM django_session")
        .fetch_all(&mut stolen)
        .await
        .unwrap();
    stolen.close().await.unwrap();
    rows
}

#[tokio::test]
async fn a_stolen_sqlite_database_holds_no_usable_cookie() {
    for setup in SETUPS {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site.sqlite3");
        let url = format!("sqlite://{}", site.display());
        let pool = DbPool::connect(&url, &DbPoolOptions::default())
            .await
            .unwrap();
        let store = DbStore::new(pool, DbOptions::new(SecretKeys::new(common::SECRET))).unwrap();
        store.migrate().await.unwrap();
        let mw = middleware(Arc::new(store), setup);
        let cookies = sign_in(&mw).await;
        for (user, cookie) in (0..).zip(&cookies) {
            assert_eq!(user_of(&mw, cookie).await, Some(user), "{setup:?}");
        }
        let stolen = steal_rows(&site, &dir.path().join("stolen.sqlite3")).await;
        check(setup, &mw, &cookies, &stolen).await;
    }
}

#[tokio::test]
async fn a_stolen_redis_dump_holds_no_usable_cookie() {
    let Some(redis) = shared().await else { return };
    for setup in SETUPS {
        let prefix =
            format!("test:{}:hashdump:{setup:?}:", std::process::id()).replace(['(', ')'], "");
        let _cleanup = KeyCleanup::new(&shared_url(), &prefix);
        let store = CacheStore::new(Arc::new(redis.clone())).key_prefix(prefix.clone());
        let mw = middleware(Arc::new(store), setup);
        let cookies = sign_in(&mw).await;
        // The theft: every key under the site's prefix, as `redis-cli KEYS` lists them.
        let keys: Vec<String> = redis
            .client()
            .custom(
                fred::types::CustomCommand::new_static("KEYS", None::<u16>, false),
                vec![format!("{prefix}*")],
            )
            .await
            .unwrap();
        // The id is the key's last run of `[a-z0-9]`, after the prefix and separator.
        let stolen: Vec<String> = keys
            .iter()
            .filter_map(|k| k.rsplit(|c: char| !c.is_ascii_alphanumeric()).next())
            .map(str::to_owned)
            .collect();
        check(setup, &mw, &cookies, &stolen).await;
    }
}
