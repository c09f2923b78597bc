#!/usr/bin/env bash
# Ingest benchmark: builds release, starts `otelsink serve --config bench/ingest.yaml`, waits for its OTLP
# ports, runs otelsink-loadgen against it (arguments passed through), stops the server with SIGTERM and
# prints the results. The load generator always gets --server-pid (CPU per span, RSS) and
# --count-command (spans stored, via `otelsink stats --spans`).
#
#   bench/run-ingest.sh [otelsink-loadgen options...]
#   bench/run-ingest.sh --protocol grpc --rate 0 --concurrency 8 --duration 30s --warmup 3s
#   bench/run-ingest.sh --protocol http --rate 0 --concurrency 8 --duration 30s --json
#
# Environment:
#   OTELSINK_BENCH_DB         SQLite path for the server (default: traces.db in a fresh temp dir)
#   OTELSINK_BENCH_NO_BUILD=1 use the existing release binaries
#   OTELSINK_BENCH_BIN        directory holding otelsink and otelsink-loadgen (default: the release bin path;
#                             implies no build)
#   OTELSINK_BENCH_TIMEOUT    hard limit for the load generator, seconds (default 900)
#   OTELSINK_BENCH_KEEP=1     keep the temp dir (database, server log, raw results)
#   OTELSINK_BENCH_COMPRESSION  `none` stores span bodies uncompressed (bench/ingest.yaml; default zstd)
#   OTELSINK_BENCH_CONFIG     server config (default bench/ingest.yaml; bench/ingest-nop.yaml measures the
#                             receivers alone: spans are dropped by a nop exporter, so "spans stored" is 0)
# Results are also saved under bench/results/ (ignored by git).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
GRPC_PORT=4317
HTTP_PORT=4318
LOADGEN_TIMEOUT=${OTELSINK_BENCH_TIMEOUT:-900}
BUILD_TIMEOUT=3600

log() { printf 'run-ingest: %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/otelsink-bench.XXXXXX")
export OTELSINK_BENCH_DB=${OTELSINK_BENCH_DB:-$WORKDIR/traces.db}
mkdir -p "$(dirname "$OTELSINK_BENCH_DB")"
SERVER_PID=
SERVER_STATUS=
LOADGEN_PID=

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 150); do   # 15 s for a graceful shutdown (flush to SQLite)
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            log "server did not stop within 15 s of SIGTERM; sending SIGKILL"
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
    fi
    SERVER_STATUS=0
    wait "$SERVER_PID" 2>/dev/null || SERVER_STATUS=$?
    SERVER_PID=
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$LOADGEN_PID" ] && kill -0 "$LOADGEN_PID" 2>/dev/null; then
        kill -TERM "$LOADGEN_PID" 2>/dev/null || true
        wait "$LOADGEN_PID" 2>/dev/null || true
    fi
    stop_server
    if [ "$rc" -ne 0 ] && [ -s "$WORKDIR/server.log" ]; then
        log "server log (last 20 lines):"
        tail -n 20 "$WORKDIR/server.log" >&2 || true
    fi
    if [ "${OTELSINK_BENCH_KEEP:-0}" = 1 ]; then
        log "kept $WORKDIR"
    else
        rm -rf "$WORKDIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${OTELSINK_BENCH_BIN:-}" ]; then
    BIN=$OTELSINK_BENCH_BIN
else
    if [ "${OTELSINK_BENCH_NO_BUILD:-0}" != 1 ]; then
        log "building release binaries"
        timeout "$BUILD_TIMEOUT" bash bench/build.sh otelsink otelsink-loadgen
    fi
    BIN=$(swift build -c release --scratch-path .build-release --show-bin-path)
fi
for b in otelsink otelsink-loadgen; do
    [ -x "$BIN/$b" ] || { log "missing $BIN/$b (build it, or unset OTELSINK_BENCH_NO_BUILD)"; exit 1; }
done

for port in "$GRPC_PORT" "$HTTP_PORT"; do
    if port_open "$port"; then
        log "port $port is already in use: stop whatever listens there first"
        exit 1
    fi
done

log "starting otelsink (database $OTELSINK_BENCH_DB)"
"$BIN/otelsink" serve --config "${OTELSINK_BENCH_CONFIG:-$ROOT/bench/ingest.yaml}" >"$WORKDIR/server.log" 2>&1 &
SERVER_PID=$!

