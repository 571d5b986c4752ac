//! The cache store's account index (rule S5, opt in with
//! [`CacheStore::account_index`]): a sorted set per account of its sessions' keys,
//! scored by their expiry, kept by single-key commands only (see the
//! [module docs](super#account-index) for why that is enough).

use async_trait::async_trait;
use session_api::store::{auth_account_id, AccountSession, AsyncAccountSessions};
use session_api::{Result, SessionKey};
use time::OffsetDateTime;

use super::CacheStore;

/// An instant in Unix milliseconds, rounded down: "now" for the index, so that a
/// member is dropped only once its session's expiry is at or before it.
pub(super) fn unix_millis(at: OffsetDateTime) -> i64 {
    let ms = at.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

/// The index score of a session expiring at `expires_at`: Unix milliseconds rounded
/// up, so a member never leaves the index while its session is live.
pub(super) fn score_of(expires_at: OffsetDateTime) -> i64 {
    let nanos = expires_at.unix_timestamp_nanos();
    let ms = nanos.div_euclid(1_000_000) + i128::from(nanos.rem_euclid(1_000_000) != 0);
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

impl CacheStore {
    /// The live sessions of `account`, soonest expiry first: every member of the
    /// index is read back, and only a live value whose data still names `account` is
    /// listed (a member whose session was deleted elsewhere, evicted, or saved since
    /// with another account is skipped; it leaves the index with its score).
    async fn live_sessions(&self, account: i64) -> Result<Vec<AccountSession>> {
        let now = self.clock.now();
        let index = self.index_key(account);
        let mut live = Vec::new();
        for member in self.cache.index_members(&index, unix_millis(now)).await? {
            // Only this store writes the index; anything else is no session.
            let Ok(key) = SessionKey::parse(&member) else {
                continue;
            };
            let Some((_, value)) = self.read(&key, now).await? else {
                continue;
            };
            if let Some((data, expires_at)) = value.into_live(now) {
                if auth_account_id(&data) == Some(account) {
                    live.push(AccountSession::new(key, expires_at));
                }
            }
        }
        live.sort_by(|a, b| (a.expires_at, a.key.as_str()).cmp(&(b.expires_at, b.key.as_str())));
        Ok(live)
    }

    /// Deletes the live sessions of `account` but `keep`; returns how many went.
    async fn revoke(&self, account: i64, keep: Option<&SessionKey>) -> Result<u64> {
        let mut gone = Vec::new();
        for session in self.live_sessions(account).await? {
            if Some(&session.key) == keep {
                continue;
            }
            self.cache.delete(&self.cache_key(&session.key)).await?;
            gone.push(session.key.as_str().to_owned());
        }
        self.cache
            .index_remove(&self.index_key(account), &gone)
            .await?;
        Ok(gone.len() as u64)
    }
}

#[async_trait]
impl AsyncAccountSessions for CacheStore {
    async fn alist_sessions(&self, account: i64) -> Result<Vec<AccountSession>> {
        self.live_sessions(account).await
    }

    async fn arevoke_all(&self, account: i64) -> Result<u64> {
        self.revoke(account, None).await
    }

    async fn arevoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64> {
        self.revoke(account, Some(current)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn scores_round_up_and_now_rounds_down() {
        let at = datetime!(2026-01-01 0:00 UTC);
        let ms = at.unix_timestamp() * 1000;
        assert_eq!((score_of(at), unix_millis(at)), (ms, ms));
        let later = at + time::Duration::microseconds(1);
        assert_eq!((score_of(later), unix_millis(later)), (ms + 1, ms));
        let before = datetime!(1969-12-31 23:59:59.9995 UTC);
        assert_eq!((score_of(before), unix_millis(before)), (0, -1));
    }
}
