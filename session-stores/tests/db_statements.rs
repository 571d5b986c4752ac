//! Issue 16: each statement of the db store is prepared once per connection and
//! reused: the SQL text is the same string on every call, so sqlx's per-connection
//! statement cache hits, and the server sees one `Parse`/`COM_STMT_PREPARE` per
//! statement however many calls run. Observed on the server: PostgreSQL's
//! `pg_prepared_statements` and MariaDB's `Com_stmt_prepare` counter of the one
//! connection of the store's pool. Skips loudly when a server does not answer,
//! fails instead under `CI=true`.
#![cfg(all(feature = "postgres", feature = "mysql"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{server_missing, unique_table, Kind, SECRET, START};
use serde_json::json;
use session_api::signing::SecretKeys;
use session_api::{
    AsyncSessionStore, Error, ManualClock, Record, SaveMode, SessionData, SessionKey,
};
use session_stores::db::{DbOptions, DbPool, DbPoolOptions, DbStore};

/// One of each call that runs a statement, `rounds` times over.
async fn calls(store: &DbStore, rounds: u32) {
    for n in 0..rounds {
        let key = SessionKey::generate();
        let data = SessionData::from_value(json!({"n": n})).unwrap();
        let record = Record::new(key.clone(), data, START + time::Duration::hours(1));
        store.asave(&record, SaveMode::Create).await.unwrap();
        assert!(store.aload(&key).await.unwrap().is_some());
        assert!(store.aexists(&key).await.unwrap());
        store.asave(&record, SaveMode::Update).await.unwrap();
        // The optional operations (V1, V4): a lookup, a versioned save that writes,
        // one that conflicts (its second query is the load's statement), a touch.
        let version = store
            .alookup(&key)
            .await
            .unwrap()
            .into_record()
            .and_then(|r| r.version)
            .unwrap();
        store.asave_if(&record, version).await.unwrap();
        assert!(matches!(
            store.asave_if(&record, version).await,
            Err(Error::Conflict)
        ));
        store.atouch(&key, record.expires_at).await.unwrap();
        store.adelete(&key).await.unwrap();
    }
}

/// The store on a one-connection pool of `kind`, on its own migrated table.
async fn store(kind: Kind, tag: &str) -> Option<DbStore> {
    let url = kind.server_url().expect("a server URL");
    let pool = match DbPool::connect(&url, &DbPoolOptions::default().max_connections(1)).await {
        Ok(pool) => pool,
        Err(err) => {
            server_missing(kind, &err);
            return None;
        }
    };
    let options = DbOptions::new(SecretKeys::new(SECRET))
        .clock(Arc::new(ManualClock::new(START)))
        .table(unique_table(tag));
    let store = DbStore::new(pool, options).unwrap();
    store.migrate().await.unwrap();
    Some(store)
}

async fn drop_table(store: &DbStore) {
    common::exec(store, &format!("DROP TABLE {}", store.table())).await;
    store.pool().close().await;
}

#[tokio::test]
async fn postgres_prepares_each_statement_once_per_connection() {
    let Some(store) = store(Kind::Postgres, "stmtpg").await else {
        return;
    };
    let DbPool::Postgres(pool) = store.pool().clone() else {
        unreachable!()
    };
    // The prepared statements of the pool's one connection that name the table.
    let prepared = || async {
        let like = format!("%{}%", store.table());
        let mut statements: Vec<String> = sqlx::query_scalar(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE $1",
        )
        .bind(like)
        .fetch_all(&pool)
        .await
        .unwrap();
        statements.sort();
        statements
    };
    calls(&store, 1).await;
    let once = prepared().await;
    // insert, load (lookup and the conflict's query too), exists, update, the
    // versioned update, touch, delete.
    assert_eq!(once.len(), 7, "{once:#?}");
    calls(&store, 20).await;
    assert_eq!(prepared().await, once, "no statement was prepared again");
    drop_table(&store).await;
}

#[tokio::test]
async fn mysql_prepares_each_statement_once_per_connection() {
    let Some(store) = store(Kind::MySql, "stmtmy").await else {
        return;
    };
    let DbPool::MySql(pool) = store.pool().clone() else {
        unreachable!()
    };
    // The session's prepare counter, on the pool's one connection (the query is
    // itself prepared the first time it runs, then reused).
    let prepares = || async {
        let (_, value): (String, String) =
            sqlx::query_as("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'")
                .fetch_one(&pool)
                .await
                .unwrap();
        value.parse::<u64>().unwrap()
    };
    calls(&store, 1).await;
    prepares().await;
    let before = prepares().await;
    calls(&store, 20).await;
    assert_eq!(prepares().await, before, "no statement was prepared again");
    drop_table(&store).await;
}
