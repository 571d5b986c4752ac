//! The conformance kit on the file store (rule E5 and everything it shares with the
//! other server-side stores), each case in a temporary directory of its own.

fn main() -> std::process::ExitCode {
    session_conformance::test_main(session_kit_stores::file::file)
}
