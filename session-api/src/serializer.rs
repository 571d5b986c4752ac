//! Serializers: Django's `dumps`/`loads` pair, JSON by default (rule F1).
//!
//! # Python's JSON in a `serde_json::Value`
//!
//! Django's `JSONSerializer` is Python's `json` module, which reads and writes more
//! than JSON: `NaN`, `Infinity` and `-Infinity`, integers of any size (up to
//! [`MAX_INT_DIGITS`] digits), strings with lone surrogates (`"\ud800"`), and nesting
//! as deep as Python's recursion limit. [`JsonSerializer`] reads and writes all of it,
//! byte for byte, with a reader and writer of its own (serde_json's refuse `NaN` or
//! write it as `null`, read big integers as floats and stop at 128 levels).
//!
//! Session data stays a `serde_json::Value`, so every API and store keeps working on
//! it; what a `Value` cannot hold is kept in it as a reserved one-entry object (a
//! "tag", such as `{"\0py:float": "NaN"}`) or key form, described in [`python`]. A tag
//! is visible (never a stand-in that looks like another value), is read by
//! [`SessionData::get`](crate::SessionData::get) as the value it stands for (an `f64`
//! NaN, a `u128`), is built by [`SessionData::set`](crate::SessionData::set) from such
//! values, and survives any store that keeps `Value`s as they are. The alternatives
//! were worse: serde_json's `arbitrary_precision` feature holds big integers but not
//! NaN or lone surrogates, and, being a Cargo feature, changes how `serde_json` parses
//! numbers for every crate in an application's build; a value type of our own would
//! change every API that hands out a `Value`.
//!
//! Nothing changes silently: a value [`JsonSerializer::dumps`] cannot write as Python
//! would read it back (a malformed tag or reserved key, nesting deeper than
//! [`MAX_WRITE_DEPTH`]) is refused with
//! [`Error::Serialization`], and `loads(dumps(v)) == v`
//! for every value it writes.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::data::SessionData;
use crate::error::{Error, Result};

pub mod python;
mod read;
mod typed;
mod write;

pub use python::{python_key, PythonOnly, PythonStr, MAX_INT_DIGITS, RESERVED_PREFIX};
pub(crate) use typed::from_value;

/// The deepest nesting of arrays and objects [`JsonSerializer::loads`] reads: the
/// default recursion limit of CPython, which bounds what its `json.dumps` can write
/// (993 levels from a script's top level on CPython 3.11).
pub const MAX_READ_DEPTH: usize = 1000;
/// The deepest nesting [`JsonSerializer::dumps`] writes: Python reads at most its
/// recursion limit minus the frames already on its stack (a Django view decoding a
/// session has about 35), so deeper values are refused rather than written for a
/// Django that would read them as an empty session.
pub const MAX_WRITE_DEPTH: usize = 900;

