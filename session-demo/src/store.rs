//! `--store URL`: which backend the site keeps its sessions in.
//!
//! | URL | store |
//! | --- | --- |
//! | `sqlite://FILE` (the default: `sqlite://session-demo.sqlite3`) | the database store on a SQLite file, created and migrated if missing |
//! | `postgres://...`, `mysql://...` (features `postgres`, `mysql`) | the database store on that server, table migrated if missing |
//! | `redis://HOST[:PORT][/DB]` (feature `redis`) | the cache store on Redis |
//! | `file:///DIR`, or a plain path | the file store in that directory (created `0700` if missing) |
//! | `memory` | the in-process memory store (lost on restart) |

use std::path::{Path, PathBuf};
use std::sync::Arc;

use session_api::{Error, Result, SessionBackend, SessionConfig};
use session_stores::db::{DbOptions, DbStore};
use session_stores::file::FileStore;
use session_stores::memory::MemoryStore;

/// The default `--store`: a SQLite file in the current directory.
pub const DEFAULT_STORE: &str = "sqlite://session-demo.sqlite3";

/// An opened store and what the pages call it.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The store.
    pub backend: SessionBackend,
    /// What it is, for the pages: the kind and its file, directory or table, never a
    /// URL (which may hold a password).
    pub label: String,
}

/// Opens the store `url` names; database stores use `table` (Django's
/// `django_session` by default) and create it when missing.
///
/// # Errors
///
/// [`Error::Configuration`] for an unknown scheme or one whose feature is not compiled
/// in, and the store's own errors when it cannot be opened.
pub async fn open(url: &str, table: &str, config: &SessionConfig) -> Result<Opened> {
    let scheme = url.split_once(':').map(|(scheme, _)| scheme);
    match scheme {
        None if url == "memory" => Ok(memory(config)),
        Some("memory") => Ok(memory(config)),
        Some("sqlite") => database(url, table, config, "SQLite").await,
        Some("postgres" | "postgresql") => server_database(url, table, config, "PostgreSQL").await,
        Some("mysql" | "mariadb") => server_database(url, table, config, "MySQL").await,
        Some("redis") => redis(url, config).await,
        Some("file") => match url.strip_prefix("file://") {
            Some(dir) if dir.starts_with('/') => files(Path::new(dir), config),
            _ => Err(Error::configuration(format!(
                "a file store URL is file:///absolute/dir (or give the directory's path), not {url:?}"
            ))),
        },
        None => files(Path::new(url), config),
        Some(other) => Err(Error::configuration(format!(
            "unknown store URL scheme {other:?}: use sqlite://FILE, postgres://..., \
             mysql://..., redis://..., file:///DIR (or a path), or memory"
        ))),
    }
}

fn memory(config: &SessionConfig) -> Opened {
    let store = MemoryStore::with_clock(Arc::clone(&config.clock));
    Opened {
        backend: SessionBackend::from_nonblocking_sync(Arc::new(store)),
        label: "memory (lost on restart)".into(),
    }
}

async fn database(url: &str, table: &str, config: &SessionConfig, kind: &str) -> Result<Opened> {
    let options = DbOptions::from_config(config).table(table);
    let store = DbStore::connect(url, options).await?;
    store.migrate().await?;
    let label = match url.strip_prefix("sqlite://") {
        Some(file) => format!(
            "{kind} file {}, table {table}",
            file.split('?').next().unwrap_or(file)
        ),
        None => format!("{kind}, table {table}"),
    };
    Ok(Opened {
        backend: SessionBackend::from_async(Arc::new(store)),
        label,
    })
}

/// A database on a server: its driver is a feature of this crate.
async fn server_database(
    url: &str,
    table: &str,
    config: &SessionConfig,
    kind: &str,
) -> Result<Opened> {
    let compiled = match kind {
        "PostgreSQL" => cfg!(feature = "postgres"),
        _ => cfg!(feature = "mysql"),
    };
    if !compiled {
        return Err(not_compiled(kind, &kind.to_ascii_lowercase()));
    }
    database(url, table, config, kind).await
}

#[cfg(feature = "redis")]
async fn redis(url: &str, config: &SessionConfig) -> Result<Opened> {
    use session_stores::cache::{CacheStore, RedisCache, RedisOptions};
    let redis = RedisCache::connect(url, RedisOptions::default()).await?;
    let store = CacheStore::new(Arc::new(redis)).clock(Arc::clone(&config.clock));
    Ok(Opened {
        backend: SessionBackend::from_async(Arc::new(store)),
        label: "Redis (the cache store)".into(),
    })
}

#[cfg(not(feature = "redis"))]
async fn redis(_url: &str, _config: &SessionConfig) -> Result<Opened> {
    Err(not_compiled("Redis", "redis"))
}

fn not_compiled(kind: &str, feature: &str) -> Error {
    Error::configuration(format!(
        "{kind} stores need the `{feature}` feature: cargo run -p session-demo --features {feature} -- --store ..."
    ))
}

fn files(dir: &Path, config: &SessionConfig) -> Result<Opened> {
    create_private_dir(dir)?;
    let store = FileStore::from_config_in(config, PathBuf::from(dir))?;
    Ok(Opened {
        backend: SessionBackend::from_sync(Arc::new(store)),
        label: format!("files in {}", dir.display()),
    })
}

/// The directory, created readable by its owner only when missing: session files
/// are credentials.
fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|err| Error::configuration(format!("cannot create {}: {err}", dir.display())))
}
