//! Replays every file of every `fuzz/corpus/<target>/` directory through the fuzzing
//! entry points on stable Rust (plain `cargo test`), so the committed corpora,
//! including every crash found so far, are regression tests: an input that violates a
//! property fails the replay.

use std::collections::BTreeSet;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

use session_api::signing::{loads, SecretKeys, DEFAULT_SALT, SESSION_SALT};
use session_api::{JsonSerializer, ManualClock, SessionKey, SessionStore as _};
use session_fuzzing::fixtures::{
    Base, COOKIE_AGE, COOKIE_BASES, FALLBACK, SECRET, SESSION_BASES, SIGNING_BASES, TIMESTAMP,
};
use session_fuzzing::{same_json, TARGETS};
use session_stores::signed_cookies::SignedCookieStore;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Names of the entries of `dir` (files or directories), with `suffix` stripped.
fn names(dir: &Path, suffix: &str) -> BTreeSet<String> {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display())))
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_suffix(suffix).map(str::to_owned)
        })
        .collect()
}

#[test]
fn every_target_has_a_fuzz_target_and_a_corpus() {
    let listed: BTreeSet<String> = TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect();
    assert_eq!(
        names(&fuzz_dir().join("fuzz_targets"), ".rs"),
        listed,
        "fuzz/fuzz_targets/*.rs and session_fuzzing::TARGETS differ"
    );
    assert_eq!(
        names(&fuzz_dir().join("corpus"), ""),
        listed,
        "fuzz/corpus/* and session_fuzzing::TARGETS differ"
    );
}

#[test]
fn every_corpus_replays_without_a_violated_property() {
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut replayed = 0usize;
    for (name, entry) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(name);
        assert!(
            dir.is_dir(),
            "corpus directory {} is missing",
            dir.display()
        );
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        files.retain(|path| path.is_file());
        files.sort();
        assert!(
            !files.is_empty(),
            "corpus directory {} is empty",
            dir.display()
        );
        for path in files {
            let bytes =
                fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            if catch_unwind(AssertUnwindSafe(|| entry(&bytes))).is_err() {
                failures.push(path.display().to_string());
            }
            replayed += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus input(s) violate a property (see the panics above):\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!(
        "replayed {replayed} corpus inputs of {} targets in {:.2?}",
        TARGETS.len(),
        started.elapsed()
    );
}

/// The Django values the mutate mode starts from must decode to their objects, or
/// "a mutant decodes only with the original payload" would hold vacuously.
#[test]
fn mutation_bases_are_live_django_values() {
    let keys = SecretKeys::new(SECRET).with_fallbacks([FALLBACK]);
    let at = time::OffsetDateTime::from_unix_timestamp(TIMESTAMP).expect("fixture timestamp");
    let clock = std::sync::Arc::new(ManualClock::new(at));
    let expected = |base: &Base| -> serde_json::Value {
        serde_json::from_str(base.obj).expect("fixture JSON")
    };
    for (bases, salt) in [(SIGNING_BASES, DEFAULT_SALT), (SESSION_BASES, SESSION_SALT)] {
        for base in bases {
            let value = loads(
                base.signed,
                &keys,
                salt,
                &JsonSerializer,
                None,
                clock.clone(),
            )
            .expect("a Django fixture value decodes");
            assert!(same_json(&value, &expected(base)), "{}", base.signed);
        }
    }
    let store =
        SignedCookieStore::new(keys, COOKIE_AGE, clock, std::sync::Arc::new(JsonSerializer));
    for base in COOKIE_BASES {
        let key = SessionKey::signed_payload(base.signed).expect("cookie-safe");
        let record = store
            .load(&key)
            .expect("load")
            .expect("a Django cookie loads");
        let value = serde_json::Value::Object(record.data.into_map());
        assert!(same_json(&value, &expected(base)), "{}", base.signed);
    }
}
