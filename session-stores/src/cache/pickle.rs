//! Session dictionaries as Django's `RedisCache` stores them: pickles (its default
//! `RedisSerializer` pickles every value but a plain `int` with
//! `pickle.HIGHEST_PROTOCOL`), for JSON-compatible data, through `serde-pickle`.
//!
//! Writing: protocol 3 (the newest `serde-pickle` writes; Python reads every
//! protocol), keys in insertion order. `SessionData`'s forms of what only Python's
//! JSON holds ([`session_api::serializer::python`]) become the Python values: NaN and
//! the infinities are pickled as floats, an escaped reserved key as the key itself.
//! Refused with [`Error::Serialization`]: an integer outside the signed 64-bit range
//! (the reader could not read it back), a string with lone surrogates (as value or
//! key), a malformed reserved key, and nesting deeper than [`MAX_PICKLE_DEPTH`]; with
//! [`Error::SessionTooLarge`], a pickle over [`MAX_PICKLE_LEN`].
//!
//! Reading: `serde-pickle` builds the whole structure and copies every shared
//! (memoized) object where it is referenced, recursing once per level, so a hostile
//! pickle (a list holding itself twice, repeated a few dozen times; a hundred
//! thousand nested lists) would exhaust memory or the stack. [`loads`] first walks
//! the opcodes and accepts only what CPython writes for JSON-compatible data
//! (`dict`, `list`, `str`, `int` within 64 bits, `float`, `bool`, `None`), with
//! shared strings and numbers but no shared container, at most [`MAX_PICKLE_DEPTH`]
//! levels and at most [`MAX_PICKLE_LEN`] bytes of data once shared strings are
//! counted each time they appear. NaN and the infinities load as `SessionData`'s
//! tags for them, a key beginning with the reserved prefix escaped, as the JSON
//! reader does. Anything else (a tuple or a set, which JSON would turn into a list;
//! bytes; a class instance; an integer beyond 64 bits) loads as nothing (rule D7)
//! rather than as a changed value.

use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Number, Value};
use session_api::serializer::{python_key, PythonOnly, PythonStr};
use session_api::{Error, Result, SessionData};

/// The deepest nesting of lists and dicts read or written, the session dict itself
/// counting as one (`serde_json`'s default limit when reading JSON).
pub const MAX_PICKLE_DEPTH: usize = 128;

/// The largest pickle written or read, and the most data a read may expand to:
/// 1 MiB, the limit of the other stores' decoded session data
/// (`DecodeLimits::DEFAULT_MAX_DECOMPRESSED_LEN`).
pub const MAX_PICKLE_LEN: usize = session_api::signing::DecodeLimits::DEFAULT_MAX_DECOMPRESSED_LEN;

/// The pickle of Python's `None`, which Django's cache reads as a miss.
#[cfg(feature = "cached_db")]
pub(crate) fn none() -> Vec<u8> {
    // `serde-pickle` writes the unit as `None`.
    serde_pickle::to_vec(&(), serde_pickle::SerOptions::new()).unwrap_or_default()
}

/// The pickle of a session dict (see the module docs for what is refused).
pub(crate) fn dumps(data: &SessionData) -> Result<Vec<u8>> {
    let bytes = serde_pickle::to_vec(
        &Pickled::Map(data.as_map(), 1),
        serde_pickle::SerOptions::new(),
    )
    .map_err(Error::serialization)?;
    if bytes.len() > MAX_PICKLE_LEN {
        return Err(Error::SessionTooLarge {
            size: bytes.len(),
            limit: MAX_PICKLE_LEN,
        });
    }
    Ok(bytes)
}

/// The session dict a pickle holds; `None` when it is not a pickle this module reads
/// (see the module docs).
pub(crate) fn loads(bytes: &[u8]) -> Option<SessionData> {
    check(bytes).ok()?;
    serde_pickle::from_slice::<Dict>(bytes, serde_pickle::DeOptions::new())
        .ok()
        .map(|dict| SessionData::from_map(dict.0))
}

/// A pickled dict read into `SessionData`'s form (see the module docs).
struct Dict(Map<String, Value>);

impl<'de> Deserialize<'de> for Dict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match d.deserialize_any(Python)? {
            Value::Object(map) => Ok(Dict(map)),
            _ => Err(de::Error::custom("not a dict")),
        }
    }
}

/// Builds a `Value` from Python data, as `session_api`'s JSON reader would.
#[derive(Clone, Copy)]
struct Python;

