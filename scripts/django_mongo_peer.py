#!/usr/bin/env python3
"""The real Django + django-mongodb-backend peer used by Sesame's MongoDB tests.

Sesame's MongoDB store (crates/sesame-mongodb) writes the same collections, documents and
indexes as the official `django-mongodb-backend` (PyPI, 5.2.x for Django 5.2). This script runs
a *real* Django 5.2 with that backend against a MongoDB server, so that the tests can check
interoperability both ways and capture what the backend really writes.

Do not run this file directly: `scripts/django-mongo-peer` makes sure the virtual environment
.venv/django52-mongo (django==5.2.*, django-mongodb-backend==5.2.*, argon2-cffi, bcrypt)
exists and runs this file with it. Usage:

  django-mongo-peer [--uri URI] [--db NAME] [--secret-key KEY] COMMAND ...

  migrate                       Django's `migrate` (non-zero exit on any error)
  createuser U P [--email E] [--superuser]
                                User.objects.create_user/create_superuser; prints the _id hex
  checkpassword U P             exit 0 when authenticate(username=U, password=P) returns the
                                user, 1 otherwise
  login U P                     authenticate() + login() on a request with a db SessionStore,
                                save; prints {"session_key": ..., "user_id": ...}
  whoami KEY                    load session KEY, django.contrib.auth.get_user() on a fake
                                request; prints {"authenticated": ..., "id": ..., "username": ...}
  perms U                       sorted user.get_all_permissions() as a JSON list
  grant U APP.CODENAME          user.user_permissions.add(permission)
  creategroup NAME [--perm APP.CODENAME]...
                                Group.objects.get_or_create + permissions.add; prints the _id hex
  addtogroup U NAME             user.groups.add(group)
  dump [--json-mode relaxed|canonical]
                                every document of Django's auth/contenttypes/sessions
                                collections (and django_migrations), their index_information()
                                and the BSON types seen per field, as Extended JSON
  capture OUT                   the fixture scenario in one process: migrate (recording every
                                create/createIndexes command the backend sends), create a user
                                and a superuser, a group with a permission, add the user to it,
                                grant a direct permission, log in, then write `dump` plus the recorded commands
                                and the exact versions to OUT (JSON)

Connection: --uri, else $MONGODB_URI (what ../shared/tools/mongo/with-mongo.sh exports),
else mongodb://127.0.0.1:27017/. It goes into DATABASES["default"]["HOST"] as the backend's docs
recommend. Database name: --db, else the URI's path, else "sesame_django_mongo".

Settings (settings.configure), following the backend's docs (docs/intro/configure.rst, the
5.2.x project template): DEFAULT_AUTO_FIELD = ObjectIdAutoField; INSTALLED_APPS with
MongoContentTypesConfig / MongoAuthConfig (AppConfigs with default_auto_field =
ObjectIdAutoField) and django.contrib.sessions; MIGRATION_MODULES pointing auth and
contenttypes at `mongo_migrations.*`, generated with `makemigrations auth contenttypes` into a
throw-away directory on every run (the project template ships the same generated files);
SECRET_KEY from --secret-key or $SESAME_SECRET_KEY (default "django-peer-insecure-key");
SESSION_ENGINE db; default PASSWORD_HASHERS; USE_TZ=True; TIME_ZONE from $SESAME_TIME_ZONE
(default "America/Chicago").

MongoDB stand-in: against the mongoeco server of ../shared/tools/mongo (with-mongo.sh) the
backend needs two client-side rewrites, installed by install_workarounds(): {buildinfo: 1} is
retried as {buildInfo: 1}, and $project stages in embedded-document form ({a: {b: 1}}) are sent
in the equivalent dotted form ({"a.b": 1}). Both only change how a command is spelled, never
what is stored; they are reported on stderr and in the capture file. Against a real MongoDB
neither applies.
"""

import argparse
import atexit
import datetime
import io
import json
import os
import shutil
import sys
import tempfile

COLLECTIONS = [
    "django_content_type",
    "auth_permission",
    "auth_group",
    "auth_group_permissions",
    "auth_user",
    "auth_user_groups",
    "auth_user_user_permissions",
    "django_session",
    "django_migrations",  # Django's own bookkeeping (what `migrate` recorded)
]
DEFAULT_URI = "mongodb://127.0.0.1:27017/"
DEFAULT_DB = "sesame_django_mongo"
OBJECT_ID_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"

