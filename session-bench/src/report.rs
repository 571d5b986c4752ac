//! The result of a run: one row per backend and cell, one value per column, and
//! the tables as Markdown.

use std::fmt::Write as _;
use std::time::Duration;

use crate::measure::Stats;
use crate::section::Table;
use crate::subject::Cell;

/// One column's figure for one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Measured.
    Measured(Stats),
    /// No figure, by design (the column does not have this operation, or has no
    /// such store).
    NotApplicable(&'static str),
    /// The measurement failed.
    Failed(String),
}

/// One row: a backend and a cell, and each column's value.
#[derive(Debug, Clone)]
pub struct Row {
    /// The backend (the section's title).
    pub section: String,
    /// Which table.
    pub table: Table,
    /// The cell.
    pub cell: Cell,
    /// One value per column of the table, ours first.
    pub values: Vec<Value>,
}

/// A whole run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every row, in the order measured.
    pub rows: Vec<Row>,
    /// What was left out and why (a server or Django missing outside CI).
    pub notes: Vec<String>,
    /// How the run was made (mode, rounds, time per run).
    pub setup: String,
}

/// Operations per second with three significant digits at most.
fn ops(stats: &Stats) -> String {
    let v = stats.ops_per_sec;
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 1_000.0 {
        format!("{:.1}k", v / 1000.0)
    } else {
        format!("{v:.0}")
    }
}

/// A latency in microseconds, three significant digits at most.
fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 100.0 {
        format!("{us:.0}")
    } else if us >= 10.0 {
        format!("{us:.1}")
    } else {
        format!("{us:.2}")
    }
}

fn value(v: &Value) -> String {
    match v {
        Value::Measured(s) => format!("{} ({}/{})", ops(s), micros(s.p50), micros(s.p99)),
        Value::NotApplicable(_) => "—".to_owned(),
        Value::Failed(_) => "FAILED".to_owned(),
    }
}

fn ratio(ours: &Value, other: &Value) -> String {
    match (ours, other) {
        (Value::Measured(a), Value::Measured(b)) => {
            format!("{:.2}x", a.ops_per_sec / b.ops_per_sec)
        }
        _ => "".to_owned(),
    }
}

impl Report {
    /// What makes the report incomplete: failed cells and figures that are not
    /// finite positive numbers. Empty for a complete report.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for row in &self.rows {
            for (i, v) in row.values.iter().enumerate() {
                let header = row.table.headers()[i].0;
                let at = || {
                    format!(
                        "{} / {} {} {} tasks / {header}",
                        row.section,
                        row.cell.op.name(),
                        row.cell.size.label(),
                        row.cell.tasks
                    )
                };
                match v {
                    Value::Failed(err) => problems.push(format!("{}: {err}", at())),
                    Value::Measured(s) if !s.is_complete() => {
                        problems.push(format!("{}: incomplete figures {s:?}", at()))
                    }
                    _ => {}
                }
            }
        }
        problems
    }

    /// The rows of `section`.
    pub fn section<'a>(&'a self, section: &'a str) -> impl Iterator<Item = &'a Row> + 'a {
        self.rows.iter().filter(move |r| r.section == section)
    }

    /// The tables as Markdown, with the notes and the reasons for empty cells.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.setup);
        for table in [
            Table::Stores,
            Table::Versions,
            Table::Cookies,
            Table::Requests,
        ] {
            let rows: Vec<&Row> = self.rows.iter().filter(|r| r.table == table).collect();
            if rows.is_empty() {
                continue;
            }
            let headers = table.headers();
            let title = match table {
                Table::Stores => "Store operations",
                Table::Cookies => "Signed-cookie encode and decode",
                Table::Requests => "Requests through the middleware core",
                Table::Versions => "Versioned saves (rule V1)",
            };
            let _ = writeln!(
                out,
                "### {title}\n\nEach figure: operations per second (p50/p99 latency in µs); \
                 ratios are ours ÷ the column's ops/s.\n"
            );
            let mut head = format!("| backend | op | payload | tasks | {} |", headers[0].0);
            let mut rule = String::from("|---|---|---|---:|---:|");
            for (h, short) in &headers[1..] {
                let _ = write!(head, " {h} | ours/{short} |");
                rule.push_str("---:|---:|");
            }
            let _ = writeln!(out, "{head}\n{rule}");
            for row in rows {
                let mut line = format!(
                    "| {} | {} | {} | {} | {} |",
                    row.section,
                    row.cell.op.name(),
                    row.cell.size.label(),
                    row.cell.tasks,
                    value(&row.values[0])
                );
                for v in &row.values[1..] {
                    let _ = write!(line, " {} | {} |", value(v), ratio(&row.values[0], v));
                }
                let _ = writeln!(out, "{line}");
            }
            out.push('\n');
        }
        let mut reasons: Vec<String> = Vec::new();
        for row in &self.rows {
            for (i, v) in row.values.iter().enumerate() {
                let note = match v {
                    Value::NotApplicable(why) => format!("{}: {why}", row.table.headers()[i].0),
                    Value::Failed(err) => format!(
                        "FAILED {} / {} / {}: {err}",
                        row.section,
                        row.cell.op.name(),
                        row.table.headers()[i].0
                    ),
                    Value::Measured(_) => continue,
                };
                if !reasons.contains(&note) {
                    reasons.push(note);
                }
            }
        }
        if !reasons.is_empty() || !self.notes.is_empty() {
            let _ = writeln!(out, "Empty cells (—) and notes:");
            for note in self.notes.iter().chain(&reasons) {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }
}
