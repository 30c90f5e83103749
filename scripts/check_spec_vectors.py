#!/usr/bin/env python3
"""Independently re-verify crates/sesame-core/tests/vectors/spec-vectors.json.

Every row of the vector file is recomputed from its inputs with the algorithms described in
spec/django-sessions.md and spec/django-auth.md, using only the Python standard library
(hashlib, hmac, zlib, base64, json, plus datetime/pickle/email.utils for dates, pickles and
cookie dates). Password rows for bcrypt / argon2 need the optional `bcrypt` / `argon2-cffi`
packages; if they are not importable those rows are skipped with a note. Django itself is
never imported.

Usage:  python3 scripts/check_spec_vectors.py [path/to/spec-vectors.json] [-v]

Prints one line per section with verified / skipped / failed counts and exits non-zero if
any row fails. A row carrying a "suspect" field is a spec value believed to be wrong: a
mismatch there is reported as "suspect" and does not fail the run.
"""
import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import json
import math
import os
import pickle
import re
import sys
import warnings
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PATH = os.path.join(HERE, "..", "crates", "sesame-core", "tests", "vectors", "spec-vectors.json")

try:
    import bcrypt  # type: ignore
except ImportError:  # pragma: no cover
    bcrypt = None
try:
    from argon2 import low_level as argon2_ll  # type: ignore
except ImportError:  # pragma: no cover
    argon2_ll = None
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt as _crypt  # stdlib, removed in Python 3.13
except ImportError:  # pragma: no cover
    _crypt = None


class Skip(Exception):
    pass


class Fail(Exception):
    pass


def expect(got, want, what):
    if got != want:
        raise Fail(f"{what}: got {got!r}, want {want!r}")


# --------------------------------------------------------------------------- primitives (spec §0, §1)

def fb(s):
    """force_bytes: str -> UTF-8, bytes unchanged."""
    return s if isinstance(s, bytes) else s.encode("utf-8")


def salted_hmac(key_salt, value, secret, algorithm):
    """spec sessions §1.1: key = H(key_salt || secret) (plain hash), then HMAC-H(key, value)."""
    h = getattr(hashlib, algorithm)
    key = h(fb(key_salt) + fb(secret)).digest()
    return hmac.new(key, msg=fb(value), digestmod=h)


