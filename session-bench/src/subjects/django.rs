//! The Django 5.2 column: `django_peer.py` in a CPython process of the pinned Django
//! (`DJANGO_PYTHON`, else what `.ci/django-venv` prints), started once per run and
//! driven over its stdin and stdout. Django runs one thread, so its column has the
//! one-task cells only.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

use crate::error::{BenchError, Result};
use crate::measure::Sample;
use crate::payload::Payload;
use crate::subject::{Budget, Cell, Measured, Op};

/// Where the Django process finds the servers.
#[derive(Debug, Clone, Default)]
pub struct DjangoSettings {
    /// The signing secret (the stores' own).
    pub secret: String,
    /// `(host, port, user, password, database, schema)` of the PostgreSQL table.
    pub postgres: Option<PostgresTarget>,
    /// The Redis URL and the key prefix of Django's cache.
    pub redis: Option<(String, String)>,
}

/// The PostgreSQL table Django's db engine uses.
#[derive(Debug, Clone)]
pub struct PostgresTarget {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// User name.
    pub user: String,
    /// Password (empty for none).
    pub password: String,
    /// Database.
    pub database: String,
    /// The schema holding the `django_session` table.
    pub schema: String,
}

/// The python of the pinned Django: `DJANGO_PYTHON`, else the one
/// `.ci/django-venv` prints (which creates the environment when it is missing).
pub fn python() -> std::result::Result<PathBuf, String> {
    crate::ci_tools::ci_tool("DJANGO_PYTHON", "django-venv")
}

struct Io {
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    _child: Child,
}

/// The running Django process.
pub struct DjangoPeer {
    io: Mutex<Io>,
}

fn django(err: impl std::fmt::Display) -> BenchError {
    BenchError::peer("Django", err)
}

impl DjangoPeer {
    /// Starts `python` on `django_peer.py` with `settings` and hands it `payloads`.
    ///
    /// # Errors
    ///
    /// [`BenchError::Setup`] when the process cannot start or does not answer.
    pub async fn start(
        python: &Path,
        settings: &DjangoSettings,
        payloads: &[Payload],
    ) -> Result<Arc<Self>> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("django_peer.py");
        let mut command = Command::new(python);
        command
            .arg(&script)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("BENCH_SECRET", &settings.secret)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(pg) = &settings.postgres {
            command
                .env("BENCH_PG_HOST", &pg.host)
                .env("BENCH_PG_PORT", pg.port.to_string())
                .env("BENCH_PG_USER", &pg.user)
                .env("BENCH_PG_PASSWORD", &pg.password)
                .env("BENCH_PG_NAME", &pg.database)
                .env("BENCH_PG_SCHEMA", &pg.schema);
        }
        if let Some((url, prefix)) = &settings.redis {
            command
                .env("BENCH_REDIS_URL", url)
                .env("BENCH_REDIS_PREFIX", prefix);
        }
        let mut child = command
            .spawn()
            .map_err(|e| BenchError::Setup(format!("cannot start {}: {e}", python.display())))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(BenchError::Setup("the Django process has no pipes".into()));
        };
        let peer = Arc::new(DjangoPeer {
            io: Mutex::new(Io {
                stdin,
                stdout: BufReader::new(stdout).lines(),
                _child: child,
            }),
        });
        for payload in payloads {
            peer.ask(format!("payload {} {}", payload.size.name(), payload.json))
                .await
                .map_err(|e| BenchError::Setup(format!("Django did not start: {e}")))?;
        }
        Ok(peer)
    }

    /// Sends one command line; the answer after `ok`.
    async fn ask(&self, line: String) -> Result<String> {
        let mut io = self.io.lock().await;
        io.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(django)?;
        io.stdin.flush().await.map_err(django)?;
        let answer = io
            .stdout
            .next_line()
            .await
            .map_err(django)?
            .ok_or_else(|| django("the process ended"))?;
        match answer.strip_prefix("ok") {
            Some(rest) => Ok(rest.trim().to_owned()),
            None => Err(django(answer)),
        }
    }

    /// Ends the process.
    pub async fn quit(&self) {
        let mut io = self.io.lock().await;
        // Best effort: the process is killed when dropped anyway.
        let _ = io.stdin.write_all(b"quit\n").await;
        let _ = io.stdin.flush().await;
    }
}

/// A Django session engine, or Django's signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `django.contrib.sessions.backends.db` on PostgreSQL.
    Db,
    /// `django.contrib.sessions.backends.cache` on Redis.
    Cache,
    /// `django.core.signing`, as the signed_cookies engine calls it.
    Signing,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Db => "db",
            Engine::Cache => "cache",
            Engine::Signing => "signing",
        }
    }
}

/// One engine of the Django process as a column.
pub struct Django {
    peer: Arc<DjangoPeer>,
    engine: Engine,
}

impl Django {
    /// The column of `engine`.
    pub fn new(peer: Arc<DjangoPeer>, engine: Engine) -> Self {
        Django { peer, engine }
    }
}

#[async_trait]
impl Measured for Django {
    fn not_applicable(&self, cell: &Cell) -> Option<&'static str> {
        let cookie = Op::COOKIE.contains(&cell.op);
        let store = Op::STORE.contains(&cell.op);
        if cookie != (self.engine == Engine::Signing) || !(cookie || store) {
            Some("not an operation of this engine")
        } else if cell.tasks > 1 {
            Some("Django runs one thread")
        } else {
            None
        }
    }

    async fn prepare(&self, payloads: &[Payload], budget: &Budget) -> Result<()> {
        if self.engine == Engine::Signing {
            return Ok(());
        }
        for payload in payloads {
            self.peer
                .ask(format!(
                    "prepare {} {} {}",
                    self.engine.name(),
                    payload.size.name(),
                    budget.keys_per_task
                ))
                .await?;
        }
        Ok(())
    }

    async fn measure(
        &self,
        cell: Cell,
        round: usize,
        payload: &Payload,
        budget: &Budget,
    ) -> Result<Sample> {
        let answer = self
            .peer
            .ask(format!(
                "run {} {} {} {} {round}",
                self.engine.name(),
                cell.op.name(),
                payload.size.name(),
                budget.run_for.as_secs_f64()
            ))
            .await?;
        let mut numbers = answer.split(' ').map(|n| {
            n.parse::<u64>()
                .map_err(|_| django(format!("an answer that is not numbers: {answer:.80}")))
        });
        let wall = Duration::from_nanos(numbers.next().ok_or_else(|| django("an empty answer"))??);
        let latencies = numbers.collect::<Result<Vec<u64>>>()?;
        Ok(Sample { wall, latencies })
    }

    async fn finish(&self) -> Result<()> {
        if self.engine == Engine::Signing {
            return Ok(());
        }
        self.peer
            .ask(format!("finish {}", self.engine.name()))
            .await
            .map(drop)
    }
}
