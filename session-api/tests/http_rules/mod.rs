//! One list of middleware rule cases (docs/django-spec.md, section G, and the id header
//! and key renewal of section S: S6, S2) over real HTTP on
//! 127.0.0.1, run against each adapter: `tests/http_rules_axum.rs` (the tower layer in
//! axum) and `tests/http_rules_actix.rs`. Each case starts its own server over a real
//! store (SQLite in a temporary file unless the case needs another), talks to it with
//! reqwest (with a cookie jar where a browser would keep cookies) or, for the garbage
//! headers, with bytes written by hand on a TCP socket, and stops it.

pub mod cases;
pub mod client;
pub mod raw;
pub mod site;
pub mod stores;
pub mod views;

use std::future::Future;

/// Runs one case on a fresh two-worker runtime (the servers of the axum adapter run on
/// it too; actix-web runs its own).
pub fn run(case: impl Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(case);
}

/// The shared list: one `#[test]` per case for the adapter named by `$adapter` (a
/// `static` implementing [`site::Adapter`]).
macro_rules! http_rule_tests {
    ($adapter:expr) => {
        $crate::http_rules::http_rule_tests!(@each $adapter;
            untouched_session_sends_no_set_cookie_and_no_vary,
            read_session_varies_on_cookie_and_is_not_saved,
            cookie_attributes_follow_the_config,
            browser_close_cookie_has_no_max_age_or_expires_and_keeps_it,
            server_errors_do_not_save,
            logout_deletes_the_cookie_with_the_same_path_domain_and_samesite,
            logout_without_a_cookie_sends_none_but_varies,
            login_cycles_the_key_and_the_old_key_stops_working,
            tampered_cookie_gives_an_empty_session_and_200,
            concurrent_logout_during_a_slow_save_answers_400_and_nothing_comes_back,
            non_utf8_header_bytes_give_no_500,
            ten_kilobyte_headers_give_no_500,
            three_hundred_duplicate_cookies_give_no_500,
            two_cookie_headers_are_read_as_one,
            store_outage_the_error_page_answers_and_untouched_views_still_200,
            store_outage_default_answer_is_503_without_details,
            failed_save_answers_500_with_a_short_text_body,
            handler_error_answers_500_not_200,
            without_the_layer_the_extractor_answers_500_and_says_why,
            header_transport_carries_the_key_in_the_header_only,
            cookie_and_header_the_cookie_wins_and_each_is_answered_in_kind,
            hostile_id_headers_give_an_empty_session_never_500,
            header_transport_carries_a_renewed_key,
            renewal_sets_the_successor_cookie,
        );
    };
    (@each $adapter:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::http_rules::run($crate::http_rules::cases::$case(&$adapter));
            }
        )*
    };
}
pub(crate) use http_rule_tests;
