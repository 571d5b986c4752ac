//! The kit as a `cargo test` harness: every case is a [`libtest_mimic`] trial, so
//! `--list`, filters, `--exact`, `--skip`, `--ignored` and `--include-ignored` work
//! as with the built-in harness.
//!
//! The store's factory is called once up front (a probe) to read its declared
//! [`Capabilities`](session_api::Capabilities) and what the harness offers; a case
//! that does not apply becomes an *ignored* trial whose kind says why, so both
//! `--list` and the run show `[skipped: <reason>] <case>` and the summary counts it
//! as ignored, never as passed. Each case then runs on a fresh store from the factory.
//!
//! A factory that reports its server unavailable ([`crate::unavailable`], or any
//! [`session_api::Error::Unavailable`]) skips every case with a loud message on
//! stderr, except under `CI=true`, where every case fails.

use std::future::Future;
use std::process::ExitCode;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use tokio::runtime::{Handle, Runtime};

use crate::harness::{Harness, KitEnv};
use crate::runner::{execute, factory, unavailable_reason, Factory, Outcome, WhenUnavailable};
use crate::CASES;

/// What the probe learnt about the store.
enum Probe {
    /// The store was built: the skip reason of each case, in [`CASES`] order.
    Store(Vec<Option<String>>),
    /// The factory reported its server unavailable.
    Unavailable(String),
    /// The factory failed otherwise: every case will run and report that failure.
    Broken,
}

/// True under `CI=true`, where an unavailable store fails the cases instead of
/// skipping them.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The `main` of a `harness = false` test target: runs the kit on the stores that
/// `factory` builds (one fresh store per case) and returns the exit code.
///
/// ```no_run
/// // tests/conformance.rs, with `[[test]] name = "conformance"` and `harness = false`
/// use std::sync::Arc;
/// use session_api::{Result, SessionBackend, SessionStore};
/// use session_conformance::{Harness, KitEnv};
/// # #[derive(Debug)] struct MyStore;
/// # impl MyStore { fn new(_: &str, _: Arc<dyn session_api::Clock>) -> Self { MyStore } }
/// # impl SessionStore for MyStore {
/// #     fn capabilities(&self) -> session_api::Capabilities { session_api::Capabilities::server_side() }
/// #     fn exists(&self, _: &session_api::SessionKey) -> Result<bool> { Ok(false) }
/// #     fn load(&self, _: &session_api::SessionKey) -> Result<Option<session_api::Record>> { Ok(None) }
/// #     fn save(&self, r: &session_api::Record, _: session_api::SaveMode) -> Result<session_api::SessionKey> { Ok(r.key.clone()) }
/// #     fn delete(&self, _: &session_api::SessionKey) -> Result<()> { Ok(()) }
/// #     fn clear_expired(&self) -> Result<u64> { Ok(0) }
/// # }
///
/// async fn factory(env: KitEnv) -> Result<Harness> {
///     let store = MyStore::new(env.unique_name(), env.clock());
///     Ok(Harness::new(SessionBackend::from_sync(Arc::new(store))))
/// }
///
/// fn main() -> std::process::ExitCode {
///     session_conformance::test_main(factory)
/// }
/// ```
pub fn test_main<F, Fut>(factory_fn: F) -> ExitCode
where
    F: Fn(KitEnv) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = session_api::Result<Harness>> + Send + 'static,
{
    let args = Arguments::from_args();
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the conformance kit's tokio runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let trials = trials(factory(factory_fn), runtime.handle());
    libtest_mimic::run(&args, trials).exit_code()
}

/// The multi-thread runtime the cases run on (the sync cases need one to block in).
fn runtime() -> std::io::Result<Runtime> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
}

/// Every case as a trial on `runtime`, for a harness that adds trials of its own
/// before calling [`libtest_mimic::run`]. Probes the factory once (see the module
/// docs); call it outside the runtime, as it blocks on it.
pub fn trials(factory: Factory, runtime: &Handle) -> Vec<Trial> {
    trials_with(factory, runtime, in_ci())
}

