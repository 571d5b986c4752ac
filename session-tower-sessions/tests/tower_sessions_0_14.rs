//! tower-sessions 0.14's behaviours (what axum-login 0.18 runs on) through our
//! SQLite, PostgreSQL and Redis stores.

#[macro_use]
mod common;

behaviour_tests!(tower_sessions_core_014);
