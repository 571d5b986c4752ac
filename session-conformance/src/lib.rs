//! The conformance kit: Django's session rules (docs/django-spec.md) as executable
//! cases that any `session-api` store can run. See docs/store-authors.md.

pub mod harness;

pub use harness::{Harness, KitEnv, RawRecords, KIT_COOKIE_AGE, KIT_SECRET, KIT_START};
