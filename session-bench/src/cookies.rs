//! The cookie table: signing session data into a cookie value and reading it back,
//! by this project's signed-cookie store and by the Rust peers doing the same work
//! (serialize the data, then sign or seal it into the value; verify, then
//! deserialize): the `cookie` crate's signed and private jars (what tower-sessions'
//! `with_signed` / `with_private` use) and actix-session's cookie store with its
//! default private jar.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use serde_json::{Map, Value};
use session_api::{
    JsonSerializer, Record, SaveMode, SecretKeys, SessionKey, SessionStore, SystemClock,
};
use session_stores::signed_cookies::SignedCookieStore;

use crate::error::{BenchError, Result};
use crate::measure::{concurrently, Latencies, Sample};
use crate::payload::{Payload, PayloadSize};
use crate::subject::{Budget, Cell, Measured, Op};
use crate::subjects::{expires, TTL};

/// The cookie's name in every jar.
const NAME: &str = "sessionid";

/// A way of turning session data into a cookie value and back.
#[async_trait]
pub trait CookieCodec: Send + Sync + 'static {
    /// Why `payload` cannot be a cookie of this codec, if it cannot.
    fn refuses(&self, payload: &Payload) -> Option<&'static str>;
    /// What [`encode`](Self::encode) takes for `payload`, built once.
    fn input(&self, payload: &Payload) -> Result<Input>;
    /// The cookie value of `input`.
    async fn encode(&self, input: &Input) -> Result<String>;
    /// Verifies `value` and reads the data back.
    async fn decode(&self, value: &str) -> Result<()>;
}

/// What a codec encodes: each takes the data in the form its own session holds it.
#[derive(Debug, Clone)]
pub enum Input {
    /// A record of this project's store.
    Record(Record),
    /// A JSON object (what a tower-sessions session holds).
    Map(Map<String, Value>),
    /// actix-session's state: each value already JSON text.
    State(HashMap<String, String>),
}

/// What a column encodes and decodes for one payload: its input and its cookie.
type Prepared = (Arc<Input>, Arc<str>);

/// A [`CookieCodec`] as a column of the cookie table.
pub struct CookieBench<C> {
    codec: Arc<C>,
    prepared: Mutex<HashMap<PayloadSize, Prepared>>,
    refused: Mutex<HashMap<PayloadSize, &'static str>>,
}

impl<C: CookieCodec> CookieBench<C> {
    /// The column of `codec`.
    pub fn new(codec: C) -> Self {
        CookieBench {
            codec: Arc::new(codec),
            prepared: Mutex::default(),
            refused: Mutex::default(),
        }
    }
}

#[async_trait]
impl<C: CookieCodec> Measured for CookieBench<C> {
    fn not_applicable(&self, cell: &Cell) -> Option<&'static str> {
        if !matches!(cell.op, Op::Encode | Op::Decode) {
            return Some("a cookie operation column");
        }
        self.refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&cell.size)
            .copied()
    }

    async fn prepare(&self, payloads: &[Payload], _budget: &Budget) -> Result<()> {
        for payload in payloads {
            if let Some(why) = self.codec.refuses(payload) {
                self.refused
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(payload.size, why);
                continue;
            }
            let input = self.codec.input(payload)?;
            let value = self.codec.encode(&input).await?;
            self.codec.decode(&value).await?;
            self.prepared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(payload.size, (Arc::new(input), value.into()));
        }
        Ok(())
    }

    async fn measure(
        &self,
        cell: Cell,
        _round: usize,
        _payload: &Payload,
        budget: &Budget,
    ) -> Result<Sample> {
        let (input, value) = self
            .prepared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&cell.size)
            .cloned()
            .ok_or_else(|| BenchError::Setup("measured before it was prepared".into()))?;
        let deadline = Instant::now() + budget.run_for;
        let encode = cell.op == Op::Encode;
        concurrently(cell.tasks, |_| {
            let (codec, input, value) = (
                Arc::clone(&self.codec),
                Arc::clone(&input),
                Arc::clone(&value),
            );
            async move {
                let mut lat = Latencies::default();
                let mut first = true;
                while first || Instant::now() < deadline {
                    first = false;
                    if encode {
                        lat.time(codec.encode(&input)).await?;
                    } else {
                        lat.time(codec.decode(&value)).await?;
                    }
                }
                Ok(lat)
            }
        })
        .await
    }

    async fn finish(&self) -> Result<()> {
        Ok(())
    }
}

/// This project's signed-cookie store (Django's `signed_cookies` engine): the value
/// is `signing.dumps(data, compress=True)`.
pub struct OursSigned {
    store: SignedCookieStore,
}

impl OursSigned {
    /// The store with `secret`, an hour's cookie age and JSON.
    pub fn new(secret: &str) -> Self {
        OursSigned {
            store: SignedCookieStore::new(
                SecretKeys::new(secret),
                TTL.whole_seconds(),
                Arc::new(SystemClock),
                Arc::new(JsonSerializer),
            ),
        }
    }
}

#[async_trait]
impl CookieCodec for OursSigned {
    fn refuses(&self, _payload: &Payload) -> Option<&'static str> {
        None
    }

    fn input(&self, payload: &Payload) -> Result<Input> {
        // The key of a record to save is the cookie it came in; any parsable one.
        let key = SessionKey::signed_payload("placeholder-cookie-value:1")?;
        Ok(Input::Record(Record::new(
            key,
            payload.data.clone(),
            expires(),
        )))
    }

    async fn encode(&self, input: &Input) -> Result<String> {
        let Input::Record(record) = input else {
            return Err(BenchError::Setup("not a record".into()));
        };
        let key = self.store.save(record, SaveMode::Update)?;
        Ok(key.as_str().to_owned())
    }

    async fn decode(&self, value: &str) -> Result<()> {
        let key = SessionKey::signed_payload(value)?;
        match self.store.load(&key)? {
            Some(_) => Ok(()),
            None => Err(BenchError::NotFound("signed cookie")),
        }
    }
}

