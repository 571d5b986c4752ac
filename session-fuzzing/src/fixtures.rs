//! The Django 5.2 fixtures every target signs and verifies with (the secrets and clock
//! of `session-api/tests/fixtures/django-5.2/`), the Django-produced values the mutate
//! mode starts from, and the codecs and stores the targets share.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use session_api::signing::SecretKeys;
use session_api::{DecodeLimits, JsonSerializer, ManualClock, SessionCodec};
use session_stores::file::FileStore;
use session_stores::signed_cookies::SignedCookieStore;
use tempfile::TempDir;
use time::OffsetDateTime;

/// `SECRET_KEY` of the Django 5.2 fixtures.
pub const SECRET: &str = "shared-fixture-secret-do-not-use-in-production";
/// `SECRET_KEY_FALLBACKS[0]` of the Django 5.2 fixtures.
pub const FALLBACK: &str = "shared-fixture-previous-secret";
/// The signing time of every fixture value (2026-01-01 00:00 UTC); the entry points'
/// clock reads this unless an option moves it.
pub const TIMESTAMP: i64 = 1_767_225_600;
/// `SESSION_COOKIE_AGE` used by the stores (Django's default, two weeks).
pub const COOKIE_AGE: i64 = 1_209_600;

/// A value Django 5.2 signed with the fixture secrets and clock, and the JSON it holds.
#[derive(Debug, Clone, Copy)]
pub struct Base {
    /// The signed value, exactly as Django wrote it.
    pub signed: &'static str,
    /// The signed object, as JSON text.
    pub obj: &'static str,
}

const REPEAT_OBJ: &str = concat!(
    r#"{"repeat":""#,
    "abababababababababababababababababababababababababababababababababababababababababababababababab",
    "abababababababababababababababababababababababababababababababababababababababababababababababab",
    "abababababababababababababababababababababababababababababababababababababababababababababababab",
    "abababababababababababababababababababababababababababababababababababababababababababababababab",
    "abababababababab",
    r#""}"#
);
const BOB_OBJ: &str = r#"{"user":"bob","cart":[3,4],"flag":true,"none":null,"pi":3.25}"#;
const TEXT_OBJ: &str = r#"{"text":"caf\u00e9 \u4e2d\u6587 \ud83d\ude00"}"#;
const AUTH_OBJ: &str = r#"{"_auth_user_id":"7","_session_expiry":600}"#;

/// `signing.dumps` values (salt [`DEFAULT_SALT`](session_api::signing::DEFAULT_SALT)),
/// one signed with the fallback secret.
pub const SIGNING_BASES: &[Base] = &[
    Base {
        signed: "ImhlbGxvIg:1vb66i:EW_d7W0P8Wx4ESS9uRS44Gt79L4_R9dn6tBgTT7uT58",
        obj: r#""hello""#,
    },
    Base {
        signed: "eyJ1c2VyIjoiYm9iIiwiY2FydCI6WzMsNF0sImZsYWciOnRydWUsIm5vbmUiOm51bGwsInBpIjozLjI1fQ:1vb66i:t-xpW016ff7bzfs8F-wuN899hig6LKQQi9-1EW6d9MU",
        obj: BOB_OBJ,
    },
    Base {
        signed: "eyJ0ZXh0IjoiY2FmXHUwMGU5IFx1NGUyZFx1NjU4NyBcdWQ4M2RcdWRlMDAifQ:1vb66i:CYF0rPpjpcu7LLgBdDzF__28KJAc_5CWtHFEzgYhnu0",
        obj: TEXT_OBJ,
    },
    Base {
        signed: ".eJyrVipKLUhNLFGyUkpMGoWDCSrVAgBN1pyU:1vb66i:UVadYSZ6zdtaF5OAwFSqmxekQZWWGGRU6-mo4Z6S2ts",
        obj: REPEAT_OBJ,
    },
    Base {
        signed: ".eJwFwcERACAIwLCF-rCiILN47r-GyZVJsNgkxaFxoDgxcOHGxMKD_T7vhAml:1vb66i:iUFFuHD3xtxmx5UdYk_AWrsRTwu3jo62joBlsLLokn0",
        obj: "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19]",
    },
    Base {
        signed: "eyJvbGQiOjF9:1vb66i:iRnO1IKR814-PwbjZ4OJ1rJL5sLBRqdWYMpewclnG8U",
        obj: r#"{"old":1}"#,
    },
];

/// Session `session_data` values (salt
/// [`SESSION_SALT`](session_api::signing::SESSION_SALT)) of the db and file stores.
pub const SESSION_BASES: &[Base] = &[
    Base {
        signed: "eyJhIjoxfQ:1vb66i:0KgQxR-DD_SdAOrlJq1XOqtBamL_9pT69c0rmJwQeIM",
        obj: r#"{"a":1}"#,
    },
    Base {
        signed: "eyJ1c2VyIjoiYm9iIiwiY2FydCI6WzMsNF0sImZsYWciOnRydWUsIm5vbmUiOm51bGwsInBpIjozLjI1fQ:1vb66i:5Rp6PnGNxnzIf6CfDhAMrMsLKsrn4mj5cd-Vh1AsGos",
        obj: BOB_OBJ,
    },
    Base {
        signed: "eyJ0ZXh0IjoiY2FmXHUwMGU5IFx1NGUyZFx1NjU4NyBcdWQ4M2RcdWRlMDAifQ:1vb66i:PdGKj6TuQ9sgbVIOETDDT25zHi59h8PwKoikYXZQa3c",
        obj: TEXT_OBJ,
    },
    Base {
        signed: ".eJyrVipKLUhNLFGyUkpMGoWDCSrVAgBN1pyU:1vb66i:Nor2yy8BjDftn6nN_3LtqwcL-EB7_9sC_eXoRTjD80g",
        obj: REPEAT_OBJ,
    },
    Base {
        signed: "eyJfYXV0aF91c2VyX2lkIjoiNyIsIl9zZXNzaW9uX2V4cGlyeSI6NjAwfQ:1vb66i:JK7FA1GxyWkN6uUlSqUZKMt9McC2_J3le0R1HVIur5A",
        obj: AUTH_OBJ,
    },
];

