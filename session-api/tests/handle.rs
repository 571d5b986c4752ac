#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What the v2 handle promises (issue 11): clones share one state, a typed read is one
//! call and one await, concurrent tasks lose no write, [`SessionGuard`] makes a
//! read-modify-write atomic, and a sync method never panics or deadlocks in any
//! runtime context: where it cannot block it returns [`Error::BlockingNotAllowed`].
//!
//! Anything that could hang runs under a deadline: async waits under
//! `tokio::time::timeout`, and tests whose sync calls could block a thread run on a
//! thread of their own that the test thread waits for with [`within`].
//!
//! [`SessionGuard`]: session_api::SessionGuard

mod common;

use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::{Fixture, START};
use session_api::{
    Error, InlineAsync, ManualClock, Result, SaveMode, Session, SessionBackend, SessionKey,
};
use session_stores::memory::MemoryStore;
use tokio::runtime::{Builder, Runtime};
use tokio::sync::oneshot;

/// The longest any test here may take; a regression fails instead of hanging CI.
const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `f` on its own thread and fails the test if it has not finished within
/// [`DEADLINE`] (a blocked thread cannot be interrupted, but it can be abandoned). A
/// panic in `f` is re-raised here.
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, finished) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        // The receiver is gone only after a timeout has already failed the test.
        let _ = done.send(f());
    });
    match finished.recv_timeout(DEADLINE) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung for more than {DEADLINE:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the thread ended without sending its result"),
        },
    }
}

async fn deadline<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: hung for more than {DEADLINE:?}"))
}

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn blocking_not_allowed<T>(result: Result<T>) -> bool {
    matches!(result, Err(Error::BlockingNotAllowed(_)))
}

// ---- one shared state ----------------------------------------------------------------

#[test]
fn clones_share_data_flags_and_key() {
    let f = Fixture::new();
    let a = f.session(None);
    let b = a.clone();
    assert!(!b.accessed() && !b.modified());
    a.set("x", &1).unwrap();
    assert_eq!(
        b.get::<i64>("x").unwrap(),
        Some(1),
        "a value set through a clone"
    );
    assert!(b.accessed() && b.modified(), "flags are shared");
    b.set_modified(false);
    assert!(!a.modified());
    a.set_modified(true);
    b.save().unwrap();
    let key = b.session_key().expect("saved under a fresh key");
    assert_eq!(a.session_key(), Some(key.clone()), "the key is shared");
    assert_eq!(
        f.session(Some(key.as_str())).get::<i64>("x").unwrap(),
        Some(1)
    );
    a.cycle_key().unwrap();
    let cycled = b.session_key().unwrap();
    assert_ne!(cycled, key, "A5 through one clone is seen by the other");
    b.flush().unwrap();
    assert!(a.session_key().is_none());
    assert!(a.is_empty().unwrap());
}

#[test]
fn a_clone_made_before_the_load_sees_the_loaded_data_once() {
    let f = Fixture::new();
    let key = f.saved();
    let a = f.session(Some(key.as_str()));
    let b = a.clone();
    let before = f.store.calls();
    assert_eq!(a.get::<i64>("a").unwrap(), Some(1));
    assert_eq!(b.get::<i64>("a").unwrap(), Some(1));
    assert_eq!(f.store.calls(), before + 1, "B1: one load for all clones");
}

// ---- the handler's read --------------------------------------------------------------

#[tokio::test]
async fn a_typed_read_is_one_call_and_one_await() -> Result<()> {
    let f = Fixture::new();
    let key = f.saved();
    let session = f.session(Some(key.as_str()));
    let v: Option<i64> = session.aget("a").await?;
    assert_eq!(v, Some(1));
    let missing: Option<i64> = session.aget("visits").await?;
    assert_eq!(missing, None);
    session.aset("visits", &(missing.unwrap_or(0) + 1)).await?;
    let visits: Option<i64> = session.aget("visits").await?;
    assert_eq!(visits, Some(1));
    // A value of another type is a typed error, not a panic.
    let wrong: Result<Option<String>> = session.aget("a").await;
    assert!(matches!(wrong, Err(Error::Serialization(_))), "{wrong:?}");
    Ok(())
}

// ---- concurrency ---------------------------------------------------------------------

const TASKS: i64 = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_asets_of_distinct_keys_lose_no_write() {
    let f = Fixture::new();
    let session = f.session(None);
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let s = session.clone();
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                s.aset(&format!("k{i}"), &i).await
            })
        })
        .collect();
    deadline("asets", async {
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    })
    .await;
    assert_eq!(session.akeys().await.unwrap().len(), TASKS as usize);
    session.asave().await.unwrap();
    let key = session.session_key().unwrap();
    let reloaded = f.session(Some(key.as_str()));
    for i in 0..TASKS {
        assert_eq!(
            reloaded.aget::<i64>(&format!("k{i}")).await.unwrap(),
            Some(i)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_and_async_writers_on_a_multi_thread_runtime_lose_no_write() {
    let f = Fixture::new();
    let session = f.session(None);
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let s = session.clone();
            tokio::spawn(async move {
                let key = format!("k{i}");
                if i % 2 == 0 {
                    // A sync method inside a multi-thread runtime waits for the lock
                    // (block_in_place) instead of failing.
                    s.set(&key, &i)
                } else {
                    s.aset(&key, &i).await
                }
            })
        })
        .collect();
    deadline("mixed writers", async {
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    })
    .await;
    let items = session.aitems().await.unwrap();
    assert_eq!(items.len(), TASKS as usize);
    for i in 0..TASKS {
        assert_eq!(
            session.aget::<i64>(&format!("k{i}")).await.unwrap(),
            Some(i)
        );
    }
}

