//! `sessions`: run the conformance kit against stores, clear expired sessions
//! (Django's `clearsessions`), decode a session (Django's `get_decoded`), create the
//! table (`migrate`), list and revoke the sessions of an account (rule S5: any store
//! with an account index).
//!
//! Store URLs: `memory:`, `file:///dir`, `signed-cookies:`, `sqlite://path`, and with
//! the features of the same names `postgres://...`, `mysql://...` and
//! `redis://host[:port][/db]` (the cache store). `check` runs each case on a fresh
//! store: a new directory under `file:///dir` (`file:` alone: the system's temporary
//! directory), a new table in the database (`sqlite:` alone: a scratch file), keys
//! under `kit:<case>:` in Redis, each removed when the case ends.
//! Secrets for the other commands come from `SESSIONS_SECRET_KEY` and the
//! comma-separated `SESSIONS_SECRET_KEY_FALLBACKS`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use session_api::{AsyncAccountSessions, SecretKeys, SessionBackend, SessionConfig};
use session_conformance::{factory, run_all, Factory, KitEnv, Outcome};
use session_kit_stores::db::Database;
use session_kit_stores::redact;
use session_stores::db::{AccountIdColumn, DbOptions, DbStore};
use session_stores::file::FileStore;
use session_stores::memory::MemoryStore;
use session_stores::signed_cookies::SignedCookieStore;

#[cfg(feature = "redis")]
use session_stores::cache::{CacheStore, RedisCache, RedisOptions};

#[derive(Parser)]
#[command(
    name = "sessions",
    about = "Django-compatible session stores: check, clear, decode"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the conformance kit and print a per-rule table (default: every embedded store).
    Check {
        /// Store URL; repeat for several.
        #[arg(long = "store")]
        stores: Vec<String>,
        /// Run only cases whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Remove expired sessions (Django's `clearsessions`) and print how many.
    ClearExpired {
        /// Store URL.
        #[arg(long)]
        store: String,
    },
    /// Create the session table and its indexes if missing (Django's `migrate`).
    Migrate {
        /// Database URL.
        #[arg(long)]
        store: String,
        /// Also add the indexed `account_id` column (custom records, rule E2).
        #[arg(long)]
        accounts: bool,
    },
    /// List the live sessions of an account (key prefixes only, rule H5) and their expiry.
    List {
        /// Store URL with an account index (rule S5): a database migrated with
        /// `--accounts`, `file:///dir` (its `.accounts` index) or Redis.
        #[arg(long)]
        store: String,
        /// The account id (Django's `_auth_user_id`).
        #[arg(long)]
        account: i64,
    },
    /// Delete every session of an account (log it out everywhere), or every one but
    /// `--except` (log out the other devices).
    Revoke {
        /// Store URL with an account index (as for `list`).
        #[arg(long)]
        store: String,
        /// The account id (Django's `_auth_user_id`).
        #[arg(long)]
        account: i64,
        /// The session key to keep.
        #[arg(long)]
        except: Option<String>,
    },
    /// Print a session's data as JSON (Django's `get_decoded`).
    Decode {
        /// Store URL.
        #[arg(long)]
        store: String,
        /// The session key (the cookie value for signed cookies).
        key: String,
    },
}

/// A usage or connection problem: one line, exit code 2.
struct Fatal(String);

impl From<session_api::Error> for Fatal {
    fn from(err: session_api::Error) -> Self {
        Fatal(err.to_string())
    }
}

