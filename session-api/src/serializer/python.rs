//! How the values that Python's `json` reads and writes but a [`serde_json::Value`]
//! cannot hold live inside a `Value`: reserved one-entry objects ("tags") and
//! reserved key forms, all under [`RESERVED_PREFIX`].
//!
//! | Python | in a `Value` |
//! | --- | --- |
//! | `float("nan")`, `float("inf")`, `-float("inf")` | `{"\0py:float": "NaN"}`, `"Infinity"`, `"-Infinity"` |
//! | an `int` outside `i64::MIN..=u64::MAX` | `{"\0py:int": "<decimal digits>"}` |
//! | a `str` with lone surrogates (`"\ud800"`) | `{"\0py:str": "\\ud800"}`: the text `json.dumps` writes between the quotes |
//! | such a `str` as a dict key | the key `"\0py:str:\\ud800"` |
//! | a key that itself begins with `"\0py:"` | the key `"\0py:esc:"` + that key |
//!
//! [`JsonSerializer`](super::JsonSerializer) reads Python's JSON into this form and
//! writes it back byte for byte; any other key beginning with [`RESERVED_PREFIX`], or
//! a tag that is not in the canonical form [`PythonOnly::to_value`] builds, is refused
//! with [`Error::Serialization`](crate::Error::Serialization) when written, so a value
//! never changes between a write and the next read.

use serde_json::{Map, Value};

use super::read::decode_string_body;
use super::write::escape_units;

/// The prefix of every reserved key: NUL, then `py:` (a NUL never begins a key a real
/// application writes; one that does is escaped, so nothing is lost).
pub const RESERVED_PREFIX: &str = "\u{0}py:";
/// The most decimal digits Python 3.11+ converts between `int` and text (its default
/// `sys.get_int_max_str_digits()`): longer integers are refused by `json.loads` and
/// `json.dumps` alike, and so here.
pub const MAX_INT_DIGITS: usize = 4300;

pub(super) const FLOAT_TAG: &str = "\u{0}py:float";
pub(super) const INT_TAG: &str = "\u{0}py:int";
pub(super) const STR_TAG: &str = "\u{0}py:str";
pub(super) const STR_KEY: &str = "\u{0}py:str:";
pub(super) const ESCAPED_KEY: &str = "\u{0}py:esc:";

/// A value Python's `json` module reads and writes that a [`serde_json::Value`]
/// cannot hold directly; see the [module documentation](self) for its form in a
/// `Value`.
///
/// ```
/// use serde_json::json;
/// use session_api::serializer::PythonOnly;
/// let nan = PythonOnly::Float(f64::NAN).to_value().unwrap();
/// assert_eq!(nan, json!({"\u{0}py:float": "NaN"}));
/// assert!(matches!(PythonOnly::from_value(&nan), Some(PythonOnly::Float(f)) if f.is_nan()));
/// // What a Value holds anyway is not Python-only.
/// assert_eq!(PythonOnly::Float(1.5).to_value(), None);
/// assert_eq!(PythonOnly::Int("7".into()).to_value(), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PythonOnly {
    /// NaN, Infinity or -Infinity.
    Float(f64),
    /// An integer outside `i64::MIN..=u64::MAX`, as decimal digits with an optional
    /// leading `-` (at most [`MAX_INT_DIGITS`] digits).
    Int(String),
    /// A string holding at least one lone surrogate, as UTF-16 code units.
    Str(Vec<u16>),
}

impl PythonOnly {
    /// The Python-only value a canonical tag stands for; `None` for anything else.
    pub fn from_value(value: &Value) -> Option<PythonOnly> {
        let (tag, payload) = tag_of(value.as_object()?)?;
        let payload = payload.as_str()?;
        tag.check(payload).ok()?;
        Some(match tag {
            Tag::Float => PythonOnly::Float(match payload {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                _ => f64::NEG_INFINITY,
            }),
            Tag::Int => PythonOnly::Int(payload.to_owned()),
            Tag::Str => PythonOnly::Str(surrogate_units(payload).ok()?),
        })
    }

