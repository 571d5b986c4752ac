//! A loopback TCP proxy for partition tests: it listens on 127.0.0.1 on a port of
//! its own and forwards to a server on loopback (a dedicated `redis-server`, or the
//! shared one). The test switches it between passing traffic, dropping it (bytes are
//! accepted from both sides and forwarded nowhere, as a silent network does) and
//! holding it (nothing is read, so bytes queue and arrive late once it passes
//! again), and stops it. Dropping the proxy stops it too.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// What the proxy does with the traffic of every connection, old and new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards both ways.
    Pass,
    /// Reads both ways and forwards nothing: a silent partition.
    Drop,
    /// Reads nothing: bytes wait in the socket buffers until the next `Pass`.
    Hold,
}

/// A running proxy (see the module docs).
pub struct Proxy {
    port: u16,
    mode: watch::Sender<Mode>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port, forwarding to `target`, which must be
    /// a loopback address, in [`Mode::Pass`].
    pub async fn start(target: SocketAddr) -> Proxy {
        assert!(
            target.ip().is_loopback(),
            "the proxy forwards to loopback only"
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let port = listener.local_addr().expect("local addr").port();
        let (mode, _) = watch::channel(Mode::Pass);
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let accept = {
            let mode = mode.clone();
            let tasks = tasks.clone();
            tokio::spawn(async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        continue; // the client sees its connection closed
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (in_read, in_write) = inbound.into_split();
                    let (out_read, out_write) = outbound.into_split();
                    let up = tokio::spawn(pump(in_read, out_write, mode.subscribe()));
                    let down = tokio::spawn(pump(out_read, in_write, mode.subscribe()));
                    let mut tasks = tasks.lock().unwrap_or_else(PoisonError::into_inner);
                    tasks.push(up.abort_handle());
                    tasks.push(down.abort_handle());
                }
            })
        };
        tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(accept.abort_handle());
        Proxy { port, mode, tasks }
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A `redis://` URL through the proxy.
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Switches every connection, open or future, to `mode`.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Closes every open connection (each side sees it end) and goes on accepting
    /// new ones.
    pub fn reset(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        // The first task is the listener's (pushed before anyone knows the port).
        let first_connection = tasks.len().min(1);
        for task in tasks.drain(first_connection..) {
            task.abort();
        }
    }

    /// Stops listening and closes every connection.
    pub fn stop(&self) {
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Copies `from` to `to` as the mode says, until either side closes.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if *mode.borrow_and_update() == Mode::Hold {
            if mode.changed().await.is_err() {
                return;
            }
            continue;
        }
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if *mode.borrow() == Mode::Drop {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
