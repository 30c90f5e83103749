#!/usr/bin/env bash
# bench/run-core.sh — run Sesame's benches and Django's side by side, then print the ratios.
#
# In one go, one after the other on this machine:
#   1. builds the benches (before any timing starts), then runs their executables:
#   2. benches/core.rs               criterion: signing, session, hashers;
#   3. benches/pbkdf2.rs             PBKDF2 1,000,000 iterations: Sesame, ring, pbkdf2+sha2,
#                                    aws-lc-rs (optional) and Python's hashlib, interleaved;
#   4. bench/python_side.py          Django 5.2's own functions on the same inputs;
#   5. bench/report.py               Sesame / Django, and Sesame / fastest for PBKDF2.
#
# Environment:
#   SESAME_BENCH_AWS_LC=1        also time aws-lc-rs (cargo --features aws-lc; builds AWS-LC)
#   SESAME_BENCH_DJANGO_PYTHON   the interpreter with Django 5.2, argon2-cffi and bcrypt
#                                (default: .venv/django52/bin/python, the venv that
#                                scripts/django-vectors uses; created here if missing)
#   SESAME_PBKDF2_RUNS=7         counted rounds of the PBKDF2 bench
#   SESAME_BENCH_MARKDOWN=1      print the final tables as Markdown
#   SESAME_BENCH_QUICK=1         a smoke test of the whole pipeline (about two minutes): criterion
#                                --quick, one PBKDF2 round, three Python repeats (not figures
#                                to quote)
# Everything is also kept under <target>/sesame-bench/ (logs, criterion's output, JSON lines,
# report.txt), replaced by the next run.
set -euo pipefail

log() { printf '\n[run-core] %s\n' "$*" >&2; }

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd)"
cd "$REPO_ROOT"

features=()
if [[ "${SESAME_BENCH_AWS_LC:-0}" == 1 ]]; then
    features=(--features aws-lc)
fi
criterion_args=(--bench)
python_args=()
if [[ "${SESAME_BENCH_QUICK:-0}" == 1 ]]; then
    criterion_args+=(--quick)
    python_args+=(--quick)
    export SESAME_PBKDF2_RUNS="${SESAME_PBKDF2_RUNS:-1}"
fi

# The Django side's interpreter: the venv of scripts/django-vectors, made the same way if
# missing (without regenerating the vectors as that script also does).
PY="${SESAME_BENCH_DJANGO_PYTHON:-$REPO_ROOT/.venv/django52/bin/python}"
if ! "$PY" -c 'import django, argon2, bcrypt' 2>/dev/null; then
    if [[ -n "${SESAME_BENCH_DJANGO_PYTHON:-}" ]]; then
        log "error: $PY cannot import django, argon2 and bcrypt"
        exit 1
    fi
    VENV="$REPO_ROOT/.venv/django52"
    log "creating $VENV (django==5.2.*, argon2-cffi, bcrypt)"
    [[ -x "$VENV/bin/python" ]] || "${PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'django==5.2.*' argon2-cffi bcrypt
fi

TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
    | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
OUT="$TARGET_DIR/sesame-bench"
mkdir -p "$OUT"
rm -rf "$OUT/criterion" "$OUT/rust.jsonl" "$OUT/python.jsonl" "$OUT/busy" "$OUT/phase" "$OUT/stamp"

# Build first, then run the executables themselves: a `cargo bench` between two benches
# would rebuild whatever changed in the meantime, in the middle of the measurements.
log "building the benches ${features[*]}"
cargo bench -p sesame-bench "${features[@]}" --bench core --bench pbkdf2 --no-run \
    --message-format=json-render-diagnostics \
    >"$OUT/build.jsonl"
bench_exe() {
    "$PY" -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    m = json.loads(line)
    t = m.get("target", {})
    if m.get("reason") == "compiler-artifact" and m.get("executable") and t.get("name") == sys.argv[2] and "bench" in t.get("kind", []):
        print(m["executable"])
' "$OUT/build.jsonl" "$1" | tail -n 1
}
CORE_EXE="$(bench_exe core)"
PBKDF2_EXE="$(bench_exe pbkdf2)"
[[ -x "$CORE_EXE" && -x "$PBKDF2_EXE" ]] || { log "error: bench executables not found"; exit 1; }

# Another build or test run on this 2-CPU machine skews every figure: look for one every two
# seconds while measuring, and say in the report during which phase it was seen.
phase() { echo "$1" >"$OUT/phase"; }
phase core
sampler() {
    while :; do
        local busy=0
        if pgrep -x cargo >/dev/null || pgrep -x rustc >/dev/null; then busy=1; fi
        echo "$(cat "$OUT/phase") $busy" >>"$OUT/busy"
        sleep 2
    done
}
sampler &
SAMPLER_PID=$!
trap 'kill "$SAMPLER_PID" 2>/dev/null || true' EXIT

# Benches run from the package directory, as under `cargo bench`; criterion writes to a
# directory of this run's own.
log "criterion: signing, session, hashers"
(cd "$SCRIPT_DIR" && CRITERION_HOME="$OUT/criterion" "$CORE_EXE" "${criterion_args[@]}") 2>&1 | tee "$OUT/core.log"

log "PBKDF2, 1,000,000 iterations, interleaved"
phase pbkdf2
(cd "$SCRIPT_DIR" && SESAME_BENCH_JSON="$OUT/rust.jsonl" SESAME_BENCH_PYTHON="$PY" "$PBKDF2_EXE" --bench) \
    2>&1 | tee "$OUT/pbkdf2.log"

log "Django 5.2 on the same inputs"
phase django
PYTHONNOUSERSITE=1 PYTHONPATH='' "$PY" "$SCRIPT_DIR/python_side.py" --json "$OUT/python.jsonl" "${python_args[@]}" \
    2>&1 | tee "$OUT/python.log"

kill "$SAMPLER_PID" 2>/dev/null || true
noise="$(awk '{ n[$1]++; b[$1] += $2; busy += $2 } END {
    if (busy == 0) { printf "quiet: no other cargo/rustc seen in %d samples (every 2 s) while measuring", NR; exit }
    printf "NOISY: another cargo/rustc was running while measuring, in"
    split("core pbkdf2 django", order, " ")
    for (i = 1; i <= 3; i++) if (order[i] in n) printf " %s %d/%d samples;", order[i], b[order[i]], n[order[i]]
}' "$OUT/busy" 2>/dev/null || echo "no noise samples")"

log "ratios"
report_args=(--criterion "$OUT/criterion" --rust "$OUT/rust.jsonl" --python "$OUT/python.jsonl")
if [[ "${SESAME_BENCH_MARKDOWN:-0}" == 1 ]]; then
    report_args+=(--markdown)
fi
{
    echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //'), $(rustc --version)"
    echo "$noise"
    echo
    "$PY" "$SCRIPT_DIR/report.py" "${report_args[@]}"
} | tee "$OUT/report.txt"
