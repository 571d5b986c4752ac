//! The `sessions` command, run as a process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;

use serde_json::json;
use session_api::{
    AsyncSessionStore, Capabilities, JsonSerializer, Record, SaveMode, SecretKeys, SessionCodec,
    SessionData, SessionKey, SessionStore, SystemClock,
};
use session_stores::db::{AccountIdColumn, DbOptions, DbStore};
use session_stores::file::FileStore;

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

/// A file store on `dir` with the site's secret and Django's defaults, as the command
/// opens `file://<dir>`.
fn file_store(dir: &std::path::Path) -> FileStore {
    let codec = SessionCodec::new(
        &SecretKeys::new(SECRET),
        Arc::new(SystemClock),
        Arc::new(JsonSerializer),
    );
    FileStore::new(dir, "sessionid", 1_209_600, codec, Arc::new(SystemClock)).unwrap()
}

/// Where the report's `ms` column is: after the rule (10), case (52) and result (8)
/// columns and their separating spaces; 8 wide.
const MS_COLUMN: std::ops::Range<usize> = 73..81;

/// The report with its timing column, which changes from run to run, blanked.
fn without_timings(report: &str) -> String {
    report
        .lines()
        .map(|line| match line.get(MS_COLUMN) {
            Some(ms) if ms.trim().parse::<u64>().is_ok() => {
                format!(
                    "{}{:>8}{}",
                    &line[..MS_COLUMN.start],
                    "<ms>",
                    &line[MS_COLUMN.end..]
                )
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn check_runs_the_kit_and_prints_a_table() {
    let (code, out, err) = sessions(&["check", "--store", "memory:", "--filter", "d5_"]);
    assert_eq!(code, 0, "{out}{err}");
    insta::assert_snapshot!("check_memory_d5", without_timings(&out));
}

#[test]
fn check_reports_skips_with_their_reason() {
    let (code, out, err) = sessions(&["check", "--store", "signed-cookies:", "--filter", "d8_"]);
    assert_eq!(code, 0, "{out}{err}");
    insta::assert_snapshot!("check_signed_cookies_d8", without_timings(&out));
}

#[test]
fn check_runs_every_embedded_store_by_default() {
    let (code, out, err) = sessions(&["check", "--filter", "f6_"]);
    assert_eq!(code, 0, "{out}{err}");
    for store in ["memory:", "file:", "signed-cookies:", "sqlite:"] {
        assert!(
            out.contains(&format!("== {store} ==")),
            "{store} missing:\n{out}"
        );
    }
    // The file and SQLite stores keep Django's session_data: the wire-format cases run.
    assert_eq!(out.matches(" pass ").count(), 4, "{out}");
    assert_eq!(out.matches("0 failed").count(), 4, "{out}");
}

#[test]
fn check_on_a_directory_leaves_it_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let (code, out, err) = sessions(&["check", "--store", &url, "--filter", "d7_"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 failed"), "{out}");
    assert!(out.contains("pass"), "{out}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "case directories left behind: {left:?}");
}

#[test]
fn a_bad_url_is_one_line_and_exit_2() {
    for args in [
        &["check", "--store", "bogus://x"][..],
        &["clear-expired", "--store", "file:relative"],
        &["check", "--store", "postgres://nobody@127.0.0.1:1/none"],
        &["check", "--store", "file:///no/such/directory/anywhere"],
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
        Capabilities::server_side()
            .with_list_by_account(true)
            .with_versioned(true)
            .with_touch(true)
    );
    let far = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let data: SessionData = [("_auth_user_id", json!("42")), ("cart", json!([1]))]
        .into_iter()
        .collect();
    let mut keys = Vec::new();
    for _ in 0..3 {
        let record = Record::new(SessionKey::generate(), data.clone(), far);
        keys.push(store.asave(&record, SaveMode::Create).await.unwrap());
    }
    let past = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    let expired = Record::new(SessionKey::generate(), data, past);
    store.asave(&expired, SaveMode::Create).await.unwrap();

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

#[test]
fn decode_reads_the_directory_of_a_file_store_url() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    let far = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let data: SessionData = [("cart", json!([1, 2]))].into_iter().collect();
    let key = store
        .save(
            &Record::new(SessionKey::generate(), data, far),
            SaveMode::Create,
        )
        .unwrap();
    let url = format!("file://{}", dir.path().display());

    let (code, out, err) = sessions(&["decode", "--store", &url, key.as_str()]);
    assert_eq!(code, 0, "{err}");
    let decoded: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(decoded, json!({"cart": [1, 2]}));

    let (code, _, err) = sessions(&["decode", "--store", &url, "abcdefgh12345678"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.trim(),
        "error: no live, decodable session under that key"
    );
}

/// Django's `clearsessions` on a file store (rules G7, E5): `clear-expired --store
/// file:///dir` removes the expired session files of that directory and keeps the
/// live ones.
#[test]
fn clear_expired_on_a_file_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    let now = time::OffsetDateTime::now_utc();
    let data: SessionData = [("cart", json!([1]))].into_iter().collect();
    let live = store
        .save(
            &Record::new(
                SessionKey::generate(),
                data.clone(),
                now + time::Duration::hours(1),
            ),
            SaveMode::Create,
        )
        .unwrap();
    let expired = store
        .save(
            &Record::new(SessionKey::generate(), data, now - time::Duration::hours(1)),
            SaveMode::Create,
        )
        .unwrap();
    let url = format!("file://{}", dir.path().display());

    let (code, out, err) = sessions(&["clear-expired", "--store", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "removed 1 expired sessions");
    assert!(store.exists(&live).unwrap());
    assert!(!store.exists(&expired).unwrap());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "only the live session's file: {left:?}");

    let (code, out, err) = sessions(&["clear-expired", "--store", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "removed 0 expired sessions");
}

/// A store that cannot clear (rules G7, D8): signed cookies keep nothing server-side, so
/// `clear-expired` answers that there is nothing to clear, and succeeds.
#[test]
fn clear_expired_on_signed_cookies_has_nothing_to_clear() {
    let (code, out, err) = sessions(&["clear-expired", "--store", "signed-cookies:"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "this store expires sessions itself; nothing to clear"
    );
}

/// A cache store with the backend's own TTL (rules G7, D8, E3): Redis expires the sessions,
/// so `clear-expired` has nothing to clear. Needs the local Redis (feature `redis`).
#[cfg(feature = "redis")]
#[test]
fn clear_expired_on_a_redis_cache_has_nothing_to_clear() {
    let url = std::env::var("SESSIONS_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let (code, out, err) = sessions(&["clear-expired", "--store", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "this store expires sessions itself; nothing to clear"
    );
}

/// Rule S5 on a file store: `list` and `revoke --except` go through the directory's
/// account index ("log out the other devices" from the command line).
#[test]
fn list_and_revoke_all_but_one_on_a_file_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path()).with_account_index(true);
    let far = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let data: SessionData = [("_auth_user_id", json!("42"))].into_iter().collect();
    let keys: Vec<SessionKey> = (0..3)
        .map(|_| {
            let record = Record::new(SessionKey::generate(), data.clone(), far);
            store.save(&record, SaveMode::Create).unwrap()
        })
        .collect();
    let url = format!("file://{}", dir.path().display());

    let (code, out, err) = sessions(&["list", "--store", &url, "--account", "42"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 live sessions for account 42"), "{out}");

    let keep = keys[1].as_str();
    let (code, out, err) = sessions(&[
        "revoke",
        "--store",
        &url,
        "--account",
        "42",
        "--except",
        keep,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("revoked 2 sessions of account 42"), "{out}");
    assert!(store.exists(&keys[1]).unwrap());
    assert!(!store.exists(&keys[0]).unwrap() && !store.exists(&keys[2]).unwrap());

    // A store without an index is one clear line, not a panic.
    let (code, _, err) = sessions(&["list", "--store", "signed-cookies:", "--account", "42"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("keeps no account index"), "{err}");
}
