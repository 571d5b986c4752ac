//! A real Django 5.2 beside the stores, for the interop tests (`django_interop_*`).
//!
//! One long-lived Python process per test binary runs `driver.py` (next to this file)
//! and answers one JSON request per line. Django is the pinned one of
//! `.ci/django-requirements.txt`: its python is `DJANGO_PYTHON` (set by `.ci/run`),
//! else what `<repo>/.ci/django-venv` prints (it creates the venv when missing). When
//! neither gives a working Django, a test fails under `CI=true` and otherwise prints a
//! SKIPPED note and returns.
//!
//! Django is configured once with every backend the tests use: SQLite (a file in the
//! driver's temporary directory, removed when the process ends), PostgreSQL and
//! MariaDB (a dedicated database, `sessions_django_interop`, created if missing, with
//! Django's own `migrate` of the sessions app), and Redis through Django's
//! `RedisCache` under a `KEY_PREFIX` of this process.
// Each test binary uses part of this module.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod cases;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde_json::{json, Map, Value};
use session_api::expiry::{isoformat, parse_isoformat};
use session_api::{Expiry, ManualClock, SecretKeys, SessionConfig};
use time::OffsetDateTime;

/// The dedicated database of these tests on PostgreSQL and MariaDB.
pub const DATABASE: &str = "sessions_django_interop";
/// Django's session table (`django.contrib.sessions.models.Session`).
pub const TABLE: &str = "django_session";
/// The secret Django and Rust share in most cases (long and random-looking, so
/// neither side warns about it).
pub const SECRET: &str = "interop-current-secret-7f3a9c1e5b2d4f6a8c0e2b4d6f8a1c3e5b7d9f0a";
/// The secret rotated out, kept in `SECRET_KEY_FALLBACKS`.
pub const OLD_SECRET: &str = "interop-previous-secret-0b2d4f6a8c1e3a5c7e9b1d3f5a7c9e2b4d6f8a0c";

/// True under `CI=true`, where a missing Django or server fails the test.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The skip/CI rule: panics under CI, else prints a loud skip note (straight to
/// stderr, past the test harness's capture, so that a skip is always seen).
pub fn unavailable(what: &str, err: &dyn std::fmt::Display) {
    if in_ci() {
        panic!("{what} required under CI=true but not available: {err}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n************************************************************\n\
         SKIPPED: {what} not available: {err}\n\
         (set CI=true to make this a failure)\n\
         ************************************************************"
    );
}

/// The database aliases of the driver's Django.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Db {
    Sqlite,
    Postgres,
    MySql,
}

impl Db {
    /// Django's alias for this database.
    pub fn alias(self) -> &'static str {
        match self {
            Db::Sqlite => "default",
            Db::Postgres => "postgres",
            Db::MySql => "mysql",
        }
    }

    /// The test server (the db tests' environment override, else the local default).
    fn server(self) -> Option<Server> {
        let (var, default) = match self {
            Db::Sqlite => return None,
            Db::Postgres => (
                "SESSIONS_TEST_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
            Db::MySql => (
                "SESSIONS_TEST_MYSQL_URL",
                "mysql://root@127.0.0.1:3306/test",
            ),
        };
        let url = std::env::var(var).unwrap_or_else(|_| default.to_owned());
        Some(Server::parse(&url).unwrap_or_else(|| panic!("{var}: not a server URL: {url}")))
    }
}

/// The parts of a `scheme://[user[:password]@]host[:port][/db]` URL Django needs.
#[derive(Debug, Clone)]
struct Server {
    scheme: String,
    user: String,
    password: String,
    host: String,
    port: String,
}

impl Server {
    fn parse(url: &str) -> Option<Server> {
        let (scheme, rest) = url.split_once("://")?;
        let rest = rest.split(['/', '?']).next()?;
        let (userinfo, hostport) = rest.rsplit_once('@').unwrap_or(("", rest));
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, ""));
        Some(Server {
            scheme: scheme.to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
            host: host.to_owned(),
            port: port.to_owned(),
        })
    }

    /// The URL of the dedicated database.
    fn url(&self) -> String {
        let auth = match (self.user.is_empty(), self.password.is_empty()) {
            (true, _) => String::new(),
            (false, true) => format!("{}@", self.user),
            (false, false) => format!("{}:{}@", self.user, self.password),
        };
        let port = if self.port.is_empty() {
            String::new()
        } else {
            format!(":{}", self.port)
        };
        format!("{}://{auth}{}{port}/{DATABASE}", self.scheme, self.host)
    }

    fn django(&self, engine: &str) -> Value {
        json!({
            "ENGINE": engine,
            "NAME": DATABASE,
            "USER": self.user,
            "PASSWORD": self.password,
            "HOST": self.host,
            "PORT": self.port,
        })
    }
}

