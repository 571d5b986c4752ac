//! One run: set the sections up, measure every cell of every column in interleaved
//! rounds (so a slow moment of the machine spreads over all columns of a cell
//! rather than falling on one), tear down, report.

use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};
use crate::measure::Sample;
use crate::payload::{Payload, PayloadSize};
use crate::report::{Report, Row, Value};
use crate::section::Section;
use crate::setup::{self, Servers, Teardown};
use crate::subject::Budget;
use crate::subjects::django::{self, DjangoPeer};

/// How a run measures.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Time and sessions per measurement.
    pub budget: Budget,
    /// Rounds per cell: each column is measured this many times, in turn.
    pub rounds: usize,
    /// Only the backends whose name contains one of these (case-insensitive);
    /// empty for all.
    pub only: Vec<String>,
    /// Only the operations named here ([`Op::name`](crate::subject::Op::name));
    /// empty for all.
    pub ops: Vec<String>,
    /// Forces the pools' ping before each acquire on or off (`None`: the library's
    /// default).
    pub ping: Option<bool>,
    /// Missing servers or Django fail the run instead of being left out.
    pub strict: bool,
    /// Where the SQLite file and the file store's folder go.
    pub scratch: Scratch,
}

/// Where the embedded stores write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scratch {
    /// The system's temporary directory (on disk here: each commit waits for the
    /// disk, as it would for a deployment).
    Temp,
    /// `/dev/shm` where there is one (memory: no wait for the disk), else the
    /// temporary directory. The short mode's choice, to stay within seconds.
    Ram,
}

impl Scratch {
    /// A new directory of this kind.
    ///
    /// # Errors
    ///
    /// [`BenchError::Setup`] when it cannot be created.
    pub fn dir(self) -> Result<tempfile::TempDir> {
        let shm = std::path::Path::new("/dev/shm");
        let made = match self {
            Scratch::Ram if shm.is_dir() => tempfile::tempdir_in(shm),
            Scratch::Ram | Scratch::Temp => tempfile::tempdir(),
        };
        made.map_err(|e| BenchError::Setup(format!("a temporary directory: {e}")))
    }
}

impl Settings {
    /// The short mode (CI): one round of 5 ms per cell, to prove that every cell
    /// runs; its figures are not to be quoted.
    pub fn quick() -> Self {
        Settings {
            budget: Budget {
                run_for: Duration::from_millis(5),
                keys_per_task: 1,
                max_tasks: 16,
            },
            rounds: 1,
            only: Vec::new(),
            ops: Vec::new(),
            ping: None,
            strict: in_ci(),
            scratch: Scratch::Ram,
        }
    }

    /// The full mode: three rounds of 300 ms per cell and column.
    pub fn full() -> Self {
        Settings {
            budget: Budget {
                run_for: Duration::from_millis(300),
                keys_per_task: 16,
                max_tasks: 16,
            },
            rounds: 3,
            scratch: Scratch::Temp,
            ..Settings::quick()
        }
    }

    /// Whether the backend `name` is to be set up: some `--only` names it, or
    /// names one of its sections (`"PostgreSQL, no"` sets PostgreSQL up).
    fn wants(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.only.is_empty()
            || self.only.iter().any(|o| {
                let o = o.to_ascii_lowercase();
                name.contains(&o) || o.contains(&name)
            })
    }

    /// Whether the section `title` is measured.
    fn keeps(&self, title: &str) -> bool {
        let title = title.to_ascii_lowercase();
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|o| title.contains(&o.to_ascii_lowercase()))
    }
}

/// True under `CI=true`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A part that could not be had: an error when strict, else a note.
fn missing(
    settings: &Settings,
    notes: &mut Vec<String>,
    what: &str,
    err: BenchError,
) -> Result<()> {
    if settings.strict {
        return Err(BenchError::Setup(format!(
            "{what} is required under CI=true: {err}"
        )));
    }
    eprintln!("[bench] left out: {what}: {err}");
    notes.push(format!("left out: {what} ({err})"));
    Ok(())
}

