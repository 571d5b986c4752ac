//! The conformance kit on the cache store over a Redis Cluster of its own (3 masters,
//! 3 replicas, started once for all cases and stopped at the end), through a
//! `redis-cluster://` URL. Each case has its own key prefix, so its keys spread over
//! the three masters' slots. No `redis-server`: every case is skipped loudly, or fails
//! under `CI=true`.

#[path = "common/topology.rs"]
mod topology;

use session_kit_stores::redis_topology::cache_redis_topology;
use topology::Cluster;

fn main() -> std::process::ExitCode {
    let cluster = Cluster::start();
    topology::kit_main(cluster.as_ref().map(Cluster::url), cache_redis_topology)
}
