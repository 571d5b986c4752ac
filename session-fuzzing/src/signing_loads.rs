//! The `signing_loads` target: Django's `signing.loads`.

use session_api::signing::{loads, DEFAULT_SALT};
use session_api::{DecodeLimits, JsonSerializer};
use time::Duration;

use crate::fixtures::{clock_at, keys, COOKIE_AGE, SIGNING_BASES, TIMESTAMP};
use crate::input::{candidate, split_flags, Mode};
use crate::oracle::DecodeCase;

/// `signing::loads` (rules F2..F5, H3).
///
/// Flags: bit 0 mode (raw / mutate a [`SIGNING_BASES`] value); bits 1-2 the clock and
/// `max_age`: (now, none), (now, 60 s), (now + 1 h, 60 s), (now + 1 h, cookie age);
/// bit 3 verify with the current secret only (no fallback); bit 4 salt `"my.app"`
/// instead of [`DEFAULT_SALT`]; bit 5 sign mode (the rest is a payload, signed here).
pub fn signing_loads(data: &[u8]) {
    let (flags, rest) = split_flags(data);
    let salt = if flags & 16 == 0 {
        DEFAULT_SALT
    } else {
        "my.app"
    };
    let (text, base) = candidate(Mode::of(flags, flags & 32 != 0, salt), rest, SIGNING_BASES);
    let (now, max_age) = match (flags >> 1) & 3 {
        0 => (TIMESTAMP, None),
        1 => (TIMESTAMP, Some(60)),
        2 => (TIMESTAMP + 3600, Some(60)),
        _ => (TIMESTAMP + 3600, Some(COOKIE_AGE)),
    };
    let with_fallback = flags & 8 == 0;
    let result = loads(
        &text,
        &keys(with_fallback),
        salt,
        &JsonSerializer,
        max_age.map(Duration::seconds),
        clock_at(now),
    );
    DecodeCase {
        text: &text,
        salt,
        with_fallback,
        now,
        max_age,
        limits: DecodeLimits::default(),
        base: base.filter(|_| salt == DEFAULT_SALT),
    }
    .check(&result);
}
