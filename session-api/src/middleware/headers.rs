//! What the adapters write: the response directives and their header lines, and
//! the cookie and header formats (rules G1..G4, S6).

use std::fmt::{self, Write as _};

use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

#[cfg(doc)]
use crate::config::IdTransport;
use crate::config::SameSite;

/// What the adapter must add to the response.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ResponseDirectives {
    /// A complete `Set-Cookie` header value (set or delete the session cookie).
    pub set_cookie: Option<String>,
    /// The id header to set (rule S6): the new key, or an empty value when the
    /// session ended. Only for requests answered through the header.
    pub set_header: Option<IdHeader>,
    /// Whether to add `Cookie` to the `Vary` header.
    pub vary_cookie: bool,
    /// A header name to add to `Vary` as well: the id header, whenever the settings
    /// read one and the response depends on the session (rule S6).
    pub vary_header: Option<String>,
}

/// How an adapter writes one of [`ResponseDirectives::header_writes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMode {
    /// Add a header line beside any of the same name (`Set-Cookie`, `Vary`).
    Append,
    /// Replace every header line of that name (the id header, rule S6).
    Replace,
}

/// One header line an adapter writes: the name, the value and how.
#[derive(Clone, PartialEq, Eq)]
pub struct HeaderWrite {
    /// The header's name.
    pub name: String,
    /// The header's value (may carry the session key: never log it, rule H5).
    pub value: String,
    /// Append or replace.
    pub mode: HeaderMode,
}

impl fmt::Debug for HeaderWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderWrite")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl ResponseDirectives {
    /// The header lines to write, given the response's `Vary` values as they are:
    /// `Set-Cookie`, the id header, and `Vary: Cookie` / `Vary: <id header>` unless
    /// already listed (Django's `patch_vary_headers`). Every adapter writes these
    /// in order, so the rules live here once.
    pub fn header_writes<'a>(
        self,
        vary: impl Iterator<Item = &'a str> + Clone,
    ) -> Vec<HeaderWrite> {
        let mut writes = Vec::new();
        if let Some(cookie) = self.set_cookie {
            writes.push(HeaderWrite {
                name: "Set-Cookie".to_owned(),
                value: cookie,
                mode: HeaderMode::Append,
            });
        }
        if let Some(id) = self.set_header {
            writes.push(HeaderWrite {
                name: id.name,
                value: id.value,
                mode: HeaderMode::Replace,
            });
        }
        let vary_names = self
            .vary_cookie
            .then(|| "Cookie".to_owned())
            .into_iter()
            .chain(self.vary_header);
        for name in vary_names {
            if !vary_lists(vary.clone(), &name) {
                writes.push(HeaderWrite {
                    name: "Vary".to_owned(),
                    value: name,
                    mode: HeaderMode::Append,
                });
            }
        }
        writes
    }
}

/// The `Set-Cookie` value carries the full session key (or, for signed cookies, the
/// data): `Debug` shows the cookie's name and attributes only (rule H5).
impl fmt::Debug for ResponseDirectives {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = self.set_cookie.as_deref().map(|cookie| {
            let (pair, attributes) = cookie.split_once(';').unwrap_or((cookie, ""));
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            format!("{name}=<redacted>;{attributes}")
        });
        f.debug_struct("ResponseDirectives")
            .field("set_cookie", &redacted)
            .field("set_header", &self.set_header)
            .field("vary_cookie", &self.vary_cookie)
            .field("vary_header", &self.vary_header)
            .finish()
    }
}

/// A response header carrying the session id (rule S6).
#[derive(Clone, PartialEq, Eq)]
pub struct IdHeader {
    /// The header's name, as configured ([`IdTransport`]).
    pub name: String,
    /// The key, or empty: the client drops its token.
    pub value: String,
}

/// `Debug` shows whether a value is set, never the key (rule H5).
impl fmt::Debug for IdHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.value.is_empty() {
            ""
        } else {
            "<redacted>"
        };
        f.debug_struct("IdHeader")
            .field("name", &self.name)
            .field("value", &value)
            .finish()
    }
}

pub(super) struct CookieParts<'a> {
    pub(super) name: &'a str,
    pub(super) value: &'a str,
    pub(super) domain: Option<&'a str>,
    pub(super) expires: Option<&'a str>,
    pub(super) httponly: bool,
    pub(super) max_age: Option<i64>,
    pub(super) path: &'a str,
    pub(super) samesite: Option<SameSite>,
    pub(super) secure: bool,
}

pub(super) fn format_cookie(p: &CookieParts<'_>) -> String {
    let mut out = format!("{}={}", p.name, p.value);
    // `write!` into a String cannot fail.
    if let Some(domain) = p.domain {
        let _ = write!(out, "; Domain={domain}");
    }
    if let Some(expires) = p.expires {
        let _ = write!(out, "; expires={expires}");
    }
    if p.httponly {
        out.push_str("; HttpOnly");
    }
    if let Some(age) = p.max_age {
        let _ = write!(out, "; Max-Age={age}");
    }
    let _ = write!(out, "; Path={}", p.path);
    if let Some(samesite) = p.samesite {
        let _ = write!(out, "; SameSite={}", samesite.as_str());
    }
    if p.secure {
        out.push_str("; Secure");
    }
    out
}

/// The `Cookie` headers of a request as one header: HTTP/2 may split cookies over
/// several headers. Read as bytes (invalid UTF-8 replaced), so a non-ASCII value of
/// another cookie never hides the session cookie.
pub fn join_cookie_headers<'a>(headers: impl Iterator<Item = &'a [u8]>) -> Option<String> {
    let joined: Vec<_> = headers.map(String::from_utf8_lossy).collect();
    (!joined.is_empty()).then(|| joined.join("; "))
}