def b64_encode(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def b64_decode(s):
    s = fb(s)
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def b62_encode(n):
    if n == 0:
        return "0"
    sign = "-" if n < 0 else ""
    n = abs(n)
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return sign + out


def b62_decode(s):
    sign = -1 if s.startswith("-") else 1
    n = 0
    for ch in s.lstrip("-"):
        n = n * 62 + B62.index(ch)
    return sign * n


def b36_encode(n):
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = B36[r] + out
        if not n:
            return out


class BadSignature(Exception):
    pass


class SignatureExpired(BadSignature):
    pass


def signature(value, key, salt, algorithm):
    """Signer.signature: base64_hmac(salt + 'signer', value, key, algorithm)."""
    return b64_encode(salted_hmac(salt + "signer", value, key, algorithm).digest())


def sign(value, key, salt, algorithm="sha256", sep=":"):
    return value + sep + signature(value, key, salt, algorithm)


def unsign(signed, keys, salt, algorithm="sha256", sep=":"):
    if sep not in signed:
        raise BadSignature("no separator")
    value, sig = signed.rsplit(sep, 1)
    for k in keys:
        if hmac.compare_digest(fb(sig), fb(signature(value, k, salt, algorithm))):
            return value
    raise BadSignature("signature mismatch")


def ts_sign(value, key, salt, now, algorithm="sha256"):
    return sign(value + ":" + b62_encode(int(now)), key, salt, algorithm)


def ts_unsign(signed, keys, salt, now=None, max_age=None, algorithm="sha256"):
    result = unsign(signed, keys, salt, algorithm)
    value, ts = result.rsplit(":", 1)
    ts = b62_decode(ts)
    if max_age is not None:
        age = float(now) - ts
        if age > max_age:
            raise SignatureExpired(f"Signature age {age} > {max_age} seconds")
    return value


def json_dumps_compact(obj):
    """signing.JSONSerializer.dumps: compact separators, ensure_ascii, latin-1 bytes."""
    return json.dumps(obj, separators=(",", ":")).encode("latin-1")


def json_loads_latin1(b):
    return json.loads(b.decode("latin-1"))


def sign_object(obj, key, salt, now, compress=False, algorithm="sha256", data=None):
    if data is None:
        data = json_dumps_compact(obj)
    is_compressed = False
    if compress:
        c = zlib.compress(data)
        if len(c) < len(data) - 1:
            data, is_compressed = c, True
    b = b64_encode(data)
    if is_compressed:
        b = "." + b
    return ts_sign(b, key, salt, now, algorithm)


def unsign_object(signed, keys, salt, now=None, max_age=None, algorithm="sha256"):
    b = ts_unsign(signed, keys, salt, now, max_age, algorithm)
    if b[:1] == ".":
        raw = zlib.decompress(b64_decode(b[1:]))
    else:
        raw = b64_decode(b)
    return json_loads_latin1(raw)


def session_decode(s, keys, salt):
    """SessionBase.decode (>=4.0): any failure -> {}."""
    try:
        return unsign_object(s, keys, salt)
    except Exception:
        return {}


def ordered(o):
    """Compare JSON values including dict key order."""
    if isinstance(o, dict):
        return [(k, ordered(v)) for k, v in o.items()]
    if isinstance(o, list):
        return [ordered(v) for v in o]
    return (type(o).__name__, o)


def key_of(row, field="key"):
    if row.get(field + "_hex") is not None:
        return bytes.fromhex(row[field + "_hex"])
    return row[field]


COOKIE_PREFIX = b"django.http.cookies"
SESSION_SALT = "django.contrib.sessions.SessionStore"
AUTH_HASH_SALT = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
RESET_SALT = "django.contrib.auth.tokens.PasswordResetTokenGenerator"
COOKIE_AGE = 1209600


# --------------------------------------------------------------------------- section checkers
# Each checker gets one row and raises Fail / Skip, or returns an optional info string.

def c_salted_hmac(r):
    expect(salted_hmac(r["key_salt"], r["value"], r["secret"], r["algorithm"]).hexdigest(), r["hexdigest"],
           "hexdigest")


def c_base64(r):
    raw = bytes.fromhex(r["bytes_hex"])
    expect(b64_encode(raw), r["encoded"], "encode")
    expect(b64_decode(r["encoded"]), raw, "decode")
    if "literal" in r:
        expect(eval(r["literal"], {"__builtins__": {}}), raw, "literal vs bytes_hex")


def c_base62(r):
    expect(b62_encode(r["int"]), r["encoded"], "encode")
    expect(b62_decode(r["encoded"]), r["int"], "decode")


def c_signer(r):
    key = key_of(r)
    if "key_literal" in r:
        expect(eval(r["key_literal"], {"__builtins__": {}}), key, "key literal vs key_hex")
    salt = r["salt"] if r["salt"] is not None else "django.core.signing.Signer"
    if "signature" in r:
        expect(signature(r["input"], key, salt, r["algorithm"]), r["signature"], "signature")
    else:
        expect(sign(r["input"], key, salt, r["algorithm"], r["sep"]), r["output"], "sign")
        expect(unsign(r["output"], [key], salt, r["algorithm"], r["sep"]), r["input"], "unsign")
        try:
            unsign(r["output"], [key + (b"x" if isinstance(key, bytes) else "x")], salt, r["algorithm"], r["sep"])
            raise Fail("unsign with a wrong key succeeded")
        except BadSignature:
            pass


def c_timestamp_signer(r):
    salt = r["salt"] if r["salt"] is not None else "django.core.signing.TimestampSigner"
    if r.get("default_salt"):
        expect(r["default_salt"], "django.core.signing.TimestampSigner", "default salt")
    out = ts_sign(r["input"], r["key"], salt, r["time"])
    expect(out, r["output"], "sign")
    for ma in r["max_age_ok"]:
        expect(ts_unsign(out, [r["key"]], salt, r["unsign_time"], ma), r["input"], f"unsign max_age={ma}")
    for ma in r["max_age_expired"]:
        try:
            ts_unsign(out, [r["key"]], salt, r["unsign_time"], ma)
            raise Fail(f"max_age={ma} did not expire")
        except SignatureExpired:
            pass


def c_signing_dumps(r):
    alg = r.get("algorithm", "sha256")
    if "payload_json" in r:
        expect(json_dumps_compact(r["obj"]).decode("latin-1"), r["payload_json"], "payload JSON")
    out = sign_object(r["obj"], r["key"], r["salt"], r["time"], r["compress"], alg)
    expect(out, r["output"], "dumps")
    expect(out.startswith("."), r["compress"] and out.startswith("."), "compression flag")
    expect(ordered(unsign_object(r["output"], [r["key"]], r["salt"], algorithm=alg)), ordered(r["obj"]), "loads")


def c_session_encode(r):
    out = sign_object(r["data"], r["secret_key"], r["salt"], r["time"], compress=True)
    expect(out, r["encoded"], "encode")
    expect(r["encoded"].startswith("."), r["compressed"], "compressed flag")
    expect(ordered(session_decode(r["encoded"], [r["secret_key"]], r["salt"])), ordered(r["data"]), "decode")


def c_session_decode(r, rows_by_id):
    keys = [r["secret_key"]] + list(r["fallback_keys"])
    expect(ordered(session_decode(r["encoded"], keys, r["salt"])), ordered(r["expected"]), "decode")
    if r.get("same_mac_bytes_as"):
        other = rows_by_id[r["same_mac_bytes_as"]]["encoded"]
        expect(b64_decode(r["encoded"].rsplit(":", 1)[1]), b64_decode(other.rsplit(":", 1)[1]),
               "decoded MAC bytes (padding-bit-only change)")
        expect(r["encoded"] != other, True, "text differs")
    if "legacy_plaintext" in r:
        # pre-3.1 format (spec sessions §2.3): std base64 of hexmac ":" json, MAC sha1 with salt
        # 'django.contrib.sessions' + class name (no dot).
        plain = base64.b64decode(r["encoded"]).decode("ascii")
        expect(plain, r["legacy_plaintext"], "legacy base64 payload")
        expect(base64.b64encode(plain.encode()).decode(), r["encoded"], "legacy re-encode")
        hexmac, js = plain.split(":", 1)
        expect(salted_hmac("django.contrib.sessionsSessionStore", js, r["secret_key"], "sha1").hexdigest(), hexmac,
               "legacy hexmac")
        expect(ordered(json.loads(js)), ordered(r["expected_django_le_3_2"]), "legacy JSON")
        expect(js.encode(), json_dumps_compact(r["expected_django_le_3_2"]), "legacy JSON bytes")


def c_signed_cookies_session(r):
    out = sign_object(r["data"], r["secret_key"], r["salt"], r["time"], compress=True)
    expect(out, r["cookie"], "cookie value")
    for t in r.get("load_ok_at", []):
        expect(ordered(unsign_object(r["cookie"], [r["secret_key"]], r["salt"], t, r["max_age"])),
               ordered(r["data"]), f"load at {t}")
    for t in r.get("load_empty_at", []):
        try:
            unsign_object(r["cookie"], [r["secret_key"]], r["salt"], t, r["max_age"])
            raise Fail(f"cookie still valid at {t}")
        except SignatureExpired:
            pass


def c_signed_cookie_value(r):
    if r["scheme"] not in ("v2", "legacy"):
        raise Fail(f"unknown scheme {r['scheme']!r}")
    if r["scheme"] == "v2":
        salt = "django.http.cookies.v2:" + str(len(r["salt"])) + ":" + r["salt"] + r["name"]
    else:
        salt = r["name"] + r["salt"]
    expect(salt, r["signer_salt"], "signer salt")
    key = COOKIE_PREFIX + fb(r["secret_key"])
    out = ts_sign(r["value"], key, salt, r["time"], r["algorithm"])
    expect(out, r["output"], "cookie value")
    mc = r.get("max_age_check")
    if mc:
        for ma in mc["ok"]:
            expect(ts_unsign(out, [key], salt, mc["at"], ma), r["value"], f"max_age={ma}")
        for ma in mc["expired"]:
            try:
                ts_unsign(out, [key], salt, mc["at"], ma)
                raise Fail(f"max_age={ma} did not expire")
            except SignatureExpired:
                pass


def c_session_auth_hash(r):
    expect(salted_hmac(AUTH_HASH_SALT, r["password"], r["secret_key"], r["algorithm"]).hexdigest(), r["hash"],
           "hash")


CSRF_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def csrf_unmask(token):
    mask, cipher = token[:32], token[32:]
    return "".join(CSRF_CHARS[(CSRF_CHARS.index(c) - CSRF_CHARS.index(m)) % 62] for c, m in zip(cipher, mask))


def csrf_mask(secret, mask):
    return mask + "".join(CSRF_CHARS[(CSRF_CHARS.index(s) + CSRF_CHARS.index(m)) % 62] for s, m in zip(secret, mask))


def c_csrf_unmask(r):
    expect(len(r["token"]), 64, "token length")
    expect(csrf_unmask(r["token"]), r["secret"], "unmask")


def c_csrf_mask(r):
    expect(csrf_mask(r["secret"], r["mask"]), r["token"], "mask")
    expect(csrf_unmask(r["token"]), r["secret"], "unmask")


def msg_list(m):
    out = ["__json_message", 1 if m["is_safe"] else 0, m["level"], m["message"]]
    if m["extra_tags"] is not None:
        out.append(m["extra_tags"])
    return out


def messages_payload(r):
    items = [msg_list(m) for m in r["messages"]]
    if r.get("not_finished_sentinel"):
        items.append("__messagesnotfinished__")
    return items


def c_messages_cookie(r):
    items = messages_payload(r)
    compact = json.dumps(items, separators=(",", ":"))
    if r["format"] not in ("current", "legacy_le_3_0"):
        raise Fail(f"unknown format {r['format']!r}")
    if r["format"] == "legacy_le_3_0":
        mac = salted_hmac("django.contrib.messages", compact, r["secret_key"], "sha1").hexdigest()
        expect(mac + "$" + compact, r["cookie"], "legacy cookie")
        return
    key = COOKIE_PREFIX + fb(r["secret_key"])
    salt = "django.contrib.messages"
    # payload = "[" + ",".join(compact(msg)) + "]" (spec §7.4), i.e. the compact list
    joined = "[" + ",".join(json.dumps(i, separators=(",", ":")) for i in items) + "]"
    expect(joined, compact, "payload join")
    out = sign_object(None, key, salt, r["time"], compress=True, data=compact.encode("latin-1"))
    expect(out, r["cookie"], "cookie")
    expect(ordered(unsign_object(r["cookie"], [key], salt)), ordered(items), "decode")
    for ch in '\\,;"':
        expect(ch in r["cookie"], False, f"cookie contains {ch!r}")


def c_messages_session(r):
    expect(json.dumps(messages_payload(r)), r["value"], "session value (default separators)")


def c_messages_json(r):
    items = messages_payload(r)
    obj = items[0] if r.get("single") else items
    if r.get("single"):
        expect(len(items), 1, "single message")
    expect(json.dumps(obj, separators=(",", ":")), r["json"], "json")


def c_set_expiry(r):
    now = dt.datetime.fromisoformat(r["now_iso"])
    expect(now, dt.datetime.fromtimestamp(1700000000, dt.timezone.utc), "now == T")
    arg = r["arg"]
    if "timedelta_seconds" in arg:
        stored = (now + dt.timedelta(seconds=arg["timedelta_seconds"])).isoformat()
    else:
        d = dt.datetime.fromisoformat(arg["datetime"])
        stored = d.isoformat()
        expect(d, dt.datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=dt.timezone.utc), "datetime argument")
    expect(stored, r["stored"], "stored value")


