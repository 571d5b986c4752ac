"""Drives a real Django's session stores for the interop tests (tests/django/mod.rs).

One process per test binary. A line protocol over stdin/stdout: each request is one
JSON object on one line, each reply one JSON object on one line, `{"ok": true, ...}`
or `{"ok": false, "error": "..."}`. The first request is `configure`. The process
ends when stdin closes, removing what it created (see `cleanup`).

Session data crosses the protocol as JSON *text* (Python's `json` module on this
side), so values plain JSON cannot carry (NaN, Infinity, integers beyond 64 bits,
lone surrogates) reach the Rust side unchanged. Needs nothing beyond the pinned
packages of .ci/django-requirements.txt.
"""

import datetime
import importlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
import types
import warnings
from contextlib import contextmanager
from unittest import mock

UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)

ENGINES = {
    "db": "django.contrib.sessions.backends.db",
    "file": "django.contrib.sessions.backends.file",
    "signed_cookies": "django.contrib.sessions.backends.signed_cookies",
    "cache": "django.contrib.sessions.backends.cache",
    "cached_db": "django.contrib.sessions.backends.cached_db",
}

# The database alias the router sends every query to (one request at a time).
CURRENT_ALIAS = ["default"]


class AliasRouter:
    """Routes the sessions model to the alias of the current request."""

    def db_for_read(self, model, **hints):
        return CURRENT_ALIAS[0]

    def db_for_write(self, model, **hints):
        return CURRENT_ALIAS[0]

    def allow_migrate(self, db, app_label, **hints):
        return True


TEMP_DIR = tempfile.mkdtemp(prefix="sessions-django-interop-")
MIGRATED = {}
# Every session key a request named or a reply gave, and the caches used: removed
# from the shared databases and Redis when the process ends.
SEEN_KEYS = set()
USED_CACHES = set()


def configure(req):
    import pymysql

    # PyMySQL stands in for mysqlclient (a C build): Django imports it as MySQLdb.
    pymysql.install_as_MySQLdb()

    from django.conf import settings

    databases = req.get("databases", {})
    sqlite = {}
    for alias, db in databases.items():
        if db["ENGINE"] == "django.db.backends.sqlite3":
            db["NAME"] = os.path.join(TEMP_DIR, alias + ".sqlite3")
            sqlite[alias] = db["NAME"]
    settings.configure(
        SECRET_KEY="replaced-by-every-request-0123456789",
        INSTALLED_APPS=["django.contrib.sessions"],
        DATABASES=databases,
        DATABASE_ROUTERS=["__main__.AliasRouter"],
        CACHES=req.get("caches", {}),
        USE_TZ=True,
        TIME_ZONE="UTC",
        LOGGING_CONFIG=None,
    )
    import django

    django.setup()
    # Django logs bad signatures as warnings; the tests check outcomes, not logs.
    logging.disable(logging.CRITICAL)
    return {"sqlite": sqlite, "django": django.get_version()}


def ensure_database(req):
    """Creates the alias's database if missing (PostgreSQL, MariaDB), then runs the
    sessions app's migrations there (Django's own `migrate`)."""
    from django.core.management import call_command
    from django.db import connections

    alias = req["alias"]
    if alias in MIGRATED:
        return {}
    conn = connections[alias]
    name = conn.settings_dict["NAME"]
    if conn.vendor == "postgresql":
        with conn._nodb_cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                try:
                    cursor.execute('CREATE DATABASE "%s"' % name)
                except Exception:
                    # Another process created it meanwhile.
                    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                    if cursor.fetchone() is None:
                        raise
    elif conn.vendor == "mysql":
        with conn._nodb_cursor() as cursor:
            cursor.execute("CREATE DATABASE IF NOT EXISTS `%s`" % name)
    CURRENT_ALIAS[0] = alias
    try:
        call_command("migrate", "sessions", database=alias, verbosity=0, interactive=False)
    except Exception:
        # A concurrent run migrating the same database: once it is done, ours is a no-op.
        time.sleep(1)
        call_command("migrate", "sessions", database=alias, verbosity=0, interactive=False)
    MIGRATED[alias] = True
    return {}


