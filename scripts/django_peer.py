#!/usr/bin/env python3
"""The real Django peer used by Sesame's SQL and interop tests.

Sesame (the Rust library in crates/) shares Django's own tables: a Rust service and a Django site
read and write the same auth_user, auth_permission, django_session, ... rows. The tests prove
that by pointing this script, which runs a *real* Django 5.2, at the database Sesame uses:
Django migrates it, creates users, checks passwords and lists permissions, and reports whether it
sees the schema Sesame created as its own.

Do not run this file directly: `scripts/django-peer` makes sure the virtual environment
.venv/django52 (django==5.2.*, argon2-cffi, bcrypt, psycopg[binary], PyMySQL) exists and runs
this file with it. Usage:

  django-peer [--database-url URL] [--apps LIST] [SESSION OPTIONS] COMMAND ...

  migrate                       Django's `migrate` (non-zero exit on any error)
  showmigrations                Django's `showmigrations`
  sql-schema                    print the live DDL of Django's tables, in the format of
                                crates/sesame-sql/schema/<backend>.sql (read with the plain
                                driver, not Django)
  check-schema [--expect-sql F] exit 0 when `makemigrations --check --dry-run` finds no model
                                changes and `migrate --plan` has nothing to apply (and, with
                                --expect-sql, when `sql-schema` equals file F, comments aside)
  createuser U P [--email E] [--superuser]   User.objects.create_user/create_superuser; prints pk
  checkpassword U P             exit 0 when authenticate(username=U, password=P) returns the user
  perms U                       sorted user.get_all_permissions(), one per line
  login U P                     authenticate() + login() + session.save() as LoginView does;
                                prints the new session key
  whoami KEY                    load session KEY through SessionMiddleware and
                                AuthenticationMiddleware; print request.user as JSON
  logout KEY                    logout() on a request carrying session KEY (flushes it)
  session-get KEY               SessionStore(KEY).load(); print {"data": ..., "session_key": ...}
                                as JSON (session_key null when the engine found nothing)
  session-set JSON [--expiry N] a new session holding the JSON object (and set_expiry(N));
                                print its key
  replay-schema DIR             build Django's schema WITHOUT Django from DIR (the files written
                                by capture-schema): DDL, django_migrations rows, default rows
  schema-fingerprint            print a detailed catalog dump of Django's tables (for comparing
                                two databases; not stable across server versions)
  capture-schema OUTDIR         regenerate crates/sesame-sql/schema/: run the real `migrate` on a
                                fresh SQLite, PostgreSQL and MariaDB/MySQL database, dump the
                                schema, the django_migrations rows and the post_migrate rows,
                                then verify that replay-schema reproduces exactly the same
                                catalog and that Django sees nothing to do. Drops its databases.

Database URLs (also read from $SESAME_DATABASE_URL):
  sqlite:///abs/path.db   sqlite://relative/path.db   sqlite:relative/path.db
  postgres://user[:password]@host[:port]/dbname   (postgresql:// too)
  mysql://user[:password]@host[:port]/dbname       (mariadb:// too; driven by PyMySQL)

Session options (the commands that touch sessions: login, logout, whoami, session-get,
session-set):
  --session-engine db|cache|cached_db   SESSION_ENGINE django.contrib.sessions.backends.<this>
                                        (default db)
  --cache-url URL               LOCATION of CACHES["default"], Django's own
                                django.core.cache.backends.redis.RedisCache (default
                                $SESAME_CACHE_URL or redis://127.0.0.1:6379); only with cache
                                and cached_db
  --key-prefix P                its KEY_PREFIX (default "")
  --cache-version N             its VERSION (default 1)

Settings (settings.configure): SECRET_KEY from $SESAME_SECRET_KEY (default
"django-peer-insecure-key"), USE_TZ=True, TIME_ZONE from $SESAME_TIME_ZONE (default
"America/Chicago"), INSTALLED_APPS django.contrib.{auth,contenttypes,sessions,messages} (change
with --apps), DEFAULT_AUTO_FIELD from $SESAME_DEFAULT_AUTO_FIELD (default BigAutoField, as in
every `startproject` settings.py; see default_auto_field() for the columns it decides).
"""

import argparse
import datetime
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from urllib.parse import unquote, urlsplit

# Django's tables for auth + contenttypes + sessions, in an order where every foreign key points
# to a table created earlier. django_migrations (Django's own bookkeeping) always comes last.
DJANGO_TABLES = [
    "django_content_type",
    "auth_permission",
    "auth_group",
    "auth_group_permissions",
    "auth_user",
    "auth_user_groups",
    "auth_user_user_permissions",
    "django_session",
]
MIGRATIONS_TABLE = "django_migrations"
ALL_TABLES = DJANGO_TABLES + [MIGRATIONS_TABLE]

DEFAULT_APPS = "auth,contenttypes,sessions,messages"
CAPTURE_APPS = "auth,contenttypes,sessions"  # messages has no models: nothing to capture
CAPTURE_DB = "sesame_schema_capture"
REPLAY_DB = "sesame_schema_replay"
BACKENDS = ("sqlite", "postgres", "mysql")
MARKER = "-- django_migrations"  # first line of the comment that marks the last table


class PeerError(Exception):
    """A failure reported as `django-peer: error: ...` with exit status 1."""


