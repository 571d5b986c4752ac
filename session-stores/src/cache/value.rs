//! The values the cache and cached_db stores write, in either [`CacheFormat`]: the
//! session dict, its expiry stamp, cached_db's epoch and durable version; and
//! cached_db's leases.

use serde_json::Value;
use session_api::{Result, SessionData, Version};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{pickle, CacheFormat, Stamp};

/// What separates a Django-format value's pickle from its JSON trailer (a pickle
/// ends with `.`; the trailer holds no NUL).
const TRAILER: u8 = 0;

/// A decoded cache value: the stored expiry, when readable, the data, when it is a
/// dict, the cached_db epoch it was written under and the durable version it copies,
/// and whether it is a cached_db lease. (No `Debug`: it holds session data.)
pub(crate) struct CacheValue {
    pub(crate) expires_at: Option<OffsetDateTime>,
    pub(crate) data: Option<SessionData>,
    pub(crate) epoch: Option<String>,
    pub(crate) version: Option<Version>,
    pub(crate) lease: bool,
}

/// What cached_db adds before the stamp: the epoch an entry is written under and the
/// durable store's version of the record it copies (rule V1). The cache store writes
/// neither (its version is the revision it adds after encoding, see
/// [`stored_version`](super::stored_version)).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Meta<'a> {
    pub(crate) epoch: Option<&'a str>,
    pub(crate) version: Option<Version>,
}

/// A session's data encoded in a format, without its ending: what
/// [`Body::finish`] completes with the metadata and the stamp. Split so that
/// cached_db can refuse data the format cannot hold before it writes the database,
/// and finish the entry with the version the database gives back.
pub(crate) struct Body(Vec<u8>);

impl Body {
    /// The data of a session in `format` (the expensive part: JSON or a pickle).
    pub(crate) fn of(format: &CacheFormat, data: &SessionData) -> Result<Body> {
        match format {
            CacheFormat::Native => {
                let mut out = Vec::with_capacity(128);
                out.extend_from_slice(b"{\"data\":");
                serde_json::to_writer(&mut out, data).map_err(session_api::Error::serialization)?;
                out.push(b',');
                Ok(Body(out))
            }
            CacheFormat::Django { .. } => {
                let mut out = pickle::dumps(data)?;
                out.extend_from_slice(&[TRAILER, b'{']);
                Ok(Body(out))
            }
        }
    }

    /// The whole value: the body, then `"epoch":..,"version":..,"expires":"<stamp>"}`,
    /// the stamp last (see [`Stamp`]).
    pub(crate) fn finish(&self, meta: Meta<'_>, expires_at: OffsetDateTime) -> Result<Vec<u8>> {
        let stamp = Stamp::at(expires_at)?;
        let mut out = Vec::with_capacity(self.0.len() + 96);
        out.extend_from_slice(&self.0);
        if let Some(epoch) = meta.epoch {
            out.extend_from_slice(b"\"epoch\":");
            serde_json::to_writer(&mut out, epoch).map_err(session_api::Error::serialization)?;
            out.push(b',');
        }
        if let Some(version) = meta.version {
            out.extend_from_slice(format!("\"version\":{},", version.get()).as_bytes());
        }
        out.extend_from_slice(super::stamp::STAMP_FIELD);
        out.extend_from_slice(stamp.as_bytes());
        out.extend_from_slice(b"\"}");
        Ok(out)
    }
}

impl CacheValue {
    /// The value of a session in `format`, ending with `meta` and the stamp of
    /// `expires_at`.
    pub(crate) fn encode(
        format: &CacheFormat,
        data: &SessionData,
        expires_at: OffsetDateTime,
        meta: Meta<'_>,
    ) -> Result<Vec<u8>> {
        Body::of(format, data)?.finish(meta, expires_at)
    }

    /// A cached_db lease holding `token`: a value that reads as a miss, here and (in
    /// Django's format, a pickled `None`) for Django.
    #[cfg(feature = "cached_db")]
    pub(crate) fn lease(format: &CacheFormat, token: &str) -> Vec<u8> {
        let json = Value::Object(
            [("lease".to_owned(), Value::String(token.to_owned()))]
                .into_iter()
                .collect(),
        );
        let json = json.to_string();
        match format {
            CacheFormat::Native => json.into_bytes(),
            CacheFormat::Django { .. } => {
                let mut out = pickle::none();
                out.push(TRAILER);
                out.extend_from_slice(json.as_bytes());
                out
            }
        }
    }

    /// Reads a value of `format`; what does not decode gives no part.
    pub(crate) fn decode(format: &CacheFormat, bytes: &[u8]) -> CacheValue {
        let mut value = CacheValue {
            expires_at: None,
            data: None,
            epoch: None,
            version: None,
            lease: false,
        };
        match format {
            CacheFormat::Native => {
                if let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(bytes) {
                    value.read_meta(&map);
                    value.data = map.remove("data").and_then(SessionData::from_value);
                }
            }
            CacheFormat::Django { .. } => {
                let (pickled, meta) = split_trailer(bytes);
                if let Some(meta) = &meta {
                    value.read_meta(meta);
                }
                if !value.lease {
                    value.data = pickle::loads(pickled);
                }
            }
        }
        value
    }

    fn read_meta(&mut self, map: &serde_json::Map<String, Value>) {
        self.expires_at = map
            .get("expires")
            .and_then(Value::as_str)
            .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok());
        self.epoch = map.get("epoch").and_then(Value::as_str).map(str::to_owned);
        self.version = map.get("version").and_then(Value::as_u64).map(Version::new);
        self.lease = map.contains_key("lease");
    }

    /// The data and expiry of a live, whole value: `None` when expired at `now`, or
    /// when either part is missing (rule D7).
    pub(crate) fn into_live(self, now: OffsetDateTime) -> Option<(SessionData, OffsetDateTime)> {
        match (self.expires_at, self.data) {
            (Some(at), Some(data)) if at > now => Some((data, at)),
            _ => None,
        }
    }
}

