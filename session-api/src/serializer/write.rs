//! The writer: a serde serializer producing what Python's
//! `json.dumps(obj, separators=(",", ":"))` produces (`ensure_ascii`, `allow_nan`,
//! insertion order), with the tags of [`super::python`] written as the Python values
//! they stand for.

use std::fmt;
use std::io::Write as _;

use serde::ser::{self, Serialize};

use super::python::{reserved_key, ReservedKey, Tag};
use super::MAX_WRITE_DEPTH;
use crate::data::SESSION_DATA_NEWTYPE;

/// Why a value could not be written.
#[derive(Debug)]
pub(super) struct WriteError(String);

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WriteError {}

impl ser::Error for WriteError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        WriteError(msg.to_string())
    }
}

fn refuse<T>(why: &str) -> Result<T, WriteError> {
    Err(WriteError(why.to_owned()))
}

/// Serializes `value` as Python's `json.dumps` would, as if it were nested `depth`
/// levels deep.
pub(super) fn write<T: Serialize + ?Sized>(
    value: &T,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), WriteError> {
    value.serialize(&mut Writer {
        out,
        depth,
        session_dict: false,
    })
}

/// Writes into a byte buffer, counting the nesting of arrays and objects.
struct Writer<'o> {
    out: &'o mut Vec<u8>,
    depth: usize,
    /// The next map is the session dict ([`SessionData`](crate::SessionData)): an
    /// object whatever its keys, never a tag.
    session_dict: bool,
}

impl Writer<'_> {
    /// One level deeper, refusing more than [`MAX_WRITE_DEPTH`].
    fn enter(&mut self) -> Result<(), WriteError> {
        self.depth += 1;
        if self.depth > MAX_WRITE_DEPTH {
            return refuse("nested deeper than 900 levels, which Django may not read back");
        }
        Ok(())
    }

    fn number(&mut self, n: impl fmt::Display) -> Result<(), WriteError> {
        write!(self.out, "{n}").map_err(ser::Error::custom)
    }

    fn string(&mut self, s: &str) {
        escape_str(s, self.out);
    }

    /// A key and the `:` after it: a reserved key is written as the Python string it
    /// stands for.
    fn key(&mut self, key: &str) -> Result<(), WriteError> {
        match reserved_key(key).map_err(ser::Error::custom)? {
            ReservedKey::Plain(s) => self.string(s),
            ReservedKey::Surrogates(text) => {
                self.out.push(b'"');
                self.out.extend_from_slice(text.as_bytes());
                self.out.push(b'"');
            }
        }
        self.out.push(b':');
        Ok(())
    }
}