/// The shared Redis server of the tests.
pub fn redis_url() -> String {
    std::env::var("SESSIONS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The Django cache aliases: `RedisCache` on the shared server, under a `KEY_PREFIX`
/// of this process ([`Django::cache_prefix`]), with `VERSION` 1 and 7.
pub const CACHE: &str = "redis";
/// The cache alias with `VERSION = 7`.
pub const CACHE_V7: &str = "redis_v7";

/// The driver process.
pub struct Django {
    io: Mutex<Io>,
    sqlite_path: String,
    cache_prefix: String,
    version: String,
    databases: Mutex<HashMap<Db, Result<String, String>>>,
}

struct Io {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    // Never waited on: the process ends on its own when our end of stdin closes.
    _child: Child,
}

static DJANGO: OnceLock<Option<Django>> = OnceLock::new();

/// The binary's Django; `None` (after the skip note) when it cannot be had outside CI.
pub fn django() -> Option<&'static Django> {
    let django = DJANGO.get_or_init(|| match Django::start() {
        Ok(django) => Some(django),
        Err(err) => {
            unavailable("Django 5.2 (DJANGO_PYTHON or .ci/django-venv)", &err);
            None
        }
    });
    django.as_ref()
}

/// The python of the pinned Django: `DJANGO_PYTHON`, else `.ci/django-venv`'s.
fn python() -> Result<PathBuf, String> {
    if let Some(python) = std::env::var_os("DJANGO_PYTHON").filter(|p| !p.is_empty()) {
        return Ok(python.into());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/django-venv");
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed: {}", script.display(), out.status));
    }
    let printed = String::from_utf8_lossy(&out.stdout);
    let python = printed.lines().last().unwrap_or("").trim();
    if python.is_empty() {
        return Err(format!("{} printed no python", script.display()));
    }
    Ok(python.into())
}

impl Django {
    fn start() -> Result<Django, String> {
        let python = python()?;
        let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/django/driver.py");
        let mut child = Command::new(&python)
            .arg(&driver)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let cache_prefix = format!(
            "sessions_interop_{}_{}",
            std::process::id(),
            OffsetDateTime::now_utc().unix_timestamp_nanos()
        );
        let django = Django {
            io: Mutex::new(Io {
                stdin,
                stdout,
                _child: child,
            }),
            sqlite_path: String::new(),
            cache_prefix,
            version: String::new(),
            databases: Mutex::new(HashMap::new()),
        };
        let mut databases = Map::new();
        databases.insert(
            Db::Sqlite.alias().into(),
            json!({"ENGINE": "django.db.backends.sqlite3"}),
        );
        for (db, engine) in [
            (Db::Postgres, "django.db.backends.postgresql"),
            (Db::MySql, "django.db.backends.mysql"),
        ] {
            let server = db.server().expect("a server database");
            databases.insert(db.alias().into(), server.django(engine));
        }
        let redis = |version: u32| {
            json!({
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url(),
                "KEY_PREFIX": django.cache_prefix,
                "VERSION": version,
            })
        };
        let reply = django.try_call(&json!({
            "op": "configure",
            "databases": databases,
            "caches": {CACHE: redis(1), CACHE_V7: redis(7)},
        }))?;
        let sqlite_path = reply["sqlite"][Db::Sqlite.alias()]
            .as_str()
            .ok_or("no SQLite path in the driver's reply")?
            .to_owned();
        let version = reply["django"].as_str().unwrap_or("?").to_owned();
        if !version.starts_with("5.2") {
            return Err(format!("the driver runs Django {version}, not 5.2"));
        }
        Ok(Django {
            sqlite_path,
            version,
            ..django
        })
    }

    /// Django's version (5.2.x).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The `KEY_PREFIX` of both cache aliases.
    pub fn cache_prefix(&self) -> &str {
        &self.cache_prefix
    }

    /// One request and its reply; a driver that died or answered with an error is
    /// `Err` with the driver's message.
    fn try_call(&self, request: &Value) -> Result<Value, String> {
        let mut io = self.io.lock().unwrap_or_else(PoisonError::into_inner);
        let mut line = serde_json::to_string(request).expect("a request serializes");
        line.push('\n');
        io.stdin
            .write_all(line.as_bytes())
            .and_then(|()| io.stdin.flush())
            .map_err(|e| format!("the Django driver is gone: {e}"))?;
        let mut answer = String::new();
        let n = io
            .stdout
            .read_line(&mut answer)
            .map_err(|e| format!("the Django driver is gone: {e}"))?;
        if n == 0 {
            return Err("the Django driver exited (its stderr is above)".into());
        }
        let reply: Value = serde_json::from_str(&answer)
            .map_err(|e| format!("unreadable driver reply {answer:?}: {e}"))?;
        if reply["ok"] == true {
            Ok(reply)
        } else {
            Err(format!(
                "{}\n{}",
                reply["error"].as_str().unwrap_or("?"),
                reply["traceback"].as_str().unwrap_or("")
            ))
        }
    }

    /// [`Self::try_call`] that panics on an error (a bug in the test or a Django
    /// failure the test did not expect).
    pub fn call(&self, request: &Value) -> Value {
        self.try_call(request)
            .unwrap_or_else(|e| panic!("Django driver, request {request}: {e}"))
    }

    /// The URL the Rust store uses for `db`, once its database exists and Django's
    /// `migrate` made the sessions table there; `None` (after the skip note) when
    /// the server cannot be reached outside CI.
    pub fn database(&self, db: Db) -> Option<String> {
        let mut databases = self
            .databases
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut first = false;
        let ready = databases.entry(db).or_insert_with(|| {
            first = true;
            self.try_call(&json!({"op": "ensure_database", "alias": db.alias()}))
                .map(|_| match db.server() {
                    Some(server) => server.url(),
                    None => format!("sqlite://{}", self.sqlite_path),
                })
        });
        match ready {
            Ok(url) => Some(url.clone()),
            // The note once per binary, with the driver's first line (the cause);
            // under CI every test fails.
            Err(err) if first || in_ci() => {
                let why = err.lines().next().unwrap_or_default();
                unavailable(&format!("{db:?} server for Django"), &why);
                None
            }
            Err(_) => None,
        }
    }
}

/// Django's `SESSION_ENGINE` and where it keeps sessions.
#[derive(Debug, Clone)]
pub enum Engine {
    /// `backends.db` on this database.
    Db(Db),
    /// `backends.file` in this directory (`SESSION_FILE_PATH`).
    File(PathBuf),
    /// `backends.signed_cookies`.
    SignedCookies,
    /// `backends.cache` on this cache alias (`SESSION_CACHE_ALIAS`).
    Cache(&'static str),
    /// `backends.cached_db` on this database and cache alias.
    CachedDb(Db, &'static str),
}

/// The settings of the Django site one test talks to.
#[derive(Debug, Clone)]
pub struct Site {
    pub engine: Engine,
    /// `SECRET_KEY`.
    pub secret: String,
    /// `SECRET_KEY_FALLBACKS`.
    pub fallbacks: Vec<String>,
    /// `SESSION_COOKIE_AGE`.
    pub cookie_age: i64,
}

impl Site {
    /// A site on `engine` with [`SECRET`], no fallbacks and the default cookie age.
    pub fn new(engine: Engine) -> Site {
        Site {
            engine,
            secret: SECRET.into(),
            fallbacks: Vec::new(),
            cookie_age: 1_209_600,
        }
    }

    /// The same storage with other secrets.
    pub fn with_secrets(&self, secret: &str, fallbacks: &[&str]) -> Site {
        Site {
            secret: secret.into(),
            fallbacks: fallbacks.iter().map(|s| (*s).to_owned()).collect(),
            ..self.clone()
        }
    }

    /// The Rust side's configuration matching this site: the same secrets and cookie
    /// age, on `clock`.
    pub fn rust_config(&self, clock: &ManualClock) -> Arc<SessionConfig> {
        let keys = SecretKeys::new(self.secret.clone()).with_fallbacks(self.fallbacks.clone());
        Arc::new(
            SessionConfig::builder(keys)
                .cookie_age(self.cookie_age)
                .clock(Arc::new(clock.clone()))
                .build()
                .expect("a valid config"),
        )
    }

    fn fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        let (engine, alias, extra) = match &self.engine {
            Engine::Db(db) => ("db", Some(db.alias()), None),
            Engine::File(dir) => (
                "file",
                None,
                Some(("file_path", json!(dir.display().to_string()))),
            ),
            Engine::SignedCookies => ("signed_cookies", None, None),
            Engine::Cache(cache) => ("cache", None, Some(("cache_alias", json!(cache)))),
            Engine::CachedDb(db, cache) => (
                "cached_db",
                Some(db.alias()),
                Some(("cache_alias", json!(cache))),
            ),
        };
        fields.insert("engine".into(), json!(engine));
        if let Some(alias) = alias {
            fields.insert("alias".into(), json!(alias));
        }
        if let Some((name, value)) = extra {
            fields.insert(name.into(), value);
        }
        fields.insert("secret".into(), json!(self.secret));
        fields.insert("fallbacks".into(), json!(self.fallbacks));
        fields.insert("cookie_age".into(), json!(self.cookie_age));
        fields
    }

    /// A Django request on the session `key` (`None`: a new session), as a view
    /// would run it: `SessionStore(key)`, then the steps.
    pub fn request(&self, key: Option<&str>) -> Request {
        let mut fields = self.fields();
        fields.insert("op".into(), json!("session"));
        fields.insert("key".into(), json!(key));
        Request {
            fields,
            steps: Vec::new(),
        }
    }

    /// What the storage holds for `key`, read directly by Django's side (db: the
    /// row; file: the file and its mtime).
    pub fn raw(&self, django: &Django, key: &str) -> Raw {
        let mut fields = self.fields();
        fields.insert("op".into(), json!("raw"));
        fields.insert("key".into(), json!(key));
        let reply = django.call(&Value::Object(fields));
        Raw {
            exists: reply["exists"] == true,
            text: reply["text"].as_str().map(str::to_owned),
            expire_date: reply["expire_date"].as_str().map(parse_datetime),
            mtime: reply["mtime_ns"].as_i64().map(|ns| {
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)).expect("an mtime")
            }),
        }
    }

    /// What Django's cache holds for `key`: the full Redis key, the pickled bytes
    /// and the remaining TTL in milliseconds.
    pub fn cache_raw(&self, django: &Django, key: &str) -> CacheRaw {
        let mut fields = self.fields();
        fields.insert("op".into(), json!("cache_raw"));
        fields.insert("key".into(), json!(key));
        let reply = django.call(&Value::Object(fields));
        CacheRaw {
            full_key: reply["full_key"].as_str().expect("a full key").to_owned(),
            value: reply["value_hex"].as_str().map(from_hex),
            pttl: reply["pttl"].as_i64(),
        }
    }
}

