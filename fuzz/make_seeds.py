#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into fuzz/corpus/<target>/seed-*.

Standard library only. Signs with an independent implementation of Django's
`signing` (salted HMAC-SHA256, base62 timestamps, url-safe base64, zlib), checked
against the Django 5.2 fixture values before anything is written. The secrets and
clock are those of session-api/tests/fixtures/django-5.2/signing.json, which is
where the real Django values below come from.

Input layout (see session-fuzzing/src/input.rs): the decoder targets read a flags
byte first; bit 0 = 0 means the rest is the raw candidate, bit 0 = 1 means "mutate":
one byte picks a Django value, then 4-byte operations (kind, pos_hi, pos_lo, byte).

Usage: python3 fuzz/make_seeds.py   (then `cargo fuzz cmin <target>` to minimize)
"""

import base64
import hashlib
import hmac
import json
import os
import random
import zlib

SECRET = "shared-fixture-secret-do-not-use-in-production"
FALLBACK = "shared-fixture-previous-secret"
TS = 1767225600
COOKIE_AGE = 1209600
DEFAULT_SALT = "django.core.signing"
SESSION_SALT = "django.contrib.sessions.SessionStore"
COOKIE_SALT = "django.contrib.sessions.backends.signed_cookies"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b62e(n: int) -> str:
    if n == 0:
        return "0"
    sign = "-" if n < 0 else ""
    n = abs(n)
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return sign + out


def signature(value: str, salt: str, secret: str) -> str:
    key = hashlib.sha256((salt + "signer" + secret).encode()).digest()
    return b64e(hmac.new(key, value.encode(), hashlib.sha256).digest())


def sign(value: str, salt: str, secret: str = SECRET, ts=TS) -> str:
    stamped = f"{value}:{ts if isinstance(ts, str) else b62e(ts)}"
    return f"{stamped}:{signature(stamped, salt, secret)}"


def payload(obj, compress=True) -> str:
    data = json.dumps(obj, separators=(",", ":")).encode("latin-1")
    if compress:
        c = zlib.compress(data)
        if len(c) < len(data) - 1:
            return "." + b64e(c)
    return b64e(data)


def dumps(obj, salt, compress=True, secret=SECRET, ts=TS) -> str:
    return sign(payload(obj, compress), salt, secret, ts)


# Real Django 5.2 values (signing.json), checked against this implementation.
DJANGO = {
    "hello": ("ImhlbGxvIg:1vb66i:EW_d7W0P8Wx4ESS9uRS44Gt79L4_R9dn6tBgTT7uT58", DEFAULT_SALT, "hello"),
    "old": ("eyJvbGQiOjF9:1vb66i:iRnO1IKR814-PwbjZ4OJ1rJL5sLBRqdWYMpewclnG8U", DEFAULT_SALT, {"old": 1}),
    "myapp": ("eyJ4IjoieSJ9:1vb66i:dKYrlcjwMuW4Lu4Rhi8Da2cKi0qg0E3ZbIh5qTjUJQo", "my.app", {"x": "y"}),
    "list": (".eJwFwcERACAIwLCF-rCiILN47r-GyZVJsNgkxaFxoDgxcOHGxMKD_T7vhAml:1vb66i:iUFFuHD3xtxmx5UdYk_AWrsRTwu3jo62joBlsLLokn0", DEFAULT_SALT, list(range(1, 20))),
    "session-a1": ("eyJhIjoxfQ:1vb66i:0KgQxR-DD_SdAOrlJq1XOqtBamL_9pT69c0rmJwQeIM", SESSION_SALT, {"a": 1}),
    "cookie-a1": ("eyJhIjoxfQ:1vb66i:ft8H3TpHg6IGqotJFCc6o3_jJlTeOaXkbJFlNfjxujo", COOKIE_SALT, {"a": 1}),
}
BOB = {"user": "bob", "cart": [3, 4], "flag": True, "none": None, "pi": 3.25}
TEXT = {"text": "café 中文 😀"}
REPEAT = {"repeat": "ab" * 200}
AUTH = {"_auth_user_id": "7", "_session_expiry": 600}


def check_against_django():
    for name, (signed, salt, obj) in DJANGO.items():
        secret = FALLBACK if name == "old" else SECRET
        mine = dumps(obj, salt, compress=(salt != DEFAULT_SALT or name == "list"), secret=secret)
        assert mine == signed, (name, mine, signed)


def tampered(signed: str):
    """Flipped last character, truncated, re-padded, payload changed, signature cut."""
    last = "B" if signed[-1] == "A" else "A"
    value, _, sig = signed.rpartition(":")
    payload_changed = ("X" if signed[0] != "X" else "Y") + signed[1:]
    return {
        "flipped": signed[:-1] + last,
        "truncated": signed[:-3],
        "repadded": signed + "=",
        "repadded2": signed + "==",
        "payload-changed": payload_changed,
        "no-signature": value,
        "empty-signature": value + ":",
        "extra-colon": signed + ":",
    }


def write(target: str, name: str, data: bytes):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def text(flags: int, s) -> bytes:
    return bytes([flags]) + (s if isinstance(s, bytes) else s.encode("utf-8"))


def mutant(flags: int, base: int, ops=()) -> bytes:
    out = bytes([flags | 1, base])
    for kind, pos, byte in ops:
        out += bytes([kind, pos >> 8, pos & 0xFF, byte])
    return out


GARBAGE = ["", "garbage", ":", "::", ".", ".:1vb66i:sig", "\x01\x02\x03", "eyJhIjoxfQ", "a:b:c:d"]


def signed_edge_cases(salt: str):
    """Validly signed values whose payload or timestamp is bad (rules F5, F7, H3)."""
    bomb = zlib.compress(b"\0" * (1 << 20), 9)
    return {
        "not-base64": sign("!!!", salt),
        "bad-zlib": sign(".eJzz", salt),
        "not-json": sign("bm90IGpzb24", salt),
        "json-list": dumps([1, 2], salt),
        "json-string": dumps("s", salt),
        "empty-payload": sign("", salt),
        "dot-only": sign(".", salt),
        "bad-b62": sign("eyJhIjoxfQ", salt, ts="!!"),
        "empty-b62": sign("eyJhIjoxfQ", salt, ts=""),
        "minus-b62": sign("eyJhIjoxfQ", salt, ts="-"),
        "huge-b62": sign("eyJhIjoxfQ", salt, ts="zzzzzzzzzzzzzzzzz"),
        "negative-ts": dumps({"a": 1}, salt, ts=-61),
        "future-ts": dumps({"a": 1}, salt, ts=TS + 10**9),
        "epoch-ts": dumps({"a": 1}, salt, ts=0),
        "expired-ts": dumps({"a": 1}, salt, ts=TS - COOKIE_AGE - 1),
        "fallback-secret": dumps({"old": 1}, salt, secret=FALLBACK),
        "other-secret": dumps({"a": 1}, salt, secret="some-other-secret"),
        "zip-bomb-1mib": sign("." + b64e(bomb), salt),
        "trailing-zlib-garbage": sign("." + b64e(zlib.compress(b'{"a":1}') + b"junk"), salt),
        "padded-payload": sign("eyJhIjoxfQ==", salt),
        "oversized-5000": dumps({"big": "".join(random.Random(1).choice(B62) for _ in range(3700))}, salt, compress=False),
        "repeat": dumps(REPEAT, salt),
        "bob": dumps(BOB, salt),
        "text": dumps(TEXT, salt),
        "auth": dumps(AUTH, salt),
        "nested": dumps({"a": {"b": [1, {"c": None}], "d": 1.5e-7}, "e": -0.0}, salt),
    }


def sign_mode_payloads():
    """Payloads for the sign mode (the entry point signs them)."""
    bomb = zlib.compress(b"\0" * (1 << 20), 9)
    return {
        "hello": payload("hello", False), "a1": payload({"a": 1}), "repeat": payload(REPEAT),
        "text": payload(TEXT), "auth": payload(AUTH), "list": payload(list(range(1, 20))),
        "not-base64": "!!!", "bad-zlib": ".eJzz", "not-json": "bm90IGpzb24", "empty": "",
        "dot": ".", "padded": "eyJhIjoxfQ==", "colon": "eyJhIjoxfQ:x", "bomb-1mib": "." + b64e(bomb),
        "bomb-4097": "." + b64e(zlib.compress(b"[" + b"0," * 2047 + b"0]")),
        "zlib-trailing": "." + b64e(zlib.compress(b'{"a":1}') + b"junk"),
        "expiry-past": payload({"a": 1, "_session_expiry": "2025-12-31T23:59:59+00:00"}),
        "expiry-int": payload({"a": 1, "_session_expiry": 1}),
    }


def main():
    check_against_django()

    # signing_loads: flags bit0 mode, bits1-2 clock/max_age, bit3 no fallback, bit4 "my.app".
    t = "signing_loads"
    for name, (signed, salt, _) in DJANGO.items():
        write(t, f"django-{name}", text(0x10 if salt == "my.app" else 0, signed))
    for flags in (0x02, 0x04, 0x06, 0x08):
        write(t, f"django-hello-flags{flags:02x}", text(flags, DJANGO["hello"][0]))
    write(t, "django-old-no-fallback", text(0x08, DJANGO["old"][0]))
    for name, value in tampered(DJANGO["hello"][0]).items():
        write(t, f"tampered-{name}", text(0, value))
    for name, value in signed_edge_cases(DEFAULT_SALT).items():
        write(t, f"signed-{name}", text(0, value))
        if name in ("expired-ts", "future-ts", "negative-ts", "fallback-secret", "not-json"):
            write(t, f"signed-{name}-late", text(0x04, value))
    for i, g in enumerate(GARBAGE):
        write(t, f"garbage-{i}", text(0, g))
    write(t, "mutate-identity", mutant(0, 0))
    write(t, "mutate-flip", mutant(0, 3, [(4, 60, 0)]))
    for name, p in sign_mode_payloads().items():
        write(t, f"sign-{name}", text(0x20, p))
    write(t, "sign-hello-expired", text(0x24, payload("hello", False)))

    # session_codec: bit0 mode, bit1 no fallback.
    t = "session_codec"
    write(t, "django-a1", text(0, DJANGO["session-a1"][0]))
    write(t, "django-a1-no-fallback", text(0x02, DJANGO["session-a1"][0]))
    for name, value in tampered(DJANGO["session-a1"][0]).items():
        write(t, f"tampered-{name}", text(0, value))
    for name, value in signed_edge_cases(SESSION_SALT).items():
        write(t, f"signed-{name}", text(0, value))
    write(t, "signed-fallback-no-fallback", text(0x02, dumps({"old": 1}, SESSION_SALT, secret=FALLBACK)))
    write(t, "wrong-salt", text(0, DJANGO["cookie-a1"][0]))
    for i, g in enumerate(GARBAGE + ["x" * 5000]):
        write(t, f"garbage-{i}", text(0, g))
    for base in range(5):
        write(t, f"mutate-identity-{base}", mutant(0, base))
    write(t, "mutate-append-pad", mutant(0, 0, [(5, 0, ord("="))]))
    for name, p in sign_mode_payloads().items():
        write(t, f"sign-{name}", text(0x04, p))

    # session_key: the whole input is the key.
    t = "session_key"
    keys = {
        "len7": "abcdefg", "len8": "abcdefgh", "len40": "a" * 40, "len41": "a" * 41,
        "len32": "abcdefghijklmnopqrstuvwxyz012345", "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
        "traversal": "../../../../etc/passwd", "encoded-traversal": "..%2f..%2fetc%2fpasswd",
        "nul": "abcdefgh\0ijklmnop", "non-ascii": "abcdéfghijklmnopqrstuvwxyz01234", "empty": "",
        "slash": "abcdefgh/ij", "backslash": "abcdefgh\\ij", "dot": "abcdefgh.ij", "space": "abcdefgh ij",
        "semicolon": "abcdefgh;ij", "comma": "abcd,efgh", "quote": 'abcd"efgh', "del": "abcdefgh\x7f",
        "signed-cookie": DJANGO["cookie-a1"][0],
    }
    for name, key in keys.items():
        write(t, name, key.encode("utf-8"))
    write(t, "invalid-utf8", b"abcdefgh\xff\xfe")

    # cookie_header: bits0-1 cookie name (sessionid, "", "a", "sessionid ").
    t = "cookie_header"
    id_key = "abcdefghijklmnopqrstuvwxyz012345"
    headers = {
        "plain": f"sessionid={id_key}",
        "quoted": f'sessionid="{id_key}"',
        "last-wins": f"a=1; sessionid=first0000; sessionid={id_key}",
        "spaces": f"  sessionid  =  {id_key}  ; other=1",
        "no-equals": "sessionid",
        "empty-name": "=value; x",
        "semicolon-in-quotes": 'sessionid="abc;def"',
        "django-cookie": f"sessionid={DJANGO['cookie-a1'][0]}",
        "django-cookie-tampered": f"sessionid={tampered(DJANGO['cookie-a1'][0])['flipped']}",
        "django-cookie-expired": f"sessionid={dumps({'a': 1}, COOKIE_SALT, ts=TS - COOKIE_AGE - 1)}",
        "django-cookie-empty-dict": f"sessionid={dumps({}, COOKIE_SALT)}",
        "traversal": "sessionid=../../../../etc/passwd",
        "nul": "sessionid=abcdefgh\0ijklmnop",
        "upper": "sessionid=ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
        "len7": "sessionid=abcdefg",
        "len41": "sessionid=" + "a" * 41,
        "empty": "",
        "empty-value": "sessionid=",
        "empty-quotes": 'sessionid=""',
        "one-quote": 'sessionid="',
        "unicode": "sessionid=café; ключ=значение",
        "many": "; ".join(f"c{i}=v{i}" for i in range(50)) + f"; sessionid={id_key}",
    }
    for name, header in headers.items():
        write(t, name, text(0, header))
    for flags in (1, 2, 3):
        write(t, f"last-wins-name{flags}", text(flags, f"=x; a=1; sessionid=2; a=3; =y"))
    write(t, "invalid-utf8", text(0, b"sessionid=abc\xffdefgh"))

    # file_load: bit0 mode, bit1 old modification time.
    t = "file_load"
    write(t, "django-a1", text(0, DJANGO["session-a1"][0]))
    write(t, "django-a1-old-mtime", text(0x02, DJANGO["session-a1"][0]))
    write(t, "auth-expiry-600", text(0, dumps(AUTH, SESSION_SALT)))
    write(t, "auth-expiry-600-old-mtime", text(0x02, dumps(AUTH, SESSION_SALT)))
    for name, when in (("past", "2025-12-31T23:59:59+00:00"), ("future", "2026-06-01T00:00:00.123456+00:00"),
                       ("zulu", "2026-06-01T00:00:00Z"), ("naive-space", "2026-06-01 00:00:00"),
                       ("garbage", "not a date"), ("extreme", "9999-12-31T23:59:59+00:00")):
        obj = {"a": 1, "_session_expiry": when}
        write(t, f"expiry-{name}", text(0, dumps(obj, SESSION_SALT)))
        write(t, f"expiry-{name}-old-mtime", text(0x02, dumps(obj, SESSION_SALT)))
    for name, value in (("zero", 0), ("negative", -5), ("float", 1.5e300), ("neg-float", -1e300),
                        ("true", True), ("list", [1]), ("null", None), ("huge", 2**63 - 1)):
        write(t, f"expiry-{name}", text(0, dumps({"a": 1, "_session_expiry": value}, SESSION_SALT)))
    for name, value in tampered(DJANGO["session-a1"][0]).items():
        write(t, f"tampered-{name}", text(0, value))
    for name in ("not-json", "json-list", "zip-bomb-1mib", "fallback-secret", "other-secret", "bad-b62"):
        write(t, f"signed-{name}", text(0, signed_edge_cases(SESSION_SALT)[name]))
    for i, g in enumerate(GARBAGE):
        write(t, f"garbage-{i}", text(0, g))
    write(t, "non-utf8", text(0, b"\xff\xfe\xfd" + DJANGO["session-a1"][0].encode()))
    write(t, "long-garbage", text(0, "x" * 10000))
    write(t, "mutate-identity", mutant(0, 0))
    write(t, "mutate-identity-old", mutant(0x02, 4))
    for name, p in sign_mode_payloads().items():
        write(t, f"sign-{name}", text(0x04, p))
    for name in ("a1", "expiry-past", "expiry-int", "auth"):
        write(t, f"sign-{name}-old", text(0x06, sign_mode_payloads()[name]))

    # encrypted_cookie_load: bit0 mode (raw / a mutation script over the token the
    # target seals itself, so the script is all a seed can hold).
    t = "encrypted_cookie_load"
    write(t, "mutate-identity", bytes([1]))
    for name, op in (("overwrite-id", [0, 0, 0, ord("x")]), ("flip-body", [4, 0, 10, 3]),
                     ("truncate-half", [3, 0, 40, 0]), ("delete-dot", [2, 0, 2, 0]),
                     ("append", [5, 0, 0, ord("A")]), ("insert", [1, 0, 30, ord("Q")]),
                     ("flip-tag", [4, 0, 99, 1])):
        write(t, f"mutate-{name}", bytes([1] + op))
    for name, value in (("empty-body", "k2."), ("unknown-id", "zz." + "A" * 64),
                        ("no-dot", "k2" + "A" * 64), ("short", "k2.AAAAAAAA"),
                        ("bad-b64", "k2.!!!!" + "A" * 60), ("signed-cookie", DJANGO["cookie-a1"][0]),
                        ("oversized", "k2." + "A" * 5000)):
        write(t, f"raw-{name}", text(0, value))
    for i, g in enumerate(GARBAGE):
        write(t, f"garbage-{i}", text(0, g))

    # signed_cookie_load: bit0 mode, bit1 late clock, bit2 200-byte limit.
    t = "signed_cookie_load"
    write(t, "django-a1", text(0, DJANGO["cookie-a1"][0]))
    write(t, "django-a1-late", text(0x02, DJANGO["cookie-a1"][0]))
    write(t, "django-a1-limit200", text(0x04, DJANGO["cookie-a1"][0]))
    write(t, "bob-limit200", text(0x04, dumps(BOB, COOKIE_SALT)))
    write(t, "nested-limit200", text(0x04, signed_edge_cases(COOKIE_SALT)["nested"]))
    for name, value in tampered(DJANGO["cookie-a1"][0]).items():
        write(t, f"tampered-{name}", text(0, value))
    for name, value in signed_edge_cases(COOKIE_SALT).items():
        if name != "oversized-5000":
            write(t, f"signed-{name}", text(0, value))
    big = dumps({"big": "".join(random.Random(2).choice(B62) for _ in range(3100))}, COOKIE_SALT, compress=False)
    assert len(big) > 4086, len(big)
    write(t, "oversized-cookie", text(0, big))
    write(t, "just-under-limit", text(0, dumps({"big": "".join(random.Random(3).choice(B62) for _ in range(2980))}, COOKIE_SALT, compress=False)))
    write(t, "session-salt", text(0, DJANGO["session-a1"][0]))
    for i, g in enumerate(GARBAGE):
        write(t, f"garbage-{i}", text(0, g))
    for base in range(5):
        write(t, f"mutate-identity-{base}", mutant(0, base))
    write(t, "mutate-identity-0-late", mutant(0x02, 0))
    for name, p in sign_mode_payloads().items():
        write(t, f"sign-{name}", text(0x08, p))
    for name in ("a1", "repeat", "list", "bomb-1mib"):
        write(t, f"sign-{name}-limit200", text(0x0C, sign_mode_payloads()[name]))

    # serializer_loads: the whole input is the bytes.
    t = "serializer_loads"
    docs = {
        "bob": json.dumps(BOB, separators=(",", ":")).encode(),
        "text": json.dumps(TEXT, separators=(",", ":")).encode(),
        "latin1": b'"\xe9"', "utf8": '"é"'.encode(), "surrogate-pair": b'"\\ud83d\\ude00"',
        "lone-surrogate": b'"\\ud800"', "big-exp": b"1e400", "neg-zero-int": b"-0", "neg-zero": b"-0.0",
        "small": b"1.5e-7", "subnormal": b"5e-324", "u64-overflow": b"18446744073709551616",
        "i64-min-1": b"-9223372036854775809", "u64-max": b"18446744073709551615",
        "deep": b"[" * 200 + b"]" * 200, "deep-ok": b"[" * 100 + b"]" * 100,
        "nan": b"NaN", "infinity": b"Infinity", "dup-keys": b'{"a":1,"b":2,"a":3}',
        "trailing": b'{"a":1} x', "whitespace": b' \t\n{ "a" : [ 1 , 2 ] }\r\n', "empty": b"",
        "control": b'"\x01"', "escapes": b'"\\u0000\\n\\"\\\\\\/"', "float-repr": b"[0.1,1e16,1.5e16,123456789012345.6,1e-05]",
        "del": b'"\x7f"', "nested": json.dumps({"a": {"b": [1, {"c": None}], "d": 1.5e-7}}).encode(),
    }
    for name, doc in docs.items():
        write(t, name, doc)

    # round_trip: arbitrary bytes, read through arbitrary::Unstructured.
    t = "round_trip"
    rng = random.Random(8)
    for size in (0, 8, 64, 256, 1024, 4096):
        write(t, f"random-{size}", bytes(rng.randrange(256) for _ in range(size)))
    write(t, "ascii", b"The quick brown fox jumps over the lazy dog. " * 20)
    write(t, "zeros", b"\0" * 512)
    write(t, "ones", b"\xff" * 512)


if __name__ == "__main__":
    main()
