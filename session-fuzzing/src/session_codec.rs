//! The `session_codec` target: the session-data codec of the db and file stores.

use serde_json::Value;
use session_api::signing::SESSION_SALT;
use session_api::{DecodeLimits, Error, SessionData};

use crate::fixtures::{CODECS, SESSION_BASES, TIGHT, TIMESTAMP};
use crate::input::{candidate, split_flags, Mode};
use crate::oracle::{clone_error, same_data, DecodeCase};

/// Django's `session_data` decoding:
/// [`SessionCodec::try_decode`](session_api::SessionCodec::try_decode) and
/// [`SessionCodec::decode`](session_api::SessionCodec::decode) (rules F6, F7, H3).
///
/// Flags: bit 0 mode (raw / mutate a [`SESSION_BASES`] value); bit 1 verify with the
/// current secret only; bit 2 sign mode (the rest is a payload, signed here). Each
/// input goes through a codec with the default limits and one with 4 KiB limits,
/// which must agree.
pub fn session_codec(data: &[u8]) {
    let (flags, rest) = split_flags(data);
    let mode = Mode::of(flags, flags & 4 != 0, SESSION_SALT);
    let (text, base) = candidate(mode, rest, SESSION_BASES);
    let with_fallback = flags & 2 == 0;
    let codecs = &CODECS[usize::from(!with_fallback)];
    let mut results = Vec::with_capacity(2);
    for (codec, limits) in codecs.iter().zip([DecodeLimits::default(), TIGHT]) {
        let result = codec.try_decode(&text);
        let as_value = match &result {
            Ok(data) => Ok(Value::Object(data.as_map().clone())),
            Err(err) => Err(clone_error(err)),
        };
        DecodeCase {
            text: &text,
            salt: SESSION_SALT,
            with_fallback,
            now: TIMESTAMP,
            max_age: None,
            limits,
            base,
        }
        .check(&as_value);
        let lenient = codec.decode(&text);
        let want = result
            .as_ref()
            .map_or_else(|_| SessionData::new(), Clone::clone);
        assert!(
            same_data(&lenient, &want),
            "property violated: decode() disagrees with try_decode() (rule F7)"
        );
        results.push(result);
    }
    if let [default, tight] = &results[..] {
        match (default, tight) {
            (Ok(a), Ok(b)) => assert!(
                same_data(a, b),
                "property violated: the limits changed the decoded data"
            ),
            (Err(_), Ok(_)) => {
                panic!("property violated: decoded under tight limits only")
            }
            (Ok(_), Err(err)) => assert!(
                matches!(err, Error::BadSignature { .. }),
                "property violated: a limit failure must be BadSignature (rule H3), got {err:?}"
            ),
            (Err(_), Err(_)) => {}
        }
    }
}