# ---- passwords (spec auth §1.2, §1.3 Django 6.0 column)

D60 = {"pbkdf2_iter": 1200000, "argon2": ("argon2id", 19, 102400, 2, 8, 32), "bcrypt_rounds": 12,
       "scrypt": (16384, 8, 5)}


def short_salt(salt):
    return len(salt) * math.log2(62) < 128


def std_b64(b, pad=True):
    s = base64.b64encode(b).decode("ascii")
    return s if pad else s.rstrip("=")


def encode_password(r, password):
    alg, salt, p = r["algorithm"], r["salt"], r["params"]
    pw = password.encode("utf-8")
    if alg in ("pbkdf2_sha256", "pbkdf2_sha1"):
        h = alg.split("_")[1]
        dk = hashlib.pbkdf2_hmac(h, pw, salt.encode(), p["iterations"])
        return f"{alg}${p['iterations']}${salt}${std_b64(dk)}"
    if alg == "argon2":
        if argon2_ll is None:
            raise Skip("argon2-cffi not installed")
        expect(p["type"], "argon2id", "argon2 type")
        raw = argon2_ll.hash_secret_raw(pw, salt.encode(), time_cost=p["time_cost"], memory_cost=p["memory_cost"],
                                        parallelism=p["parallelism"], hash_len=p["hash_len"],
                                        type=argon2_ll.Type.ID, version=p["version"])
        return (f"argon2$argon2id$v={p['version']}$m={p['memory_cost']},t={p['time_cost']},p={p['parallelism']}$"
                f"{std_b64(salt.encode(), False)}${std_b64(raw, False)}")
    if alg in ("bcrypt_sha256", "bcrypt"):
        if bcrypt is None:
            raise Skip("bcrypt not installed")
        expect(salt[:7], "$2b$%02d$" % p["rounds"], "bcrypt salt prefix / rounds")
        data = hashlib.sha256(pw).hexdigest().encode() if alg == "bcrypt_sha256" else pw
        return alg + "$" + bcrypt.hashpw(data, salt.encode()).decode()
    if alg == "scrypt":
        dk = hashlib.scrypt(pw, salt=salt.encode(), n=p["n"], r=p["r"], p=p["p"], maxmem=256 * 1024 * 1024,
                            dklen=p["dklen"])
        return f"scrypt${p['n']}${salt}${p['r']}${p['p']}${std_b64(dk)}"
    if alg == "md5":
        return f"md5${salt}${hashlib.md5(salt.encode() + pw).hexdigest()}"
    if alg == "sha1":
        return f"sha1${salt}${hashlib.sha1(salt.encode() + pw).hexdigest()}"
    if alg in ("unsalted_sha1", "unsalted_md5"):
        expect(salt, None, "unsalted hasher has no salt")
    if alg == "unsalted_sha1":
        return "sha1$$" + hashlib.sha1(pw).hexdigest()
    if alg == "unsalted_md5":
        h = hashlib.md5(pw).hexdigest()
        return h if r["encoded"].startswith(h) else "md5$$" + h
    if alg == "crypt":
        if _crypt is None:
            raise Skip("crypt module not available")
        return "crypt$$" + _crypt.crypt(password, salt)
    raise Fail(f"unknown algorithm {alg}")


