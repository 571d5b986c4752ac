//! The conformance kit on the memory store.

fn main() -> std::process::ExitCode {
    session_conformance::test_main(session_kit_stores::memory)
}
