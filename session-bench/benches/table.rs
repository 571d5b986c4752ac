//! `cargo bench -p session-bench`: the full table, as `session-bench table` prints it.

use std::process::ExitCode;

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; a filter after `--` picks backends.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let mut settings = session_bench::Settings::full();
    settings.only = only;
    session_bench::run::print_table(&settings)
}