def must_update_60(r):
    alg, salt, p = r["algorithm"], r["salt"], r["params"]
    if alg.startswith("pbkdf2"):
        return p["iterations"] != D60["pbkdf2_iter"] or short_salt(salt)
    if alg == "argon2":
        cur = (p["type"], p["version"], p["memory_cost"], p["time_cost"], p["parallelism"], p["hash_len"])
        b64salt = r["encoded"].split("$")[4]
        text_salt = base64.b64decode(b64salt + "=" * (-len(b64salt) % 4)).decode()
        return cur != D60["argon2"] or short_salt(text_salt)
    if alg.startswith("bcrypt"):
        return p["rounds"] != D60["bcrypt_rounds"]
    if alg == "scrypt":
        return (p["n"], p["r"], p["p"]) != D60["scrypt"]
    if alg == "md5":
        return short_salt(salt)
    raise Fail(f"no must_update rule for {alg}")


def c_passwords(r):
    if "password_utf8_hex" in r:
        expect(r["password"].encode("utf-8").hex(), r["password_utf8_hex"], "password UTF-8 bytes")
    if r["algorithm"] == "bcrypt" and len(r["password"].encode()) > 72:
        raise Fail("plain bcrypt vector with a >72-byte password")
    expect(encode_password(r, r["password"]), r["encoded"], "encoded")
    # spec: check_password(pw + "x") is False
    if r["algorithm"] != "crypt":  # DES crypt only looks at 8 chars ("passwordx" -> same hash)
        wrong = encode_password(r, r["password"] + "x")
        expect(wrong != r["encoded"], True, "pw+'x' must not verify")
    if r["id"] == "H16" and bcrypt is not None:
        tail = r["encoded"][-31:]
        for v in ("$2a$", "$2y$"):
            try:
                out = bcrypt.hashpw(r["password"].encode(), (v + r["salt"][4:]).encode()).decode()
            except ValueError:
                continue  # library refuses this prefix: nothing to compare
            expect(out[-31:], tail, f"{v} variant tail")
    if r["algorithm"] == "scrypt" and r["params"] == {"n": 16384, "r": 8, "p": 5, "dklen": 64} \
            and len(r["salt"]) == 22:
        expect(len(r["encoded"]), 128, "default scrypt length")
    if r.get("must_update_django60") is not None:
        expect(must_update_60(r), r["must_update_django60"], "must_update under 6.0")