impl Site {
    /// Deletes Django's cache entry for `key`, as Redis does once its TTL has run
    /// out (Redis's clock cannot be moved like the tests' clocks).
    pub fn cache_delete(&self, django: &Django, key: &str) {
        let mut fields = self.fields();
        fields.insert("op".into(), json!("cache_delete"));
        fields.insert("key".into(), json!(key));
        django.call(&Value::Object(fields));
    }
}

/// A Django request being built; [`Request::run`] sends it.
#[derive(Debug, Clone)]
pub struct Request {
    fields: Map<String, Value>,
    steps: Vec<Value>,
}

impl Request {
    /// Runs the request with Django's "now" pinned to `now` (`timezone.now()` and
    /// the signing timestamp).
    pub fn at(mut self, now: OffsetDateTime) -> Self {
        let micros = now.unix_timestamp_nanos() / 1_000;
        self.fields.insert("now_us".into(), json!(micros as i64));
        self
    }

    /// `session.update(json.loads(text))`: the text is read by Python's `json`, so it
    /// may hold what plain JSON cannot (`NaN`, big integers, lone surrogates).
    pub fn update_text(mut self, text: &str) -> Self {
        self.steps.push(json!(["update_json", text]));
        self
    }

    /// `session.update(value)`.
    pub fn update(self, value: Value) -> Self {
        let text = value.to_string();
        self.update_text(&text)
    }