/// Measures everything `settings` asks for and reports it.
///
/// # Errors
///
/// A setup failure when strict (a server or Django missing); a failed measurement
/// is a [`Value::Failed`] in the report, not an error.
pub async fn run(settings: &Settings) -> Result<Report> {
    let payloads = [
        Payload::new(PayloadSize::Small),
        Payload::new(PayloadSize::Large),
    ];
    let servers = Servers::from_env();
    let tag = setup::run_tag();
    let redis_prefix = format!("{tag}:");
    let mut notes = Vec::new();
    let mut teardown = Teardown::default();

    let wants_pg = settings.wants("PostgreSQL") || settings.wants("cached_db");
    let wants_django =
        settings.wants("PostgreSQL") || settings.wants("Redis") || settings.wants("cookie");
    let peer = if wants_django {
        let pg = setup::postgres_target(&servers.postgres, &tag).ok();
        let config = setup::django_settings(
            pg,
            Some((servers.redis.clone(), format!("{redis_prefix}django"))),
        );
        let started = match django::python() {
            Ok(python) => DjangoPeer::start(&python, &config, &payloads).await,
            Err(err) => Err(BenchError::Setup(err)),
        };
        match started {
            Ok(peer) => Some(peer),
            Err(err) => {
                missing(
                    settings,
                    &mut notes,
                    "Django 5.2 (DJANGO_PYTHON or .ci/django-venv)",
                    err,
                )?;
                None
            }
        }
    } else {
        None
    };

    let mut sections: Vec<Section> = Vec::new();
    if settings.wants("memory") || settings.wants("file") || settings.wants("signed cookies") {
        sections.extend(setup::embedded(settings.scratch, &mut teardown)?);
    }
    if settings.wants("SQLite") {
        sections.extend(
            setup::sqlite(&payloads, settings.ping, settings.scratch, &mut teardown).await?,
        );
    }
    let mut have_pg = false;
    if wants_pg {
        match setup::postgres(
            &servers.postgres,
            &tag,
            &payloads,
            settings.ping,
            peer.as_ref(),
            &mut teardown,
        )
        .await
        {
            Ok(found) => {
                have_pg = true;
                if settings.wants("PostgreSQL") {
                    sections.extend(found);
                    sections.push(
                        setup::versions_postgres(&servers.postgres, &tag, settings.ping).await?,
                    );
                }
            }
            Err(err) => missing(settings, &mut notes, "PostgreSQL", err)?,
        }
    }
    if settings.wants("MariaDB") {
        match setup::mysql(
            &servers.mysql,
            &tag,
            &payloads,
            settings.ping,
            &mut teardown,
        )
        .await
        {
            Ok(found) => sections.extend(found),
            Err(err) => missing(settings, &mut notes, "MariaDB", err)?,
        }
    }
    let mut have_redis = false;
    if settings.wants("Redis") || settings.wants("cached_db") {
        match setup::redis(&servers.redis, &redis_prefix, &payloads, peer.as_ref()).await {
            Ok(found) => {
                have_redis = true;
                if settings.wants("Redis") {
                    sections.push(found);
                    sections.push(setup::versions_redis(&servers.redis, &redis_prefix).await?);
                }
            }
            Err(err) => missing(settings, &mut notes, "Redis", err)?,
        }
    }
    if settings.wants("Valkey") {
        match setup::versions_valkey(&redis_prefix, &mut teardown).await {
            Ok(found) => sections.push(found),
            Err(err) => missing(
                settings,
                &mut notes,
                "Valkey 9.1 (VALKEY_SERVER or .ci/valkey-server)",
                err,
            )?,
        }
    }
    if settings.wants("cached_db") && have_pg && have_redis {
        sections.push(
            setup::cached_db(
                &servers.postgres,
                &tag,
                &servers.redis,
                &redis_prefix,
                settings.ping,
            )
            .await?,
        );
    }
    if settings.wants("cookie") {
        sections.push(setup::cookies(peer.as_ref()));
    }
    if settings.wants("middleware") {
        sections.push(setup::requests()?);
    }
    sections.retain(|s| settings.keeps(&s.title));

    let mut report = Report {
        notes,
        setup: format!(
            "{} round(s) of {:?} per cell and column; pools: {}",
            settings.rounds,
            settings.budget.run_for,
            match settings.ping {
                None => "the library's defaults".to_owned(),
                Some(ping) => format!(
                    "the library's defaults, ping before acquire {}",
                    if ping { "on" } else { "off" }
                ),
            }
        ),
        ..Report::default()
    };
    for section in &sections {
        let started = Instant::now();
        eprintln!("[bench] {}", section.title);
        report
            .rows
            .extend(measure_section(section, &payloads, settings).await);
        eprintln!(
            "[bench] {} done in {:.1?}",
            section.title,
            started.elapsed()
        );
    }
    drop(sections);
    for failure in teardown.run().await {
        report.notes.push(format!("teardown: {failure}"));
    }
    if let Some(peer) = peer {
        peer.quit().await;
    }
    Ok(report)
}

