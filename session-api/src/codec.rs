//! The session-data codec of the db and file stores: Django's `SessionBase.encode` /
//! `decode` (rules F6, F7), built on [`crate::signing`].

use std::sync::Arc;

use crate::clock::Clock;
use crate::data::SessionData;
use crate::error::{Error, Result};
use crate::serializer::Serializer;
use crate::signing::{DecodeLimits, SecretKeys, TimestampSigner, SESSION_SALT};

/// The `session_data` codec of the db and file stores (rules F6, F7): signing `dumps`
/// with [`SESSION_SALT`] and compression, and a decode that never fails.
///
/// ```
/// use std::sync::Arc;
/// use session_api::codec::SessionCodec;
/// use session_api::signing::SecretKeys;
/// use session_api::{JsonSerializer, SessionData, SystemClock};
/// let codec = SessionCodec::new(&SecretKeys::new("secret"), Arc::new(SystemClock), Arc::new(JsonSerializer));
/// let mut data = SessionData::new();
/// data.set("cart", &[3, 4]).unwrap();
/// let encoded = codec.encode(&data).unwrap();
/// assert_eq!(codec.decode(&encoded), data);
/// assert!(codec.decode("tampered").is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct SessionCodec {
    signer: TimestampSigner,
    serializer: Arc<dyn Serializer>,
}

impl SessionCodec {
    /// A codec with salt [`SESSION_SALT`] and the default [`DecodeLimits`].
    pub fn new(keys: &SecretKeys, clock: Arc<dyn Clock>, serializer: Arc<dyn Serializer>) -> Self {
        SessionCodec {
            signer: TimestampSigner::new(keys, SESSION_SALT, clock),
            serializer,
        }
    }

    /// Replaces the decoding limits (rule H3).
    #[must_use]
    pub fn with_limits(mut self, limits: DecodeLimits) -> Self {
        self.signer = self.signer.with_limits(limits);
        self
    }

    /// The underlying signer.
    pub fn signer(&self) -> &TimestampSigner {
        &self.signer
    }

    /// Django's `SessionBase.encode`: `signing.dumps(data, salt, serializer,
    /// compress=True)` (rule F6), refusing what [`decode`](Self::decode) would
    /// refuse under the same [`DecodeLimits`] (rule H3), so a store never writes a
    /// session that its next load sees as empty.
    ///
    /// # Errors
    ///
    /// [`Error::SessionTooLarge`] when the serialized data is over
    /// [`DecodeLimits::max_decompressed_len`] or the encoded value over
    /// [`DecodeLimits::max_signed_len`]; [`Error::Serialization`] when the serializer
    /// fails.
    pub fn encode(&self, data: &SessionData) -> Result<String> {
        let encoded = self
            .signer
            .sign_session_bounded(data, &*self.serializer, true)?;
        let limit = self.signer.limits().max_signed_len;
        if encoded.len() > limit {
            return Err(Error::SessionTooLarge {
                size: encoded.len(),
                limit,
            });
        }
        Ok(encoded)
    }

    /// Decodes without swallowing errors (for tools such as a `decode` command).
    ///
    /// # Errors
    ///
    /// As [`TimestampSigner::unsign_object`], and [`Error::Serialization`] when the
    /// payload is not a JSON object.
    pub fn try_decode(&self, encoded: &str) -> Result<SessionData> {
        let value = self
            .signer
            .unsign_object(encoded, &*self.serializer, None)?;
        SessionData::from_value(value)
            .ok_or_else(|| Error::serialization("session data is not a JSON object"))
    }

    /// Django's `SessionBase.decode` (rule F7): never fails. A bad signature (including
    /// the limits of rule H3) logs the warning "Session data corrupted" on target
    /// `django.security.SuspiciousSession` and gives an empty session; any other
    /// failure gives an empty session silently.
    pub fn decode(&self, encoded: &str) -> SessionData {
        self.decode_stored(encoded).unwrap_or_default()
    }