def log(msg):
    print(f"[django-peer] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Database URLs and plain DB-API connections (no Django)
# --------------------------------------------------------------------------------------------


def parse_url(url):
    """Split a database URL into a dict: vendor (sqlite/postgres/mysql), name, host, ..."""
    if not url:
        raise PeerError("no database: give --database-url or set SESAME_DATABASE_URL")
    scheme, _, rest = url.partition(":")
    scheme = scheme.lower()
    if scheme in ("sqlite", "sqlite3"):
        path = rest[2:] if rest.startswith("//") else rest
        path = path.split("?", 1)[0]
        if not path or path.startswith(":memory:") or path == ":memory":
            raise PeerError("sqlite URL needs a file path (an in-memory database is per process)")
        return {"vendor": "sqlite", "name": os.path.abspath(unquote(path)), "url": url}
    vendor = {"postgres": "postgres", "postgresql": "postgres", "mysql": "mysql",
              "mariadb": "mysql"}.get(scheme)
    if vendor is None:
        raise PeerError(f"unsupported database URL scheme {scheme!r} in {url!r}")
    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise PeerError(f"database URL {url!r} has no database name")
    return {
        "vendor": vendor,
        "name": name,
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or (5432 if vendor == "postgres" else 3306),
        "user": unquote(parts.username or ("postgres" if vendor == "postgres" else "root")),
        "password": unquote(parts.password or ""),
        "url": url,
    }


def with_name(db, name):
    """The same server, another database name."""
    return dict(db, name=name)


def raw_connect(db):
    """A plain driver connection in autocommit mode: sqlite3, psycopg (3) or PyMySQL."""
    if db["vendor"] == "sqlite":
        import sqlite3

        return sqlite3.connect(db["name"], isolation_level=None)
    if db["vendor"] == "postgres":
        import psycopg

        return psycopg.connect(host=db["host"], port=db["port"], user=db["user"],
                               password=db["password"] or None, dbname=db["name"],
                               autocommit=True)
    import pymysql

    return pymysql.connect(host=db["host"], port=db["port"], user=db["user"],
                           password=db["password"], database=db["name"], autocommit=True,
                           charset="utf8mb4")


def query(conn, sql, params=()):
    cur = conn.cursor()
    cur.execute(sql, params)
    rows = cur.fetchall() if cur.description else []
    cur.close()
    return [tuple(r) for r in rows]


def server_version(conn, vendor):
    if vendor == "sqlite":
        return "SQLite " + query(conn, "select sqlite_version()")[0][0]
    if vendor == "postgres":
        return "PostgreSQL " + query(conn, "show server_version")[0][0].split()[0]
    version = query(conn, "select version()")[0][0]
    return ("MariaDB " if "mariadb" in version.lower() else "MySQL ") + version


def recreate_database(db):
    """Drop (if present) and create the database `db` names: a fresh, empty database."""
    if db["vendor"] == "sqlite":
        for suffix in ("", "-journal", "-wal", "-shm"):
            if os.path.exists(db["name"] + suffix):
                os.remove(db["name"] + suffix)
        return
    admin = raw_connect(with_name(db, "postgres" if db["vendor"] == "postgres" else ""))
    try:
        if db["vendor"] == "postgres":
            query(admin, f'DROP DATABASE IF EXISTS "{db["name"]}" WITH (FORCE)')
            query(admin, f'CREATE DATABASE "{db["name"]}"')
        else:
            query(admin, f"DROP DATABASE IF EXISTS `{db['name']}`")
            query(admin, f"CREATE DATABASE `{db['name']}`")
    finally:
        admin.close()


def drop_database(db):
    if db["vendor"] == "sqlite":
        recreate_database(db)
        return
    admin = raw_connect(with_name(db, "postgres" if db["vendor"] == "postgres" else ""))
    try:
        if db["vendor"] == "postgres":
            query(admin, f'DROP DATABASE IF EXISTS "{db["name"]}" WITH (FORCE)')
        else:
            query(admin, f"DROP DATABASE IF EXISTS `{db['name']}`")
    finally:
        admin.close()


def url_for(db):
    if db["vendor"] == "sqlite":
        return "sqlite://" + db["name"]
    auth = db["user"] + (":" + db["password"] if db["password"] else "")
    return f"{db['vendor']}://{auth}@{db['host']}:{db['port']}/{db['name']}"


# --------------------------------------------------------------------------------------------
# Django
# --------------------------------------------------------------------------------------------


def default_auto_field():
    """DEFAULT_AUTO_FIELD: $SESAME_DEFAULT_AUTO_FIELD, default BigAutoField.

    BigAutoField is what every `startproject` settings.py of Django >= 3.2 sets (and Django
    6.0's global default). It decides the type of the `id` column of django_migrations AND of
    the three auto-created many-to-many tables (auth_group_permissions, auth_user_groups,
    auth_user_user_permissions): migrations build those through models in a StateApps registry
    whose AppConfigStub does not carry auth's pinned `default_auto_field = AutoField`, so they
    follow the setting (bigint with BigAutoField, integer with AutoField, Django 5.2's global
    default). The other ids are declared AutoField in the migrations themselves.
    """
    value = os.environ.get("SESAME_DEFAULT_AUTO_FIELD") or "BigAutoField"
    return value if "." in value else f"django.db.models.{value}"


def setup_django(db, apps, session=None):
    """settings.configure() for the database `db` and django.setup(). `session` holds the
    session options (engine, cache_url, key_prefix, cache_version), if any."""
    if db["vendor"] == "sqlite":
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": db["name"]}
    else:
        if db["vendor"] == "mysql":
            import pymysql

            pymysql.install_as_MySQLdb()  # Django's MySQL backend then imports PyMySQL
        database = {
            "ENGINE": ("django.db.backends.postgresql" if db["vendor"] == "postgres"
                       else "django.db.backends.mysql"),
            "NAME": db["name"],
            "USER": db["user"],
            "PASSWORD": db["password"],
            "HOST": db["host"],
            "PORT": str(db["port"]),
        }

    import django
    from django.conf import settings

    extra = {}
    session = session or {}
    engine = session.get("engine") or "db"
    extra["SESSION_ENGINE"] = f"django.contrib.sessions.backends.{engine}"
    if engine in ("cache", "cached_db"):
        # Django's built-in Redis cache (4.0+), which pickles values with redis-py.
        extra["CACHES"] = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": session.get("cache_url") or os.environ.get("SESAME_CACHE_URL")
                or "redis://127.0.0.1:6379",
                "KEY_PREFIX": session.get("key_prefix") or "",
                "VERSION": session.get("cache_version") or 1,
            }
        }
    settings.configure(
        SECRET_KEY=os.environ.get("SESAME_SECRET_KEY") or "django-peer-insecure-key",
        USE_TZ=True,
        TIME_ZONE=os.environ.get("SESAME_TIME_ZONE") or "America/Chicago",
        INSTALLED_APPS=[f"django.contrib.{app}" for app in apps],
        DATABASES={"default": database},
        DEFAULT_AUTO_FIELD=default_auto_field(),
        **extra,
    )
    django.setup()


