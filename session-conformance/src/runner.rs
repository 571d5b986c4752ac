//! Cases, their selection by capability, and the runner behind both the test
//! harness ([`crate::test_main`]) and the report of `sessions check` ([`run_all`]).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use session_api::{
    Capabilities, KeyGenerator, KeyKind, Result, Session, SessionBackend, SessionConfig, SessionKey,
};

use session_api::config::SessionConfigBuilder;

use crate::harness::{Harness, KitEnv};
use crate::spy::Spy;

/// Why a case failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<session_api::Error> for Failure {
    fn from(err: session_api::Error) -> Self {
        Failure(format!("unexpected error: {err}"))
    }
}

/// What a case returns.
pub type CaseResult = std::result::Result<(), Failure>;

/// Fails the case with a message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::Failure(format!($($msg)+)));
        }
    };
}

/// What a case needs from the store; decided from [`Capabilities`] and the harness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Applies to every store.
    Always,
    /// Keys are ids ([`KeyKind::Id`]).
    IdKeys,
    /// Records live on the server.
    ServerSide,
    /// Server-side records and `clear_expired` removes them.
    ClearExpired,
    /// `clear_expired` is declared a no-op.
    NoClearExpired,
    /// Server-side records and raw access ([`crate::RawRecords`]).
    Raw,
    /// Raw access to Django `session_data` text.
    DjangoSessionData,
    /// A client-side store whose key is Django's signed cookie.
    SignedPayload,
    /// A client-side store whose key carries the data, signed or sealed.
    PayloadKey,
    /// A client-side store whose key is the data sealed with an AEAD.
    SealedPayload,
    /// Records kept under hashed ids ([`Capabilities::hashed_ids`], rule S3), with the
    /// view below them ([`crate::HashedIdsAccess`]).
    HashedIds,
    /// Versioned loads and saves ([`Capabilities::versioned`], rules V1-V3).
    Versioned,
    /// Expiry-only refreshes ([`Capabilities::touch`], rule V4).
    Touch,
    /// An account index ([`Capabilities::list_by_account`], rule S5); under hashed ids
    /// also the view below them, to tell which stored id the index lists.
    AccountIndex,
}

/// Why a case is skipped when raw access is missing: the rule is not checked at all.
const NO_RAW: &str = "no RawRecords from the factory: rule NOT checked";
const NOT_SERVER_SIDE: &str = "records are not server-side";
const NO_HASHED_IDS_ACCESS: &str = "no HashedIdsAccess from the factory: rule NOT checked";

impl Needs {
    /// `Ok` when the case applies, else the reason it is skipped (short: the test
    /// harness shows it beside the case's name).
    pub fn check(self, caps: &Capabilities, harness: &Harness) -> std::result::Result<(), String> {
        let skip = |reason: &str| Err(reason.to_owned());
        match self {
            Needs::Always => Ok(()),
            Needs::IdKeys if caps.key_kind != KeyKind::Id => skip("keys are not ids"),
            Needs::ServerSide | Needs::ClearExpired | Needs::Raw if !caps.server_side => {
                skip(NOT_SERVER_SIDE)
            }
            Needs::ClearExpired if !caps.clear_expired => skip("clear_expired is declared a no-op"),
            Needs::NoClearExpired if caps.clear_expired => skip("clear_expired removes records"),
            Needs::Raw if harness.raw.is_none() => skip(NO_RAW),
            Needs::DjangoSessionData if !harness.django_session_data => {
                if caps.server_side && harness.raw.is_none() {
                    skip(NO_RAW)
                } else {
                    skip("stored text is not Django's session_data")
                }
            }
            Needs::SignedPayload if caps.key_kind != KeyKind::SignedPayload => {
                skip("keys are not Django signed cookies")
            }
            Needs::PayloadKey if caps.key_kind == KeyKind::Id => skip("keys do not carry the data"),
            Needs::SealedPayload if caps.key_kind != KeyKind::SealedPayload => {
                skip("keys are not sealed")
            }
            Needs::HashedIds if !caps.hashed_ids => skip("ids are not hashed at rest"),
            Needs::HashedIds if harness.hashed_ids.is_none() => skip(NO_HASHED_IDS_ACCESS),
            Needs::Versioned if !caps.versioned => skip("saves are not versioned"),
            Needs::Touch if !caps.touch => skip("no expiry-only refresh (touch)"),
            Needs::AccountIndex if !caps.list_by_account => skip("no account index"),
            Needs::AccountIndex if caps.hashed_ids && harness.hashed_ids.is_none() => {
                skip(NO_HASHED_IDS_ACCESS)
            }
            _ => Ok(()),
        }
    }
}

