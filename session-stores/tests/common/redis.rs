//! Redis helpers of the cache and cached_db tests: the shared server on
//! 127.0.0.1:6379 (skip/CI rule as for the databases), a guard that removes a test's
//! keys, and dedicated `redis-server` processes that a test may stop, pause and
//! restart.
#![cfg(feature = "redis")]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use session_stores::cache::{CacheFormat, RedisCache, RedisOptions};

use super::in_ci;

/// The shared test server: `SESSIONS_TEST_REDIS_URL` or the local default.
pub fn shared_url() -> String {
    std::env::var("SESSIONS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The skip/CI rule for Redis: panics under CI, else prints a loud skip message.
pub fn redis_missing(what: &str, err: &dyn std::fmt::Display) {
    if in_ci() {
        panic!("{what} required under CI=true but not available: {err}");
    }
    eprintln!(
        "\n************************************************************\n\
         SKIPPED: {what} not available (SESSIONS_TEST_REDIS_URL): {err}\n\
         (set CI=true to make this a failure)\n\
         ************************************************************\n"
    );
}

/// Options of the test clients: short timeouts and fast reconnection.
pub fn test_options() -> RedisOptions {
    RedisOptions::default()
        .command_timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_secs(2))
        .reconnect_delays(Duration::from_millis(50), Duration::from_millis(250))
}

/// A client of the shared server; `None` (after the skip message) when it does not
/// answer outside CI.
pub async fn shared() -> Option<RedisCache> {
    match RedisCache::connect(&shared_url(), test_options()).await {
        Ok(cache) => Some(cache),
        Err(err) => {
            redis_missing("Redis server", &err);
            None
        }
    }
}

/// `host:port` of a `redis://[cred@]host[:port][/db]` URL.
fn address(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:6379")
    }
}

/// Sends one command in RESP over a plain socket and returns the first reply line.
fn resp(addr: &str, args: &[&str]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut command = format!("*{}\r\n", args.len());
    for arg in args {
        command.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(command.as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line.trim_end().to_owned())
}

/// Removes every key under a prefix from a server when dropped. Tests may drop it
/// inside a runtime, where nothing can be awaited: this speaks RESP over a blocking
/// socket.
#[derive(Debug)]
pub struct KeyCleanup {
    addr: String,
    prefix: String,
}

impl KeyCleanup {
    /// Cleans `prefix*` on the server of `url` when dropped.
    pub fn new(url: &str, prefix: &str) -> Self {
        assert!(
            prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_:.".contains(c)),
            "prefix {prefix:?} would need glob escaping"
        );
        KeyCleanup {
            addr: address(url),
            prefix: prefix.to_owned(),
        }
    }
}

impl Drop for KeyCleanup {
    fn drop(&mut self) {
        let script = "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do \
                      n = n + redis.call('DEL', k) end return n";
        let pattern = format!("{}*", self.prefix);
        match resp(&self.addr, &["EVAL", script, "0", &pattern]) {
            Ok(reply) if reply.starts_with(':') => {}
            Ok(reply) => eprintln!("could not remove test keys {pattern}: {reply}"),
            Err(err) => eprintln!("could not remove test keys {pattern}: {err}"),
        }
    }
}

/// The shared server seen by one test: its keys under a prefix of the test and the
/// process, the format (Django's with that prefix, or native), and the guard that
/// removes the keys. `None` when the server is absent (the skip/CI rule).
pub async fn scoped(
    test: &str,
    django: bool,
) -> Option<(RedisCache, String, CacheFormat, KeyCleanup)> {
    let cache = shared().await?;
    let prefix = format!("test:{}:{test}:", std::process::id());
    let cleanup = KeyCleanup::new(&shared_url(), &prefix);
    let format = if django {
        CacheFormat::django_with(prefix.trim_end_matches(':'), 1)
    } else {
        CacheFormat::Native
    };
    Some((cache, prefix, format, cleanup))
}

/// A dedicated `redis-server` on its own port, for tests that stop it. Never the
/// shared server. Killed when dropped.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    persistent: bool,
}

impl RedisServer {
    /// Starts a server on a free port; `None` (after the skip message) when
    /// `redis-server` cannot be started outside CI.
    pub fn start() -> Option<RedisServer> {
        let port = free_port();
        Self::start_on(port)
    }

    /// Starts a server on `port`.
    pub fn start_on(port: u16) -> Option<RedisServer> {
        Self::launch(port, false)
    }

    /// Starts a server on a free port that writes every command to its append-only
    /// file before answering (`appendfsync always`): killed and restarted, it comes
    /// back with its data, as a persisted production Redis does.
    pub fn start_persistent() -> Option<RedisServer> {
        Self::launch(free_port(), true)
    }

    fn launch(port: u16, persistent: bool) -> Option<RedisServer> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut server = RedisServer {
            port,
            child: None,
            dir,
            persistent,
        };
        match server.spawn() {
            Ok(()) => Some(server),
            Err(err) => {
                redis_missing("redis-server binary", &err);
                None
            }
        }
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", if self.persistent { "yes" } else { "no" }])
            .args(["--appendfsync", "always"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if resp(&self.addr(), &["PING"]).is_ok_and(|r| r == "+PONG") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        Err(std::io::Error::other(format!(
            "redis-server did not answer on port {} within 10 s",
            self.port
        )))
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to the clients) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The server's address.
    pub fn socket_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Starts the server again on the same port: empty, unless it was started
    /// [persistent](Self::start_persistent).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn().expect("restart redis-server on the same port");
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a paused server (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("server running").id();
        let status = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {sig} {pid} failed");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            // A paused server would ignore nothing else, but SIGKILL works anyway.
            self.stop();
        }
    }
}

/// A port nothing listens on right now (the OS's pick for an ephemeral bind).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// Polls `f` until it returns true or `within` passes; returns how long it took.
pub async fn eventually<F, Fut>(within: Duration, mut f: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < within {
        if f().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}
