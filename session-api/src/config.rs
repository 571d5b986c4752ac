//! Settings, with Django's defaults (rule G6).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::events::SessionObserver;
use crate::key::{KeyGenerator, RandomKeys};
use crate::renewal::KeyRenewal;
use crate::serializer::{JsonSerializer, Serializer};
use crate::signing::SecretKeys;
pub use crate::signing::MIN_SECRET_LEN;

/// Django's `SESSION_COOKIE_AGE` default: two weeks, in seconds.
pub const DEFAULT_COOKIE_AGE: i64 = 1_209_600;
/// Django's `SESSION_COOKIE_NAME` default.
pub const DEFAULT_COOKIE_NAME: &str = "sessionid";

/// The `SameSite` cookie attribute (`SESSION_COOKIE_SAMESITE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Lax` (Django's default).
    Lax,
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=None`: requires `SESSION_COOKIE_SECURE` (browsers drop a
    /// `SameSite=None` cookie without `Secure`), else
    /// [`SessionConfigBuilder::build`] fails.
    None,
}

impl SameSite {
    /// The attribute value as written in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

impl FromStr for SameSite {
    type Err = Error;
    /// Django's accepted values, case-insensitively (rule G6).
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "lax" => Ok(SameSite::Lax),
            "strict" => Ok(SameSite::Strict),
            "none" => Ok(SameSite::None),
            _ => Err(Error::configuration(format!(
                "SESSION_COOKIE_SAMESITE must be \"Lax\", \"Strict\", \"None\" or unset, not {s:?}"
            ))),
        }
    }
}

/// Where the session id travels (rule S6). Django's is [`IdTransport::Cookie`]; API
/// clients that keep no cookies can send it in a header instead.
///
/// A request is answered through the carrier it used: one that came with the session
/// cookie gets `Set-Cookie` (never the header); one that came with the header gets the
/// header (never `Set-Cookie`), carrying the key only when it changes (a new session,
/// `cycle_key`, a renewal, a signed cookie's new value) and set empty when the session
/// ended (a logout, a key that loads nothing). A header value that is not a key of the
/// store (malformed, non-UTF-8, repeated, oversized) is treated as any bad key (H1):
/// a fresh session, never an error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IdTransport {
    /// Only the session cookie (Django's behaviour, the default).
    #[default]
    Cookie,
    /// The cookie, and the header `header` for clients that send no session cookie:
    /// the cookie wins when both arrive (a browser's own credential is never replaced
    /// by a header a page could set). A client opts in by sending the header, empty on
    /// its first request; a request with neither is a cookie request. Responses vary
    /// on both.
    CookieAndHeader {
        /// The header's name, e.g. `X-Session-Token`.
        header: String,
    },
    /// Only the header `header`: cookies are neither read nor set, and responses vary
    /// on the header, not on `Cookie`.
    Header {
        /// The header's name, e.g. `X-Session-Token`.
        header: String,
    },
}

impl IdTransport {
    /// The header the id may travel in, if any.
    pub fn header(&self) -> Option<&str> {
        match self {
            IdTransport::Cookie => None,
            IdTransport::CookieAndHeader { header } | IdTransport::Header { header } => {
                Some(header)
            }
        }
    }

    /// Whether the session cookie is read and set.
    pub fn uses_cookie(&self) -> bool {
        !matches!(self, IdTransport::Header { .. })
    }
}

/// What a save does when its versioned write finds the record changed by a
/// concurrent request since this request loaded it (rules V1, V2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ConflictPolicy {
    /// Reload the record and apply this request's changes over it: the keys whose
    /// values differ from what was loaded are written, the keys this request removed
    /// are removed, every other key keeps the concurrent request's value; then save
    /// again (up to [`MAX_MERGE_ATTEMPTS`] times). A `clear()` or `flush()` of this
    /// request wins over the other's keys. The default.
    #[default]
    Merge,
    /// The save fails with [`Error::Conflict`]; adapters answer 409 Conflict.
    Fail,
}

/// How many times [`ConflictPolicy::Merge`] reloads and retries before the save
/// fails with [`Error::Conflict`].
pub const MAX_MERGE_ATTEMPTS: u32 = 16;

/// What a request gets when the store cannot be reached ([`Error::Unavailable`])
/// (rule V5). Other store errors are always a 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum StoreFailurePolicy {
    /// 503 Service Unavailable, with `Retry-After` when set (seconds). The default,
    /// without a `Retry-After`.
    #[default]
    Unavailable,
    /// 503 Service Unavailable with `Retry-After: <seconds>`.
    RetryAfter(u32),
    /// 500 Internal Server Error, as Django answers.
    InternalError,
    /// Serve the request with an empty session and save nothing: the client keeps
    /// its cookie, and its session comes back when the store does. A response save
    /// that finds the store down is skipped the same way while the session keeps the
    /// key the request presented; once the key changed in the request (`cycle_key`,
    /// a renewal, a new session created) the client's cookie no longer names a
    /// stored session, so the failure is answered as under
    /// [`Unavailable`](Self::Unavailable) (503) rather than losing it silently.
    ServeEmpty,
}

/// Every Django session setting, plus the injectable clock and key generator.
///
/// Build it with [`SessionConfig::builder`]; [`SessionConfigBuilder::build`] validates:
///
/// - every secret, fallbacks included ([`SecretKeys::validate`]: at least
///   [`MIN_SECRET_LEN`] bytes, a `security.W025` warning when weak);
/// - the cookie name is an RFC 6265 token, the path starts with `/` and holds only
///   printable ASCII without `;`, the domain is a host name (labels of letters,
///   digits, `-` and `_`, an optional leading `.`), so every `Set-Cookie` header the
///   middleware writes is a valid header value;
/// - `SameSite=None` comes with `Secure`, and the `__Host-`/`__Secure-` prefixes with
///   what browsers require of them.
///
/// `SESSION_ENGINE` has no field: the engine is the store you construct.
///
/// ```
/// use session_api::{config::SessionConfig, signing::SecretKeys};
/// let config = SessionConfig::builder(SecretKeys::new("s3cret-key"))
///     .cookie_age(3600)
///     .build()
///     .unwrap();
/// assert_eq!(config.cookie_name, "sessionid");
/// assert!(config.cookie_httponly);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct SessionConfig {
    /// `SESSION_COOKIE_NAME`, default `"sessionid"`.
    pub cookie_name: String,
    /// `SESSION_COOKIE_AGE` in seconds, default 1,209,600 (two weeks).
    pub cookie_age: i64,
    /// `SESSION_COOKIE_DOMAIN`, default none.
    pub cookie_domain: Option<String>,
    /// `SESSION_COOKIE_SECURE`, default false.
    pub cookie_secure: bool,
    /// `SESSION_COOKIE_HTTPONLY`, default true.
    pub cookie_httponly: bool,
    /// `SESSION_COOKIE_PATH`, default `"/"`.
    pub cookie_path: String,
    /// `SESSION_COOKIE_SAMESITE`, default `Lax`; `None` here means unset.
    pub cookie_samesite: Option<SameSite>,
    /// `SESSION_SAVE_EVERY_REQUEST`, default false.
    pub save_every_request: bool,
    /// `SESSION_EXPIRE_AT_BROWSER_CLOSE`, default false.
    pub expire_at_browser_close: bool,
    /// `SESSION_SERIALIZER`, default JSON.
    pub serializer: Arc<dyn Serializer>,
    /// `SECRET_KEY` and `SECRET_KEY_FALLBACKS`.
    pub secret_keys: SecretKeys,
    /// Where "now" comes from (the system clock by default).
    pub clock: Arc<dyn Clock>,
    /// Where new keys come from (the CSPRNG by default).
    pub key_generator: Arc<dyn KeyGenerator>,
    /// The absolute timeout in seconds (rule S1): a session ends this long after it
    /// was created, however active it is. `None` (the default, Django's behaviour):
    /// only the idle expiry applies.
    pub absolute_timeout: Option<i64>,
    /// Key renewal with grace (rule S2): a new key every so often, the superseded key
    /// working for a short grace, then revoking the session if presented again.
    /// `None` (the default, Django's behaviour): the key changes only on `cycle_key`.
    /// Server-side stores only; on signed or encrypted cookies it does nothing.
    pub key_renewal: Option<KeyRenewal>,
    /// Where the session id travels (rule S6); default [`IdTransport::Cookie`].
    pub id_transport: IdTransport,
    /// What a save does on a concurrent change (rule V2); default
    /// [`ConflictPolicy::Merge`]. Used with stores that declare
    /// [`Capabilities::versioned`](crate::store::Capabilities::versioned).
    pub conflict_policy: ConflictPolicy,
    /// With `save_every_request`, an unmodified session is refreshed by moving its
    /// expiry only ([`AsyncSessionStore::atouch`](crate::store::AsyncSessionStore::atouch)),
    /// and only when its last refresh is at least this many seconds old (rule V4).
    /// `None` (the default, Django's behaviour): every request rewrites the record.
    /// It must be shorter than [`cookie_age`](Self::cookie_age), or an active session
    /// that is never modified would expire unrefreshed.
    pub refresh_interval: Option<i64>,
    /// What a request gets when the store is down (rule V5); default
    /// [`StoreFailurePolicy::Unavailable`].
    pub store_failure: StoreFailurePolicy,
    /// Who hears lifecycle events and store timings (rule V6); default none, and then
    /// nothing is timed or allocated for it. Set with
    /// [`SessionConfigBuilder::observer`].
    pub observer: Option<Arc<dyn SessionObserver>>,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("cookie_name", &self.cookie_name)
            .field("cookie_age", &self.cookie_age)
            .field("cookie_domain", &self.cookie_domain)
            .field("cookie_secure", &self.cookie_secure)
            .field("cookie_httponly", &self.cookie_httponly)
            .field("cookie_path", &self.cookie_path)
            .field("cookie_samesite", &self.cookie_samesite)
            .field("save_every_request", &self.save_every_request)
            .field("expire_at_browser_close", &self.expire_at_browser_close)
            .field("serializer", &self.serializer)
            .field("secret_keys", &self.secret_keys)
            .field("clock", &self.clock)
            .field("key_generator", &self.key_generator)
            .field("absolute_timeout", &self.absolute_timeout)
            .field("key_renewal", &self.key_renewal)
            .field("id_transport", &self.id_transport)
            .field("conflict_policy", &self.conflict_policy)
            .field("refresh_interval", &self.refresh_interval)
            .field("store_failure", &self.store_failure)
            .field("observer", &self.observer)
            .finish()
    }
}