def call(name, *args, **options):
    """call_command, returning what it printed."""
    from django.core.management import call_command

    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=out, **options)
    return out.getvalue()


def cmd_migrate(args):
    print(call("migrate", verbosity=1, interactive=False), end="")


def cmd_showmigrations(args):
    print(call("showmigrations"), end="")


def cmd_check_schema(args):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    ok = True
    try:
        out = call("makemigrations", check=True, dry_run=True, interactive=False)
        print("makemigrations --check --dry-run: " + out.strip())
    except SystemExit as exc:  # makemigrations --check exits 1 when models have changes
        print(f"makemigrations --check --dry-run: model changes found (exit {exc.code})")
        ok = False

    print("migrate --plan:\n" + call("migrate", plan=True).rstrip())
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        print(f"migrate --plan: {len(plan)} migration(s) to apply: "
              + ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan))
        ok = False
    else:
        print("migrate --plan: nothing to apply")

    if args.expect_sql:
        with open(args.expect_sql, encoding="utf-8") as f:
            expected = split_statements(f.read())
        live = split_statements(render_schema(args.db, dump_schema(args.db)))
        if live == expected:
            print(f"sql-schema: identical to {args.expect_sql} ({len(live)} statements)")
        else:
            ok = False
            print(f"sql-schema: DIFFERENT from {args.expect_sql}")
            for stmt in live:
                if stmt not in expected:
                    print("  live only:     " + stmt.replace("\n", " "))
            for stmt in expected:
                if stmt not in live:
                    print("  expected only: " + stmt.replace("\n", " "))
            if sorted(live) == sorted(expected):
                print("  (same statements, different order)")

    print("check-schema: OK" if ok else "check-schema: FAILED")
    return 0 if ok else 1


def cmd_createuser(args):
    from django.contrib.auth import get_user_model

    manager = get_user_model().objects
    if args.superuser:
        user = manager.create_superuser(args.username, args.email, args.password)
    else:
        user = manager.create_user(args.username, args.email, args.password)
    print(user.pk)


def cmd_deleteuser(args):
    """Delete a user as the admin does (Model.delete, with Django's cascades)."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.get(username=args.username).delete()
    print("deleted")


def cmd_checkpassword(args):
    from django.contrib.auth import authenticate

    user = authenticate(username=args.username, password=args.password)
    if user is not None and user.get_username() == args.username:
        print(f"ok: authenticated user pk={user.pk}")
        return 0
    print("no: authenticate() returned None")
    return 1


def _request_with_session(session_key=None):
    """A request that went through Django's SessionMiddleware (the configured engine) and
    AuthenticationMiddleware, the way a view would see it."""
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.http import HttpResponse
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    if session_key:
        request.COOKIES["sessionid"] = session_key
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    AuthenticationMiddleware(lambda r: HttpResponse()).process_request(request)
    return request


def cmd_login(args):
    """authenticate() then login() as LoginView does; save the session; print its key."""
    from django.contrib.auth import authenticate, login

    request = _request_with_session()
    user = authenticate(request, username=args.username, password=args.password)
    if user is None:
        print("no: authenticate() returned None")
        return 1
    login(request, user)
    request.session.save()
    print(request.session.session_key)
    return 0


def cmd_logout(args):
    """Load session KEY through the middleware and log out as LogoutView does (flush)."""
    from django.contrib.auth import logout

    request = _request_with_session(args.session_key)
    logout(request)
    print("logged out")
    return 0


def cmd_whoami(args):
    """Load the session KEY as Django's middleware would and print request.user as JSON
    ({"authenticated": false} for AnonymousUser), plus the session's keys."""
    import logging

    # Django's warnings (e.g. "Session data corrupted") go to stderr, so a test sees why.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    request = _request_with_session(args.session_key)
    user = request.user  # lazy: runs django.contrib.auth.get_user(), with the hash check
    out = {"authenticated": bool(user.is_authenticated)}
    if user.is_authenticated:
        out.update(id=str(user.pk), username=user.get_username())
    out["session_keys"] = sorted(request.session.keys())
    print(json.dumps(out, sort_keys=True))
    return 0


def _session_store(session_key=None):
    from importlib import import_module

    from django.conf import settings

    return import_module(settings.SESSION_ENGINE).SessionStore(session_key)


def cmd_session_get(args):
    """Load session KEY with the configured engine; print its dict and whether it was found."""
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    store = _session_store(args.session_key)
    data = store.load()
    print(json.dumps({"data": data, "session_key": store.session_key}, ensure_ascii=False))
    return 0


def cmd_session_set(args):
    """Store a new session holding the JSON object given; print its key."""
    store = _session_store()
    store.update(json.loads(args.data))
    if args.expiry is not None:
        store.set_expiry(args.expiry)
    store.save()
    print(store.session_key)
    return 0


def cmd_perms(args):
    from django.contrib.auth import get_user_model

    user = get_user_model()._default_manager.get_by_natural_key(args.username)
    for perm in sorted(user.get_all_permissions()):
        print(perm)


# --------------------------------------------------------------------------------------------
# Schema dump (plain driver): one list of (comment, statement) per backend
# --------------------------------------------------------------------------------------------


def dump_schema(db):
    conn = raw_connect(db)
    try:
        dumper = {"sqlite": dump_sqlite, "postgres": dump_postgres, "mysql": dump_mysql}
        return dumper[db["vendor"]](conn), server_version(conn, db["vendor"])
    finally:
        conn.close()


def missing_tables(present):
    missing = [t for t in ALL_TABLES if t not in present]
    if missing:
        raise PeerError("not a migrated Django database, missing: " + ", ".join(missing))


MIGRATIONS_COMMENT = (
    f"{MARKER}: Django's migration recorder table (LAST table, not an app model).\n"
    "-- Django creates it first thing in `migrate` (MigrationRecorder.ensure_schema) and\n"
    "-- never alters it. Its rows are in migrations.txt.")


