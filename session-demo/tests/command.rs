//! The `session-demo` command: it starts from one command, on every `--store` backend,
//! and says why when it cannot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use support::{client, element, get, log_in, post};

/// The running command, killed (by its own handle) when dropped.
struct Running {
    child: Child,
    url: String,
    banner: String,
}

impl Running {
    /// Starts `session-demo ARGS --addr 127.0.0.1:0` in `dir`; waits for its banner.
    fn start(dir: &Path, args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_session-demo"))
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .current_dir(dir)
            .env("SESSIONS_SECRET_KEY", "session-demo-command-test-secret")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut banner = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut banner)
            .unwrap();
        let url = banner
            .split_whitespace()
            .find(|word| word.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no URL in the banner {banner:?}"))
            .to_owned();
        Running { child, url, banner }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Logs in and out through the command's site; `label` is how the site names its store.
async fn log_in_and_out(site: &Running, label: &str) {
    assert!(site.banner.contains(label), "{}", site.banner);
    let browser = client(true);
    let home = log_in(&browser, |p| site.url(p), "carol").await;
    assert_eq!(element(&home, "member"), "carol");
    assert!(
        home.contains(&format!("Sessions kept in {label}")),
        "{home}"
    );
    let (_, home) = get(&browser, &site.url("/")).await;
    assert_eq!(element(&home, "member"), "carol", "the session survived");
    let home = post(&browser, &site.url("/logout"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(element(&home, "status").starts_with("You're not logged in."));
}

#[tokio::test]
async fn one_command_starts_it_on_a_sqlite_file_in_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    let site = Running::start(dir.path(), &[]);
    log_in_and_out(
        &site,
        "SQLite file session-demo.sqlite3, table django_session",
    )
    .await;
    assert!(dir.path().join("session-demo.sqlite3").is_file());
}

#[tokio::test]
async fn store_switches_to_a_directory_of_files_or_memory() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("sessions");
    let url = format!("file://{}", files.display());
    let site = Running::start(dir.path(), &["--store", &url]);
    log_in_and_out(&site, &format!("files in {}", files.display())).await;
    drop(site);
    let site = Running::start(dir.path(), &["--store", "./by-path"]);
    log_in_and_out(&site, "files in ./by-path").await;
    assert!(dir.path().join("by-path").is_dir());
    let site = Running::start(dir.path(), &["--store", "memory"]);
    log_in_and_out(&site, "memory").await;
}

#[test]
fn an_unknown_store_is_one_line_and_exit_code_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_session-demo"))
        .args(["--store", "gopher://x", "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown store URL scheme \"gopher\""),
        "{stderr}"
    );
}

/// Logs in and out on a table of the test's own in a shared server database; returns
/// the table, which the test drops.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn on_a_table_of_its_own(url: &str, label: &str) -> String {
    let table = format!("demo_{}", session_api::SessionKey::generate().as_str());
    let dir = tempfile::tempdir().unwrap();
    let site = Running::start(dir.path(), &["--store", url, "--table", &table]);
    log_in_and_out(&site, &format!("{label}, table {table}")).await;
    table
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn store_switches_to_postgres() {
    use session_stores::db::sqlx::{self, Connection, PgConnection};
    let url = "postgres://postgres@127.0.0.1:5432/test";
    let table = on_a_table_of_its_own(url, "PostgreSQL").await;
    let mut conn = PgConnection::connect(url).await.unwrap();
    let drop = format!("DROP TABLE {table}");
    sqlx::raw_sql(&drop).execute(&mut conn).await.unwrap();
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn store_switches_to_mysql() {
    use session_stores::db::sqlx::{self, Connection, MySqlConnection};
    let url = "mysql://root@127.0.0.1:3306/test";
    let table = on_a_table_of_its_own(url, "MySQL").await;
    let mut conn = MySqlConnection::connect(url).await.unwrap();
    let drop = format!("DROP TABLE {table}");
    sqlx::raw_sql(&drop).execute(&mut conn).await.unwrap();
}

/// Logging in and out leaves no key behind in the machine's Redis: the login cycles
/// the form's session away, the logout deletes the rest.
#[cfg(feature = "redis")]
#[tokio::test]
async fn store_switches_to_redis() {
    let dir = tempfile::tempdir().unwrap();
    let site = Running::start(dir.path(), &["--store", "redis://127.0.0.1:6379/0"]);
    log_in_and_out(&site, "Redis (the cache store)").await;
}