@contextmanager
def site(req):
    """The request's Django settings and, if given, its pinned time."""
    from django.contrib.sessions.backends.file import SessionStore as FileStore
    from django.test.utils import override_settings

    engine = ENGINES[req["engine"]]
    overrides = {
        "SESSION_ENGINE": engine,
        "SECRET_KEY": req["secret"],
        "SECRET_KEY_FALLBACKS": req.get("fallbacks", []),
        "SESSION_COOKIE_AGE": req.get("cookie_age", 1209600),
    }
    if "file_path" in req:
        overrides["SESSION_FILE_PATH"] = req["file_path"]
    if "cache_alias" in req:
        overrides["SESSION_CACHE_ALIAS"] = req["cache_alias"]
    CURRENT_ALIAS[0] = req.get("alias", "default")
    if req.get("key"):
        SEEN_KEYS.add(req["key"])
    if "cache_alias" in req:
        USED_CACHES.add(req["cache_alias"])
    # The file backend caches its directory on the class.
    if "_storage_path" in FileStore.__dict__:
        del FileStore._storage_path
    with override_settings(**overrides), pinned(req.get("now_us")):
        yield importlib.import_module(engine).SessionStore


@contextmanager
def pinned(now_us):
    """Pins "now": `timezone.now()` (expiry) and the signing module's `time.time()`
    (the signature's timestamp and age). Nothing else is patched."""
    if now_us is None:
        yield
        return
    from django.core import signing

    now = EPOCH + datetime.timedelta(microseconds=now_us)
    fake_time = types.SimpleNamespace(time=lambda: now_us / 1e6)
    with mock.patch("django.utils.timezone.now", lambda: now), mock.patch.object(
        signing, "time", fake_time
    ):
        yield


def parse_expiry(value):
    if isinstance(value, dict):
        return datetime.datetime.fromisoformat(value["at"])
    return value


def run_step(session, step):
    name, args = step[0], step[1:]
    if name == "update_json":
        session.update(json.loads(args[0]))
    elif name == "delete":
        del session[args[0]]
    elif name == "set_expiry":
        session.set_expiry(parse_expiry(args[0]))
    elif name == "modified":
        session.modified = True
    elif name == "save":
        session.save()
    elif name == "cycle_key":
        session.cycle_key()
    elif name == "flush":
        session.flush()
    else:
        raise ValueError("unknown step %r" % name)


def run_session(req):
    """Runs the steps on `SessionStore(key)`, as a view would, then reports what the
    session holds: its key (None once dropped), its data as JSON text and its expiry."""
    with site(req) as store_class:
        session = store_class(req.get("key"))
        for step in req.get("steps", []):
            run_step(session, step)
        data = dict(session.items())
        if session.session_key:
            SEEN_KEYS.add(session.session_key)
        reply = {
            "key": session.session_key or None,
            "data_text": json.dumps(data, separators=(",", ":")),
            "expiry_age": session.get_expiry_age(),
            "expiry_date": session.get_expiry_date().isoformat(),
            "browser_close": session.get_expire_at_browser_close(),
        }
        return reply


