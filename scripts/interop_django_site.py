#!/usr/bin/env python3
"""The Django half of `scripts/interop`: a small, real Django project in one file.

This module is at once the project's settings module (DJANGO_SETTINGS_MODULE), its URLconf
and its views, so Django loads it the way it loads any project: TIME_ZONE goes into the
process's TZ (which is what reset tokens count in), SECRET_KEY_FALLBACKS, SESSION_ENGINE,
CACHES, MESSAGE_STORAGE (the default FallbackStorage) and the auth views behave exactly as on
a real site. Nothing is mocked; `scripts/interop` starts it with the interpreter of a virtual
environment that holds the Django release under test.

  interop_django_site.py createdb     drop and create the database of DJANGO_SITE_DATABASE_URL
  interop_django_site.py dropdb       drop it
  interop_django_site.py migrate      Django's `migrate`
  interop_django_site.py serve        serve on 127.0.0.1:$DJANGO_SITE_PORT (default: a free
                                      port); prints "Django X is serving on http://ADDR/"

URLs (Django's own views, plus three small JSON views for the driver):
  /accounts/...            django.contrib.auth.urls: login/, logout/ (POST), password_change/,
                           password_reset/, reset/<uidb64>/<token>/, ... (LOGIN_REDIRECT_URL
                           and LOGOUT_REDIRECT_URL are "/")
  /accounts/signup/        UserCreationForm with an e-mail field
  /api/whoami              JSON as Sesame's: authenticated, id, username, is_staff,
                           is_superuser, permissions; plus id_type (the Python type of pk)
  /messages/add?text=T[&level=L]   messages.add_message(request, L (default INFO), T)
  /messages/               the pending messages as JSON [{message, level, tags}] (consumed)
  /healthz                 "ok"

Environment (all optional except the first two):
  DJANGO_SITE_DATABASE_URL  sqlite:///abs/path, postgres://user@host:port/db,
                            mysql://root@host:port/db, mongodb://host:port/db?...
  DJANGO_SITE_SECRET_KEY, DJANGO_SITE_SECRET_KEY_FALLBACKS (comma-separated)
  DJANGO_SITE_SESSION_ENGINE  db (default), cache, cached_db, signed_cookies
  DJANGO_SITE_CACHE_URL       LOCATION of the default RedisCache (cache, cached_db)
  DJANGO_SITE_CACHE_KEY_PREFIX, DJANGO_SITE_CACHE_VERSION   its KEY_PREFIX and VERSION
  DJANGO_SITE_TIME_ZONE       TIME_ZONE (default America/Chicago, Django's default)
  DJANGO_SITE_PASSWORD_RESET_TIMEOUT   seconds (default 259200, Django's)
  DJANGO_SITE_EMAIL_FILE_PATH where the filebased e-mail backend writes (reset mails)
  DJANGO_SITE_PORT            port for `serve` (default 0: any free port)
  DJANGO_SITE_MONGO_SUPPORT   (MongoDB) a directory for the MongoDB AppConfigs and the
                              generated `mongo_migrations` (kept between migrate and serve)
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "interop_django_site")

from django_peer import parse_url as _parse_sql_url  # noqa: E402  (stdlib-only module)


def _env(name, default=""):
    return os.environ.get("DJANGO_SITE_" + name, default)


def _split(value):
    return [v.strip() for v in value.split(",") if v.strip()]


def _database():
    """(vendor, DATABASES["default"]) for DJANGO_SITE_DATABASE_URL."""
    url = _env("DATABASE_URL")
    if url.startswith("mongodb://") or url.startswith("mongodb+srv://"):
        from urllib.parse import urlsplit

        name = urlsplit(url).path.lstrip("/")
        if not name:
            raise SystemExit("interop_django_site: the MongoDB URL needs a database name")
        return "mongodb", {"ENGINE": "django_mongodb_backend", "HOST": url, "NAME": name}
    db = _parse_sql_url(url)
    if db["vendor"] == "sqlite":
        return "sqlite", {"ENGINE": "django.db.backends.sqlite3", "NAME": db["name"]}
    if db["vendor"] == "mysql":
        import pymysql

        pymysql.install_as_MySQLdb()  # Django's MySQL backend then imports PyMySQL
    return db["vendor"], {
        "ENGINE": ("django.db.backends.postgresql" if db["vendor"] == "postgres"
                   else "django.db.backends.mysql"),
        "NAME": db["name"],
        "USER": db["user"],
        "PASSWORD": db["password"],
        "HOST": db["host"],
        "PORT": str(db["port"]),
    }


# --------------------------------------------------------------------------------------------
# Settings: what a `startproject` settings.py would hold, aligned with Sesame's defaults.
# --------------------------------------------------------------------------------------------

VENDOR, _DEFAULT_DB = _database()
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECRET_KEY = _env("SECRET_KEY") or "django-insecure-interop"
SECRET_KEY_FALLBACKS = _split(_env("SECRET_KEY_FALLBACKS"))
USE_TZ = True
TIME_ZONE = _env("TIME_ZONE") or "America/Chicago"
ROOT_URLCONF = "interop_django_site"
DATABASES = {"default": _DEFAULT_DB}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
SESSION_ENGINE = "django.contrib.sessions.backends." + (_env("SESSION_ENGINE") or "db")
if _env("SESSION_ENGINE") in ("cache", "cached_db"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _env("CACHE_URL") or "redis://127.0.0.1:6379",
            "KEY_PREFIX": _env("CACHE_KEY_PREFIX"),
            "VERSION": int(_env("CACHE_VERSION") or 1),
        }
    }
PASSWORD_RESET_TIMEOUT = int(_env("PASSWORD_RESET_TIMEOUT") or 259200)  # Django's 3 days
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = _env("EMAIL_FILE_PATH") or os.path.join(os.getcwd(), "django-outbox")
DEFAULT_FROM_EMAIL = "webmaster@localhost"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation." + name}
    for name in ("UserAttributeSimilarityValidator", "MinimumLengthValidator",
                 "CommonPasswordValidator", "NumericPasswordValidator")
]
LOGGING = {  # errors of views on stderr (the driver keeps it in the row's log)
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
    "loggers": {
        "django.request": {"handlers": ["stderr"], "level": "WARNING"},
        "django.security": {"handlers": ["stderr"], "level": "WARNING"},
        "django.server": {"handlers": ["stderr"], "level": "INFO"},
        "django.contrib.sessions": {"handlers": ["stderr"], "level": "WARNING"},
    },
}

_BASE = """<!doctype html><html><head><meta charset="utf-8"><title>Django</title></head><body>
{% if user.is_authenticated %}<p class="user">{{ user.get_username }}</p>{% endif %}
{% block content %}{% endblock %}</body></html>"""
_FORM = """{% extends "base.html" %}{% block content %}
<form method="post">{% csrf_token %}{{ form.as_p }}<button type="submit">Go</button></form>
{% endblock %}"""
_TEXT = """{% extends "base.html" %}{% block content %}<p>TEXT</p>{% endblock %}"""
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": False,
    "OPTIONS": {
        "context_processors": [
            "django.template.context_processors.request",
            "django.contrib.auth.context_processors.auth",
            "django.contrib.messages.context_processors.messages",
        ],
        "loaders": [("django.template.loaders.locmem.Loader", {
            "base.html": _BASE,
            "index.html": _TEXT.replace("TEXT", "The Django site."),
            "registration/login.html": _FORM,
            "registration/signup.html": _FORM,
            "registration/logged_out.html": _TEXT.replace("TEXT", "Logged out."),
            "registration/password_change_form.html": _FORM,
            "registration/password_change_done.html": _TEXT.replace("TEXT", "Password changed."),
            "registration/password_reset_form.html": _FORM,
            "registration/password_reset_done.html": _TEXT.replace("TEXT", "Mail sent."),
            "registration/password_reset_confirm.html": _FORM.replace(
                "<form", "{% if validlink %}<form").replace(
                "</form>", "</form>{% else %}<p>invalid link</p>{% endif %}"),
            "registration/password_reset_complete.html": _TEXT.replace("TEXT", "Reset done."),
            "registration/password_reset_subject.txt": "Password reset on {{ site_name }}",
            "registration/password_reset_email.html":
                "Reset your password for {{ user.get_username }}:\n"
                "{{ protocol }}://{{ domain }}"
                "{% url 'password_reset_confirm' uidb64=uid token=token %}\n",
        })],
    },
}]

if VENDOR == "mongodb":
    # django-mongodb-backend's project template: ObjectId ids, its AppConfigs and migrations
    # (generated by `migrate` below into DJANGO_SITE_MONGO_SUPPORT, kept for `serve`).
    _SUPPORT = _env("MONGO_SUPPORT")
    if not _SUPPORT:
        raise SystemExit("interop_django_site: MongoDB needs DJANGO_SITE_MONGO_SUPPORT")
    if _SUPPORT not in sys.path:
        sys.path.insert(0, _SUPPORT)
    from django_mongo_peer import APPS_MODULE, OBJECT_ID_AUTO_FIELD

    os.makedirs(os.path.join(_SUPPORT, "mongo_migrations"), exist_ok=True)
    if not os.path.exists(os.path.join(_SUPPORT, "sesame_mongo_apps.py")):
        with open(os.path.join(_SUPPORT, "sesame_mongo_apps.py"), "w", encoding="utf-8") as f:
            f.write(APPS_MODULE)
        open(os.path.join(_SUPPORT, "mongo_migrations", "__init__.py"), "w").close()
    DEFAULT_AUTO_FIELD = OBJECT_ID_AUTO_FIELD
    INSTALLED_APPS = [
        "sesame_mongo_apps.MongoContentTypesConfig",
        "sesame_mongo_apps.MongoAuthConfig",
        "django.contrib.sessions",
        "django.contrib.messages",
    ]
    DATABASE_ROUTERS = ["django_mongodb_backend.routers.MongoRouter"]
    MIGRATION_MODULES = {
        "auth": "mongo_migrations.auth",
        "contenttypes": "mongo_migrations.contenttypes",
    }


# --------------------------------------------------------------------------------------------
# Views and URLs (built on first use: this module is imported as settings before apps load)
# --------------------------------------------------------------------------------------------


def _views():
    from django import forms
    from django.contrib import messages
    from django.contrib.auth.forms import UserCreationForm
    from django.http import HttpResponse, JsonResponse
    from django.shortcuts import redirect, render
    from django.views.decorators.csrf import csrf_protect

    def index(request):
        return render(request, "index.html")

    def whoami(request):
        user = request.user
        if not user.is_authenticated:
            return JsonResponse({"authenticated": False, "id": None, "username": None,
                                 "is_staff": False, "is_superuser": False, "permissions": []})
        return JsonResponse({
            "authenticated": True, "id": str(user.pk), "id_type": type(user.pk).__name__,
            "username": user.get_username(), "is_staff": user.is_staff,
            "is_superuser": user.is_superuser,
            "permissions": sorted(user.get_all_permissions()),
        })

    class SignupForm(UserCreationForm):
        email = forms.EmailField(required=False)

        class Meta(UserCreationForm.Meta):
            fields = ("username", "email")

    @csrf_protect
    def signup(request):
        form = SignupForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            form.save()
            return redirect("/")
        status = 400 if request.method == "POST" else 200
        return render(request, "registration/signup.html", {"form": form}, status=status)

    def messages_add(request):
        text = request.GET.get("text", "")
        level = int(request.GET.get("level", messages.INFO))
        messages.add_message(request, level, text)
        return JsonResponse({"added": text, "level": level})

    def messages_list(request):
        out = [{"message": str(m.message), "level": m.level, "tags": m.tags}
               for m in messages.get_messages(request)]
        return JsonResponse(out, safe=False)

    def healthz(request):
        return HttpResponse("ok")

    return index, whoami, signup, messages_add, messages_list, healthz


def _urlpatterns():
    from django.urls import include, path

    index, whoami, signup, messages_add, messages_list, healthz = _views()
    return [
        path("", index),
        path("accounts/signup/", signup),
        path("accounts/", include("django.contrib.auth.urls")),
        path("api/whoami", whoami),
        path("messages/add", messages_add),
        path("messages/", messages_list),
        path("healthz", healthz),
    ]


def __getattr__(name):  # PEP 562: urlpatterns on first use
    if name == "urlpatterns":
        patterns = _urlpatterns()
        globals()["urlpatterns"] = patterns
        return patterns
    raise AttributeError(name)


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def _mongo_client():
    from pymongo import MongoClient

    return MongoClient(_DEFAULT_DB["HOST"])


def cmd_createdb():
    if VENDOR == "mongodb":
        _mongo_client().drop_database(_DEFAULT_DB["NAME"])
        return
    import django_peer

    django_peer.recreate_database(_parse_sql_url(_env("DATABASE_URL")))


def cmd_dropdb():
    if VENDOR == "mongodb":
        _mongo_client().drop_database(_DEFAULT_DB["NAME"])
        return
    import django_peer

    db = _parse_sql_url(_env("DATABASE_URL"))
    if db["vendor"] == "sqlite":
        for suffix in ("", "-journal", "-wal", "-shm"):
            if os.path.exists(db["name"] + suffix):
                os.remove(db["name"] + suffix)
    else:
        django_peer.drop_database(db)


def _setup():
    import django

    django.setup()
    if VENDOR == "mongodb":
        # The two client-side rewrites the mongoeco stand-in needs (no effect on a mongod).
        from django_mongo_peer import install_workarounds

        install_workarounds()


def cmd_migrate():
    from django.core.management import call_command

    _setup()
    if VENDOR == "mongodb":
        call_command("makemigrations", "auth", "contenttypes", interactive=False, verbosity=0)
    call_command("migrate", interactive=False, verbosity=0)
    import django

    print(f"Django {django.get_version()}: migrated {VENDOR}")


def cmd_serve():
    import django
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    _setup()
    app = get_wsgi_application()
    httpd = ThreadedWSGIServer(("127.0.0.1", int(_env("PORT") or 0)), WSGIRequestHandler)
    httpd.set_app(app)
    host, port = httpd.server_address[:2]
    print(f"Django {django.get_version()} is serving on http://{host}:{port}/", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


def main(argv):
    commands = {"createdb": cmd_createdb, "dropdb": cmd_dropdb, "migrate": cmd_migrate,
                "serve": cmd_serve}
    if len(argv) != 2 or argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    commands[argv[1]]()
    return 0


if __name__ == "__main__":
    # Django imports this file again as the module `interop_django_site` (settings, URLconf);
    # run the command from that module so that there is one copy of everything.
    import importlib

    sys.exit(importlib.import_module("interop_django_site").main(sys.argv))
