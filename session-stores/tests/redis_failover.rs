//! Failover of a replicated Redis under a stream of requests, on the cache store and
//! on cached_db (over SQLite) at once, both through one [`RedisCache`] with the
//! default [`RedisOptions`]:
//!
//! - Redis Cluster (3 masters, 3 replicas): the master that owns the slot of a known
//!   session key is killed (SIGKILL), and its replica takes over;
//! - Sentinel (a master, a replica, three sentinels): the master is killed.
//!
//! The stream is bounded: [`WORKERS`] tasks, each sending a login, two updates or a
//! logout every [`PAUSE`], at most [`MAX_REQUESTS`] per store, until writes have
//! worked again for [`AFTER_RECOVERY`] (or [`RECOVERY_BOUND`] passed). A probe task
//! per store saves the known session every 20 ms.
//!
//! Asserted (correctness, never timing): every failed request is
//! [`Error::Unavailable`] (what a site answers with 503); writes work again within the
//! generous [`RECOVERY_BOUND`]; no logged-out session comes back (it loads as nothing
//! and a stale save of it fails with [`Error::Update`]). Measured and printed: failed
//! requests, the time from the kill until writes work again, and acknowledged writes
//! lost (Redis replicates asynchronously: a write a master acknowledged and had not yet
//! sent to its replica is gone after the failover). The figures are in
//! docs/scaling.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/topology.rs"]
mod topology;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use session_api::{
    AsyncSessionStore, Clock, Error, Record, SaveMode, SessionData, SessionKey, SystemClock,
};
use session_conformance::KitEnv;
use session_kit_stores::db::{store as db_store, Database, TableGuard};
use session_stores::cache::{CacheStore, RedisCache, RedisOptions};
use session_stores::cached_db::CachedDbStore;
use topology::{or_skip, Cluster, SentinelGroup};

/// Concurrent request streams per store.
const WORKERS: usize = 4;
/// Pause between two requests of one stream.
const PAUSE: Duration = Duration::from_millis(10);
/// Requests per store, at most.
const MAX_REQUESTS: usize = 8000;
/// Traffic before the kill.
const WARM_UP: Duration = Duration::from_millis(500);
/// Traffic after writes work again.
const AFTER_RECOVERY: Duration = Duration::from_secs(1);
/// How long writes may take to work again before the test fails: generous, the
/// figures are seconds.
const RECOVERY_BOUND: Duration = Duration::from_secs(30);
/// Probe successes in a row after its last failure that count as "writes work".
const PROBE_STREAK: usize = 10;

/// One store under test.
struct Target {
    name: &'static str,
    store: Arc<dyn AsyncSessionStore>,
    cache_key: Box<dyn Fn(&SessionKey) -> String + Send + Sync>,
    clock: Arc<dyn Clock>,
    _guard: Option<TableGuard>,
}

impl Target {
    fn record(&self, key: &SessionKey, n: i64) -> Record {
        let data = SessionData::from_value(json!({"n": n, "user": "u"})).unwrap();
        Record::new(
            key.clone(),
            data,
            self.clock.now() + time::Duration::hours(1),
        )
    }

    fn slot(&self, key: &SessionKey) -> u16 {
        fred::util::redis_keyslot((self.cache_key)(key).as_bytes())
    }
}

