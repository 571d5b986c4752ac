//! The conformance kit on the encrypted-cookie store (rule S4 and everything that
//! applies to a client-side store; the server-side cases are listed as ignored).

fn main() -> std::process::ExitCode {
    session_conformance::test_main(session_kit_stores::encrypted_cookies)
}