async fn measure_section(section: &Section, payloads: &[Payload], settings: &Settings) -> Vec<Row> {
    let budget = &settings.budget;
    // A column whose preparation failed fails every cell.
    let mut broken: Vec<Option<String>> = Vec::new();
    for column in &section.columns {
        broken.push(match &column.measured {
            Some(m) => m
                .prepare(payloads, budget)
                .await
                .err()
                .map(|e| format!("prepare: {e}")),
            None => None,
        });
    }
    let mut rows = Vec::new();
    let cells = section
        .table
        .cells()
        .into_iter()
        .filter(|c| settings.ops.is_empty() || settings.ops.iter().any(|o| o == c.op.name()));
    for cell in cells {
        let payload = payloads
            .iter()
            .find(|p| p.size == cell.size)
            .unwrap_or(&payloads[0]);
        let mut samples: Vec<Result<Sample>> = section
            .columns
            .iter()
            .map(|_| Ok(Sample::default()))
            .collect();
        for round in 0..settings.rounds {
            for (i, column) in section.columns.iter().enumerate() {
                let Some(m) = &column.measured else { continue };
                if m.not_applicable(&cell).is_some() || broken[i].is_some() {
                    continue;
                }
                if let Ok(sample) = &mut samples[i] {
                    match m.measure(cell, round, payload, budget).await {
                        Ok(more) => sample.merge(more),
                        Err(err) => samples[i] = Err(err),
                    }
                }
            }
        }
        let values = section
            .columns
            .iter()
            .zip(samples)
            .zip(&broken)
            .map(|((column, sample), broken)| match &column.measured {
                None => Value::NotApplicable(column.absent),
                Some(m) => match (m.not_applicable(&cell), broken) {
                    (Some(why), _) => Value::NotApplicable(why),
                    (None, Some(err)) => Value::Failed(err.clone()),
                    (None, None) => match sample {
                        Ok(sample) => sample.stats().map_or_else(
                            || Value::Failed("no operation ran".into()),
                            Value::Measured,
                        ),
                        Err(err) => Value::Failed(err.to_string()),
                    },
                },
            })
            .collect();
        rows.push(Row {
            section: section.title.clone(),
            table: section.table,
            cell,
            values,
        });
    }
    for column in &section.columns {
        if let Some(m) = &column.measured {
            if let Err(err) = m.finish().await {
                eprintln!("[bench] {}: cleanup: {err}", section.title);
            }
        }
    }
    rows
}

/// Runs on a new runtime and prints the table on stdout (what is incomplete on
/// stderr): the `table` command and `cargo bench`.
pub fn print_table(settings: &Settings) -> std::process::ExitCode {
    use std::process::ExitCode;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(settings)) {
        Ok(report) => {
            print!("{}", report.render());
            let problems = report.problems();
            for problem in &problems {
                eprintln!("incomplete: {problem}");
            }
            if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("session-bench: {err}");
            ExitCode::FAILURE
        }
    }
}
