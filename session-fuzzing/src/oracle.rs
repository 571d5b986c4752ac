//! The independent readings the properties compare the code under test against: the
//! signature recomputed per secret, exact JSON equality, and the checks every
//! `unsign_object`-based decoder shares.

use serde_json::{Map, Number, Value};
use session_api::key::{KEY_ALPHABET, MAX_KEY_LEN, MIN_KEY_LEN};
use session_api::signing::{b62_decode, b64_decode, SecretKeys};
use session_api::{DecodeLimits, Error, JsonSerializer, Result, Serializer, SessionData, Signer};

use crate::fixtures::{Base, FALLBACK, SECRET};

/// `payload:timestamp:signature`, split at the last two `:` as the signer does.
pub(crate) fn parts(signed: &str) -> Option<(&str, &str, &str)> {
    let (rest, sig) = signed.rsplit_once(':')?;
    let (payload, ts) = rest.rsplit_once(':')?;
    Some((payload, ts, sig))
}

/// Which configured secret (0 = current, 1 = fallback) signed `signed` under `salt`,
/// recomputed independently of the signer under test: one [`Signer`] per secret.
pub(crate) fn verifying_key(signed: &str, salt: &str, with_fallback: bool) -> Option<usize> {
    let (value, sig) = signed.rsplit_once(':')?;
    let secrets: &[&str] = if with_fallback {
        &[SECRET, FALLBACK]
    } else {
        &[SECRET]
    };
    secrets
        .iter()
        .position(|secret| Signer::new(&SecretKeys::new(*secret), salt).signature(value) == sig)
}

/// Exact JSON equality: same key order, integers equal as integers, floats equal bit
/// for bit (`serde_json`'s `==` ignores key order and `-0.0` vs `0.0`).
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => same_number(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => same_map(x, y),
        _ => false,
    }
}

fn same_map(x: &Map<String, Value>, y: &Map<String, Value>) -> bool {
    x.len() == y.len()
        && x.iter()
            .zip(y)
            .all(|((kx, vx), (ky, vy))| kx == ky && same_json(vx, vy))
}

fn same_number(x: &Number, y: &Number) -> bool {
    if x.is_f64() || y.is_f64() {
        x.is_f64() && y.is_f64() && x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits)
    } else {
        x.as_i64() == y.as_i64() && x.as_u64() == y.as_u64()
    }
}

pub(crate) fn same_data(a: &SessionData, b: &SessionData) -> bool {
    same_map(a.as_map(), b.as_map())
}

/// What an independent reading of `signed` says about it.
struct Reading {
    /// The configured secret whose signature matches.
    verified: Option<usize>,
    /// The decoded timestamp, when there is a valid one.
    timestamp: Option<i64>,
}

impl Reading {
    fn of(signed: &str, salt: &str, with_fallback: bool) -> Self {
        Reading {
            verified: verifying_key(signed, salt, with_fallback),
            timestamp: parts(signed).and_then(|(_, ts, _)| b62_decode(ts).ok()),
        }
    }

    /// Age in whole seconds at `now` (clocks here have no sub-second part).
    fn age(&self, now: i64) -> Option<i128> {
        self.timestamp.map(|ts| i128::from(now) - i128::from(ts))
    }
}

/// The checks every `unsign_object`-based decoder shares (rules F5, F7, H3).
pub(crate) struct DecodeCase<'a> {
    pub(crate) text: &'a str,
    pub(crate) salt: &'a str,
    pub(crate) with_fallback: bool,
    pub(crate) now: i64,
    pub(crate) max_age: Option<i64>,
    pub(crate) limits: DecodeLimits,
    pub(crate) base: Option<&'static Base>,
}

