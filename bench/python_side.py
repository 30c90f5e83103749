#!/usr/bin/env python3
"""The Python side of Sesame's benchmarks: Django 5.2's own functions on the same inputs.

Reads bench/inputs.json (the data the Rust benches use) and times, with timeit:

  signing   Signer.sign / Signer.unsign of a short string, signing.dumps / signing.loads of a
            small dict
  session   SessionStore().encode / .decode of a three-key login session and of a ~2 KB one
  hashers   make_password(password, salt, hasher) and check_password(password, encoded) for
            each hasher at Django 5.2's defaults (PASSWORD_HASHERS in the same order as the
            Rust side: Django's defaults, then bcrypt and md5)
  pbkdf2    hashlib.pbkdf2_hmac("sha256", password, salt, 1_000_000, 32)

Each figure is the median over several timeit repeats of the time per call (timeit's autorange
picks the calls per repeat). The benchmark ids are the Rust side's, so that bench/report.py
can pair them. Run it with the virtual environment scripts/django-vectors makes:

  .venv/django52/bin/python bench/python_side.py [--json out.jsonl] [--groups signing,session]
"""

import argparse
import importlib.metadata
import json
import os
import platform
import ssl
import statistics
import sys
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))

HASHER_CLASSES = {
    "pbkdf2_sha256": "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "pbkdf2_sha1": "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "argon2": "django.contrib.auth.hashers.Argon2PasswordHasher",
    "bcrypt_sha256": "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "bcrypt": "django.contrib.auth.hashers.BCryptPasswordHasher",
    "scrypt": "django.contrib.auth.hashers.ScryptPasswordHasher",
    "md5": "django.contrib.auth.hashers.MD5PasswordHasher",
}
GROUPS = ("signing", "session", "hashers", "pbkdf2")


def setup_django(inputs):
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY=inputs["secret_key"],
        PASSWORD_HASHERS=[HASHER_CLASSES[name] for name in inputs["hashers"]],
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
        ],
        USE_TZ=True,
    )
    django.setup()
    return django


def measure(fn, repeat):
    """Median and minimum seconds per call of fn over `repeat` timeit repeats."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()  # at least 0.2 s per repeat; also warms up
    per_call = [t / number for t in timer.repeat(repeat=repeat, number=number)]
    return statistics.median(per_call), min(per_call), repeat * number


def fmt_time(seconds):
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e9:.0f} ns"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="append one JSON line per benchmark to this file")
    parser.add_argument("--groups", default=",".join(GROUPS), help="comma-separated subset of %s" % (GROUPS,))
    parser.add_argument("--inputs", default=os.path.join(HERE, "inputs.json"))
    parser.add_argument("--quick", action="store_true", help="three repeats each: a smoke test, not figures")
    args = parser.parse_args()
    groups = [g for g in args.groups.split(",") if g]
    unknown = set(groups) - set(GROUPS)
    if unknown:
        parser.error(f"unknown groups {sorted(unknown)}")

    with open(args.inputs, encoding="utf-8") as f:
        inputs = json.load(f)
    django = setup_django(inputs)

    import hashlib

    from django.contrib.auth.hashers import check_password, make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.core import signing

    benches = []  # (id, callable, repeats)

    if "signing" in groups:
        signer = signing.Signer(key=inputs["secret_key"], salt=inputs["signer_salt"])
        value = inputs["signer_value"]
        signed = signer.sign(value)
        assert signer.unsign(signed) == value
        obj = inputs["small_object"]
        dumped = signing.dumps(obj)
        assert signing.loads(dumped) == obj
        benches += [
            ("signing/signer_sign", lambda: signer.sign(value), 15),
            ("signing/signer_unsign", lambda: signer.unsign(signed), 15),
            ("signing/dumps", lambda: signing.dumps(obj), 15),
            ("signing/loads", lambda: signing.loads(dumped), 15),
        ]

    if "session" in groups:
        store = SessionStore()
        for name in ("login", "large"):
            data = inputs[f"{name}_session"]
            encoded = store.encode(data)
            assert store.decode(encoded) == data, name
            benches += [
                (f"session/encode_{name}", lambda data=data: store.encode(data), 15),
                (f"session/decode_{name}", lambda encoded=encoded: store.decode(encoded), 15),
            ]

    if "hashers" in groups:
        password = inputs["password"]
        for algorithm in inputs["hashers"]:
            salt = inputs["bcrypt_salt"].encode() if algorithm.startswith("bcrypt") else inputs["salt"]
            encoded = make_password(password, salt, algorithm)
            assert encoded.startswith(algorithm) and check_password(password, encoded), algorithm
            benches += [
                (
                    f"hashers/{algorithm}/make_password",
                    lambda s=salt, a=algorithm: make_password(password, s, a),
                    10,
                ),
                (
                    f"hashers/{algorithm}/check_password",
                    lambda e=encoded: check_password(password, e),
                    10,
                ),
            ]

    if "pbkdf2" in groups:
        pw, salt, n = inputs["password"].encode(), inputs["salt"].encode(), inputs["pbkdf2_iterations"]
        benches.append(
            ("pbkdf2/hashlib", lambda: hashlib.pbkdf2_hmac("sha256", pw, salt, n, 32), 7)
        )

    versions = {
        "python": platform.python_version(),
        "django": django.get_version(),
        "openssl": ssl.OPENSSL_VERSION,
    }
    for dist in ("argon2-cffi", "bcrypt"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    print("Django side: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + f"; {os.cpu_count()} CPUs")
    print(f"{'benchmark':<40} {'median':>12} {'min':>12} {'calls':>7}")
    out = open(args.json, "a", encoding="utf-8") if args.json else None
    try:
        for bench_id, fn, repeat in benches:
            med, low, calls = measure(fn, 3 if args.quick else repeat)
            print(f"{bench_id:<40} {fmt_time(med):>12} {fmt_time(low):>12} {calls:>7}", flush=True)
            if out:
                line = {"id": bench_id, "median_ns": med * 1e9, "min_ns": low * 1e9, "calls": calls}
                out.write(json.dumps(line) + "\n")
                out.flush()
    finally:
        if out:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