impl SessionConfig {
    /// A builder holding Django's defaults; `SECRET_KEY` is required.
    pub fn builder(secret_keys: SecretKeys) -> SessionConfigBuilder {
        SessionConfigBuilder(SessionConfig {
            cookie_name: DEFAULT_COOKIE_NAME.to_owned(),
            cookie_age: DEFAULT_COOKIE_AGE,
            cookie_domain: None,
            cookie_secure: false,
            cookie_httponly: true,
            cookie_path: "/".to_owned(),
            cookie_samesite: Some(SameSite::Lax),
            save_every_request: false,
            expire_at_browser_close: false,
            serializer: Arc::new(JsonSerializer),
            secret_keys,
            clock: Arc::new(SystemClock),
            key_generator: Arc::new(RandomKeys),
            absolute_timeout: None,
            key_renewal: None,
            id_transport: IdTransport::Cookie,
            conflict_policy: ConflictPolicy::Merge,
            refresh_interval: None,
            store_failure: StoreFailurePolicy::Unavailable,
            observer: None,
        })
    }

    fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::configuration(msg));
        if self.cookie_name.is_empty()
            || !self
                .cookie_name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
        {
            return bad(format!(
                "SESSION_COOKIE_NAME {:?} is not a valid cookie name",
                self.cookie_name
            ));
        }
        if let Some(timeout) = self.absolute_timeout.filter(|&t| t <= 0) {
            return bad(format!(
                "the absolute timeout must be positive, not {timeout}"
            ));
        }
        if let Some(interval) = self.refresh_interval.filter(|&t| t < 0) {
            return bad(format!(
                "the refresh interval cannot be negative, not {interval}"
            ));
        }
        // V4: at or above the cookie age, an active session that is never modified
        // would expire before its first refresh.
        if let Some(interval) = self.refresh_interval.filter(|&t| t >= self.cookie_age) {
            return bad(format!(
                "the refresh interval ({interval} s) must be shorter than SESSION_COOKIE_AGE ({} s)",
                self.cookie_age
            ));
        }
        if let Some(problem) = self.key_renewal.and_then(|r| r.problem()) {
            return bad(problem);
        }
        if let Some(header) = self.id_transport.header() {
            if !is_id_header_name(header) {
                return bad(format!(
                    "the session id header {header:?} must be a header name (letters, digits \
                     and !#$%&'*+-.^_`|~) other than Cookie and Set-Cookie"
                ));
            }
        }
        if self.cookie_age <= 0 {
            return bad(format!(
                "SESSION_COOKIE_AGE must be positive, not {}",
                self.cookie_age
            ));
        }
        if !self.cookie_path.starts_with('/')
            || !self
                .cookie_path
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b';')
        {
            return bad(format!(
                "SESSION_COOKIE_PATH must start with '/' and hold only printable ASCII \
                 without ';': {:?}",
                self.cookie_path
            ));
        }
        if let Some(domain) = &self.cookie_domain {
            if !is_cookie_domain(domain) {
                return bad(format!(
                    "SESSION_COOKIE_DOMAIN {domain:?} is not a host name (labels of letters, \
                     digits, '-' and '_', optionally with a leading '.')"
                ));
            }
        }
        if self.cookie_samesite == Some(SameSite::None) && !self.cookie_secure {
            return bad(
                "SESSION_COOKIE_SAMESITE \"None\" needs SESSION_COOKIE_SECURE: \
                 browsers reject a SameSite=None cookie without Secure"
                    .into(),
            );
        }
        // Browsers drop `__Host-`/`__Secure-` cookies that break their prefix rules.
        if self.cookie_name.starts_with("__Host-")
            && (!self.cookie_secure || self.cookie_domain.is_some() || self.cookie_path != "/")
        {
            return bad(
                "a __Host- cookie needs SESSION_COOKIE_SECURE, no domain and path \"/\"".into(),
            );
        }
        if self.cookie_name.starts_with("__Secure-") && !self.cookie_secure {
            return bad("a __Secure- cookie needs SESSION_COOKIE_SECURE".into());
        }
        self.secret_keys.validate()
    }
}