/// Turns values into bytes and back, as Django's `SESSION_SERIALIZER` does.
///
/// Object-safe: values go in as `&dyn erased_serde::Serialize`, so a store can hold a
/// `Arc<dyn Serializer>` chosen at run time.
///
/// ```
/// use session_api::{JsonSerializer, Serializer};
/// let bytes = JsonSerializer.dumps(&serde_json::json!({"text": "café"})).unwrap();
/// assert_eq!(bytes, br#"{"text":"caf\u00e9"}"#);
/// assert_eq!(JsonSerializer.loads(&bytes).unwrap()["text"], "café");
/// ```
pub trait Serializer: Send + Sync + fmt::Debug {
    /// Serializes `value` to bytes.
    fn dumps(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>>;
    /// Parses bytes into a JSON-compatible value.
    fn loads(&self, bytes: &[u8]) -> Result<Value>;

    /// Serializes the session dict (what the codec and the signed-cookie store
    /// write). The default is [`dumps`](Self::dumps); [`JsonSerializer`] writes it
    /// without the type-erased indirection.
    fn dumps_session(&self, data: &SessionData) -> Result<Vec<u8>> {
        self.dumps(data)
    }
}

/// Django's `JSONSerializer`: `json.dumps(obj, separators=(",", ":")).encode("latin-1")`
/// with Python's defaults (ASCII only, `\uXXXX` escapes, surrogate pairs above U+FFFF,
/// Python's float `repr`, `NaN` and `Infinity`), and
/// `json.loads(data.decode("latin-1"))` (rule F1), with the Python-only values as
/// described in the [module documentation](self).
///
/// ```
/// use serde_json::json;
/// use session_api::{JsonSerializer, Serializer};
/// let text = br#"{"nan":NaN,"big":18446744073709551616,"s":"\ud800"}"#;
/// let value = JsonSerializer.loads(text).unwrap();
/// assert_eq!(value["nan"], json!({"\u{0}py:float": "NaN"}));
/// assert_eq!(value["big"], json!({"\u{0}py:int": "18446744073709551616"}));
/// assert_eq!(JsonSerializer.dumps(&value).unwrap(), text);
/// assert_eq!(JsonSerializer.dumps(&f64::NAN).unwrap(), b"NaN");
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonSerializer;

impl Serializer for JsonSerializer {
    fn dumps(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(128);
        write::write(value, 0, &mut out).map_err(Error::serialization)?;
        Ok(out)
    }

    fn loads(&self, bytes: &[u8]) -> Result<Value> {
        read::read(bytes)
    }

    fn dumps_session(&self, data: &SessionData) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(256);
        write::write(data, 0, &mut out).map_err(Error::serialization)?;
        Ok(out)
    }
}

/// `value` as the `Value` [`JsonSerializer`] would read back after writing it inside
/// the session dict (one level deep): non-finite floats and big integers become tags
/// (what [`SessionData::set`](crate::SessionData::set) stores).
pub(crate) fn to_python_value<T: Serialize + ?Sized>(value: &T) -> Result<Value> {
    let mut out = Vec::with_capacity(64);
    write::write(value, 1, &mut out).map_err(Error::serialization)?;
    read::read(&out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dumps(v: &Value) -> String {
        String::from_utf8(JsonSerializer.dumps(v).unwrap()).unwrap()
    }

    #[test]
    fn f1_compact_separators_and_insertion_order() {
        let v = json!({"user": "bob", "cart": [3, 4], "flag": true, "none": null, "pi": 3.25});
        assert_eq!(
            dumps(&v),
            r#"{"user":"bob","cart":[3,4],"flag":true,"none":null,"pi":3.25}"#
        );
    }

    #[test]
    fn f1_non_ascii_escaped_as_python_does() {
        let v = json!({"text": "café 中文 😀", "del": "\u{7f}", "ctl": "\u{1}\n\"\\/"});
        assert_eq!(
            dumps(&v),
            r#"{"text":"caf\u00e9 \u4e2d\u6587 \ud83d\ude00","del":"\u007f","ctl":"\u0001\n\"\\/"}"#
        );
    }

    #[test]
    fn f1_loads_decodes_latin1_like_django() {
        // Raw UTF-8 bytes reach Django's reader as Latin-1 code points.
        let v = JsonSerializer.loads("\"é\"".as_bytes()).unwrap();
        assert_eq!(v, json!("\u{c3}\u{a9}"));
        let v = JsonSerializer.loads(br#"{"a":"\u00e9"}"#).unwrap();
        assert_eq!(v, json!({"a": "é"}));
        assert!(JsonSerializer.loads(b"{not json").is_err());
    }

    #[test]
    fn f1_non_string_map_keys_become_strings() {
        let mut m = std::collections::BTreeMap::new();
        m.insert(1, "one");
        assert_eq!(
            String::from_utf8(JsonSerializer.dumps(&m).unwrap()).unwrap(),
            r#"{"1":"one"}"#
        );
    }
}