/// A Django-format value's pickle and its trailer, when it has one: the JSON object
/// after the last NUL byte. A value Django wrote has none (its last NUL, if any, is
/// inside the pickle, which ends with `.` where a JSON object ends with `}`).
fn split_trailer(bytes: &[u8]) -> (&[u8], Option<serde_json::Map<String, Value>>) {
    let Some(at) = bytes.iter().rposition(|b| *b == TRAILER) else {
        return (bytes, None);
    };
    let tail = &bytes[at + 1..];
    if !(tail.starts_with(b"{\"") && tail.ends_with(b"}")) {
        return (bytes, None);
    }
    match serde_json::from_slice::<Value>(tail) {
        Ok(Value::Object(map)) => (&bytes[..at], Some(map)),
        _ => (bytes, None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    #[test]
    fn native_values_are_json_with_the_stamp_last() {
        let data = SessionData::from_value(json!({"b": 1, "a": "é"})).unwrap();
        let at = datetime!(2026-01-15 0:00 UTC);
        let f = CacheFormat::Native;
        let text = CacheValue::encode(&f, &data, at, Meta::default()).unwrap();
        assert_eq!(
            std::str::from_utf8(&text).unwrap(),
            r#"{"data":{"b":1,"a":"é"},"expires":"2026-01-15T00:00:00.000000000Z"}"#
        );
        assert_eq!(Stamp::of(&text), Some(Stamp::at(at).unwrap()));
        let back = CacheValue::decode(&f, &text);
        assert_eq!(
            (back.expires_at, back.data.as_ref()),
            (Some(at), Some(&data))
        );
        assert_eq!((back.epoch, back.lease), (None, false));
        let meta = Meta {
            epoch: Some("e\"1"),
            version: Some(Version::new(u64::MAX)),
        };
        let stamped = CacheValue::encode(&f, &data, at, meta).unwrap();
        assert_eq!(
            std::str::from_utf8(&stamped).unwrap(),
            r#"{"data":{"b":1,"a":"é"},"epoch":"e\"1","version":18446744073709551615,"expires":"2026-01-15T00:00:00.000000000Z"}"#
        );
        assert_eq!(
            CacheValue::decode(&f, &stamped).version,
            Some(Version::new(u64::MAX))
        );
        assert_eq!(CacheValue::decode(&f, &text).version, None);
        assert_eq!(Stamp::of(&stamped), Some(Stamp::at(at).unwrap()));
        assert_eq!(
            CacheValue::decode(&f, &stamped).epoch.as_deref(),
            Some("e\"1")
        );
        // The earlier layout (expiry first, RFC 3339 as written) still reads.
        let earlier = br#"{"expires":"2026-01-15T00:00:00Z","data":{"a":1}}"#;
        assert_eq!(CacheValue::decode(&f, earlier).expires_at, Some(at));
        #[cfg(feature = "cached_db")]
        {
            let lease = CacheValue::lease(&f, "t");
            assert_eq!(lease, br#"{"lease":"t"}"#);
            assert!(CacheValue::decode(&f, &lease).lease);
            assert_eq!(Stamp::of(&lease), None);
        }
        assert!(CacheValue::decode(&f, b"garbage").into_live(at).is_none());
        let list = br#"{"data":[1],"expires":"2099-01-01T00:00:00.000000000Z"}"#;
        assert!(CacheValue::decode(&f, list).into_live(at).is_none());
    }

    #[test]
    fn django_values_are_pickles_with_a_trailer() {
        let data = SessionData::from_value(json!({"a": 1})).unwrap();
        let at = datetime!(2026-01-15 0:00:00.25 UTC);
        let f = CacheFormat::django();
        let meta = Meta {
            epoch: Some("ep"),
            version: Some(Version::new(7)),
        };
        let bytes = CacheValue::encode(&f, &data, at, meta).unwrap();
        let pickled = pickle::dumps(&data).unwrap();
        assert_eq!(&bytes[..pickled.len()], &pickled[..]);
        assert_eq!(
            &bytes[pickled.len()..],
            b"\0{\"epoch\":\"ep\",\"version\":7,\"expires\":\"2026-01-15T00:00:00.250000000Z\"}"
        );
        assert_eq!(Stamp::of(&bytes), Some(Stamp::at(at).unwrap()));
        let back = CacheValue::decode(&f, &bytes);
        assert_eq!(back.data, Some(data.clone()));
        assert_eq!(
            (
                back.expires_at,
                back.epoch.as_deref(),
                back.version,
                back.lease
            ),
            (Some(at), Some("ep"), Some(Version::new(7)), false)
        );
        // Django's own value: the pickle alone, no stored expiry.
        let django = CacheValue::decode(&f, &pickled);
        assert_eq!(
            (django.data, django.expires_at, django.epoch),
            (Some(data), None, None)
        );
        #[cfg(feature = "cached_db")]
        {
            let lease = CacheValue::lease(&f, "t");
            assert_eq!(lease, b"\x80\x03N.\0{\"lease\":\"t\"}");
            let back = CacheValue::decode(&f, &lease);
            assert!(back.lease && back.data.is_none());
        }
        for bad in [
            &b""[..],
            b"garbage",
            b"\0{}",
            b"\0{\"expires\":1}",
            b"\x80\x03N.",
        ] {
            assert!(CacheValue::decode(&f, bad).data.is_none(), "{bad:?}");
        }
    }
}
