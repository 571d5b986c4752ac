//! The reader: what Python's `json.loads` accepts, read from Latin-1 bytes into a
//! [`Value`], with the values a `Value` cannot hold as the tags of
//! [`super::python`].
//!
//! Python's grammar is JSON's plus `NaN`, `Infinity` and `-Infinity`; numbers without
//! a fraction or exponent are integers of any size (up to
//! [`MAX_INT_DIGITS`](super::MAX_INT_DIGITS) digits), others floats (an overflow is
//! infinite); `\uXXXX` escapes pair into one character only when a high surrogate is
//! followed by a low one; whitespace is space, tab, CR and LF; a later duplicate key
//! replaces the value and keeps the first position (a `dict`).

use serde_json::{Map, Number, Value};

use super::python::{
    tag_value, ESCAPED_KEY, FLOAT_TAG, INT_TAG, MAX_INT_DIGITS, RESERVED_PREFIX, STR_KEY, STR_TAG,
};
use super::MAX_READ_DEPTH;
use crate::error::{Error, Result};

/// Parses `bytes` as Django's `JSONSerializer.loads` does: Latin-1 text, then
/// Python's `json.loads`.
pub(super) fn read(bytes: &[u8]) -> Result<Value> {
    let mut reader = Reader {
        bytes,
        pos: 0,
        units: Vec::new(),
    };
    reader.document().map_err(|what| {
        Error::serialization(format!("invalid JSON at byte {}: {what}", reader.pos))
    })
}

/// The UTF-16 code units of a string body (the text between the quotes), or `None`
/// when it is not one.
pub(super) fn decode_string_body(body: &[u8]) -> Option<Vec<u16>> {
    let mut quoted = Vec::with_capacity(body.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(body);
    quoted.push(b'"');
    let mut reader = Reader {
        bytes: &quoted,
        pos: 0,
        units: Vec::new(),
    };
    let units = match reader.string().ok()? {
        Text::Unicode(s) => s.encode_utf16().collect(),
        Text::Surrogates(units) => units,
    };
    (reader.pos == quoted.len()).then_some(units)
}

type Parse<T> = std::result::Result<T, &'static str>;

/// The bytes a string holds as they are: printable ASCII but the quote and the
/// backslash.
const PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut b = 0x20;
    while b < 0x80 {
        plain[b] = b != b'"' as usize && b != b'\\' as usize;
        b += 1;
    }
    plain
};

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Scratch space for strings with escapes or non-ASCII bytes.
    units: Vec<u16>,
}

/// A decoded string.
enum Text {
    Unicode(String),
    Surrogates(Vec<u16>),
}

/// An array or object being read: what it holds so far (and, for an object, the key
/// of the value being read).
enum Open {
    Array(Vec<Value>),
    Object(Map<String, Value>, String),
}