/// `TASKS` increments of one counter; each reads, yields, then writes.
async fn increment_all(session: &Session, guarded: bool) -> i64 {
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let s = session.clone();
            tokio::spawn(async move {
                if guarded {
                    let mut guard = s.lock().await;
                    let n: i64 = guard.aget("n").await?.unwrap_or(0);
                    tokio::task::yield_now().await;
                    guard.aset("n", &(n + 1)).await
                } else {
                    let n: i64 = s.aget("n").await?.unwrap_or(0);
                    tokio::task::yield_now().await;
                    s.aset("n", &(n + 1)).await
                }
            })
        })
        .collect();
    deadline("increments", async {
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    })
    .await;
    session.aget("n").await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_makes_read_modify_write_atomic() {
    let f = Fixture::new();
    let session = f.session(None);
    assert_eq!(increment_all(&session, true).await, TASKS);
    assert!(session.modified());
}

#[tokio::test(flavor = "current_thread")]
async fn without_the_guard_the_same_sequence_interleaves() {
    // The control for the test above: single calls are atomic one by one, but a read
    // and a later write are two steps another task can come between. On one thread
    // every task reads 0 before any writes, so updates are lost; with the guard none.
    let f = Fixture::new();
    let unguarded = f.session(None);
    assert!(increment_all(&unguarded, false).await < TASKS);
    let guarded = f.session(None);
    assert_eq!(increment_all(&guarded, true).await, TASKS);
}

// ---- sync methods never panic or deadlock --------------------------------------------

#[test]
fn sync_calls_in_a_current_thread_runtime_while_another_task_holds_the_guard() {
    within(|| {
        let f = Fixture::new();
        let key = f.saved();
        let session = f.session(Some(key.as_str()));
        current_thread().block_on(async move {
            let (held_tx, held) = oneshot::channel();
            let (release, release_rx) = oneshot::channel::<()>();
            let holder = tokio::spawn({
                let s = session.clone();
                async move {
                    let _guard = s.lock().await;
                    held_tx.send(()).unwrap();
                    release_rx.await.unwrap();
                }
            });
            deadline("guard taken", held).await.unwrap();
            // From the runtime's main future and from another task alike: blocking
            // would stall the only thread, which is also the one the holder needs.
            assert!(blocking_not_allowed(session.get_value("a")));
            assert!(blocking_not_allowed(session.set("a", &2)));
            assert!(blocking_not_allowed(session.is_empty()));
            assert!(blocking_not_allowed(session.clear()));
            assert!(blocking_not_allowed(session.save()));
            assert!(blocking_not_allowed(session.lock_sync()));
            let s = session.clone();
            let from_task = tokio::spawn(async move { s.get::<i64>("a") });
            assert!(blocking_not_allowed(
                deadline("other task", from_task).await.unwrap()
            ));
            release.send(()).unwrap();
            deadline("holder", holder).await.unwrap();
            // The lock is free: the same sync methods succeed (the memory store never
            // blocks).
            assert_eq!(session.get::<i64>("a").unwrap(), Some(1));
            session.set("a", &2).unwrap();
            assert!(!session.is_empty().unwrap());
            session.save().unwrap();
            assert_eq!(
                f.session(Some(key.as_str())).get::<i64>("a").unwrap(),
                Some(2)
            );
        });
    });
}

#[test]
fn sync_calls_by_the_task_that_holds_the_guard_fail_instead_of_deadlocking() {
    within(|| {
        let f = Fixture::new();
        let session = f.session(None);
        multi_thread().block_on(async move {
            let task = tokio::spawn(async move {
                let mut guard = session.lock().await;
                // Waiting here would wait for ourselves.
                assert!(blocking_not_allowed(session.get_value("a")));
                assert!(blocking_not_allowed(session.set("a", &1)));
                assert!(blocking_not_allowed(session.is_empty()));
                assert!(blocking_not_allowed(session.lock_sync()));
                // The guard's own methods are the way.
                guard.set("a", &1).unwrap();
                assert_eq!(guard.get::<i64>("a").unwrap(), Some(1));
                drop(guard);
                // Released: the same task's sync calls work again.
                assert_eq!(session.get::<i64>("a").unwrap(), Some(1));
                // The same holds for a guard taken with lock_sync.
                let _sync_guard = session.lock_sync().unwrap();
                assert!(blocking_not_allowed(session.get_value("a")));
            });
            deadline("holder task", task).await.unwrap();
        });
    });
}