/// An RFC 9110 field name (a token) that is not one of the cookie headers.
fn is_id_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && !name.eq_ignore_ascii_case("cookie")
        && !name.eq_ignore_ascii_case("set-cookie")
}

/// A `Domain` attribute browsers accept and a header can carry: an optional leading
/// `.`, then at most 253 bytes of dot-separated labels of 1 to 63 letters, digits,
/// `-` and `_`, none beginning or ending with `-` (RFC 6265 section 4.1.1, RFC 1034;
/// `_` as browsers allow).
fn is_cookie_domain(domain: &str) -> bool {
    let host = domain.strip_prefix('.').unwrap_or(domain);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Builds a validated [`SessionConfig`].
#[derive(Debug, Clone)]
pub struct SessionConfigBuilder(SessionConfig);

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty),* $(,)?) => {
        $( $(#[$doc])* pub fn $name(mut self, value: $ty) -> Self { self.0.$name = value.into(); self } )*
    };
}

impl SessionConfigBuilder {
    setters! {
        /// `SESSION_COOKIE_NAME`.
        cookie_name: &str,
        /// `SESSION_COOKIE_AGE` in seconds.
        cookie_age: i64,
        /// `SESSION_COOKIE_DOMAIN`.
        cookie_domain: Option<String>,
        /// `SESSION_COOKIE_SECURE`.
        cookie_secure: bool,
        /// `SESSION_COOKIE_HTTPONLY`.
        cookie_httponly: bool,
        /// `SESSION_COOKIE_PATH`.
        cookie_path: &str,
        /// `SESSION_COOKIE_SAMESITE` (`None` = unset).
        cookie_samesite: Option<SameSite>,
        /// `SESSION_SAVE_EVERY_REQUEST`.
        save_every_request: bool,
        /// `SESSION_EXPIRE_AT_BROWSER_CLOSE`.
        expire_at_browser_close: bool,
        /// `SESSION_SERIALIZER`.
        serializer: Arc<dyn Serializer>,
        /// `SECRET_KEY` and `SECRET_KEY_FALLBACKS`.
        secret_keys: SecretKeys,
        /// The clock (inject a [`crate::ManualClock`] in tests).
        clock: Arc<dyn Clock>,
        /// The key generator.
        key_generator: Arc<dyn KeyGenerator>,
        /// The absolute timeout in seconds (rule S1; `None`: none).
        absolute_timeout: Option<i64>,
        /// Key renewal with grace (rule S2; `None`: none).
        key_renewal: Option<KeyRenewal>,
        /// Where the session id travels (rule S6).
        id_transport: IdTransport,
        /// What a save does on a concurrent change (rule V2).
        conflict_policy: ConflictPolicy,
        /// Expiry-only refreshes under `save_every_request`, at most this often in
        /// seconds (rule V4; `None`: full saves).
        refresh_interval: Option<i64>,
        /// What a request gets when the store is down (rule V5).
        store_failure: StoreFailurePolicy,
    }

    /// The observer of lifecycle events and store operations (rule V6), e.g.
    /// [`TracingObserver`](crate::events::TracingObserver) or the application's
    /// metrics.
    pub fn observer(mut self, observer: Arc<dyn SessionObserver>) -> Self {
        self.0.observer = Some(observer);
        self
    }

    /// `SESSION_COOKIE_SAMESITE` from Django's string form (`"Lax"`, `"Strict"`,
    /// `"None"`); anything else is a configuration error at [`Self::build`].
    pub fn cookie_samesite_str(self, value: &str) -> Result<Self> {
        let parsed = value.parse()?;
        Ok(self.cookie_samesite(Some(parsed)))
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<SessionConfig> {
        self.0.validate()?;
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> SessionConfigBuilder {
        SessionConfig::builder(SecretKeys::new("unit-test-secret"))
    }

    #[test]
    fn g6_defaults_are_djangos() {
        let c = builder().build().unwrap();
        assert_eq!(c.cookie_name, "sessionid");
        assert_eq!(c.cookie_age, 1_209_600);
        assert_eq!(c.cookie_domain, None);
        assert!(!c.cookie_secure);
        assert!(c.cookie_httponly);
        assert_eq!(c.cookie_path, "/");
        assert_eq!(c.cookie_samesite, Some(SameSite::Lax));
        assert!(!c.save_every_request);
        assert!(!c.expire_at_browser_close);
        assert_eq!(c.key_renewal, None);
        assert_eq!(c.id_transport, IdTransport::Cookie);
    }

    #[test]
    fn g6_samesite_accepts_djangos_values_only() {
        for (s, want) in [
            ("Lax", SameSite::Lax),
            ("Strict", SameSite::Strict),
            ("None", SameSite::None),
            ("lax", SameSite::Lax),
        ] {
            assert_eq!(s.parse::<SameSite>().unwrap(), want);
        }
        assert!(matches!(
            builder().cookie_samesite_str("Sometimes"),
            Err(Error::Configuration(_))
        ));
    }

    #[test]
    fn g6_invalid_settings_are_configuration_errors() {
        let cases = [
            builder().cookie_name(""),
            builder().cookie_name("a;b"),
            builder().cookie_age(0),
            builder().cookie_path("no-slash"),
            builder().cookie_domain(Some("a;b".into())),
            builder().cookie_name("__Host-id"),
            builder().cookie_name("__Secure-id"),
            SessionConfig::builder(SecretKeys::new("")),
            builder().cookie_samesite(Some(SameSite::None)),
            builder().key_renewal(Some(KeyRenewal::every(60).with_grace(60))),
            builder().id_transport(IdTransport::Header {
                header: "X Token".into(),
            }),
            builder().id_transport(IdTransport::CookieAndHeader {
                header: "cookie".into(),
            }),
            builder().id_transport(IdTransport::Header { header: "".into() }),
        ];
        for b in cases {
            assert!(matches!(b.build(), Err(Error::Configuration(_))));
        }
        assert!(builder()
            .cookie_name("__Host-id")
            .cookie_secure(true)
            .build()
            .is_ok());
        assert!(builder()
            .cookie_samesite(Some(SameSite::None))
            .cookie_secure(true)
            .build()
            .is_ok());
    }
}
