#!/usr/bin/env python3
"""Generate Sesame's Django 5.2 interop test vectors with Django's own code.

Produces:
  crates/sesame-core/tests/vectors/django-5.2.json   every section described below
  crates/sesame-core/data/common-passwords.txt.gz    Django's bundled list, copied byte for byte

Do not run this file directly: `scripts/django-vectors` creates the virtual environment
(.venv/django52 with django==5.2.*, argon2-cffi, bcrypt) and runs it. That script is THE way to
refresh the vectors; commit the regenerated files.

Everything is computed by calling Django (settings.configure() as in §13 of
../shared/spec/django-sessions.md, USE_TZ=True). The clock is frozen with unittest.mock
(`time.time` and `django.utils.timezone.now`), and hashers get explicit salts, so two runs give
identical output except for `passwords_unusable` and `csrf_masked`, which are random by design.

The JSON is written with indent=1 and ensure_ascii=False (raw UTF-8). Top-level sections are
sorted by name, but dictionaries *inside* the vectors keep their insertion order, because that
order is part of what Django signs (json.dumps does not sort keys).
"""

import argparse
import filecmp
import gzip
import hashlib
import json
import logging
import os
import platform
import shutil
import time
import zlib
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone as dt_timezone
from unittest import mock

import django
from django.conf import settings

T = 1_700_000_000  # 2023-11-14T22:13:20Z, base62 "1r31eq"; the frozen clock used everywhere
SECRET_KEY = "django_tests_secret_key"  # the key of Django's own test settings