def dump_sqlite(conn):
    rows = query(conn, "SELECT rowid, type, name, tbl_name, sql FROM sqlite_master "
                       "WHERE type IN ('table', 'index') AND sql IS NOT NULL ORDER BY rowid")
    tables = {name: sql for _, kind, name, _, sql in rows if kind == "table"}
    missing_tables(tables)
    out = [(None, tables[t]) for t in DJANGO_TABLES]
    # Indexes: grouped by table in the order above, then in the order SQLite recorded them.
    for table in DJANGO_TABLES:
        out += [(None, sql) for _, kind, _, tbl, sql in rows if kind == "index" and tbl == table]
    if any(kind == "index" and tbl == MIGRATIONS_TABLE for _, kind, _, tbl, _ in rows):
        raise PeerError("unexpected index on django_migrations")
    out.append((MIGRATIONS_COMMENT, tables[MIGRATIONS_TABLE]))
    return out


def qi(name):
    return '"' + name.replace('"', '""') + '"'


def pg_table_oids(conn):
    rows = query(conn, "SELECT c.relname, c.oid FROM pg_class c "
                       "JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = current_schema() AND c.relkind = 'r'")
    oids = dict(rows)
    missing_tables(oids)
    return oids


def pg_type(typ):
    # format_type() spells varchar as "character varying"; write it the way Django does.
    return re.sub(r"^character varying\(", "varchar(", typ)


def dump_postgres(conn):
    """DDL equivalent to what Django ran, rebuilt from pg_catalog.

    Everything the catalog holds for these tables is either written out or checked to be the
    default (an unexpected feature raises, rather than being silently lost); capture-schema
    then proves the replay gives the same catalog (schema-fingerprint).
    """
    oids = pg_table_oids(conn)
    creates, others = [], []
    for table in ALL_TABLES:
        oid = oids[table]
        relopts = query(conn, "SELECT relpersistence, reloptions, relhasrules, relhastriggers, "
                              "relrowsecurity FROM pg_class WHERE oid = %s", (oid,))[0]
        if relopts[0] != "p" or relopts[1] or relopts[2] or relopts[4]:
            raise PeerError(f"{table}: unexpected table options {relopts}")
        cons = query(conn, """
            SELECT c.conname, c.contype, c.conkey, c.confrelid::regclass::text, c.confkey,
                   c.condeferrable, c.condeferred, c.confupdtype, c.confdeltype,
                   c.confmatchtype, pg_get_constraintdef(c.oid), c.conindid
            FROM pg_constraint c WHERE c.conrelid = %s ORDER BY c.contype, c.conname""", (oid,))
        cols = query(conn, """
            SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid),
                   a.attcollation, t.typcollation
            FROM pg_attribute a
            JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum""", (oid,))
        names = {num: name for num, name, *_ in cols}

        inline = {}  # attnum -> "PRIMARY KEY" / "UNIQUE" when Django's inline form gives the name
        explicit = []
        for con in cons:
            conname, contype, conkey = con[0], con[1], con[2]
            if contype == "p" and len(conkey) == 1 and conname == f"{table}_pkey":
                inline.setdefault(conkey[0], []).append("PRIMARY KEY")
            elif (contype == "u" and len(conkey) == 1
                  and conname == f"{table}_{names[conkey[0]]}_key" and len(conname) <= 63):
                inline.setdefault(conkey[0], []).append("UNIQUE")
            else:
                explicit.append(con)

        coldefs = []
        for num, name, typ, notnull, identity, generated, default, collation, typcoll in cols:
            if generated or default is not None or collation != typcoll:
                raise PeerError(f"{table}.{name}: unexpected default/generated/collation")
            parts = [qi(name), pg_type(typ), "NOT NULL" if notnull else "NULL"]
            parts += inline.get(num, [])
            if identity:
                pg_check_identity_sequence(conn, table, name, typ)
                parts.append({"d": "GENERATED BY DEFAULT AS IDENTITY",
                              "a": "GENERATED ALWAYS AS IDENTITY"}[identity])
            coldefs.append(" ".join(parts))
        creates.append((MIGRATIONS_COMMENT if table == MIGRATIONS_TABLE else None,
                        f"CREATE TABLE {qi(table)} ({', '.join(coldefs)});"))

        for (conname, contype, conkey, reftable, confkey, deferrable, deferred, updtype,
             deltype, matchtype, condef, _) in explicit:
            cols_sql = ", ".join(qi(names[k]) for k in conkey)
            if contype == "p":
                body = f"PRIMARY KEY ({cols_sql})"
            elif contype == "u":
                body = f"UNIQUE ({cols_sql})"
            elif contype == "f":
                refnames = dict(query(conn, "SELECT attnum, attname FROM pg_attribute "
                                            "WHERE attrelid = %s::regclass", (reftable,)))
                body = (f"FOREIGN KEY ({cols_sql}) REFERENCES {qi(reftable.strip(chr(34)))} "
                        f"({', '.join(qi(refnames[k]) for k in confkey)})")
                if matchtype != "s":
                    body += " MATCH FULL" if matchtype == "f" else " MATCH PARTIAL"
                actions = {"a": None, "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL",
                           "d": "SET DEFAULT"}
                if actions[updtype]:
                    body += " ON UPDATE " + actions[updtype]
                if actions[deltype]:
                    body += " ON DELETE " + actions[deltype]
            elif contype == "c":
                body = condef
            else:
                raise PeerError(f"{table}: unsupported constraint {conname} ({contype})")
            if deferrable:
                body += " DEFERRABLE INITIALLY DEFERRED" if deferred else " DEFERRABLE"
            if contype in "pu":
                pg_check_constraint_index(conn, table, conname)
            others.append((None, f"ALTER TABLE {qi(table)} ADD CONSTRAINT {qi(conname)} {body};"))

        for idx in query(conn, """
                SELECT i.indexrelid, ic.relname, i.indisunique, am.amname,
                       i.indexprs IS NOT NULL OR i.indpred IS NOT NULL,
                       i.indnullsnotdistinct, ic.reloptions, i.indnkeyatts, i.indnatts
                FROM pg_index i
                JOIN pg_class ic ON ic.oid = i.indexrelid
                JOIN pg_am am ON am.oid = ic.relam
                WHERE i.indrelid = %s AND NOT EXISTS (
                    SELECT 1 FROM pg_constraint c
                    WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                      AND c.contype IN ('p', 'u', 'x'))
                ORDER BY ic.relname""", (oid,)):
            indexoid, indexname, unique, method, exprs, nnd, reloptions, nkey, natts = idx
            if exprs or nnd or reloptions or nkey != natts:
                raise PeerError(f"{indexname}: unsupported index features")
            keys = []
            for (colname, opclass, opcdefault, option, collation, defcoll) in query(conn, """
                    SELECT a.attname, oc.opcname, oc.opcdefault, i.indoption[k.n - 1],
                           i.indcollation[k.n - 1], t.typcollation
                    FROM pg_index i
                    CROSS JOIN LATERAL generate_series(1, i.indnatts) AS k(n)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.n - 1]
                    JOIN pg_type t ON t.oid = a.atttypid
                    JOIN pg_opclass oc ON oc.oid = i.indclass[k.n - 1]
                    WHERE i.indexrelid = %s ORDER BY k.n""", (indexoid,)):
                if option or collation != defcoll:
                    raise PeerError(f"{indexname}: unsupported index column options")
                keys.append(qi(colname) + ("" if opcdefault else " " + opclass))
            using = "" if method == "btree" else f" USING {method}"
            others.append((None, f"CREATE {'UNIQUE ' if unique else ''}INDEX {qi(indexname)} "
                                 f"ON {qi(table)}{using} ({', '.join(keys)});"))
    # Tables first (in foreign-key order), then per table: constraints, then indexes; the
    # django_migrations table (no constraints besides its inline pk) last of all.
    last = creates.pop()
    return creates + others + [last]


