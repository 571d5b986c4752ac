//! A cache whose every call fails, like Redis down: shared by the cache and cached_db
//! tests.

use std::time::Duration;

use async_trait::async_trait;
use session_api::store::Version;
use session_api::{Error, Result};
use session_stores::cache::{Cache, Replaced, Stamp, Touched};

/// Fails every call as an unreachable cache does: [`Error::Unavailable`].
#[derive(Debug)]
pub struct Down;

fn outage() -> Error {
    Error::unavailable(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "cache down",
    ))
}

#[async_trait]
impl Cache for Down {
    async fn add(&self, _: &str, _: &[u8], _: Duration, _: &Stamp) -> Result<bool> {
        Err(outage())
    }
    async fn replace(&self, _: &str, _: &[u8], _: Duration, _: Option<&Stamp>) -> Result<Replaced> {
        Err(outage())
    }
    async fn set(&self, _: &str, _: &[u8], _: Duration) -> Result<()> {
        Err(outage())
    }
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>> {
        Err(outage())
    }
    async fn get_with_ttl(&self, _: &str) -> Result<Option<(Vec<u8>, Option<Duration>)>> {
        Err(outage())
    }
    async fn delete(&self, _: &str) -> Result<()> {
        Err(outage())
    }
    async fn compare_and_set(&self, _: &str, _: &[u8], _: &[u8], _: Duration) -> Result<bool> {
        Err(outage())
    }
    async fn replace_if_version(
        &self,
        _: &str,
        _: Version,
        _: &[u8],
        _: Duration,
        _: &Stamp,
    ) -> Result<Replaced> {
        Err(outage())
    }
    async fn touch(&self, _: &str, _: &Stamp, _: Duration, _: &Stamp, _: bool) -> Result<Touched> {
        Err(outage())
    }
    async fn take(&self, _: &str) -> Result<Option<Vec<u8>>> {
        Err(outage())
    }
    async fn index_add(&self, _: &str, _: &str, _: i64, _: Duration, _: i64) -> Result<()> {
        Err(outage())
    }
    async fn index_members(&self, _: &str, _: i64) -> Result<Vec<String>> {
        Err(outage())
    }
    async fn index_remove(&self, _: &str, _: &[String]) -> Result<()> {
        Err(outage())
    }
}