DEFAULT_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# Not in Django's default list; appended so they can be identified and verified.
EXTRA_HASHERS = [
    "django.contrib.auth.hashers.BCryptPasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]

settings.configure(
    SECRET_KEY=SECRET_KEY,
    SECRET_KEY_FALLBACKS=[],
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    USE_TZ=True,
    ALLOWED_HOSTS=["*"],
    PASSWORD_HASHERS=DEFAULT_HASHERS + EXTRA_HASHERS,
    AUTH_PASSWORD_VALIDATORS=[
        {"NAME": "django.contrib.auth.password_validation." + name}
        for name in (
            "UserAttributeSimilarityValidator",
            "MinimumLengthValidator",
            "CommonPasswordValidator",
            "NumericPasswordValidator",
        )
    ],
)
django.setup()

# Django imports that need configured settings / a populated app registry.
from django.contrib.auth import hashers  # noqa: E402
from django.contrib.auth.hashers import (  # noqa: E402
    Argon2PasswordHasher,
    BCryptPasswordHasher,
    BCryptSHA256PasswordHasher,
    MD5PasswordHasher,
    PBKDF2PasswordHasher,
    PBKDF2SHA1PasswordHasher,
    ScryptPasswordHasher,
    check_password,
    identify_hasher,
    make_password,
)
from django.contrib.auth.models import User  # noqa: E402
from django.contrib.auth.password_validation import (  # noqa: E402
    CommonPasswordValidator,
    validate_password,
)
from django.contrib.auth.tokens import PasswordResetTokenGenerator  # noqa: E402
from django.contrib.messages.storage.base import Message  # noqa: E402
from django.contrib.messages.storage.cookie import CookieStorage  # noqa: E402
from django.contrib.messages.storage.session import SessionStorage  # noqa: E402
from django.contrib.sessions.backends import db as db_backend  # noqa: E402
from django.contrib.sessions.backends import signed_cookies  # noqa: E402
from django.core import signing  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.middleware import csrf  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils.encoding import force_bytes  # noqa: E402
from django.utils.http import urlsafe_base64_encode  # noqa: E402
from django.utils.safestring import SafeData, mark_safe  # noqa: E402

# Session decode failures log "Session data corrupted" on this logger; expected here, so quiet it.
logging.getLogger("django.security.SuspiciousSession").setLevel(logging.CRITICAL)


def log(msg):
    print(f"[django_vectors] {msg}", flush=True)


@contextmanager
def frozen(unix):
    """Freeze both clocks Django reads: time.time() (signing timestamps) and timezone.now()."""
    aware = datetime.fromtimestamp(unix, tz=dt_timezone.utc)
    with (
        mock.patch("time.time", return_value=float(unix)),
        mock.patch("django.utils.timezone.now", return_value=aware),
    ):
        yield


def keys(secret_key=SECRET_KEY, fallbacks=()):
    """Run with SECRET_KEY / SECRET_KEY_FALLBACKS overridden (both read at call time)."""
    return override_settings(SECRET_KEY=secret_key, SECRET_KEY_FALLBACKS=list(fallbacks))


# --------------------------------------------------------------------------------------------
# Passwords (hashers)
# --------------------------------------------------------------------------------------------

# Cheap variants so tests stay fast. They keep the algorithm name, so Django identifies their
# output as the ordinary hasher and reports must_update=True (parameters differ from 5.2's).
class CheapPBKDF2(PBKDF2PasswordHasher):
    iterations = 1000


class CheapPBKDF2SHA1(PBKDF2SHA1PasswordHasher):
    iterations = 1000


class CheapArgon2(Argon2PasswordHasher):
    memory_cost = 1024
    time_cost = 1
    parallelism = 1


class CheapBCryptSHA256(BCryptSHA256PasswordHasher):
    rounds = 4


class CheapBCrypt(BCryptPasswordHasher):
    rounds = 4


class CheapScrypt(ScryptPasswordHasher):
    work_factor = 1024


PW_ASCII = "password"
PW_UNICODE = "pässwörd-ß-日本 🐍"
PW_EMPTY = ""
PW_LONG_ASCII = "x" * 100
PW_LONG_UNICODE = ("pässwörd-ß-日本 🐍 " * 6)[:80]  # 80 code points, 111 UTF-8 bytes
PW_DEFAULT = "correct horse battery staple"
assert len(PW_LONG_UNICODE) == 80 and len(PW_LONG_UNICODE.encode()) > 72

SALT_22 = "xKhVqWoLDzFvGz4tJ3cIbM"  # 22 chars: long enough for must_update_salt()
SALT_22_B = "Q3ynwEYyGVZ81z4e3eV9Pa"
SALT_SHORT = "seasalt"  # 7 chars: must_update_salt() is True
BCRYPT_SALT_CHEAP = b"$2b$04$saltsaltsaltsaltsaltsu"
BCRYPT_SALT_DEFAULT = b"$2b$12$abcdefghijklmnopqrstuu"

# (algorithm, cheap hasher, default hasher, salt for "password", salt for the others, cheap note,
#  salt for the default-parameter entry)
HASHER_TABLE = [
    ("pbkdf2_sha256", CheapPBKDF2(), PBKDF2PasswordHasher(), SALT_SHORT, SALT_22,
     "iterations=1000", SALT_22),
    ("pbkdf2_sha1", CheapPBKDF2SHA1(), PBKDF2SHA1PasswordHasher(), SALT_SHORT, SALT_22,
     "iterations=1000", SALT_22),
    ("argon2", CheapArgon2(), Argon2PasswordHasher(), "seasaltseasalt", SALT_22,
     "argon2id m=1024 t=1 p=1", SALT_22),
    ("bcrypt_sha256", CheapBCryptSHA256(), BCryptSHA256PasswordHasher(), BCRYPT_SALT_CHEAP,
     BCRYPT_SALT_CHEAP, "rounds=4", BCRYPT_SALT_DEFAULT),
    ("bcrypt", CheapBCrypt(), BCryptPasswordHasher(), BCRYPT_SALT_CHEAP, BCRYPT_SALT_CHEAP,
     "rounds=4", BCRYPT_SALT_DEFAULT),
    ("scrypt", CheapScrypt(), ScryptPasswordHasher(), SALT_SHORT, SALT_22,
     "N=1024 r=8 p=5", SALT_22),
    # md5 has no cost parameter; Django's must_update for it only looks at the salt length, so the
    # "cheap" entries use a short salt and the default entry a 22-char one.
    ("md5", MD5PasswordHasher(), MD5PasswordHasher(), SALT_SHORT, SALT_SHORT,
     "salt shorter than 22 chars", SALT_22),
]


def default_params_note(hasher):
    if isinstance(hasher, PBKDF2PasswordHasher):
        return f"Django 5.2 default parameters (iterations={hasher.iterations})"
    if isinstance(hasher, Argon2PasswordHasher):
        return (f"Django 5.2 default parameters (argon2id m={hasher.memory_cost} "
                f"t={hasher.time_cost} p={hasher.parallelism})")
    if isinstance(hasher, BCryptSHA256PasswordHasher):
        return f"Django 5.2 default parameters (rounds={hasher.rounds})"
    if isinstance(hasher, ScryptPasswordHasher):
        return (f"Django 5.2 default parameters (N={hasher.work_factor} r={hasher.block_size} "
                f"p={hasher.parallelism})")
    return "Django 5.2 default parameters (22-char salt)"


def password_entry(algorithm, hasher, password, salt, note):
    try:
        encoded = make_password(password, salt=salt, hasher=hasher)
    except ValueError as exc:
        # bcrypt>=5 refuses passwords longer than 72 bytes instead of truncating them.
        assert algorithm == "bcrypt", (algorithm, exc)
        return {"algorithm": algorithm, "password": password, "encoded": None,
                "must_update": False, "note": f"{note}; bcrypt raises ValueError (no hash)",
                "error": str(exc)}
    # Identification and must_update use the *registered* (default-parameter) hashers.
    registered = identify_hasher(encoded)
    assert registered.algorithm == algorithm
    assert check_password(password, encoded), (algorithm, password)
    # registered.verify rather than check_password: a wrong password would run harden_runtime.
    assert not registered.verify(password + "x", encoded), (algorithm, password)
    return {"algorithm": algorithm, "password": password, "encoded": encoded,
            "must_update": registered.must_update(encoded), "note": note}


def legacy_password_entries():
    """Formats Django <=5.0 wrote and 5.1+ can no longer verify; computed with hashlib."""
    note = "hashlib; verify-only legacy"
    out = []
    for pw in (PW_ASCII, PW_UNICODE):
        b = pw.encode()
        candidates = [
            ("sha1", f"sha1${SALT_SHORT}${hashlib.sha1(SALT_SHORT.encode() + b).hexdigest()}"),
            ("unsalted_sha1", f"sha1$${hashlib.sha1(b).hexdigest()}"),
            ("unsalted_md5", hashlib.md5(b).hexdigest()),
            ("unsalted_md5", f"md5$${hashlib.md5(b).hexdigest()}"),
        ]
        for algorithm, encoded in candidates:
            # Django 5.2 cannot even identify these: identify_hasher raises ValueError and
            # check_password returns False. A port that still accepts them should rehash.
            try:
                identify_hasher(encoded)
                raise AssertionError(f"Django 5.2 unexpectedly identifies {encoded}")
            except ValueError:
                pass
            assert not check_password(pw, encoded)
            out.append({"algorithm": algorithm, "password": pw, "encoded": encoded,
                        # Django 5.2 has no answer (identify_hasher raises); true here means
                        # "rehash on successful login", which is what a port should do.
                        "must_update": True,
                        "note": note + " (Django 5.2: identify_hasher raises ValueError, "
                                       "check_password is False; must_update=true by convention)"})
    return out


def gen_passwords():
    out = []
    for algorithm, cheap, default, salt_ascii, salt_other, cheap_note, salt_default in HASHER_TABLE:
        note = f"cheap: {cheap_note}"
        out.append(password_entry(algorithm, cheap, PW_ASCII, salt_ascii, note))
        for pw in (PW_UNICODE, PW_EMPTY, PW_LONG_ASCII, PW_LONG_UNICODE):
            out.append(password_entry(algorithm, cheap, pw, salt_other, note))
        # Exactly one entry per hasher with Django 5.2's default parameters.
        entry = password_entry(algorithm, default, PW_DEFAULT, salt_default,
                               default_params_note(default))
        assert entry["must_update"] is False, entry
        out.append(entry)
    out.extend(legacy_password_entries())
    return out


def gen_passwords_unusable():
    out = [make_password(None) for _ in range(3)]
    for encoded in out:
        assert encoded.startswith("!") and len(encoded) == 41
        assert not hashers.is_password_usable(encoded)
    return out


# --------------------------------------------------------------------------------------------
# Sessions (db SessionStore encode/decode) and signed_cookies sessions
# --------------------------------------------------------------------------------------------

LOGIN_HASH = "f56488372cfdce3963d18dbce18e11f79dda55e41bc1190b9468d6f6fa8d96b9"
LOGIN_DICT = {
    "_auth_user_id": "42",
    "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
    "_auth_user_hash": LOGIN_HASH,
}
OLD_KEY = "old-secret-key-rotated-out"
NEW_KEY = "new-secret-key-0123456789"

# zlib saves exactly 1 byte on the first and 2 bytes on the second compact-JSON payload, so the
# first stays uncompressed and the second is compressed (Django needs a saving of >= 2 bytes).
ZLIB_SAVES_1 = {"k": "aisesiauqooquaiseababababab"}
ZLIB_SAVES_2 = {"k": "aisesiauqooquaisesababababab"}


def zlib_saving(obj):
    data = json.dumps(obj, separators=(",", ":")).encode("latin-1")
    return len(data) - len(zlib.compress(data))


assert zlib_saving(ZLIB_SAVES_1) == 1 and zlib_saving(ZLIB_SAVES_2) == 2

SESSION_CASES = [
    ("spec V5: simple", {"a test key": "a test value"}),
    ("empty dict", {}),
    ("spec V5: _session_expiry 0", {"foo": "bar", "_session_expiry": 0}),
    ("login dict (spec V6 session)", dict(LOGIN_DICT)),
    ("unicode values: latin-1, typographic quote, astral (surrogate pair), CJK, Cyrillic key",
     {"name": "Jörg ’ 🐍", "cjk": "日本語テキスト", "ключ": "значение"}),
    ("escapes: quote, backslash, slash, control chars, DEL, U+2028",
     {"s": "a\"b\\c/d\n\r\t\b\f\x00\x1f\x7f\u2028é"}),
    ("numbers: ints (incl. > 2^53) and floats repr",
     {"ints": [0, -1, 2147483648, 9007199254740993, -9223372036854775808],
      "floats": [1.0, 1e16, 0.1, 1e-05, -0.0, 1.5, 123456789.125, 1e-07]}),
    ("booleans and null", {"t": True, "f": False, "n": None}),
    ("nested dicts and lists",
     {"outer": {"inner": {"list": [1, [2, [3, {"deep": "ö"}]]], "empty": {}}, "l": []},
      "cart": ["ä", 1]}),
    ("insertion order is preserved, not sorted", {"z": 1, "a": 2, "m": 3}),
    ("zlib saves exactly 1 byte: NOT compressed", ZLIB_SAVES_1),
    ("zlib saves exactly 2 bytes: compressed", ZLIB_SAVES_2),
    ("spec V5: 30 keys, compressed", {f"k{i}": "value" for i in range(30)}),
    ("large unicode payload, compressed",
     {"messages": [f"Grüße {i} ’ 🐍 日本" for i in range(40)], "_auth_user_id": "7"}),
    ("session with _messages (double-encoded JSON string) and testcookie",
     {"_messages": '[["__json_message", 0, 20, "Welcome back", ""]]', "testcookie": "worked"}),
]


def session_store():
    return db_backend.SessionStore()


def gen_sessions():
    out = []
    with frozen(T):
        for note, data in SESSION_CASES:
            encoded = session_store().encode(data)
            assert session_store().decode(encoded) == data
            out.append({"note": note, "data": data, "encoded": encoded,
                        "secret_key": SECRET_KEY, "fallback_keys": [],
                        "compressed": encoded.startswith("."), "time": T})
        # Another secret key.
        data = {"a test key": "a test value"}
        with keys(NEW_KEY):
            encoded = session_store().encode(data)
        out.append({"note": "other secret key", "data": data, "encoded": encoded,
                    "secret_key": NEW_KEY, "fallback_keys": [], "compressed": False, "time": T})
        # Key rotation: written with the OLD key, read with SECRET_KEY=new + FALLBACKS=[old].
        data = dict(LOGIN_DICT, _auth_user_id="6b025aae8899c002583f03e2")
        with keys(OLD_KEY):
            encoded = session_store().encode(data)
        with keys(NEW_KEY, [OLD_KEY]):
            assert session_store().decode(encoded) == data
        out.append({"note": "encoded with the OLD key (the one in fallback_keys) and decoded with "
                            "secret_key=new + SECRET_KEY_FALLBACKS=[old]; decode-only: encoding "
                            "with secret_key gives a different signature",
                    "data": data, "encoded": encoded, "secret_key": NEW_KEY,
                    "fallback_keys": [OLD_KEY], "compressed": encoded.startswith("."), "time": T})
    # A different clock value (base62 timestamp "8M0kX").
    with frozen(123456789):
        data = {"foo": "bar"}
        out.append({"note": "time 123456789", "data": data,
                    "encoded": session_store().encode(data), "secret_key": SECRET_KEY,
                    "fallback_keys": [], "compressed": False, "time": 123456789})
    return out


def tamper_last_char(s):
    return s[:-1] + ("A" if s[-1] != "A" else "B")


def gen_sessions_decode():
    cases = []
    with frozen(T):
        good = session_store().encode({"a test key": "a test value"})
        compressed = session_store().encode({f"k{i}": "value" for i in range(30)})
        with keys(OLD_KEY):
            old = session_store().encode({"rotated": True, "name": "Jörg"})
        # A correctly signed payload that is not JSON (Django's own negative test does this).
        signer = signing.TimestampSigner(salt=session_store().key_salt)
        not_json = signer.sign(signing.b64_encode(b"this is not json").decode())
        # Correctly signed, claims compression, but the payload is not zlib.
        bad_zlib = signer.sign("." + signing.b64_encode(b'{"a":1}').decode())
        # Signed with the right key but the signed_cookies salt instead of the session salt.
        other_salt = signing.dumps({"a": 1}, salt="django.contrib.sessions.backends.signed_cookies")
    # Django 3.0's format (literal in Django 3.1/3.2's tests); 4.0+ cannot read it.
    legacy_v10 = ("OWUzNTNmNWQxNTBjOWExZmM4MmQ3NzNhMDRmMjU4NmYwNDUyNGI2NDp7ImEgdGVzdCBrZXkiOiJhIH"
                  "Rlc3QgdmFsdWUifQ==")
    cases += [
        ("valid", good, SECRET_KEY, []),
        ("valid, compressed", compressed, SECRET_KEY, []),
        ("fallback: signed with the old key, old key in fallback_keys", old, NEW_KEY,
         ["unrelated-key", OLD_KEY]),
        ("signed with the old key, no fallbacks: rejected", old, NEW_KEY, []),
        ("spec V9: valid data read with new key + old key as fallback", good, NEW_KEY,
         [SECRET_KEY]),
        ("tampered signature (last char changed)", tamper_last_char(good), SECRET_KEY, []),
        ("tampered payload (signature kept)", "eyJhIjoyfQ" + good[good.index(":"):], SECRET_KEY,
         []),
        ("tampered timestamp (signature covers it)", good.replace(":1r31eq:", ":1r31er:"),
         SECRET_KEY, []),
        ("bad:encoded:value", "bad:encoded:value", SECRET_KEY, []),
        ("no separator at all", "flaskdj", SECRET_KEY, []),
        ("empty string", "", SECRET_KEY, []),
        ("correctly signed non-JSON payload", not_json, SECRET_KEY, []),
        ("correctly signed '.'-payload that is not zlib", bad_zlib, SECRET_KEY, []),
        # Not included: a correctly signed JSON *list*. Django 5.2's decode() returns it as is
        # ([1, 2, 3]), which is not a session dict; a port should treat it as {}.
        ("signed with the signed_cookies salt, not the session salt", other_salt, SECRET_KEY, []),
        ("spec V10: legacy pre-3.1 format", legacy_v10, SECRET_KEY, []),
    ]
    out = []
    for note, encoded, secret, fallbacks in cases:
        with keys(secret, fallbacks):
            expected = session_store().decode(encoded)
        out.append({"note": note, "encoded": encoded, "secret_key": secret,
                    "fallback_keys": list(fallbacks), "expected": expected})
    return out


def gen_signed_cookies_sessions():
    out = []
    cases = [
        (SECRET_KEY, {"foo": "bar"}),
        (SECRET_KEY, dict(LOGIN_DICT, _auth_user_hash="x" * 64, _auth_user_id="1")),
        (SECRET_KEY, {}),
        (SECRET_KEY, {"name": "Jörg ’ 🐍", "n": [1, 2.5, None, True]}),
        (NEW_KEY, {f"k{i}": "value" for i in range(30)}),
    ]
    with frozen(T):
        for secret, data in cases:
            with keys(secret):
                store = signed_cookies.SessionStore()
                store.update(data)
                # The signed_cookies backend's "session key" *is* the cookie value.
                cookie = store._get_session_key()
                assert signed_cookies.SessionStore(cookie).load() == data
            out.append({"data": data, "cookie": cookie, "secret_key": secret, "time": T})
    return out


# --------------------------------------------------------------------------------------------
# signing.dumps and set_signed_cookie
# --------------------------------------------------------------------------------------------

def gen_signing_dumps():
    default_salt = "django.core.signing"
    cases = [
        ("hello", default_salt, False, SECRET_KEY),
        ({"foo": "bar", "baz": 1}, default_salt, False, SECRET_KEY),
        (list(range(1, 20)), default_salt, True, SECRET_KEY),
        ({"name": "Jörg ’ 🐍"}, default_salt, False, SECRET_KEY),
        ({"a": 1}, "my.salt", False, "other-secret"),
        ("", default_salt, False, SECRET_KEY),
        (None, default_salt, False, SECRET_KEY),
        ([1.0, 1e16, -0.0, 0.1], default_salt, False, SECRET_KEY),
        ({"short": "not worth compressing"}, default_salt, True, SECRET_KEY),
        ({"text": "Grüße 日本 🐍 " * 20, "nested": {"list": ["ä"] * 30}}, "sälted ünicode",
         True, "ключ-secret"),
        ("a:b:c (colons inside the value)", default_salt, False, SECRET_KEY),
        ({"a": 1}, "", False, SECRET_KEY),
    ]
    out = []
    with frozen(T):
        for obj, salt, compress, key in cases:
            output = signing.dumps(obj, key=key, salt=salt, compress=compress)
            assert signing.loads(output, key=key, salt=salt) == obj
            out.append({"obj": obj, "salt": salt, "compress": compress, "key": key, "time": T,
                        "output": output})
    return out


def gen_signed_cookie_values():
    cases = [
        ("c", "hello", "s", SECRET_KEY),
        ("c", "hello", "", SECRET_KEY),
        ("sessionpref", "dark", "", NEW_KEY),
        ("name", "Jörg ’ 🐍 日本", "", SECRET_KEY),
        # len(salt) counts code points: "sälz" is 4 characters but 5 UTF-8 bytes.
        ("c", "hello", "sälz", SECRET_KEY),
        # The v2 scheme's length prefix keeps ("ab", "c") and ("a", "bc") apart.
        ("c", "v", "ab", SECRET_KEY),
        ("bc", "v", "a", SECRET_KEY),
        ("c", "value:with:colons", "s", SECRET_KEY),
    ]
    out = []
    with frozen(T):
        for name, value, salt, secret in cases:
            with keys(secret):
                response = HttpResponse()
                response.set_signed_cookie(name, value, salt=salt)
                output = response.cookies[name].value
                request = HttpRequest()
                request.COOKIES[name] = output
                assert request.get_signed_cookie(name, salt=salt) == value
            out.append({"name": name, "value": value, "salt": salt, "secret_key": secret,
                        "time": T, "output": output})
    return out


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------

def make_message(level, text, extra_tags=None, is_safe=False):
    return Message(level, mark_safe(text) if is_safe else text, extra_tags=extra_tags)


def message_json(m):
    return {"level": m.level, "message": str(m.message), "extra_tags": m.extra_tags,
            "is_safe": isinstance(m.message, SafeData)}


MESSAGE_CASES = [
    [make_message(20, "Hello")],
    [make_message(20, "Welcome back", "")],
    [make_message(20, "Hello"), make_message(25, "<b>Saved</b>", "x y", is_safe=True)],
    [
        make_message(10, "debug text", None),
        make_message(20, "info text", ""),
        make_message(25, "success text", "x y"),
        make_message(30, "Grüße ’ 🐍 日本", "wärning"),
        make_message(40, '<a href="/x">error</a> with "quotes", commas; and \\ backslash',
                     None, is_safe=True),
        make_message(35, "custom level", ""),
    ],
    [make_message(20 + (i % 3) * 5, f"Message number {i}: Grüße ’ 🐍", ["", None, "x y"][i % 3],
                  is_safe=(i % 4 == 0))
     for i in range(25)],
]


def gen_messages_cookie():
    out = []
    with frozen(T):
        for i, msgs in enumerate(MESSAGE_CASES):
            secret = NEW_KEY if i == 3 else SECRET_KEY
            with keys(secret):
                storage = CookieStorage(HttpRequest())
                cookie = storage._encode(msgs)
                decoded = storage._decode(cookie)
                assert [message_json(m) for m in decoded] == [message_json(m) for m in msgs]
            out.append({"messages": [message_json(m) for m in msgs], "secret_key": secret,
                        "time": T, "cookie": cookie})
    assert any(e["cookie"].startswith(".") for e in out) and not out[0]["cookie"].startswith(".")
    return out


def gen_messages_session():
    out = []
    for msgs in MESSAGE_CASES:
        request = HttpRequest()
        request.session = session_store()
        storage = SessionStorage(request)
        storage._store(msgs, response=None)
        value = request.session["_messages"]
        assert isinstance(value, str)
        out.append({"messages": [message_json(m) for m in msgs], "value": value})
    return out


# --------------------------------------------------------------------------------------------
# Auth: session auth hash, reset tokens, CSRF, validators
# --------------------------------------------------------------------------------------------

SPEC_S1_KEY = "django-insecure-test-vector-secret-key-0123456789abcdef"
SPEC_S1_PW = "pbkdf2_sha256$1200000$xKhVqWoLDzFvGz4tJ3cIbM$placeholderhash="


def gen_session_auth_hashes():
    cases = [
        (SECRET_KEY, "pbkdf2_sha256$1200000$fixedsalt1234567$Q1xVqNRxEd+9B1WzEV30EgvwKzD1B0Yd6ROu"
                     "LKOy40o="),
        (SECRET_KEY, "pbkdf2_sha256$1000000$fixedsalt1234567$Nz46lq2qTj6SnWrYr8I2XmT6EztdjaF25s7K1"
                     "wzxv8U="),
        (SPEC_S1_KEY, SPEC_S1_PW),
        ("s3cr3t", "md5$seasalt$1e9bf2bf5606aa5c39852cc30f0f6f22"),
        ("another-secret-key", ""),
        (SECRET_KEY, "!" + "u" * 40),
        ("ключ-secret", "argon2$argon2id$v=19$m=1024,t=1,p=1$c2Vhc2FsdHNlYXNhbHQ$abc"),
    ]
    out = []
    for secret, password in cases:
        with keys(secret):
            h = User(password=password).get_session_auth_hash()
        out.append({"secret_key": secret, "password": password, "hash": h})
    return out


class TokenUser:
    """The attributes PasswordResetTokenGenerator reads: pk, password, last_login, the field
    named by get_email_field_name() (email), and truthiness (check_token rejects falsy users)."""

    def __init__(self, pk, password, last_login, email):
        self.pk = pk
        self.password = password
        self.last_login = last_login
        self.email = email

    @classmethod
    def get_email_field_name(cls):
        return "email"


@contextmanager
def process_time_zone(name):
    """Set the process TZ like Django's Settings.__init__ does for TIME_ZONE (settings.configure()
    does not), so datetime.now() -- what the token generator's _now() returns -- is naive local
    time in that zone."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        with override_settings(TIME_ZONE=name):
            yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


def utc(*args):
    return datetime(*args, tzinfo=dt_timezone.utc)


RESET_CASES = [
    # (time_zone, secret, pk, password, last_login, email, now_unix, note)
    ("America/Chicago", SECRET_KEY, 1, SPEC_S1_PW, None, "alice@example.com", T),
    # The 3-day window crosses the end of DST (2023-11-05 02:00 CDT -> 01:00 CST): naive local
    # time gains an hour on the Unix clock, so the token lives 259200 + 3600 real seconds.
    ("America/Chicago", SECRET_KEY, 42, "md5$seasalt$1e9bf2bf5606aa5c39852cc30f0f6f22",
     utc(2023, 10, 30, 8, 15, 42, 987654), "bob@example.com",
     int(utc(2023, 11, 3, 17, 0, 0).timestamp())),
    # The window crosses the start of DST (2024-03-10 02:00 CST -> 03:00 CDT): 259200 - 3600.
    ("America/Chicago", "s3cr3t", 7, "", utc(2024, 3, 1, 0, 0, 0, 1), "",
     int(utc(2024, 3, 8, 18, 0, 0).timestamp())),
    ("UTC", SPEC_S1_KEY, 1, SPEC_S1_PW, None, "alice@example.com",
     int(utc(2025, 6, 1, 12, 0, 0).timestamp())),  # spec T1
    ("UTC", "s3cr3t", 42,
     "argon2$argon2id$v=19$m=102400,t=2,p=8$eEtoVnFXb0xEekZ2R3o0dEozY0liTQ$abc",
     utc(2025, 5, 31, 23, 59, 58, 123456), "", int(utc(2025, 6, 1).timestamp())),  # spec T2
    ("UTC", "another-secret-key", "6b025aae8899c002583f03e2",
     "!unusableXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
     utc(2024, 2, 29, 8, 30, 0), "Bob@Example.com",
     int(utc(2026, 1, 15, 9, 45, 30).timestamp())),  # spec T3 (ObjectId-like pk)
    ("Asia/Tokyo", SECRET_KEY, "6b025aae8899c002583f03e2",
     "pbkdf2_sha256$1000$seasalt$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c=",
     utc(2023, 11, 14, 22, 13, 19, 500000), "user@例え.jp", T),
    ("Asia/Tokyo", "ключ-secret", 1000, "x", None, "", T + 86400 * 365),
]


def gen_reset_tokens():
    out = []
    timeout = settings.PASSWORD_RESET_TIMEOUT
    for tz_name, secret, pk, password, last_login, email, now_unix in RESET_CASES:
        user = TokenUser(pk, password, last_login, email)
        with process_time_zone(tz_name), keys(secret):
            generator = PasswordResetTokenGenerator()

            # _now() is Django's own mocking hook: it returns naive local datetime.now(). Replace
            # it on this instance; datetime.fromtimestamp(unix) is exactly what datetime.now()
            # returns at that instant in the process time zone set above.
            clock = {"unix": now_unix}
            generator._now = lambda: datetime.fromtimestamp(clock["unix"])

            def ok_at(unix):
                clock["unix"] = unix
                return generator.check_token(user, token)

            clock["unix"] = now_unix
            token = generator.make_token(user)
            assert ok_at(now_unix)

            # Find the last Unix second at which check_token still passes by calling it for
            # every second within +-2h of the nominal boundary (DST moves it by at most 1h).
            lo, hi = now_unix + timeout - 7200, now_unix + timeout + 7200
            results = [ok_at(unix) for unix in range(lo, hi + 1)]
            assert results[0] and not results[-1], (tz_name, pk)
            last_ok = lo + max(i for i, ok in enumerate(results) if ok)
            # The window must be contiguous (no ambiguous-hour flip-flop around the boundary).
            assert all(results[: last_ok - lo + 1]) and not any(results[last_ok - lo + 1:])
            assert ok_at(last_ok) and not ok_at(last_ok + 1)

        out.append({
            "secret_key": secret,
            "time_zone": tz_name,
            "pk": str(pk),
            "password": password,
            "last_login": None if last_login is None else last_login.isoformat(),
            "email": email,
            "now_unix": now_unix,
            "token": token,
            "uidb64": urlsafe_base64_encode(force_bytes(str(pk))),
            "check_ok_until_unix": last_ok,
        })
    return out


def gen_csrf_masked():
    out = []
    for _ in range(5):
        secret = csrf._get_new_csrf_string()
        token = csrf._mask_cipher_secret(secret)
        assert csrf._unmask_cipher_token(token) == secret
        out.append({"secret": secret, "token": token})
    return out


VALIDATOR_USER = {"username": "johnsmith", "first_name": "John", "last_name": "Smith",
                  "email": "john.smith@example.com"}
SHORT_NAME_USER = {"username": "jo", "first_name": "", "last_name": "", "email": ""}
SEPARATOR_USER = {"username": "jörg_müller-99", "first_name": "Jörg", "last_name": "Müller",
                  "email": "joerg@beispiel.de"}

VALIDATOR_CASES = [
    ("1234567", VALIDATOR_USER),
    ("password", VALIDATOR_USER),
    ("johnsmith1", VALIDATOR_USER),
    ("smith.john", VALIDATOR_USER),
    ("example.com", VALIDATOR_USER),
    ("   PassWord  ", VALIDATOR_USER),
    ("Xy7#kq92LmPz", VALIDATOR_USER),
    ("١٢٣٤٥٦٧٨٩", VALIDATOR_USER),  # Arabic-Indic digits: isdigit() is True
    ("²³⁴⁵⁶⁷⁸⁹²³", VALIDATOR_USER),  # superscript digits: isdigit() is True
    ("½½½½½½½½", VALIDATOR_USER),  # vulgar fractions: isdigit() is False
    ("", VALIDATOR_USER),
    ("a", VALIDATOR_USER),
    ("nhojhtims", VALIDATOR_USER),  # anagram of the username: quick_ratio ignores order
    ("JOHN.SMITH@EXAMPLE.COM", VALIDATOR_USER),
    ("correct horse battery staple", VALIDATOR_USER),
    ("日本語のパスワードです", VALIDATOR_USER),
    ("iloveyou", VALIDATOR_USER),
    ("1234567", None),
    ("password", None),
    ("johnsmith1", None),
    ("Xy7#kq92LmPz", None),
    ("١٢٣٤٥٦٧٨٩", None),
    ("", None),
    ("jojojojojojojojojojo", SHORT_NAME_USER),  # 20 chars: length shortcut skips "jo"
    ("jojojojojojojojojoj", SHORT_NAME_USER),  # 19 chars: compared, ratio 4/21
    ("müller99jörg", SEPARATOR_USER),
    ("beispiel.de", SEPARATOR_USER),
]


def gen_validators():
    out = []
    for password, attrs in VALIDATOR_CASES:
        user = User(**attrs) if attrs is not None else None  # unsaved: verbose names from _meta
        errors = []
        try:
            validate_password(password, user=user)
        except ValidationError as exc:
            for err in exc.error_list:
                message = err.message % err.params if err.params else err.message
                errors.append({"code": err.code, "message": str(message)})
        out.append({"password": password, "user": attrs, "errors": errors})
    return out


# --------------------------------------------------------------------------------------------
# Expiry (db SessionStore; nothing here touches the database)
# --------------------------------------------------------------------------------------------

def gen_expiry():
    tokyo = dt_timezone(timedelta(hours=9))
    cases = [
        ({"none": True}, None),
        ({"seconds": 0}, 0),
        ({"seconds": 60}, 60),
        ({"seconds": 1209600}, 1209600),
        ({"timedelta_seconds": 3600}, timedelta(hours=1)),
        ({"timedelta_seconds": -30}, timedelta(seconds=-30)),
        ({"datetime": "2030-01-01T12:00:00.123456+00:00"}, utc(2030, 1, 1, 12, 0, 0, 123456)),
        # 3600.5 s ahead: expiry_age floors the fraction.
        ({"datetime": "2023-11-14T23:13:20.500000+00:00"}, utc(2023, 11, 14, 23, 13, 20, 500000)),
        # 0.25 s in the past: days*86400 + seconds floors to -1.
        ({"datetime": "2023-11-14T22:13:19.750000+00:00"}, utc(2023, 11, 14, 22, 13, 19, 750000)),
        # A non-UTC offset is stored as given (isoformat keeps +09:00).
        ({"datetime": "2023-11-15T08:13:20+09:00"}, datetime(2023, 11, 15, 8, 13, 20, tzinfo=tokyo)),
    ]
    out = []
    with frozen(T):
        for passed, value in cases:
            if "datetime" in passed:
                assert value.isoformat() == passed["datetime"], value.isoformat()
            store = session_store()
            store.set_expiry(value)
            out.append({
                "set_expiry": passed,
                "now": T,
                "stored": store.get("_session_expiry"),
                "expiry_age": store.get_expiry_age(),
                "expiry_date": store.get_expiry_date().isoformat(),
                "expire_at_browser_close": store.get_expire_at_browser_close(),
            })
    return out


# --------------------------------------------------------------------------------------------
# Cross-checks against literal values in ../shared/spec (warn only: Django is the truth here)
# --------------------------------------------------------------------------------------------

def crosscheck(doc):
    checks = []

    def find(section, **match):
        for entry in doc[section]:
            if all(entry.get(k) == v for k, v in match.items()):
                return entry
        return None

    def pw(algorithm, password, prefix):
        for e in doc["passwords"]:
            if (e["algorithm"] == algorithm and e["password"] == password
                    and (e["encoded"] or "").startswith(prefix)):
                return e["encoded"]
        return None

    checks += [
        ("H02", pw("pbkdf2_sha256", "password", "pbkdf2_sha256$1000$seasalt$"),
         "pbkdf2_sha256$1000$seasalt$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c="),
        ("H05b", pw("pbkdf2_sha256", PW_DEFAULT, "pbkdf2_sha256$1000000$"),
         "pbkdf2_sha256$1000000$xKhVqWoLDzFvGz4tJ3cIbM$emzwh3dAYgAV+YOZ2sWWft9o6KiHKpRDCgsLeN50d7I="),
        ("H09", pw("argon2", PW_DEFAULT, "argon2$"),
         "argon2$argon2id$v=19$m=102400,t=2,p=8$eEtoVnFXb0xEekZ2R3o0dEozY0liTQ$yDqd3m4TZ075Q0kBgH"
         "qyZLxFMadh0PPn66YVbW+IeNc"),
        ("H11", pw("argon2", "password", "argon2$"),
         "argon2$argon2id$v=19$m=1024,t=1,p=1$c2Vhc2FsdHNlYXNhbHQ$eRZEPUpIIJ9Rng3fH5spYVN0KW5L/fLf"
         "+aHDfEnTIq8"),
        ("H12", pw("bcrypt_sha256", PW_DEFAULT, "bcrypt_sha256$"),
         "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuuuNrZ4CeoNrvGcIepBB1WStSdG4Wu4DG"),
        ("H13", pw("bcrypt_sha256", "password", "bcrypt_sha256$"),
         "bcrypt_sha256$$2b$04$saltsaltsaltsaltsaltsufLDAkfBO.5LfyvyqI9JO/3fse7WU106"),
        ("H15", pw("bcrypt", PW_DEFAULT, "bcrypt$"),
         "bcrypt$$2b$12$abcdefghijklmnopqrstuu0sDWleciW5uGBGYwxpcgAsh9WK4bWNy"),
        ("H16", pw("bcrypt", "password", "bcrypt$"),
         "bcrypt$$2b$04$saltsaltsaltsaltsaltsuiBknG341dTVWjF89vP0nKKLbcJ1SJ3K"),
        ("H17", pw("scrypt", PW_DEFAULT, "scrypt$"),
         "scrypt$16384$xKhVqWoLDzFvGz4tJ3cIbM$8$5$fquVha6nPl/PNwfT11aAZ+T3wIdhqT1kXDAoqmg0sd38T9bB"
         "67Hqn7HEvGId8PGdfMPPFqxcBPgv8aW31HUihw=="),
        ("H20", pw("md5", "password", "md5$seasalt$"), "md5$seasalt$1e9bf2bf5606aa5c39852cc30f0f6f22"),
        ("H21", pw("md5", PW_DEFAULT, "md5$"),
         "md5$xKhVqWoLDzFvGz4tJ3cIbM$90a75f219460af74e2835d36c76cb1cb"),
        ("L1", pw("sha1", "password", "sha1$seasalt$"),
         "sha1$seasalt$6292fe549ea4fd63a742ce4c58115c04e58732ea"),
        ("L2", pw("unsalted_sha1", "password", "sha1$$"),
         "sha1$$5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"),
        ("L3", pw("unsalted_md5", "password", "5f4"), "5f4dcc3b5aa765d61d8327deb882cf99"),
    ]
    sess = {e["note"]: e["encoded"] for e in doc["sessions"]}
    checks += [
        ("V5 simple", sess["spec V5: simple"],
         "eyJhIHRlc3Qga2V5IjoiYSB0ZXN0IHZhbHVlIn0:1r31eq:z3T5kuYwaLspnAAUpfRWpbinC-rn6c6P1Qf9PsCyZ2s"),
        ("V5 empty", sess["empty dict"], "e30:1r31eq:4jUc7d6K4SjljzmCBMRybFprOH2S1lYgEeb3CCv8FJw"),
        ("V5 30 keys", sess["spec V5: 30 keys, compressed"],
         ".eJxV0KsRgAAQA9FeTiNI-NMNAgUWDEPvSLJyVd7kqaOtte7tvPZq6lCGM7qMPmPIGDOmjDljwSgJMAgIQSEwBIcA"
         "ESQCRbAYFvMPWAyLYTEshsWwGBb_lvcDaEBypg:1r31eq:JFVYfZwdar5CssrZZWJum6eWrrM-rlFy2bG8izgaUDg"),
        ("V6 session_data", sess["login dict (spec V6 session)"],
         ".eJxVjMsOwiAQRf-FtSFOeRRcuu83EJgZpGogKe3K-O_apAvd3nPOfYkQt7WErfMSZhIXoQdx-h1TxAfXndA91luT"
         "2Oq6zEnuijxol1Mjfl4P9--gxF6-dTZWO6fGATMhK28VgaOEDI4B8uiJojGsISGAPyevrSObbY6OvE1evD8XDziL:"
         "1r31eq:K12dqPfXRVhHwCjkC7rbUZ2MloFfVAAm82MKnQpqdvk"),
    ]
    sc = find("signed_cookies_sessions", data={"foo": "bar"})
    checks.append(("V8", sc and sc["cookie"],
                   "eyJmb28iOiJiYXIifQ:1r31eq:BVPqEm7FPXEZeY0XPm1_fVWxdO70LXoaVIrshoRMHGE"))
    dumps = {json.dumps(e["obj"], ensure_ascii=False) + "|" + e["salt"]: e["output"]
             for e in doc["signing_dumps"]}
    checks += [
        ("V4 hello", dumps['"hello"|django.core.signing'],
         "ImhlbGxvIg:1r31eq:vORzXCNWal6clyL2AMUxddNiVs7GTgBsmwYhy6yGEas"),
        ("V4 list", dumps[json.dumps(list(range(1, 20))) + "|django.core.signing"],
         ".eJwFwcERACAIwLCF-rCiILN47r-GyZVJsNgkxaFxoDgxcOHGxMKD_T7vhAml:1r31eq:"
         "8jFAmN3y5eJxG0IxWmDlM21qflTtPK5957p2PlHJrQ8"),
        ("V4 unicode", dumps['{"name": "Jörg ’ 🐍"}|django.core.signing'],
         "eyJuYW1lIjoiSlx1MDBmNnJnIFx1MjAxOSBcdWQ4M2RcdWRjMGQifQ:1r31eq:"
         "eoSO6_fe-IfIVd1bOmh2M-hl6YbMiYcxk_-6xpu2VN4"),
        ("V4 key+salt", dumps['{"a": 1}|my.salt'],
         "eyJhIjoxfQ:1r31eq:CD8CuX2MVkQC5I-tfTL3UTAHqkO4QS72biTy18n59eI"),
    ]
    c12 = find("signed_cookie_values", name="c", value="hello", salt="s")
    c13 = find("signed_cookie_values", name="c", value="hello", salt="")
    checks += [
        ("V12 (v2 salt)", c12 and c12["output"],
         "hello:1r31eq:zGeURXfDUBw22JcIdEHurTkrEfV1ApPQq-j2hJZsQpY"),
        ("V13 (v2 salt)", c13 and c13["output"],
         "hello:1r31eq:bLpcrQ5CraHdtjNu8NBrxixI5LwgdGWjT__Yr3NgQBM"),
    ]
    mc = doc["messages_cookie"]
    ms = doc["messages_session"]
    checks += [
        ("V11 compressed", mc[2]["cookie"],
         ".eJyLjlaKj88qzs-Lz00tLk5MT1XSMdAxMtBR8kjNyclXitXBlDfUMTLVUbJJsgtOLEtNsdFPslPSUapQqFSKjQUA"
         "6wsYXg:1r31eq:QCw46Z_k0UYu3ND5p8sRvfwDGTPcEHQ_IVE_rfD_Iw4"),
        ("V11 single", mc[0]["cookie"],
         "W1siX19qc29uX21lc3NhZ2UiLDAsMjAsIkhlbGxvIl1d:1r31eq:f6khvwf0NdAOggLZ-N11J6TNCbaGvbGqldyt"
         "d6BjNPw"),
        ("V6 messages cookie", mc[1]["cookie"],
         "W1siX19qc29uX21lc3NhZ2UiLDAsMjAsIldlbGNvbWUgYmFjayIsIiJdXQ:1r31eq:FMRPZFoyRcC7ay0oHbZ7qW9"
         "22rOTmt2TcruIZpg4kdk"),
        ("V11 session value", ms[2]["value"],
         '[["__json_message", 0, 20, "Hello"], ["__json_message", 1, 25, "<b>Saved</b>", "x y"]]'),
    ]
    ah = {e["password"]: e["hash"] for e in doc["session_auth_hashes"]}
    checks += [
        ("V7", ah["pbkdf2_sha256$1200000$fixedsalt1234567$Q1xVqNRxEd+9B1WzEV30EgvwKzD1B0Yd6ROu"
                  "LKOy40o="],
         "5f5cfea188c5359284b4a7bed4c0fc7e91f4e9ac5cf96dc6b09ae2f8d1cfa303"),
        ("V6 _auth_user_hash", ah["pbkdf2_sha256$1000000$fixedsalt1234567$Nz46lq2qTj6SnWrYr8I2Xm"
                                 "T6EztdjaF25s7K1wzxv8U="], LOGIN_HASH),
        ("S1", ah[SPEC_S1_PW], "df80b29ec79e712033ec3dc049451513d9b914b713f3a90b521b6d203b702980"),
        ("S2", ah["md5$seasalt$1e9bf2bf5606aa5c39852cc30f0f6f22"],
         "51d180e1de1784a00a17c70868f354b916d0eb6d200b0b6134664e03635267fd"),
        ("S3", ah[""], "03169f956f5b3f8161d86719178a66fce64ef359c89af80c9fd6e5b070387453"),
    ]
    rt = doc["reset_tokens"]
    checks += [
        ("T1", rt[3]["token"], "cqpw00-47f78f8ae8272bf71e6ed6ed98981646"),
        ("T2", rt[4]["token"], "cqoyo0-8ef949f1cf4dfce55a4aaf1bdc8418b0"),
        ("T3", rt[5]["token"], "d2fxru-2f33fce7f7b758d43b770b25fa35d2ed"),
        ("T3 uidb64", rt[5]["uidb64"], "NmIwMjVhYWU4ODk5YzAwMjU4M2YwM2Uy"),
    ]
    exp = {json.dumps(e["set_expiry"]): e["stored"] for e in doc["expiry"]}
    checks += [
        ("V15 timedelta", exp['{"timedelta_seconds": 3600}'], "2023-11-14T23:13:20+00:00"),
        ("V15 datetime", exp['{"datetime": "2030-01-01T12:00:00.123456+00:00"}'],
         "2030-01-01T12:00:00.123456+00:00"),
    ]
    # CSRF V14: mask a known secret with a known mask (patching the mask generator).
    with mock.patch.object(csrf, "_get_new_csrf_string",
                           return_value="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"):
        checks.append(("V14", csrf._mask_cipher_secret("lcccccccX2kcccccccY2jcccccccssIC"),
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefLDEFGHIJvBUNOPQRSTGL3XYZ01cduvMH"))
    # Validators (auth spec §2 "Observed on 6.0.10").
    val = {e["password"]: [x["code"] for x in e["errors"]]
           for e in doc["validators"] if e["user"] == VALIDATOR_USER}
    checks += [
        ("§2 1234567", val["1234567"],
         ["password_too_short", "password_too_common", "password_entirely_numeric"]),
        ("§2 password", val["password"], ["password_too_common"]),
        ("§2 johnsmith1", val["johnsmith1"], ["password_too_similar"]),
        ("§2 smith.john", val["smith.john"], ["password_too_similar"]),
        ("§2 example.com", val["example.com"], ["password_too_similar"]),
        ("§2 PassWord", val["   PassWord  "], ["password_too_common"]),
        ("§2 Xy7#kq92LmPz", val["Xy7#kq92LmPz"], []),
    ]

    mismatches = 0
    for name, got, want in checks:
        if got != want:
            mismatches += 1
            log(f"SPEC MISMATCH {name}: Django gives {got!r}, spec says {want!r}")
    log(f"cross-checked {len(checks)} values against the spec: {len(checks) - mismatches} match, "
        f"{mismatches} differ")
    return mismatches


# --------------------------------------------------------------------------------------------
# Common password list
# --------------------------------------------------------------------------------------------

SPEC_COMMON_LINES = 19640
SPEC_COMMON_SHA256 = "29ca0fa5303165f012f3e9775e3e95a3071cdd59f219973ec1cbb308d0214a6f"


def copy_common_passwords(dest):
    src = str(CommonPasswordValidator().DEFAULT_PASSWORD_LIST_PATH)  # a cached_property
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copyfile(src, dest)
    assert filecmp.cmp(src, dest, shallow=False)
    with gzip.open(dest, "rb") as f:
        raw = f.read()
    digest = hashlib.sha256(raw).hexdigest()
    lines = raw.decode("utf-8").splitlines()
    log(f"common-passwords: copied {src}")
    log(f"common-passwords: -> {dest} ({os.path.getsize(dest)} bytes gzip)")
    log(f"common-passwords: uncompressed sha256 {digest}")
    trailing_newline = raw.endswith(b"\n")
    log(f"common-passwords: {len(lines)} lines ({len(set(lines))} unique, "
        f"{len(raw)} bytes uncompressed, ends with newline: {trailing_newline})")
    ok = digest == SPEC_COMMON_SHA256 and len(lines) == SPEC_COMMON_LINES
    log(f"common-passwords: {'matches' if ok else 'DOES NOT MATCH'} the spec "
        f"({SPEC_COMMON_LINES} lines, sha256 {SPEC_COMMON_SHA256})")
    return ok


# --------------------------------------------------------------------------------------------

SECTIONS = {
    "csrf_masked": gen_csrf_masked,
    "expiry": gen_expiry,
    "messages_cookie": gen_messages_cookie,
    "messages_session": gen_messages_session,
    "passwords": gen_passwords,
    "passwords_unusable": gen_passwords_unusable,
    "reset_tokens": gen_reset_tokens,
    "session_auth_hashes": gen_session_auth_hashes,
    "sessions": gen_sessions,
    "sessions_decode": gen_sessions_decode,
    "signed_cookie_values": gen_signed_cookie_values,
    "signed_cookies_sessions": gen_signed_cookies_sessions,
    "signing_dumps": gen_signing_dumps,
    "validators": gen_validators,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", required=True, help="path of django-5.2.json")
    parser.add_argument("--common-passwords", required=True,
                        help="where to copy common-passwords.txt.gz")
    args = parser.parse_args()

    from importlib.metadata import version

    log(f"Django {django.get_version()} ({os.path.dirname(django.__file__)}), "
        f"Python {platform.python_version()}, argon2-cffi {version('argon2-cffi')}, "
        f"bcrypt {version('bcrypt')}")

    doc = {
        "generator": "scripts/django-vectors",
        "django_version": django.get_version(),
        "python_version": platform.python_version(),
        "secret_key": SECRET_KEY,
    }
    for name in sorted(SECTIONS):
        started = time.perf_counter()
        doc[name] = SECTIONS[name]()
        log(f"{name}: {len(doc[name])} entries ({time.perf_counter() - started:.2f}s)")

    crosscheck(doc)

    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False, allow_nan=False)
        f.write("\n")
    os.replace(tmp, args.output)
    log(f"wrote {args.output} ({os.path.getsize(args.output)} bytes)")

    if not copy_common_passwords(args.common_passwords):
        log("warning: the common password list differs from the spec's description")


if __name__ == "__main__":
    main()
