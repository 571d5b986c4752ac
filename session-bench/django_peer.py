"""The Django 5.2 column of session-bench: times Django's session engines in CPython.

Started once per run by session-bench (src/subjects/django.rs), configured by the
environment (BENCH_SECRET; BENCH_REDIS_URL and BENCH_REDIS_PREFIX for the cache
engine on Redis; BENCH_PG_HOST, _PORT, _USER, _NAME, _SCHEMA for the db engine on
PostgreSQL, whose table is the one session-bench's stores use). One line in, one line
out:

    payload <name> <json>                     -> ok
    prepare <engine> <payload> <count>        -> ok
    run <engine> <op> <payload> <seconds> <round>
                                              -> ok <wall ns> <latency ns>...
    finish <engine>                           -> ok
    quit

Engines: db, cache (SessionStore.create/load/save/delete and a request cycle) and
signing (signing.dumps/loads as the signed_cookies engine calls them). Any failure
answers "error <message>". Sessions expire after an hour (SESSION_COOKIE_AGE), so
what a crashed run leaves behind goes by itself.
"""
import json
import os
import sys
import time

import django
from django.conf import settings

env = os.environ
databases = {}
if env.get("BENCH_PG_SCHEMA"):
    databases["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": env["BENCH_PG_HOST"],
        "PORT": env["BENCH_PG_PORT"],
        "USER": env["BENCH_PG_USER"],
        "PASSWORD": env.get("BENCH_PG_PASSWORD", ""),
        "NAME": env["BENCH_PG_NAME"],
        # Kept open across calls, as a long-running worker with CONN_MAX_AGE=None
        # does: the most favourable setting for Django.
        "CONN_MAX_AGE": None,
        # The stores' settings (session-bench's setup.rs): the run's schema, and
        # commits that do not wait for the disk.
        "OPTIONS": {
            "options": "-c search_path=%s -c synchronous_commit=off" % env["BENCH_PG_SCHEMA"]
        },
    }
caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if env.get("BENCH_REDIS_URL"):
    caches["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env["BENCH_REDIS_URL"],
        "KEY_PREFIX": env["BENCH_REDIS_PREFIX"],
    }
settings.configure(
    SECRET_KEY=env["BENCH_SECRET"],
    USE_TZ=True,
    DATABASES=databases,
    CACHES=caches,
    INSTALLED_APPS=["django.contrib.sessions"],
    SESSION_COOKIE_AGE=3600,
)
django.setup()

from django.contrib.sessions.backends import cache as cache_engine  # noqa: E402
from django.contrib.sessions.backends import db as db_engine  # noqa: E402
from django.core import signing  # noqa: E402

ENGINES = {"db": db_engine.SessionStore, "cache": cache_engine.SessionStore}
SALT = "django.contrib.sessions.backends.signed_cookies"
PAYLOADS = {}
PREPARED = {}  # (engine, payload) -> keys for load, save and cycle
CREATED = {}  # (engine, payload, round) -> keys the create run made


def create(store, payload):
    s = store()
    s._session_cache = dict(payload)
    s.create()
    return s.session_key


def load(store, key):
    if not store(key).load():
        raise LookupError("load: the session was not found")


def save(store, key, payload, n):
    # The counter's other value each time, so that every save changes the row.
    s = store(key)
    s._session_cache = dict(payload, counter=n % 2 + 1)
    s.save()


def cycle(store, key, n):
    s = store(key)
    s["counter"] = n
    s.save()


def timed(op, items, seconds):
    """Runs op on items in turn until `seconds` have passed (all of them when
    seconds is None); returns the wall time and each call's latency."""
    latencies = []
    start = time.perf_counter_ns()
    deadline = None if seconds is None else start + int(seconds * 1e9)
    i = 0
    while True:
        if deadline is None:
            if i == len(items):
                break
        elif latencies and time.perf_counter_ns() >= deadline:
            break
        item = items[i % len(items)]
        t = time.perf_counter_ns()
        op(item, i)
        latencies.append(time.perf_counter_ns() - t)
        i += 1
    return time.perf_counter_ns() - start, latencies


def run(engine, op, name, seconds, rnd):
    payload = PAYLOADS[name]
    if engine == "signing":
        if op == "encode":
            dumps = lambda _item, _i: signing.dumps(payload, salt=SALT, compress=True)
            return timed(dumps, [None], seconds)
        value = signing.dumps(payload, salt=SALT, compress=True)
        loads = lambda _item, _i: signing.loads(value, salt=SALT, max_age=3600)
        return timed(loads, [None], seconds)
    store = ENGINES[engine]
    keys = PREPARED.get((engine, name), [])
    if op == "create":
        made = CREATED.setdefault((engine, name, rnd), [])
        return timed(lambda _item, _i: made.append(create(store, payload)), [None], seconds)
    if op == "load":
        return timed(lambda key, _i: load(store, key), keys, seconds)
    if op == "save":
        return timed(lambda key, i: save(store, key, payload, i // len(keys)), keys, seconds)
    if op == "cycle":
        return timed(lambda key, i: cycle(store, key, i), keys, seconds)
    if op == "delete":
        made = CREATED.pop((engine, name, rnd), None) or [
            create(store, payload) for _ in range(32)
        ]
        return timed(lambda key, _i: store().delete(key), made, None)
    raise ValueError("unknown op " + op)


def finish(engine):
    store = ENGINES[engine]
    for where in (PREPARED, CREATED):
        for k in [k for k in where if k[0] == engine]:
            for key in where.pop(k):
                store().delete(key)


def answer(words):
    cmd = words[0]
    if cmd == "payload":
        PAYLOADS[words[1]] = json.loads(words[2])
    elif cmd == "prepare":
        engine, name, count = words[1], words[2], int(words[3])
        store = ENGINES[engine]
        PREPARED[(engine, name)] = [create(store, PAYLOADS[name]) for _ in range(count)]
    elif cmd == "run":
        wall, latencies = run(words[1], words[2], words[3], float(words[4]), words[5])
        return "ok %d %s" % (wall, " ".join(map(str, latencies)))
    elif cmd == "finish":
        finish(words[1])
    else:
        raise ValueError("unknown command " + cmd)
    return "ok"


for line in sys.stdin:
    words = line.rstrip("\n").split(" ", 2 if line.startswith("payload ") else -1)
    if words == ["quit"]:
        break
    try:
        out = answer(words)
    except Exception as exc:  # noqa: BLE001 - reported to the Rust side
        out = "error %s: %s" % (type(exc).__name__, str(exc).replace("\n", " "))
    print(out, flush=True)
