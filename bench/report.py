#!/usr/bin/env python3
"""Combine one run of Sesame's benches into ratio tables (used by bench/run-core.sh).

Reads
  --criterion DIR  criterion's output (CRITERION_HOME; run-core.sh gives each run its own):
                   every <id>/new/benchmark.json with its estimates.json (the median's point
                   estimate, in ns);
  --rust FILE      the JSON lines of benches/pbkdf2.rs (SESAME_BENCH_JSON);
  --python FILE    the JSON lines of bench/python_side.py (--json);
and prints Sesame / Django for every benchmark both sides ran, and the PBKDF2 table with
Sesame / each other implementation. --markdown prints the same as Markdown tables.

Standard library only: it runs with any python3.
"""

import argparse
import json
import os
import sys

GOAL = 1.05


def read_jsonl(path):
    out = {}
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    rec = json.loads(line)
                    out[rec["id"]] = rec
    return out


def read_criterion(root):
    out = {}
    if not root or not os.path.isdir(root):
        return out
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in files or "estimates.json" not in files:
            continue
        estimates = os.path.join(dirpath, "estimates.json")
        with open(os.path.join(dirpath, "benchmark.json"), encoding="utf-8") as f:
            full_id = json.load(f)["full_id"]
        with open(estimates, encoding="utf-8") as f:
            est = json.load(f)
        out[full_id] = {"id": full_id, "median_ns": est["median"]["point_estimate"]}
    return out


def fmt_time(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def table(headers, rows, markdown, align):
    if markdown:
        lines = ["| " + " | ".join(headers) + " |"]
        lines.append("|" + "|".join("---:" if a == ">" else "---" for a in align) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:{a}{w}}}" for a, w in zip(align, widths))
    return "\n".join([fmt.format(*headers)] + [fmt.format(*r) for r in rows])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--criterion")
    ap.add_argument("--rust")
    ap.add_argument("--python")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()

    rust = read_criterion(args.criterion)
    rust.update(read_jsonl(args.rust))
    python = read_jsonl(args.python)
    md = args.markdown

    # 1. Sesame against Django, benchmark by benchmark.
    rows = []
    for bench_id in python:  # python_side.py's order: signing, session, hashers
        if bench_id.startswith("pbkdf2/") or bench_id not in rust:
            continue
        s, d = rust[bench_id]["median_ns"], python[bench_id]["median_ns"]
        ratio = s / d
        verdict = f"{1 / ratio:.2f}× faster" if ratio < 1 else f"{ratio:.2f}× slower"
        rows.append([bench_id, fmt_time(s), fmt_time(d), f"{ratio:.3f}", verdict])
    missing = sorted((set(rust) ^ set(python)) - {k for k in set(rust) | set(python) if k.startswith("pbkdf2/")})
    print("Sesame / Django 5.2, median time per call (below 1: Sesame is faster)\n")
    print(table(["benchmark", "Sesame", "Django", "Sesame/Django", ""], rows, md, ["<", ">", ">", ">", "<"]))
    if missing:
        print(f"\n(only on one side, not compared: {', '.join(missing)})")

    # 2. PBKDF2 at 1,000,000 iterations: Sesame against every other implementation.
    pbkdf2 = {k: v for k, v in rust.items() if k.startswith("pbkdf2/")}
    if "pbkdf2/hashlib" in python:
        rec = dict(python["pbkdf2/hashlib"])
        rec["label"] = "hashlib.pbkdf2_hmac, timeit in python_side.py (separate process, later)"
        pbkdf2["pbkdf2/hashlib-timeit"] = rec
    sesame = pbkdf2.get("pbkdf2/sesame")
    if sesame:
        iterations = sesame.get("iterations", "?")
        sha = {True: "with", False: "without"}.get(sesame.get("cpu_sha_extensions"), "unknown whether with")
        print(f"\nPBKDF2-HMAC-SHA256, {iterations} iterations, 32-byte key, median ms per hash ({sha} SHA extensions)\n")
        rows = []
        for key, rec in sorted(pbkdf2.items(), key=lambda kv: kv[1]["median_ns"]):
            rows.append([
                rec.get("label", key),
                f"{rec['median_ns'] / 1e6:.1f}",
                f"{rec['min_ns'] / 1e6:.1f}" if "min_ns" in rec else "",
                f"{sesame['median_ns'] / rec['median_ns']:.3f}",
            ])
        print(table(["implementation", "median ms", "min ms", "Sesame / this"], rows, md, ["<", ">", ">", ">"]))
        others = {k: v for k, v in pbkdf2.items() if k != "pbkdf2/sesame"}
        if others:
            best_key, best = min(others.items(), key=lambda kv: kv[1]["median_ns"])
            ratio = sesame["median_ns"] / best["median_ns"]
            verdict = "met" if ratio <= GOAL else "NOT met"
            print(f"\nSesame / fastest other ({best_key[len('pbkdf2/'):]}): {ratio:.3f} (goal <= {GOAL}: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
