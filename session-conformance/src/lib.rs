//! The conformance kit: Django's session rules (docs/django-spec.md) as executable
//! cases that any `session-api` store can run. See docs/store-authors.md.
//!
//! A store crate adds a test target without the built-in harness,
//!
//! ```toml
//! [[test]]
//! name = "conformance"
//! harness = false
//! ```
//!
//! and in `tests/conformance.rs` hands the kit a factory that builds a fresh store
//! for each case:
//!
//! ```no_run
//! use std::sync::Arc;
//! use session_api::{Result, SessionBackend, SessionStore};
//! use session_conformance::{Harness, KitEnv};
//! # #[derive(Debug)] struct MyStore;
//! # impl MyStore { fn new(_: &str, _: Arc<dyn session_api::Clock>) -> Self { MyStore } }
//! # impl SessionStore for MyStore {
//! #     fn capabilities(&self) -> session_api::Capabilities { session_api::Capabilities::server_side() }
//! #     fn exists(&self, _: &session_api::SessionKey) -> Result<bool> { Ok(false) }
//! #     fn load(&self, _: &session_api::SessionKey) -> Result<Option<session_api::Record>> { Ok(None) }
//! #     fn save(&self, r: &session_api::Record, _: session_api::SaveMode) -> Result<session_api::SessionKey> { Ok(r.key.clone()) }
//! #     fn delete(&self, _: &session_api::SessionKey) -> Result<()> { Ok(()) }
//! #     fn clear_expired(&self) -> Result<u64> { Ok(0) }
//! # }
//!
//! async fn factory(env: KitEnv) -> Result<Harness> {
//!     let store = MyStore::new(env.unique_name(), env.clock());
//!     Ok(Harness::new(SessionBackend::from_sync(Arc::new(store))))
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     session_conformance::test_main(factory)
//! }
//! ```
//!
//! `cargo test --test conformance` then runs one test per case, named after it; a
//! case the store's declared capabilities rule out is listed and reported as ignored,
//! with the reason (see [`mod@trials`]). [`run_all`] returns a report instead.

pub mod cases;
pub mod fixtures;
pub mod harness;
pub mod logs;
pub mod runner;
pub mod spy;
pub mod trials;

pub use harness::{unavailable, Harness, HashedIdsAccess, KitEnv, RawRecords};
/// The test harness library the kit's trials are built with.
pub use libtest_mimic;
pub use runner::{
    factory, run_all, run_case, Case, CaseReport, CaseResult, Ctx, Factory, Failure, Needs, Outcome,
};
pub use trials::{test_main, trials};

/// One row of [`CASES`]: `module::case, "rule ids", Needs`.
macro_rules! cases {
    ($($module:ident :: $case:ident, $rule:literal, $needs:ident;)*) => {
        /// Every case of the kit, in table order.
        pub static CASES: &[Case] = &[
            $(Case {
                name: stringify!($case),
                rule: $rule,
                needs: Needs::$needs,
                run: |ctx| Box::pin(cases::$module::$case(ctx)),
            },)*
        ];
    };
}