    /// The tag standing for this value; `None` when the value is not Python-only (a
    /// finite float, an integer a `Value` holds, a string without lone surrogates) or
    /// the digits are not a canonical integer.
    pub fn to_value(&self) -> Option<Value> {
        let (tag, payload) = match self {
            PythonOnly::Float(f) if f.is_nan() => (FLOAT_TAG, "NaN".to_owned()),
            PythonOnly::Float(f) if f.is_infinite() && *f > 0.0 => {
                (FLOAT_TAG, "Infinity".to_owned())
            }
            PythonOnly::Float(f) if f.is_infinite() => (FLOAT_TAG, "-Infinity".to_owned()),
            PythonOnly::Float(_) => return None,
            PythonOnly::Int(digits) => {
                Tag::Int.check(digits).ok()?;
                (INT_TAG, digits.clone())
            }
            PythonOnly::Str(units) => {
                String::from_utf16(units).err()?;
                (STR_TAG, escaped(units))
            }
        };
        Some(tag_value(tag, payload))
    }
}

/// A Python `str`: valid Unicode, or UTF-16 code units with lone surrogates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PythonStr<'a> {
    /// A string without lone surrogates.
    Unicode(&'a str),
    /// A string with at least one lone surrogate, as UTF-16 code units.
    Surrogates(Vec<u16>),
}

impl PythonStr<'_> {
    /// The `Value` object key standing for this Python string (the inverse of
    /// [`python_key`]).
    ///
    /// ```
    /// use session_api::serializer::{python_key, PythonStr};
    /// let key = PythonStr::Surrogates(vec![0xd800]).to_key();
    /// assert_eq!(key, "\u{0}py:str:\\ud800");
    /// assert_eq!(python_key(&key), Some(PythonStr::Surrogates(vec![0xd800])));
    /// assert_eq!(PythonStr::Unicode("cart").to_key(), "cart");
    /// ```
    pub fn to_key(&self) -> String {
        match self {
            PythonStr::Unicode(s) if s.starts_with(RESERVED_PREFIX) => format!("{ESCAPED_KEY}{s}"),
            PythonStr::Unicode(s) => (*s).to_owned(),
            PythonStr::Surrogates(units) => match String::from_utf16(units) {
                Ok(s) => PythonStr::Unicode(&s).to_key(),
                Err(_) => format!("{STR_KEY}{}", escaped(units)),
            },
        }
    }
}

/// The Python string an object key of a `Value` stands for: itself, unless it begins
/// with [`RESERVED_PREFIX`]; `None` for a reserved key that is not in a canonical form
/// (such a key is refused when written).
///
/// ```
/// use session_api::serializer::{python_key, PythonStr};
/// assert_eq!(python_key("cart"), Some(PythonStr::Unicode("cart")));
/// assert_eq!(python_key("\u{0}py:esc:\u{0}py:x"), Some(PythonStr::Unicode("\u{0}py:x")));
/// assert_eq!(python_key("\u{0}py:x"), None);
/// ```
pub fn python_key(key: &str) -> Option<PythonStr<'_>> {
    match reserved_key(key) {
        Ok(ReservedKey::Plain(s)) => Some(PythonStr::Unicode(s)),
        Ok(ReservedKey::Surrogates(text)) => surrogate_units(text).ok().map(PythonStr::Surrogates),
        Err(_) => None,
    }
}

/// The kinds of tag object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    Float,
    Int,
    Str,
}

impl Tag {
    /// The tag a key names, if it names one.
    pub(super) fn of_key(key: &str) -> Option<Tag> {
        match key {
            FLOAT_TAG => Some(Tag::Float),
            INT_TAG => Some(Tag::Int),
            STR_TAG => Some(Tag::Str),
            _ => None,
        }
    }

    /// Whether `payload` is the canonical payload of this tag: what the reader
    /// produces, so that writing and reading it again gives the same `Value`.
    pub(super) fn check(self, payload: &str) -> Result<(), &'static str> {
        match self {
            Tag::Float => match payload {
                "NaN" | "Infinity" | "-Infinity" => Ok(()),
                _ => Err("a \\0py:float tag holds \"NaN\", \"Infinity\" or \"-Infinity\""),
            },
            Tag::Int => {
                let digits = payload.strip_prefix('-').unwrap_or(payload);
                let canonical = !digits.is_empty()
                    && digits.len() <= MAX_INT_DIGITS
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && !digits.starts_with('0');
                if !canonical {
                    return Err(
                        "a \\0py:int tag holds at most 4300 decimal digits, no leading zero",
                    );
                }
                let fits = if payload.starts_with('-') {
                    payload.parse::<i64>().is_ok()
                } else {
                    payload.parse::<u64>().is_ok()
                };
                if fits {
                    Err("a \\0py:int tag holds only integers outside i64::MIN..=u64::MAX")
                } else {
                    Ok(())
                }
            }
            Tag::Str => surrogate_units(payload).map(drop),
        }
    }
}

