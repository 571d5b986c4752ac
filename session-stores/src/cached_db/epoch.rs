//! cached_db's epoch (see the [module docs](super#how)): the token every cache entry
//! carries, changed by a write whose cache step failed so that every process
//! distrusts the entries written before it.

use std::time::Instant;

use serde_json::Value;
use session_api::Error;
use session_api::{AsyncSessionStore, Record, Result, SaveMode, SessionData, SessionKey};
use time::PrimitiveDateTime;
use tokio::sync::Mutex;

use super::{token, CachedDbStore, EPOCH_KEY};
use crate::cache::MAX_TTL;

/// The process's view of the epoch.
#[derive(Default)]
pub(super) struct Epoch {
    /// The last token read or written, and when that read (or write) started.
    seen: Mutex<Option<(String, Instant)>>,
    /// The last epoch change of this process: when its write started and ended.
    changed: Mutex<Option<(Instant, Instant)>>,
}

impl<D: AsyncSessionStore + ?Sized> CachedDbStore<D> {
    /// The current epoch: the one this process saw less than an interval ago, else
    /// the database's (written first when there is none).
    pub(super) async fn epoch(&self) -> Result<String> {
        let mut seen = self.epoch.seen.lock().await;
        if let Some((token, at)) = seen.as_ref() {
            if at.elapsed() < self.interval {
                return Ok(token.clone());
            }
        }
        let started = Instant::now();
        let key = SessionKey::parse(EPOCH_KEY)?;
        let stored = self.durable.aload(&key).await?.and_then(|record| {
            record
                .data
                .get_value("token")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let token = match stored {
            Some(token) => token,
            None => self.write_epoch().await?,
        };
        *seen = Some((token.clone(), started));
        Ok(token)
    }

    /// Writes a new epoch to the database, whatever it held; returns it.
    async fn write_epoch(&self) -> Result<String> {
        let token = token();
        let mut data = SessionData::new();
        data.insert("token".to_owned(), Value::String(token.clone()));
        let expires_at = time::Duration::try_from(MAX_TTL)
            .ok()
            .and_then(|age| self.clock.now().checked_add(age))
            .unwrap_or(PrimitiveDateTime::MAX.assume_utc());
        let record = Record::new(SessionKey::parse(EPOCH_KEY)?, data, expires_at);
        match self.durable.asave(&record, SaveMode::Update).await {
            Ok(_) => {}
            Err(Error::Update) => match self.durable.asave(&record, SaveMode::Create).await {
                Ok(_) => {}
                // Created by another process in between: overwrite it.
                Err(Error::Create) => {
                    self.durable.asave(&record, SaveMode::Update).await?;
                }
                Err(err) => return Err(err),
            },
            Err(err) => return Err(err),
        }
        Ok(token)
    }

    /// Distrusts every cache entry written before `after` (a write whose cache step
    /// failed): a new epoch whose write started after `after` (this one, or a
    /// concurrent one of this process), then the wait that lets every process read
    /// it.
    pub(super) async fn change_epoch(&self, after: Instant) -> Result<()> {
        let done = {
            let mut changed = self.epoch.changed.lock().await;
            match *changed {
                Some((started, done)) if started >= after => done,
                _ => {
                    let started = Instant::now();
                    let token = self.write_epoch().await?;
                    let done = Instant::now();
                    *self.epoch.seen.lock().await = Some((token, started));
                    *changed = Some((started, done));
                    done
                }
            }
        };
        let wait = self.interval + self.interval / 4;
        tokio::time::sleep_until(tokio::time::Instant::from_std(done + wait)).await;
        Ok(())
    }
}
