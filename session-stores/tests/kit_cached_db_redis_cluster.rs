//! The conformance kit on cached_db over PostgreSQL (`SESSIONS_TEST_POSTGRES_URL`, a
//! table per case, dropped when it ends) and a Redis Cluster of its own (3 masters,
//! 3 replicas, started once for all cases and stopped at the end), through a
//! `redis-cluster://` URL. Each case has its own key prefix. No `redis-server` or no
//! PostgreSQL: every case is skipped loudly, or fails under `CI=true`.

#[path = "common/topology.rs"]
mod topology;

use session_kit_stores::db::Database;
use session_kit_stores::redis_topology::cached_db_redis_topology;
use topology::Cluster;

fn main() -> std::process::ExitCode {
    let cluster = Cluster::start();
    topology::kit_main(cluster.as_ref().map(Cluster::url), |url, env| {
        cached_db_redis_topology(Database::test_postgres(), url, env)
    })
}
