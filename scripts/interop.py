#!/usr/bin/env python3
"""The two-way interop matrix: real Django releases beside the real `sesame serve`.

Run it through `scripts/interop` (see there for the options). For every store and Django
release it migrates a fresh database with Django, starts Django (scripts/interop_django_site.py,
from a virtual environment holding that release) and `sesame serve` on the same database,
secret key and session engine, and drives both over HTTP with one cookie jar, as a browser
does for one host whatever the port. Each case runs in both directions: Django→Sesame (made on
Django, used on Sesame) and Sesame→Django. Nothing is mocked: every step is a request to one
of the two servers, and every expectation is checked on the servers' answers.

Only the standard library is used here (the Django side runs in its own interpreter).
"""

import argparse
import dataclasses
import email
import email.policy
import fcntl
import html
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from urllib.parse import urlencode, urlsplit

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(SCRIPTS)
SITE = os.path.join(SCRIPTS, "interop_django_site.py")

ALL_STORES = ["sqlite", "postgres", "mysql", "redis-cache", "redis-cached_db", "signed_cookies",
              "mongodb"]
# (key, column title, what it checks)
CASES = [
    ("login", "login", "a login on one side is recognised on the other"),
    ("logout", "logout", "a logout on one side is anonymous on the other"),
    ("messages", "messages", "a message added on one side is shown on the other"),
    ("password", "password", "a changed password: the hash verifies on the other side; the "
                             "user's other sessions end on both sides"),
    ("reset", "reset", "a password-reset token made on one side is accepted on the other"),
    ("csrf", "csrf", "a CSRF token from one side is accepted by the other"),
    ("fallback", "key fallback", "a session signed with an old key is accepted through "
                                 "SECRET_KEY_FALLBACKS"),
    ("userid", "user id", "a user created on one side has the same id on the other: an "
                          "integer (ObjectId on MongoDB)"),
]
# The order they run in: "fallback" restarts the servers with other keys, so it comes last.
RUN_ORDER = ["login", "logout", "messages", "csrf", "userid", "password", "reset", "fallback"]
PASS, FAIL, SKIP = "✓", "✗", "–"
# Aligned on both sides, and not the defaults, so that a side that ignored one would show:
# reset tokens count time in TIME_ZONE's local time, so with a one-hour PASSWORD_RESET_TIMEOUT
# a side left on Django's default zone (America/Chicago, 7 hours behind Paris) makes tokens
# the other side finds expired.
TIME_ZONE = "Europe/Paris"
PASSWORD_RESET_TIMEOUT = 3600


class CaseFailed(Exception):
    """An expectation did not hold (a red cell)."""


class NotRunnable(Exception):
    """The cell or row cannot run here (shown as –, with the reason)."""