/// Everything a case works with: the store (through a [`Spy`]), the kit's clock and
/// settings.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The store as the factory built it.
    pub harness: Harness,
    /// The environment the factory got.
    pub env: KitEnv,
    /// The recorder in front of the store.
    pub spy: Spy,
    /// The store through the recorder: what sessions use.
    pub backend: SessionBackend,
    config: Arc<SessionConfig>,
}

impl Ctx {
    /// Wraps a harness.
    pub fn new(harness: Harness, env: KitEnv) -> Result<Self> {
        let (spy, backend) = Spy::wrap(harness.backend.clone());
        let config = Arc::new(env.config()?);
        Ok(Ctx {
            harness,
            env,
            spy,
            backend,
            config,
        })
    }

    /// The store's declared capabilities.
    pub fn caps(&self) -> Capabilities {
        self.backend.capabilities()
    }

    /// A session handle on the store, as a request would get it.
    pub fn session(&self, key: Option<&str>) -> Session {
        Session::new(self.backend.clone(), self.config.clone(), key)
    }

    /// A handle whose new keys come from `keys`.
    pub fn session_with_keys(&self, keys: Arc<dyn KeyGenerator>) -> Result<Session> {
        let config = SessionConfig::builder(self.env.secret_keys())
            .clock(self.env.clock())
            .cookie_age(self.env.cookie_age())
            .key_generator(keys)
            .build()?;
        Ok(Session::new(self.backend.clone(), Arc::new(config), None))
    }

    /// Settings like the kit's (secret, clock, cookie age) changed by `adjust`, for
    /// cases about opt-in settings.
    pub fn config_with(
        &self,
        adjust: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder,
    ) -> Result<Arc<SessionConfig>> {
        let builder = SessionConfig::builder(self.env.secret_keys())
            .clock(self.env.clock())
            .cookie_age(self.env.cookie_age());
        Ok(Arc::new(adjust(builder).build()?))
    }

    /// A session handle on the store with other settings ([`Ctx::config_with`]).
    pub fn session_on(&self, config: &Arc<SessionConfig>, key: Option<&str>) -> Session {
        Session::new(self.backend.clone(), Arc::clone(config), key)
    }

    /// The settings sessions use.
    pub fn config(&self) -> &Arc<SessionConfig> {
        &self.config
    }

    /// Moves the clock.
    pub fn advance(&self, seconds: i64) {
        self.env
            .manual_clock()
            .advance(time::Duration::seconds(seconds));
    }

    /// Saves a new session holding `pairs` (Django's `save()` of a fresh session) and
    /// returns its key.
    pub async fn saved(
        &self,
        pairs: &[(&str, serde_json::Value)],
    ) -> std::result::Result<SessionKey, Failure> {
        let s = self.session(None);
        {
            let mut guard = s.lock().await;
            guard
                .aupdate(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())))
                .await?;
            guard.asave().await?;
        }
        s.session_key()
            .ok_or_else(|| Failure("save left the session without a key".into()))
    }
}

/// One rule check.
#[derive(Clone, Copy)]
pub struct Case {
    /// The case's name (also its test's name).
    pub name: &'static str,
    /// The rule id(s) of docs/django-spec.md it checks.
    pub rule: &'static str,
    /// What it needs from the store.
    pub needs: Needs,
    /// The check.
    pub run: fn(Ctx) -> BoxFuture<'static, CaseResult>,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("name", &self.name)
            .field("rule", &self.rule)
            .field("needs", &self.needs)
            .finish()
    }
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The store follows the rule.
    Passed,
    /// The store breaks the rule.
    Failed(String),
    /// The rule does not apply (or cannot be checked), with the reason.
    Skipped(String),
}