/// The tag and payload of a one-entry tag object.
pub(super) fn tag_of(map: &Map<String, Value>) -> Option<(Tag, &Value)> {
    if map.len() != 1 {
        return None;
    }
    let (key, payload) = map.iter().next()?;
    Some((Tag::of_key(key)?, payload))
}

/// A one-entry tag object.
pub(super) fn tag_value(tag: &str, payload: String) -> Value {
    let mut map = Map::with_capacity(1);
    map.insert(tag.to_owned(), Value::String(payload));
    Value::Object(map)
}

/// What a key beginning with [`RESERVED_PREFIX`] stands for.
pub(super) enum ReservedKey<'a> {
    /// This string, written as any string is.
    Plain(&'a str),
    /// The canonical escape text of a string with lone surrogates, written between
    /// quotes as it is.
    Surrogates(&'a str),
}

/// Resolves a key: a key outside the reserved prefix stands for itself.
pub(super) fn reserved_key(key: &str) -> Result<ReservedKey<'_>, &'static str> {
    if !key.starts_with(RESERVED_PREFIX) {
        return Ok(ReservedKey::Plain(key));
    }
    if let Some(original) = key.strip_prefix(ESCAPED_KEY) {
        return if original.starts_with(RESERVED_PREFIX) {
            Ok(ReservedKey::Plain(original))
        } else {
            Err("a \\0py:esc: key escapes only keys that begin with \\0py:")
        };
    }
    if let Some(text) = key.strip_prefix(STR_KEY) {
        surrogate_units(text)?;
        return Ok(ReservedKey::Surrogates(text));
    }
    Err("keys beginning with \\0py: are reserved (see session_api::serializer::python)")
}

/// The code units of a canonical escape text that holds a lone surrogate.
fn surrogate_units(text: &str) -> Result<Vec<u16>, &'static str> {
    const NOT_CANONICAL: &str =
        "a lone-surrogate string is the escape text json.dumps writes for it";
    let units = decode_string_body(text.as_bytes()).ok_or(NOT_CANONICAL)?;
    if String::from_utf16(&units).is_ok() {
        return Err("a \\0py:str tag or key holds only strings with lone surrogates");
    }
    if escaped(&units) != text {
        return Err(NOT_CANONICAL);
    }
    Ok(units)
}

/// Python's `json.dumps` escape text of a string, without the quotes.
pub(super) fn escaped(units: &[u16]) -> String {
    let mut out = Vec::with_capacity(units.len() * 6);
    escape_units(units, &mut out);
    // The escape text is ASCII.
    out.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_tags_only() {
        for good in [
            json!({"\u{0}py:float": "NaN"}),
            json!({"\u{0}py:float": "-Infinity"}),
            json!({"\u{0}py:int": "18446744073709551616"}),
            json!({"\u{0}py:int": "-9223372036854775809"}),
            json!({"\u{0}py:str": "a\\ud800"}),
        ] {
            let python = PythonOnly::from_value(&good).unwrap();
            assert_eq!(python.to_value().unwrap(), good);
        }
        for bad in [
            json!({"\u{0}py:float": "nan"}),
            json!({"\u{0}py:float": 1.0}),
            json!({"\u{0}py:int": "18446744073709551615"}),
            json!({"\u{0}py:int": "-9223372036854775808"}),
            json!({"\u{0}py:int": "018446744073709551616"}),
            json!({"\u{0}py:int": "1e30"}),
            json!({"\u{0}py:int": "9".repeat(4301)}),
            json!({"\u{0}py:str": "\\uD800"}),
            json!({"\u{0}py:str": "\\ud83d\\ude00"}),
            json!({"\u{0}py:str": "\\ud800", "b": 1}),
        ] {
            assert_eq!(PythonOnly::from_value(&bad), None, "{bad}");
        }
        assert!(PythonOnly::Int("9".repeat(4300)).to_value().is_some());
        assert!(PythonOnly::Str(vec![0xd83d, 0xde00]).to_value().is_none());
    }

    #[test]
    fn keys_resolve_to_python_strings() {
        assert_eq!(
            python_key("\u{0}py:str:\\udc00x"),
            Some(PythonStr::Surrogates(vec![0xdc00, 0x78]))
        );
        assert_eq!(python_key("\u{0}py:esc:plain"), None);
        assert_eq!(python_key("\u{0}py:str:x"), None);
        assert_eq!(
            PythonStr::Unicode("\u{0}py:x").to_key(),
            "\u{0}py:esc:\u{0}py:x"
        );
        assert_eq!(PythonStr::Surrogates(vec![0x61]).to_key(), "a");
    }
}