impl<'de> DeserializeSeed<'de> for Python {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Python {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON-compatible Python data")
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Value, E> {
        match Number::from_f64(v) {
            Some(n) => Ok(Value::Number(n)),
            // NaN and the infinities: SessionData's tags.
            None => PythonOnly::Float(v)
                .to_value()
                .ok_or_else(|| E::custom("an unrepresentable float")),
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(Python)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Python)?;
            // A key beginning with the reserved prefix is escaped (it is not a tag).
            out.insert(PythonStr::Unicode(&key).to_key(), value);
        }
        Ok(Value::Object(out))
    }
}

/// A JSON value written as Python writes its `json.loads` result, with its depth.
enum Pickled<'a> {
    Map(&'a Map<String, Value>, usize),
    Value(&'a Value, usize),
}

impl Serialize for Pickled<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let too_deep =
            || S::Error::custom(format!("nesting deeper than {MAX_PICKLE_DEPTH} levels"));
        match *self {
            Pickled::Map(map, depth) => {
                if depth > MAX_PICKLE_DEPTH {
                    return Err(too_deep());
                }
                let mut out = s.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    let key = match python_key(k) {
                        Some(PythonStr::Unicode(key)) => key,
                        _ => {
                            return Err(S::Error::custom(
                                "a key with lone surrogates or a malformed reserved key cannot be pickled here",
                            ))
                        }
                    };
                    out.serialize_entry(key, &Pickled::Value(v, depth + 1))?;
                }
                out.end()
            }
            Pickled::Value(value, depth) => match value {
                Value::Null => s.serialize_unit(),
                Value::Bool(b) => s.serialize_bool(*b),
                Value::Number(n) => match (n.as_i64(), n.is_f64(), n.as_f64()) {
                    (Some(i), _, _) => s.serialize_i64(i),
                    (None, true, Some(f)) if f.is_finite() => s.serialize_f64(f),
                    _ => Err(S::Error::custom(
                        "an integer outside the signed 64-bit range cannot be pickled here",
                    )),
                },
                Value::String(text) => s.serialize_str(text),
                Value::Array(items) => {
                    if depth > MAX_PICKLE_DEPTH {
                        return Err(too_deep());
                    }
                    let mut out = s.serialize_seq(Some(items.len()))?;
                    for item in items {
                        out.serialize_element(&Pickled::Value(item, depth + 1))?;
                    }
                    out.end()
                }
                Value::Object(map) => match PythonOnly::from_value(value) {
                    None => Pickled::Map(map, depth).serialize(s),
                    Some(PythonOnly::Float(f)) => s.serialize_f64(f),
                    Some(_) => Err(S::Error::custom(
                        "an integer beyond 64 bits or a string with lone surrogates cannot be pickled here",
                    )),
                },
            },
        }
    }
}

/// What the walk knows of a stack item or memo entry.
#[derive(Clone, Copy)]
enum Item {
    /// A string, number, bool or `None`, with the bytes it expands to.
    Scalar(usize),
    /// A list or dict.
    Container,
}

// The opcodes of CPython's pickler for JSON-compatible data, protocols 2 to 5.
const PROTO: u8 = 0x80;
const FRAME: u8 = 0x95;
const STOP: u8 = b'.';
const MARK: u8 = b'(';
const EMPTY_DICT: u8 = b'}';
const EMPTY_LIST: u8 = b']';
const SETITEM: u8 = b's';
const SETITEMS: u8 = b'u';
const APPEND: u8 = b'a';
const APPENDS: u8 = b'e';
const MEMOIZE: u8 = 0x94;
const BINPUT: u8 = b'q';
const LONG_BINPUT: u8 = b'r';
const BINGET: u8 = b'h';
const LONG_BINGET: u8 = b'j';
const NONE: u8 = b'N';
const NEWTRUE: u8 = 0x88;
const NEWFALSE: u8 = 0x89;
const BININT: u8 = b'J';
const BININT1: u8 = b'K';
const BININT2: u8 = b'M';
const LONG1: u8 = 0x8a;
const BINFLOAT: u8 = b'G';
const SHORT_BINUNICODE: u8 = 0x8c;
const BINUNICODE: u8 = b'X';
const BINUNICODE8: u8 = 0x8d;

/// The opcode walk of [`loads`]: a stack of item kinds, the marks, the memo.
struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
    stack: Vec<Item>,
    marks: Vec<usize>,
    memo: std::collections::HashMap<u32, Item>,
    containers: usize,
    expanded: usize,
}

