//! The kit's S3 cases can fail: stores that claim hashed ids with one deliberate flaw
//! each fail the cases of that flaw, and `HashedIds` passes them (over memory).
#![cfg(all(feature = "hashed_ids", feature = "memory"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use session_api::{
    AsyncSessionStore, Capabilities, Error, InlineAsync, Record, Result, SaveMode, SessionBackend,
    SessionKey,
};
use session_conformance::{factory, run_case, Harness, HashedIdsAccess, KitEnv, Outcome, CASES};
use session_kit_stores::hashed_ids::hashed_memory;
use session_stores::hashed_ids::{stored_id, HashMode, HashedIds};
use session_stores::memory::MemoryStore;

/// What is wrong with a store.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// Declares hashed ids but keeps records under their keys.
    PlainIds,
    /// Moves plain records without checking for a logout, looks any key up as plain,
    /// and logs out the hashed record first.
    NaiveMove,
    /// Its migration mode never looks at plain records.
    NoMove,
}

/// A store claiming hashed ids, with `fault` (one of the first two).
#[derive(Debug)]
struct Faulty {
    below: Arc<dyn AsyncSessionStore>,
    fault: Fault,
}

impl Faulty {
    fn id(&self, key: &SessionKey) -> Result<SessionKey> {
        match self.fault {
            Fault::PlainIds => Ok(key.clone()),
            _ => stored_id(key),
        }
    }
}

fn rekeyed(record: &Record, key: &SessionKey) -> Record {
    let mut moved = record.clone();
    moved.key = key.clone();
    moved
}

#[async_trait]
impl AsyncSessionStore for Faulty {
    fn capabilities(&self) -> Capabilities {
        self.below.capabilities().with_hashed_ids(true)
    }
    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        Ok(self.below.aexists(&self.id(key)?).await? || self.below.aexists(key).await?)
    }
    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        let id = self.id(key)?;
        if let Some(record) = self.below.aload(&id).await? {
            return Ok(Some(rekeyed(&record, key)));
        }
        let Some(plain) = self.below.aload(key).await? else {
            return Ok(None);
        };
        self.below
            .asave(&rekeyed(&plain, &id), SaveMode::Create)
            .await?;
        self.below.adelete(key).await?;
        Ok(Some(plain))
    }
    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let hashed = rekeyed(record, &self.id(&record.key)?);
        match self.below.asave(&hashed, mode).await {
            Err(Error::Update) if self.below.aexists(&record.key).await? => {
                self.below.asave(&hashed, SaveMode::Create).await?;
                self.below.adelete(&record.key).await?;
            }
            other => {
                other?;
            }
        }
        Ok(record.key.clone())
    }
    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        self.below.adelete(&self.id(key)?).await?;
        self.below.adelete(key).await
    }
    async fn aclear_expired(&self) -> Result<u64> {
        self.below.aclear_expired().await
    }
}

#[derive(Debug)]
struct FaultyAccess {
    below: Arc<dyn AsyncSessionStore>,
    fault: Fault,
}

impl FaultyAccess {
    fn store_over(&self, below: Arc<dyn AsyncSessionStore>) -> Result<SessionBackend> {
        Ok(match self.fault {
            Fault::NoMove => {
                SessionBackend::from_async(Arc::new(HashedIds::new(below, HashMode::Hashed)?))
            }
            fault => SessionBackend::from_async(Arc::new(Faulty { below, fault })),
        })
    }
}

impl HashedIdsAccess for FaultyAccess {
    fn stored_id(&self, key: &SessionKey) -> Result<SessionKey> {
        match self.fault {
            Fault::PlainIds => Ok(key.clone()),
            _ => stored_id(key),
        }
    }
    fn below(&self) -> Arc<dyn AsyncSessionStore> {
        Arc::clone(&self.below)
    }
    fn migrating_over(&self, below: Arc<dyn AsyncSessionStore>) -> Result<SessionBackend> {
        self.store_over(below)
    }
}

fn faulty_harness(env: &KitEnv, fault: Fault) -> Result<Harness> {
    let memory = Arc::new(MemoryStore::with_clock(env.clock()));
    let below: Arc<dyn AsyncSessionStore> = Arc::new(InlineAsync(memory));
    let access = FaultyAccess {
        below: Arc::clone(&below),
        fault,
    };
    let backend = access.store_over(below)?;
    Ok(Harness::new(backend).with_hashed_ids(Arc::new(access)))
}

async fn outcome(fault: Option<Fault>, case: &str) -> Outcome {
    let case = CASES.iter().find(|c| c.name == case).expect("case exists");
    let store = match fault {
        None => factory(|env| hashed_memory(HashMode::Hashed, env)),
        Some(fault) => factory(move |env| async move { faulty_harness(&env, fault) }),
    };
    run_case(case, &store).await.outcome
}

async fn assert_caught(fault: Fault, cases: &[&str]) {
    for case in cases {
        assert_eq!(
            outcome(None, case).await,
            Outcome::Passed,
            "{case} on HashedIds"
        );
        let got = outcome(Some(fault), case).await;
        assert!(
            matches!(got, Outcome::Failed(_)),
            "{fault:?} not caught by {case}: {got:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_keeping_plain_ids_fails_the_stored_id_cases() {
    assert_caught(
        Fault::PlainIds,
        &[
            "s3_stored_id_is_not_the_key",
            "s3_stored_id_presented_as_a_key_loads_nothing",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_naive_move_fails_the_logout_and_stored_id_cases() {
    assert_caught(
        Fault::NaiveMove,
        &[
            "s3_logout_during_a_move_is_never_undone",
            "s3_stored_id_presented_as_a_key_loads_nothing",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_that_never_moves_fails_the_move_cases() {
    assert_caught(
        Fault::NoMove,
        &[
            "s3_plain_record_moves_on_load",
            "s3_plain_record_moves_on_save",
        ],
    )
    .await;
}