def log(msg):
    print(f"[interop] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# HTTP: one browser (a cookie jar for 127.0.0.1, shared by both sites, as a browser shares it)
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Reply:
    site: str
    method: str
    path: str
    status: int
    headers: list
    body: str

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def location(self):
        return self.header("Location")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise CaseFailed(f"{self.summary()}: not JSON") from None

    def summary(self, limit=300):
        body = re.sub(r"\s+", " ", self.body).strip()
        if len(body) > limit:
            body = body[:limit] + "…"
        loc = f" Location: {self.location}" if self.location else ""
        return f"{self.method} {self.site} {self.path} → {self.status}{loc} {body!r}"


class Browser:
    def __init__(self, row, jar=None):
        self.row = row
        self.jar = dict(jar or {})

    def clone(self):
        """Another browser holding a copy of this one's cookies (as a stolen or older copy)."""
        return Browser(self.row, self.jar)

    def request(self, site, method, path, form=None, headers=None):
        body = urlencode(form).encode() if form is not None else None
        h = {"Host": f"127.0.0.1:{site.port}", "Connection": "close",
             "User-Agent": "sesame-interop"}
        if self.jar:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        h.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as exc:
            raise CaseFailed(f"{method} {site.name} {path}: {type(exc).__name__}: {exc} "
                             f"(server log: {site.log_path})") from None
        finally:
            conn.close()
        for raw in resp.msg.get_all("Set-Cookie") or []:
            self._set_cookie(raw)
        reply = Reply(site.name, method, path, resp.status, resp.getheaders(),
                      data.decode("utf-8", "replace"))
        self.row.transcript.append(reply.summary(200))
        if resp.status >= 500:
            raise CaseFailed(f"server error: {reply.summary()} (server log: {site.log_path})")
        return reply

    def _set_cookie(self, raw):
        parts = [p.strip() for p in raw.strip().split(";")]
        name, _, value = parts[0].partition("=")
        attrs = {}
        for p in parts[1:]:
            k, _, v = p.partition("=")
            attrs[k.strip().lower()] = v.strip()
        gone = False
        if "max-age" in attrs:
            try:
                gone = int(attrs["max-age"]) <= 0
            except ValueError:
                pass
        elif "expires" in attrs:
            gone = "1970" in attrs["expires"]
        if gone:
            self.jar.pop(name, None)
        else:
            self.jar[name] = value

    def get(self, site, path, **kw):
        return self.request(site, "GET", path, **kw)

    def post(self, site, path, form, token_from=None, **kw):
        """POST a form with the CSRF token of the page `token_from` (default: the login page)
        of the same site, as a browser submitting that site's form."""
        form = dict(form)
        form["csrfmiddlewaretoken"] = site.csrf_token(self, token_from)
        return self.request(site, "POST", path, form=form, **kw)


def expect(cond, message, reply=None):
    if not cond:
        raise CaseFailed(message + (f"\n      {reply.summary()}" if reply is not None else ""))


def expect_redirect(reply, to_prefix, what):
    expect(reply.status in (301, 302, 303) and (reply.location or "").startswith(to_prefix),
           f"{what}: expected a redirect to {to_prefix}", reply)


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


class Server:
    """A server process that prints "... serving on http://127.0.0.1:PORT/" on stdout."""

    def __init__(self, name, argv, env, cwd, log_path, timeout=90):
        self.name, self.log_path = name, log_path
        self.port = None
        logf = open(log_path, "ab")
        logf.write(f"\n==== {time.strftime('%H:%M:%S')} start: {' '.join(argv)}\n".encode())
        logf.flush()
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=logf, stdin=subprocess.DEVNULL)
        self._logf = logf
        ready = threading.Event()

        def pump():
            for line in self.proc.stdout:
                logf.write(line)
                logf.flush()
                m = re.search(rb"serving on http://127\.0\.0\.1:(\d+)/", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.time() + timeout
        while not ready.wait(0.1):
            if time.time() > deadline:
                self.stop()
                raise NotRunnable(f"{name} did not start within {timeout}s (log: {log_path})")
        if self.port is None:
            self.proc.wait()
            raise ServerExited(name, self.proc.returncode, tail(log_path))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._logf.close()


class RowError(Exception):
    """The row broke (a server did not start, a step outside the cases failed): red."""


class ServerExited(RowError):
    def __init__(self, name, code, log_tail):
        super().__init__(f"{name} exited with status {code} before serving:\n{log_tail}")
        self.log_tail = log_tail


def tail(path, lines=15):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return ""


def run(argv, env, cwd, what):
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise NotRunnable(f"{what} failed ({proc.returncode}): "
                          f"{(proc.stdout + proc.stderr).strip()[-1500:]}")
    return proc.stdout


def clean_env():
    """The environment without SESAME_*/DJANGO_SITE_* settings or Python path tweaks."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SESAME_", "DJANGO_SITE_", "DJANGO_SETTINGS"))
           and k not in ("PYTHONPATH", "PYTHONHOME", "RUST_LOG")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


# --------------------------------------------------------------------------------------------
# The two sites: the same operations, each with its own URLs and answers
# --------------------------------------------------------------------------------------------

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Site:
    name = "?"

    def __init__(self, row):
        self.row = row
        self.server = None
        self.key, self.fallbacks = row.secret_key, []

    @property
    def port(self):
        return self.server.port

    @property
    def log_path(self):
        return os.path.join(self.row.dir, f"{self.name}.log")

    def restart(self, key=None, fallbacks=()):
        self.stop()
        self.key, self.fallbacks = key or self.key, list(fallbacks)
        self.start()

    def stop(self):
        if self.server:
            self.server.stop()
            self.server = None

    def csrf_token(self, browser, path=None):
        r = browser.get(self, path or "/accounts/login/")
        m = CSRF_FIELD.search(r.body)
        expect(m, f"no csrfmiddlewaretoken field on {self.name}'s page", r)
        return html.unescape(m.group(1))

    def whoami(self, browser):
        r = browser.get(self, "/api/whoami")
        expect(r.status == 200, "whoami", r)
        return r.json()

    def signup(self, browser, username, password, email_=""):
        r = browser.post(self, "/accounts/signup/",
                         {"username": username, "email": email_, "password1": password,
                          "password2": password}, token_from="/accounts/signup/")
        expect_redirect(r, "/", f"sign-up of {username!r} on {self.name}")
        return r

    def login(self, browser, username, password):
        return browser.post(self, "/accounts/login/",
                            {"username": username, "password": password})

    def must_login(self, browser, username, password):
        r = self.login(browser, username, password)
        expect_redirect(r, "/", f"login of {username!r} on {self.name}")
        return r

    def logout(self, browser):
        r = browser.post(self, "/accounts/logout/", {})
        expect_redirect(r, "/", f"logout on {self.name}")

    def change_password(self, browser, old, new):
        r = browser.post(self, "/accounts/password_change/",
                         {"old_password": old, "new_password1": new, "new_password2": new},
                         token_from="/accounts/password_change/")
        expect_redirect(r, "/accounts/password_change/done/", f"password change on {self.name}")

    def request_reset(self, browser, address):
        before = set(os.listdir(self.outbox)) if os.path.isdir(self.outbox) else set()
        r = browser.post(self, "/accounts/password_reset/", {"email": address},
                         token_from="/accounts/password_reset/")
        expect_redirect(r, "/accounts/password_reset/done/", f"reset request on {self.name}")
        deadline = time.time() + 10
        while time.time() < deadline:
            new = sorted(set(os.listdir(self.outbox)) - before) if os.path.isdir(self.outbox) \
                else []
            for name in new:
                with open(os.path.join(self.outbox, name), "rb") as f:
                    text = mail_text(f.read())
                if address in text:
                    m = re.search(r"https?://[^/\s]+(/accounts/reset/[^/\s]+/[^/\s]+/)", text)
                    expect(m, f"no reset link in {self.name}'s mail {name}:\n{text[:800]}")
                    return m.group(1)
            time.sleep(0.1)
        raise CaseFailed(f"no reset mail to {address} in {self.name}'s outbox {self.outbox}")

    def confirm_reset(self, browser, link, new_password):
        """Follow a reset link, then set the new password; True when the link was accepted
        (False: the site showed its invalid-link page)."""
        r = browser.get(self, link)
        if r.status not in (301, 302, 303):
            expect("set-password" not in r.body and "new_password1" not in r.body,
                   f"{self.name} showed a form for a link it did not redirect", r)
            return False
        uid = link.split("/")[3]
        expect_redirect(r, f"/accounts/reset/{uid}/set-password/",
                        f"{self.name} on a reset link")
        form_page = r.location
        r = browser.post(self, form_page,
                         {"new_password1": new_password, "new_password2": new_password},
                         token_from=form_page)
        expect_redirect(r, "/accounts/reset/done/", f"setting the new password on {self.name}")
        return True


class DjangoSite(Site):
    name = "django"

    def __init__(self, row):
        super().__init__(row)
        self.outbox = os.path.join(row.dir, "django-outbox")

    def env(self):
        env = clean_env()
        env.update({
            "DJANGO_SITE_DATABASE_URL": self.row.db_url,
            "DJANGO_SITE_SECRET_KEY": self.key,
            "DJANGO_SITE_SECRET_KEY_FALLBACKS": ",".join(self.fallbacks),
            "DJANGO_SITE_SESSION_ENGINE": self.row.engine,
            "DJANGO_SITE_CACHE_URL": self.row.cache_url or "",
            "DJANGO_SITE_CACHE_KEY_PREFIX": self.row.cache_key_prefix,
            "DJANGO_SITE_TIME_ZONE": TIME_ZONE,
            "DJANGO_SITE_PASSWORD_RESET_TIMEOUT": str(PASSWORD_RESET_TIMEOUT),
            "DJANGO_SITE_EMAIL_FILE_PATH": self.outbox,
            "DJANGO_SITE_MONGO_SUPPORT": os.path.join(self.row.dir, "mongo-support"),
        })
        return env

    def command(self, cmd):
        return run([self.row.django.python, SITE, cmd], self.env(), self.row.dir,
                   f"Django {cmd}")

    def start(self):
        self.server = Server(self.name, [self.row.django.python, SITE, "serve"], self.env(),
                             self.row.dir, self.log_path)

    def add_messages(self, browser, texts):
        for text, level in texts:
            r = browser.get(self, "/messages/add?" + urlencode({"text": text, "level": level}))
            expect(r.status == 200, "adding a message on django", r)

    def read_messages(self, browser):
        r = browser.get(self, "/messages/")
        expect(r.status == 200, "reading messages on django", r)
        return [(m["message"], m["level"]) for m in r.json()]

    def protected_page(self, browser, username):
        r = browser.get(self, "/accounts/password_change/")
        return r.status == 200 and "old_password" in r.body, r


class SesameSite(Site):
    name = "sesame"

    def __init__(self, row):
        super().__init__(row)
        self.outbox = os.path.join(row.dir, "sesame-outbox")

    def env(self):
        env = clean_env()
        env.update({
            "SESAME_DATABASE_URL": self.row.db_url,
            "SESAME_SECRET_KEY": self.key,
            "SESAME_SECRET_KEY_FALLBACKS": ",".join(self.fallbacks),
            "SESAME_SESSION_ENGINE": self.row.engine,
            "SESAME_TIME_ZONE": TIME_ZONE,
            "SESAME_PASSWORD_RESET_TIMEOUT": str(PASSWORD_RESET_TIMEOUT),
            "SESAME_DJANGO_VERSION": self.row.django.series,
            "SESAME_BIND": "127.0.0.1:0",
            "SESAME_EMAIL_BACKEND": "file",
            "SESAME_EMAIL_FILE_PATH": self.outbox,
            "RUST_LOG": "info",
        })
        if self.row.cache_url:
            env["SESAME_CACHE_URL"] = self.row.cache_url
            env["SESAME_CACHE_KEY_PREFIX"] = self.row.cache_key_prefix
        return env

    def command(self, *args):
        return run([self.row.sesame_bin, *args], self.env(), self.row.dir,
                   "sesame " + " ".join(args))

    def start(self):
        try:
            self.server = Server(self.name, [self.row.sesame_bin, "serve"], self.env(),
                                 self.row.dir, self.log_path)
        except ServerExited as exc:
            # A binary from before an engine was wired refuses it: that row cannot run yet.
            m = re.search(r"(unknown SESSION_ENGINE|SESSION_ENGINE .*not available).*",
                          exc.log_tail)
            if m:
                raise NotRunnable(f"`sesame serve` refuses SESAME_SESSION_ENGINE="
                                  f"{self.row.engine}: {m.group(0).strip()}") from None
            raise

    def read_messages(self, browser):
        r = browser.get(self, "/")
        expect(r.status == 200, "the index on sesame", r)
        m = re.search(r'<ul class="messages"[^>]*>(.*?)</ul>', r.body, re.S)
        if not m:
            return []
        levels = {"debug": 10, "info": 20, "success": 25, "warning": 30, "error": 40}
        out = []
        for tags, text in re.findall(r'<li class="([^"]*)">(.*?)</li>', m.group(1), re.S):
            level = next((levels[t] for t in tags.split() if t in levels), None)
            out.append((html.unescape(text), level))
        return out

    def protected_page(self, browser, username):
        r = browser.get(self, "/accounts/profile/")
        return r.status == 200 and html.escape(username) in r.body, r


def mail_text(raw):
    """The text of a mail file as Django's filebased backend or Sesame's outbox wrote it."""
    text = raw.decode("utf-8", "replace")
    chunk = text.split("\n" + "-" * 79)[0]
    try:
        msg = email.message_from_string(chunk, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        if body is not None:
            return f"To: {msg['To']}\n{body.get_content()}"
    except Exception:  # noqa: BLE001 - fall back to the raw text
        pass
    return text


# --------------------------------------------------------------------------------------------
# The cases. Each runs with `a` the side that makes the thing and `b` the side that uses it.
# --------------------------------------------------------------------------------------------


def new_user(case, a):
    """A fresh username (named after the case and the side that creates it), password and
    address."""
    name = f"{case}_{a.name[0]}{secrets.token_hex(3)}"
    return name, f"Interop-{secrets.token_urlsafe(9)}", f"{name}@example.com"


def same_user(wa, wb, username, what):
    expect(wa.get("authenticated") and wb.get("authenticated"),
           f"{what}: not authenticated on both sides: {wa} / {wb}")
    expect(wa["username"] == wb["username"] == username and wa["id"] == wb["id"],
           f"{what}: the two sides disagree: {wa} / {wb}")
    expect(sorted(wa["permissions"]) == sorted(wb["permissions"])
           and wa["is_staff"] == wb["is_staff"] and wa["is_superuser"] == wb["is_superuser"],
           f"{what}: flags or permissions differ: {wa} / {wb}")


def case_login(row, a, b):
    user, pw, mail = new_user("login", a)
    a.signup(Browser(row), user, pw, mail)
    br = Browser(row)
    a.must_login(br, user, pw)
    same_user(a.whoami(br), b.whoami(br), user, f"logged in on {a.name}")
    ok, r = b.protected_page(br, user)
    expect(ok, f"{b.name}'s login-required page with the session from {a.name}", r)
    return f"{b.name} recognises {user} (id {b.whoami(br)['id']})"


def case_logout(row, a, b):
    user, pw, mail = new_user("logout", a)
    a.signup(Browser(row), user, pw, mail)
    br = Browser(row)
    a.must_login(br, user, pw)
    expect(b.whoami(br).get("username") == user, f"{b.name} does not see the login on {a.name}")
    before = br.clone()  # the cookies as they were: a copy kept elsewhere, or replayed
    a.logout(br)
    w = b.whoami(br)
    expect(not w["authenticated"], f"{b.name} still sees {user} after the logout on {a.name}: {w}")
    if row.engine == "signed_cookies":
        return "signed cookies cannot be revoked: the pre-logout cookie stays valid (as in Django)"
    w = b.whoami(before)
    expect(not w["authenticated"],
           f"{b.name} still accepts the pre-logout session cookie after the logout on "
           f"{a.name}: {w}")
    w = a.whoami(before)
    expect(not w["authenticated"], f"{a.name} still accepts its own pre-logout cookie: {w}")
    return "the pre-logout cookie is refused on both sides"


def case_messages(row, a, b):
    br = Browser(row)
    if isinstance(a, DjangoSite):
        # A short message stays in the messages cookie; a long, incompressible one (over the
        # cookie's 2 KB) goes to the session: Django's FallbackStorage keeps the oldest
        # messages that do not fit in the session and reads the cookie's first.
        alphabet = "abcdefghijklmnopqrstuvwxyzäöüßéèçñ€✓—«»"
        long = ("Überlauf: " + "".join(secrets.choice(alphabet) for _ in range(3000)), 30)
        short = ("Grüße aus Django ✓ — «interop»", 25)
        a.add_messages(br, [long, short])
        expect("sessionid" in br.jar and "messages" in br.jar,
               f"expected a messages cookie and a session (the spill), have {sorted(br.jar)}")
        rounds = [([short, long], "a message in the cookie and one spilled into the session")]
    else:
        user, pw = f"jürgen_{secrets.token_hex(3)}", f"Interop-{secrets.token_urlsafe(9)}"
        rounds = []
    for i, (expected, how) in enumerate(rounds or [(None, None)] * 2):
        if isinstance(a, SesameSite):
            # Sesame's site adds messages on sign-up and logout. Any page it renders shows
            # (and consumes) pending messages, so each is read before the next request.
            if i == 0:
                a.signup(br, user, pw, f"{secrets.token_hex(4)}@example.com")
                expected = [(f"Welcome, {user}! Your account has been created.", 25)]
                how = "sign-up (a non-ASCII username)"
            else:
                a.logout(br)
                expected = [("You have been logged out.", 20)]
                how = "logout"
        got = b.read_messages(br)
        expect(sorted(got) == sorted(expected),
               f"after the {how} on {a.name}, {b.name} shows {got!r}, expected {expected!r}")
        again_b, again_a = b.read_messages(br), a.read_messages(br)
        expect(not again_b and not again_a,
               f"messages shown on {b.name} are still pending: {b.name} {again_b!r}, "
               f"{a.name} {again_a!r}")
    if isinstance(a, DjangoSite):
        return rounds[0][1]
    return "sign-up (non-ASCII username) and logout messages"


def case_csrf(row, a, b):
    br = Browser(row)
    token = a.csrf_token(br)  # a's login page: a's csrftoken cookie and masked form token
    cookie = br.jar.get("csrftoken")
    expect(cookie, f"{a.name} set no csrftoken cookie")
    form = {"username": "nobody", "password": "wrong password"}
    bad = "x" * 64
    r = br.request(b, "POST", "/accounts/login/", form=dict(form, csrfmiddlewaretoken=bad))
    expect(r.status == 403, f"{b.name} accepted a forged CSRF token (the control)", r)
    r = br.request(b, "POST", "/accounts/login/", form=dict(form, csrfmiddlewaretoken=token))
    expect(r.status != 403, f"{b.name} refused the form token made by {a.name}", r)
    expect(r.status in (200, 400) and ("correct username" in r.body or "errorlist" in r.body),
           f"{b.name} did not run the form after the CSRF check", r)
    r = br.request(b, "POST", "/accounts/login/", form=form, headers={"X-CSRFToken": token})
    expect(r.status != 403, f"{b.name} refused the X-CSRFToken header made by {a.name}", r)
    expect(br.jar.get("csrftoken") == cookie, f"{b.name} replaced {a.name}'s CSRF cookie")
    return "form field and X-CSRFToken header; a forged token is refused"


def case_userid(row, a, b):
    user, pw, mail = new_user("userid", a)
    ba = Browser(row)
    a.signup(ba, user, pw, mail)
    a.must_login(ba, user, pw)
    bb = Browser(row)
    b.must_login(bb, user, pw)
    wa, wb = a.whoami(ba), b.whoami(bb)
    expect(wa["id"] == wb["id"], f"ids differ: {a.name} {wa} / {b.name} {wb}")
    dj = wa if isinstance(a, DjangoSite) else wb
    if row.store == "mongodb":
        expect(re.fullmatch(r"[0-9a-f]{24}", wa["id"]) and dj.get("id_type") == "ObjectId",
               f"not an ObjectId: {dj}")
        return f"ObjectId {wa['id']} on both sides"
    expect(re.fullmatch(r"[1-9][0-9]*", wa["id"]) and dj.get("id_type") == "int",
           f"not an integer id: {dj}")
    return f"integer id {wa['id']} on both sides"


def case_password(row, a, b):
    user, pw, mail = new_user("password", a)
    a.signup(Browser(row), user, pw, mail)
    changer, on_b, on_a = Browser(row), Browser(row), Browser(row)
    a.must_login(changer, user, pw)
    b.must_login(on_b, user, pw)
    a.must_login(on_a, user, pw)
    for br in (changer, on_b, on_a):
        expect(a.whoami(br.clone())["authenticated"] and b.whoami(br.clone())["authenticated"],
               "before the change, a session is not recognised on both sides")
    new = f"Changed-{secrets.token_urlsafe(9)}"
    a.change_password(changer, pw, new)
    # The side that did not make the change must see it by itself: check it first (a side
    # that finds a stale hash flushes the session, which the other would then merely miss).
    for site in (b, a):
        w = site.whoami(changer)
        expect(w.get("username") == user,
               f"the session that changed the password is lost on {site.name}: {w}")
    for other, made_on in ((on_b, b), (on_a, a)):
        for site in (b, a):
            w = site.whoami(other.clone())
            expect(not w["authenticated"],
                   f"another session (made on {made_on.name}) survives the password change "
                   f"on {site.name}: {w}")
    r = b.login(Browser(row), user, pw)
    expect(r.status not in (301, 302, 303), f"{b.name} still accepts the old password", r)
    b.must_login(Browser(row), user, new)
    return f"{b.name} verifies {a.name}'s new hash; 2 other sessions ended on both sides"


def case_reset(row, a, b):
    user, pw, mail = new_user("reset", a)
    a.signup(Browser(row), user, pw, mail)
    link = a.request_reset(Browser(row), mail)
    uid, token = link.split("/")[3:5]
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    new = f"Reset-{secrets.token_urlsafe(9)}"
    expect(not b.confirm_reset(Browser(row), f"/accounts/reset/{uid}/{forged}/", new),
           f"{b.name} accepted a forged reset token (the control)")
    accepted = b.confirm_reset(Browser(row), link, new)
    expect(accepted, f"{b.name} refused the reset link made by {a.name}: {link}")
    r = a.login(Browser(row), user, pw)
    expect(r.status not in (301, 302, 303), f"{a.name} still accepts the old password", r)
    a.must_login(Browser(row), user, new)
    expect(not b.confirm_reset(Browser(row), link, new + "x"),
           f"{b.name} accepted the same reset link twice")
    return f"{b.name} accepts {a.name}'s token; {a.name} verifies the new hash; a used link dies"


def case_fallback(row, a, b):
    """a signs with its key; b restarts with a new key: anonymous without fallbacks,
    recognised with a's key in SECRET_KEY_FALLBACKS."""
    user, pw, mail = new_user("fallback", a)
    a.signup(Browser(row), user, pw, mail)
    br, control = Browser(row), Browser(row)
    a.must_login(br, user, pw)
    a.must_login(control, user, pw)
    if isinstance(a, DjangoSite):
        text = "Signé avec l’ancienne clé ✓"
        a.add_messages(br, [(text, 20)])
        expected_messages = [(text, 20)]
    else:
        expected_messages = None
    old_key = a.key
    new_key = f"interop-{secrets.token_urlsafe(30)}"
    expect(b.whoami(br.clone())["authenticated"], f"{b.name} does not see the login before")
    b.restart(new_key, [])
    w = b.whoami(control)  # its own session: an unverifiable one may be flushed
    expect(not w["authenticated"],
           f"{b.name} with a new key and no fallbacks still accepts {a.name}'s session: {w}")
    b.restart(new_key, [old_key])
    w = b.whoami(br)
    expect(w.get("username") == user,
           f"{b.name} with SECRET_KEY_FALLBACKS=[old key] does not accept {a.name}'s session: {w}")
    if expected_messages:
        got = b.read_messages(br)
        expect(got == expected_messages,
               f"{b.name} shows {got!r} for a messages cookie signed with the old key, "
               f"expected {expected_messages!r}")
        return "the session and the messages cookie, both signed with the old key"
    return "the session signed with the old key"


CASE_FUNCS = {"login": case_login, "logout": case_logout, "messages": case_messages,
              "password": case_password, "reset": case_reset, "csrf": case_csrf,
              "fallback": case_fallback, "userid": case_userid}


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class DjangoRelease:
    series: str          # "5.2"
    python: str = ""     # the venv's interpreter ("" when unavailable)
    version: str = ""    # "5.2.19"
    mongo_python: str = ""
    problem: str = ""    # why it cannot run, if it cannot


class Row:
    def __init__(self, store, django, opts, workdir):
        self.store, self.django, self.opts = store, django, opts
        self.tag = f"{os.getpid()}_{django.series.replace('.', '')}_{store.replace('-', '_')}"
        self.dir = os.path.join(workdir, f"{store}-django{django.series}")
        os.makedirs(self.dir, exist_ok=True)
        self.sesame_bin = opts.sesame_bin
        self.secret_key = f"interop-{secrets.token_urlsafe(30)}"
        self.transcript = []
        self.engine = {"redis-cache": "cache", "redis-cached_db": "cached_db",
                       "signed_cookies": "signed_cookies"}.get(store, "db")
        self.cache_url = opts.redis_url if store.startswith("redis-") else None
        # CACHES KEY_PREFIX on both sides: Django's format, a prefix of this run's own.
        self.cache_key_prefix = f"sesame-interop-{self.tag}-{secrets.token_hex(3)}"
        sqlite = os.path.join(self.dir, "site.sqlite3")
        name = f"sesame_interop_{self.tag}"
        if store == "postgres":
            self.db_url = replace_db(opts.postgres_url, name)
        elif store == "mysql":
            self.db_url = replace_db(opts.mysql_url, name)
        elif store == "mongodb":
            self.db_url = replace_db(opts.mongodb_uri, name)
        else:
            self.db_url = "sqlite://" + sqlite
        self.cells = {}      # case -> [(mark, note), (mark, note)]  (D→S, S→D)
        self.problem = None  # the row could not run here (–)
        self.error = None    # the row broke outside the cases (✗)
        self.seconds = 0.0
        self.django_site = DjangoSite(self)
        self.sesame_site = SesameSite(self)

    @property
    def label(self):
        return self.store

    def run(self, cases):
        start = time.time()
        try:
            self._run(cases)
        except NotRunnable as exc:
            self.problem = str(exc)
        except RowError as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug here is a red row, with its trace
            self.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
        finally:
            self.django_site.stop()
            self.sesame_site.stop()
            self.cleanup()
            self.seconds = time.time() - start

    def _run(self, cases):
        if self.django.problem:
            raise NotRunnable(self.django.problem)
        if self.store == "mongodb":
            if not self.django.mongo_python:
                raise NotRunnable(self.django.problem or "no Django + django-mongodb-backend")
            self.django = dataclasses.replace(self.django, python=self.django.mongo_python)
        if self.cache_url:
            redis_ping(self.cache_url)
        self.django_site.command("createdb")
        self.django_site.command("migrate")
        if self.store == "mongodb":
            self.sesame_site.command("migrate")  # Sesame's TTL index beside Django's
        self.sesame_site.start()
        self.django_site.start()
        for case in RUN_ORDER:
            if case not in cases:
                continue
            marks = []
            for a, b in ((self.django_site, self.sesame_site),
                         (self.sesame_site, self.django_site)):
                self.transcript = []
                try:
                    note = CASE_FUNCS[case](self, a, b)
                    marks.append((PASS, note or ""))
                except NotRunnable as exc:
                    marks.append((SKIP, str(exc)))
                except CaseFailed as exc:
                    steps = "\n".join("      · " + t for t in self.transcript[-6:])
                    marks.append((FAIL, f"{exc}\n    last requests:\n{steps}"))
                except Exception as exc:  # noqa: BLE001 - a bug here is a red cell too
                    marks.append((FAIL, f"{type(exc).__name__}: {exc}\n"
                                        + traceback.format_exc(limit=3)))
                with open(os.path.join(self.dir, "transcript.txt"), "a", encoding="utf-8") as f:
                    direction = f"{a.name}→{b.name}"
                    f.write(f"== {case} {direction}: {marks[-1][0]} {marks[-1][1]}\n")
                    f.writelines(f"   {t}\n" for t in self.transcript)
                if case == "fallback":  # back to the row's key for whatever comes next
                    for site in (self.django_site, self.sesame_site):
                        if site.key != self.secret_key or site.fallbacks:
                            site.restart(self.secret_key, [])
            self.cells[case] = marks

    def cleanup(self):
        if self.opts.keep:
            return
        try:
            if self.cache_url:
                redis_delete_prefix(self.cache_url, self.cache_key_prefix)
            if self.django.python and not self.problem:
                self.django_site.command("dropdb")
        except Exception as exc:  # noqa: BLE001
            log(f"{self.label}: cleanup: {exc}")

    def failed(self):
        return bool(self.error) or any(
            m == FAIL for marks in self.cells.values() for m, _ in marks)


def replace_db(url, name):
    parts = urlsplit(url)
    return parts._replace(path="/" + name).geturl()


# --------------------------------------------------------------------------------------------
# Redis (a few RESP commands, to check the server and remove this run's keys)
# --------------------------------------------------------------------------------------------


class Redis:
    """Just enough RESP for PING, SCAN and DEL (the driver needs no client library)."""

    def __init__(self, url):
        parts = urlsplit(url)
        self.url = url
        self.sock = socket.create_connection((parts.hostname or "127.0.0.1",
                                              parts.port or 6379), 5)
        self.f = self.sock.makefile("rb")
        if parts.password:
            self.call("AUTH", *([parts.username] if parts.username else []), parts.password)
        self.call("SELECT", parts.path.strip("/") or "0")

    def call(self, *cmd):
        out = b"*%d\r\n" % len(cmd)
        for c in cmd:
            c = str(c).encode()
            out += b"$%d\r\n%s\r\n" % (len(c), c)
        self.sock.sendall(out)
        return self._read()

    def _read(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:].strip()
        if kind == b"-":
            raise NotRunnable(f"Redis at {self.url}: {rest.decode()}")
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2].decode()
        if kind == b"*":
            return [self._read() for _ in range(int(rest))]
        return rest.decode()

    def close(self):
        self.sock.close()