#[test]
fn sync_calls_on_a_multi_thread_runtime_wait_for_another_tasks_guard() {
    within(|| {
        let f = Fixture::new();
        let session = f.session(None);
        multi_thread().block_on(async move {
            let (held_tx, held) = oneshot::channel();
            let holder = tokio::spawn({
                let s = session.clone();
                async move {
                    let mut guard = s.lock().await;
                    held_tx.send(()).unwrap();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    guard.aset("a", &1).await.unwrap();
                }
            });
            let reader = tokio::spawn(async move {
                held.await.unwrap();
                // Only possible once the holder has written and released.
                session.get::<i64>("a")
            });
            assert_eq!(deadline("reader", reader).await.unwrap().unwrap(), Some(1));
            deadline("holder", holder).await.unwrap();
        });
    });
}

#[test]
fn sync_calls_from_plain_threads_take_the_blocking_lock() {
    within(|| {
        let f = Fixture::new();
        let session = f.session(None);
        let (held_tx, held) = mpsc::channel();
        let holder = std::thread::spawn({
            let s = session.clone();
            move || {
                let mut guard = s.lock_sync().unwrap();
                held_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(50));
                guard.set("a", &1).unwrap();
            }
        });
        held.recv().unwrap();
        // No runtime on this thread: the call waits for the holder, then succeeds.
        assert_eq!(session.get::<i64>("a").unwrap(), Some(1));
        holder.join().unwrap();
        session.set("b", &2).unwrap();
        assert!(!session.is_empty().unwrap());
        session.save().unwrap();
        let key = session.session_key().unwrap();
        let reloaded = f.session(Some(key.as_str()));
        assert_eq!(reloaded.keys().unwrap(), ["a", "b"]);
        reloaded.clear().unwrap();
        assert!(reloaded.keys().unwrap().is_empty());
    });
}

// ---- an async-only store --------------------------------------------------------------

/// The memory store seen only through the async contract, so the session's sync side
/// is the [`session_api::AsyncToSync`] bridge.
fn async_only() -> SessionBackend {
    let store = MemoryStore::with_clock(Arc::new(ManualClock::new(START)));
    SessionBackend::from_async(Arc::new(InlineAsync(Arc::new(store))))
}

#[test]
fn sync_calls_on_an_async_only_store_in_a_current_thread_runtime_are_typed_errors() {
    within(|| {
        let f = Fixture::new();
        current_thread().block_on(async move {
            // Built inside the runtime, so the bridge has a handle: it still must not
            // block the runtime's only thread.
            let backend = async_only();
            let writer = Session::new(backend.clone(), f.config.clone(), None);
            writer.aset("a", &1).await.unwrap();
            // D2: no key yet, so save creates; through the sync side that cannot block.
            assert!(blocking_not_allowed(writer.save()));
            assert!(blocking_not_allowed(writer.create()));
            assert!(writer.session_key().is_none());
            writer.asave().await.unwrap();
            let key = writer.session_key().unwrap();

            let reader = Session::new(backend.clone(), f.config.clone(), Some(key.as_str()));
            // Every first access loads (B1) through the sync side.
            assert!(blocking_not_allowed(reader.get_value("a")));
            assert!(blocking_not_allowed(reader.set("b", &2)));
            assert!(blocking_not_allowed(reader.keys()));
            assert!(blocking_not_allowed(reader.cycle_key()));
            assert!(blocking_not_allowed(reader.delete_record(Some(&key))));
            // Nothing was half-done: the key and the record are intact.
            assert_eq!(reader.session_key(), Some(key.clone()));
            assert_eq!(reader.aget::<i64>("a").await.unwrap(), Some(1));
            assert!(backend.nonblocking().aexists(&key).await.unwrap());
            // Writes that need no load fail at the store call, not with a panic.
            assert!(blocking_not_allowed(reader.save_with(SaveMode::Create)));
            assert!(blocking_not_allowed(reader.save()));
            assert!(blocking_not_allowed(reader.flush()));
            assert!(backend.nonblocking().aexists(&key).await.unwrap());
            let stranger = SessionKey::generate();
            assert!(blocking_not_allowed(backend.sync().exists(&stranger)));
        });
    });
}

#[test]
fn sync_calls_on_an_async_only_store_work_on_a_multi_thread_runtime() {
    within(|| {
        let f = Fixture::new();
        multi_thread().block_on(async move {
            let backend = async_only();
            let task = tokio::spawn(async move {
                let writer = Session::new(backend.clone(), f.config.clone(), None);
                writer.set("a", &1).unwrap();
                writer.save().unwrap();
                let key = writer.session_key().unwrap();
                let reader = Session::new(backend, f.config.clone(), Some(key.as_str()));
                reader.get::<i64>("a")
            });
            assert_eq!(deadline("sync task", task).await.unwrap().unwrap(), Some(1));
        });
    });
}
