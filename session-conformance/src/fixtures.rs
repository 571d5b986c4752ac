//! The values every case shares: the secret, the start time and the cookie age of the
//! Django 5.2 fixtures, so that stored records and cookies can be compared with
//! literals that real Django produced (docs/django-spec.md, F6 and E6).

use time::macros::datetime;
use time::OffsetDateTime;

/// The secret every kit store signs with: the one the Django 5.2 fixtures were made
/// with.
pub const SECRET: &str = "shared-fixture-secret-do-not-use-in-production";

/// Where every kit clock starts: 2026-01-01T00:00:00Z, the fixtures' signing time.
pub const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

/// `SESSION_COOKIE_AGE` in the kit: Django's default, two weeks.
pub const COOKIE_AGE: i64 = 1_209_600;

/// Session data holding `pairs`, for records written to a store directly.
pub fn data(pairs: &[(&str, serde_json::Value)]) -> session_api::SessionData {
    pairs.iter().map(|(k, v)| (*k, v.clone())).collect()
}
