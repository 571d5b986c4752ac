//! The conformance kit on the cache store in Django's format (`CacheFormat::Django`:
//! Django's key layout, pickled values) over a Redis Cluster of its own (3 masters, 3
//! replicas, started once for all cases and stopped at the end): Django's layout is
//! one key per session, so it needs no hash tags. No `redis-server`: every case is
//! skipped loudly, or fails under `CI=true`.

#[path = "common/topology.rs"]
mod topology;

use session_kit_stores::redis_topology::cache_redis_topology_django;
use topology::Cluster;

fn main() -> std::process::ExitCode {
    let cluster = Cluster::start();
    topology::kit_main(
        cluster.as_ref().map(Cluster::url),
        cache_redis_topology_django,
    )
}