/// Which jar of the `cookie` crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jar {
    /// HMAC-SHA256 (`SignedJar`).
    Signed,
    /// AES-256-GCM (`PrivateJar`).
    Private,
}

/// The `cookie` crate's jars, as tower-sessions uses them: the value is the JSON of
/// the data, signed or sealed.
pub struct CookieCrate {
    key: cookie::Key,
    jar: Jar,
}

impl CookieCrate {
    /// A jar of `kind` under a key derived from `secret`.
    pub fn new(secret: &str, jar: Jar) -> Self {
        CookieCrate {
            key: cookie::Key::derive_from(&padded(secret)),
            jar,
        }
    }
}

/// The cookie crates' key derivation wants 32 bytes at least.
fn padded(secret: &str) -> Vec<u8> {
    let mut bytes = secret.as_bytes().to_vec();
    bytes.resize(bytes.len().max(32), b'.');
    bytes
}

fn serde(err: serde_json::Error) -> BenchError {
    BenchError::peer("serde_json", err)
}

#[async_trait]
impl CookieCodec for CookieCrate {
    fn refuses(&self, _payload: &Payload) -> Option<&'static str> {
        None
    }

    fn input(&self, payload: &Payload) -> Result<Input> {
        Ok(Input::Map(payload.map.clone()))
    }

    async fn encode(&self, input: &Input) -> Result<String> {
        let Input::Map(map) = input else {
            return Err(BenchError::Setup("not a map".into()));
        };
        let json = serde_json::to_string(map).map_err(serde)?;
        let mut jar = cookie::CookieJar::new();
        match self.jar {
            Jar::Signed => jar
                .signed_mut(&self.key)
                .add(cookie::Cookie::new(NAME, json)),
            Jar::Private => jar
                .private_mut(&self.key)
                .add(cookie::Cookie::new(NAME, json)),
        }
        jar.get(NAME)
            .map(|c| c.value().to_owned())
            .ok_or(BenchError::NotFound("cookie jar"))
    }

    async fn decode(&self, value: &str) -> Result<()> {
        let mut jar = cookie::CookieJar::new();
        jar.add_original(cookie::Cookie::new(NAME, value.to_owned()));
        let verified = match self.jar {
            Jar::Signed => jar.signed(&self.key).get(NAME),
            Jar::Private => jar.private(&self.key).get(NAME),
        }
        .ok_or(BenchError::NotFound("cookie jar"))?;
        let _: Map<String, Value> = serde_json::from_str(verified.value()).map_err(serde)?;
        Ok(())
    }
}

/// actix-session's `CookieSessionStore` with its default `CookieContentSecurity::
/// Private` (actix-web's private jar).
pub struct ActixCookie {
    key: actix_web::cookie::Key,
}

/// actix-session's limit on a cookie session's JSON.
const ACTIX_LIMIT: usize = 4064;

impl ActixCookie {
    /// The store under a key derived from `secret`.
    pub fn new(secret: &str) -> Self {
        ActixCookie {
            key: actix_web::cookie::Key::derive_from(&padded(secret)),
        }
    }
}

fn state(payload: &Payload) -> HashMap<String, String> {
    payload
        .map
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

fn actix(err: impl std::fmt::Display) -> BenchError {
    BenchError::peer("actix-session", err)
}

#[async_trait]
impl CookieCodec for ActixCookie {
    fn refuses(&self, payload: &Payload) -> Option<&'static str> {
        let json = serde_json::to_string(&state(payload)).unwrap_or_default();
        (json.len() > ACTIX_LIMIT).then_some("over actix-session's 4064-byte cookie limit")
    }

    fn input(&self, payload: &Payload) -> Result<Input> {
        Ok(Input::State(state(payload)))
    }

    async fn encode(&self, input: &Input) -> Result<String> {
        use actix_session::storage::SessionStore as _;
        let Input::State(state) = input else {
            return Err(BenchError::Setup("not a state".into()));
        };
        // The middleware hands the store the session's state by value.
        let ttl = actix_web::cookie::time::Duration::seconds(TTL.whole_seconds());
        let key = actix_session::storage::CookieSessionStore::default()
            .save(state.clone(), &ttl)
            .await
            .map_err(actix)?;
        let mut jar = actix_web::cookie::CookieJar::new();
        jar.private_mut(&self.key)
            .add(actix_web::cookie::Cookie::new(NAME, String::from(key)));
        jar.get(NAME)
            .map(|c| c.value().to_owned())
            .ok_or(BenchError::NotFound("actix-session jar"))
    }

    async fn decode(&self, value: &str) -> Result<()> {
        use actix_session::storage::SessionStore as _;
        let mut jar = actix_web::cookie::CookieJar::new();
        jar.add_original(actix_web::cookie::Cookie::new(NAME, value.to_owned()));
        let verified = jar
            .private(&self.key)
            .get(NAME)
            .ok_or(BenchError::NotFound("actix-session jar"))?;
        let key = actix_session::storage::SessionKey::try_from(verified.value().to_owned())
            .map_err(actix)?;
        actix_session::storage::CookieSessionStore::default()
            .load(&key)
            .await
            .map_err(actix)?
            .ok_or(BenchError::NotFound("actix-session state"))
            .map(drop)
    }
}
