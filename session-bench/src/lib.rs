//! Benchmarks of this project's session stores side by side with the raw clients
//! doing the same statements, tower-sessions' stores, actix-session's cookie store,
//! the `cookie` crate's jars and Django 5.2, in one run on the same servers and
//! tables, printed as one table (`cargo run --release -p session-bench -- table`).
//! Versioned saves are measured on PostgreSQL, on Redis and on a Valkey 9.1 server
//! the run starts for itself ([`valkey`]).
//!
//! Unpublished. The figures and how to read them are in `docs/performance.md`.
//!
//! Why not criterion: the table needs latency percentiles across 16 concurrent
//! tasks, columns measured in interleaved rounds within one run and ratios between
//! columns; criterion times one closure on one thread. The runner here is small:
//! every operation is timed with [`std::time::Instant`], and a cell's figures are
//! its operations over its wall time and the nearest-rank percentiles.

pub mod ci_tools;
pub mod cookies;
pub mod error;
pub mod measure;
pub mod payload;
pub mod report;
pub mod requests;
pub mod run;
pub mod section;
pub mod setup;
pub mod subject;
pub mod subjects;
pub mod valkey;
pub mod versions;

pub use error::{BenchError, Result};
pub use report::{Report, Row, Value};
pub use run::{run, Settings};
