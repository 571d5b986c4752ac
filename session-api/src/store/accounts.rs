//! The account index (rule S5): every live session of an account, listed and revoked
//! at once ("log out other devices", ASVS 5 V7.4).

use async_trait::async_trait;
use serde_json::Value;

use super::AccountSession;
use crate::data::SessionData;
use crate::error::Result;
use crate::key::SessionKey;

/// Django's key for the logged-in user's primary key in the session data.
const AUTH_USER_ID_KEY: &str = "_auth_user_id";

/// The account a session belongs to: `_auth_user_id` (Django stores the user's
/// primary key there as a string, e.g. `"42"`; a JSON integer is accepted too), when
/// it is an integer. This is the account every index of this project files a session
/// under when it is saved.
///
/// ```
/// use session_api::{store::auth_account_id, SessionData};
/// let mut data = SessionData::new();
/// assert_eq!(auth_account_id(&data), None);
/// data.set("_auth_user_id", "42").unwrap();
/// assert_eq!(auth_account_id(&data), Some(42));
/// ```
pub fn auth_account_id(data: &SessionData) -> Option<i64> {
    match data.get_value(AUTH_USER_ID_KEY)? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// The account index of a server-side store, async (rule S5). Every save files the
/// session under [`auth_account_id`] of its data (a save without one, or with another
/// account, takes it out of the old account's list); a delete takes it out.
#[async_trait]
pub trait AsyncAccountSessions: Send + Sync {
    /// The live sessions of `account`, soonest expiry first.
    async fn alist_sessions(&self, account: i64) -> Result<Vec<AccountSession>>;

    /// Deletes every session of `account`; returns how many went.
    async fn arevoke_all(&self, account: i64) -> Result<u64>;

    /// Deletes every session of `account` but `current` ("log out other devices");
    /// returns how many went.
    async fn arevoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64>;
}

/// The sync form of [`AsyncAccountSessions`], with the same semantics.
pub trait AccountSessions: Send + Sync {
    /// See [`AsyncAccountSessions::alist_sessions`].
    fn list_sessions(&self, account: i64) -> Result<Vec<AccountSession>>;
    /// See [`AsyncAccountSessions::arevoke_all`].
    fn revoke_all(&self, account: i64) -> Result<u64>;
    /// See [`AsyncAccountSessions::arevoke_all_except`].
    fn revoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64>;
}