fn trials_with(factory: Factory, runtime: &Handle, ci: bool) -> Vec<Trial> {
    let probe = runtime.block_on(probe(factory.clone()));
    // Under CI a server that goes away during the run fails the cases too.
    let when_unavailable = if ci {
        WhenUnavailable::Fail
    } else {
        WhenUnavailable::Skip
    };
    let skips = match probe {
        Probe::Store(skips) => skips,
        Probe::Broken => vec![None; CASES.len()],
        Probe::Unavailable(reason) if ci => {
            // Every case would wait for the same missing server: fail them at once.
            return CASES
                .iter()
                .map(|case| {
                    let reason =
                        format!("{} not run: {reason} (a failure under CI=true)", case.name);
                    Trial::test(case.name, move || Err(Failed::from(reason)))
                })
                .collect();
        }
        Probe::Unavailable(reason) => {
            eprintln!(
                "\n************************************************************\n\
                 SKIPPED: every conformance case: {reason}\n\
                 (set CI=true to make this a failure)\n\
                 ************************************************************\n"
            );
            vec![Some("store unavailable".to_owned()); CASES.len()]
        }
    };
    CASES
        .iter()
        .zip(skips)
        .map(|(case, skip)| {
            let factory = factory.clone();
            let runtime = runtime.clone();
            let trial = Trial::ignorable_test(case.name, move || {
                let (report, ran) = runtime.block_on(execute(case, &factory, when_unavailable));
                match report.outcome {
                    Outcome::Passed => Ok(Completion::Completed),
                    // Run with --ignored, or the store changed its mind: still not a pass.
                    Outcome::Skipped(reason) => Ok(Completion::ignored_with(reason)),
                    Outcome::Failed(reason) if ran => Err(Failed::from(format!(
                        "rule {} broken ({}): {reason}",
                        case.rule, case.name
                    ))),
                    Outcome::Failed(reason) => {
                        Err(Failed::from(format!("{} not run: {reason}", case.name)))
                    }
                }
            });
            match skip {
                Some(reason) => trial
                    .with_ignored_flag(true)
                    .with_kind(format!("skipped: {reason}")),
                None => trial,
            }
        })
        .collect()
}

/// Builds one store and decides which cases apply to it.
async fn probe(factory: Factory) -> Probe {
    let built = tokio::spawn(factory(KitEnv::new("probe"))).await;
    match built {
        Ok(Ok(harness)) => {
            let caps = harness.backend.capabilities();
            Probe::Store(
                CASES
                    .iter()
                    .map(|case| case.needs.check(&caps, &harness).err())
                    .collect(),
            )
        }
        Ok(Err(err)) => match unavailable_reason(&err) {
            Some(reason) => Probe::Unavailable(reason),
            None => Probe::Broken,
        },
        Err(_panicked) => Probe::Broken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> Factory {
        factory(|_env| async { Err(crate::unavailable("nothing listens on 127.0.0.1:1")) })
    }

    /// Runs the one case `d5_update_of_unknown_key_is_update_error`, its report
    /// going to a scratch file rather than into this test's output.
    fn run(trials: Vec<Trial>, ignored: bool) -> libtest_mimic::Conclusion {
        static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = std::env::temp_dir().join(format!("kit-trials-{}-{n}.log", std::process::id()));
        let args = Arguments {
            ignored,
            filter: Some("d5_update_of_unknown_key".into()),
            test_threads: Some(1),
            logfile: Some(log.display().to_string()),
            ..Arguments::default()
        };
        let conclusion = libtest_mimic::run(&args, trials);
        let _ = std::fs::remove_file(log);
        conclusion
    }

    #[test]
    fn an_unavailable_store_skips_every_case_outside_ci() {
        let rt = runtime().expect("runtime");
        let trials = trials_with(down(), rt.handle(), false);
        assert_eq!(trials.len(), CASES.len());
        for trial in &trials {
            assert!(trial.has_ignored_flag(), "{} not ignored", trial.name());
            assert_eq!(trial.kind(), "skipped: store unavailable");
        }
        let conclusion = run(trials, false);
        assert_eq!((conclusion.num_ignored, conclusion.num_passed), (1, 0));
        // Run anyway (--ignored): still not a pass.
        let conclusion = run(trials_with(down(), rt.handle(), false), true);
        assert_eq!((conclusion.num_ignored, conclusion.num_passed), (1, 0));
    }

    #[test]
    fn an_unavailable_store_fails_every_case_under_ci() {
        let rt = runtime().expect("runtime");
        let trials = trials_with(down(), rt.handle(), true);
        assert!(trials
            .iter()
            .all(|t| !t.has_ignored_flag() && t.kind().is_empty()));
        let conclusion = run(trials, false);
        assert_eq!((conclusion.num_failed, conclusion.num_passed), (1, 0));
    }

    #[test]
    fn a_broken_factory_fails_the_cases() {
        let rt = runtime().expect("runtime");
        let broken =
            factory(|_env| async { Err(session_api::Error::configuration("no such directory")) });
        let conclusion = run(trials_with(broken, rt.handle(), false), false);
        assert_eq!((conclusion.num_failed, conclusion.num_passed), (1, 0));
    }
}
