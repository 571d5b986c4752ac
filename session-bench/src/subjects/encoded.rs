//! The store's own text of each payload, for the raw clients.

use std::collections::HashMap;
use std::sync::Arc;

use session_api::{JsonSerializer, SecretKeys, SessionCodec, SystemClock};

use crate::error::{BenchError, Result};
use crate::payload::{Payload, PayloadSize};

/// The stores' text of each payload with the counter at 0, 1 and 2, written once
/// by the store's codec, for the raw clients: they write the bytes the store would,
/// without the store's encoding work.
#[derive(Debug, Clone)]
pub struct Encoded(Arc<HashMap<PayloadSize, [String; 3]>>);

impl Encoded {
    /// The texts of `payloads` under `secret`.
    ///
    /// # Errors
    ///
    /// [`BenchError::Store`] when the codec refuses a payload.
    pub fn new(payloads: &[Payload], secret: &str) -> Result<Self> {
        let codec = SessionCodec::new(
            &SecretKeys::new(secret),
            Arc::new(SystemClock),
            Arc::new(JsonSerializer),
        );
        let mut texts = HashMap::new();
        for p in payloads {
            let [a, b, c] = [0, 1, 2].map(|n| codec.encode(&p.with_counter(n)));
            texts.insert(p.size, [a?, b?, c?]);
        }
        Ok(Encoded(Arc::new(texts)))
    }

    /// The text of `size` with the counter at `n` (0, 1 or 2).
    pub fn text(&self, size: PayloadSize, n: u64) -> Result<&str> {
        self.0
            .get(&size)
            .and_then(|texts| texts.get(n as usize))
            .map(String::as_str)
            .ok_or_else(|| BenchError::Setup("no encoded payload".into()))
    }

    /// A text of `size` other than `current`.
    pub fn other(&self, size: PayloadSize, current: &str) -> Result<&str> {
        let first = self.text(size, 1)?;
        if first == current {
            self.text(size, 2)
        } else {
            Ok(first)
        }
    }
}
