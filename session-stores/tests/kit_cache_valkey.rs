//! The conformance kit on the cache store over a Valkey 9.1 server of its own (the
//! pinned `valkey-server`, started once for all cases and stopped at the end), through
//! a `redis://` URL. Each case has its own key prefix. No `valkey-server` (none in
//! `$VALKEY_SERVER` and `.ci/valkey-server` cannot install it): every case is skipped
//! loudly, or fails under `CI=true`.

#[path = "common/topology.rs"]
mod topology;

use session_kit_stores::redis_topology::cache_redis_topology;
use topology::Standalone;

fn main() -> std::process::ExitCode {
    let valkey = Standalone::valkey();
    topology::kit_main(valkey.as_ref().map(Standalone::url), cache_redis_topology)
}