/// Python's `json.dumps` string escape (`ensure_ascii=True`): printable ASCII as is,
/// `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, everything else `\uXXXX` (lowercase,
/// surrogate pairs above U+FFFF). With the quotes.
fn escape_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if b < 0x80 {
            escape_unit(u16::from(b), out);
            i += 1;
        } else {
            let ch = s[i..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
            let mut units = [0u16; 2];
            for &unit in ch.encode_utf16(&mut units).iter() {
                escape_unit(unit, out);
            }
            i += ch.len_utf8();
        }
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// [`escape_str`] for UTF-16 code units (which may hold lone surrogates), without the
/// quotes.
pub(super) fn escape_units(units: &[u16], out: &mut Vec<u8>) {
    for &unit in units {
        escape_unit(unit, out);
    }
}

fn escape_unit(unit: u16, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match unit {
        0x22 => b'"',
        0x5c => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        0x0a => b'n',
        0x0d => b'r',
        0x09 => b't',
        0x20..=0x7e => {
            // Printable ASCII.
            out.push(unit.to_le_bytes()[0]);
            return;
        }
        _ => {
            out.extend_from_slice(b"\\u");
            for shift in [12, 8, 4, 0] {
                out.push(HEX[usize::from((unit >> shift) & 0xf)]);
            }
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

/// Python's `repr(float)` (and `json.dumps`'s float text): `NaN`, `Infinity`,
/// `-Infinity`, else the shortest round-trip digits, positional when the decimal
/// exponent is in -4..16, otherwise `d.ddde+XX`.
pub(super) fn python_float_repr(value: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_python_float(value, &mut out);
    out.into_iter().map(char::from).collect()
}

/// [`python_float_repr`], appended to `out` without allocating.
fn write_python_float(value: f64, out: &mut Vec<u8>) {
    if value.is_nan() {
        return out.extend_from_slice(b"NaN");
    }
    if value.is_infinite() {
        let text: &[u8] = if value > 0.0 {
            b"Infinity"
        } else {
            b"-Infinity"
        };
        return out.extend_from_slice(text);
    }
    // `{:e}` gives the shortest round-trip digits as `-d.ddde<exp>`: at most 17
    // digits, a sign, a point and a 4-character exponent.
    let mut buf = [0u8; 32];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    if write!(cursor, "{value:e}").is_err() {
        return out.extend_from_slice(b"NaN"); // unreachable: 32 bytes always suffice
    }
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    let sci = &buf[..len];
    let e = sci.iter().position(|&b| b == b'e').unwrap_or(len);
    let (mantissa, exp) = (&sci[..e], sci.get(e + 1..).unwrap_or_default());
    let exp: i32 = std::str::from_utf8(exp)
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    if mantissa.first() == Some(&b'-') {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut n = 0;
    for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
        digits[n] = b;
        n += 1;
    }
    let digits = &digits[..n];
    if (-4..16).contains(&exp) {
        // Positional: `point` digits before the decimal point.
        let point = exp + 1;
        if point <= 0 {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + point.unsigned_abs() as usize, b'0');
            out.extend_from_slice(digits);
        } else {
            let point = point.unsigned_abs() as usize;
            if point >= digits.len() {
                out.extend_from_slice(digits);
                out.resize(out.len() + point - digits.len(), b'0');
                out.extend_from_slice(b".0");
            } else {
                out.extend_from_slice(&digits[..point]);
                out.push(b'.');
                out.extend_from_slice(&digits[point..]);
            }
        }
    } else {
        out.extend_from_slice(&digits[..1]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let magnitude = exp.unsigned_abs();
        if magnitude < 10 {
            out.push(b'0');
        }
        write_u64(u64::from(magnitude), out);
    }
}

/// Decimal digits of `n`, without the formatting machinery.
fn write_u64(mut n: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut start = buf.len();
    loop {
        start -= 1;
        // A digit: below 10.
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[start..]);
}

fn write_i64(n: i64, out: &mut Vec<u8>) {
    if n < 0 {
        out.push(b'-');
    }
    write_u64(n.unsigned_abs(), out);
}

impl<'a, 'o> ser::Serializer for &'a mut Writer<'o> {
    type Ok = ();
    type Error = WriteError;
    type SerializeSeq = Seq<'a, 'o>;
    type SerializeTuple = Seq<'a, 'o>;
    type SerializeTupleStruct = Seq<'a, 'o>;
    type SerializeTupleVariant = Seq<'a, 'o>;
    type SerializeMap = Object<'a, 'o>;
    type SerializeStruct = Object<'a, 'o>;
    type SerializeStructVariant = Object<'a, 'o>;

    fn serialize_bool(self, v: bool) -> Result<(), WriteError> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), WriteError> {
        write_i64(i64::from(v), self.out);
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result<(), WriteError> {
        write_i64(i64::from(v), self.out);
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result<(), WriteError> {
        write_i64(i64::from(v), self.out);
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<(), WriteError> {
        write_i64(v, self.out);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), WriteError> {
        self.number(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), WriteError> {
        write_u64(u64::from(v), self.out);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<(), WriteError> {
        write_u64(u64::from(v), self.out);
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<(), WriteError> {
        write_u64(u64::from(v), self.out);
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<(), WriteError> {
        write_u64(v, self.out);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), WriteError> {
        self.number(v)
    }
    /// Python has no 32-bit float: the value is widened.
    fn serialize_f32(self, v: f32) -> Result<(), WriteError> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), WriteError> {
        write_python_float(v, self.out);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), WriteError> {
        self.string(v.encode_utf8(&mut [0u8; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), WriteError> {
        self.string(v);
        Ok(())
    }
    /// An array of integers, as `serde_json` writes bytes.
    fn serialize_bytes(self, v: &[u8]) -> Result<(), WriteError> {
        use ser::SerializeSeq as _;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result<(), WriteError> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), WriteError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), WriteError> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), WriteError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), WriteError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        self.session_dict = name == SESSION_DATA_NEWTYPE;
        value.serialize(self)
    }
    /// `{"variant": value}`, as `serde_json` writes it.
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        self.enter()?;
        self.out.push(b'{');
        self.key(variant)?;
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        self.depth -= 1;
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'a, 'o>, WriteError> {
        self.enter()?;
        self.out.push(b'[');
        Ok(Seq {
            writer: self,
            first: true,
            variant: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'a, 'o>, WriteError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Seq<'a, 'o>, WriteError> {
        self.serialize_seq(Some(len))
    }
    /// `{"variant": [...]}`.
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Seq<'a, 'o>, WriteError> {
        self.enter()?;
        self.out.push(b'{');
        self.key(variant)?;
        let mut seq = self.serialize_seq(Some(len))?;
        seq.variant = true;
        Ok(seq)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'a, 'o>, WriteError> {
        // The depth is checked when the `{` is written: a tag is no object in Python.
        self.depth += 1;
        let state = if std::mem::take(&mut self.session_dict) {
            ObjectState::SessionDict
        } else {
            ObjectState::Start
        };
        Ok(Object {
            writer: self,
            state,
            variant: false,
        })
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Object<'a, 'o>, WriteError> {
        self.serialize_map(Some(len))
    }
    /// `{"variant": {...}}`.
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Object<'a, 'o>, WriteError> {
        self.enter()?;
        self.out.push(b'{');
        self.key(variant)?;
        let mut object = self.serialize_map(Some(len))?;
        object.variant = true;
        Ok(object)
    }
}

/// An array (in a `{"variant": [...]}` when `variant`).
pub(super) struct Seq<'a, 'o> {
    writer: &'a mut Writer<'o>,
    first: bool,
    variant: bool,
}

impl Seq<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        if !self.first {
            self.writer.out.push(b',');
        }
        self.first = false;
        value.serialize(&mut *self.writer)
    }

    fn close(self) -> Result<(), WriteError> {
        self.writer.out.push(b']');
        self.writer.depth -= 1;
        if self.variant {
            self.writer.out.push(b'}');
            self.writer.depth -= 1;
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Seq<'_, '_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.element(value)
    }
    fn end(self) -> Result<(), WriteError> {
        self.close()
    }
}

impl ser::SerializeTuple for Seq<'_, '_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.element(value)
    }
    fn end(self) -> Result<(), WriteError> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Seq<'_, '_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.element(value)
    }
    fn end(self) -> Result<(), WriteError> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Seq<'_, '_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.element(value)
    }
    fn end(self) -> Result<(), WriteError> {
        self.close()
    }
}

/// Where an object is: before its first key it may still turn out to be a tag.
enum ObjectState {
    Start,
    /// Before the first key of the session dict, which is no tag.
    SessionDict,
    Entries,
    TagValue(Tag),
    TagDone,
}

/// An object, or the Python value a tag stands for (in a `{"variant": {...}}` when
/// `variant`).
pub(super) struct Object<'a, 'o> {
    writer: &'a mut Writer<'o>,
    state: ObjectState,
    variant: bool,
}

impl Object<'_, '_> {
    fn open(&mut self) -> Result<(), WriteError> {
        if self.writer.depth > MAX_WRITE_DEPTH {
            return refuse("nested deeper than 900 levels, which Django may not read back");
        }
        self.writer.out.push(b'{');
        Ok(())
    }

    fn key(&mut self, key: &str) -> Result<(), WriteError> {
        match self.state {
            ObjectState::Start => {
                if let Some(tag) = Tag::of_key(key) {
                    self.state = ObjectState::TagValue(tag);
                    return Ok(());
                }
                self.open()?;
            }
            ObjectState::SessionDict => self.open()?,
            ObjectState::Entries => {
                if Tag::of_key(key).is_some() {
                    return refuse("a \\0py: tag key in an object with other keys");
                }
                self.writer.out.push(b',');
            }
            ObjectState::TagValue(_) | ObjectState::TagDone => {
                return refuse("a \\0py: tag object has exactly one entry");
            }
        }
        self.state = ObjectState::Entries;
        self.writer.key(key)
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        match self.state {
            ObjectState::Entries => value.serialize(&mut *self.writer),
            ObjectState::TagValue(tag) => {
                let payload = match serde_json::to_value(value) {
                    Ok(serde_json::Value::String(payload)) => payload,
                    _ => return refuse("the value of a \\0py: tag is a string"),
                };
                tag.check(&payload).map_err(ser::Error::custom)?;
                let quote = tag == Tag::Str;
                if quote {
                    self.writer.out.push(b'"');
                }
                self.writer.out.extend_from_slice(payload.as_bytes());
                if quote {
                    self.writer.out.push(b'"');
                }
                self.state = ObjectState::TagDone;
                Ok(())
            }
            ObjectState::Start | ObjectState::SessionDict | ObjectState::TagDone => {
                refuse("an object value without a key")
            }
        }
    }

    fn close(mut self) -> Result<(), WriteError> {
        match self.state {
            ObjectState::Start | ObjectState::SessionDict => {
                self.open()?;
                self.writer.out.push(b'}');
            }
            ObjectState::Entries => self.writer.out.push(b'}'),
            ObjectState::TagDone => {}
            ObjectState::TagValue(_) => return refuse("a \\0py: tag without its value"),
        }
        self.writer.depth -= 1;
        if self.variant {
            self.writer.out.push(b'}');
            self.writer.depth -= 1;
        }
        Ok(())
    }
}

impl ser::SerializeMap for Object<'_, '_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), WriteError> {
        key.serialize(KeyWriter { object: self })
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.value(value)
    }
    fn end(self) -> Result<(), WriteError> {
        self.close()
    }
}

impl ser::SerializeStruct for Object<'_, '_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        self.key(key)?;
        self.value(value)
    }
    fn end(self) -> Result<(), WriteError> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Object<'_, '_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        self.key(key)?;
        self.value(value)
    }
    fn end(self) -> Result<(), WriteError> {
        self.close()
    }
}

/// Writes a map key: strings as they are; like Python's `json.dumps`, integers,
/// floats, booleans and `None` as their JSON text in a string.
struct KeyWriter<'k, 'a, 'o> {
    object: &'k mut Object<'a, 'o>,
}

impl KeyWriter<'_, '_, '_> {
    fn text(self, key: impl fmt::Display) -> Result<(), WriteError> {
        self.object.key(&key.to_string())
    }
}

fn key_must_be_a_string<T>() -> Result<T, WriteError> {
    refuse("a map key must be a string, a number, a boolean or None")
}

impl ser::Serializer for KeyWriter<'_, '_, '_> {
    type Ok = ();
    type Error = WriteError;
    type SerializeSeq = ser::Impossible<(), WriteError>;
    type SerializeTuple = ser::Impossible<(), WriteError>;
    type SerializeTupleStruct = ser::Impossible<(), WriteError>;
    type SerializeTupleVariant = ser::Impossible<(), WriteError>;
    type SerializeMap = ser::Impossible<(), WriteError>;
    type SerializeStruct = ser::Impossible<(), WriteError>;
    type SerializeStructVariant = ser::Impossible<(), WriteError>;

    fn serialize_str(self, v: &str) -> Result<(), WriteError> {
        self.object.key(v)
    }
    fn serialize_char(self, v: char) -> Result<(), WriteError> {
        self.object.key(v.encode_utf8(&mut [0u8; 4]))
    }
    fn serialize_bool(self, v: bool) -> Result<(), WriteError> {
        self.text(v)
    }
    fn serialize_i8(self, v: i8) -> Result<(), WriteError> {
        self.text(v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), WriteError> {
        self.text(v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), WriteError> {
        self.text(v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), WriteError> {
        self.text(v)
    }
    fn serialize_i128(self, v: i128) -> Result<(), WriteError> {
        self.text(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), WriteError> {
        self.text(v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), WriteError> {
        self.text(v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), WriteError> {
        self.text(v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), WriteError> {
        self.text(v)
    }
    fn serialize_u128(self, v: u128) -> Result<(), WriteError> {
        self.text(v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), WriteError> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), WriteError> {
        self.text(python_float_repr(v))
    }
    fn serialize_none(self) -> Result<(), WriteError> {
        self.text("null")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), WriteError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), WriteError> {
        self.text("null")
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), WriteError> {
        self.text("null")
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), WriteError> {
        self.object.key(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        value.serialize(self)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<(), WriteError> {
        key_must_be_a_string()
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), WriteError> {
        key_must_be_a_string()
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, WriteError> {
        key_must_be_a_string()
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, WriteError> {
        key_must_be_a_string()
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, WriteError> {
        key_must_be_a_string()
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, WriteError> {
        key_must_be_a_string()
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, WriteError> {
        key_must_be_a_string()
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, WriteError> {
        key_must_be_a_string()
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, WriteError> {
        key_must_be_a_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn dumps<T: Serialize + ?Sized>(value: &T) -> Result<String, WriteError> {
        let mut out = Vec::new();
        write(value, 0, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn floats_use_python_repr() {
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
            (-0.0, "-0.0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (f, want) in cases {
            assert_eq!(python_float_repr(f), want, "{f}");
            assert_eq!(dumps(&f).unwrap(), want, "{f}");
        }
    }

    #[test]
    fn integers() {
        assert_eq!(
            dumps(&(0u8, -1i8, i64::MIN, u64::MAX, i32::MAX, 1e-300, -1e300)).unwrap(),
            "[0,-1,-9223372036854775808,18446744073709551615,2147483647,1e-300,-1e+300]"
        );
    }

    #[test]
    fn strings_escape_as_python() {
        assert_eq!(
            dumps("café 中文 😀\u{7f}\u{1}\n\"\\/\u{8}\u{c}\t\r").unwrap(),
            r#""caf\u00e9 \u4e2d\u6587 \ud83d\ude00\u007f\u0001\n\"\\/\b\f\t\r""#
        );
    }

    #[test]
    fn tags_are_written_as_python_values() {
        let v = json!({
            "f": [{"\u{0}py:float": "NaN"}, {"\u{0}py:float": "-Infinity"}],
            "i": {"\u{0}py:int": "-18446744073709551616"},
            "s": {"\u{0}py:str": "\\ud800"},
            "\u{0}py:str:\\udfff": 1,
            "\u{0}py:esc:\u{0}py:x": {},
        });
        assert_eq!(
            dumps(&v).unwrap(),
            r#"{"f":[NaN,-Infinity],"i":-18446744073709551616,"s":"\ud800","\udfff":1,"\u0000py:x":{}}"#
        );
    }

    #[test]
    fn malformed_reserved_forms_are_refused() {
        for bad in [
            json!({"\u{0}py:x": 1}),
            json!({"\u{0}py:esc:x": 1}),
            json!({"\u{0}py:str:a": 1}),
            json!({"\u{0}py:float": "nan"}),
            json!({"\u{0}py:float": 1.5}),
            json!({"\u{0}py:int": "5"}),
            json!({"\u{0}py:float": "NaN", "b": 1}),
            json!({"b": 1, "\u{0}py:float": "NaN"}),
        ] {
            assert!(dumps(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_shapes_and_keys_as_python_and_serde_json() {
        #[derive(serde::Serialize)]
        enum E {
            Unit,
            New(u8),
            Tuple(u8, u8),
            Struct { a: u8 },
        }
        let mut keys = std::collections::BTreeMap::new();
        keys.insert(1, "one");
        assert_eq!(dumps(&keys).unwrap(), r#"{"1":"one"}"#);
        assert_eq!(
            dumps(&(E::Unit, E::New(1), E::Tuple(1, 2), E::Struct { a: 3 })).unwrap(),
            r#"["Unit",{"New":1},{"Tuple":[1,2]},{"Struct":{"a":3}}]"#
        );
        assert_eq!(
            dumps(&(u128::MAX, i128::MIN, 1.5f32, 'é', None::<u8>, ())).unwrap(),
            r#"[340282366920938463463374607431768211455,-170141183460469231731687303715884105728,1.5,"\u00e9",null,null]"#
        );
        let mut bool_keys = std::collections::BTreeMap::new();
        bool_keys.insert(true, 1);
        assert_eq!(dumps(&bool_keys).unwrap(), r#"{"true":1}"#);
        let mut bad = std::collections::BTreeMap::new();
        bad.insert(vec![1], 1);
        assert!(dumps(&bad).is_err());
    }

    #[test]
    fn depth_limit() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let ok: serde_json::Value = {
            let mut v = json!([]);
            for _ in 1..MAX_WRITE_DEPTH {
                v = json!([v]);
            }
            v
        };
        assert_eq!(dumps(&ok).unwrap(), deep(MAX_WRITE_DEPTH));
        assert!(dumps(&json!([ok.clone()])).is_err());
        assert!(dumps(&json!({"a": ok.clone()})).is_err());
        // A tag is not a level.
        let mut tagged = json!({"\u{0}py:float": "NaN"});
        for _ in 0..MAX_WRITE_DEPTH {
            tagged = json!([tagged]);
        }
        assert!(dumps(&tagged).is_ok());
    }
}