    /// `del session[key]`.
    pub fn delete(mut self, key: &str) -> Self {
        self.steps.push(json!(["delete", key]));
        self
    }

    /// `session.set_expiry(...)` with the Python value `expiry` stands for.
    pub fn set_expiry(mut self, expiry: Expiry) -> Self {
        let value = match expiry {
            Expiry::Seconds(n) => json!(n),
            Expiry::BrowserClose => json!(0),
            Expiry::Default => Value::Null,
            Expiry::At(at) => json!({"at": isoformat(at)}),
            Expiry::In(_) => panic!("give Django an instant (Expiry::At) instead"),
        };
        self.steps.push(json!(["set_expiry", value]));
        self
    }

    /// `session.modified = True`.
    pub fn modified(mut self) -> Self {
        self.steps.push(json!(["modified"]));
        self
    }

    /// `session.save()`.
    pub fn save(mut self) -> Self {
        self.steps.push(json!(["save"]));
        self
    }

    /// `session.cycle_key()`.
    pub fn cycle_key(mut self) -> Self {
        self.steps.push(json!(["cycle_key"]));
        self
    }

    /// `session.flush()`.
    pub fn flush(mut self) -> Self {
        self.steps.push(json!(["flush"]));
        self
    }

    /// Sends the request; after the steps the reply reports the session's key (after
    /// a load: `None` if Django dropped it), data and expiry.
    pub fn run(self, django: &Django) -> Reply {
        let mut fields = self.fields;
        fields.insert("steps".into(), Value::Array(self.steps));
        let reply = django.call(&Value::Object(fields));
        Reply {
            key: reply["key"].as_str().map(str::to_owned),
            data_text: reply["data_text"].as_str().expect("data_text").to_owned(),
            expiry_age: reply["expiry_age"].as_i64().expect("expiry_age"),
            expiry_date: parse_datetime(reply["expiry_date"].as_str().expect("expiry_date")),
            browser_close: reply["browser_close"].as_bool().expect("browser_close"),
        }
    }
}