def c_reset_tokens(r):
    now = dt.datetime.fromisoformat(r["now_naive_local"])
    expect(now.tzinfo, None, "naive now")
    ts = int((now - dt.datetime(2001, 1, 1)).total_seconds())
    expect(ts, r["ts"], "timestamp")
    expect(b36_encode(ts), r["ts_b36"], "base36")
    if r["last_login"] is None:
        login_ts = ""
    else:
        login_ts = str(dt.datetime.fromisoformat(r["last_login"]).replace(microsecond=0, tzinfo=None))
    email = r["email"] or ""
    hv = f"{r['pk']}{r['password']}{login_ts}{ts}{email}"
    expect(hv, r["hash_value"], "hash value")
    hexd = salted_hmac(RESET_SALT, hv, r["secret_key"], r["algorithm"]).hexdigest()
    if r.get("hmac_hex") is not None:
        expect(hexd, r["hmac_hex"], "full HMAC hex")
    token = f"{b36_encode(ts)}-{hexd[::2]}"
    expect(token, r["token"], "token")
    expect(b64_encode(str(r["pk"]).encode()), r["uidb64"], "uidb64")
    # check_token window: rejected when now_ts - ts > timeout
    expect((ts + r["valid_at_offset"]) - ts > r["timeout"], False, "valid at +timeout")
    expect((ts + r["invalid_at_offset"]) - ts > r["timeout"], True, "invalid at +timeout+1")


