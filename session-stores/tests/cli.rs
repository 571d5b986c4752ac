//! The `sessions` command, run as a process.
#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;

use serde_json::json;
use session_api::{
    AsyncSessionStore, Capabilities, SecretKeys, SessionData, SessionKey, SystemClock,
};
use session_stores::db::{AccountIdColumn, DbOptions, DbStore};

const SECRET: &str = "cli-test-secret";

fn sessions(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sessions"))
        .args(args)
        .env("SESSIONS_SECRET_KEY", SECRET)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_runs_the_kit_and_prints_a_table() {
    let (code, out, _) = sessions(&["check", "--store", "memory:", "--filter", "d5_"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("d5_update_of_deleted_record_is_update_error"));
    assert!(out.contains("pass"));
    assert!(out.contains("0 failed"));
}

#[test]
fn a_bad_url_is_one_line_and_exit_2() {
    for args in [
        &["check", "--store", "bogus://x"][..],
        &["clear-expired", "--store", "file:relative"],
        &["check", "--store", "postgres://nobody@127.0.0.1:1/none"],
    ] {
        let (code, _, err) = sessions(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_list_revoke_decode_and_clear_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("s.sqlite3").display()
    );
    let (code, _, err) = sessions(&["migrate", "--store", &url, "--accounts"]);
    assert_eq!(code, 0, "{err}");

    let options = DbOptions::new(SecretKeys::new(SECRET))
        .clock(Arc::new(SystemClock))
        .extension(Arc::new(AccountIdColumn::new()));
    let store = DbStore::connect(&url, options).await.unwrap();
    assert_eq!(
        AsyncSessionStore::capabilities(&store),
        Capabilities::server_side().with_list_by_account(true)
    );
    let far = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let data: SessionData = [("_auth_user_id", json!("42")), ("cart", json!([1]))]
        .into_iter()
        .collect();
    let mut keys = Vec::new();
    for _ in 0..3 {
        let key = SessionKey::generate();
        store.asave(&key, &data, far, true).await.unwrap();
        keys.push(key);
    }
    let past = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    store
        .asave(&SessionKey::generate(), &data, past, true)
        .await
        .unwrap();

    let (code, out, _) = sessions(&["decode", "--store", &url, keys[0].as_str()]);
    assert_eq!(code, 0);
    let decoded: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(decoded, json!({"_auth_user_id": "42", "cart": [1]}));

    let (code, out, _) = sessions(&["list", "--store", &url, "--account", "42"]);
    assert_eq!(code, 0);
    assert!(out.contains("3 live sessions for account 42"), "{out}");
    assert!(
        !out.contains(keys[0].as_str()),
        "full keys must not be printed (H5)"
    );

    let (code, out, _) = sessions(&["clear-expired", "--store", &url]);
    assert_eq!(code, 0);
    assert!(out.contains("removed 1 expired sessions"), "{out}");

    let (code, out, _) = sessions(&["revoke", "--store", &url, "--account", "42"]);
    assert_eq!(code, 0);
    assert!(out.contains("revoked 3 sessions"), "{out}");
    assert!(!store.aexists(&keys[0]).await.unwrap());
}
