//! Settings, with Django's defaults (rule G6).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::key::{KeyGenerator, RandomKeys};
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