deadline=$((SECONDS + 60))
until port_open "$GRPC_PORT" && port_open "$HTTP_PORT"; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        log "server exited during startup"
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        log "server did not open ports $GRPC_PORT and $HTTP_PORT within 60 s"
        exit 1
    fi
    sleep 0.1
done
log "server up (pid $SERVER_PID)"

# Spans live in time-partitioned tables; `otelsink stats --spans` sums them (read-only, safe while serving).
# With `--signal logs` among the load generator's arguments, log records are counted instead.
COUNT_FLAG=--spans
for arg in "$@"; do [ "$arg" = logs ] && COUNT_FLAG=--log-records; done
count_stored() {
    "$BIN/otelsink" stats --db "$OTELSINK_BENCH_DB" "$COUNT_FLAG" 2>/dev/null | tail -n 1
}
COUNT_ARGS=()
COUNT_BEFORE=
if COUNT_BEFORE=$(count_stored) && [[ "$COUNT_BEFORE" =~ ^[0-9]+$ ]]; then
    COUNT_ARGS=(--count-command "$(printf '%q' "$BIN/otelsink") stats --db $(printf '%q' "$OTELSINK_BENCH_DB") $COUNT_FLAG")
else
    log "counting stored spans failed on $OTELSINK_BENCH_DB: spans stored not reported"
    COUNT_BEFORE=
fi

# Beside the load generator: the largest the WAL file gets, and the bytes the server has written to storage
# (/proc/PID/io write_bytes: WAL frames, checkpoints, everything), sampled every 50 ms until the server exits.
(
    largest=0
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        size=$(stat -c %s "$OTELSINK_BENCH_DB-wal" 2>/dev/null || echo 0)
        [ "$size" -gt "$largest" ] && largest=$size && echo "$largest" >"$WORKDIR/wal-largest"
        written=$(awk '/^write_bytes/ {print $2}' "/proc/$SERVER_PID/io" 2>/dev/null) && [ -n "$written" ] && echo "$written" >"$WORKDIR/written"
        sleep 0.05
    done
) &
SAMPLER_PID=$!

set +e
timeout --signal=INT --kill-after=10 "$LOADGEN_TIMEOUT" \
    "$BIN/otelsink-loadgen" --server-pid "$SERVER_PID" "${COUNT_ARGS[@]}" "$@" >"$WORKDIR/result.out" &
LOADGEN_PID=$!
wait "$LOADGEN_PID"
LOADGEN_STATUS=$?
LOADGEN_PID=
set -e

log "stopping server (SIGTERM)"
stop_start=$SECONDS
stop_server
log "server stopped in $((SECONDS - stop_start)) s, exit status $SERVER_STATUS"
wait "$SAMPLER_PID" 2>/dev/null || true

mkdir -p "$ROOT/bench/results"
ext=txt
for a in "$@"; do [ "$a" = --json ] && ext=json; done
result_file="$ROOT/bench/results/ingest-$(date +%Y%m%d-%H%M%S).$ext"
cp "$WORKDIR/result.out" "$result_file"

cat "$WORKDIR/result.out"
wal_largest=$(cat "$WORKDIR/wal-largest" 2>/dev/null || echo 0)
written=$(cat "$WORKDIR/written" 2>/dev/null || echo 0)
db_bytes=$(stat -c %s "$OTELSINK_BENCH_DB" 2>/dev/null || echo 0)
wal_after=$(stat -c %s "$OTELSINK_BENCH_DB-wal" 2>/dev/null || echo 0)
log "largest WAL file during the run: $wal_largest bytes ($((wal_largest >> 20)) MiB); after shutdown: database file $db_bytes bytes, WAL file $wal_after bytes"
if [ -n "$COUNT_BEFORE" ]; then
    if after=$(count_stored) && [[ "$after" =~ ^[0-9]+$ ]]; then
        stored=$((after - COUNT_BEFORE))
        log "spans in the database after shutdown: $stored more than before the run"
        if [ "$stored" -gt 0 ]; then
            log "per stored span: $((written / stored)) bytes written by the server (last sample of /proc/PID/io), $((db_bytes / after)) bytes of database file"
        fi
    fi
fi
log "results saved to ${result_file#"$ROOT"/}"
if [ "$LOADGEN_STATUS" -ne 0 ]; then
    log "load generator exited with status $LOADGEN_STATUS"
fi
exit "$LOADGEN_STATUS"
