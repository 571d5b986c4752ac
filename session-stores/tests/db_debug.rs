//! Issue 12, finding 7 (db half): no `Debug` or `Display` of a db type, and no error
//! a db call returns, shows a full session key, a secret, a database password or
//! session data. SQLite in a tempdir; PostgreSQL (`SESSIONS_TEST_POSTGRES_URL`, trust
//! auth, so a password in the URL is sent nowhere it matters) and MariaDB
//! (`SESSIONS_TEST_MYSQL_URL`, where a wrong password is refused). Skips the server
//! parts loudly when a server does not answer, fails instead under `CI=true`.
#![cfg(all(feature = "postgres", feature = "sqlite", feature = "mysql"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use session_api::signing::SecretKeys;
use session_api::{AsyncSessionStore, ManualClock, Record, SaveMode, SessionData, SessionKey};
use session_stores::db::{
    AccountIdColumn, ColumnType, DbOptions, DbPool, DbPoolOptions, DbStore, ExtraColumn,
    ExtraValue, RecordExtension,
};

use common::{server_missing, unique_table, Kind, START};

const SECRET: &str = "current-secret-of-the-db-debug-test";
const FALLBACK: &str = "fallback-secret-of-the-db-debug-test";
const PASSWORD: &str = "password-of-the-db-debug-test";
const DATA: &str = "data-of-the-db-debug-test";

/// `value` in both `Debug` forms.
fn shown(value: &impl Debug) -> String {
    format!("{value:?}\n{value:#?}")
}

/// Fails if `text` holds one of `hidden`.
fn assert_hides(what: &str, text: &str, hidden: &[&str]) {
    for secret in hidden {
        assert!(!text.contains(secret), "{what} shows {secret:?}: {text}");
    }
}

fn options() -> DbOptions {
    DbOptions::new(SecretKeys::new(SECRET).with_fallbacks([FALLBACK]))
        .clock(Arc::new(ManualClock::new(START)))
        .table(unique_table("debug"))
        .extension(Arc::new(AccountIdColumn::new()))
}

fn record(key: &SessionKey) -> Record {
    let data = SessionData::from_value(json!({"_auth_user_id": "42", "token": DATA})).unwrap();
    Record::new(key.clone(), data, START + time::Duration::hours(1))
}

/// A `bigint` column that the extension fills with the data's text `token`: a value
/// of the wrong type, which the store refuses.
#[derive(Debug)]
struct WrongTypeColumn {
    columns: [ExtraColumn; 1],
}

impl RecordExtension for WrongTypeColumn {
    fn columns(&self) -> &[ExtraColumn] {
        &self.columns
    }

    fn values(&self, data: &SessionData) -> Vec<ExtraValue> {
        let token = data
            .get_value("token")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        vec![ExtraValue::Text(token.to_owned())]
    }
}

#[tokio::test]
async fn sqlite_store_options_and_errors_hide_keys_secrets_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.sqlite3").display());
    let pool_options = DbPoolOptions::default().acquire_timeout(Duration::from_secs(5));
    let pool = DbPool::connect(&url, &pool_options).await.unwrap();
    let opts = options();
    let store = DbStore::new(pool, opts.clone()).unwrap();
    store.migrate().await.unwrap();
    let key = SessionKey::generate();
    store.asave(&record(&key), SaveMode::Create).await.unwrap();
    assert!(store.aexists(&key).await.unwrap());

    let hidden = [key.as_str(), SECRET, FALLBACK, DATA];
    assert_hides("DbOptions", &shown(&opts), &hidden);
    assert_hides("DbStore", &shown(&store), &hidden);
    assert_hides("DbPool", &shown(store.pool()), &hidden);
    assert_hides("DbPoolOptions", &shown(&pool_options), &hidden);
    // A column value is a piece of the data.
    let value = ExtraValue::Text(DATA.to_owned());
    assert_hides("ExtraValue", &shown(&value), &hidden);
    assert!(shown(&value).contains("Text(<"), "{}", shown(&value));
    assert_hides(
        "ExtraValue",
        &shown(&ExtraValue::BigInt(4242424242)),
        &["4242424242"],
    );

    // An extension that gives a value of the wrong type: the error names the value's
    // kind, not the value.
    let wrong = DbStore::new(
        DbPool::connect(&url, &pool_options).await.unwrap(),
        options().extension(Arc::new(WrongTypeColumn {
            columns: [ExtraColumn::new("token_col", ColumnType::BigInt).unwrap()],
        })),
    )
    .unwrap();
    wrong.migrate().await.unwrap();
    let err = wrong
        .asave(&record(&SessionKey::generate()), SaveMode::Create)
        .await
        .unwrap_err();
    assert_hides("the extension's error", &format!("{err} {err:?}"), &hidden);
    store.pool().close().await;
    wrong.pool().close().await;
}

/// `url` with [`PASSWORD`] as the user's password.
fn with_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').expect("a URL with a user");
    let user = user.split(':').next().unwrap();
    format!("{scheme}://{user}:{PASSWORD}@{host}")
}

#[tokio::test]
async fn a_password_in_the_url_is_never_shown() {
    let hidden = [PASSWORD];
    // Never reached (nothing listens there) or never parsed: the errors keep the URL
    // to themselves.
    let port = common::redis::free_port();
    let quick = DbPoolOptions::default().acquire_timeout(Duration::from_millis(500));
    for url in [
        format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/test"),
        format!("mysql://root:{PASSWORD}@127.0.0.1:{port}/test"),
        format!("postgres://postgres:{PASSWORD}@127.0.0.1:notaport/test"),
        format!("mysql://root:{PASSWORD}@127.0.0.1:notaport/test"),
        format!("ftp://root:{PASSWORD}@127.0.0.1/test"),
    ] {
        let err = DbPool::connect(&url, &quick).await.unwrap_err();
        assert_hides("a connect error", &format!("{err} {err:?}"), &hidden);
        if url.contains("notaport") || url.starts_with("ftp:") {
            // Fails before any connection is tried.
            let err = DbStore::connect(&url, options()).await.unwrap_err();
            assert_hides("a connect error", &format!("{err} {err:?}"), &hidden);
        }
    }

    // PostgreSQL on trust auth connects whatever the password: the pool and the store
    // built on it do not show it.
    let pg = with_password(&Kind::Postgres.server_url().unwrap());
    match DbPool::connect(&pg, &quick).await {
        Ok(pool) => {
            assert_hides("DbPool", &shown(&pool), &hidden);
            let store = DbStore::connect(&pg, options()).await.unwrap();
            assert_hides("DbStore", &shown(&store), &hidden);
            pool.close().await;
            store.pool().close().await;
        }
        Err(err) => server_missing(Kind::Postgres, &err),
    }
    // MariaDB refuses the wrong password: its error does not repeat it.
    let url = Kind::MySql.server_url().unwrap();
    match DbPool::connect(&url, &quick).await {
        Ok(pool) => {
            pool.close().await;
            let err = DbPool::connect(&with_password(&url), &quick)
                .await
                .unwrap_err();
            assert_hides("a refused login", &format!("{err} {err:?}"), &hidden);
        }
        Err(err) => server_missing(Kind::MySql, &err),
    }
}