def pg_check_identity_sequence(conn, table, column, typ):
    """The identity sequence must be the one `GENERATED ... AS IDENTITY` makes by default."""
    seq = query(conn, "SELECT pg_get_serial_sequence(%s, %s)", (qi(table), column))[0][0]
    row = query(conn, """
        SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin,
               s.seqmax, s.seqcache, s.seqcycle
        FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
        WHERE s.seqrelid = %s::regclass""", (seq,))[0]
    maxima = {"integer": 2**31 - 1, "bigint": 2**63 - 1, "smallint": 2**15 - 1}
    expected = (f"{table}_{column}_seq", typ, 1, 1, 1, maxima.get(typ), 1, False)
    if row != expected:
        raise PeerError(f"{table}.{column}: identity sequence {row} is not the default {expected}")


def pg_check_constraint_index(conn, table, conname):
    row = query(conn, """
        SELECT ic.relname, am.amname, ic.reloptions, i.indnullsnotdistinct
        FROM pg_constraint c JOIN pg_index i ON i.indexrelid = c.conindid
        JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
        WHERE c.conname = %s AND c.conrelid = %s::regclass""", (conname, qi(table)))[0]
    if row != (conname, "btree", None, False):
        raise PeerError(f"{table}.{conname}: unexpected constraint index {row}")


def dump_mysql(conn):
    present = {r[0] for r in query(conn, "SHOW TABLES")}
    missing_tables(present)
    out = []
    for table in ALL_TABLES:
        create = query(conn, f"SHOW CREATE TABLE `{table}`")[0][1]
        body, _, options = create.rpartition("\n) ")
        # Table options come from the server/database defaults, not from Django (its CREATE
        # TABLE has none): drop them, and with them the AUTO_INCREMENT=N counter.
        if "PARTITION" in options.upper() or "COMMENT" in options.upper():
            raise PeerError(f"{table}: unexpected table options {options!r}")
        out.append((MIGRATIONS_COMMENT if table == MIGRATIONS_TABLE else None,
                    body + "\n);"))
    return out


def render_schema(db, dumped, origin="dumped by `scripts/django-peer sql-schema`"):
    """The text of a schema/<backend>.sql file."""
    statements, version = dumped
    import django

    server = version.split("-")[0] if db["vendor"] == "mysql" else version
    head = [
        f"-- Schema of Django {django.get_version()} contrib.auth + contenttypes + sessions on "
        f"{server},",
        f"-- {origin}.",
        "-- Statements are separated by a blank line and end with ';' at the end of their last",
        "-- line; lines starting with '--' are comments. Do not edit: see README.md.",
    ]
    text = "\n".join(head) + "\n\n"
    for comment, stmt in statements:
        stmt = stmt.rstrip().rstrip(";") + ";"
        text += (comment + "\n" if comment else "") + stmt + "\n\n"
    return text.rstrip("\n") + "\n"


