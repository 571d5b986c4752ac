//! The two session payloads every operation is measured with: a login session of
//! about 200 bytes of JSON and a 4 KiB session (a shopping cart).

use serde_json::{json, Map, Value};
use session_api::SessionData;

/// The key the request cycle modifies.
pub const COUNTER: &str = "counter";

/// Which payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadSize {
    /// Django's login keys and a counter: about 200 bytes of JSON.
    Small,
    /// The login keys and a cart: about 4 KiB of JSON.
    Large,
}

impl PayloadSize {
    /// Both, small first.
    pub const ALL: [PayloadSize; 2] = [PayloadSize::Small, PayloadSize::Large];

    /// The label of the table.
    pub fn label(self) -> &'static str {
        match self {
            PayloadSize::Small => "200 B",
            PayloadSize::Large => "4 KiB",
        }
    }

    /// The name the Django peer knows the payload by.
    pub fn name(self) -> &'static str {
        match self {
            PayloadSize::Small => "small",
            PayloadSize::Large => "large",
        }
    }
}

/// One payload in the forms the subjects take it.
#[derive(Debug, Clone)]
pub struct Payload {
    /// Which one.
    pub size: PayloadSize,
    /// The session data.
    pub data: SessionData,
    /// The same as a JSON object.
    pub map: Map<String, Value>,
    /// The same as JSON text.
    pub json: String,
}

impl Payload {
    /// The payload of `size`; the same bytes on every run.
    pub fn new(size: PayloadSize) -> Self {
        let mut map = login();
        if size == PayloadSize::Large {
            map.insert("cart".to_owned(), cart(4096));
        }
        let json = Value::Object(map.clone()).to_string();
        Payload {
            size,
            data: SessionData::from_map(map.clone()),
            map,
            json,
        }
    }
}

impl Payload {
    /// The data with the counter at `n`: what a save writes (each save changes the
    /// row, as the save of a session that changed does).
    pub fn with_counter(&self, n: u64) -> SessionData {
        let mut data = self.data.clone();
        data.insert(COUNTER.to_owned(), Value::from(n));
        data
    }
}

/// What `django.contrib.auth.login` stores, and the counter.
fn login() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "_auth_user_id": "1042",
        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
        "_auth_user_hash": "9c4b3f0e5a1d2c7b8e6f4a3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b",
        COUNTER: 0,
    }) else {
        unreachable!("a JSON object literal")
    };
    map
}

/// Cart lines until the whole session is about `target` bytes of JSON: varied
/// names, SKUs and prices from a fixed linear congruential sequence, so the text
/// compresses as real JSON does (neither a repeated string nor noise).
fn cart(target: usize) -> Value {
    const WORDS: [&str; 16] = [
        "linen", "walnut", "cobalt", "ember", "harbor", "juniper", "meadow", "quartz", "saffron",
        "tundra", "velvet", "willow", "amber", "basalt", "cedar", "dune",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let base = Value::Object(login()).to_string().len() + r#","cart":[]"#.len();
    let mut lines = Vec::new();
    let mut size = base;
    while size < target {
        let n = next();
        let line = json!({
            "sku": format!("SKU-{:06}", n % 1_000_000),
            "name": format!("{} {} {}", WORDS[(n % 16) as usize], WORDS[((n >> 4) % 16) as usize], n % 997),
            "qty": 1 + n % 5,
            "price": format!("{}.{:02}", 3 + n % 240, n % 100),
        });
        size += line.to_string().len() + 1;
        lines.push(line);
    }
    Value::Array(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_as_labelled() {
        let small = Payload::new(PayloadSize::Small).json.len();
        let large = Payload::new(PayloadSize::Large).json.len();
        assert!((150..=250).contains(&small), "{small}");
        assert!((4096..4096 + 200).contains(&large), "{large}");
        assert_eq!(
            Payload::new(PayloadSize::Large).json,
            Payload::new(PayloadSize::Large).json
        );
    }
}
