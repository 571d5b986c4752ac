//! Serializers: Django's `dumps`/`loads` pair, JSON by default (rule F1).

use std::fmt;
use std::io;

use serde_json::Value;

use crate::error::{Error, Result};

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
}

/// Django's `JSONSerializer`: `json.dumps(obj, separators=(",", ":")).encode("latin-1")`
/// with Python's defaults (ASCII only, `\uXXXX` escapes, surrogate pairs above U+FFFF,
/// Python's float `repr`), and `json.loads(data.decode("latin-1"))` (rule F1).
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonSerializer;

impl Serializer for JsonSerializer {
    fn dumps(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(128);
        let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonJsonFormatter);
        let mut erased = <dyn erased_serde::Serializer>::erase(&mut ser);
        value
            .erased_serialize(&mut erased)
            .map_err(Error::serialization)?;
        Ok(out)
    }

    fn loads(&self, bytes: &[u8]) -> Result<Value> {
        // Django decodes as Latin-1: every byte is one code point. ASCII (all that
        // this encoder writes) needs no copy.
        let parsed = if bytes.is_ascii() {
            serde_json::from_slice(bytes)
        } else {
            let text: String = bytes.iter().map(|&b| char::from(b)).collect();
            serde_json::from_str(&text)
        };
        parsed.map_err(Error::serialization)
    }
}

/// A `serde_json` formatter that writes what Python's `json.dumps` writes with
/// `ensure_ascii=True` and compact separators.
#[derive(Debug, Default, Clone, Copy)]
pub struct PythonJsonFormatter;

impl serde_json::ser::Formatter for PythonJsonFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            // Python escapes everything outside ' '..='~'; serde_json already escaped
            // the control characters, quotes and backslashes before us.
            if ch.is_ascii() && ch != '\u{7f}' {
                continue;
            }
            writer.write_all(&bytes[start..i])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = i + ch.len_utf8();
        }
        writer.write_all(&bytes[start..])
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(python_float_repr(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }
}

/// Python's `repr(float)`: shortest round-trip digits, positional notation when the
/// decimal exponent is in -4..16, otherwise `d.ddde+XX`.
fn python_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    // `{:e}` gives the shortest round-trip digits as `d.ddde<exp>`.
    let sci = format!("{value:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            let zeros = "0".repeat(point.unsigned_abs() as usize);
            format!("{sign}0.{zeros}{digits}")
        } else if point as usize >= digits.len() {
            let zeros = "0".repeat(point as usize - digits.len());
            format!("{sign}{digits}{zeros}.0")
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{sign}{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{exp_sign}{:02}", exp.unsigned_abs())
    }
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
    fn f1_floats_use_python_repr() {
        let cases = [
            (3.25, "3.25"),
            (1.0, "1.0"),
            (-0.5, "-0.5"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e100, "1e+100"),
            (0.1, "0.1"),
            (0.0, "0.0"),
        ];
        for (f, want) in cases {
            assert_eq!(python_float_repr(f), want, "{f}");
        }
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
