//! The raw fred client doing what the cache store does on Redis: `SET NX PX`
//! (create), `GET` (load), `SET XX PX` (save), `DEL` (delete), with the text the
//! store's codec wrote once up front, on a client built as the store's is.

use async_trait::async_trait;
use fred::prelude::{Client, Expiration, KeysInterface, SetOptions, Value};
use session_api::SessionKey;

use super::{Encoded, TTL};
use crate::error::{BenchError, Result};
use crate::payload::{Payload, PayloadSize};
use crate::subject::Subject;

fn raw(err: fred::error::Error) -> BenchError {
    BenchError::peer("raw fred", err)
}

/// The raw client.
pub struct RawRedis {
    client: Client,
    prefix: String,
    encoded: Encoded,
}

impl RawRedis {
    /// Commands on `client` under keys `prefix + session key`, writing `encoded`.
    pub fn new(client: Client, prefix: String, encoded: Encoded) -> Self {
        RawRedis {
            client,
            prefix,
            encoded,
        }
    }

    async fn set(&self, key: &str, text: &str, mode: SetOptions) -> Result<()> {
        let reply: Value = self
            .client
            .set(
                key,
                text,
                Some(Expiration::PX(TTL.whole_milliseconds() as i64)),
                Some(mode),
                false,
            )
            .await
            .map_err(raw)?;
        match reply {
            Value::Null => Err(BenchError::NotFound("raw set")),
            _ => Ok(()),
        }
    }

    async fn get(&self, key: &str) -> Result<String> {
        let text: Option<String> = self.client.get(key).await.map_err(raw)?;
        text.ok_or(BenchError::NotFound("raw get"))
    }
}

/// A session of the raw client: its Redis key and which payload it holds.
#[derive(Debug, Clone)]
pub struct RedisKey {
    key: String,
    size: PayloadSize,
}

#[async_trait]
impl Subject for RawRedis {
    type Key = RedisKey;
    type Saved = RedisKey;

    async fn create(&self, payload: &Payload) -> Result<RedisKey> {
        let key = format!("{}{}", self.prefix, SessionKey::generate().as_str());
        self.set(&key, self.encoded.text(payload.size, 0)?, SetOptions::NX)
            .await?;
        Ok(RedisKey {
            key,
            size: payload.size,
        })
    }

    async fn load(&self, key: &RedisKey) -> Result<()> {
        self.get(&key.key).await.map(drop)
    }

    fn saved(&self, key: &RedisKey, _payload: &Payload) -> RedisKey {
        key.clone()
    }

    async fn save(&self, key: &RedisKey, n: u64) -> Result<()> {
        let text = self.encoded.text(key.size, 1 + n % 2)?;
        self.set(&key.key, text, SetOptions::XX).await
    }

    async fn cycle(&self, key: &RedisKey, _counter: u64) -> Result<()> {
        let text = self.get(&key.key).await?;
        let other = self.encoded.other(key.size, &text)?;
        self.set(&key.key, other, SetOptions::XX).await
    }

    async fn delete(&self, key: &RedisKey) -> Result<()> {
        let _: i64 = self.client.del(&key.key).await.map_err(raw)?;
        Ok(())
    }
}
