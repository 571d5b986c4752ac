//! The db store on PostgreSQL (`SESSIONS_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`). Skips loudly when the server does not
//! answer, fails instead under `CI=true`.
#![cfg(feature = "postgres")]

#[macro_use]
mod common;

use std::time::Duration;

use serde_json::json;
use session_api::{AsyncSessionStore, ManualClock, SaveMode, SessionData};
use session_stores::db::DbPool;

use common::cases::{load, rec};
use common::{Kind, START};

db_cases!(Kind::Postgres);

db_test! {
    async fn clear_expired_removes_100k_rows() {
        common::cases::clear_100k(Kind::Postgres).await
    }
}

db_test! {
    /// A connection killed under the store (`pg_terminate_backend` from a second
    /// connection), while idle or in the middle of a call, costs no call: the
    /// statement runs again on a new connection (issue 16).
    async fn reconnects_after_the_connection_is_killed() {
        let Some(url) = Kind::Postgres.server_url() else { return };
        let app = common::unique_table("app");
        let sep = if url.contains('?') { '&' } else { '?' };
        let store_url = format!("{url}{sep}application_name={app}");
        let clock = ManualClock::new(START);
        let opts = common::options("reconnect", &clock);
        let pool = common::pool_options().max_connections(2);
        // The store's own URL carries an application name, so only its connections
        // are killed.
        let Some(db) = common::open_with_url(Kind::Postgres, &store_url, &pool, clock, opts).await else {
            return;
        };
        let Some(admin) = common::open(Kind::Postgres, "reconnectadmin").await else {
            return;
        };
        let DbPool::Postgres(admin_pool) = admin.store.pool() else { unreachable!() };
        let s = &*db.store;
        let d = SessionData::from_value(json!({"user": "bob"})).unwrap();
        let k = s.acreate(&d, START + time::Duration::hours(1)).await.unwrap();

        for round in 0..3 {
            let killed: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1",
            )
            .bind(&app)
            .fetch_all(admin_pool)
            .await
            .unwrap();
            assert!(!killed.is_empty(), "round {round}: the store had a connection");
            // Let the server finish closing them.
            tokio::time::sleep(Duration::from_millis(100)).await;

            let loaded = s.aload(&k).await.unwrap().map(|r| r.data);
            assert_eq!(loaded, Some(d.clone()), "round {round}");
            // Writes work too.
            s.asave(&rec(&k, &d, START + time::Duration::hours(2)), SaveMode::Update).await.unwrap();
        }

        // In flight: the store's UPDATE waits on a lock the admin holds; its backend is
        // killed mid-call. The UPDATE runs again on a new connection, and succeeds
        // once the lock is released.
        let mut tx = admin_pool.begin().await.unwrap();
        sqlx::raw_sql(&format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", s.table()))
            .execute(&mut *tx)
            .await
            .unwrap();
        let store = std::sync::Arc::clone(&db.store);
        let (k2, d2) = (k.clone(), d.clone());
        let blocked = tokio::spawn(async move {
            store.asave(&rec(&k2, &d2, START + time::Duration::hours(3)), SaveMode::Update).await
        });
        let mut killed = false;
        for _ in 0..100 {
            let n: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND wait_event_type = 'Lock'",
            )
            .bind(&app)
            .fetch_all(admin_pool)
            .await
            .unwrap();
            if !n.is_empty() {
                killed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(killed, "the store's call never waited on the lock");
        tokio::time::sleep(Duration::from_millis(100)).await;
        tx.rollback().await.unwrap();
        let outcome = blocked.await.unwrap();
        assert!(outcome.is_ok(), "{outcome:?}");
        s.asave(&rec(&k, &d, START + time::Duration::hours(3)), SaveMode::Update).await.unwrap();
        assert_eq!(load(s, &k).await, Some(d.clone()));
        db.cleanup().await;
        admin.cleanup().await;
    }
}

db_test! {
    /// `migrate` creates exactly Django's table and indexes (rule E1), checked
    /// against the server's catalogue.
    async fn migrate_creates_exactly_djangos_schema() {
        common::schema::postgres().await
    }
}