/// The cache store and cached_db (on a scratch SQLite database) over `redis`.
async fn targets(redis: &Arc<RedisCache>) -> Vec<Arc<Target>> {
    let cache = Arc::new(CacheStore::new(redis.clone()).key_prefix("failover:cache"));
    let env = KitEnv::new("failover");
    let (db, guard) = db_store(&Database::ScratchSqlite, &env).await.unwrap();
    let cached_db =
        Arc::new(CachedDbStore::new(db, redis.clone(), env.clock()).key_prefix("failover:cdb"));
    vec![
        Arc::new(Target {
            name: "cache",
            store: cache.clone(),
            cache_key: Box::new(move |k| cache.cache_key(k)),
            clock: Arc::new(SystemClock),
            _guard: None,
        }),
        Arc::new(Target {
            name: "cached_db",
            store: cached_db.clone(),
            cache_key: Box::new(move |k| cached_db.cache_key(k)),
            clock: env.clock(),
            _guard: Some(guard),
        }),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Login,
    Update,
    Logout,
}

/// One request of a stream: when it started (since the stream's start), how long it
/// took, the cache slot of its key, and its error if it failed.
struct Request {
    at: Duration,
    took: Duration,
    slot: u16,
    error: Option<Error>,
}

/// What a stream left: its requests, and the acknowledged state of its sessions.
#[derive(Default)]
struct StreamLog {
    requests: Vec<Request>,
    /// Sessions whose last write was acknowledged, with the value written.
    live: Vec<(SessionKey, i64)>,
    /// Acknowledged logouts.
    logged_out: Vec<SessionKey>,
    /// Logouts that failed: retried after the failover (the user clicks again).
    retry_logout: Vec<SessionKey>,
}

async fn stream(
    target: Arc<Target>,
    start: Instant,
    stop: Arc<AtomicBool>,
    budget: Arc<AtomicUsize>,
) -> StreamLog {
    let mut log = StreamLog::default();
    let mut live: VecDeque<(SessionKey, i64)> = VecDeque::new();
    let mut turn = 0u64;
    while !stop.load(Ordering::Relaxed) && budget.fetch_add(1, Ordering::Relaxed) < MAX_REQUESTS {
        turn += 1;
        // Two logins, three updates, one logout: the live sessions grow.
        let op = match turn % 6 {
            _ if live.len() < 4 => Op::Login,
            0 | 1 => Op::Login,
            5 => Op::Logout,
            _ => Op::Update,
        };
        let at = start.elapsed();
        let (key, result) = match op {
            Op::Login => {
                let key = SessionKey::generate();
                let saved = target
                    .store
                    .asave(&target.record(&key, 0), SaveMode::Create)
                    .await;
                if saved.is_ok() {
                    live.push_back((key.clone(), 0));
                }
                (key, saved.map(drop))
            }
            Op::Update => {
                let (key, n) = live.pop_front().expect("live sessions");
                let saved = target
                    .store
                    .asave(&target.record(&key, n + 1), SaveMode::Update)
                    .await;
                // A failed update leaves the value unknown (old or new): the session
                // is left out of the lost-write count.
                if saved.is_ok() {
                    live.push_back((key.clone(), n + 1));
                }
                (key, saved.map(drop))
            }
            Op::Logout => {
                let (key, _) = live.pop_front().expect("live sessions");
                let deleted = target.store.adelete(&key).await;
                if deleted.is_ok() {
                    log.logged_out.push(key.clone());
                } else {
                    log.retry_logout.push(key.clone());
                }
                (key, deleted)
            }
        };
        log.requests.push(Request {
            at,
            took: start.elapsed() - at,
            slot: target.slot(&key),
            error: result.err(),
        });
        tokio::time::sleep(PAUSE).await;
    }
    log.live = live.into();
    log
}

/// A probe's writes: when each started (since the stream's start), how long it took,
/// whether it worked.
type ProbeLog = Arc<std::sync::Mutex<Vec<(Duration, Duration, bool)>>>;

/// The probe: saves `key` every 20 ms into `log`, until stopped.
async fn probe(
    target: Arc<Target>,
    key: SessionKey,
    start: Instant,
    stop: Arc<AtomicBool>,
    log: ProbeLog,
) {
    let mut n = 1;
    while !stop.load(Ordering::Relaxed) {
        let at = start.elapsed();
        let ok = target
            .store
            .asave(&target.record(&key, n), SaveMode::Update)
            .await
            .is_ok();
        log.lock().unwrap().push((at, start.elapsed() - at, ok));
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether the probe's writes work again after `kill`: [`PROBE_STREAK`] successes in
/// a row since its last failure (or since the kill when none failed).
fn probe_recovered(saves: &[(Duration, Duration, bool)], kill: Duration) -> bool {
    let after: Vec<bool> = saves.iter().filter(|s| s.0 >= kill).map(|s| s.2).collect();
    after.len() >= PROBE_STREAK && after[after.len() - PROBE_STREAK..].iter().all(|&ok| ok)
}

/// What a failover did to one store. The window runs from the kill until the
/// topology was healthy and every probe wrote again.
#[derive(Debug)]
struct Figures {
    store: &'static str,
    requests: usize,
    window: Duration,
    in_window: usize,
    failed: usize,
    /// Failed requests on the killed master's slots (all of them under Sentinel).
    failed_on_victim: usize,
    failed_elsewhere: usize,
    failed_after_window: usize,
    /// The slowest request in the window.
    slowest: Duration,
    /// From the kill to the probe's first successful write after its last failure
    /// (`None`: it never failed).
    writes_back: Option<Duration>,
    healthy_after: Duration,
    /// Acknowledged sessions checked after the failover, and those lost or found
    /// with an older value.
    checked: usize,
    lost: usize,
    stale: usize,
    logged_out: usize,
    resurrected: usize,
    not_unavailable: Vec<String>,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_millis();
        write!(
            f,
            "{}: window {} ms (topology healthy after {} ms, probe writes back after {}); \
             {} requests, {} in the window: {} failed ({} on the killed master's slots, \
             {} elsewhere), slowest {} ms; {} failed after it; acknowledged sessions: {} \
             checked, {} lost, {} stale; {} logouts, {} resurrected",
            self.store,
            ms(self.window),
            ms(self.healthy_after),
            self.writes_back
                .map_or("- (never failed)".to_owned(), |d| format!("{} ms", ms(d))),
            self.requests,
            self.in_window,
            self.failed,
            self.failed_on_victim,
            self.failed_elsewhere,
            ms(self.slowest),
            self.failed_after_window,
            self.checked,
            self.lost,
            self.stale,
            self.logged_out,
            self.resurrected,
        )
    }
}

/// A running failover experiment on the targets.
struct Run {
    start: Instant,
    stop: Arc<AtomicBool>,
    streams: Vec<(Arc<Target>, Vec<tokio::task::JoinHandle<StreamLog>>)>,
    probes: Vec<(tokio::task::JoinHandle<()>, ProbeLog)>,
}

impl Run {
    /// Creates each target's probe session (`probe_keys`), then starts the streams
    /// and the probes.
    async fn start(targets: &[Arc<Target>], probe_keys: Vec<SessionKey>) -> Run {
        let start = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let mut streams = Vec::new();
        let mut probes = Vec::new();
        for (target, key) in targets.iter().zip(probe_keys) {
            target
                .store
                .asave(&target.record(&key, 0), SaveMode::Create)
                .await
                .expect("create the probe session");
            let budget = Arc::new(AtomicUsize::new(0));
            let workers = (0..WORKERS)
                .map(|_| tokio::spawn(stream(target.clone(), start, stop.clone(), budget.clone())))
                .collect();
            streams.push((target.clone(), workers));
            let log = ProbeLog::default();
            let task = tokio::spawn(probe(target.clone(), key, start, stop.clone(), log.clone()));
            probes.push((task, log));
        }
        Run {
            start,
            stop,
            streams,
            probes,
        }
    }
}

/// Where a failover happens: what to kill, how to tell it is over, which slots the
/// killed master served (`None`: all of them).
struct Scenario<K, H> {
    label: &'static str,
    kill: K,
    healthy: H,
    victim_slots: Option<Vec<(u16, u16)>>,
}

/// The failover experiment: starts the streams, kills after [`WARM_UP`], waits until
/// the topology is healthy and every probe writes again, lets traffic run for
/// [`AFTER_RECOVERY`], then checks every acknowledged session of every target.
async fn failover<K: FnOnce(), H: Fn() -> bool>(
    scenario: Scenario<K, H>,
    targets: &[Arc<Target>],
    probe_keys: Vec<SessionKey>,
) -> Vec<Figures> {
    let label = scenario.label;
    let run = Run::start(targets, probe_keys).await;
    tokio::time::sleep(WARM_UP).await;
    let killed = run.start.elapsed();
    (scenario.kill)();
    let mut healthy_at = None;
    let mut recovered_at = None;
    while run.start.elapsed() < killed + RECOVERY_BOUND {
        if healthy_at.is_none() && (scenario.healthy)() {
            healthy_at = Some(run.start.elapsed() - killed);
        }
        let probes_write = run
            .probes
            .iter()
            .all(|(_, log)| probe_recovered(&log.lock().unwrap(), killed));
        if healthy_at.is_some() && probes_write {
            recovered_at = Some(run.start.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if recovered_at.is_some() {
        tokio::time::sleep(AFTER_RECOVERY).await;
    }
    run.stop.store(true, Ordering::Relaxed);
    let mut probe_saves = Vec::new();
    for (task, log) in run.probes {
        task.await.unwrap();
        probe_saves.push(std::mem::take(&mut *log.lock().unwrap()));
    }
    let Some(recovered_at) = recovered_at else {
        panic!(
            "{label}: writes did not work again within {RECOVERY_BOUND:?} of the kill \
             (topology healthy after {healthy_at:?})"
        );
    };
    let window = (killed, recovered_at);
    let mut figures = Vec::new();
    for ((target, workers), saves) in run.streams.into_iter().zip(probe_saves) {
        let mut logs = Vec::new();
        for worker in workers {
            logs.push(worker.await.unwrap());
        }
        let mut f = check(
            label,
            &target,
            logs,
            window,
            scenario.victim_slots.as_deref(),
        )
        .await;
        f.healthy_after = healthy_at.unwrap_or_default();
        f.writes_back = writes_back(&saves, killed);
        println!("FAILOVER {label} / {f}");
        figures.push(f);
    }
    figures
}

/// From the kill to the probe's first success after its last failure.
fn writes_back(saves: &[(Duration, Duration, bool)], killed: Duration) -> Option<Duration> {
    let after: Vec<_> = saves.iter().filter(|s| s.0 >= killed).collect();
    let last_failure = after.iter().rposition(|s| !s.2)?;
    after.get(last_failure + 1).map(|s| s.0 - killed)
}

/// Checks the acknowledged state of one target after the failover; the figures.
async fn check(
    label: &str,
    target: &Target,
    logs: Vec<StreamLog>,
    (from, to): (Duration, Duration),
    victim_slots: Option<&[(u16, u16)]>,
) -> Figures {
    let on_victim = |slot: u16| {
        victim_slots.is_none_or(|ranges| ranges.iter().any(|&(a, b)| (a..=b).contains(&slot)))
    };
    let requests: Vec<&Request> = logs.iter().flat_map(|l| &l.requests).collect();
    let in_window: Vec<&&Request> = requests
        .iter()
        .filter(|r| r.at >= from && r.at < to)
        .collect();
    let failed: Vec<&&&Request> = in_window.iter().filter(|r| r.error.is_some()).collect();
    let not_unavailable: Vec<String> = requests
        .iter()
        .filter_map(|r| match &r.error {
            Some(Error::Unavailable(_)) | None => None,
            Some(other) => Some(format!("{other:?}")),
        })
        .collect();

    // The user clicks "log out" again until it works.
    let mut logged_out: Vec<SessionKey> = logs.iter().flat_map(|l| l.logged_out.clone()).collect();
    for key in logs.iter().flat_map(|l| &l.retry_logout) {
        let mut deleted = false;
        for _ in 0..100 {
            if target.store.adelete(key).await.is_ok() {
                deleted = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(deleted, "{label} / {}: a logout never worked", target.name);
        logged_out.push(key.clone());
    }
    // A logged-out session loads as nothing, and a stale tab's save cannot bring it
    // back (rule H7).
    let mut resurrected = 0;
    for key in &logged_out {
        let loaded = target.store.aload(key).await.expect("load after failover");
        let stale_save = target
            .store
            .asave(&target.record(key, 1_000_000), SaveMode::Update)
            .await;
        if loaded.is_some() || !matches!(stale_save, Err(Error::Update)) {
            resurrected += 1;
        }
    }
    let live: Vec<&(SessionKey, i64)> = logs.iter().flat_map(|l| &l.live).collect();
    let (mut lost, mut stale) = (0, 0);
    for (key, n) in &live {
        match target.store.aload(key).await.expect("load after failover") {
            None => lost += 1,
            Some(record) if record.data.get_value("n") != Some(&json!(n)) => stale += 1,
            Some(_) => {}
        }
    }
    Figures {
        store: target.name,
        requests: requests.len(),
        window: to - from,
        in_window: in_window.len(),
        failed: failed.len(),
        failed_on_victim: failed.iter().filter(|r| on_victim(r.slot)).count(),
        failed_elsewhere: failed.iter().filter(|r| !on_victim(r.slot)).count(),
        failed_after_window: requests
            .iter()
            .filter(|r| r.at >= to && r.error.is_some())
            .count(),
        slowest: in_window.iter().map(|r| r.took).max().unwrap_or_default(),
        writes_back: None,
        healthy_after: Duration::ZERO,
        checked: live.len(),
        lost,
        stale,
        logged_out: logged_out.len(),
        resurrected,
        not_unavailable,
    }
}

/// The assertions on correctness.
fn assert_correct(label: &str, figures: &[Figures]) {
    for f in figures {
        assert!(
            f.not_unavailable.is_empty(),
            "{label} / {}: failures other than Error::Unavailable: {:?}",
            f.store,
            f.not_unavailable
        );
        assert_eq!(
            f.resurrected, 0,
            "{label} / {}: logged-out sessions came back",
            f.store
        );
        assert!(
            f.logged_out > 0 && f.checked > 0,
            "{label}: no traffic: {f:?}"
        );
    }
}

async fn connect(url: &str) -> Arc<RedisCache> {
    Arc::new(
        RedisCache::connect(url, RedisOptions::default())
            .await
            .expect("connect to the topology"),
    )
}

/// A generated key whose cache key under `target` hashes to one of `slots`.
fn key_in(target: &Target, slots: &[(u16, u16)]) -> SessionKey {
    loop {
        let key = SessionKey::generate();
        let slot = target.slot(&key);
        if slots.iter().any(|&(a, b)| (a..=b).contains(&slot)) {
            return key;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_master_of_a_known_session_is_killed() {
    let Some(mut cluster) = or_skip(Cluster::start()) else {
        return;
    };
    let redis = connect(&cluster.url()).await;
    let targets = targets(&redis).await;
    // The known session: the cache store's probe key; the master of its slot dies.
    let known = SessionKey::generate();
    let slot = targets[0].slot(&known);
    let victim = cluster.master_of(slot).expect("a master serves the slot");
    let slots = cluster
        .masters()
        .unwrap()
        .into_iter()
        .find(|m| m.port == victim)
        .unwrap()
        .slots;
    let probe_keys = vec![known, key_in(&targets[1], &slots)];
    let cluster = std::sync::Mutex::new(&mut cluster);
    let scenario = Scenario {
        label: "cluster",
        kill: || cluster.lock().unwrap().kill(victim),
        healthy: || cluster.lock().unwrap().is_healthy(),
        victim_slots: Some(slots),
    };
    let figures = failover(scenario, &targets, probe_keys).await;
    let cluster = cluster.into_inner().unwrap();
    assert_ne!(cluster.master_of(slot), Some(victim));
    assert_correct("cluster", &figures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_master_is_killed() {
    let Some(group) = or_skip(SentinelGroup::start()) else {
        return;
    };
    let redis = connect(&group.url()).await;
    let targets = targets(&redis).await;
    let probe_keys = vec![SessionKey::generate(), SessionKey::generate()];
    let old = group
        .master_port()
        .expect("the sentinels agree on a master");
    let group = std::sync::Mutex::new(group);
    let scenario = Scenario {
        label: "sentinel",
        kill: || {
            group.lock().unwrap().kill_master();
        },
        healthy: || group.lock().unwrap().failed_over_from(old),
        victim_slots: None,
    };
    let figures = failover(scenario, &targets, probe_keys).await;
    assert_correct("sentinel", &figures);
}
