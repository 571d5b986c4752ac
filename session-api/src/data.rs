//! The session dictionary (rules B6, B7, F1).

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

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
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionData(Map<String, Value>);

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
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] naming the key and the wanted type, never the value
    /// (serde's own message quotes it, and errors are logged, rule H5).
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.0
            .get(key)
            .map(|v| {
                T::deserialize(v).map_err(|_| {
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

    /// Typed write (replaces an existing value in place, keeping its position).
    pub fn set<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<()> {
        let value = serde_json::to_value(value).map_err(Error::serialization)?;
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
}