def c_uidb64(r):
    expect(b64_encode(str(r["pk"]).encode()), r["uidb64"], "uidb64")
    expect(b64_decode(r["uidb64"]).decode(), str(r["pk"]), "decode")


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def render_set_cookie(name, value, expires_at=None, httponly=False, max_age=None, path=None, samesite=None,
                      domain=None, secure=False):
    """spec §8.1: attributes in the order Domain, expires, HttpOnly, Max-Age, Path, SameSite, Secure."""
    if value == "":
        value = '""'
    elif not re.fullmatch(r"[A-Za-z0-9!#$%&'*+\-.^_`|~:]+", value):
        raise Fail("value would need quoting; not handled here")
    parts = [f"{name}={value}"]
    if domain:
        parts.append(f"Domain={domain}")
    if expires_at is not None:
        parts.append(f"expires={http_date(expires_at)}")
    if httponly:
        parts.append("HttpOnly")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if path:
        parts.append(f"Path={path}")
    if samesite:
        parts.append(f"SameSite={samesite}")
    if secure:
        parts.append("Secure")
    return "Set-Cookie: " + "; ".join(parts)


def c_set_cookie_lines(r):
    line = render_set_cookie(r["name"], r["value"], r["expires_at"], r["httponly"], r["max_age"], r["path"],
                             r["samesite"])
    expect(line, r["line"], "Set-Cookie line")
    if r["max_age"] and r["expires_at"] is not None:
        expect(r["expires_at"], 1700000000 + r["max_age"], "expires = T + max_age")


