"""The Django side of benches/vs_django.rs: times the same operations in CPython.

Protocol on stdin/stdout, one line each: "<op> <iterations>" -> "<elapsed nanoseconds>".
Needs Django 5.2 (`pip install 'django==5.2.*'`).
"""
import sys
import time

import django
from django.conf import settings

settings.configure(
    SECRET_KEY="bench-secret",
    USE_TZ=True,
    SESSION_ENGINE="django.contrib.sessions.backends.cache",
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    INSTALLED_APPS=["django.contrib.sessions"],
)
django.setup()

from django.contrib.sessions.backends.base import VALID_KEY_CHARS  # noqa: E402
from django.contrib.sessions.backends.cache import SessionStore  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

DATA = {
    "_auth_user_id": "42",
    "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
    "_auth_user_hash": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "cart": list(range(20)),
    "note": "café " * 10,
}
ENCODED = SessionStore().encode(DATA)


def encode(n):
    s = SessionStore()
    for _ in range(n):
        s.encode(DATA)


def decode(n):
    s = SessionStore()
    for _ in range(n):
        s.decode(ENCODED)


def keygen(n):
    for _ in range(n):
        get_random_string(32, VALID_KEY_CHARS)


def request(n):
    # One request that logs in (writes) and one that reads, on the local-memory engine.
    for _ in range(n):
        s = SessionStore()
        s.update(DATA)
        s.save()
        r = SessionStore(s.session_key)
        r["_auth_user_id"]


OPS = {"encode": encode, "decode": decode, "keygen": keygen, "request": request}

for line in sys.stdin:
    op, n = line.split()
    start = time.perf_counter_ns()
    OPS[op](int(n))
    print(time.perf_counter_ns() - start, flush=True)