/// What a Django session reported after a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// `session.session_key` (the signed cookie value for signed cookies).
    pub key: Option<String>,
    /// `json.dumps(dict(session.items()), separators=(",", ":"))`.
    pub data_text: String,
    /// `session.get_expiry_age()`.
    pub expiry_age: i64,
    /// `session.get_expiry_date()`.
    pub expiry_date: OffsetDateTime,
    /// `session.get_expire_at_browser_close()`.
    pub browser_close: bool,
}

impl Reply {
    /// The key; panics when Django has none.
    pub fn key(&self) -> &str {
        self.key.as_deref().expect("Django's session has a key")
    }

    /// The data as (key, value) pairs in Django's order (parsed by serde_json, so
    /// only for plain JSON).
    pub fn items(&self) -> Vec<(String, Value)> {
        let map: Map<String, Value> =
            serde_json::from_str(&self.data_text).expect("plain JSON from Django");
        map.into_iter().collect()
    }
}

/// A stored record, read directly by Django's side.
#[derive(Debug, Clone)]
pub struct Raw {
    pub exists: bool,
    /// `session_data` (db) or the file's content (file).
    pub text: Option<String>,
    /// `expire_date` (db); for a file, when it expires (`_session_expiry`, else its
    /// mtime plus the integer expiry or `SESSION_COOKIE_AGE`).
    pub expire_date: Option<OffsetDateTime>,
    /// The file's modification time (file).
    pub mtime: Option<OffsetDateTime>,
}

/// A Django cache entry.
#[derive(Debug, Clone)]
pub struct CacheRaw {
    /// `KEY_PREFIX:VERSION:<engine prefix><session key>`.
    pub full_key: String,
    /// The bytes Redis holds (RedisCache's pickle), if any.
    pub value: Option<Vec<u8>>,
    /// Redis's `PTTL`.
    pub pttl: Option<i64>,
}

/// Bytes from the driver's hex.
fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex from the driver"))
        .collect()
}

/// Parses a Python `isoformat()`.
pub fn parse_datetime(text: &str) -> OffsetDateTime {
    parse_isoformat(text).unwrap_or_else(|| panic!("not an isoformat datetime: {text}"))
}

/// The real time now, truncated to microseconds (Python's resolution): the tests'
/// starting point on both sides. (Real rather than fixed because Django's file
/// backend dates its files with the file system's clock.)
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.microsecond() * 1_000)
        .expect("a valid nanosecond")
}