cases! {
    keys::a1_created_keys_are_32_lowercase_alphanumerics, "A1", IdKeys;
    keys::a1_created_keys_are_distinct, "A1", Always;
    keys::h1_key_of_7_chars_is_rejected, "A2 H1", Always;
    keys::h1_key_of_41_chars_is_rejected, "H1", Always;
    keys::h1_uppercase_key_is_rejected, "A1 H1", Always;
    keys::h1_non_ascii_key_is_rejected, "H1", Always;
    keys::h1_path_traversal_key_is_rejected, "H1 E5", Always;
    keys::h1_nul_in_key_is_rejected, "H1", Always;
    keys::a2_keys_of_8_and_40_chars_are_accepted, "A2", ServerSide;
    keys::a3_unknown_key_is_never_adopted, "A3", ServerSide;
    keys::a3_deleted_key_is_not_adopted, "A3 D6", ServerSide;
    keys::a4_create_retries_on_collision, "A4", ServerSide;
    keys::a4_create_gives_up_after_10000_collisions, "A4", ServerSide;
    keys::h6_create_does_not_ask_exists_first, "H6", Always;
    dict::b1_no_load_before_first_access, "B1", Always;
    dict::b1_no_key_no_store_call, "B1", Always;
    dict::b2_reads_set_accessed_only, "B2 B3", Always;
    dict::b3_writes_set_modified, "B3", Always;
    dict::b3_pop_modifies_only_when_present, "B3 B6", Always;
    dict::b3_setdefault_modifies_only_when_inserting, "B3", Always;
    dict::b4_clear_does_not_load, "B4", Always;
    dict::b5_nested_mutation_needs_modified, "B5 G4", Always;
    dict::b6_missing_key_is_key_error, "B6", Always;
    dict::b8_test_cookie_round_trip, "B8", Always;
    dict::b9_is_empty, "B9", Always;
    dict::b10_sync_and_async_twins_agree, "B10 D9", Always;
    dict::f1_data_round_trips_exactly, "F1", Always;
    dict::b3_async_methods_one_by_one_set_the_flags, "B2 B3 B10", Always;
    dict::b11_sync_return_values, "B11 B6", Always;
    expiry::c5_default_lifetime_is_cookie_age, "C4 C5 E6", Always;
    expiry::c1_integer_expiry_sets_the_lifetime, "C1 C8", ServerSide;
    expiry::c2_datetime_expiry_is_absolute, "C2 C8", ServerSide;
    expiry::c2_duration_expiry, "C2", ServerSide;
    expiry::c3_browser_close_expiry, "C3 C7", Always;
    expiry::c4_expiry_none_restores_default, "C4", Always;
    expiry::c5_age_and_date_from_modification, "C5 C6", Always;
    expiry::c8_save_extends_integer_expiry, "C8", ServerSide;
    expiry::c9_reading_does_not_extend, "C9", ServerSide;
    expiry::c9_expired_record_loads_empty_and_drops_key, "C9 A3", Always;
    expiry::c5_malformed_stored_expiry_is_ignored, "C5 D7", Always;
    expiry::c10_custom_cookie_age_is_read_back, "C10 C3 C4 C5", Always;
    expiry::c10_custom_cookie_age_bounds_the_record, "C10 C8", ServerSide;
    expiry::c6_async_age_and_date_read_back, "C5 C6 B10", Always;
    expiry::c7_site_wide_browser_close_with_per_session_expiry, "C7 G6", Always;
    expiry::c11_expiry_past_at_save_loads_empty, "C11 C9 E6", ServerSide;
    contract::d1_exists_follows_the_record, "D1 D6", ServerSide;
    contract::d1_expired_record_does_not_exist, "D1 C9", ServerSide;
    contract::d2_create_saves_and_sets_modified, "D2", ServerSide;
    contract::d3_save_without_key_creates, "D3", ServerSide;
    contract::d4_create_mode_on_existing_key_is_create_error, "D4", ServerSide;
    contract::d4_create_mode_does_not_load, "D4", ServerSide;
    contract::d5_update_of_deleted_record_is_update_error, "D5", ServerSide;
    contract::d5_update_of_unknown_key_is_update_error, "D5", ServerSide;
    contract::d5_update_replaces_data, "D5", ServerSide;
    contract::d6_delete_is_idempotent_and_targeted, "D6", ServerSide;
    contract::d7_missing_record_loads_none, "D7", ServerSide;
    contract::d7_load_returns_the_record_with_its_expiry, "D7 E1", ServerSide;
    contract::d9_sync_and_async_sides_agree, "D9", ServerSide;
    contract::g6_default_serializer_is_json, "G6 F1", Always;
    lifecycle::a5_cycle_key_keeps_data_under_new_key, "A5", Always;
    lifecycle::a5_cycle_key_old_key_loads_empty, "A5", ServerSide;
    lifecycle::a5_cycle_key_writes_before_deleting, "A5", ServerSide;
    lifecycle::a6_flush_deletes_the_record, "A6", ServerSide;
    lifecycle::a6_flush_empties_and_drops_key, "A6 B9", Always;
    lifecycle::a7_flush_leaves_modified_and_accessed, "A7 B4", Always;
    clear::d8_clear_expired_removes_only_expired, "D8 G7", ClearExpired;
    clear::d8_cleared_record_is_not_resurrected_by_update, "D8 D5", ClearExpired;
    clear::d8_clear_expired_noop_is_harmless, "D8 G7", NoClearExpired;
    middleware::g4_no_write_when_unmodified, "G3 G4 B3", Always;
    middleware::g4_modified_session_is_saved, "G4", Always;
    middleware::g4_save_every_request_writes, "G4", Always;
    middleware::g4_no_save_on_500, "G4", Always;
    middleware::g2_flushed_session_deletes_cookie, "G2", Always;
    middleware::g5_concurrent_logout_is_not_resurrected, "G5 D5", ServerSide;
    middleware::g6_cookie_without_httponly, "G6 G4", Always;
    middleware::g2_logout_without_a_cookie_sends_none_but_varies, "G2 G3 A6", Always;
    middleware::g3_save_every_request_renewal_varies_on_cookie, "G3 G4", Always;
    middleware::g4_no_save_on_503, "G4", Always;
    middleware::g4_cleared_session_is_saved_and_its_cookie_resent, "B4 G4", ServerSide;
    middleware::g5_concurrent_logout_error_message, "G5", ServerSide;
    encoding::d7_undecodable_record_loads_empty, "D7 F7", Raw;
    encoding::f7_tampered_record_loads_empty, "F5 F7", DjangoSessionData;
    encoding::f5_record_signed_with_other_secret_loads_empty, "F5 F7", DjangoSessionData;
    encoding::d7_non_object_record_loads_empty, "D7", DjangoSessionData;
    encoding::f6_session_data_is_djangos_encoding, "F1 F3 F6", DjangoSessionData;
    encoding::f6_django_written_record_loads, "F6", DjangoSessionData;
    encoding::e6_signed_cookie_is_djangos, "E6 F6", SignedPayload;
    encoding::e6_tampered_cookie_loads_empty, "E6 F5", SignedPayload;
    encoding::h4_oversized_cookie_is_an_error, "H4", PayloadKey;
    encoding::e6_short_cookie_value_is_dropped_and_deleted, "E6 A2", PayloadKey;
    sealed::sealed_cookie_reveals_nothing, "S4", SealedPayload;
    sealed::sealed_cookie_is_new_on_every_save, "S4", SealedPayload;
    sealed::sealed_tampered_cookie_loads_empty, "S4 F5", SealedPayload;
    sealed::sealed_cookie_expires_at_cookie_age, "S4 F4", SealedPayload;
    hashed::s3_stored_id_is_not_the_key, "S3", HashedIds;
    hashed::s3_stored_id_presented_as_a_key_loads_nothing, "S3 A3 H1", HashedIds;
    hashed::s3_plain_record_moves_on_load, "S3 D7", HashedIds;
    hashed::s3_plain_record_moves_on_save, "S3 B4 D5", HashedIds;
    hashed::s3_logout_during_a_move_is_never_undone, "S3 A6 D5", HashedIds;
    timeouts::s1_absolute_timeout_ends_an_active_session, "S1 C8", Always;
    timeouts::s1_expiry_is_the_earlier_of_idle_and_absolute, "S1 C5 C6 E1", Always;
    timeouts::s1_creation_time_survives_cycle_key, "S1 A5", Always;
    timeouts::s1_flush_starts_a_new_count, "S1 A6", Always;
    timeouts::s1_no_timeout_no_stamp, "S1 F1", Always;
    renewal::s2_key_is_renewed_after_the_interval, "S2 S1", ServerSide;
    renewal::s2_old_key_within_the_grace_is_the_same_session, "S2 G4", ServerSide;
    renewal::s2_old_key_after_the_grace_revokes_the_session, "S2 G2 H5", ServerSide;
    renewal::s2_a_save_after_the_grace_through_the_old_key_revokes, "S2 G5", ServerSide;
    renewal::s2_logout_through_the_old_key_within_the_grace_leaves_nothing, "S2 A6", ServerSide;
    renewal::s2_login_through_the_old_key_leaves_no_grace, "S2 A5", ServerSide;
    renewal::s2_requests_in_flight_share_one_session, "S2 A6 D5", ServerSide;
    renewal::s2_sync_methods_renew_follow_and_revoke, "S2 B10 D9", ServerSide;
    renewal::s2_off_by_default_and_a_no_op_on_cookie_stores, "S2 F1", Always;
    encoding::b1_data_stays_loaded_after_save, "B1 D3", Always;
    encoding::g4_set_cookie_header_wire_format, "G4 G2", Always;
    concurrency::concurrent_saves_leave_a_whole_record, "D5", ServerSide;
    concurrency::concurrent_creates_get_distinct_keys, "A4", ServerSide;
    concurrency::a6_logout_is_never_undone_by_a_concurrent_update, "A6 D5 D6", ServerSide;
    concurrency::a6_sync_logout_is_never_undone_by_a_concurrent_update, "A6 D5 D9", ServerSide;
    model::model_agrees_with_store, "A B C D", ServerSide;
    model::sync_model_agrees_with_store, "A B C D B10 D9", ServerSide;
    versions::v1_save_if_writes_over_the_loaded_version, "V1 D9", Versioned;
    versions::v1_stale_version_is_a_conflict_and_the_winner_stays, "V1", Versioned;
    versions::v1_save_if_never_recreates, "V1 D5 A6", Versioned;
    versions::v3_version_changes_with_the_data, "V3 V1", Versioned;
    versions::v1_concurrent_appends_lose_nothing, "V1", Versioned;
    interleave::v1_interleaved_versioned_saves_agree_with_the_model, "V1 V3", Versioned;
    merge::v2_changes_to_different_keys_both_survive, "V2", Versioned;
    merge::v2_merge_the_later_save_wins_a_shared_key, "V2", Versioned;
    merge::v2_fail_policy_later_save_is_a_conflict, "V2", Versioned;
    merge::v2_amodify_appends_lose_nothing, "V2", Versioned;
    merge::v2_save_after_a_concurrent_flush_is_update_error, "V2 A6 D5", Versioned;
    touch::v4_touch_moves_the_expiry_and_keeps_the_data, "V4 D9", Touch;
    touch::v4_touch_of_a_missing_or_expired_record_is_update_error, "V4 D5", Touch;
    touch::v4_refresh_interval_touches_once_per_interval, "V4 G4", Touch;
    events::v6_observer_hears_the_lifecycle, "V6 A5 A6 G5", ServerSide;
    accounts::s5_index_lists_the_live_sessions_of_each_account, "S5 D8 D9", AccountIndex;
    accounts::s5_saves_and_deletes_keep_the_index, "S5", AccountIndex;
    accounts::s5_revoke_all_ends_every_session_of_the_account, "S5", AccountIndex;
    accounts::s5_revoke_all_except_keeps_the_current_session, "S5", AccountIndex;
    accounts::s5_revoked_session_is_not_recreated_by_its_save, "S5 D5", AccountIndex;
}