/// The database URL schemes (their drivers may or may not be compiled in).
const DB_SCHEMES: [&str; 5] = ["sqlite", "postgres", "postgresql", "mysql", "mariadb"];
/// The Redis URL schemes (feature `redis`).
#[cfg(feature = "redis")]
const REDIS_SCHEMES: [&str; 3] = ["redis", "redis-sentinel", "redis-cluster"];
const KNOWN: &str =
    "memory:, file:///dir, signed-cookies:, sqlite://path, postgres://..., mysql://..., redis://...";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(Fatal(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

async fn run(command: Command) -> Result<ExitCode, Fatal> {
    match command {
        Command::Check { stores, filter } => check(stores, filter.as_deref()).await,
        Command::ClearExpired { store } => {
            let backend = open(&store, &site_config()?).await?;
            let caps = backend.capabilities();
            let removed = backend.nonblocking().aclear_expired().await?;
            if caps.clear_expired {
                println!("removed {removed} expired sessions");
            } else {
                println!("this store expires sessions itself; nothing to clear");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { store, accounts } => {
            open_db(&store, &site_config()?, accounts)
                .await?
                .migrate()
                .await?;
            println!("session table ready");
            Ok(ExitCode::SUCCESS)
        }
        Command::List { store, account } => {
            let backend = open_indexed(&store, &site_config()?).await?;
            let sessions = account_index(&backend, &store)?
                .alist_sessions(account)
                .await?;
            for session in &sessions {
                println!(
                    "{}  expires {}",
                    session.key,
                    session_api::expiry::isoformat(session.expires_at)
                );
            }
            println!("{} live sessions for account {account}", sessions.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Revoke {
            store,
            account,
            except,
        } => {
            let backend = open_indexed(&store, &site_config()?).await?;
            let index = account_index(&backend, &store)?;
            let removed = match except {
                Some(keep) => {
                    let keep = backend.capabilities().parse_key(&keep)?;
                    index.arevoke_all_except(account, &keep).await?
                }
                None => index.arevoke_all(account).await?,
            };
            println!("revoked {removed} sessions of account {account}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Decode { store, key } => {
            let config = site_config()?;
            let backend = open(&store, &config).await?;
            let key = backend.capabilities().parse_key(&key)?;
            match backend.nonblocking().aload(&key).await? {
                Some(record) => {
                    let json = serde_json::to_string_pretty(&record.data)
                        .map_err(|e| Fatal(format!("cannot print the session: {e}")))?;
                    println!("{json}");
                    Ok(ExitCode::SUCCESS)
                }
                None => Err(Fatal("no live, decodable session under that key".into())),
            }
        }
    }
}

fn site_config() -> Result<SessionConfig, Fatal> {
    let secret = std::env::var("SESSIONS_SECRET_KEY")
        .map_err(|_| Fatal("set SESSIONS_SECRET_KEY to the site's SECRET_KEY".into()))?;
    let fallbacks = std::env::var("SESSIONS_SECRET_KEY_FALLBACKS").unwrap_or_default();
    let keys = SecretKeys::new(secret).with_fallbacks(
        fallbacks
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    );
    Ok(SessionConfig::builder(keys).build()?)
}

/// The scheme of a store URL: what comes before the first `:`.
fn scheme(url: &str) -> &str {
    url.split_once(':').map_or(url, |(s, _)| s)
}

/// Opens a store URL with the site's settings.
async fn open(url: &str, config: &SessionConfig) -> Result<SessionBackend, Fatal> {
    let scheme = scheme(url);
    Ok(match scheme {
        "memory" => SessionBackend::from_nonblocking_sync(Arc::new(MemoryStore::with_clock(
            config.clock.clone(),
        ))),
        "signed-cookies" => {
            SessionBackend::from_nonblocking_sync(Arc::new(SignedCookieStore::from_config(config)))
        }
        "file" => {
            let store = FileStore::from_config_in(config, file_dir(url)?)?;
            SessionBackend::from_sync(Arc::new(store))
        }
        _ if DB_SCHEMES.contains(&scheme) => {
            let store = DbStore::connect(url, DbOptions::from_config(config)).await?;
            SessionBackend::from_async(Arc::new(store))
        }
        #[cfg(feature = "redis")]
        _ if REDIS_SCHEMES.contains(&scheme) => {
            let redis = RedisCache::connect(url, RedisOptions::default()).await?;
            let store = CacheStore::new(Arc::new(redis)).clock(config.clock.clone());
            SessionBackend::from_async(Arc::new(store))
        }
        _ => return Err(unknown_scheme(scheme)),
    })
}

fn unknown_scheme(scheme: &str) -> Fatal {
    Fatal(format!(
        "unknown or not compiled-in store URL scheme {scheme:?} (known: {KNOWN})"
    ))
}

/// Opens a store URL with its account index on (rule S5): the account column of a
/// database, the file store's marker index, the Redis index.
async fn open_indexed(url: &str, config: &SessionConfig) -> Result<SessionBackend, Fatal> {
    let scheme = scheme(url);
    Ok(match scheme {
        "file" => {
            let store = FileStore::from_config_in(config, file_dir(url)?)?.with_account_index(true);
            SessionBackend::from_sync(Arc::new(store))
        }
        _ if DB_SCHEMES.contains(&scheme) => {
            SessionBackend::from_async(Arc::new(open_db(url, config, true).await?))
        }
        #[cfg(feature = "redis")]
        _ if REDIS_SCHEMES.contains(&scheme) => {
            let redis = RedisCache::connect(url, RedisOptions::default()).await?;
            let store = CacheStore::new(Arc::new(redis))
                .clock(config.clock.clone())
                .account_index(true);
            SessionBackend::from_async(Arc::new(store))
        }
        _ => open(url, config).await?,
    })
}

/// The account index of an opened store, or why it has none.
fn account_index<'a>(
    backend: &'a SessionBackend,
    url: &str,
) -> Result<&'a dyn AsyncAccountSessions, Fatal> {
    backend.nonblocking().accounts().ok_or_else(|| {
        Fatal(format!(
            "the store {} keeps no account index (rule S5)",
            redact(url)
        ))
    })
}

/// A database store, with the account column (custom records) when asked.
async fn open_db(url: &str, config: &SessionConfig, accounts: bool) -> Result<DbStore, Fatal> {
    let mut options = DbOptions::from_config(config);
    if accounts {
        options = options.extension(Arc::new(AccountIdColumn::new()));
    }
    Ok(DbStore::connect(url, options).await?)
}

/// The directory of a `file:///absolute/dir` URL.
fn file_dir(url: &str) -> Result<PathBuf, Fatal> {
    url.strip_prefix("file://")
        .filter(|p| p.starts_with('/'))
        .map(PathBuf::from)
        .ok_or_else(|| {
            Fatal(format!(
                "a file store URL is file:///absolute/dir, not {url:?}"
            ))
        })
}

/// The kit factory for a store URL: every case gets a fresh store (see the module
/// docs) on the kit's clock and secret.
fn kit_factory(url: &str) -> Result<Factory, Fatal> {
    let scheme = scheme(url);
    Ok(match scheme {
        "memory" => factory(session_kit_stores::memory),
        "signed-cookies" => factory(session_kit_stores::signed_cookies),
        "file" if url == "file:" => factory(session_kit_stores::file::file),
        "file" => session_kit_stores::file::file_in(file_dir(url)?),
        "sqlite" if url == "sqlite:" => {
            factory(|env| session_kit_stores::db::db(Database::ScratchSqlite, env))
        }
        _ if DB_SCHEMES.contains(&scheme) => {
            let database = Database::Url(url.to_owned());
            factory(move |env| session_kit_stores::db::db(database.clone(), env))
        }
        #[cfg(feature = "redis")]
        _ if REDIS_SCHEMES.contains(&scheme) => {
            let url = url.to_owned();
            factory(move |env| session_kit_stores::cache::cache_redis(url.clone(), env))
        }
        _ => return Err(unknown_scheme(scheme)),
    })
}

async fn check(stores: Vec<String>, filter: Option<&str>) -> Result<ExitCode, Fatal> {
    let stores = if stores.is_empty() {
        ["memory:", "file:", "signed-cookies:", "sqlite:"]
            .map(str::to_owned)
            .to_vec()
    } else {
        stores
    };
    let mut failed = 0;
    for url in &stores {
        let factory = kit_factory(url)?;
        // One probe first, so a bad URL or a down server is one clear line.
        drop(
            factory(KitEnv::new("probe"))
                .await
                .map_err(|e| Fatal(format!("cannot open store {}: {e}", redact(url))))?,
        );
        println!("\n== {} ==", redact(url));
        println!("{:<10} {:<52} {:<8} {:>8}", "rule", "case", "result", "ms");
        let reports = run_all(&factory, filter).await;
        let (mut passed, mut skipped, mut store_failed) = (0, 0, 0);
        for r in &reports {
            let (label, detail) = match &r.outcome {
                Outcome::Passed => {
                    passed += 1;
                    ("pass", String::new())
                }
                Outcome::Skipped(why) => {
                    skipped += 1;
                    ("skip", format!("  ({why})"))
                }
                Outcome::Failed(why) => {
                    store_failed += 1;
                    ("FAIL", format!("\n           {why}"))
                }
            };
            println!(
                "{:<10} {:<52} {:<8} {:>8}{detail}",
                r.rule,
                r.case,
                label,
                r.duration.as_millis()
            );
        }
        println!("{passed} passed, {store_failed} failed, {skipped} skipped");
        failed += store_failed;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
