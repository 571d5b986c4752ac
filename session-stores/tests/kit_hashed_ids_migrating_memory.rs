//! The conformance kit on the memory store with its ids hashed at rest in the
//! migration mode (rule S3, `HashMode::MigrateFromPlain`): the whole contract holds
//! while plain records are looked up too.

use session_kit_stores::hashed_ids::hashed_memory;
use session_stores::hashed_ids::HashMode;

fn main() -> std::process::ExitCode {
    session_conformance::test_main(|env| hashed_memory(HashMode::MigrateFromPlain, env))
}