def c_pickle(r):
    out = pickle.dumps(r["data"], protocol=r["protocol"])
    expect(out.hex(), r["hex"], "pickle bytes")
    b = bytes.fromhex(r["hex"])
    expect(b[:2], b"\x80\x05", "PROTO 5")
    expect(b[2], 0x95, "FRAME opcode")
    expect(int.from_bytes(b[3:11], "little"), len(b) - 11, "FRAME length")


def c_cache_key(r):
    if r["engine"] == "cache":
        expect(":1:" + "django.contrib.sessions.cache" + r["session_key"], r["key"], "cache key")
    elif r["engine"] == "file":
        expect(os.path.join("/tmp", "sessionid" + r["session_key"]), r["key"], "file path")
    else:
        raise Fail("unknown engine")


def c_random_examples(r):
    pats = {
        "unusable_password": r"![a-zA-Z0-9]{40}",
        "default_salt": r"[a-zA-Z0-9]{22}",
        "bcrypt_salt": r"\$2b\$12\$[./A-Za-z0-9]{22}",
        "session_key": r"[a-z0-9]{32}",
    }
    if not re.fullmatch(pats[r["kind"]], r["value"]):
        raise Fail(f"{r['value']!r} (len {len(r['value'])}) does not match {pats[r['kind']]}")


def c_login_e2e(r):
    T = r["time"]
    expect(r["session_key"], r["forced_session_key_rng"], "session key = forced RNG output")
    h = salted_hmac(AUTH_HASH_SALT, r["password"], r["secret_key"], "sha256").hexdigest()
    expect(h, r["auth_user_hash"], "_auth_user_hash")
    dec = r["decoded"]
    expect(list(dec), ["_auth_user_id", "_auth_user_backend", "_auth_user_hash"], "session key order")
    expect(dec["_auth_user_id"], str(r["user_pk"]), "_auth_user_id is str(pk)")
    expect(dec["_auth_user_hash"], h, "decoded hash")
    expect(json_dumps_compact(dec).decode(), r["decoded_json"], "decoded JSON text")
    expect(sign_object(dec, r["secret_key"], SESSION_SALT, T, compress=True), r["session_data"], "session_data")
    expect(ordered(session_decode(r["session_data"], [r["secret_key"]], SESSION_SALT)), ordered(dec), "decode")
    exp = dt.datetime.fromtimestamp(T + COOKIE_AGE, dt.timezone.utc).isoformat()
    expect(exp, r["expire_date"], "expire_date")
    key = COOKIE_PREFIX + fb(r["secret_key"])
    items = [msg_list(m) for m in r["messages"]]
    mcookie = sign_object(None, key, "django.contrib.messages", T, compress=True,
                          data=json.dumps(items, separators=(",", ":")).encode())
    expect(r["set_cookie"], [
        render_set_cookie("messages", mcookie, httponly=True, path="/", samesite="Lax"),
        render_set_cookie("sessionid", r["session_key"], T + COOKIE_AGE, True, COOKIE_AGE, "/", "Lax"),
    ], "Set-Cookie headers")
    expect(r["vary"], "Vary: Cookie", "Vary")
    expect(pickle.dumps(dec, protocol=5).hex(), r["pickle5_hex"], "pickle-5 hex")