def raw(req):
    """What the backend stores for a key, read directly (not through a session)."""
    with site(req) as store_class:
        engine = req["engine"]
        key = req["key"]
        if engine in ("db", "cached_db"):
            from django.contrib.sessions.models import Session

            row = Session.objects.filter(session_key=key).values_list(
                "session_data", "expire_date"
            ).first()
            if row is None:
                return {"exists": False}
            return {"exists": True, "text": row[0], "expire_date": row[1].isoformat()}
        if engine == "file":
            path = store_class(key)._key_to_file(key)
            if not os.path.exists(path):
                return {"exists": False}
            with open(path, encoding="ascii") as f:
                text = f.read()
            mtime_ns = os.stat(path).st_mtime_ns
            # When the file expires: Django's rule (`_session_expiry`, else mtime +
            # SESSION_COOKIE_AGE), with an integer expiry counted from the mtime
            # (which Django's file backend never enforces; the Rust store does).
            expiry = store_class().decode(text).get("_session_expiry")
            mtime = EPOCH + datetime.timedelta(microseconds=mtime_ns // 1000)
            if isinstance(expiry, str):
                expires_at = datetime.datetime.fromisoformat(expiry)
            else:
                seconds = expiry or req.get("cookie_age", 1209600)
                expires_at = mtime + datetime.timedelta(seconds=seconds)
            return {
                "exists": True,
                "text": text,
                "mtime_ns": mtime_ns,
                "expire_date": expires_at.isoformat(),
            }
        raise ValueError("no raw access for %r" % engine)


def cache_raw(req):
    """The bytes and TTL Django's Redis cache holds under its full key for the
    session key (KEY_PREFIX:VERSION:<backend prefix><key>)."""
    from django.core.cache import caches

    with site(req) as store_class:
        store = store_class(req["key"])
        cache = caches[req["cache_alias"]]
        full = cache.make_and_validate_key(store.cache_key_prefix + req["key"])
        client = cache._cache.get_client(full)
        value = client.get(full)
        if value is None:
            return {"exists": False, "full_key": full}
        return {
            "exists": True,
            "full_key": full,
            "value_hex": value.hex(),
            "pttl": client.pttl(full),
        }


def cache_delete(req):
    """Deletes Django's cache entry of a session key, as Redis does when its TTL runs
    out (the tests cannot move Redis's clock)."""
    from django.core.cache import caches

    with site(req) as store_class:
        store = store_class(req["key"])
        caches[req["cache_alias"]].delete(store.cache_key_prefix + req["key"])
    return {}


def cache_delete_prefix(alias):
    """Removes every key under a cache alias's KEY_PREFIX (never the whole db)."""
    from django.core.cache import caches

    cache = caches[alias]
    prefix = cache.key_prefix
    if not prefix:
        raise ValueError("refusing to clean a cache without KEY_PREFIX")
    client = cache._cache.get_client(prefix, write=True)
    for key in client.scan_iter(match=prefix + ":*"):
        client.delete(key)


def cleanup():
    """Best effort at exit: the rows of the sessions this process saw, the keys of
    the caches it used, its temporary directory."""
    try:
        from django.contrib.sessions.models import Session

        keys = sorted(SEEN_KEYS)
        for alias in MIGRATED:
            for i in range(0, len(keys), 500):
                Session.objects.using(alias).filter(session_key__in=keys[i : i + 500]).delete()
    except Exception:
        traceback.print_exc()
    for alias in USED_CACHES:
        try:
            cache_delete_prefix(alias)
        except Exception:
            traceback.print_exc()
    shutil.rmtree(TEMP_DIR, ignore_errors=True)


OPS = {
    "configure": configure,
    "ensure_database": ensure_database,
    "session": run_session,
    "raw": raw,
    "cache_raw": cache_raw,
    "cache_delete": cache_delete,
}


def main():
    # Django's warnings (e.g. "unable to connect to the 'postgres' database" while a
    # server is down) would only clutter the test output; errors are replies.
    warnings.simplefilter("ignore")
    out = sys.stdout
    # Anything Django or a library prints must not corrupt the protocol.
    sys.stdout = sys.stderr
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                req = json.loads(line)
                reply = {"ok": True}
                reply.update(OPS[req["op"]](req))
            except Exception as exc:
                reply = {
                    "ok": False,
                    "error": "%s: %s" % (type(exc).__name__, exc),
                    "traceback": traceback.format_exc(),
                }
            out.write(json.dumps(reply, allow_nan=False) + "\n")
            out.flush()
    finally:
        cleanup()


if __name__ == "__main__":
    main()
