//! tower-sessions' own behaviours, written once for both tower-sessions-core
//! versions: `behaviour_tests!(tower_sessions_core_014)` makes one test per
//! behaviour and store (`sqlite::...`, `postgres::...`, `redis::...`), driving the
//! store through tower-sessions' `Session` where tower-sessions would, and through
//! its `SessionStore` calls directly where a race or a hostile client is played.

/// The cases over the tower-sessions-core crate `$core`, and one `#[tokio::test]`
/// per case on each store.
macro_rules! behaviour_tests {
    ($core:ident) => {
        mod cases {
            use std::collections::HashMap;

            use serde_json::{json, Value};
            use session_tower_sessions::key_for_id;
            use $core::session::{Expiry, Id, Record};
            use $core::{ExpiredDeletion, Session, SessionStore};
            use time::{Duration, OffsetDateTime};

            use crate::common::Env;

            fn data(pairs: &[(&str, Value)]) -> HashMap<String, Value> {
                pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
            }

            fn record(id: i128, pairs: &[(&str, Value)], expiry_date: OffsetDateTime) -> Record {
                Record {
                    id: Id(id),
                    data: data(pairs),
                    expiry_date,
                }
            }

            /// A session saved through tower-sessions' `Session` (its `create`),
            /// expiring at `at`; returns its id.
            async fn saved(env: &Env, at: OffsetDateTime) -> Id {
                let session = Session::new(None, env.store.clone(), Some(Expiry::AtDateTime(at)));
                session.insert("user", "alice").await.unwrap();
                session.insert("visits", 3).await.unwrap();
                session.save().await.unwrap();
                session.id().expect("a saved session has an id")
            }

            async fn loaded(env: &Env, id: Id) -> Option<HashMap<String, Value>> {
                env.store.load(&id).await.unwrap().map(|r| r.data)
            }

            pub async fn create_stores_the_record_under_the_ids_base36_key(env: Env) {
                let at = env.now() + Duration::hours(1);
                let id = saved(&env, at).await;
                let expected = data(&[("user", json!("alice")), ("visits", json!(3))]);

                // Through tower-sessions: the record, its id and its expiry.
                let record = env.store.load(&id).await.unwrap().expect("stored");
                assert_eq!(record, Record { id, data: expected.clone(), expiry_date: at });
                let session = Session::new(Some(id), env.store.clone(), None);
                assert_eq!(session.get::<String>("user").await.unwrap().as_deref(), Some("alice"));

                // Through our contract: the same record under the id's key.
                let ours = env.store.inner().aload(&key_for_id(id.0)).await.unwrap().expect("ours");
                assert_eq!(ours.expires_at, at);
                assert_eq!(ours.data.as_map().len(), 2);
                assert_eq!(ours.data.get_value("user"), Some(&json!("alice")));
                assert_eq!(ours.data.get_value("visits"), Some(&json!(3)));
            }

            pub async fn create_gives_a_colliding_record_a_new_id(env: Env) {
                let at = env.now() + Duration::hours(1);
                let mut first = record(7, &[("who", json!("first"))], at);
                env.store.create(&mut first).await.unwrap();
                assert_eq!(first.id, Id(7), "a free id is kept");

                let mut second = record(7, &[("who", json!("second"))], at);
                env.store.create(&mut second).await.unwrap();
                assert_ne!(second.id, Id(7), "a taken id is replaced");

                assert_eq!(loaded(&env, Id(7)).await, Some(data(&[("who", json!("first"))])));
                assert_eq!(loaded(&env, second.id).await, Some(data(&[("who", json!("second"))])));
            }

            pub async fn save_updates_the_stored_record(env: Env) {
                let id = saved(&env, env.now() + Duration::hours(1)).await;
                let later = env.now() + Duration::hours(2);
                let session = Session::new(Some(id), env.store.clone(), Some(Expiry::AtDateTime(later)));
                session.insert("visits", 4).await.unwrap();
                session.save().await.unwrap();

                assert_eq!(session.id(), Some(id), "an update keeps the id");
                let record = env.store.load(&id).await.unwrap().expect("stored");
                assert_eq!(record.data, data(&[("user", json!("alice")), ("visits", json!(4))]));
                assert_eq!(record.expiry_date, later);
            }

            pub async fn save_never_brings_back_a_deleted_record(env: Env) {
                let id = saved(&env, env.now() + Duration::hours(1)).await;
                // A request has loaded the session...
                let request = Session::new(Some(id), env.store.clone(), None);
                assert_eq!(request.get::<i64>("visits").await.unwrap(), Some(3));
                // ...a concurrent request logs out (rule A6)...
                let logout = Session::new(Some(id), env.store.clone(), None);
                logout.flush().await.unwrap();
                // ...and the first one saves its change afterwards.
                request.insert("visits", 4).await.unwrap();
                request.save().await.unwrap();

                assert_eq!(loaded(&env, id).await, None, "the logout stands");
                assert!(!env.store.inner().aexists(&key_for_id(id.0)).await.unwrap());
                // The same for a bare `save` of the whole record.
                let gone = record(id.0, &[("visits", json!(5))], env.now() + Duration::hours(1));
                env.store.save(&gone).await.unwrap();
                assert_eq!(loaded(&env, id).await, None);
                assert!(!env.stored(id.0).await, "nothing was written");
            }

            pub async fn save_of_an_id_the_store_never_issued_creates_nothing(env: Env) {
                // A client sends an id of its choosing; the app clears the session
                // (which does not load it) and writes to it.
                let chosen = Id(0x5e55_1011);
                let session = Session::new(Some(chosen), env.store.clone(), None);
                session.clear().await;
                session.insert("user", "mallory").await.unwrap();
                session.save().await.unwrap();

                assert_eq!(loaded(&env, chosen).await, None, "no session under a chosen id (A3)");
                assert!(!env.stored(chosen.0).await);
            }

            pub async fn load_of_an_unknown_id_is_none_and_the_id_is_dropped(env: Env) {
                let unknown = Id(99);
                assert_eq!(env.store.load(&unknown).await.unwrap(), None);

                let session = Session::new(Some(unknown), env.store.clone(), None);
                assert_eq!(session.get::<String>("user").await.unwrap(), None);
                assert_eq!(session.id(), None, "tower-sessions drops an id that loads nothing");
                session.insert("user", "bob").await.unwrap();
                session.save().await.unwrap();
                let new = session.id().expect("created");
                assert_ne!(new, unknown);
                assert_eq!(loaded(&env, new).await, Some(data(&[("user", json!("bob"))])));
                assert_eq!(loaded(&env, unknown).await, None);
            }

            pub async fn delete_removes_the_record_and_a_missing_one_is_fine(env: Env) {
                let id = saved(&env, env.now() + Duration::hours(1)).await;
                env.store.delete(&id).await.unwrap();
                assert_eq!(loaded(&env, id).await, None);
                assert!(!env.stored(id.0).await);
                env.store.delete(&id).await.unwrap();
                env.store.delete(&Id(12_345)).await.unwrap();
            }

            pub async fn cycle_id_moves_the_data_to_a_new_id(env: Env) {
                let old = saved(&env, env.now() + Duration::hours(1)).await;
                let session = Session::new(Some(old), env.store.clone(), None);
                session.cycle_id().await.unwrap();
                session.save().await.unwrap();

                let new = session.id().expect("a new id");
                assert_ne!(new, old);
                assert_eq!(loaded(&env, old).await, None, "the old id is gone");
                assert_eq!(
                    loaded(&env, new).await,
                    Some(data(&[("user", json!("alice")), ("visits", json!(3))]))
                );
            }

            pub async fn flush_deletes_the_record_and_drops_the_id(env: Env) {
                let id = saved(&env, env.now() + Duration::hours(1)).await;
                let session = Session::new(Some(id), env.store.clone(), None);
                session.flush().await.unwrap();
                assert_eq!(session.id(), None);
                assert!(session.is_empty().await);
                assert_eq!(loaded(&env, id).await, None);
            }

            pub async fn an_expired_record_loads_as_none_and_stays_expired(env: Env) {
                let id = saved(&env, env.now() + Duration::seconds(30)).await;
                env.advance(29);
                assert!(loaded(&env, id).await.is_some(), "live until its expiry");
                env.advance(2);
                assert_eq!(loaded(&env, id).await, None, "expired by the store's clock");
                let session = Session::new(Some(id), env.store.clone(), None);
                assert_eq!(session.get::<String>("user").await.unwrap(), None);
                assert_eq!(session.id(), None);
                // A save of the expired record does not revive it (rule H7).
                let revived = record(id.0, &[("user", json!("alice"))], env.now() + Duration::hours(1));
                env.store.save(&revived).await.unwrap();
                assert_eq!(loaded(&env, id).await, None);
            }

            pub async fn delete_expired_clears_what_the_store_keeps(env: Env) {
                let expiring = saved(&env, env.now() + Duration::seconds(30)).await;
                let live = saved(&env, env.now() + Duration::hours(1)).await;
                env.advance(31);
                env.store.delete_expired().await.unwrap();

                assert!(env.stored(live.0).await, "a live record stays");
                assert!(loaded(&env, live).await.is_some());
                assert_eq!(loaded(&env, expiring).await, None);
                if env.store.inner().capabilities().clear_expired {
                    assert!(!env.stored(expiring.0).await, "the expired row is removed");
                } else {
                    // Redis: the backend evicts by its own time to live, which has
                    // not passed (the store's clock moved, the server's did not).
                    assert!(env.store.inner().capabilities().backend_ttl);
                    assert!(env.stored(expiring.0).await);
                }
            }

            /// The session tower-sessions' middleware builds from a cookie: `Id`'s
            /// text form parses back to the id whose key holds the row.
            pub async fn the_cookie_value_names_the_row(env: Env) {
                let id = saved(&env, env.now() + Duration::hours(1)).await;
                let cookie = id.to_string();
                let parsed: Id = cookie.parse().unwrap();
                assert_eq!(parsed, id);
                assert_eq!(session_tower_sessions::id_for_key(&key_for_id(parsed.0)), Some(id.0));
                assert!(env.stored(parsed.0).await);
            }
        }

        behaviour_tests!(@store sqlite, Sqlite);
        behaviour_tests!(@store postgres, Postgres);
        behaviour_tests!(@store redis, Redis);
    };

    (@store $module:ident, $backend:ident) => {
        mod $module {
            behaviour_tests!(@cases $backend:
                create_stores_the_record_under_the_ids_base36_key,
                create_gives_a_colliding_record_a_new_id,
                save_updates_the_stored_record,
                save_never_brings_back_a_deleted_record,
                save_of_an_id_the_store_never_issued_creates_nothing,
                load_of_an_unknown_id_is_none_and_the_id_is_dropped,
                delete_removes_the_record_and_a_missing_one_is_fine,
                cycle_id_moves_the_data_to_a_new_id,
                flush_deletes_the_record_and_drops_the_id,
                an_expired_record_loads_as_none_and_stays_expired,
                delete_expired_clears_what_the_store_keeps,
                the_cookie_value_names_the_row,
            );
        }
    };

    (@cases $backend:ident: $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let backend = crate::common::Backend::$backend;
                if let Some(env) = crate::common::Env::open(backend, stringify!($case)).await {
                    super::cases::$case(env).await;
                }
            }
        )*
    };
}
