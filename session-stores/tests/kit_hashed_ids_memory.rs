//! The conformance kit on the memory store with its ids hashed at rest (rule S3,
//! `HashMode::Hashed`).

use session_kit_stores::hashed_ids::hashed_memory;
use session_stores::hashed_ids::HashMode;

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| hashed_memory(HashMode::Hashed, env))
}