def redis_ping(url):
    try:
        Redis(url).close()
    except OSError as exc:
        raise NotRunnable(f"no Redis at {url}: {exc}") from None


def redis_delete_prefix(url, prefix):
    """Delete every key under this run's KEY_PREFIX (unique to the run)."""
    r = Redis(url)
    try:
        cursor, deleted = "0", 0
        while True:
            cursor, keys = r.call("SCAN", cursor, "MATCH", prefix + ":*", "COUNT", 1000)
            if keys:
                deleted += int(r.call("DEL", *keys))
            if cursor == "0":
                return deleted
    finally:
        r.close()


# --------------------------------------------------------------------------------------------
# Virtual environments: Django 5.2 through the peers' own scripts, newer ones here
# --------------------------------------------------------------------------------------------

COMMON_REQS = ["argon2-cffi", "bcrypt", "psycopg[binary]", "PyMySQL", "redis"]


def venv_python(path):
    return os.path.join(path, "bin", "python")


def installed_version(python, dist):
    proc = subprocess.run([python, "-c", "import sys, importlib.metadata as m; "
                                         "print(m.version(sys.argv[1]))", dist],
                          capture_output=True, text=True, env=clean_env())
    return proc.stdout.strip() if proc.returncode == 0 else ""


def newer_python(minimum=(3, 12)):
    """The newest interpreter >= `minimum`: $INTEROP_PYTHON, pyenv's, or python3.1x on PATH."""
    candidates = [os.environ.get("INTEROP_PYTHON", "")]
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    versions = os.path.join(root, "versions")
    if os.path.isdir(versions):
        for v in os.listdir(versions):
            candidates.append(os.path.join(versions, v, "bin", "python3"))
    for n in range(20, minimum[1] - 1, -1):
        found = shutil.which(f"python3.{n}")
        if found:
            candidates.append(found)
    best = None
    for c in candidates:
        if not c or not os.path.exists(c):
            continue
        proc = subprocess.run([c, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            continue
        ver = tuple(int(x) for x in proc.stdout.strip().split("."))
        if ver[:2] >= minimum and (best is None or ver > best[0]):
            best = (ver, c)
    return best[1] if best else None


def ensure_venv(path, python, reqs):
    """Create the venv at `path` with `python` if needed and pip-install what is missing."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(os.path.join(os.path.dirname(path), ".interop.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(venv_python(path)):
            log(f"creating {path} with {python}")
            subprocess.run([python, "-m", "venv", path], check=True)
        check = [r for r in reqs if not requirement_met(venv_python(path), r)]
        if check:
            log(f"installing into {path}: {' '.join(check)}")
            proc = subprocess.run([venv_python(path), "-m", "pip", "install", "--quiet",
                                   "--disable-pip-version-check", *check],
                                  capture_output=True, text=True, env=clean_env())
            if proc.returncode != 0:
                raise NotRunnable(f"pip install {' '.join(check)} failed: "
                                  f"{(proc.stdout + proc.stderr).strip()[-800:]}")


def requirement_met(python, req):
    m = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?(?:==([0-9.]+)\.\*)?$", req)
    dist, series = m.group(1), m.group(2)
    version = installed_version(python, dist)
    return bool(version) and (series is None or (version + ".").startswith(series + "."))


def prepare_django(series, need_sql, need_mongo):
    rel = DjangoRelease(series)
    try:
        if series == "5.2":
            # The peers' own scripts keep .venv/django52 and .venv/django52-mongo.
            if need_sql:
                run([os.path.join(SCRIPTS, "django-peer"), "--help"], clean_env(), REPO,
                    "scripts/django-peer (its virtual environment)")
                rel.python = venv_python(os.path.join(REPO, ".venv", "django52"))
            if need_mongo:
                run([os.path.join(SCRIPTS, "django-mongo-peer"), "--help"], clean_env(), REPO,
                    "scripts/django-mongo-peer (its virtual environment)")
                rel.mongo_python = venv_python(os.path.join(REPO, ".venv", "django52-mongo"))
        else:
            major, minor = (int(x) for x in series.split("."))
            if (major, minor) < (6, 0):
                raise NotRunnable(f"Django {series}: only 5.2 and 6.0 or newer are supported")
            python = newer_python((3, 12))
            if not python:
                raise NotRunnable(f"Django {series} needs Python 3.12 or newer; none found "
                                  "(set INTEROP_PYTHON)")
            venv = os.path.join(REPO, ".venv", f"django{major}{minor}")
            reqs = [f"django=={series}.*"] + COMMON_REQS
            if need_mongo:
                reqs.append(f"django-mongodb-backend=={series}.*")
            ensure_venv(venv, python, reqs)
            rel.python = venv_python(venv)
            if need_mongo:
                rel.mongo_python = rel.python
        probe = rel.python or rel.mongo_python
        rel.version = installed_version(probe, "Django")
        if not rel.version.startswith(series + ".") and rel.version != series:
            raise NotRunnable(f"expected Django {series}, the venv has {rel.version!r}")
    except NotRunnable as exc:
        rel.problem = str(exc)
    return rel


# --------------------------------------------------------------------------------------------
# MongoDB: a given MONGODB_URI, or the stand-in server of with-mongo.sh for this run
# --------------------------------------------------------------------------------------------


class MongoServer:
    def __init__(self):
        self.proc = None
        self.uri = os.environ.get("MONGODB_URI")
        self.problem = None

    def start(self):
        if self.uri or self.problem:
            return
        tool = None
        for candidate in (os.environ.get("SESAME_WITH_MONGO", ""),
                          os.path.join(os.environ.get("SESAME_MONGO_TOOLS", ""), "with-mongo.sh"),
                          os.path.join(REPO, "..", "shared", "tools", "mongo", "with-mongo.sh")):
            if candidate and os.access(candidate, os.X_OK):
                tool = candidate
                break
        if not tool:
            self.problem = "no MONGODB_URI and no with-mongo.sh (set SESAME_WITH_MONGO)"
            return
        env = dict(os.environ, MONGO_TEST_PORT=os.environ.get("INTEROP_MONGO_PORT", "27317"))
        # with-mongo.sh runs this command beside a fresh server and stops the server when the
        # command ends: it prints the URI, then waits for its stdin to close.
        self.proc = subprocess.Popen(
            [tool, sys.executable, "-c",
             "import os, sys; print(os.environ['MONGODB_URI'], flush=True); sys.stdin.read()"],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        line = ""
        while not line.startswith("mongodb"):  # (a first run may print pip's output first)
            raw = self.proc.stdout.readline()
            if not raw:
                break
            line = raw.strip()
        if not line.startswith("mongodb"):
            err = self.proc.stderr.read()
            self.proc.wait()
            self.proc = None
            self.problem = f"the MongoDB stand-in did not start: {line} {err.strip()[-500:]}"
            return
        self.uri = line
        log(f"MongoDB stand-in (with-mongo.sh) at {self.uri}")

    def stop(self):
        if self.proc:
            self.proc.stdin.close()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait()
            self.proc = None


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------


def render(rows, cases, opts):
    titles = [title for key, title, _ in CASES if key in cases]
    keys = [key for key, _, _ in CASES if key in cases]
    head = ["store", "django"] + titles
    body = []
    for row in rows:
        cells = [row.store, row.django.version or row.django.series]
        for key in keys:
            marks = row.cells.get(key)
            if marks:
                cells.append(" ".join(m for m, _ in marks))
            elif row.error:
                cells.append(f"{FAIL} {FAIL}")
            else:
                cells.append(f"{SKIP} {SKIP}")
        body.append(cells)
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa
    out = [line(head), line(["─" * w for w in widths])] + [line(r) for r in body]
    legend = [
        "",
        f"Each cell: Django→Sesame then Sesame→Django. {PASS} passed, {FAIL} failed, "
        f"{SKIP} not run here (reason below).",
    ]
    for key, title, what in CASES:
        if key in cases:
            legend.append(f"  {title:<14}{what}")
    details = []
    for row in rows:
        where = f"{row.store} · Django {row.django.version or row.django.series}"
        if row.error:
            details.append(f"{FAIL} {where}: the row broke: {row.error}")
        if row.problem:
            details.append(f"{SKIP} {where}: not run: {row.problem}")
            continue
        for key, title, _ in CASES:
            for (mark, note), direction in zip(row.cells.get(key, []),
                                               ("Django→Sesame", "Sesame→Django")):
                if mark == FAIL:
                    details.append(f"{FAIL} {where}, {title}, {direction}: {note}")
                elif mark == SKIP:
                    details.append(f"{SKIP} {where}, {title}, {direction}: {note}")
                elif opts.verbose:
                    details.append(f"{PASS} {where}, {title}, {direction}: {note}")
    return "\n".join(out + legend + ([""] + details if details else []))


# --------------------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(prog="scripts/interop", description=__doc__.split("\n\n")[0])
    p.add_argument("--django", default="5.2,6.0",
                   help="Django release series, comma-separated (default: 5.2,6.0)")
    p.add_argument("--stores", default=",".join(ALL_STORES),
                   help=f"comma-separated subset of {','.join(ALL_STORES)} (default: all)")
    p.add_argument("--cases", default=",".join(k for k, _, _ in CASES),
                   help="comma-separated subset of the cases (default: all)")
    p.add_argument("--sesame-bin", default=os.environ.get("SESAME_BIN", ""),
                   help="the sesame binary (default: $SESAME_BIN, else a release build)")
    p.add_argument("--postgres-url", default=os.environ.get(
        "SESAME_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"))
    p.add_argument("--mysql-url", default=os.environ.get(
        "SESAME_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"))
    p.add_argument("--redis-url", default=os.environ.get(
        "SESAME_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--keep", action="store_true",
                   help="keep the databases, Redis keys and the work directory")
    p.add_argument("-v", "--verbose", action="store_true", help="also describe passing cells")
    opts = p.parse_args(argv)
    opts.series = [s.strip() for s in opts.django.split(",") if s.strip()]
    opts.store_list = [s.strip() for s in opts.stores.split(",") if s.strip()]
    opts.case_list = [c.strip() for c in opts.cases.split(",") if c.strip()]
    for s in opts.store_list:
        if s not in ALL_STORES:
            p.error(f"unknown store {s!r} (one of {', '.join(ALL_STORES)})")
    for c in opts.case_list:
        if c not in CASE_FUNCS:
            p.error(f"unknown case {c!r} (one of {', '.join(CASE_FUNCS)})")
    for s in opts.series:
        if not re.fullmatch(r"\d+\.\d+", s):
            p.error(f"--django takes release series such as 5.2 or 6.0, not {s!r}")
    return opts


def main(argv=None):
    opts = parse_args(argv)
    if not opts.sesame_bin or not os.access(opts.sesame_bin, os.X_OK):
        print(f"interop: no sesame binary at {opts.sesame_bin!r}", file=sys.stderr)
        return 2
    ci = os.environ.get("CI") == "true"
    need_sql = any(s != "mongodb" for s in opts.store_list)
    need_mongo = "mongodb" in opts.store_list
    releases = [prepare_django(s, need_sql, need_mongo) for s in opts.series]
    workdir = tempfile.mkdtemp(prefix="sesame-interop-")
    mongo = MongoServer()
    rows = []
    try:
        for rel in releases:
            for store in opts.store_list:
                if store == "mongodb":
                    mongo.start()
                    opts.mongodb_uri = mongo.uri or "mongodb://127.0.0.1:27017/"
                row = Row(store, rel, opts, workdir)
                if store == "mongodb" and mongo.problem:
                    row.problem = mongo.problem
                else:
                    log(f"{store} · Django {rel.version or rel.series} …")
                    row.run(opts.case_list)
                rows.append(row)
                summary = "not run" if row.problem else (
                    "failed" if row.failed() else "passed")
                log(f"{store} · Django {rel.version or rel.series}: {summary} "
                    f"({row.seconds:.0f}s)")
    finally:
        mongo.stop()
    sesame_version = subprocess.run([opts.sesame_bin, "--version"], capture_output=True,
                                    text=True).stdout.strip()
    print(f"Sesame beside Django: the two-way interop matrix ({sesame_version or 'sesame'}, "
          f"{opts.sesame_bin})")
    print()
    print(render(rows, opts.case_list, opts))
    failed = [r for r in rows if r.failed()]
    skipped = [r for r in rows if r.problem] + [
        r for r in rows if any(m == SKIP for ms in r.cells.values() for m, _ in ms)]
    if failed or opts.keep:
        print(f"\nServer logs and databases: {workdir}")
    elif not opts.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        return 1
    if skipped and ci:
        print("\nCI=true: a cell that cannot run counts as a failure.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
