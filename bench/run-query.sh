#!/usr/bin/env bash
# Query benchmark: fills a database with the standard query workload (5 services x 10 operations, 10 spans per
# trace; 10M spans = 1M traces by default), then measures the query API's latency while ingest continues at a
# fixed rate, and the ingest throughput with and without the queries.
#
#   bench/run-query.sh                   # fill to 10M spans (reusing OTELSINK_BENCH_DB if it has them), measure
#
# Environment:
#   OTELSINK_BENCH_DB        database path (default: bench/results/query.db; kept, so a second run skips the fill)
#   OTELSINK_BENCH_SPANS     spans to store before measuring (default 10000000)
#   OTELSINK_BENCH_RATE      ingest rate during the measurement, spans/s (default 20000)
#   OTELSINK_BENCH_SECONDS   length of each measured window (default 60)
#   OTELSINK_BENCH_NO_BUILD=1  use the existing release binaries in .build-release
#   OTELSINK_BENCH_BIN       directory holding otelsink and otelsink-loadgen (default: the release bin path;
#                            implies no build)
# Everything runs on 127.0.0.1 and stops by itself (each load-generator run has a hard limit).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
mkdir -p bench/results
export OTELSINK_BENCH_DB=${OTELSINK_BENCH_DB:-$ROOT/bench/results/query.db}
TARGET=${OTELSINK_BENCH_SPANS:-10000000}
RATE=${OTELSINK_BENCH_RATE:-20000}
SECONDS_WINDOW=${OTELSINK_BENCH_SECONDS:-60}
BIN=${OTELSINK_BENCH_BIN:-$ROOT/.build-release/release}
[ -z "${OTELSINK_BENCH_BIN:-}" ] || export OTELSINK_BENCH_NO_BUILD=1
LOG=bench/results/query-server.log
SERVER_PID=

log() { printf 'run-query: %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "${OTELSINK_BENCH_NO_BUILD:-0}" != 1 ]; then
    bash bench/build.sh otelsink otelsink-loadgen
fi

start_server() {
    "$BIN/otelsink" serve --config bench/query.yaml >"$LOG" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        if port_open 4317 && port_open 16686; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
        sleep 0.1
    done
    log "server did not listen within 30 s"; exit 1
}

stored() { "$BIN/otelsink" stats --db "$OTELSINK_BENCH_DB" --spans 2>/dev/null || echo 0; }

loadgen() {  # loadgen ARGS... (hard limit: the window plus 2 minutes)
    local secs=$1; shift
    timeout $((secs + 120)) "$BIN/otelsink-loadgen" --endpoint 127.0.0.1:4317 --protocol grpc --services 5 \
        --concurrency 8 --duration "${secs}s" --server-pid "$SERVER_PID" "$@"
}

start_server
have=$(stored)
log "database $OTELSINK_BENCH_DB holds $have spans; target $TARGET"
while [ "$have" -lt "$TARGET" ]; do
    need=$(( (TARGET - have) / 40000 + 5 ))
    [ "$need" -gt 120 ] && need=120
    log "filling: about ${need}s flat out"
    loadgen "$need" --rate 0 --warmup 0s >/dev/null
    have=$(stored)
    log "stored: $have"
done

log "ingest alone at $RATE spans/s for ${SECONDS_WINDOW}s"
loadgen "$SECONDS_WINDOW" --rate "$RATE" --warmup 3s --json > bench/results/query-ingest-alone.json
log "ingest at $RATE spans/s with queries for ${SECONDS_WINDOW}s"
loadgen "$((SECONDS_WINDOW + 5))" --rate "$RATE" --warmup 3s --json > bench/results/query-ingest-with-queries.json &
LG=$!
sleep 5
python3 bench/query_latency.py --duration "$SECONDS_WINDOW" | tee bench/results/query-latency.txt
wait "$LG"
python3 - <<'PY'
import json
a = json.load(open("bench/results/query-ingest-alone.json"))
b = json.load(open("bench/results/query-ingest-with-queries.json"))
def show(name, r):
    keep = {k: v for k, v in r.items() if any(w in k for w in ("acknowledged", "latency", "cpu", "refused", "failed", "unsent"))}
    print(f"{name}: {json.dumps(keep)}")
show("ingest alone       ", a)
show("ingest with queries", b)
PY
log "stored after the run: $(stored)"
