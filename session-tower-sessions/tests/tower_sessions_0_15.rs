//! tower-sessions 0.15's behaviours through our SQLite, PostgreSQL and Redis stores.

#[macro_use]
mod common;

behaviour_tests!(tower_sessions_core_015);
