//! Typed reads of a [`Value`] that may hold the tags of [`super::python`]: a tag
//! deserializes as the Python value it stands for (`NaN` as an `f64`, a big integer as
//! an `i128`/`u128`), an escaped key as the original key.

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

use super::python::{python_key, tag_of, PythonOnly, PythonStr, RESERVED_PREFIX};

type Error = serde_json::Error;

/// `T` from `value`, reading tags as the values they stand for.
pub(crate) fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, Error> {
    if has_reserved(value) {
        T::deserialize(Tagged(value))
    } else {
        // Nothing reserved: serde_json's own reading, with all its conveniences.
        T::deserialize(value)
    }
}

/// Whether a tag or a reserved key occurs anywhere in `value`.
fn has_reserved(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(has_reserved),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.starts_with(RESERVED_PREFIX) || has_reserved(v)),
        _ => false,
    }
}

struct Tagged<'de>(&'de Value);

impl<'de> de::Deserializer<'de> for Tagged<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Items(items.iter())),
            Value::Object(map) if tag_of(map).is_some() => match PythonOnly::from_value(self.0) {
                Some(PythonOnly::Float(f)) => visitor.visit_f64(f),
                Some(PythonOnly::Int(digits)) => {
                    if let Ok(n) = digits.parse::<i128>() {
                        visitor.visit_i128(n)
                    } else if let Ok(n) = digits.parse::<u128>() {
                        visitor.visit_u128(n)
                    } else {
                        Err(de::Error::custom(
                            "an integer beyond 128 bits: read it with get_value and PythonOnly",
                        ))
                    }
                }
                Some(PythonOnly::Str(_)) => Err(de::Error::custom(
                    "a string with lone surrogates is not valid Unicode: read it with get_value and PythonOnly",
                )),
                None => visitor.visit_map(Entries::new(map)),
            },
            Value::Object(map) => visitor.visit_map(Entries::new(map)),
            other => de::Deserializer::deserialize_any(other, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) if map.len() == 1 && tag_of(map).is_none() => {
                let (variant, value) = map
                    .iter()
                    .next()
                    .ok_or_else(|| de::Error::custom("an enum is a one-entry object"))?;
                visitor.visit_enum(Variant {
                    name: key(variant)?,
                    value,
                })
            }
            other => other.deserialize_enum(name, variants, visitor),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// The Python string a key stands for, when it is valid Unicode.
fn key(key: &str) -> Result<&str, Error> {
    match python_key(key) {
        Some(PythonStr::Unicode(s)) => Ok(s),
        Some(PythonStr::Surrogates(_)) => Err(de::Error::custom(
            "a key with lone surrogates is not valid Unicode",
        )),
        None => Err(de::Error::custom("a malformed reserved \\0py: key")),
    }
}

struct Items<'de>(std::slice::Iter<'de, Value>);

impl<'de> de::SeqAccess<'de> for Items<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|v| seed.deserialize(Tagged(v)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries<'de> {
    iter: serde_json::map::Iter<'de>,
    value: Option<&'de Value>,
}

impl<'de> Entries<'de> {
    fn new(map: &'de Map<String, Value>) -> Self {
        Entries {
            iter: map.iter(),
            value: None,
        }
    }
}

impl<'de> de::MapAccess<'de> for Entries<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(Key(key(k)?)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a map value before its key"))?;
        seed.deserialize(Tagged(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A map key: a string, or, for a numeric or boolean key type, the number or boolean
/// it spells (as `serde_json` reads keys).
struct Key<'de>(&'de str);

macro_rules! parsed_key {
    ($($method:ident $visit:ident $ty:ty),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                match self.0.parse::<$ty>() {
                    Ok(v) => visitor.$visit(v),
                    Err(_) => Err(de::Error::invalid_value(de::Unexpected::Str(self.0), &visitor)),
                }
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Key<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.0)
    }

    parsed_key! {
        deserialize_bool visit_bool bool,
        deserialize_i8 visit_i8 i8,
        deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32,
        deserialize_i64 visit_i64 i64,
        deserialize_i128 visit_i128 i128,
        deserialize_u8 visit_u8 u8,
        deserialize_u16 visit_u16 u16,
        deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64,
        deserialize_u128 visit_u128 u128,
        deserialize_f32 visit_f32 f32,
        deserialize_f64 visit_f64 f64,
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(IntoDeserializer::<Error>::into_deserializer(self.0))
    }

    forward_to_deserialize_any! {
        char str string bytes byte_buf option unit unit_struct seq tuple tuple_struct map
        struct identifier ignored_any
    }
}

/// The variant of a `{"variant": value}` enum.
struct Variant<'de> {
    name: &'de str,
    value: &'de Value,
}

impl<'de> de::EnumAccess<'de> for Variant<'de> {
    type Error = Error;
    type Variant = Tagged<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Tagged<'de>), Error> {
        let variant = seed.deserialize(Key(self.name))?;
        Ok((variant, Tagged(self.value)))
    }
}

impl<'de> de::VariantAccess<'de> for Tagged<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[test]
    fn tags_read_as_python_values() {
        let v = json!([{"\u{0}py:float": "NaN"}, {"\u{0}py:float": "-Infinity"}, 1.5]);
        let floats: Vec<f64> = from_value(&v).unwrap();
        assert!(floats[0].is_nan() && floats[1] == f64::NEG_INFINITY && floats[2] == 1.5);
        let big: (u128, i128) = from_value(&json!([
            {"\u{0}py:int": "340282366920938463463374607431768211455"},
            {"\u{0}py:int": "-18446744073709551616"}
        ]))
        .unwrap();
        assert_eq!(big, (u128::MAX, -18_446_744_073_709_551_616));
        assert!(from_value::<u128>(
            &json!({"\u{0}py:int": "340282366920938463463374607431768211456"})
        )
        .is_err());
        assert!(from_value::<String>(&json!({"\u{0}py:str": "\\ud800"})).is_err());
        // A tag is not a number of another type.
        assert!(from_value::<u64>(&json!({"\u{0}py:float": "NaN"})).is_err());
    }

    #[test]
    fn keys_and_shapes() {
        #[derive(Deserialize, Debug, PartialEq)]
        enum E {
            Unit,
            New(f64),
            Struct { x: f64 },
        }
        let m: BTreeMap<String, u8> =
            from_value(&json!({"\u{0}py:esc:\u{0}py:k": 1, "n": 2})).unwrap();
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            [("\u{0}py:k".to_owned(), 1), ("n".to_owned(), 2)]
        );
        let ints: BTreeMap<u32, f64> =
            from_value(&json!({"7": {"\u{0}py:float": "Infinity"}})).unwrap();
        assert_eq!(ints[&7], f64::INFINITY);
        let e: Vec<E> = from_value(
            &json!(["Unit", {"New": {"\u{0}py:float": "Infinity"}}, {"Struct": {"x": 1.0}}]),
        )
        .unwrap();
        assert_eq!(e, [E::Unit, E::New(f64::INFINITY), E::Struct { x: 1.0 }]);
        let opt: Option<f64> = from_value(&json!({"\u{0}py:float": "Infinity"})).unwrap();
        assert_eq!(opt, Some(f64::INFINITY));
        assert!(from_value::<BTreeMap<String, u8>>(&json!({"\u{0}py:str:\\ud800": 1})).is_err());
        assert!(from_value::<BTreeMap<String, u8>>(&json!({"\u{0}py:bad": 1})).is_err());
    }
}
