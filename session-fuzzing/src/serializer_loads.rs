//! The `serializer_loads` target: the JSON serializer's `loads`.

use serde_json::Value;
use session_api::serializer::RESERVED_PREFIX;
use session_api::{Error, JsonSerializer, Serializer};

use crate::oracle::same_json;

/// [`JsonSerializer::loads`] (rule F1). The whole input is the serialized bytes.
///
/// Checks: errors are [`Error::Serialization`]; the bytes are read as Latin-1, and as
/// Python reads JSON, which is more than `serde_json` reads: a reference parse of the
/// Latin-1 text by `serde_json` never succeeds where `loads` fails, and agrees with it
/// unless `loads` kept a Python-only value (a reserved tag or key, such as an integer
/// beyond 64 bits, which `serde_json` reads as a float) or read `-0`, which is the
/// integer 0 in Python and the float -0.0 in `serde_json`; `dumps` of the result is ASCII
/// and loads back to exactly the same value.
pub fn serializer_loads(data: &[u8]) {
    let result = JsonSerializer.loads(data);
    let latin1: String = data.iter().map(|&b| char::from(b)).collect();
    let reference: std::result::Result<Value, _> = serde_json::from_str(&latin1);
    let value = match result {
        Ok(value) => value,
        Err(Error::Serialization(_)) => {
            assert!(
                reference.is_err(),
                "property violated: loads rejected JSON that parses as Latin-1 text"
            );
            return;
        }
        Err(other) => panic!("property violated: JsonSerializer::loads failed with {other:?}"),
    };
    if let Ok(reference) = reference {
        assert!(
            has_reserved(&value) || agrees(&reference, &value),
            "property violated: loads does not read its bytes as Latin-1 (rule F1)"
        );
    }
    let dumped = match JsonSerializer.dumps(&value) {
        Ok(bytes) => bytes,
        Err(err) => panic!("property violated: dumps failed on a loaded value: {err}"),
    };
    assert!(
        dumped.is_ascii(),
        "property violated: dumps wrote non-ASCII bytes (rule F1)"
    );
    let again = JsonSerializer.loads(&dumped);
    assert!(
        again.as_ref().is_ok_and(|again| same_json(again, &value)),
        "property violated: loads(dumps(v)) != v for {value:?}: {again:?} via {:?}",
        String::from_utf8_lossy(&dumped)
    );
}

/// Whether `value` holds a tag or reserved key for a Python-only value.
fn has_reserved(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(has_reserved),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.starts_with(RESERVED_PREFIX) || has_reserved(v)),
        _ => false,
    }
}

/// [`same_json`], but for `serde_json`'s -0.0 where Python reads the integer `-0` as 0.
fn agrees(reference: &Value, ours: &Value) -> bool {
    match (reference, ours) {
        (Value::Number(r), Value::Number(o))
            if r.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()) =>
        {
            o.as_u64() == Some(0) || same_json(reference, ours)
        }
        (Value::Array(r), Value::Array(o)) => {
            r.len() == o.len() && r.iter().zip(o).all(|(r, o)| agrees(r, o))
        }
        (Value::Object(r), Value::Object(o)) => {
            r.len() == o.len()
                && r.iter()
                    .zip(o)
                    .all(|((kr, vr), (ko, vo))| kr == ko && agrees(vr, vo))
        }
        _ => same_json(reference, ours),
    }
}
