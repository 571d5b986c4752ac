//! The session dictionary (rules B6, B7, F1).

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::serializer;

/// Reserved key holding a custom expiry (rules C1..C4).
pub const SESSION_EXPIRY_KEY: &str = "_session_expiry";
/// Reserved key Django's auth stores the user id under (rules B7, E2).
pub const AUTH_USER_ID_KEY: &str = "_auth_user_id";
/// Reserved key Django's auth stores the authentication backend under (rule B7).
pub const AUTH_USER_BACKEND_KEY: &str = "_auth_user_backend";
/// Reserved key Django's auth stores the session hash under (rule B7).
pub const AUTH_USER_HASH_KEY: &str = "_auth_user_hash";
/// Key of the test cookie (rule B8).
pub const TEST_COOKIE_NAME: &str = "testcookie";
/// Value of the test cookie (rule B8).
pub const TEST_COOKIE_VALUE: &str = "worked";

/// Whether `key` is reserved for the framework: it begins with `_` (rule B7).
pub fn is_reserved_key(key: &str) -> bool {
    key.starts_with('_')
}

/// The session dictionary: string keys to JSON-compatible values, in insertion order
/// (Django's dict order, which the signed bytes depend on, rule F1).
///
/// ```
/// use session_api::SessionData;
/// let mut data = SessionData::new();
/// data.set("cart", &vec![3, 4]).unwrap();
/// let cart: Vec<u32> = data.get("cart").unwrap().unwrap();
/// assert_eq!(cart, [3, 4]);
/// ```
///
/// `Debug` shows only the number of keys, never a key or a value (rule H5), so a
/// session's data does not end up in logs:
///
/// ```
/// # use session_api::SessionData;
/// # let mut data = SessionData::new();
/// data.set("token", "s3cr3t").unwrap();
/// assert_eq!(format!("{data:?}"), "SessionData { keys: 1, .. }");
/// ```
///
/// Values that only Python's JSON can hold (NaN and the infinities, integers beyond
/// 64 bits, strings with lone surrogates) are kept exactly, as the reserved tags of
/// [`serializer::python`]: a Django-written session holding
/// them loads, and saves back byte for byte. [`get`](Self::get) reads a tag as the
/// value it stands for and [`set`](Self::set) writes one:
///
/// ```
/// # use session_api::SessionData;
/// # use serde_json::json;
/// let mut data = SessionData::new();
/// data.set("ratio", &f64::NAN).unwrap();
/// data.set("id", &u128::MAX).unwrap();
/// assert_eq!(data.get_value("ratio"), Some(&json!({"\u{0}py:float": "NaN"})));
/// assert!(data.get::<f64>("ratio").unwrap().unwrap().is_nan());
/// assert_eq!(data.get::<u128>("id").unwrap(), Some(u128::MAX));
/// ```
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct SessionData(Map<String, Value>);

/// The name under which [`SessionData`] serializes as a newtype around its map:
/// serializers treat newtypes as their content, and
/// [`JsonSerializer`](crate::JsonSerializer) knows from it that the map is the session
/// dict, never a tag standing for a Python value.
pub(crate) const SESSION_DATA_NEWTYPE: &str = "$session_api::SessionData";

impl Serialize for SessionData {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(SESSION_DATA_NEWTYPE, &self.0)
    }
}

impl fmt::Debug for SessionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionData")
            .field("keys", &self.0.len())
            .finish_non_exhaustive()
    }
}

impl SessionData {
    /// An empty dictionary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wraps a JSON object.
    pub fn from_map(map: Map<String, Value>) -> Self {
        SessionData(map)
    }