# --------------------------------------------------------------------------- driver

CHECKERS = [
    ("salted_hmac", c_salted_hmac),
    ("base64", c_base64),
    ("base62", c_base62),
    ("signer", c_signer),
    ("timestamp_signer", c_timestamp_signer),
    ("signing_dumps", c_signing_dumps),
    ("session_encode", c_session_encode),
    ("session_decode", c_session_decode),
    ("signed_cookies_session", c_signed_cookies_session),
    ("signed_cookie_value", c_signed_cookie_value),
    ("session_auth_hash", c_session_auth_hash),
    ("csrf_unmask", c_csrf_unmask),
    ("csrf_mask", c_csrf_mask),
    ("messages_cookie", c_messages_cookie),
    ("messages_session", c_messages_session),
    ("messages_json", c_messages_json),
    ("set_expiry", c_set_expiry),
    ("passwords", c_passwords),
    ("reset_tokens", c_reset_tokens),
    ("uidb64", c_uidb64),
    ("login_e2e", c_login_e2e),
    ("pickle", c_pickle),
    ("cache_key", c_cache_key),
    ("set_cookie_lines", c_set_cookie_lines),
    ("random_examples", c_random_examples),
]


def main(argv):
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    path = args[0] if args else DEFAULT_PATH
    with open(path, encoding="utf-8") as f:
        data = json.load(f)

    total_fail = 0
    notes = []
    if not isinstance(data.get("_about"), str):
        print("_about: missing")
        total_fail += 1
    known = {name for name, _ in CHECKERS} | {"_about"}
    for k in data:
        if k not in known:
            print(f"{k}: no checker for this section")
            total_fail += 1
    seen_ids = {}
    for name, fn in CHECKERS:
        rows = data.get(name)
        if rows is None:
            print(f"{name}: MISSING section")
            total_fail += 1
            continue
        if isinstance(rows, dict):
            rows = [rows]
        by_id = {r["id"]: r for r in rows}
        ok = skipped = failed = suspect = 0
        for r in rows:
            rid = r.get("id")
            if not rid or not r.get("source"):
                print(f"  FAIL {name}: row without id/source: {str(r)[:80]}")
                failed += 1
                continue
            if rid in seen_ids and seen_ids[rid] == name:
                print(f"  FAIL {name} {rid}: duplicate id")
                failed += 1
            seen_ids[rid] = name
            try:
                if fn is c_session_decode:
                    fn(r, by_id)
                else:
                    fn(r)
            except Skip as e:
                skipped += 1
                notes.append(f"{name} {rid}: skipped ({e})")
            except (Fail, Exception) as e:  # noqa: B014 - report any error as a failure
                msg = f"{type(e).__name__}: {e}" if not isinstance(e, Fail) else str(e)
                if r.get("suspect"):
                    suspect += 1
                    print(f"  SUSPECT {name} {rid}: {msg}  [marked suspect: {r['suspect']}]")
                else:
                    failed += 1
                    print(f"  FAIL {name} {rid}: {msg}")
            else:
                if r.get("suspect"):
                    print(f"  NOTE {name} {rid}: marked suspect but recomputes fine: {r['suspect']}")
                ok += 1
                if verbose:
                    print(f"  ok   {name} {rid}")
        total_fail += failed
        line = f"{name}: {ok} verified, {skipped} skipped, {failed} failed"
        if suspect:
            line += f", {suspect} suspect (known spec mismatch)"
        print(line)
    for n in notes:
        print("note: " + n)
    print("RESULT: " + ("FAIL" if total_fail else "OK"))
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
