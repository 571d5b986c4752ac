//! The `session_key` target: key parsing and the file store's path builder.

use std::sync::LazyLock;

use session_api::config::DEFAULT_COOKIE_NAME;
use session_api::{Capabilities, Error, SessionKey};

use crate::fixtures::FileFixture;
use crate::oracle::{is_cookie_safe, is_id_key};

/// Never writes: only its path builder is used.
static KEY_FILES: LazyLock<FileFixture> = LazyLock::new(|| FileFixture::new(DEFAULT_COOKIE_NAME));

/// [`SessionKey::parse`], [`SessionKey::signed_payload`] and the file store's path
/// builder (rules A2, H1, H5, E5). Flags: none, the whole input is the key (invalid
/// UTF-8 replaced by U+FFFD).
pub fn session_key(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let valid = is_id_key(text);
    let parsed = SessionKey::parse(text);
    match &parsed {
        Ok(key) => {
            assert!(
                valid,
                "property violated: SessionKey::parse accepted {text:?}, outside [a-z0-9]{{8,40}} (rule H1)"
            );
            assert!(
                key.as_str() == text,
                "property violated: the parsed key differs from its text"
            );
            let shown = format!("{key} {key:?}");
            assert!(
                !shown.contains(text),
                "property violated: Display/Debug show the whole key (rule H5)"
            );
        }
        Err(Error::InvalidKey { .. }) => assert!(
            !valid,
            "property violated: SessionKey::parse rejected the valid key {text:?}"
        ),
        Err(other) => panic!("property violated: SessionKey::parse failed with {other:?}"),
    }
    assert!(
        text.parse::<SessionKey>().is_ok() == valid
            && Capabilities::server_side().parse_key(text).is_ok() == valid,
        "property violated: FromStr or Capabilities::parse_key disagree with SessionKey::parse"
    );
    match SessionKey::signed_payload(text) {
        Ok(key) => assert!(
            is_cookie_safe(text) && key.as_str() == text && !text.contains(';'),
            "property violated: signed_payload accepted {text:?}, not a cookie-safe value"
        ),
        Err(Error::InvalidKey { .. }) => assert!(
            !is_cookie_safe(text),
            "property violated: signed_payload rejected the cookie-safe value {text:?}"
        ),
        Err(other) => panic!("property violated: signed_payload failed with {other:?}"),
    }
    let fixture = &*KEY_FILES;
    match fixture.store.path_for(text) {
        Ok(path) => {
            let name = format!("{DEFAULT_COOKIE_NAME}{text}");
            assert!(
                valid
                    && path.parent() == Some(fixture.dir.as_path())
                    && path.file_name().and_then(|n| n.to_str()) == Some(name.as_str()),
                "property violated: FileStore::path_for built {path:?} from {text:?} (rules E5, H1)"
            );
        }
        Err(Error::InvalidKey { .. }) => assert!(
            !valid,
            "property violated: FileStore::path_for rejected the valid key {text:?}"
        ),
        Err(other) => panic!("property violated: FileStore::path_for failed with {other:?}"),
    }
}