# The AppConfigs of the backend's project template (<project_name>/apps.py), written into the
# throw-away directory as the module `sesame_mongo_apps`.
APPS_MODULE = f'''\
from django.contrib.auth.apps import AuthConfig
from django.contrib.contenttypes.apps import ContentTypesConfig


class MongoAuthConfig(AuthConfig):
    default_auto_field = "{OBJECT_ID_AUTO_FIELD}"


class MongoContentTypesConfig(ContentTypesConfig):
    default_auto_field = "{OBJECT_ID_AUTO_FIELD}"
'''


class PeerError(Exception):
    """A failure reported as `django-mongo-peer: error: ...` with exit status 1."""


def log(msg):
    print(f"[django-mongo-peer] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def database_name(uri, explicit):
    if explicit:
        return explicit
    from pymongo.uri_parser import parse_uri

    return parse_uri(uri).get("database") or DEFAULT_DB


def make_support_dir():
    """A temporary directory on sys.path holding `sesame_mongo_apps` (the AppConfigs) and an
    empty `mongo_migrations` package that makemigrations fills."""
    tmp = tempfile.mkdtemp(prefix="django-mongo-peer-")
    atexit.register(shutil.rmtree, tmp, True)
    with open(os.path.join(tmp, "sesame_mongo_apps.py"), "w", encoding="utf-8") as f:
        f.write(APPS_MODULE)
    os.makedirs(os.path.join(tmp, "mongo_migrations"))
    open(os.path.join(tmp, "mongo_migrations", "__init__.py"), "w").close()
    sys.path.insert(0, tmp)
    return tmp


# Client-side workarounds for the MongoDB stand-in of ../shared/tools/mongo (mongoeco 4.11).
# Each rewrites a *command* into an equivalent one that mongoeco understands; none changes a
# stored document or index. The ones used are recorded here, printed to stderr, and listed in
# the `capture` output ("client_workarounds").
WORKAROUNDS_USED = []


def note_workaround(note):
    if note not in WORKAROUNDS_USED:
        WORKAROUNDS_USED.append(note)
        log("workaround: " + note)


def build_info(client):
    """buildInfo, sent under its camelCase name (mongoeco refuses the `buildinfo` alias that
    pymongo's MongoClient.server_info() sends)."""
    return client.admin.command("buildInfo")


def _is_flag(value):
    return isinstance(value, (bool, int, float)) and value in (0, 1)


def _is_nested_inclusion(value):
    """{"b": 1, "c": {"d": 1}}: an embedded-document form of a projection (no operators, only
    0/1/true/false leaves)."""
    return (isinstance(value, dict) and value
            and not any(str(k).startswith("$") for k in value)
            and all(_is_flag(v) or _is_nested_inclusion(v) for v in value.values()))


def flatten_projection(spec, prefix=""):
    """{"a": {"b": 1}} -> {"a.b": 1}: the same projection in dotted form."""
    out = {}
    for key, value in spec.items():
        if _is_nested_inclusion(value):
            out.update(flatten_projection(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def flatten_pipeline(pipeline):
    """A copy of `pipeline` with every $project stage (also inside $lookup/$unionWith/$facet
    sub-pipelines) in dotted form; returns (new_pipeline, changed)."""
    changed = False
    out = []
    for stage in pipeline:
        if not isinstance(stage, dict) or len(stage) != 1:
            out.append(stage)
            continue
        (op, arg), = stage.items()
        if op == "$project" and isinstance(arg, dict):
            flat = flatten_projection(arg)
            if flat != arg:
                changed = True
                arg = flat
        elif op in ("$lookup", "$unionWith") and isinstance(arg, dict) and "pipeline" in arg:
            sub, sub_changed = flatten_pipeline(arg["pipeline"])
            if sub_changed:
                changed = True
                arg = dict(arg, pipeline=sub)
        elif op == "$facet" and isinstance(arg, dict):
            facets = {}
            for name, sub in arg.items():
                facets[name], sub_changed = flatten_pipeline(sub)
                changed = changed or sub_changed
            arg = facets
        out.append({op: arg})
    return out, changed


def install_workarounds():
    from django_mongodb_backend.base import DatabaseWrapper
    from pymongo.collection import Collection
    from pymongo.errors import OperationFailure

    # 1. The backend's get_database_version() calls MongoClient.server_info(), which sends
    #    {buildinfo: 1}. mongod accepts that alias of buildInfo; mongoeco 4.11 answers
    #    "unsupported wire command: buildinfo" (code 59). Retry as {buildInfo: 1}.
    original_version = DatabaseWrapper.get_database_version

    def get_database_version(self):
        try:
            return original_version(self)
        except OperationFailure as exc:
            if exc.code != 59 or "buildinfo" not in str(exc):
                raise
            note_workaround(
                "get_database_version(): pymongo server_info() sends {buildinfo: 1}, refused "
                f"with code {exc.code} {exc.details.get('errmsg')!r}; retried as {{buildInfo: 1}}")
            return tuple(build_info(self.connection)["versionArray"])

    DatabaseWrapper.get_database_version = get_database_version

    # 2. The backend projects joined fields in embedded-document form, e.g.
    #    {$project: {django_content_type: {app_label: 1, model: 1}, codename: 1}} (the query
    #    of ModelBackend.get_all_permissions). MongoDB reads that as the inclusion of
    #    "django_content_type.app_label" and "...model"; mongoeco 4.11 evaluates the embedded
    #    document as an expression and returns the literal 1, so permissions come back as
    #    "1.change_user". On mongoeco only (buildInfo gitVersion "mongoeco"), send the same
    #    projection in dotted form ({"django_content_type.app_label": 1, ...}).
    original_aggregate = Collection.aggregate
    is_mongoeco = {}

    def aggregate(self, pipeline, *args, **kwargs):
        client = self.database.client
        if id(client) not in is_mongoeco:
            is_mongoeco[id(client)] = build_info(client).get("gitVersion") == "mongoeco"
        if is_mongoeco[id(client)]:
            flat, changed = flatten_pipeline(pipeline)
            if changed:
                note_workaround(
                    "aggregate(): $project stages in embedded-document form ({a: {b: 1}}) sent "
                    "in dotted form ({'a.b': 1}); mongoeco 4.11 returns the literal 1 for the "
                    "former (mongod treats both as the inclusion of a.b)")
                pipeline = flat
        return original_aggregate(self, pipeline, *args, **kwargs)

    Collection.aggregate = aggregate


def setup_django(args):
    import django
    from django.conf import settings

    make_support_dir()
    install_workarounds()
    settings.configure(
        SECRET_KEY=args.secret_key or os.environ.get("SESAME_SECRET_KEY")
        or "django-peer-insecure-key",
        USE_TZ=True,
        TIME_ZONE=os.environ.get("SESAME_TIME_ZONE") or "America/Chicago",
        INSTALLED_APPS=[
            "sesame_mongo_apps.MongoContentTypesConfig",
            "sesame_mongo_apps.MongoAuthConfig",
            "django.contrib.sessions",
        ],
        DATABASES={"default": {
            "ENGINE": "django_mongodb_backend",
            "HOST": args.uri,
            "NAME": args.db,
        }},
        DATABASE_ROUTERS=["django_mongodb_backend.routers.MongoRouter"],
        DEFAULT_AUTO_FIELD=OBJECT_ID_AUTO_FIELD,
        MIGRATION_MODULES={
            "auth": "mongo_migrations.auth",
            "contenttypes": "mongo_migrations.contenttypes",
        },
        SESSION_ENGINE="django.contrib.sessions.backends.db",
    )
    django.setup()
    # The MongoDB-specific migrations (what the project template's mongo_migrations holds).
    call("makemigrations", "auth", "contenttypes", interactive=False, verbosity=0)


def call(name, *args, **options):
    """call_command, returning what it printed."""
    from django.core.management import call_command

    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=out, **options)
    return out.getvalue()


def versions():
    from importlib.metadata import version

    from django.db import connection

    out = {dist: version(dist) for dist in ("Django", "django-mongodb-backend", "pymongo")}
    out["python"] = sys.version.split()[0]
    try:
        connection.ensure_connection()
        info = build_info(connection.connection)
        out["server"] = info.get("version")
        out["server_git_version"] = info.get("gitVersion")
    except Exception as exc:  # noqa: BLE001 - informative only
        out["server"] = f"unknown ({type(exc).__name__}: {exc})"
    return out


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def get_user(username):
    from django.contrib.auth import get_user_model

    try:
        return get_user_model()._default_manager.get_by_natural_key(username)
    except get_user_model().DoesNotExist:
        raise PeerError(f"no user {username!r}") from None


def get_permission(label):
    from django.contrib.auth.models import Permission

    app_label, dot, codename = label.partition(".")
    if not dot:
        raise PeerError(f"permission {label!r} is not APP_LABEL.CODENAME")
    try:
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)
    except Permission.DoesNotExist:
        raise PeerError(f"no permission {label!r}") from None


def cmd_migrate(args):
    print(call("migrate", verbosity=1, interactive=False), end="")


def cmd_createuser(args):
    from django.contrib.auth import get_user_model

    manager = get_user_model().objects
    if args.superuser:
        user = manager.create_superuser(args.username, args.email, args.password)
    else:
        user = manager.create_user(args.username, args.email, args.password)
    print(str(user.pk))


def cmd_checkpassword(args):
    from django.contrib.auth import authenticate

    user = authenticate(username=args.username, password=args.password)
    if user is not None and user.get_username() == args.username:
        print(f"ok: authenticated user pk={user.pk}")
        return 0
    print("no: authenticate() returned None")
    return 1


def _request(session_key=None):
    """A fake GET request carrying a db SessionStore (loaded from session_key, if given)."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = SessionStore(session_key)
    return request


def cmd_login(args):
    """authenticate() then login() as LoginView does; save the session; print key + user id."""
    from django.contrib.auth import authenticate, login

    request = _request()
    user = authenticate(request, username=args.username, password=args.password)
    if user is None:
        print("no: authenticate() returned None")
        return 1
    login(request, user)
    request.session.save()
    print(json.dumps({"session_key": request.session.session_key, "user_id": str(user.pk)}))
    return 0


def cmd_whoami(args):
    """Load session KEY and resolve the user with django.contrib.auth.get_user (session hash
    check included); print JSON."""
    import logging

    from django.contrib.auth import get_user

    # Django's warnings (e.g. "Session data corrupted") go to stderr, so a test sees why.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    request = _request(args.session_key)
    user = get_user(request)
    out = {"authenticated": bool(user.is_authenticated), "id": None, "username": None}
    if user.is_authenticated:
        out.update(id=str(user.pk), username=user.get_username())
    out["session_keys"] = sorted(request.session.keys())
    print(json.dumps(out, sort_keys=True))
    return 0


def cmd_perms(args):
    print(json.dumps(sorted(get_user(args.username).get_all_permissions())))


def cmd_grant(args):
    user = get_user(args.username)
    user.user_permissions.add(get_permission(args.permission))


def cmd_creategroup(args):
    from django.contrib.auth.models import Group

    group, _ = Group.objects.get_or_create(name=args.name)
    for label in args.perm or ():
        group.permissions.add(get_permission(label))
    print(str(group.pk))


def cmd_addtogroup(args):
    from django.contrib.auth.models import Group

    try:
        group = Group.objects.get(name=args.group)
    except Group.DoesNotExist:
        raise PeerError(f"no group {args.group!r}") from None
    get_user(args.username).groups.add(group)


def bson_type(value):
    """The BSON type name ($type alias) of a decoded value."""
    from bson import Int64, ObjectId

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Int64):
        return "long"
    if isinstance(value, int):
        return "int" if -2**31 <= value < 2**31 else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, ObjectId):
        return "objectId"
    if isinstance(value, datetime.datetime):
        return "date"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def collect_dump():
    """{collection: {"documents": [...], "indexes": {...}, "field_types": {...}}}, plus the
    list of collection names the database has."""
    from django.db import connection

    database = connection.database
    names = sorted(database.list_collection_names())
    out = {"collection_names": names, "collections": {}}
    for name in COLLECTIONS:
        coll = database[name]
        docs = list(coll.find({}).sort("_id", 1))
        types = {}
        for doc in docs:
            for key, value in doc.items():
                types.setdefault(key, set()).add(bson_type(value))
        indexes = {}
        for idx_name, info in sorted(coll.index_information().items()):
            info = dict(info)
            info["key"] = [[k, v] for k, v in info["key"]]
            indexes[idx_name] = info
        out["collections"][name] = {
            "exists": name in names,
            "documents": docs,
            "field_types": {k: sorted(v) for k, v in types.items()},
            "indexes": indexes,
        }
    return out


def to_json(obj, mode):
    from bson import json_util

    options = json_util.CANONICAL_JSON_OPTIONS if mode == "canonical" \
        else json_util.RELAXED_JSON_OPTIONS
    return json_util.dumps(obj, json_options=options, indent=2, sort_keys=False)


def cmd_dump(args):
    dump = collect_dump()
    dump = {"versions": versions(), "json_mode": args.json_mode,
            "client_workarounds": WORKAROUNDS_USED, **dump}
    print(to_json(dump, args.json_mode))


def command_recorder():
    """A registered pymongo CommandListener keeping the schema commands (create,
    createIndexes, ...) and every failed command, for MongoClients created from now on."""
    from pymongo import monitoring

    class CommandRecorder(monitoring.CommandListener):
        pass

    recorder = CommandRecorder()
    recorder.__dict__.update(commands=[], failures=[], all_names=[])
    for name in ("started", "succeeded", "failed"):
        setattr(CommandRecorder, name, getattr(_RecorderMethods, name))
    monitoring.register(recorder)
    return recorder


class _RecorderMethods:

    KEEP = {"create", "createIndexes", "dropIndexes", "drop", "collMod"}

    def started(self, event):
        self.all_names.append(event.command_name)
        if event.command_name in _RecorderMethods.KEEP:
            cmd = {k: v for k, v in event.command.items()
                   if k not in ("lsid", "$db", "$clusterTime", "txnNumber", "$readPreference")}
            self.commands.append(cmd)

    def succeeded(self, event):
        pass

    def failed(self, event):
        self.failures.append({"command": event.command_name, "failure": event.failure})


def cmd_capture(args):
    """Run the fixture scenario in-process and write the capture file."""
    from django.db import connection

    recorder = command_recorder()
    connection.close_pool()  # makemigrations may have connected already: reconnect
    connection.connect()

    steps = []

    def step(label, func, ns):
        out = io.StringIO()
        saved = sys.stdout
        sys.stdout = out
        try:
            rc = func(argparse.Namespace(**ns))
        finally:
            sys.stdout = saved
        text = out.getvalue().strip()
        steps.append({"step": label, "output": text, "rc": rc or 0})
        log(f"{label}: {text[:200]}")
        if rc:
            raise PeerError(f"step {label!r} failed: {text}")
        return text

    existing = connection.database.list_collection_names()
    if existing:
        raise PeerError(f"database {args.db!r} is not empty: {sorted(existing)}")
    step("migrate", cmd_migrate, {})
    migrate_commands = list(recorder.commands)
    step("createuser alice", cmd_createuser,
         dict(username="alice", password="correct horse", email="alice@example.com",
              superuser=False))
    step("createuser root --superuser", cmd_createuser,
         dict(username="root", password="root pw", email="", superuser=True))
    step("creategroup editors", cmd_creategroup,
         dict(name="editors", perm=["auth.change_user"]))
    step("addtogroup alice editors", cmd_addtogroup, dict(username="alice", group="editors"))
    step("grant alice auth.view_group", cmd_grant,
         dict(username="alice", permission="auth.view_group"))
    step("checkpassword alice", cmd_checkpassword,
         dict(username="alice", password="correct horse"))
    login = json.loads(step("login alice", cmd_login,
                            dict(username="alice", password="correct horse")))
    step("whoami", cmd_whoami, dict(session_key=login["session_key"]))
    step("perms alice", cmd_perms, dict(username="alice"))

    dump = collect_dump()
    from django.contrib.sessions.backends.db import SessionStore

    sessions = dump["collections"]["django_session"]["documents"]
    decoded = {doc["session_key"]: SessionStore().decode(doc["session_data"]) for doc in sessions}
    capture = {
        "about": "Captured by scripts/django-mongo-peer capture: real Django + "
                 "django-mongodb-backend, migrate, create_user('alice', "
                 "'alice@example.com', 'correct horse'), create_superuser('root', '', 'root pw') "
                 "(never logs in), group 'editors' with "
                 "auth.change_user, alice added to it, alice granted auth.view_group, "
                 "login. 'schema_commands' are the create/createIndexes commands the backend "
                 "sent during migrate, as seen by a pymongo CommandListener (independent of "
                 "the server); 'collections.*.indexes' is index_information() as the server "
                 "reports it (a stand-in server may add or omit keys there, e.g. mongoeco adds "
                 "'ns' and 'unique: false' and omits 'v'). 'decoded_sessions' is "
                 "SessionStore().decode() of each django_session document.",
        "versions": versions(),
        "settings": {
            "DEFAULT_AUTO_FIELD": OBJECT_ID_AUTO_FIELD,
            "SECRET_KEY": settings_value("SECRET_KEY"),
            "TIME_ZONE": settings_value("TIME_ZONE"),
            "USE_TZ": settings_value("USE_TZ"),
            "INSTALLED_APPS": settings_value("INSTALLED_APPS"),
            "MIGRATION_MODULES": settings_value("MIGRATION_MODULES"),
            "SESSION_ENGINE": settings_value("SESSION_ENGINE"),
        },
        "json_mode": args.json_mode,
        "client_workarounds": WORKAROUNDS_USED,
        "steps": steps,
        "login": login,
        "decoded_sessions": decoded,
        "schema_commands": migrate_commands,
        "command_failures": [
            {"command": f["command"], "failure": f["failure"]} for f in recorder.failures
        ],
        **dump,
    }
    if WORKAROUNDS_USED:
        capture["about"] += (" The peer needed client-side workarounds for this server, listed "
                             "in 'client_workarounds'; none changes what is written.")
    text = to_json(capture, args.json_mode) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        log(f"wrote {args.out}")
    return 0


def settings_value(name):
    from django.conf import settings

    return getattr(settings, name)


# --------------------------------------------------------------------------------------------


def main(argv=None):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--uri", default=argparse.SUPPRESS,
                        help=f"MongoDB connection string (default: $MONGODB_URI or {DEFAULT_URI})")
    common.add_argument("--db", default=argparse.SUPPRESS,
                        help=f"database name (default: the URI's path, else {DEFAULT_DB})")
    common.add_argument("--secret-key", default=argparse.SUPPRESS,
                        help="SECRET_KEY (default: $SESAME_SECRET_KEY)")

    parser = argparse.ArgumentParser(
        prog="django-mongo-peer", parents=[common],
        description="A real Django 5.2 + django-mongodb-backend for Sesame's MongoDB tests.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help_):
        p = sub.add_parser(name, parents=[common], help=help_)
        p.set_defaults(func=func)
        return p

    add("migrate", cmd_migrate, "run Django's migrate")
    p = add("createuser", cmd_createuser, "create a user, print its _id hex")
    p.add_argument("username")
    p.add_argument("password")
    p.add_argument("--email", default="")
    p.add_argument("--superuser", action="store_true")
    p = add("checkpassword", cmd_checkpassword, "exit 0 when authenticate() accepts")
    p.add_argument("username")
    p.add_argument("password")
    p = add("login", cmd_login, "authenticate() + login() + save; print key and user id (JSON)")
    p.add_argument("username")
    p.add_argument("password")
    p = add("whoami", cmd_whoami, "load a session, get_user(); print the user (JSON)")
    p.add_argument("session_key")
    p = add("perms", cmd_perms, "print user.get_all_permissions(), sorted (JSON list)")
    p.add_argument("username")
    p = add("grant", cmd_grant, "add APP.CODENAME to the user's user_permissions")
    p.add_argument("username")
    p.add_argument("permission", metavar="APP.CODENAME")
    p = add("creategroup", cmd_creategroup, "create a group (with --perm ...); print its _id")
    p.add_argument("name")
    p.add_argument("--perm", action="append", metavar="APP.CODENAME")
    p = add("addtogroup", cmd_addtogroup, "add the user to the group")
    p.add_argument("username")
    p.add_argument("group")
    p = add("dump", cmd_dump, "print documents and indexes of Django's collections (JSON)")
    p.add_argument("--json-mode", choices=("relaxed", "canonical"), default="relaxed")
    p = add("capture", cmd_capture, "run the fixture scenario on an empty database, write OUT")
    p.add_argument("out", metavar="OUT", help="output file, or - for stdout")
    p.add_argument("--json-mode", choices=("relaxed", "canonical"), default="relaxed")

    args = parser.parse_args(argv)
    args.uri = getattr(args, "uri", None) or os.environ.get("MONGODB_URI") or DEFAULT_URI
    args.secret_key = getattr(args, "secret_key", None)
    try:
        args.db = database_name(args.uri, getattr(args, "db", None))
        setup_django(args)
        return args.func(args) or 0
    except PeerError as exc:
        print(f"django-mongo-peer: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # any Django/driver error: say what it was, exit non-zero
        import traceback

        traceback.print_exc()
        print(f"django-mongo-peer: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