impl DecodeCase<'_> {
    pub(crate) fn check(&self, result: &Result<Value>) {
        let reading = Reading::of(self.text, self.salt, self.with_fallback);
        let age = reading.age(self.now);
        let fresh = match (self.max_age, age) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(max), Some(age)) => age <= i128::from(max),
        };
        let in_limit = self.text.len() <= self.limits.max_signed_len;
        let compressed = parts(self.text).is_some_and(|(payload, _, _)| payload.starts_with('.'));
        match result {
            Ok(value) => {
                assert!(
                    reading.verified.is_some(),
                    "property violated: {:?} decoded although its signature matches no configured secret",
                    self.text
                );
                assert!(
                    in_limit,
                    "property violated: a value over max_signed_len decoded (rule H3)"
                );
                assert!(
                    fresh,
                    "property violated: {:?} decoded although its timestamp is missing or older than max_age {:?}",
                    self.text, self.max_age
                );
                if let Some((payload, _, _)) = parts(self.text).filter(|_| !compressed) {
                    let direct = b64_decode(payload).and_then(|bytes| JsonSerializer.loads(&bytes));
                    assert!(
                        direct.as_ref().is_ok_and(|direct| same_json(direct, value)),
                        "property violated: the decoded value is not the payload's JSON"
                    );
                }
                self.check_mutant(Some(value));
            }
            Err(Error::SignatureExpired { age: got, max_age }) => {
                let want_max = self.max_age;
                assert!(
                    want_max == Some(*max_age),
                    "property violated: SignatureExpired (max_age {max_age}) with max_age {want_max:?}"
                );
                assert!(
                    reading.verified.is_some() && in_limit,
                    "property violated: SignatureExpired for a value whose signature does not verify"
                );
                let want_age = age.map(|age| i64::try_from(age).unwrap_or(i64::MAX));
                assert!(
                    !fresh && want_age == Some(*got),
                    "property violated: SignatureExpired with age {got}, expected {want_age:?} > {max_age}"
                );
            }
            Err(Error::Serialization(msg)) => {
                assert!(
                    reading.verified.is_some() && in_limit && fresh,
                    "property violated: Serialization error ({msg}) for a value whose signature or timestamp does not verify: rule F7 needs BadSignature"
                );
            }
            Err(Error::BadSignature { reason }) => {
                // After a verified signature and timestamp, only the decompression limit
                // (rule H3) may still say BadSignature.
                assert!(
                    reading.verified.is_none() || !in_limit || !fresh || compressed,
                    "property violated: BadSignature ({reason}) for a verified, fresh, uncompressed value"
                );
            }
            Err(other) => {
                panic!("property violated: unexpected error variant from a decoder: {other:?}")
            }
        }
    }

    /// Mutants of a signed value decode only with the original payload and data.
    pub(crate) fn check_mutant(&self, decoded: Option<&Value>) {
        let (Some(base), Some(decoded)) = (self.base, decoded) else {
            return;
        };
        let original = parts(base.signed).map(|(payload, _, _)| payload);
        let payload = parts(self.text).map(|(payload, _, _)| payload);
        assert!(
            payload == original,
            "property violated: a mutant of {:?} decoded with a changed payload: {:?}",
            base.signed,
            self.text
        );
        let expected: Option<Value> = serde_json::from_str(base.obj).ok();
        assert!(
            expected.is_some_and(|expected| same_json(&expected, decoded)),
            "property violated: a mutant of {:?} decoded to other data",
            base.signed
        );
    }
}

/// A copy of the variants a decoder may return (`Error` is not `Clone`; a
/// serialization error keeps its message, not its source).
pub(crate) fn clone_error(err: &Error) -> Error {
    match err {
        Error::BadSignature { reason } => Error::BadSignature { reason },
        Error::SignatureExpired { age, max_age } => Error::SignatureExpired {
            age: *age,
            max_age: *max_age,
        },
        Error::Serialization(source) => Error::serialization(source.to_string()),
        other => panic!("property violated: unexpected error variant from a decoder: {other:?}"),
    }
}

pub(crate) fn is_id_key(text: &str) -> bool {
    (MIN_KEY_LEN..=MAX_KEY_LEN).contains(&text.len())
        && text.bytes().all(|b| KEY_ALPHABET.contains(&b))
}

pub(crate) fn is_cookie_safe(text: &str) -> bool {
    // Rule A2: Django's `_validate_session_key` wants at least 8 characters.
    text.len() >= 8
        && text
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && !matches!(b, b';' | b',' | b'"' | b'\\'))
}

#[cfg(test)]
mod tests {
    //! The shared checks really fail: a decoder that accepted a forged value, or
    //! misclassified a verified one, would fail the corpus replay.

    use serde_json::json;
    use session_api::signing::SESSION_SALT;

    use super::*;
    use crate::fixtures::{SESSION_BASES, TIMESTAMP};

    fn case(text: &str) -> DecodeCase<'_> {
        DecodeCase {
            text,
            salt: SESSION_SALT,
            with_fallback: true,
            now: TIMESTAMP,
            max_age: None,
            limits: DecodeLimits::default(),
            base: None,
        }
    }

    #[test]
    fn a_verified_django_value_passes() {
        let base = &SESSION_BASES[0];
        let value: Value = serde_json::from_str(base.obj).unwrap_or(Value::Null);
        case(base.signed).check(&Ok(value));
    }

    #[test]
    #[should_panic(expected = "property violated")]
    fn decoding_a_value_no_secret_signed_is_a_violation() {
        // Rule F5: the signature of this value matches no configured secret.
        case("eyJhIjoxfQ:1vb66i:forgedsignature").check(&Ok(json!({"a": 1})));
    }

    #[test]
    #[should_panic(expected = "property violated")]
    fn bad_signature_for_a_verified_fresh_value_is_a_violation() {
        // Rule F7: once the signature verified, only the decompression limit may still
        // say BadSignature.
        case(SESSION_BASES[0].signed).check(&Err(Error::BadSignature { reason: "test" }));
    }

    #[test]
    #[should_panic(expected = "property violated")]
    fn serialization_error_before_the_signature_is_a_violation() {
        // Rule F7: an unverified value must be a bad signature (logged), not silent.
        case("not:signed:at-all").check(&Err(Error::serialization("test")));
    }

    #[test]
    fn same_json_is_exact() {
        assert!(same_json(
            &json!({"a": 1, "b": 2.5}),
            &json!({"a": 1, "b": 2.5})
        ));
        // Key order, integer vs float and the sign of zero all count.
        assert!(!same_json(
            &json!({"a": 1, "b": 2}),
            &json!({"b": 2, "a": 1})
        ));
        assert!(!same_json(&json!(1), &json!(1.0)));
        assert!(!same_json(&json!(0.0), &json!(-0.0)));
    }
}
