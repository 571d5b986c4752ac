//! The benchmark in its short mode against the real servers and Django: every row
//! of the table is there and every cell is measured or empty by design, with
//! finite figures, and no request that leaves its session alone calls the store.
//! No timing is asserted (figures of a 5 ms run mean nothing).
//!
//! A server or Django that cannot be had is left out with a note, except under
//! `CI=true`, where the run fails. That includes the Valkey server the run starts
//! for its versioned saves (`VALKEY_SERVER`, else `.ci/valkey-server`).

use session_bench::payload::PayloadSize;
use session_bench::section::{Table, TASKS};
use session_bench::subject::Op;
use session_bench::{run, Settings, Value};

/// The sections of a complete run.
const STORE_SECTIONS: [&str; 11] = [
    "memory",
    "file",
    "signed cookies",
    "SQLite, Django's layout (expire_date indexed)",
    "SQLite, no expire_date index",
    "PostgreSQL, Django's layout (expire_date indexed)",
    "PostgreSQL, no expire_date index",
    "MariaDB, Django's layout (expire_date indexed)",
    "MariaDB, no expire_date index",
    "Redis",
    "cached_db (PostgreSQL + Redis)",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quick_table_is_complete() {
    let report = run(&Settings::quick()).await.expect("the quick run");
    let rendered = report.render();
    println!("{rendered}");

    let problems = report.problems();
    assert!(
        problems.is_empty(),
        "incomplete cells:\n{}",
        problems.join("\n")
    );
    assert!(
        !rendered.contains("NaN") && !rendered.contains("inf"),
        "{rendered}"
    );

    // Every section a complete run has, unless its server was left out (with a
    // note; never under CI, where a missing server fails the run).
    for section in STORE_SECTIONS {
        let rows: Vec<_> = report.section(section).collect();
        if rows.is_empty() {
            assert!(
                !report.notes.is_empty(),
                "section {section:?} is missing without a note"
            );
            continue;
        }
        assert_eq!(
            rows.len(),
            Op::STORE.len() * PayloadSize::ALL.len() * TASKS.len(),
            "{section}"
        );
        for row in rows {
            assert_eq!(row.table, Table::Stores);
            // This project's column is measured on every row.
            assert!(
                matches!(row.values[0], Value::Measured(_)),
                "{section}: {row:?}"
            );
        }
    }
    // The versioned-save sections (rule V1): both columns on every row.
    for section in [
        "PostgreSQL, versioned vs plain saves",
        "Redis, versioned vs plain saves",
        session_bench::versions::VALKEY_TITLE,
    ] {
        let rows: Vec<_> = report.section(section).collect();
        if rows.is_empty() {
            assert!(
                !report.notes.is_empty(),
                "{section} is missing without a note"
            );
            continue;
        }
        assert_eq!(
            rows.len(),
            Op::VERSIONED.len() * PayloadSize::ALL.len() * TASKS.len(),
            "{section}"
        );
        for row in rows {
            assert_eq!(row.table, Table::Versions);
            assert!(
                row.values.iter().all(|v| matches!(v, Value::Measured(_))),
                "{section}: {row:?}"
            );
        }
    }
    let cookies: Vec<_> = report.section("signed cookie").collect();
    assert_eq!(cookies.len(), Op::COOKIE.len() * PayloadSize::ALL.len());
    for row in &cookies {
        // Ours and the cookie crate's jars on every row; actix-session refuses the
        // 4 KiB session (its cookie limit).
        for i in 0..3 {
            assert!(matches!(row.values[i], Value::Measured(_)), "{row:?}");
        }
    }

    // The middleware rows: measured means no untouched request made a store call
    // (and each reading one made exactly one).
    let requests: Vec<_> = report.section("middleware").collect();
    assert_eq!(
        requests.len(),
        Op::REQUEST.len() * PayloadSize::ALL.len() * TASKS.len()
    );
    for row in &requests {
        assert_eq!(row.table, Table::Requests);
        assert!(matches!(row.values[0], Value::Measured(_)), "{row:?}");
    }

    // The peers were measured where a complete run measures them.
    let measured = |section: &str, column: usize| {
        report
            .section(section)
            .any(|row| matches!(row.values[column], Value::Measured(_)))
    };
    for section in [
        "PostgreSQL, Django's layout (expire_date indexed)",
        "MariaDB, no expire_date index",
        "Redis",
    ] {
        if report.section(section).next().is_some() {
            assert!(measured(section, 1), "{section}: raw client");
            assert!(measured(section, 2), "{section}: tower-sessions");
        }
    }
    if report.notes.iter().all(|n| !n.contains("Django")) {
        for section in ["PostgreSQL, Django's layout (expire_date indexed)", "Redis"] {
            if report.section(section).next().is_some() {
                assert!(measured(section, 3), "{section}: Django");
            }
        }
        assert!(cookies
            .iter()
            .all(|r| matches!(r.values[4], Value::Measured(_))));
    }
}
