//! The `serializer_loads` target: the JSON serializer's `loads`.

use serde_json::Value;
use session_api::{Error, JsonSerializer, Serializer};

use crate::oracle::same_json;

/// [`JsonSerializer::loads`] (rule F1). The whole input is the serialized bytes.
///
/// Checks: errors are [`Error::Serialization`]; the bytes are read as Latin-1 (a
/// reference parse of the Latin-1 text agrees); `dumps` of the result is ASCII and
/// loads back to exactly the same value.
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
    assert!(
        reference.is_ok_and(|r| same_json(&r, &value)),
        "property violated: loads does not read its bytes as Latin-1 (rule F1)"
    );
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
