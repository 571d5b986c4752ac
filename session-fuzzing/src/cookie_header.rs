//! The `cookie_header` target: the `Cookie` header parser and the middleware core
//! behind it.

use std::sync::{Arc, LazyLock};

use session_api::config::DEFAULT_COOKIE_NAME;
use session_api::middleware::{cookie_value, SessionMiddleware};
use session_api::signing::SIGNED_COOKIES_SALT;
use session_api::{Clock, SessionBackend, SessionConfig};
use session_stores::file::FileStore;
use session_stores::signed_cookies::SignedCookieStore;

use crate::fixtures::{clock_at, keys, setup, SCRATCH, TIMESTAMP};
use crate::input::split_flags;
use crate::oracle::{is_cookie_safe, is_id_key, verifying_key};

/// Two middlewares over stores that hold nothing: an id store (files named
/// `sessionid + key` in [`SCRATCH`], where no target writes such a file) and the
/// signed-cookie store.
struct MiddlewareFixture {
    file: SessionMiddleware,
    cookies: SessionMiddleware,
}

static MIDDLEWARES: LazyLock<MiddlewareFixture> = LazyLock::new(|| {
    let clock: Arc<dyn Clock> = clock_at(TIMESTAMP);
    let config = Arc::new(setup(
        SessionConfig::builder(keys(true)).clock(clock).build(),
        "session config",
    ));
    let file_store = setup(
        FileStore::from_config_in(&config, SCRATCH.path()),
        "file store",
    );
    let file = SessionMiddleware::new(
        SessionBackend::from_sync(Arc::new(file_store)),
        config.clone(),
    );
    let cookies = SessionMiddleware::new(
        SessionBackend::from_nonblocking_sync(Arc::new(SignedCookieStore::from_config(&config))),
        config,
    );
    MiddlewareFixture { file, cookies }
});

/// Cookie names tried by [`cookie_header`].
const COOKIE_NAMES: [&str; 4] = [DEFAULT_COOKIE_NAME, "", "a", "sessionid "];

/// The last chunk whose trimmed name is `name`, found by scanning backwards: an
/// independent reading of Django's `parse_cookie` ("the last occurrence wins").
fn last_cookie<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header.rsplit(';').find_map(|chunk| {
        let (key, value) = match chunk.find('=') {
            Some(eq) => (&chunk[..eq], &chunk[eq + 1..]),
            None => ("", chunk),
        };
        (key.trim() == name).then(|| {
            let value = value.trim();
            if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
                &value[1..value.len() - 1]
            } else {
                value
            }
        })
    })
}

/// The `Cookie` header parser [`cookie_value`] and
/// [`SessionMiddleware::request_session`] (rule G1, with the key rules H1 and A3 and
/// the delete-cookie rule G2 behind them).
///
/// Flags: bits 0-1 pick the cookie name given to [`cookie_value`] (`sessionid`, empty,
/// `a`, `"sessionid "`); the rest is the header (invalid UTF-8 replaced by U+FFFD).
/// The middlewares always use `sessionid`.
pub fn cookie_header(data: &[u8]) {
    let (flags, rest) = split_flags(data);
    let header = String::from_utf8_lossy(rest);
    let header = header.as_ref();
    let name = COOKIE_NAMES[usize::from(flags & 3)];
    let value = cookie_value(header, name);
    if let Some(value) = &value {
        assert!(
            !value.contains(';'),
            "property violated: cookie_value returned {value:?}, which contains ';'"
        );
    }
    assert!(
        value.as_deref() == last_cookie(header, name),
        "property violated: cookie_value({header:?}, {name:?}) = {value:?}, the last occurrence is {:?}",
        last_cookie(header, name)
    );
    let session_cookie = cookie_value(header, DEFAULT_COOKIE_NAME);
    let fixture = &*MIDDLEWARES;
    for (mw, id_keys) in [(&fixture.file, true), (&fixture.cookies, false)] {
        let request = mw.request_session(Some(header));
        assert!(
            request.cookie_present == session_cookie.is_some(),
            "property violated: cookie_present disagrees with cookie_value"
        );
        let parses = session_cookie.as_deref().is_some_and(|v| {
            if id_keys {
                is_id_key(v)
            } else {
                is_cookie_safe(v)
            }
        });
        let key = request.session.session_key().map(|k| k.as_str().to_owned());
        assert!(
            key.is_some() == parses && (key.is_none() || key == session_cookie),
            "property violated: request_session adopted {key:?} from cookie {session_cookie:?} (rule H1)"
        );
        // Loading never fails on a bad cookie (rule D7) and keeps only keys the store
        // has (rule A3): nothing for the empty file store, a verified value for cookies.
        let loaded = match request.session.keys() {
            Ok(keys) => keys,
            Err(err) => panic!("property violated: loading a request's session failed: {err}"),
        };
        let kept = request.session.session_key().map(|k| k.as_str().to_owned());
        if id_keys {
            assert!(
                kept.is_none() && loaded.is_empty(),
                "property violated: an unknown id key was adopted (rule A3)"
            );
        } else if let Some(kept) = &kept {
            assert!(
                verifying_key(kept, SIGNED_COOKIES_SALT, true).is_some(),
                "property violated: a signed cookie that does not verify was kept (rule A3)"
            );
        } else {
            assert!(
                loaded.is_empty(),
                "property violated: data loaded without a key"
            );
        }
        let out = match mw.process_response(&request, 200) {
            Ok(out) => out,
            Err(err) => panic!("property violated: process_response failed: {err}"),
        };
        let empty = match request.session.is_empty() {
            Ok(empty) => empty,
            Err(err) => panic!("property violated: Session::is_empty failed: {err}"),
        };
        let want = (request.cookie_present && empty).then(|| mw.delete_cookie_header());
        assert!(
            out.set_cookie == want && out.vary_cookie,
            "property violated: the response directives {out:?} break rules G2/G3"
        );
    }
}