    /// [`decode`](Self::decode) for a store reading a record: the same logging, but
    /// `None` when the data does not decode, so the store can treat the record as
    /// absent (rule D7) instead of as an empty session.
    pub fn decode_stored(&self, encoded: &str) -> Option<SessionData> {
        match self.try_decode(encoded) {
            Ok(data) => Some(data),
            Err(err) => {
                if err.is_bad_signature() {
                    tracing::warn!(target: "django.security.SuspiciousSession", "Session data corrupted");
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::serializer::JsonSerializer;
    use crate::signing::fixtures::{clock, keys, zip_bomb_payload};
    use crate::signing::DEFAULT_SALT;

    #[test]
    fn h3_zip_bomb_is_corrupted_session_data() {
        // Validly signed, so only the decompression limit rejects it, as a bad
        // signature: logged and empty (rule F7).
        let codec = SessionCodec::new(&keys(), clock(), Arc::new(JsonSerializer));
        let bomb_session =
            TimestampSigner::new(&keys(), SESSION_SALT, clock()).sign(&zip_bomb_payload());
        assert!(codec.decode(&bomb_session).is_empty());
        assert!(codec
            .try_decode(&bomb_session)
            .unwrap_err()
            .is_bad_signature());
    }

    #[test]
    fn f7_codec_decode_failure_modes() {
        let codec = SessionCodec::new(&keys(), clock(), Arc::new(JsonSerializer));
        let ts = TimestampSigner::new(&keys(), SESSION_SALT, clock());
        // Verified but not base64 / not zlib / not JSON / not an object: silent, not bad
        // signatures.
        for payload in ["!!!", ".eJzz", "bm90IGpzb24", "WzEsMl0"] {
            let signed = ts.sign(payload);
            let err = codec.try_decode(&signed).unwrap_err();
            assert!(matches!(err, Error::Serialization(_)), "{payload}: {err}");
            assert!(codec.decode(&signed).is_empty());
        }
        // Wrong salt: a bad signature.
        let other = TimestampSigner::new(&keys(), DEFAULT_SALT, clock())
            .sign_object(&json!({"a": 1}), &JsonSerializer, true)
            .unwrap();
        assert!(codec.try_decode(&other).unwrap_err().is_bad_signature());
        assert!(codec.decode(&other).is_empty());
    }

    /// Every `(level, target, fields)` logged while `f` runs.
    fn logged(f: impl FnOnce()) -> Vec<(tracing::Level, String, String)> {
        session_conformance::logs::logged(f)
            .into_iter()
            .map(|e| (e.level, e.target, e.fields.trim_end().to_owned()))
            .collect()
    }

    #[test]
    fn f7_bad_signature_logs_warning_other_failures_are_silent() {
        let codec = SessionCodec::new(&keys(), clock(), Arc::new(JsonSerializer));
        let events = logged(|| {
            assert!(codec.decode("tampered:value").is_empty());
        });
        assert_eq!(
            events,
            [(
                tracing::Level::WARN,
                "django.security.SuspiciousSession".to_owned(),
                "message=Session data corrupted".to_owned()
            )]
        );
        let not_json = TimestampSigner::new(&keys(), SESSION_SALT, clock()).sign("bm90IGpzb24");
        let events = logged(|| {
            assert!(codec.decode(&not_json).is_empty());
        });
        assert!(events.is_empty(), "{events:?}");
        let good = codec
            .encode(&SessionData::from_value(json!({"a": 1})).unwrap())
            .unwrap();
        assert!(logged(|| assert_eq!(codec.decode(&good).len(), 1)).is_empty());
    }

    #[test]
    fn f6_codec_round_trip() {
        let codec = SessionCodec::new(&keys(), clock(), Arc::new(JsonSerializer));
        let data = SessionData::from_value(json!({"a": 1})).unwrap();
        let encoded = codec.encode(&data).unwrap();
        // From signing.json (session encode of {"a": 1}).
        assert_eq!(
            encoded,
            "eyJhIjoxfQ:1vb66i:0KgQxR-DD_SdAOrlJq1XOqtBamL_9pT69c0rmJwQeIM"
        );
        assert_eq!(codec.decode(&encoded), data);
    }
}
