//! The conformance kit on the cache store over a Redis master with one replica behind
//! three sentinels (started once for all cases and stopped at the end), through a
//! `redis-sentinel://` URL. Each case has its own key prefix. No `redis-server`: every
//! case is skipped loudly, or fails under `CI=true`.

#[path = "common/topology.rs"]
mod topology;

use session_kit_stores::redis_topology::cache_redis_topology;
use topology::SentinelGroup;

fn main() -> std::process::ExitCode {
    let group = SentinelGroup::start();
    topology::kit_main(group.as_ref().map(SentinelGroup::url), cache_redis_topology)
}