/// One line of a report.
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// The case.
    pub case: &'static str,
    /// Its rule ids.
    pub rule: &'static str,
    /// What happened.
    pub outcome: Outcome,
    /// How long it took (factory included).
    pub duration: Duration,
}

/// A store factory as the runner holds it.
pub type Factory = Arc<dyn Fn(KitEnv) -> BoxFuture<'static, Result<Harness>> + Send + Sync>;

/// Boxes an `async fn(KitEnv) -> Result<Harness>` as a [`Factory`].
pub fn factory<F, Fut>(f: F) -> Factory
where
    F: Fn(KitEnv) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Harness>> + Send + 'static,
{
    Arc::new(move |env| f(env).boxed())
}

/// What the runner makes of a factory that says its server is unavailable
/// ([`session_api::Error::Unavailable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhenUnavailable {
    /// Report the case as skipped, with the reason.
    Skip,
    /// Fail the case (`CI=true`).
    Fail,
}

/// The reason a factory's [`session_api::Error::Unavailable`] gives, if it is one.
pub(crate) fn unavailable_reason(err: &session_api::Error) -> Option<String> {
    match err {
        session_api::Error::Unavailable(source) => Some(format!("store unavailable: {source}")),
        _ => None,
    }
}

/// Runs one case on a fresh store from `factory`. A panic inside the factory, the
/// case or the store is reported as a failure, never propagated. A factory that
/// reports its server unavailable makes the case [`Outcome::Skipped`].
pub async fn run_case(case: &Case, factory: &Factory) -> CaseReport {
    execute(case, factory, WhenUnavailable::Skip).await.0
}

/// [`run_case`], and whether the case itself ran (else its failure is the
/// factory's or the kit's).
pub(crate) async fn execute(
    case: &Case,
    factory: &Factory,
    when_unavailable: WhenUnavailable,
) -> (CaseReport, bool) {
    let started = Instant::now();
    let env = KitEnv::new(case.name);
    let mut ran = false;
    let outcome = match tokio::spawn(factory(env.clone())).await {
        Err(join) => Outcome::Failed(format!("the factory panicked: {join}")),
        Ok(Err(err)) => match (unavailable_reason(&err), when_unavailable) {
            (Some(reason), WhenUnavailable::Skip) => Outcome::Skipped(reason),
            (Some(reason), WhenUnavailable::Fail) => {
                Outcome::Failed(format!("{reason} (a failure under CI=true)"))
            }
            (None, _) => Outcome::Failed(format!("the factory failed: {err}")),
        },
        Ok(Ok(harness)) => {
            let caps = harness.backend.capabilities();
            match case.needs.check(&caps, &harness) {
                Err(reason) => Outcome::Skipped(reason),
                Ok(()) => match Ctx::new(harness, env) {
                    Err(err) => Outcome::Failed(format!("kit set-up failed: {err}")),
                    Ok(ctx) => {
                        ran = true;
                        match tokio::spawn((case.run)(ctx)).await {
                            Ok(Ok(())) => Outcome::Passed,
                            Ok(Err(failure)) => Outcome::Failed(failure.0),
                            Err(join) => Outcome::Failed(format!("the case panicked: {join}")),
                        }
                    }
                },
            }
        }
    };
    let report = CaseReport {
        case: case.name,
        rule: case.rule,
        outcome,
        duration: started.elapsed(),
    };
    (report, ran)
}

/// Runs every case (or those whose name contains `filter`) one after the other: the
/// report API behind `sessions check`.
pub async fn run_all(factory: &Factory, filter: Option<&str>) -> Vec<CaseReport> {
    let mut reports = Vec::new();
    for case in crate::CASES {
        if filter.is_none_or(|f| case.name.contains(f)) {
            reports.push(run_case(case, factory).await);
        }
    }
    reports
}
