#!/usr/bin/env python3
"""HTTP-level fuzzing of a real `sesame serve` (Python 3.11 stdlib only, raw sockets).

Starts the server on a fresh SQLite database with one user, logs in (so that logged-in paths
are reached too), then sends random requests: methods, the site's routes and random paths
with odd encodings, Host and Cookie headers (random, forged and real session and CSRF
values), Content-Type and Content-Length (mismatched too), chunked bodies, form bodies with
real or forged CSRF tokens, huge values, invalid UTF-8, and malformed request lines. Some
requests are real logins with a random `next`.

A violation is a 5xx other than 503, or "panicked" in the server's stderr. On one it prints
the reproducing request and exits 1. Deterministic by --seed: request i is made by its own
generator, seeded by (seed, i); the values learnt from the server (session, CSRF token) are
replaced by their names in the printed request where they appear.

    scripts/http-fuzz                     100,000 requests
    scripts/http-fuzz --requests 3000     the short run (CI)
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

USERNAME = "fuzzuser"
PASSWORD = "a long fuzz password 93"
EMAIL = "fuzz@example.com"
SECRET_KEY = "http-fuzz-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"

ROUTES = [
    "/",
    "/accounts/login/",
    "/accounts/logout/",
    "/accounts/signup/",
    "/accounts/profile/",
    "/accounts/password_change/",
    "/accounts/password_change/done/",
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/done/",
    "/accounts/reset/MQ/set-password/",
    "/accounts/reset/MQ/c4ak5x-0123456789abcdef0123/",
    "/api/whoami",
    "/healthz",
]
POST_ROUTES = [
    "/accounts/login/",
    "/accounts/logout/",
    "/accounts/signup/",
    "/accounts/password_change/",
    "/accounts/password_reset/",
    "/accounts/reset/MQ/set-password/",
]
METHODS = ["GET", "GET", "GET", "POST", "POST", "POST", "HEAD", "PUT", "DELETE",
           "OPTIONS", "PATCH", "TRACE", "CONNECT", "get", "P0ST", "GET\x00", "X" * 300]
FIELDS = ["csrfmiddlewaretoken", "username", "password", "next", "password1", "password2",
          "email", "old_password", "new_password1", "new_password2", "first_name", "", "x"]
NEXTS = ["/accounts/profile/", "//evil.com", "/\\evil.com", "http://evil.com", "https:evil.com",
         "/\t/evil.com", "/a\nb", "/a\rb", "\x01/x", "javascript:alert(1)", "/%0d%0a", "/é",
         "//127.0.0.1/", "http:///evil.com", "\\\\evil.com", "/\x7f", " /x ", "", "?x", "#y",
         "http://[::1/", "/" + "a" * 3000]
WORDS = ["", "a", "admin", "root", "é", "\x00", "%", "%zz", "%FF", "+", "&", "=", ";", "\"",
         "'", "<script>", "{{ 7*7 }}", "{% debug %}", "$ne", "../../etc/passwd", "\\", " ",
         "a" * 200, "🐍", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
         "short", "x@y.z", "NULL"]
CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded",
                 "application/x-www-form-urlencoded; charset=utf-8", "application/json",
                 "multipart/form-data; boundary=x", "text/plain", "", "application/x-www-form-urlencoded;;;",
                 "\x7f", "a" * 5000]


STATS: collections.Counter[str] = collections.Counter()


class Learnt:
    """Values the fuzzer learns from the server: real sessions and CSRF secrets/tokens."""

    def __init__(self) -> None:
        self.sessions: list[str] = []       # logged-in session keys
        self.csrf_cookie = ""               # a real csrftoken cookie value
        self.csrf_token = ""                # a masked token matching it
        self.reset_path = ""                # a real reset link (from the console mail)


def pct(rng: random.Random, s: str) -> str:
    """Percent-encode some characters, oddly."""
    out = []
    for ch in s:
        r = rng.random()
        if r < 0.05:
            out.append("".join(f"%{b:02X}" for b in ch.encode()))
        elif r < 0.07:
            out.append("".join(f"%{b:02x}" for b in ch.encode()))
        elif r < 0.08:
            out.append("%u00" + f"{ord(ch) & 0xff:02x}")
        else:
            out.append(ch)
    return "".join(out)


def rand_bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def rand_text(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.6:
        return rng.choice(WORDS)
    if r < 0.8:
        return "".join(chr(rng.randrange(0x20, 0x7f)) for _ in range(rng.randrange(0, 40)))
    if r < 0.95:
        return rand_bytes(rng, rng.randrange(0, 40)).decode("latin-1")
    return "".join(chr(rng.randrange(0x80, 0x3000)) for _ in range(rng.randrange(1, 20)))


def forged_session(rng: random.Random, learnt: Learnt) -> str:
    r = rng.random()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    if r < 0.3 and learnt.sessions:
        return rng.choice(learnt.sessions)
    if r < 0.5:
        return "".join(rng.choice(alphabet) for _ in range(32))
    if r < 0.6 and learnt.sessions:
        s = list(rng.choice(learnt.sessions))
        s[rng.randrange(len(s))] = rng.choice(alphabet)
        return "".join(s)
    if r < 0.7:
        return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 7, 8, 40, 41, 200])))
    if r < 0.8:
        # Django's signed_cookies format, forged.
        return "eyJfYXV0aF91c2VyX2lkIjoiMSJ9:1r31eq:" + "".join(rng.choice(alphabet) for _ in range(43))
    if r < 0.9:
        return '"' + rng.choice(["\\777", "\\073", "\\\\", "\\\"", "\\", "\\400"]) * rng.randrange(1, 5) + '"'
    return rand_text(rng)


def forged_csrf(rng: random.Random, learnt: Learnt) -> str:
    r = rng.random()
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    if r < 0.35 and learnt.csrf_cookie:
        return learnt.csrf_cookie
    if r < 0.5:
        return "".join(rng.choice(alphabet) for _ in range(rng.choice([32, 64])))
    if r < 0.6:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
    if r < 0.7:
        return "é" * 16
    return rand_text(rng)


def cookie_header(rng: random.Random, learnt: Learnt) -> str | None:
    r = rng.random()
    if r < 0.15:
        return None
    parts = []
    for _ in range(rng.choice([1, 1, 2, 3, 5])):
        kind = rng.random()
        if kind < 0.45:
            parts.append("sessionid=" + forged_session(rng, learnt))
        elif kind < 0.85:
            parts.append("csrftoken=" + forged_csrf(rng, learnt))
        elif kind < 0.9:
            parts.append("messages=" + rand_text(rng))
        else:
            parts.append(rand_text(rng))
    sep = rng.choice(["; ", ";", " ; ", ";;"])
    value = sep.join(parts)
    if rng.random() < 0.01:
        value += "; pad=" + "x" * rng.choice([5000, 17000, 70000])
    return value


def form_body(rng: random.Random, learnt: Learnt, real_token: bool) -> bytes:
    pairs = []
    if real_token and learnt.csrf_token:
        pairs.append(("csrfmiddlewaretoken", learnt.csrf_token))
    for _ in range(rng.randrange(0, 7)):
        name = rng.choice(FIELDS)
        if name == "next":
            value = rng.choice(NEXTS)
        elif name == "csrfmiddlewaretoken":
            value = forged_csrf(rng, learnt)
        elif name in ("username",) and rng.random() < 0.2:
            value = "user" + str(rng.randrange(10 ** 6))
        else:
            value = rand_text(rng)
        pairs.append((name, value))
    rng.shuffle(pairs)
    r = rng.random()
    if r < 0.7:
        text = "&".join(pct(rng, urllib.parse.quote_plus(k, safe="")) + "=" +
                        urllib.parse.quote_plus(v, safe="") for k, v in pairs)
        return text.encode()
    if r < 0.85:
        # Raw: unescaped, invalid escapes, invalid UTF-8.
        return "&".join(f"{k}={v}" for k, v in pairs).encode("utf-8", "surrogateescape") + rand_bytes(rng, rng.randrange(0, 8))
    if r < 0.95:
        return rand_bytes(rng, rng.randrange(0, 300))
    return b'{"username": "a", "password": "b"}'


def make_request(rng: random.Random, learnt: Learnt, port: int) -> bytes:
    """One request's bytes."""
    r = rng.random()
    if r < 0.04:
        return malformed(rng, port)
    method = rng.choice(METHODS)
    if method == "POST" or rng.random() < 0.1:
        path = rng.choice(POST_ROUTES)
    else:
        path = rng.choice(ROUTES)
    if learnt.reset_path and rng.random() < 0.03:
        path = learnt.reset_path
    r = rng.random()
    if r < 0.15:
        path = pct(rng, path)
    elif r < 0.2:
        path = "/" + "/".join(rand_text(rng) for _ in range(rng.randrange(1, 4)))
        path = urllib.parse.quote(path.encode("latin-1", "replace"), safe="/%") if rng.random() < 0.5 else path
    elif r < 0.25:
        path = rng.choice(["//", "/..", "/%2e%2e/", "/accounts/login", "/accounts//login/", "*",
                           "http://127.0.0.1/accounts/login/", "/%00", "/\t", "/ /", "/a" * 2000,
                           "/accounts/reset/%FF%FE/%C0%AF/", "/accounts/reset/" + "A" * 300 + "/x-y/"])
    if rng.random() < 0.3:
        nxt = rng.choice(NEXTS)
        path += ("&" if "?" in path else "?") + "next=" + (urllib.parse.quote(nxt) if rng.random() < 0.7 else nxt)
    headers: list[tuple[str, str]] = []
    r = rng.random()
    if r < 0.8:
        headers.append(("Host", f"127.0.0.1:{port}"))
    elif r < 0.9:
        headers.append(("Host", rng.choice(["evil.com", "", "a" * 300, "[::1]", "127.0.0.1:99999",
                                            "exa mple.com", "é.com", "localhost:80:80", "127.0.0.1#@evil"])))
    cookie = cookie_header(rng, learnt)
    if cookie is not None:
        headers.append(("Cookie", cookie))
        if rng.random() < 0.05:
            headers.append(("Cookie", cookie_header(rng, learnt) or "a=b"))
    if rng.random() < 0.1:
        headers.append(("X-CSRFToken", forged_csrf(rng, learnt) if rng.random() < 0.5 else learnt.csrf_token))
    if rng.random() < 0.1:
        headers.append(("Origin", rng.choice([f"http://127.0.0.1:{port}", "http://evil.com", "null", ""])))
    if rng.random() < 0.1:
        headers.append(("Referer", rng.choice([f"http://127.0.0.1:{port}/", "https://evil.com/", "x"])))
    if rng.random() < 0.05:
        headers.append(("X-Forwarded-For", rand_text(rng)))
    if rng.random() < 0.03:
        headers.append(("X-" + str(rng.randrange(100)), "v" * rng.choice([10, 9000, 70000])))
    if rng.random() < 0.01:
        for i in range(rng.choice([50, 120])):
            headers.append((f"X-Many-{i}", "1"))
    body = b""
    if method in ("POST", "PUT", "PATCH") or rng.random() < 0.05:
        real = rng.random() < 0.7
        body = form_body(rng, learnt, real)
        if rng.random() < 0.004:
            body = b"a=" + b"x" * rng.choice([2_700_000, 3_000_000])
        headers.append(("Content-Type", rng.choice(CONTENT_TYPES)))
    # Framing: right, wrong, absent, chunked.
    r = rng.random()
    if r < 0.75:
        if body or method == "POST":
            headers.append(("Content-Length", str(len(body))))
        raw_body = body
    elif r < 0.82:
        headers.append(("Content-Length", str(max(0, len(body) + rng.choice([-5, -1, 1, 100])))))
        raw_body = body
    elif r < 0.9:
        headers.append(("Transfer-Encoding", "chunked"))
        raw_body = (f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n") if rng.random() < 0.8 else (b"zz\r\n" + body)
    elif r < 0.95:
        headers.append(("Content-Length", rng.choice(["-1", "abc", "1, 2", "99999999999999999999", " 5"])))
        raw_body = body
    else:
        headers.append(("Content-Length", str(len(body))))
        headers.append(("Transfer-Encoding", "chunked"))
        raw_body = body
    headers.append(("Connection", "close"))
    rng.shuffle(headers)
    version = "HTTP/1.1" if rng.random() < 0.97 else rng.choice(["HTTP/1.0", "HTTP/2.0", "HTTP/1.2", "HTTP/1"])
    head = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("utf-8", "surrogateescape") + raw_body


def malformed(rng: random.Random, port: int) -> bytes:
    host = f"Host: 127.0.0.1:{port}\r\n"
    choices = [
        b"GET / HTTP/1.1\r\n" + host.encode() + b"Bad Header\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + host.encode() + b" folded: x\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\n" + host.encode() + b"\r\n",
        b"GET / HTTP/1.1\r\n" + host.encode() + b"X: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + host.encode() + b"Cookie: \xff\xfe=\xc0\xaf\r\n\r\n",
        b"\r\n\r\nGET / HTTP/1.1\r\n" + host.encode() + b"\r\n",
        b"GET\r\n\r\n",
        b"GET / HTTP/1.1\n" + host.encode().replace(b"\r", b"") + b"\n",
        rand_bytes(rng, rng.randrange(1, 200)),
        b"POST /accounts/login/ HTTP/1.1\r\n" + host.encode() + b"Content-Length: 10\r\n\r\nab",
        b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n" + host.encode() + b"\r\n",
        b"GET / HTTP/1.1\r\n" + host.encode() + b"Host: evil.com\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ]
    return rng.choice(choices)


def send(port: int, data: bytes, source: str = "127.0.0.2", timeout: float = 10.0) -> bytes:
    """Send one request on its own connection; the raw response ("" if none)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Reset rather than TIME_WAIT on close: 100,000 connections would use up the ports.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.settimeout(timeout)
    chunks = []
    try:
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        try:
            s.sendall(data)
        except OSError:
            pass  # the server may answer (413, 431) and close before reading it all
        # hyper closes a connection at EOF without answering, so the write side stays open;
        # but a request whose body is shorter than announced waits for the rest: after a
        # half second of silence, end it.
        s.settimeout(0.5)
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                if chunks or s.gettimeout() == timeout:
                    break
                s.shutdown(socket.SHUT_WR)
                STATS["ended by EOF"] += 1
                s.settimeout(timeout)
                continue
            if not chunk:
                break
            chunks.append(chunk)
    except OSError:  # refused, reset, timed out: no (more) response
        pass
    finally:
        s.close()
    return b"".join(chunks)


def status_of(response: bytes) -> str:
    m = re.match(rb"HTTP/\d\.\d (\d{3})", response)
    return m.group(1).decode() if m else "no response"


def cookies_of(response: bytes) -> dict[str, str]:
    out = {}
    for m in re.finditer(rb"(?im)^set-cookie: *([^=;\r\n]+)=([^;\r\n]*)", response):
        out[m.group(1).decode()] = m.group(2).decode("latin-1")
    return out


def login(port: int, learnt: Learnt, nxt: str | None, source: str = "127.0.0.1") -> bytes:
    """A real login (GET the form for a CSRF token, POST the credentials); the response."""
    resp = send(port, f"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode(), source)
    csrf = cookies_of(resp).get("csrftoken", "")
    m = re.search(rb'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"', resp)
    token = m.group(1).decode() if m else ""
    fields = [("csrfmiddlewaretoken", token), ("username", USERNAME), ("password", PASSWORD)]
    if nxt is not None:
        fields.append(("next", nxt))
    body = urllib.parse.urlencode(fields).encode()
    req = (f"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: csrftoken={csrf}\r\n"
           f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
           "Connection: close\r\n\r\n").encode() + body
    resp = send(port, req, source)
    session = cookies_of(resp).get("sessionid")
    if session:
        learnt.sessions.append(session)
        learnt.sessions = learnt.sessions[-8:]
    if csrf and token:
        learnt.csrf_cookie, learnt.csrf_token = csrf, token
    return resp


def refresh_sessions(port: int, learnt: Learnt) -> None:
    """Drop the sessions a fuzzed logout (or password change) ended; log in again if none is
    left, so that the logged-in paths stay reached."""
    alive = []
    for key in learnt.sessions:
        resp = send(port, (f"GET /api/whoami HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           f"Cookie: sessionid={key}\r\nConnection: close\r\n\r\n").encode(), "127.0.0.1")
        if USERNAME.encode() in resp:
            alive.append(key)
    learnt.sessions = alive
    if len(alive) < 2:
        login(port, learnt, None)


def printable(data: bytes, learnt: Learnt, limit: int = 4000) -> str:
    text = repr(data[:limit])
    if len(data) > limit:
        text += f" ... ({len(data)} bytes in all)"
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bin", default=None, help="the sesame binary (default: $CARGO_TARGET_DIR/debug/sesame)")
    ap.add_argument("--logins", type=float, default=0.01, help="share of requests that are real logins with a random next")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--show-no-response", type=int, default=0, metavar="N",
                    help="print the first N requests that got no response (malformed ones, mostly)")
    args = ap.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    binary = args.bin or os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "debug", "sesame")
    if not os.access(binary, os.X_OK):
        print(f"http-fuzz: no binary at {binary} (cargo build -p sesame-cli, or --bin)", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="sesame-http-fuzz-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESAME_")}
    env.update({
        "SESAME_DATABASE_URL": f"sqlite://{tmp}/db.sqlite3",
        "SESAME_SECRET_KEY": SECRET_KEY,
        "SESAME_BIND": f"127.0.0.1:{port}",
        "SESAME_EMAIL_BACKEND": "console",
        "SESAME_SUPERUSER_PASSWORD": PASSWORD,
        # MD5 first, as Django's own test settings do: a login costs microseconds instead of a
        # second of PBKDF2, so that thousands of logins (and the hash Sesame runs for unknown
        # users) fit in the run. PBKDF2 stays listed, so its hashes are still read.
        "SESAME_PASSWORD_HASHERS": "md5,pbkdf2_sha256",
        "SESAME_PASSWORD_HASHING_IDLE": "false",
        "RUST_BACKTRACE": "1",
    })
    subprocess.run([binary, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL, cwd=tmp)
    subprocess.run([binary, "createsuperuser", "--noinput", "--username", USERNAME, "--email", EMAIL],
                   env=env, check=True, stdout=subprocess.DEVNULL, cwd=tmp)
    out_path, err_path = os.path.join(tmp, "stdout.log"), os.path.join(tmp, "stderr.log")
    out, err = open(out_path, "wb"), open(err_path, "wb")
    server = subprocess.Popen([binary, "serve"], env=env, stdout=out, stderr=err, cwd=tmp)
    violation = None
    counts: collections.Counter[str] = collections.Counter()
    by_route: collections.Counter[str] = collections.Counter()
    started = time.time()
    try:
        for _ in range(200):
            if status_of(send(port, f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(), "127.0.0.1", 1.0)) == "200":
                break
            if server.poll() is not None:
                raise RuntimeError("the server exited at start; see " + err_path)
            time.sleep(0.1)
        learnt = Learnt()
        for _ in range(2):
            if status_of(login(port, learnt, None)) != "302":
                raise RuntimeError("the fuzz user cannot log in")
        # A real reset link, from the console mail, for the reset-confirm paths.
        body = urllib.parse.urlencode([("csrfmiddlewaretoken", learnt.csrf_token), ("email", EMAIL)]).encode()
        send(port, (f"POST /accounts/password_reset/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Cookie: csrftoken={learnt.csrf_cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body, "127.0.0.1")
        time.sleep(0.2)
        out.flush()
        m = re.search(rb"(/accounts/reset/[A-Za-z0-9_-]+/[0-9a-z]+-[0-9a-f]+/)", open(out_path, "rb").read())
        learnt.reset_path = m.group(1).decode() if m else ""
        print(f"http-fuzz: sesame serve on 127.0.0.1:{port}, {len(learnt.sessions)} sessions, "
              f"reset link {'found' if learnt.reset_path else 'NOT found'}; {args.requests} requests, seed {args.seed}", flush=True)

        err_seen = 0
        for i in range(args.requests):
            rng = random.Random(f"{args.seed}:{i}")
            if rng.random() < args.logins:
                nxt = rng.choice(NEXTS) if rng.random() < 0.6 else rand_text(rng)
                data = f"(a real login of {USERNAME!r} with next={nxt!r})".encode()
                resp = login(port, learnt, nxt)
                route = "login+next"
            else:
                data = make_request(rng, learnt, port)
                resp = send(port, data)
                route = data.split(b" ", 2)[1][:40].decode("latin-1") if data.count(b" ") >= 2 else "?"
            status = status_of(resp)
            counts[status] += 1
            if status == "no response" and args.show_no_response > 0:
                args.show_no_response -= 1
                print(f"  no response to request {i}: {printable(data, learnt, 300)}")
            if status.startswith("5") and status != "503":
                violation = f"request {i}: status {status}\n{printable(data, learnt)}\nresponse: {printable(resp, learnt, 600)}"
                break
            size = os.path.getsize(err_path)
            if size != err_seen:
                with open(err_path, "rb") as f:
                    f.seek(err_seen)
                    new = f.read()
                err_seen = size
                if b"panicked" in new:
                    violation = (f"request {i}: the server panicked\n{printable(data, learnt)}\n"
                                 f"stderr: {new[-3000:].decode('utf-8', 'replace')}")
                    break
            if server.poll() is not None:
                violation = f"request {i}: the server exited ({server.returncode})\n{printable(data, learnt)}"
                break
            if i % 1000 == 999:
                refresh_sessions(port, learnt)
            if (i + 1) % 10_000 == 0:
                rate = (i + 1) / (time.time() - started)
                print(f"  {i + 1} requests ({rate:.0f}/s): {dict(sorted(counts.items()))}", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        out.close()
        err.close()
    with open(err_path, "rb") as f:
        log = f.read()
    if violation is None and b"panicked" in log:
        violation = "the server's log has a panic:\n" + log.decode("utf-8", "replace")[-3000:]
    total = sum(counts.values())
    print(f"http-fuzz: {total} requests in {time.time() - started:.0f} s; by status: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
          + f" ({STATS['ended by EOF']} requests ended by EOF after half a second of silence)")
    if violation:
        print("http-fuzz: VIOLATION " + violation, file=sys.stderr)
        print(f"http-fuzz: server logs kept in {tmp}", file=sys.stderr)
        return 1
    if args.keep:
        print(f"http-fuzz: kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
