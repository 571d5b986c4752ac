//! The fuzzing properties of the session crates: one entry point per decoder, shared
//! by the cargo-fuzz targets in `fuzz/` (nightly, libFuzzer) and by the corpus replay
//! test `tests/fuzz_corpus.rs` (stable `cargo test`), so both run exactly the same
//! code. Not published: it is tool code, kept out of the library crates.
//!
//! Every entry point takes arbitrary bytes and checks *properties*, not only the
//! absence of panics:
//!
//! * decoding never yields data that was not signed with a configured secret: every
//!   successful decode is re-verified against each configured secret separately
//!   (rule F5), and a value built by mutating a validly signed one only decodes if its
//!   payload is unchanged (and then to the original data);
//! * every error is a [`session_api::Error`] of the variants the decoder documents
//!   (rules F5, F7, H3), and an error that says "the signature verified" (an expired
//!   signature, an undecodable payload) only happens when it did;
//! * stores never fail on bad stored data (rule D7) and return exactly what decodes;
//! * round trips are exact (same JSON, same key order, same number types, same float
//!   bits);
//! * [`SessionKey::parse`](session_api::SessionKey::parse) accepts exactly
//!   `[a-z0-9]{8,40}` (rule H1) and the `Cookie` header parser never returns a value
//!   containing `;`.
//!
//! An entry point panics only when a property is violated, with a message starting
//! with `property violated:` (or `fuzzing setup failed:` if the environment cannot
//! provide a temporary directory). Secrets, salts and the clock are those of the
//! Django 5.2 fixtures ([`fixtures`]), so real Django values are meaningful inputs.
//!
//! # Input layout
//!
//! The decoder targets read their first byte as flags; bit 0 chooses the mode:
//!
//! * `0`: *raw*, the remaining bytes are the candidate value itself;
//! * `1`: *mutate*, the next byte picks a Django-produced signed value and the rest is
//!   a mutation script applied to it (see [`mutate`]).
//!
//! A third mode, *sign*, chosen by another bit (documented on each function), treats
//! the rest as a payload and signs it with the current secret before decoding: the
//! fuzzer cannot forge signatures, so this is how base64, zlib, JSON and the limits
//! behind a valid signature get fuzzed (and how the error classification of rule F7
//! is checked on them). The other bits pick options documented on each function.
//!
//! [`session_key`] and [`serializer_loads`] take the whole input as their value;
//! [`round_trip`] reads its whole input through [`arbitrary::Unstructured`].
//!
//! # Layout
//!
//! One module per target; the shared pieces once: [`fixtures`] (the Django secrets,
//! clock and signed values, and the stores the targets share), `input` (flags, modes,
//! [`mutate`]) and `oracle` (the independent readings the properties compare against,
//! and [`same_json`]).

pub mod fixtures;
mod input;
mod oracle;

mod cookie_header;
mod encrypted_cookie_load;
mod file_load;
mod round_trip;
mod serializer_loads;
mod session_codec;
mod session_key;
mod signed_cookie_load;
mod signing_loads;

pub use cookie_header::cookie_header;
pub use encrypted_cookie_load::encrypted_cookie_load;
pub use file_load::file_load;
pub use input::mutate;
pub use oracle::same_json;
pub use round_trip::round_trip;
pub use serializer_loads::serializer_loads;
pub use session_codec::session_codec;
pub use session_key::session_key;
pub use signed_cookie_load::signed_cookie_load;
pub use signing_loads::signing_loads;

/// An entry point: takes the fuzzer's bytes, panics only on a violated property.
pub type EntryPoint = fn(&[u8]);

/// Every fuzz target: its name (the file `fuzz/fuzz_targets/<name>.rs` and the
/// directory `fuzz/corpus/<name>/`) and its entry point.
pub const TARGETS: &[(&str, EntryPoint)] = &[
    ("signing_loads", signing_loads),
    ("session_codec", session_codec),
    ("session_key", session_key),
    ("cookie_header", cookie_header),
    ("file_load", file_load),
    ("signed_cookie_load", signed_cookie_load),
    ("encrypted_cookie_load", encrypted_cookie_load),
    ("serializer_loads", serializer_loads),
    ("round_trip", round_trip),
];
