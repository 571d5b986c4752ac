#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The kit can fail: a store with one deliberate bug per rule family fails the cases
//! of that family (and a correct store passes them).

mod reference_store;

use reference_store::{harness, Fault};
use session_conformance::{factory, run_case, Outcome, CASES};

fn faulty(fault: Fault) -> session_conformance::Factory {
    factory(move |env| async move { Ok(harness(&env, fault)) })
}

async fn outcome(fault: Fault, case: &str) -> Outcome {
    let case = CASES.iter().find(|c| c.name == case).expect("case exists");
    run_case(case, &faulty(fault)).await.outcome
}

async fn assert_caught(fault: Fault, cases: &[&str]) {
    for case in cases {
        assert_eq!(
            outcome(Fault::None, case).await,
            Outcome::Passed,
            "{case} on a correct store"
        );
        let got = outcome(fault, case).await;
        assert!(
            matches!(got, Outcome::Failed(_)),
            "{fault:?} not caught by {case}: {got:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resurrecting_store_fails_the_update_rules() {
    assert_caught(
        Fault::ResurrectsDeleted,
        &[
            "d5_update_of_deleted_record_is_update_error",
            "d5_update_of_unknown_key_is_update_error",
            "g5_concurrent_logout_is_not_resurrected",
            "d8_cleared_record_is_not_resurrected_by_update",
            "model_agrees_with_store",
            "sync_model_agrees_with_store",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_adopting_store_fails_the_fixation_rules() {
    assert_caught(
        Fault::AdoptsUnknownKeys,
        &[
            "a3_unknown_key_is_never_adopted",
            "a3_deleted_key_is_not_adopted",
            "a5_cycle_key_old_key_loads_empty",
            "c9_expired_record_loads_empty_and_drops_key",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_writing_on_read_fails_the_no_write_rules() {
    assert_caught(
        Fault::WritesOnRead,
        &[
            "c9_reading_does_not_extend",
            "c5_default_lifetime_is_cookie_age",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_ignoring_expiry_fails_the_expiry_rules() {
    assert_caught(
        Fault::IgnoresExpiry,
        &[
            "c5_default_lifetime_is_cookie_age",
            "c1_integer_expiry_sets_the_lifetime",
            "c2_datetime_expiry_is_absolute",
            "c9_reading_does_not_extend",
            "c9_expired_record_loads_empty_and_drops_key",
            "d1_expired_record_does_not_exist",
        ],
    )
    .await;
}

#[test]
fn the_kit_has_at_least_60_distinct_cases() {
    let mut names: Vec<_> = CASES.iter().map(|c| c.name).collect();
    assert!(names.len() >= 60, "only {} cases", names.len());
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CASES.len(), "duplicate case names");
}