/// Whether `Vary` headers already list `Cookie` (or `*`), as Django's
/// `patch_vary_headers` checks before adding it.
pub fn vary_lists_cookie<'a>(headers: impl Iterator<Item = &'a str>) -> bool {
    vary_lists(headers, "cookie")
}

/// Whether `Vary` headers already list the header `name` (or `*`), compared without
/// regard to case.
pub fn vary_lists<'a>(headers: impl Iterator<Item = &'a str>, name: &str) -> bool {
    headers
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(name) || v.trim() == "*")
}

/// The id header's value (rule S6), trimmed (possibly empty); `None` when absent.
/// Several values are joined with `", "` (as a proxy would fold them) and bytes that
/// are not UTF-8 replaced: either way no store's key parses from it, so it is treated
/// as any bad key (H1), never as one of the values.
pub(super) fn header_token(values: &[&[u8]]) -> Option<String> {
    if values.is_empty() {
        return None;
    }
    let values: Vec<_> = values.iter().map(|v| String::from_utf8_lossy(v)).collect();
    Some(values.join(", ").trim_matches([' ', '\t']).to_owned())
}

/// An HTTP date as Django's `http_date` writes it: `Wed, 09 Dec 2026 09:52:36 GMT`.
pub fn http_date(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    at.format(format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    ))
    .unwrap_or_default()
}

/// The value of cookie `name` in a `Cookie` header, parsed as Django's `parse_cookie`
/// does (split on `;`, trim, the last occurrence wins, surrounding quotes removed).
pub fn cookie_value(header: &str, name: &str) -> Option<String> {
    let mut found = None;
    for chunk in header.split(';') {
        let (key, value) = chunk.split_once('=').unwrap_or(("", chunk));
        if key.trim() == name {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            found = Some(unquoted);
        }
    }
    found.map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::SessionKey;

    /// G3, S6: the header lines every adapter writes, `Vary` added only where missing.
    #[test]
    fn header_writes_append_cookies_replace_the_id_header_and_patch_vary_once() {
        let directives = ResponseDirectives {
            set_cookie: Some("sessionid=abc; Path=/".to_owned()),
            set_header: Some(IdHeader {
                name: "X-Session-Token".to_owned(),
                value: String::new(),
            }),
            vary_cookie: true,
            vary_header: Some("X-Session-Token".to_owned()),
        };
        let shown = |writes: Vec<HeaderWrite>| -> Vec<(String, String, HeaderMode)> {
            writes
                .into_iter()
                .map(|w| (w.name, w.value, w.mode))
                .collect()
        };
        let all = shown(
            directives
                .clone()
                .header_writes(["Accept-Encoding"].into_iter()),
        );
        assert_eq!(
            all,
            [
                (
                    "Set-Cookie".into(),
                    "sessionid=abc; Path=/".into(),
                    HeaderMode::Append
                ),
                ("X-Session-Token".into(), String::new(), HeaderMode::Replace),
                ("Vary".into(), "Cookie".into(), HeaderMode::Append),
                ("Vary".into(), "X-Session-Token".into(), HeaderMode::Append),
            ]
        );
        let listed = shown(
            directives
                .clone()
                .header_writes(["accept, COOKIE"].into_iter()),
        );
        assert_eq!(listed.last().map(|w| w.1.as_str()), Some("X-Session-Token"));
        assert_eq!(listed.len(), 3, "Cookie was listed already: {listed:?}");
        let star = shown(directives.header_writes(["*"].into_iter()));
        assert_eq!(star.len(), 2, "Vary: * covers every header: {star:?}");
        assert!(ResponseDirectives::default()
            .header_writes(std::iter::empty())
            .is_empty());
    }

    #[test]
    fn h5_directives_debug_hides_the_cookie_value() {
        let directives = ResponseDirectives {
            set_cookie: Some("sessionid=abcdefghijklmnopqrstuvwxyz012345; HttpOnly; Path=/".into()),
            set_header: Some(IdHeader {
                name: "X-Session-Token".into(),
                value: "zyxwvutsrqponmlkjihgfedcba543210".into(),
            }),
            vary_cookie: true,
            vary_header: Some("X-Session-Token".into()),
        };
        let shown = format!("{directives:?}");
        assert!(!shown.contains("abcdefghijklmnop"), "{shown}");
        assert!(!shown.contains("zyxwvutsrqponmlk"), "{shown}");
        assert!(
            shown.contains("sessionid=<redacted>; HttpOnly; Path=/"),
            "{shown}"
        );
        assert!(shown.contains("value: \"<redacted>\""), "{shown}");
    }

    #[test]
    fn s6_id_header_values_are_one_trimmed_value_or_no_key() {
        assert_eq!(header_token(&[]), None);
        assert_eq!(
            header_token(&[b"  abc12345\t"]).as_deref(),
            Some("abc12345")
        );
        assert_eq!(header_token(&[b""]).as_deref(), Some(""));
        let twice = header_token(&[b"abc12345", b"abc12345"]).unwrap_or_default();
        assert!(SessionKey::parse(&twice).is_err() && SessionKey::signed_payload(&twice).is_err());
        let bytes = header_token(&[b"abc\xff12345"]).unwrap_or_default();
        assert!(SessionKey::parse(&bytes).is_err() && SessionKey::signed_payload(&bytes).is_err());
    }
}
