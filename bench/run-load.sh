#!/usr/bin/env bash
# bench/run-load.sh — the load test of an authenticated GET /api/whoami, side by side.
#
# Builds in release, before anything is timed: the real `sesame` binary (sesame-cli) and the
# `load`, `axum_login_app` and `floor` binaries of sesame-bench (feature `compare`). Then waits
# until no cargo/rustc is running (up to SESAME_LOAD_WAIT seconds, default 600; the figures
# are still taken after that, and the report says NOISY), and runs `load` pinned to CPU 0,
# which starts each server pinned to CPU 1:
#   1. Sesame (`sesame serve`), axum + tower-sessions + axum-login, and the floor (a bare axum
#      handler doing one indexed read), one after the other on the same SQLite database;
#   2. Sesame again with a steady stream of 1,000,000-iteration PBKDF2 logins beside the load.
# The Markdown report is printed and kept in <target>/sesame-bench/load/report.md; the servers'
# stderr and the database stay in <target>/sesame-bench/load/work/.
#
# Environment:
#   SESAME_LOAD_ARGS     extra arguments for `load`, e.g. "--duration 30 --connections 64"
#                        (see the header of bench/src/bin/load.rs)
#   SESAME_LOAD_QUICK=1  a smoke test of the pipeline (1 s warm-up, 3 s runs; not figures)
#   SESAME_LOAD_WAIT     seconds to wait for a quiet machine (default 600; 0 = do not wait)
#   SESAME_LOAD_CLIENT_CPU / SESAME_LOAD_SERVER_CPU   the CPUs (default 0 and 1)
set -euo pipefail

log() { printf '\n[run-load] %s\n' "$*" >&2; }

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd)"
cd "$REPO_ROOT"

log "building in release: sesame-cli, then sesame-bench --features compare --bins"
cargo build --release -p sesame-cli
cargo build --release -p sesame-bench --features compare --bins

TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/release"
OUT="$TARGET_DIR/sesame-bench/load"
mkdir -p "$OUT"

args=(--sesame "$BIN/sesame" --axum-login "$BIN/axum_login_app" --floor "$BIN/floor"
      --work-dir "$OUT/work")
if [[ "${SESAME_LOAD_QUICK:-0}" == 1 ]]; then
    args+=(--warmup 1 --duration 3 --login-rounds 2 --login-duration 2 --filler-sessions 1000 --filler-users 100)
fi
client_cpu="${SESAME_LOAD_CLIENT_CPU:-0}"
server_cpu="${SESAME_LOAD_SERVER_CPU:-1}"
pin=()
if command -v taskset >/dev/null 2>&1; then
    pin=(taskset -c "$client_cpu")
    args+=(--server-cpus "$server_cpu")
else
    log "taskset not found: running unpinned"
    args+=(--server-cpus none)
fi
# shellcheck disable=SC2206
args+=(${SESAME_LOAD_ARGS:-})

# Wait for a quiet machine: no other build beside the measurements.
wait_max="${SESAME_LOAD_WAIT:-600}"
waited=0
while pgrep -x 'cargo|rustc|cc1|ld' >/dev/null 2>&1 && (( waited < wait_max )); do
    (( waited == 0 )) && log "another cargo/rustc is running; waiting up to ${wait_max} s for it to finish"
    sleep 5
    waited=$((waited + 5))
done
if pgrep -x 'cargo|rustc|cc1|ld' >/dev/null 2>&1; then
    log "still not quiet after ${waited} s; measuring anyway (the report will say NOISY)"
fi

{
    echo "rustc: $(rustc -V)"
    echo "command: bench/run-load.sh${SESAME_LOAD_ARGS:+ (SESAME_LOAD_ARGS=\"$SESAME_LOAD_ARGS\")}$([[ "${SESAME_LOAD_QUICK:-0}" == 1 ]] && echo ' (SESAME_LOAD_QUICK=1: not figures)')"
    echo "load: ${pin[*]} $BIN/load ${args[*]}"
    echo
} > "$OUT/report.md"
log "running: ${pin[*]} $BIN/load ${args[*]}"
"${pin[@]}" "$BIN/load" "${args[@]}" | tee -a "$OUT/report.md"
log "report kept in $OUT/report.md"
