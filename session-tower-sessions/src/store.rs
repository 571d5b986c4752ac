//! [`TowerSessionsStore`]: one of our stores seen through tower-sessions' store
//! contract, and what each of tower-sessions' calls becomes on ours. The trait impls
//! of each tower-sessions-core version (`crate::versions`) are thin glue over the
//! methods here.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;
use session_api::store::MAX_CREATE_ATTEMPTS;
use session_api::{AsyncSessionStore, Error, KeyKind, Record, Result, SaveMode, SessionData};
use time::OffsetDateTime;

use crate::id::key_for_id;

/// tower-sessions' session data (its `Record::data`), the same type in 0.14 and 0.15.
pub(crate) type Data = HashMap<String, Value>;

/// Any server-side, id-keyed [`AsyncSessionStore`] of this project as a
/// tower-sessions store: it implements tower-sessions-core's `SessionStore` and
/// `ExpiredDeletion` of each version whose feature is on (`v0_14`, `v0_15`).
///
/// What tower-sessions' calls become (see the crate docs for why):
///
/// | tower-sessions | our store |
/// | --- | --- |
/// | `create(&mut record)` | `asave(.., SaveMode::Create)` under [`key_for_id`]`(record.id)`; on a collision a new random `Id` is put in the record and tried again (up to 10,000 times, rule A4) |
/// | `save(&record)` | `asave(.., SaveMode::Update)`: updates a live record only; a record that is gone is left gone and the call returns `Ok` |
/// | `load(&id)` | `aload`: the live record, or `None` (missing, expired, undecodable) |
/// | `delete(&id)` | `adelete` (a missing record is not an error) |
/// | `delete_expired()` | `aclear_expired` (a no-op on stores whose backend expires records itself, such as Redis) |
///
/// Cheap to clone (an `Arc`). `Debug` shows the store's capabilities only, never a
/// key (rule H5).
#[derive(Clone)]
pub struct TowerSessionsStore {
    store: Arc<dyn AsyncSessionStore>,
}

impl fmt::Debug for TowerSessionsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TowerSessionsStore")
            .field("capabilities", &self.store.capabilities())
            .finish_non_exhaustive()
    }
}

/// A failure of ours as tower-sessions classifies store errors; each version's glue
/// turns it into that version's `session_store::Error`. The text is our error's
/// `Display`, which never holds a key (rule H5).
#[derive(Debug)]
pub(crate) enum Failure {
    /// The data could not be serialized or is over the store's size limit.
    Encode(String),
    /// Stored data could not be deserialized.
    Decode(String),
    /// Anything else: the backend failed or could not be reached.
    Backend(String),
}

impl Failure {
    /// An error of a write (`create`, `save`).
    fn writing(err: Error) -> Self {
        match err {
            Error::Serialization(_) | Error::SessionTooLarge { .. } => {
                Failure::Encode(err.to_string())
            }
            other => Failure::Backend(other.to_string()),
        }
    }

    /// An error of a read (`load`). Our stores load bad stored data as `None`
    /// (rule D7); a codec error reaching here is the store's own report.
    fn reading(err: Error) -> Self {
        match err {
            Error::Serialization(_) => Failure::Decode(err.to_string()),
            other => Failure::Backend(other.to_string()),
        }
    }
}