def split_statements(text):
    """Statements of a schema .sql file: blank-line separated blocks, '--' lines dropped."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.splitlines() if not ln.lstrip().startswith("--")]
        stmt = "\n".join(lines).strip()
        if stmt:
            if not stmt.endswith(";"):
                raise PeerError(f"statement does not end with ';': {stmt[:80]}")
            out.append(stmt)
    return out


def cmd_sql_schema(args):
    print(render_schema(args.db, dump_schema(args.db)), end="")


# --------------------------------------------------------------------------------------------
# Rows: django_migrations, django_content_type, auth_permission
# --------------------------------------------------------------------------------------------


def read_migrations(conn):
    return query(conn, "SELECT app, name FROM django_migrations ORDER BY id")


def read_default_rows(conn):
    cts = query(conn, "SELECT id, app_label, model FROM django_content_type ORDER BY id")
    perms = query(conn, "SELECT p.id, p.content_type_id, c.app_label, c.model, p.codename, "
                        "p.name FROM auth_permission p JOIN django_content_type c "
                        "ON c.id = p.content_type_id ORDER BY p.id")
    return cts, perms


DEFAULT_ROWS_HEADER = (
    "# Rows Django's post_migrate handlers (create_contenttypes, create_permissions) insert into\n"
    "# a fresh database, in id order. Tab-separated; '#' lines are comments.\n"
    "# django_content_type<TAB>id<TAB>app_label<TAB>model\n"
    "# auth_permission<TAB>id<TAB>content_type_id<TAB>app_label<TAB>model<TAB>codename<TAB>name\n"
    "# (app_label and model of an auth_permission row are those of its content type.)\n"
)


def format_default_rows(cts, perms):
    lines = ["\t".join(["django_content_type"] + [str(v) for v in r]) for r in cts]
    lines += ["\t".join(["auth_permission"] + [str(v) for v in r]) for r in perms]
    return DEFAULT_ROWS_HEADER + "\n".join(lines) + "\n"


def parse_default_rows(text):
    cts, perms = [], []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        kind, *fields = line.split("\t")
        if kind == "django_content_type":
            cts.append((int(fields[0]), fields[1], fields[2]))
        elif kind == "auth_permission":
            perms.append((int(fields[0]), int(fields[1])) + tuple(fields[2:6]))
        else:
            raise PeerError(f"default_rows.txt: unknown row kind {kind!r}")
    return cts, perms


# --------------------------------------------------------------------------------------------
# replay-schema: Django's schema without Django
# --------------------------------------------------------------------------------------------


def placeholder(vendor):
    return "?" if vendor == "sqlite" else "%s"


def now_for(vendor):
    """`applied = now`, stored the way Django stores datetimes with USE_TZ=True."""
    now = datetime.datetime.now(datetime.timezone.utc)
    if vendor == "postgres":
        return now  # timestamptz
    return str(now.replace(tzinfo=None))  # naive UTC: SQLite text, MySQL datetime(6)


def replay_schema(db, schema_dir):
    """Run <backend>.sql, insert migrations.txt and default_rows.txt, with the plain driver.

    Rows are inserted WITHOUT explicit ids, in id order, so the database assigns the same ids a
    fresh Django would AND advances its sequences (on PostgreSQL an explicit id does not move
    the identity sequence); the ids are then checked against the files.
    """
    vendor = db["vendor"]
    ph = placeholder(vendor)
    with open(os.path.join(schema_dir, f"{vendor}.sql"), encoding="utf-8") as f:
        statements = split_statements(f.read())
    with open(os.path.join(schema_dir, "migrations.txt"), encoding="utf-8") as f:
        migrations = [tuple(line.split(" ")) for line in f.read().splitlines() if line]
    with open(os.path.join(schema_dir, "default_rows.txt"), encoding="utf-8") as f:
        cts, perms = parse_default_rows(f.read())

    conn = raw_connect(db)
    try:
        for stmt in statements:
            query(conn, stmt)
        applied = now_for(vendor)
        for app, name in migrations:
            query(conn, f"INSERT INTO django_migrations (app, name, applied) "
                        f"VALUES ({ph}, {ph}, {ph})", (app, name, applied))
        for _, app_label, model in cts:
            query(conn, f"INSERT INTO django_content_type (app_label, model) VALUES ({ph}, {ph})",
                  (app_label, model))
        for _, _, app_label, model, codename, name in perms:
            query(conn, f"INSERT INTO auth_permission (name, content_type_id, codename) "
                        f"SELECT {ph}, id, {ph} FROM django_content_type "
                        f"WHERE app_label = {ph} AND model = {ph}",
                  (name, codename, app_label, model))
        got = read_default_rows(conn)
        if got != (cts, perms):
            raise PeerError("replayed default rows got different ids (was the database empty?)")
        if read_migrations(conn) != migrations:
            raise PeerError("replayed django_migrations rows differ")
    finally:
        conn.close()
    return len(statements), len(migrations), len(cts), len(perms)


def cmd_replay_schema(args):
    n = replay_schema(args.db, args.schema_dir)
    print(f"replayed {n[0]} statements, {n[1]} django_migrations rows, {n[2]} content types, "
          f"{n[3]} permissions into {args.db['vendor']} database {args.db['name']}")


# --------------------------------------------------------------------------------------------
# schema-fingerprint: everything the catalog says about Django's tables
# --------------------------------------------------------------------------------------------


def fingerprint(db):
    conn = raw_connect(db)
    try:
        fp = {"tables": {}}
        for table in ALL_TABLES:
            fp["tables"][table] = {
                "sqlite": fingerprint_sqlite, "postgres": fingerprint_postgres,
                "mysql": fingerprint_mysql}[db["vendor"]](conn, table)
        fp["django_migrations"] = read_migrations(conn)
        fp["default_rows"] = read_default_rows(conn)
        return json.loads(json.dumps(fp, default=str))
    finally:
        conn.close()


def fingerprint_sqlite(conn, table):
    return {
        "sqlite_master": query(conn, "SELECT type, name, sql FROM sqlite_master "
                                     "WHERE tbl_name = ? ORDER BY type, name", (table,)),
        "table_xinfo": query(conn, f"PRAGMA table_xinfo({qi(table)})"),
        "index_list": sorted(query(conn, f"PRAGMA index_list({qi(table)})"), key=lambda r: r[1]),
        "index_xinfo": {r[1]: query(conn, f"PRAGMA index_xinfo({qi(r[1])})")
                        for r in query(conn, f"PRAGMA index_list({qi(table)})")},
        "foreign_key_list": query(conn, f"PRAGMA foreign_key_list({qi(table)})"),
    }


def fingerprint_postgres(conn, table):
    oid = query(conn, "SELECT %s::regclass::oid", (qi(table),))[0][0]
    return {
        "class": query(conn, "SELECT relkind, relpersistence, reloptions, relhasindex, "
                             "relhasrules, relhastriggers, relrowsecurity, relreplident "
                             "FROM pg_class WHERE oid = %s", (oid,)),
        "columns": query(conn, """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
                   a.attgenerated, pg_get_expr(d.adbin, d.adrelid), a.attcollation,
                   a.attstorage, a.attcompression, a.attstattarget
            FROM pg_attribute a LEFT JOIN pg_attrdef d
              ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum""", (oid,)),
        "constraints": query(conn, """
            SELECT conname, contype, condeferrable, condeferred, convalidated,
                   pg_get_constraintdef(oid), conindid::regclass::text, connoinherit
            FROM pg_constraint WHERE conrelid = %s ORDER BY conname""", (oid,)),
        "indexes": query(conn, """
            SELECT ic.relname, pg_get_indexdef(i.indexrelid), i.indisunique, i.indisprimary,
                   i.indimmediate, i.indisvalid, i.indnullsnotdistinct, ic.reloptions
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
            WHERE i.indrelid = %s ORDER BY ic.relname""", (oid,)),
        "sequences": query(conn, """
            SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
                   s.seqmin, s.seqmax, s.seqcache, s.seqcycle, d.deptype
            FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
            JOIN pg_sequence s ON s.seqrelid = c.oid
            WHERE d.refobjid = %s AND d.classid = 'pg_class'::regclass
            ORDER BY c.relname""", (oid,)),
        "triggers": query(conn, """
            SELECT (SELECT conname FROM pg_constraint WHERE oid = t.tgconstraint),
                   t.tgfoid::regproc::text, t.tgtype, t.tgdeferrable, t.tginitdeferred,
                   t.tgisinternal, t.tgenabled
            FROM pg_trigger t WHERE t.tgrelid = %s
            ORDER BY 1, 2, 3""", (oid,)),
    }


def fingerprint_mysql(conn, table):
    create = query(conn, f"SHOW CREATE TABLE `{table}`")[0][1]
    return {
        "show_create": re.sub(r" AUTO_INCREMENT=\d+", "", create),
        "table": query(conn, "SELECT ENGINE, ROW_FORMAT, TABLE_COLLATION, CREATE_OPTIONS "
                             "FROM information_schema.TABLES "
                             "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s", (table,)),
        "columns": query(conn, """
            SELECT COLUMN_NAME, ORDINAL_POSITION, COLUMN_DEFAULT, IS_NULLABLE, COLUMN_TYPE,
                   CHARACTER_SET_NAME, COLLATION_NAME, COLUMN_KEY, EXTRA
            FROM information_schema.COLUMNS
            WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s
            ORDER BY ORDINAL_POSITION""", (table,)),
        "indexes": query(conn, """
            SELECT INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE, SUB_PART, INDEX_TYPE
            FROM information_schema.STATISTICS
            WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s
            ORDER BY INDEX_NAME, SEQ_IN_INDEX""", (table,)),
        "constraints": query(conn, """
            SELECT tc.CONSTRAINT_NAME, tc.CONSTRAINT_TYPE, rc.UPDATE_RULE, rc.DELETE_RULE,
                   rc.REFERENCED_TABLE_NAME
            FROM information_schema.TABLE_CONSTRAINTS tc
            LEFT JOIN information_schema.REFERENTIAL_CONSTRAINTS rc
              ON rc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA
             AND rc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME AND rc.TABLE_NAME = tc.TABLE_NAME
            WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.TABLE_NAME = %s
            ORDER BY tc.CONSTRAINT_NAME""", (table,)),
    }


def cmd_schema_fingerprint(args):
    print(json.dumps(fingerprint(args.db), indent=1, ensure_ascii=False))


def diff_fingerprints(a, b, path=""):
    """Human-readable differences between two fingerprints (empty when equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += diff_fingerprints(a.get(key), b.get(key), f"{path}/{key}")
        return out
    return [] if a == b else [f"{path}:\n    captured: {a}\n    replayed: {b}"]


# --------------------------------------------------------------------------------------------
# capture-schema
# --------------------------------------------------------------------------------------------


def run_peer(url, *argv, apps=CAPTURE_APPS):
    """Run this script in a fresh process (each Django configuration needs its own)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--database-url", url, "--apps", apps,
           *argv]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PeerError(f"{' '.join(argv)} on {url} failed ({proc.returncode}):\n"
                        f"{proc.stdout}{proc.stderr}")
    return proc.stdout


def cmd_capture_schema(args):
    import django

    if django.VERSION[:2] != (5, 2):
        raise PeerError(f"capture-schema wants Django 5.2, this is {django.get_version()}")
    outdir = args.outdir
    os.makedirs(outdir, exist_ok=True)
    tmpdir = tempfile.mkdtemp(prefix="sesame-schema-")
    servers = {
        "sqlite": {"vendor": "sqlite", "name": os.path.join(tmpdir, "capture.sqlite3")},
        "postgres": parse_url(args.postgres_url),
        "mysql": parse_url(args.mysql_url),
    }
    results = {}
    for vendor in args.backends.split(","):
        capture = servers[vendor] if vendor == "sqlite" else with_name(servers[vendor], CAPTURE_DB)
        try:
            log(f"{vendor}: fresh database {capture['name']}; Django {django.get_version()} "
                f"migrate (apps {CAPTURE_APPS})")
            recreate_database(capture)
            run_peer(url_for(capture), "migrate")
            dumped = dump_schema(capture)
            sql = render_schema(
                capture, dumped,
                "captured by `scripts/django-peer capture-schema` after a real `migrate` with\n"
                f"-- DEFAULT_AUTO_FIELD = {default_auto_field().rpartition('.')[2]}")
            with open(os.path.join(outdir, f"{vendor}.sql"), "w", encoding="utf-8") as f:
                f.write(sql)
            conn = raw_connect(capture)
            try:
                results[vendor] = (read_migrations(conn), read_default_rows(conn), dumped[1])
            finally:
                conn.close()
            log(f"{vendor}: wrote {vendor}.sql ({len(dumped[0])} statements, {dumped[1]})")
            captured_fp = fingerprint(capture)
        finally:
            drop_database(capture)
        results[vendor] += (captured_fp,)

    # The rows must not depend on the backend.
    first = next(iter(results))
    for vendor, (migs, rows, *_rest) in results.items():
        if migs != results[first][0]:
            raise PeerError(f"django_migrations rows differ between {first} and {vendor}")
        if rows != results[first][1]:
            with open(os.path.join(outdir, f"default_rows.{vendor}.txt"), "w") as f:
                f.write(format_default_rows(*rows))
            raise PeerError(f"default rows differ between {first} and {vendor}")
    with open(os.path.join(outdir, "migrations.txt"), "w", encoding="utf-8") as f:
        f.write("".join(f"{app} {name}\n" for app, name in results[first][0]))
    with open(os.path.join(outdir, "default_rows.txt"), "w", encoding="utf-8") as f:
        f.write(format_default_rows(*results[first][1]))
    log(f"wrote migrations.txt ({len(results[first][0])} rows) and default_rows.txt "
        f"({len(results[first][1][0])} content types, {len(results[first][1][1])} permissions), "
        f"identical on {', '.join(results)}")

    if args.no_verify:
        shutil.rmtree(tmpdir, ignore_errors=True)
        return 0
    # Verify: replay the files into another fresh database, without Django, then compare the
    # whole catalog with what Django made and ask Django whether anything is left to do.
    failed = False
    for vendor, (_, _, version, captured_fp) in results.items():
        if vendor == "sqlite":
            replay = dict(servers["sqlite"], name=os.path.join(tmpdir, "replay.sqlite3"))
        else:
            replay = with_name(servers[vendor], REPLAY_DB)
        try:
            recreate_database(replay)
            replay_schema(replay, outdir)
            diffs = diff_fingerprints(captured_fp, fingerprint(replay))
            diffs = [d for d in diffs if not d.startswith("/django_migrations")]  # `applied`
            out = run_peer(url_for(replay), "check-schema", "--expect-sql",
                           os.path.join(outdir, f"{vendor}.sql"))
            if diffs:
                failed = True
                log(f"{vendor}: replayed catalog DIFFERS from Django's:\n" + "\n".join(diffs))
            else:
                log(f"{vendor}: replay verified: same catalog as Django's; "
                    + out.strip().splitlines()[-1])
        finally:
            drop_database(replay)
    shutil.rmtree(tmpdir, ignore_errors=True)
    return 1 if failed else 0


# --------------------------------------------------------------------------------------------


def main(argv=None):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", default=argparse.SUPPRESS,
                        help="database URL (default: $SESAME_DATABASE_URL)")
    common.add_argument("--apps", default=argparse.SUPPRESS,
                        help=f"django.contrib apps, comma-separated (default: {DEFAULT_APPS})")
    common.add_argument("--session-engine", choices=("db", "cache", "cached_db"),
                        default=argparse.SUPPRESS,
                        help="SESSION_ENGINE django.contrib.sessions.backends.<this> (default: db)")
    common.add_argument("--cache-url", default=argparse.SUPPRESS,
                        help="LOCATION of the RedisCache for cache and cached_db (default: "
                             "$SESAME_CACHE_URL or redis://127.0.0.1:6379)")
    common.add_argument("--key-prefix", default=argparse.SUPPRESS,
                        help="KEY_PREFIX of that cache (default: empty)")
    common.add_argument("--cache-version", type=int, default=argparse.SUPPRESS,
                        help="VERSION of that cache (default: 1)")

    parser = argparse.ArgumentParser(
        prog="django-peer", parents=[common],
        description="A real Django 5.2 for Sesame's SQL and interop tests.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help_, needs_django=True, needs_db=True):
        p = sub.add_parser(name, parents=[common], help=help_)
        p.set_defaults(func=func, needs_django=needs_django, needs_db=needs_db)
        return p

    add("migrate", cmd_migrate, "run Django's migrate")
    add("showmigrations", cmd_showmigrations, "print Django's showmigrations")
    add("sql-schema", cmd_sql_schema, "print the live DDL of Django's tables",
        needs_django=False)
    p = add("check-schema", cmd_check_schema, "makemigrations --check and migrate --plan empty?")
    p.add_argument("--expect-sql", metavar="FILE",
                   help="also require `sql-schema` to equal this schema file (comments aside)")
    p = add("deleteuser", cmd_deleteuser, "delete a user as the admin does")
    p.add_argument("username")
    p = add("createuser", cmd_createuser, "create a user, print its pk")
    p.add_argument("username")
    p.add_argument("password")
    p.add_argument("--email", default="")
    p.add_argument("--superuser", action="store_true")
    p = add("checkpassword", cmd_checkpassword, "exit 0 when authenticate() accepts")
    p.add_argument("username")
    p.add_argument("password")
    p = add("login", cmd_login, "authenticate() + login() + save; print the session key")
    p.add_argument("username")
    p.add_argument("password")
    p = add("logout", cmd_logout, "log the session KEY out (logout(), which flushes it)")
    p.add_argument("session_key")
    p = add("whoami", cmd_whoami, "load a session through Django's middleware; print request.user")
    p.add_argument("session_key")
    p = add("session-get", cmd_session_get, "load a session with the configured engine; "
            "print its dict as JSON")
    p.add_argument("session_key")
    p = add("session-set", cmd_session_set, "store a new session holding a JSON object; "
            "print its key")
    p.add_argument("data", metavar="JSON")
    p.add_argument("--expiry", type=int, default=None, help="set_expiry(N) seconds")
    p = add("perms", cmd_perms, "print user.get_all_permissions(), sorted")
    p.add_argument("username")
    p = add("replay-schema", cmd_replay_schema, "create Django's schema from DIR, without Django",
            needs_django=False)
    p.add_argument("schema_dir", metavar="DIR")
    add("schema-fingerprint", cmd_schema_fingerprint, "print a catalog dump of Django's tables",
        needs_django=False)
    p = add("capture-schema", cmd_capture_schema, "regenerate the schema files into OUTDIR",
            needs_django=False, needs_db=False)
    p.add_argument("outdir", metavar="OUTDIR")
    p.add_argument("--postgres-url", default=os.environ.get(
        "SESAME_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"),
        help="PostgreSQL server to use (the database name is replaced; default: "
             "$SESAME_POSTGRES_URL or postgres://postgres@127.0.0.1:5432/test)")
    p.add_argument("--mysql-url", default=os.environ.get(
        "SESAME_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
        help="MariaDB/MySQL server to use (the database name is replaced; default: "
             "$SESAME_MYSQL_URL or mysql://root@127.0.0.1:3306/test)")
    p.add_argument("--backends", default=",".join(BACKENDS),
                   help="comma-separated subset of sqlite,postgres,mysql")
    p.add_argument("--no-verify", action="store_true", help="skip the replay verification")

    args = parser.parse_args(argv)
    try:
        if args.needs_db:
            args.db = parse_url(getattr(args, "database_url", None)
                                or os.environ.get("SESAME_DATABASE_URL"))
        if args.needs_django:
            apps = getattr(args, "apps", DEFAULT_APPS)
            session = {
                "engine": getattr(args, "session_engine", None),
                "cache_url": getattr(args, "cache_url", None),
                "key_prefix": getattr(args, "key_prefix", None),
                "cache_version": getattr(args, "cache_version", None),
            }
            setup_django(args.db, [a.strip() for a in apps.split(",") if a.strip()], session)
        return args.func(args) or 0
    except PeerError as exc:
        print(f"django-peer: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # any Django/driver error: say what it was, exit non-zero
        import traceback

        traceback.print_exc()
        print(f"django-peer: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