/// Signed-cookie session keys (salt
/// [`SIGNED_COOKIES_SALT`](session_api::signing::SIGNED_COOKIES_SALT)).
pub const COOKIE_BASES: &[Base] = &[
    Base {
        signed: "eyJhIjoxfQ:1vb66i:ft8H3TpHg6IGqotJFCc6o3_jJlTeOaXkbJFlNfjxujo",
        obj: r#"{"a":1}"#,
    },
    Base {
        signed: "eyJ1c2VyIjoiYm9iIiwiY2FydCI6WzMsNF0sImZsYWciOnRydWUsIm5vbmUiOm51bGwsInBpIjozLjI1fQ:1vb66i:m0UH88I8gZ6M-pLQrknBv-taVUDjSSbzQkIxObIG9_Q",
        obj: BOB_OBJ,
    },
    Base {
        signed: "eyJ0ZXh0IjoiY2FmXHUwMGU5IFx1NGUyZFx1NjU4NyBcdWQ4M2RcdWRlMDAifQ:1vb66i:hw9ghH5_oCUSTxmzzcw0B3oWlR7yG5sO-WHzF1mlC1M",
        obj: TEXT_OBJ,
    },
    Base {
        signed: ".eJyrVipKLUhNLFGyUkpMGoWDCSrVAgBN1pyU:1vb66i:pfUkLz7Qggp3XecABVtRQU5qc-j-50m-hyZoYeBbXW0",
        obj: REPEAT_OBJ,
    },
    Base {
        signed: "eyJfYXV0aF91c2VyX2lkIjoiNyIsIl9zZXNzaW9uX2V4cGlyeSI6NjAwfQ:1vb66i:7x215e5D8H4gF9-NIC2IGW-irBoBNHPh53tbUkImBe4",
        obj: AUTH_OBJ,
    },
];

pub(crate) fn clock_at(unix: i64) -> Arc<ManualClock> {
    let at = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    Arc::new(ManualClock::new(at))
}

pub(crate) fn keys(with_fallback: bool) -> SecretKeys {
    let keys = SecretKeys::new(SECRET);
    if with_fallback {
        keys.with_fallbacks([FALLBACK])
    } else {
        keys
    }
}

pub(crate) fn setup<T>(result: std::result::Result<T, impl std::fmt::Display>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("fuzzing setup failed: {what}: {err}"),
    }
}

/// Tight limits of the codec target (rule H3).
pub(crate) const TIGHT: DecodeLimits = DecodeLimits {
    max_signed_len: 4096,
    max_decompressed_len: 4096,
};

/// Codecs: [with fallback, current only] x [default limits, tight limits].
pub(crate) static CODECS: LazyLock<[[SessionCodec; 2]; 2]> = LazyLock::new(|| {
    let codec = |with_fallback, limits| {
        SessionCodec::new(
            &keys(with_fallback),
            clock_at(TIMESTAMP),
            Arc::new(JsonSerializer),
        )
        .with_limits(limits)
    };
    [
        [codec(true, DecodeLimits::default()), codec(true, TIGHT)],
        [codec(false, DecodeLimits::default()), codec(false, TIGHT)],
    ]
});

/// Signed-cookie stores: [now, one second past the cookie age] x [default limit,
/// 200-byte limit].
pub(crate) static COOKIE_STORES: LazyLock<[[SignedCookieStore; 2]; 2]> = LazyLock::new(|| {
    let store = |now, limit: Option<usize>| {
        let store = SignedCookieStore::new(
            keys(true),
            COOKIE_AGE,
            clock_at(now),
            Arc::new(JsonSerializer),
        );
        match limit {
            Some(limit) => store.with_max_value_len(limit),
            None => store,
        }
    };
    let late = TIMESTAMP + COOKIE_AGE + 1;
    [
        [store(TIMESTAMP, None), store(TIMESTAMP, Some(200))],
        [store(late, None), store(late, Some(200))],
    ]
});

/// The one private temporary directory of this process (`session-fuzz-*`), shared by
/// the file stores of all targets. Statics are never dropped, so the directory, empty
/// by then, stays behind when the process exits.
pub(crate) static SCRATCH: LazyLock<TempDir> = LazyLock::new(|| {
    setup(
        tempfile::Builder::new().prefix("session-fuzz-").tempdir(),
        "temporary directory",
    )
});

/// A file store in [`SCRATCH`] whose files are named `prefix + key`.
pub(crate) struct FileFixture {
    pub(crate) dir: PathBuf,
    pub(crate) store: FileStore,
    pub(crate) codec: SessionCodec,
    pub(crate) clock: Arc<ManualClock>,
}

impl FileFixture {
    pub(crate) fn new(prefix: &str) -> Self {
        let dir = SCRATCH.path().to_owned();
        let clock = clock_at(TIMESTAMP);
        let codec = SessionCodec::new(&keys(true), clock.clone(), Arc::new(JsonSerializer));
        let store = setup(
            FileStore::new(&dir, prefix, COOKIE_AGE, codec.clone(), clock.clone()),
            "file store",
        );
        FileFixture {
            dir,
            store,
            codec,
            clock,
        }
    }
}