/// Accepts the pickles [`loads`] reads (see the module docs); the reason otherwise.
fn check(bytes: &[u8]) -> std::result::Result<(), &'static str> {
    if bytes.len() > MAX_PICKLE_LEN {
        return Err("too long");
    }
    let mut walk = Walk {
        bytes,
        at: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: std::collections::HashMap::new(),
        containers: 0,
        expanded: 0,
    };
    walk.run()
}

impl Walk<'_> {
    fn take(&mut self, n: usize) -> std::result::Result<&[u8], &'static str> {
        let end = self.at.checked_add(n).ok_or("truncated")?;
        let out = self.bytes.get(self.at..end).ok_or("truncated")?;
        self.at = end;
        Ok(out)
    }

    fn byte(&mut self) -> std::result::Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }

    fn le(&mut self, n: usize) -> std::result::Result<u64, &'static str> {
        let mut value = 0u64;
        for (i, b) in self.take(n)?.iter().enumerate() {
            value |= u64::from(*b) << (8 * i);
        }
        Ok(value)
    }

    fn push(&mut self, item: Item) -> std::result::Result<(), &'static str> {
        match item {
            Item::Container => {
                self.containers += 1;
                if self.containers > MAX_PICKLE_DEPTH {
                    return Err("nested too deep");
                }
            }
            Item::Scalar(n) => {
                self.expanded = self.expanded.saturating_add(n);
                if self.expanded > MAX_PICKLE_LEN {
                    return Err("expands too far");
                }
            }
        }
        self.stack.push(item);
        Ok(())
    }

    fn pop(&mut self) -> std::result::Result<Item, &'static str> {
        if self.marks.last() == Some(&self.stack.len()) {
            return Err("pop across a mark");
        }
        let item = self.stack.pop().ok_or("stack underflow")?;
        if let Item::Container = item {
            self.containers -= 1;
        }
        Ok(item)
    }

    /// Pops down to the last mark; how many items.
    fn pop_mark(&mut self) -> std::result::Result<usize, &'static str> {
        let mark = self.marks.pop().ok_or("no mark")?;
        let n = self.stack.len() - mark;
        for item in self.stack.drain(mark..) {
            if let Item::Container = item {
                self.containers -= 1;
            }
        }
        Ok(n)
    }

    fn top_is_container(&self) -> std::result::Result<(), &'static str> {
        if self.marks.last() == Some(&self.stack.len()) {
            return Err("no container below");
        }
        match self.stack.last() {
            Some(Item::Container) => Ok(()),
            _ => Err("not a container"),
        }
    }

    fn memoize(&mut self, id: u32) -> std::result::Result<(), &'static str> {
        let top = *self.stack.last().ok_or("memoize on an empty stack")?;
        self.memo.insert(id, top);
        Ok(())
    }

    fn get(&mut self, id: u32) -> std::result::Result<(), &'static str> {
        match self.memo.get(&id) {
            Some(Item::Scalar(n)) => self.push(Item::Scalar(*n)),
            Some(Item::Container) => Err("a shared list or dict"),
            None => Err("unknown memo"),
        }
    }

    fn string(&mut self, len_bytes: usize) -> std::result::Result<(), &'static str> {
        let len = usize::try_from(self.le(len_bytes)?).map_err(|_| "truncated")?;
        self.take(len)?;
        self.push(Item::Scalar(len))
    }

    fn run(&mut self) -> std::result::Result<(), &'static str> {
        loop {
            match self.byte()? {
                PROTO => {
                    if !(2..=5).contains(&self.byte()?) {
                        return Err("protocol");
                    }
                }
                FRAME => {
                    self.take(8)?;
                }
                STOP => {
                    return match (self.stack.as_slice(), self.marks.is_empty()) {
                        ([Item::Container], true) if self.at == self.bytes.len() => Ok(()),
                        _ => Err("not one dict"),
                    };
                }
                MARK => self.marks.push(self.stack.len()),
                EMPTY_DICT | EMPTY_LIST => self.push(Item::Container)?,
                SETITEM => {
                    self.pop()?;
                    self.pop()?;
                    self.top_is_container()?;
                }
                SETITEMS => {
                    if self.pop_mark()? % 2 != 0 {
                        return Err("odd items");
                    }
                    self.top_is_container()?;
                }
                APPEND => {
                    self.pop()?;
                    self.top_is_container()?;
                }
                APPENDS => {
                    self.pop_mark()?;
                    self.top_is_container()?;
                }
                MEMOIZE => {
                    let id = u32::try_from(self.memo.len()).map_err(|_| "memo")?;
                    self.memoize(id)?;
                }
                BINPUT => {
                    let id = u32::from(self.byte()?);
                    self.memoize(id)?;
                }
                LONG_BINPUT => {
                    let id = self.le(4)? as u32;
                    self.memoize(id)?;
                }
                BINGET => {
                    let id = u32::from(self.byte()?);
                    self.get(id)?;
                }
                LONG_BINGET => {
                    let id = self.le(4)? as u32;
                    self.get(id)?;
                }
                NONE | NEWTRUE | NEWFALSE => self.push(Item::Scalar(1))?,
                BININT => {
                    self.take(4)?;
                    self.push(Item::Scalar(8))?;
                }
                BININT1 => {
                    self.take(1)?;
                    self.push(Item::Scalar(8))?;
                }
                BININT2 => {
                    self.take(2)?;
                    self.push(Item::Scalar(8))?;
                }
                LONG1 => {
                    // At most 8 bytes of two's complement: within the signed 64-bit
                    // range, which `serde-pickle` reads.
                    let n = usize::from(self.byte()?);
                    if n > 8 {
                        return Err("integer beyond 64 bits");
                    }
                    self.take(n)?;
                    self.push(Item::Scalar(8))?;
                }
                BINFLOAT => {
                    self.take(8)?;
                    self.push(Item::Scalar(8))?;
                }
                SHORT_BINUNICODE => self.string(1)?,
                BINUNICODE => self.string(4)?,
                BINUNICODE8 => self.string(8)?,
                _ => return Err("an opcode outside JSON-compatible data"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn data(v: Value) -> SessionData {
        SessionData::from_value(v).unwrap()
    }

    /// `pickle.dumps({...}, 5)` by CPython 3 for the dict of
    /// [`cpython_pickles_load_in_order`].
    const CPYTHON: &[u8] = b"\x80\x05\x95N\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94K\x01\x8c\x01b\x94\x8c\x01x\x94\x8c\x01c\x94h\x03\x8c\x01l\x94]\x94(K\x01G@\x04\x00\x00\x00\x00\x00\x00N\x88e\x8c\x01n\x94}\x94\x8c\x01k\x94\x8c\x01v\x94s\x8c\x03big\x94\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@u.";

    #[test]
    fn cpython_pickles_load_in_order_but_not_beyond_64_bits() {
        // The last item is 2**70, which JSON keeps and this reader cannot.
        assert_eq!(loads(CPYTHON), None);
        let small = CPYTHON
            .strip_suffix(b"\x8c\x03big\x94\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@u.")
            .unwrap();
        let small = [small, b"u."].concat();
        // The frame length is not checked (as in CPython, it is a hint).
        let back = loads(&small).unwrap();
        assert_eq!(
            back,
            data(json!({"a": 1, "b": "x", "c": "x", "l": [1, 2.5, null, true], "n": {"k": "v"}}))
        );
        assert_eq!(
            back.keys().map(String::as_str).collect::<Vec<_>>(),
            ["a", "b", "c", "l", "n"]
        );
    }

    #[test]
    fn round_trips_keep_order_and_values() {
        let d = data(json!({
            "z": 1, "a": [true, false, null, -1, 2_147_483_648_i64, i64::MIN, 0.1, -0.0],
            "é": {"nested": [[[]]], "s": "café 中文 😀"}, "big": i64::MAX
        }));
        let bytes = dumps(&d).unwrap();
        assert_eq!(&bytes[..2], b"\x80\x03");
        let back = loads(&bytes).unwrap();
        assert_eq!(back, d);
        assert_eq!(
            back.keys().map(String::as_str).collect::<Vec<_>>(),
            ["z", "a", "é", "big"]
        );
    }

    /// `pickle.dumps({"nan": float("nan"), "inf": [float("inf"), -float("inf")],
    /// "\0py:float": 1}, 5)` by CPython 3.
    const CPYTHON_FLOATS: &[u8] = b"\x80\x05\x95>\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x03nan\x94G\x7f\xf8\x00\x00\x00\x00\x00\x00\x8c\x03inf\x94]\x94(G\x7f\xf0\x00\x00\x00\x00\x00\x00G\xff\xf0\x00\x00\x00\x00\x00\x00e\x8c\t\x00py:float\x94K\x01u.";

    #[test]
    fn python_only_floats_and_reserved_keys_take_session_datas_forms() {
        let back = loads(CPYTHON_FLOATS).unwrap();
        let tag = |t: &str| json!({"\u{0}py:float": t});
        assert_eq!(back.get_value("nan"), Some(&tag("NaN")));
        assert_eq!(
            back.get_value("inf"),
            Some(&json!([tag("Infinity"), tag("-Infinity")]))
        );
        assert_eq!(back.get_value("\u{0}py:esc:\u{0}py:float"), Some(&json!(1)));
        assert!(back.get::<f64>("nan").unwrap().unwrap().is_nan());
        // And back: the floats and the key as Python had them.
        let again = dumps(&back).unwrap();
        assert_eq!(loads(&again), Some(back));
        let mut d = SessionData::new();
        d.set("x", &f64::NEG_INFINITY).unwrap();
        let pickled = dumps(&d).unwrap();
        assert!(pickled
            .windows(9)
            .any(|w| w == b"G\xff\xf0\x00\x00\x00\x00\x00\x00"));
    }

    #[test]
    fn values_python_could_not_read_back_here_are_refused_on_write() {
        let big = data(json!({"n": u64::MAX}));
        assert!(matches!(dumps(&big), Err(Error::Serialization(_))));
        let mut tagged = SessionData::new();
        tagged.set("n", &u128::MAX).unwrap();
        assert!(matches!(dumps(&tagged), Err(Error::Serialization(_))));
        let surrogate = data(json!({"s": {"\u{0}py:str": "\\ud800"}}));
        assert!(matches!(dumps(&surrogate), Err(Error::Serialization(_))));
        let bad_key = data(json!({"\u{0}py:nonsense": 1}));
        assert!(matches!(dumps(&bad_key), Err(Error::Serialization(_))));
        let mut deep = json!(1);
        for _ in 0..MAX_PICKLE_DEPTH {
            deep = json!([deep]);
        }
        assert!(matches!(
            dumps(&data(json!({"d": deep.clone()}))),
            Err(Error::Serialization(_))
        ));
        let ok = deep.as_array().unwrap()[0].clone();
        let d = data(json!({"d": ok}));
        assert_eq!(loads(&dumps(&d).unwrap()), Some(d));
        let huge = data(json!({"s": "x".repeat(MAX_PICKLE_LEN)}));
        assert!(matches!(dumps(&huge), Err(Error::SessionTooLarge { .. })));
    }

    #[test]
    fn hostile_or_foreign_pickles_load_as_nothing() {
        let mut bombs: Vec<Vec<u8>> = Vec::new();
        // A list of lists, each holding the previous one twice, 64 times: 2**64
        // elements once copied (Python shares them).
        let mut laughs = b"\x80\x05}\x94(\x8c\x01a]]q\x01a".to_vec();
        for _ in 0..64 {
            laughs.extend_from_slice(b"](h\x01h\x01eq\x01a");
        }
        laughs.extend_from_slice(b"u.");
        bombs.push(laughs);
        // A string of 1000 bytes referenced 10,000 times.
        let mut strings = b"\x80\x05}\x94(\x8c\x01a](X\xe8\x03\x00\x00".to_vec();
        strings.extend(std::iter::repeat_n(b'x', 1000));
        strings.push(0x94);
        for _ in 0..10_000 {
            strings.extend_from_slice(b"h\x01");
        }
        strings.extend_from_slice(b"eu.");
        bombs.push(strings);
        // 100,000 nested lists.
        let mut deep = b"\x80\x05}\x94(\x8c\x01a".to_vec();
        deep.extend(std::iter::repeat_n(b']', 100_000));
        deep.extend(std::iter::repeat_n(b'a', 99_999));
        deep.extend_from_slice(b"u.");
        bombs.push(deep);
        for bomb in &bombs {
            assert_eq!(loads(bomb), None);
        }
        for foreign in [
            &b""[..],
            b"garbage",
            b"42",
            b"\x80\x05N.",                                   // None
            b"\x80\x05]\x94.",                               // a list
            b"\x80\x05}\x94\x8c\x01a\x94)s.",                // a tuple value
            b"\x80\x05}\x94K\x01K\x02s.",                    // an int key
            b"\x80\x05}\x94\x8c\x01aC\x01xs.",               // bytes
            b"\x80\x05}\x94\x8c\x01a\x8c\x01b",              // truncated
            b"\x80\x05}\x94\x8c\xffa.",                      // a length past the end
            b"\x80\x05}\x94\x8c\x01a\x8c\x03\xed\xa0\x80s.", // a lone surrogate
            b"\x80\x05}.junk",
            b"cos\nsystem\n(S'true'\ntR.", // a global
        ] {
            assert_eq!(loads(foreign), None, "{foreign:?}");
        }
        assert_eq!(loads(b"\x80\x05}\x94."), Some(SessionData::new()));
    }
}