    /// A JSON object becomes the dictionary; any other value is not a session.
    pub fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Object(map) => Some(SessionData(map)),
            _ => None,
        }
    }

    /// The underlying JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// Consumes into the JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// Typed read: `Ok(None)` when absent, an error when present with another type.
    /// A Python-only value reads as what it stands for: NaN or an infinity as an
    /// `f64`, a big integer as an `i128` or `u128` when it fits.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] naming the key and the wanted type, never the value
    /// (serde's own message quotes it, and errors are logged, rule H5).
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.0
            .get(key)
            .map(|v| {
                serializer::from_value::<T>(v).map_err(|_| {
                    Error::serialization(format!(
                        "session value {key:?} is not a {}",
                        std::any::type_name::<T>()
                    ))
                })
            })
            .transpose()
    }

    /// Raw read.
    pub fn get_value(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Typed write (replaces an existing value in place, keeping its position). The
    /// value is stored as [`JsonSerializer`](crate::JsonSerializer) reads it back
    /// after writing it, so NaN, the infinities and integers beyond 64 bits are kept
    /// (as tags), never turned into `null` or a float.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when the value cannot be written as Python's JSON
    /// (nested deeper than [`MAX_WRITE_DEPTH`](crate::serializer::MAX_WRITE_DEPTH)
    /// counting the session dict, a map with non-scalar keys, a malformed reserved tag) or `key` is a malformed
    /// reserved key (see [`python_key`](crate::serializer::python_key)); nothing is
    /// stored then.
    pub fn set<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<()> {
        if serializer::python_key(key).is_none() {
            return Err(Error::serialization(
                "session keys beginning with \\0py: are reserved (see session_api::serializer::python)",
            ));
        }
        let value = serializer::to_python_value(value)?;
        self.insert(key.to_owned(), value);
        Ok(())
    }

    /// Raw write; returns the previous value.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        self.0.insert(key, value)
    }

    /// Removes a key keeping the order of the others (Python's `del`).
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.shift_remove(key)
    }

    /// Whether the key is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }

    /// Values in insertion order.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.0.values()
    }

    /// Pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No keys at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

impl From<Map<String, Value>> for SessionData {
    fn from(map: Map<String, Value>) -> Self {
        SessionData(map)
    }
}

impl<K: Into<String>> FromIterator<(K, Value)> for SessionData {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        SessionData(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn b7_underscore_keys_are_reserved() {
        assert!(is_reserved_key(SESSION_EXPIRY_KEY));
        assert!(is_reserved_key(AUTH_USER_ID_KEY));
        assert!(!is_reserved_key("cart"));
    }

    #[test]
    fn remove_keeps_insertion_order_like_python_dicts() {
        let mut d: SessionData = [("a", json!(1)), ("b", json!(2)), ("c", json!(3))]
            .into_iter()
            .collect();
        d.remove("a");
        assert_eq!(d.keys().cloned().collect::<Vec<_>>(), ["b", "c"]);
    }

    #[test]
    fn typed_get_reports_wrong_type_as_error() {
        let mut d = SessionData::new();
        d.set("n", &5).unwrap();
        assert_eq!(d.get::<i64>("n").unwrap(), Some(5));
        assert!(d.get::<String>("n").is_err());
        assert_eq!(d.get::<i64>("missing").unwrap(), None);
    }

    #[test]
    fn set_keeps_python_only_values_and_refuses_what_python_cannot_read() {
        let mut d = SessionData::new();
        d.set("inf", &[f64::INFINITY, f64::NEG_INFINITY]).unwrap();
        assert_eq!(
            d.get_value("inf"),
            Some(&json!([{"\u{0}py:float": "Infinity"}, {"\u{0}py:float": "-Infinity"}]))
        );
        d.set("neg", &i128::MIN).unwrap();
        assert_eq!(d.get::<i128>("neg").unwrap(), Some(i128::MIN));
        let mut deep = json!(1);
        for _ in 0..=crate::serializer::MAX_WRITE_DEPTH {
            deep = json!([deep]);
        }
        assert!(d.set("deep", &deep).is_err());
        assert!(d.set("\u{0}py:x", &1).is_err());
        assert!(d.set("bad", &json!({"\u{0}py:float": "nan"})).is_err());
        assert!(!d.contains_key("deep") && !d.contains_key("bad"));
        d.set("\u{0}py:esc:\u{0}py:x", &1).unwrap();
    }
}
