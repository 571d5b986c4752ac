//! cached_db's account index (rule S5): the durable store's, with revocation through
//! this store's delete so that no cached copy of a revoked session stays loadable.

use async_trait::async_trait;
use session_api::store::{AccountSession, AsyncAccountSessions};
use session_api::{AsyncSessionStore, Error, Result, SessionKey};

use super::CachedDbStore;

impl<D: AsyncSessionStore + ?Sized> CachedDbStore<D> {
    /// The durable store's index (only reached when it has one: `accounts()` is
    /// `None` otherwise).
    fn index(&self) -> Result<&dyn AsyncAccountSessions> {
        self.durable
            .accounts()
            .ok_or(Error::Unsupported("account index"))
    }

    /// Deletes the live sessions of `account` but `keep`, each from the database and
    /// the cache; returns how many went. A session saved before this began is listed
    /// (the durable index is up to date when its save returns).
    async fn revoke(&self, account: i64, keep: Option<&SessionKey>) -> Result<u64> {
        let mut revoked = 0;
        for session in self.index()?.alist_sessions(account).await? {
            if Some(&session.key) == keep {
                continue;
            }
            self.adelete(&session.key).await?;
            revoked += 1;
        }
        Ok(revoked)
    }
}

#[async_trait]
impl<D: AsyncSessionStore + ?Sized> AsyncAccountSessions for CachedDbStore<D> {
    async fn alist_sessions(&self, account: i64) -> Result<Vec<AccountSession>> {
        self.index()?.alist_sessions(account).await
    }

    async fn arevoke_all(&self, account: i64) -> Result<u64> {
        self.revoke(account, None).await
    }

    async fn arevoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64> {
        self.revoke(account, Some(current)).await
    }
}