impl Reader<'_> {
    /// The whole input as one value. Iterative, with the open arrays and objects on a
    /// heap stack: no recursion, so nesting costs no thread stack.
    fn document(&mut self) -> Parse<Value> {
        let mut open: Vec<Open> = Vec::new();
        loop {
            self.skip_whitespace();
            let mut value = match self.peek().ok_or("expecting a value")? {
                b @ (b'[' | b'{') => {
                    if open.len() == MAX_READ_DEPTH {
                        return Err("nested deeper than Python's json writes (1000 levels)");
                    }
                    self.pos += 1;
                    self.skip_whitespace();
                    match (b, self.peek()) {
                        (b'[', Some(b']')) => {
                            self.pos += 1;
                            Value::Array(Vec::new())
                        }
                        (b'[', _) => {
                            open.push(Open::Array(Vec::new()));
                            continue;
                        }
                        (_, Some(b'}')) => {
                            self.pos += 1;
                            Value::Object(Map::new())
                        }
                        _ => {
                            let key = self.key()?;
                            open.push(Open::Object(Map::new(), key));
                            continue;
                        }
                    }
                }
                _ => self.scalar()?,
            };
            // A complete value: add it to the innermost open container, closing those
            // that end here.
            loop {
                let Some(parent) = open.last_mut() else {
                    self.skip_whitespace();
                    return if self.pos == self.bytes.len() {
                        Ok(value)
                    } else {
                        Err("extra data after the value")
                    };
                };
                self.skip_whitespace();
                let next = self.peek();
                if matches!(next, Some(b',' | b']' | b'}')) {
                    self.pos += 1;
                }
                match parent {
                    Open::Array(items) => {
                        items.push(value);
                        match next {
                            Some(b',') => break,
                            Some(b']') => value = Value::Array(std::mem::take(items)),
                            _ => return Err("expecting ',' or ']'"),
                        }
                    }
                    Open::Object(map, key) => {
                        // A dict: a repeated key keeps its first position and takes the
                        // new value.
                        map.insert(std::mem::take(key), value);
                        match next {
                            Some(b',') => {
                                *key = self.key()?;
                                break;
                            }
                            Some(b'}') => value = Value::Object(std::mem::take(map)),
                            _ => return Err("expecting ',' or '}'"),
                        }
                    }
                }
                open.pop();
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Parse<Value> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err("expecting a value")
        }
    }

    /// A value that is not an array or object, at a non-whitespace byte.
    fn scalar(&mut self) -> Parse<Value> {
        match self.peek().ok_or("expecting a value")? {
            b'"' => Ok(match self.string()? {
                Text::Unicode(s) => Value::String(s),
                Text::Surrogates(units) => tag_value(STR_TAG, super::python::escaped(&units)),
            }),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Null),
            b'N' => self.literal("NaN", tag_value(FLOAT_TAG, "NaN".to_owned())),
            b'I' => self.literal("Infinity", tag_value(FLOAT_TAG, "Infinity".to_owned())),
            b'-' if self.bytes.get(self.pos + 1) == Some(&b'I') => {
                self.literal("-Infinity", tag_value(FLOAT_TAG, "-Infinity".to_owned()))
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err("expecting a value"),
        }
    }

    /// An object key and the `:` after it, from before the key's opening quote.
    fn key(&mut self) -> Parse<String> {
        self.skip_whitespace();
        if self.peek() != Some(b'"') {
            return Err("expecting a property name in double quotes");
        }
        let key = match self.string()? {
            Text::Unicode(s) if s.starts_with(RESERVED_PREFIX) => format!("{ESCAPED_KEY}{s}"),
            Text::Unicode(s) => s,
            Text::Surrogates(units) => format!("{STR_KEY}{}", super::python::escaped(&units)),
        };
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err("expecting ':'");
        }
        self.pos += 1;
        Ok(key)
    }

    /// A string, from its opening quote.
    fn string(&mut self) -> Parse<Text> {
        self.pos += 1;
        let start = self.pos;
        // Fast path: printable ASCII up to the closing quote.
        self.skip_plain();
        if self.peek() == Some(b'"') {
            let text =
                std::str::from_utf8(&self.bytes[start..self.pos]).map_err(|_| "invalid string")?;
            self.pos += 1;
            return Ok(Text::Unicode(text.to_owned()));
        }
        match self.string_utf8(start)? {
            Some(text) => Ok(Text::Unicode(text)),
            None => {
                // A lone surrogate: read the string again as UTF-16 code units.
                self.pos = start;
                let mut units = std::mem::take(&mut self.units);
                units.clear();
                let result = self.string_units(&mut units);
                let text = result.map(|()| Text::Surrogates(units.clone()));
                self.units = units;
                text
            }
        }
    }

    /// Moves past printable ASCII other than the quote and the backslash.
    fn skip_plain(&mut self) {
        let rest = &self.bytes[self.pos..];
        self.pos += rest
            .iter()
            .position(|&b| !PLAIN[usize::from(b)])
            .unwrap_or(rest.len());
    }

    /// A string with escapes or Latin-1 bytes, from `start` (after the quote), decoded
    /// straight to UTF-8; `None` when it holds a lone surrogate.
    fn string_utf8(&mut self, start: usize) -> Parse<Option<String>> {
        let mut text = String::with_capacity(self.pos - start + 16);
        // Printable ASCII: valid UTF-8.
        text.push_str(
            std::str::from_utf8(&self.bytes[start..self.pos]).map_err(|_| "invalid string")?,
        );
        loop {
            let b = self.peek().ok_or("unterminated string")?;
            self.pos += 1;
            match b {
                b'"' => return Ok(Some(text)),
                b'\\' => {
                    let escape = self.peek().ok_or("unterminated string")?;
                    self.pos += 1;
                    let ch = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => match self.escaped_char()? {
                            Some(ch) => ch,
                            None => return Ok(None),
                        },
                        _ => return Err("invalid \\escape"),
                    };
                    text.push(ch);
                }
                0..=0x1f => return Err("invalid control character in a string"),
                // Latin-1: the byte is the code point.
                _ => text.push(char::from(b)),
            }
            let run = self.pos;
            self.skip_plain();
            text.push_str(
                std::str::from_utf8(&self.bytes[run..self.pos]).map_err(|_| "invalid string")?,
            );
        }
    }

    /// The character of a `\uXXXX` escape (after the `u`), pairing a high surrogate with
    /// a following `\uXXXX` low one as Python does; `None` for a lone surrogate.
    fn escaped_char(&mut self) -> Parse<Option<char>> {
        let unit = self.hex4()?;
        if !(0xd800..0xe000).contains(&unit) {
            return Ok(char::from_u32(u32::from(unit)));
        }
        if unit >= 0xdc00 || self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
            return Ok(None);
        }
        let mark = self.pos;
        self.pos += 2;
        let low = self.hex4()?;
        if !(0xdc00..0xe000).contains(&low) {
            self.pos = mark;
            return Ok(None);
        }
        let code = 0x10000 + ((u32::from(unit) - 0xd800) << 10) + (u32::from(low) - 0xdc00);
        Ok(char::from_u32(code))
    }

    /// The rest of a string as code units, each byte one Latin-1 code point.
    fn string_units(&mut self, units: &mut Vec<u16>) -> Parse<()> {
        loop {
            let b = self.peek().ok_or("unterminated string")?;
            self.pos += 1;
            match b {
                b'"' => return Ok(()),
                b'\\' => {
                    let escape = self.peek().ok_or("unterminated string")?;
                    self.pos += 1;
                    units.push(match escape {
                        b'"' => 0x22,
                        b'\\' => 0x5c,
                        b'/' => 0x2f,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => 0x0a,
                        b'r' => 0x0d,
                        b't' => 0x09,
                        b'u' => self.hex4()?,
                        _ => return Err("invalid \\escape"),
                    });
                }
                0..=0x1f => return Err("invalid control character in a string"),
                _ => units.push(u16::from(b)),
            }
        }
    }

    fn hex4(&mut self) -> Parse<u16> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or("invalid \\uXXXX escape")?;
        let mut unit = 0u16;
        for &d in digits {
            let nibble = char::from(d).to_digit(16).ok_or("invalid \\uXXXX escape")?;
            // Four hex digits fit in 16 bits.
            unit = unit << 4 | u16::try_from(nibble).map_err(|_| "invalid \\uXXXX escape")?;
        }
        self.pos += 4;
        Ok(unit)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`
    fn number(&mut self) -> Parse<Value> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err("expecting a value"),
        }
        let mut float = false;
        if self.peek() == Some(b'.') && matches!(self.bytes.get(self.pos + 1), Some(b'0'..=b'9')) {
            self.pos += 1;
            self.digits();
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            let mark = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                // Python's number ends before the "e", then fails on it.
                self.pos = mark;
            } else {
                float = true;
            }
        }
        // The number is ASCII.
        let text =
            std::str::from_utf8(&self.bytes[start..self.pos]).map_err(|_| "invalid number")?;
        if float {
            let f: f64 = text.parse().map_err(|_| "invalid number")?;
            return Ok(match Number::from_f64(f) {
                Some(n) => Value::Number(n),
                None if f > 0.0 => tag_value(FLOAT_TAG, "Infinity".to_owned()),
                None => tag_value(FLOAT_TAG, "-Infinity".to_owned()),
            });
        }
        // "-0" is the integer 0, as in Python.
        if let Some(magnitude) = text.strip_prefix('-') {
            if let Ok(n) = text.parse::<i64>() {
                return Ok(Value::Number(n.into()));
            }
            if magnitude.len() > MAX_INT_DIGITS {
                return Err("integer longer than Python's 4300-digit limit");
            }
        } else {
            if let Ok(n) = text.parse::<u64>() {
                return Ok(Value::Number(n.into()));
            }
            if text.len() > MAX_INT_DIGITS {
                return Err("integer longer than Python's 4300-digit limit");
            }
        }
        Ok(tag_value(INT_TAG, text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn ok(text: &str) -> Value {
        read(text.as_bytes()).unwrap()
    }

    #[test]
    fn python_extensions_become_tags() {
        assert_eq!(
            ok("[NaN,Infinity,-Infinity,1e400,-1e400]"),
            json!([
                {"\u{0}py:float": "NaN"},
                {"\u{0}py:float": "Infinity"},
                {"\u{0}py:float": "-Infinity"},
                {"\u{0}py:float": "Infinity"},
                {"\u{0}py:float": "-Infinity"}
            ])
        );
        assert_eq!(
            ok("[18446744073709551616,-9223372036854775809,18446744073709551615,-0]"),
            json!([
                {"\u{0}py:int": "18446744073709551616"},
                {"\u{0}py:int": "-9223372036854775809"},
                18446744073709551615u64,
                0
            ])
        );
        assert_eq!(
            ok(r#"{"\ud800":"\udc00\ud800","\u0000py:x":"\ud83d\ude00"}"#),
            json!({"\u{0}py:str:\\ud800": {"\u{0}py:str": "\\udc00\\ud800"}, "\u{0}py:esc:\u{0}py:x": "😀"})
        );
    }

    #[test]
    fn json_and_python_quirks() {
        assert_eq!(ok(" \t\r\n[1 , 2.5e0 ,\"\\/\"] \n"), json!([1, 2.5, "/"]));
        assert_eq!(ok(r#"{"a":1,"b":2,"a":3}"#), json!({"a": 3, "b": 2}));
        assert_eq!(ok("1E5"), json!(100000.0));
        assert_eq!(ok("\"\u{7f}\""), json!("\u{7f}"));
        // Latin-1: each byte is one code point.
        assert_eq!(read("\"é\"".as_bytes()).unwrap(), json!("\u{c3}\u{a9}"));
        for bad in [
            "",
            "01",
            "1.",
            ".5",
            "+1",
            "-",
            "nan",
            "-NaN",
            "[1,]",
            "{\"a\":1,}",
            "\"\t\"",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12G4\"",
            "1 2",
            "[1]\u{0}",
            "\u{c}1",
            "1e",
            "[1e]",
            "tru",
            "\"abc",
            "{\"a\" 1}",
            "{1:2}",
            "é",
        ] {
            assert!(read(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn limits_match_python() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(read(deep(MAX_READ_DEPTH).as_bytes()).is_ok());
        assert!(read(deep(MAX_READ_DEPTH + 1).as_bytes()).is_err());
        assert!(read("9".repeat(4300).as_bytes()).is_ok());
        assert!(read("9".repeat(4301).as_bytes()).is_err());
        assert!(read(format!("-{}", "9".repeat(4301)).as_bytes()).is_err());
    }

    #[test]
    fn string_bodies() {
        assert_eq!(decode_string_body(b"a\\ud800"), Some(vec![0x61, 0xd800]));
        assert_eq!(decode_string_body(b"a\"b"), None);
        assert_eq!(decode_string_body(b"\\"), None);
    }
}
