//! The Lua scripts of [`RedisCache`](super::RedisCache). Each touches the one key it
//! declares (`KEYS[1]`), so it runs on a Cluster as it is (docs/scaling.md).

use std::sync::LazyLock;

use sha1::{Digest, Sha1};

/// A Lua script and its SHA-1, the name `EVALSHA` knows it by.
pub(super) struct Script {
    pub(super) body: &'static str,
    pub(super) sha: LazyLock<String>,
}

fn sha1_hex(body: &str) -> String {
    Sha1::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `stamped(t)`: whether `t`, the last 43 bytes of a value, is a stamp's ending (see
/// [`Stamp`](super::super::Stamp)): `"expires":"` (11), the stamp (30) and `"}`.
/// `expired(t, now)`: whether that stamp is at or before `now`, compared byte by byte
/// (Lua's `<=` on strings follows the server's locale). `tail(key)`: the last 43
/// bytes of the value under `key`.
macro_rules! lua_stamps {
    () => {
        "local function stamped(t) \
           return #t == 43 and string.sub(t, 1, 11) == '\"expires\":\"' and string.sub(t, 42) == '\"}' \
         end \
         local function expired(t, now) \
           if not stamped(t) then return false end \
           for i = 1, 30 do \
             local a, b = string.byte(t, 11 + i), string.byte(now, i) \
             if a ~= b then return a < b end \
           end \
           return true \
         end \
         local function tail(key) return redis.call('GETRANGE', key, -43, -1) end "
    };
}

/// `revision(t)`: the revision in `t`, the last 68 bytes of a value, when it is a
/// revision's and a stamp's ending (see [`stored_version`]): `"rev":"` (7), 16
/// lowercase hex digits, `",` and the stamp's 43 bytes; else nil. `[0-9a-f]` in a
/// Lua pattern compares bytes (no locale).
///
/// [`stored_version`]: crate::cache::stored_version
macro_rules! lua_revisions {
    () => {
        "local function revision(t) \
           if #t ~= 68 or string.sub(t, 1, 7) ~= '\"rev\":\"' or string.sub(t, 24, 25) ~= '\",' \
             or not stamped(string.sub(t, 26)) then return nil end \
           local r = string.sub(t, 8, 23) \
           if string.find(r, '^[0-9a-f]+$') then return r end \
           return nil \
         end "
    };
}

/// `add` after `SET NX` found the key taken: takes over an entry whose stamp has
/// passed. ARGV: value, PX, now. 1 when stored.
pub(super) static TAKE_OVER: Script = Script {
    body: concat!(
        lua_stamps!(),
        "if redis.call('EXISTS', KEYS[1]) == 1 and not expired(tail(KEYS[1]), ARGV[3]) then return 0 end \
         redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1"
    ),
    sha: LazyLock::new(|| sha1_hex(TAKE_OVER.body)),
};

/// `replace`. ARGV: value, PX, now. 0 absent, 1 stored, 2 expired (and removed).
pub(super) static REPLACE: Script = Script {
    body: concat!(
        lua_stamps!(),
        "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end \
         if expired(tail(KEYS[1]), ARGV[3]) then redis.call('DEL', KEYS[1]) return 2 end \
         redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1"
    ),
    sha: LazyLock::new(|| sha1_hex(REPLACE.body)),
};

/// `replace_if_version`: the version is the value's revision, read from its last
/// 68 bytes (`GETRANGE`: no copy of the whole value), or for a value without one the
/// first 16 hex digits of its SHA-1 (`digest::version_hex`), as
/// [`stored_version`](crate::cache::stored_version) reads it. ARGV: value, PX, now,
/// version. 0 absent, 1 stored, 2 expired (and removed), 3 another version.
pub(super) static REPLACE_IF_VERSION: Script = Script {
    body: concat!(
        lua_stamps!(),
        lua_revisions!(),
        "local t = redis.call('GETRANGE', KEYS[1], -68, -1) \
         if #t == 0 and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end \
         if expired(string.sub(t, -43), ARGV[3]) then redis.call('DEL', KEYS[1]) return 2 end \
         local r = revision(t) \
         if not r then r = string.sub(redis.sha1hex(redis.call('GET', KEYS[1])), 1, 16) end \
         if r ~= ARGV[4] then return 3 end \
         redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1"
    ),
    sha: LazyLock::new(|| sha1_hex(REPLACE_IF_VERSION.body)),
};

/// `touch`: rewrites a stamped value's stamp in place (`SETRANGE` at its offset,
/// length - 32) and sets the time to live; a value with a revision gets a new one in
/// the same `SETRANGE` (from length - 61: the digits, `","expires":"` and the stamp),
/// the first 16 hex digits of the SHA-1 of the old digits and the new stamp, as
/// [`restamp`](crate::cache::restamp) computes it. ARGV: new stamp, PX, now, "1" to
/// send the value back. 0 absent, 2 expired (and removed); 1, or the value, when
/// touched.
///
/// A value without a stamp (one Django wrote, [`CacheFormat::Django`]) only gets the
/// `PEXPIRE`: its bytes, so its version, stay the same, the one exception to V3. The
/// value is left as Django wrote it rather than gaining a trailer on a touch.
///
/// [`CacheFormat::Django`]: crate::cache::CacheFormat::Django
pub(super) static TOUCH: Script = Script {
    body: concat!(
        lua_stamps!(),
        lua_revisions!(),
        "local n = redis.call('STRLEN', KEYS[1]) \
         if n == 0 and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end \
         local t = redis.call('GETRANGE', KEYS[1], -68, -1) \
         local s = string.sub(t, -43) \
         if expired(s, ARGV[3]) then redis.call('DEL', KEYS[1]) return 2 end \
         local r = revision(t) \
         if r then \
           local nr = string.sub(redis.sha1hex(r .. ARGV[1]), 1, 16) \
           redis.call('SETRANGE', KEYS[1], n - 61, nr .. '\",\"expires\":\"' .. ARGV[1]) \
         elseif stamped(s) then \
           redis.call('SETRANGE', KEYS[1], n - 32, ARGV[1]) \
         end \
         redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
         if ARGV[4] == '1' then return redis.call('GET', KEYS[1]) end \
         return 1"
    ),
    sha: LazyLock::new(|| sha1_hex(TOUCH.body)),
};

/// `compare_and_set`: `SET` with `PX` only when `GET` gives the expected value.
/// ARGV: expected, value, PX. 1 when stored.
pub(super) static COMPARE_AND_SET: Script = Script {
    body: "if redis.call('GET', KEYS[1]) == ARGV[1] then \
           redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 else return 0 end",
    sha: LazyLock::new(|| sha1_hex(COMPARE_AND_SET.body)),
};

/// `get_with_ttl`: nil, or the value and its `PTTL`.
pub(super) static GET_WITH_TTL: Script = Script {
    body: "local v = redis.call('GET', KEYS[1]) if not v then return false end \
           return {v, redis.call('PTTL', KEYS[1])}",
    sha: LazyLock::new(|| sha1_hex(GET_WITH_TTL.body)),
};

/// `index_add`: drops the members due by now, adds the member, and keeps the set
/// alive at least the given time (a `PTTL` of -1, no expiry, is raised too).
/// ARGV: member, score, now, PX.
pub(super) static INDEX_ADD: Script = Script {
    body: "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3]) \
           redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) \
           if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then \
             redis.call('PEXPIRE', KEYS[1], ARGV[4]) \
           end return 1",
    sha: LazyLock::new(|| sha1_hex(INDEX_ADD.body)),
};

/// `index_members`: drops the members due by now, lists the rest, lowest score
/// first. ARGV: now.
pub(super) static INDEX_MEMBERS: Script = Script {
    body: "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1]) \
           return redis.call('ZRANGE', KEYS[1], 0, -1)",
    sha: LazyLock::new(|| sha1_hex(INDEX_MEMBERS.body)),
};

/// `index_remove`: `ZREM` of each member (one by one: `unpack` has a stack limit).
/// ARGV: the members.
pub(super) static INDEX_REMOVE: Script = Script {
    body: "for i = 1, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end return 1",
    sha: LazyLock::new(|| sha1_hex(INDEX_REMOVE.body)),
};