/// tower-sessions' data as ours, in key order so the same data always encodes the
/// same (its map has no order of its own).
fn session_data(data: &Data) -> SessionData {
    let mut entries: Vec<(&String, &Value)> = data.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
        .into_iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl TowerSessionsStore {
    /// `store` seen through tower-sessions' contract. `Arc<YourStore>` converts to
    /// the argument as it is; a sync store goes through
    /// [`SyncToAsync`](session_api::SyncToAsync) (or
    /// [`InlineAsync`](session_api::InlineAsync) when it never waits on I/O).
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for a store whose records are not server-side or
    /// whose keys are not ids (signed or encrypted cookies): their key is the data
    /// and changes on every save, while tower-sessions keeps one id per session in
    /// a cookie of its own.
    pub fn new(store: Arc<dyn AsyncSessionStore>) -> Result<Self> {
        let capabilities = store.capabilities();
        if capabilities.key_kind != KeyKind::Id || !capabilities.server_side {
            return Err(Error::configuration(
                "tower-sessions needs a server-side store with id keys; \
                 a cookie store keeps the data in its key, which changes on every save",
            ));
        }
        Ok(TowerSessionsStore { store })
    }

    /// The store underneath (for `clear_expired` counts, account listing and the
    /// like through its own type).
    pub fn inner(&self) -> &Arc<dyn AsyncSessionStore> {
        &self.store
    }

    /// tower-sessions' `create`: insert if absent under the id's key; on a collision
    /// `*id = fresh()` and again (rules A4, H6), as tower-sessions' own stores do.
    pub(crate) async fn create_record(
        &self,
        id: &mut i128,
        mut fresh: impl FnMut() -> i128 + Send,
        data: &Data,
        expires_at: OffsetDateTime,
    ) -> Result<(), Failure> {
        let mut record = Record::new(key_for_id(*id), session_data(data), expires_at);
        for _ in 0..MAX_CREATE_ATTEMPTS {
            match self.store.asave(&record, SaveMode::Create).await {
                Ok(_) => return Ok(()),
                Err(Error::Create) => {
                    *id = fresh();
                    record.key = key_for_id(*id);
                }
                Err(err) => return Err(Failure::writing(err)),
            }
        }
        Err(Failure::writing(Error::TooManyCollisions {
            attempts: MAX_CREATE_ATTEMPTS,
        }))
    }

    /// tower-sessions' `save`: an update of the live record only (rule D5). A record
    /// that is not there (deleted by a concurrent logout or `cycle_id`, expired, or
    /// never created: a client-chosen id after `Session::clear`) stays absent, and
    /// the call succeeds, as tower-sessions' Redis store does with `SET XX`; the
    /// session's next load finds nothing and starts afresh (rule A3).
    pub(crate) async fn update_record(
        &self,
        id: i128,
        data: &Data,
        expires_at: OffsetDateTime,
    ) -> Result<(), Failure> {
        let record = Record::new(key_for_id(id), session_data(data), expires_at);
        match self.store.asave(&record, SaveMode::Update).await {
            Ok(_) => Ok(()),
            Err(Error::Update) => {
                tracing::warn!(
                    "tower-sessions saved a session whose record is gone \
                     (deleted, expired or never created); it stays gone"
                );
                Ok(())
            }
            Err(err) => Err(Failure::writing(err)),
        }
    }

    /// tower-sessions' `load`: the live record's data and expiry.
    pub(crate) async fn load_record(
        &self,
        id: i128,
    ) -> Result<Option<(Data, OffsetDateTime)>, Failure> {
        let loaded = self
            .store
            .aload(&key_for_id(id))
            .await
            .map_err(Failure::reading)?;
        Ok(loaded.map(|record| {
            (
                record.data.into_map().into_iter().collect(),
                record.expires_at,
            )
        }))
    }

    /// tower-sessions' `delete`.
    pub(crate) async fn delete_record(&self, id: i128) -> Result<(), Failure> {
        self.store
            .adelete(&key_for_id(id))
            .await
            .map_err(|err| Failure::Backend(err.to_string()))
    }

    /// tower-sessions' `delete_expired`.
    pub(crate) async fn delete_expired_records(&self) -> Result<(), Failure> {
        self.store
            .aclear_expired()
            .await
            .map(drop)
            .map_err(|err| Failure::Backend(err.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use session_api::{InlineAsync, SecretKeys, SessionConfig};
    use session_stores::memory::MemoryStore;
    use session_stores::signed_cookies::SignedCookieStore;

    #[test]
    fn cookie_stores_are_refused() {
        let config = SessionConfig::builder(SecretKeys::new("a test secret"))
            .build()
            .unwrap();
        let cookies = SignedCookieStore::from_config(&config);
        let refused = TowerSessionsStore::new(Arc::new(InlineAsync(Arc::new(cookies))));
        assert!(
            matches!(refused, Err(Error::Configuration(_))),
            "{refused:?}"
        );
    }

    #[test]
    fn debug_shows_the_capabilities_only() {
        let memory = InlineAsync(Arc::new(MemoryStore::new()));
        let store = TowerSessionsStore::new(Arc::new(memory)).unwrap();
        let shown = format!("{store:?}");
        assert!(
            shown.starts_with("TowerSessionsStore { capabilities: Capabilities {"),
            "{shown}"
        );
    }

    #[test]
    fn data_is_stored_in_key_order() {
        let data: Data = [("b", json!(2)), ("a", json!(1)), ("c", json!([3]))]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let ours = session_data(&data);
        let keys: Vec<&str> = ours.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(ours.get_value("c"), Some(&json!([3])));
    }
}
