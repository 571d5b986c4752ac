//! tower-sessions-core's `SessionStore` and `ExpiredDeletion` for
//! [`TowerSessionsStore`], once per version: the two versions' store contracts are
//! the same (only their crates differ), so one macro writes both impls.

/// The impls for the tower-sessions-core crate `$core`, with `$core` re-exported as
/// `tower_sessions_core` so users can name the version's types through this crate.
macro_rules! tower_sessions_impls {
    ($core:ident) => {
        use async_trait::async_trait;
        use $core::session::{Id, Record};
        use $core::session_store::{self, ExpiredDeletion, SessionStore};

        use crate::store::{Failure, TowerSessionsStore};

        #[doc(no_inline)]
        pub use $core as tower_sessions_core;

        fn store_error(failure: Failure) -> session_store::Error {
            match failure {
                Failure::Encode(text) => session_store::Error::Encode(text),
                Failure::Decode(text) => session_store::Error::Decode(text),
                Failure::Backend(text) => session_store::Error::Backend(text),
            }
        }

        #[async_trait]
        impl SessionStore for TowerSessionsStore {
            async fn create(&self, record: &mut Record) -> session_store::Result<()> {
                let mut id = record.id.0;
                let created = self
                    .create_record(
                        &mut id,
                        || Id::default().0,
                        &record.data,
                        record.expiry_date,
                    )
                    .await;
                // The id tried last, taken or not: tower-sessions reads it back.
                record.id = Id(id);
                created.map_err(store_error)
            }

            async fn save(&self, record: &Record) -> session_store::Result<()> {
                self.update_record(record.id.0, &record.data, record.expiry_date)
                    .await
                    .map_err(store_error)
            }

            async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
                let loaded = self.load_record(session_id.0).await.map_err(store_error)?;
                Ok(loaded.map(|(data, expiry_date)| Record {
                    id: *session_id,
                    data,
                    expiry_date,
                }))
            }

            async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
                self.delete_record(session_id.0).await.map_err(store_error)
            }
        }

        #[async_trait]
        impl ExpiredDeletion for TowerSessionsStore {
            async fn delete_expired(&self) -> session_store::Result<()> {
                self.delete_expired_records().await.map_err(store_error)
            }
        }
    };
}

#[cfg(feature = "v0_14")]
pub mod v0_14 {
    //! tower-sessions 0.14 (what axum-login 0.18 uses): [`SessionStore`] and
    //! [`ExpiredDeletion`] for [`TowerSessionsStore`].
    //!
    //! An axum-login app on the SQLite store (`examples/axum_login.rs` is a whole
    //! one, with a login form, a protected page and logout):
    //!
    //! ```no_run
    //! # async fn demo() -> session_api::Result<()> {
    //! use std::sync::Arc;
    //! use axum_login::tower_sessions::SessionManagerLayer;
    //! use session_api::SecretKeys;
    //! use session_stores::db::{DbOptions, DbStore};
    //! use session_tower_sessions::TowerSessionsStore;
    //!
    //! let db = DbStore::connect("sqlite://sessions.sqlite3", DbOptions::new(SecretKeys::new("change me"))).await?;
    //! db.migrate().await?;
    //! let store = TowerSessionsStore::new(Arc::new(db))?;
    //! let session_layer = SessionManagerLayer::new(store);
    //! // axum_login::AuthManagerLayerBuilder::new(your_backend, session_layer).build()
    //! # let _ = session_layer; Ok(()) }
    //! ```
    tower_sessions_impls!(tower_sessions_core_014);
}

#[cfg(feature = "v0_15")]
pub mod v0_15 {
    //! tower-sessions 0.15 (the current version): [`SessionStore`] and
    //! [`ExpiredDeletion`] for [`TowerSessionsStore`].
    //!
    //! ```
    //! # use tower_sessions_015 as tower_sessions;
    //! use std::sync::Arc;
    //! use session_api::SecretKeys;
    //! use session_stores::db::{DbOptions, DbStore};
    //! use session_tower_sessions::TowerSessionsStore;
    //! use session_tower_sessions::v0_15::tower_sessions_core::{Session, SessionStore};
    //!
    //! # #[tokio::main(flavor = "current_thread")]
    //! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    //! # let dir = tempfile::tempdir()?;
    //! # let url = format!("sqlite://{}", dir.path().join("sessions.sqlite3").display());
    //! let db = DbStore::connect(&url, DbOptions::new(SecretKeys::new("change me"))).await?;
    //! db.migrate().await?;
    //! let store = Arc::new(TowerSessionsStore::new(Arc::new(db))?);
    //!
    //! // What tower-sessions' middleware does around a request:
    //! let session = Session::new(None, store.clone(), None);
    //! session.insert("user_id", 42).await?;
    //! session.save().await?; // `create`: a fresh id, inserted if absent
    //! let id = session.id().expect("saved");
    //!
    //! let record = store.load(&id).await?.expect("stored");
    //! assert_eq!(record.data["user_id"], 42);
    //!
    //! // The row is a `django_session` row under the id's base-36 key.
    //! let key = session_tower_sessions::key_for_id(id.0);
    //! assert_eq!(key.as_str().len(), 25);
    //!
    //! // In an app: `tower_sessions::SessionManagerLayer::new(store)`.
    //! # let _layer = tower_sessions::SessionManagerLayer::new(TowerSessionsStore::clone(&store));
    //! # Ok(()) }
    //! ```
    tower_sessions_impls!(tower_sessions_core_015);
}
