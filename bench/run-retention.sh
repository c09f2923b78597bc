#!/usr/bin/env bash
# Export latency while retention drops a large partition: copies a store (one large partition, e.g. 10M spans made
# by bench/run-ingest.sh), serves it once for 3 s without a size limit and with 1-minute partitions (so a second,
# newer partition exists), then serves it with max_size_mib below the file's size while otelsink-loadgen sends
# --rate spans/s: size retention drops the large partition at once. Prints the load generator's latency report and
# whether dropped partitions' tables are still being emptied at the end.
#
#   OTELSINK_BENCH_DB=/tmp/big/traces.db bench/run-ingest.sh --protocol grpc --rate 0 --concurrency 8 --duration 55s --warmup 1s
#   bench/run-retention.sh /tmp/big/traces.db            # 40 s at 20,000 spans/s, max_size_mib 1200
#
# Environment: OTELSINK_BENCH_BIN (directory with otelsink and otelsink-loadgen; default .build-release/release),
#              RETENTION_SECONDS (default 40), RETENTION_RATE (default 20000), RETENTION_MAX_MIB (default 1200),
#              TMPDIR (the copy goes there: it needs the store's size free).
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=${1:?usage: bench/run-retention.sh STORE.db}
BIN=${OTELSINK_BENCH_BIN:-$PWD/.build-release/release}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/otelsink-retention.XXXXXX")
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
cp "$STORE" "$WORK/traces.db"
config() {
    cat <<YAML
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
exporters:
  sqlite:
    path: $WORK/traces.db
    partition: 1m
    max_size_mib: $1
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [sqlite]
YAML
}
serve() {
    config "$1" >"$WORK/c.yaml"
    "$BIN/otelsink" serve --config "$WORK/c.yaml" >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/4317) 2>/dev/null && return 0; sleep 0.1; done
    echo "run-retention: the server did not listen on 4317" >&2
    exit 1
}
stop() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=
}
serve 0
timeout 60 "$BIN/otelsink-loadgen" --protocol grpc --endpoint 127.0.0.1:4317 --rate "${RETENTION_RATE:-20000}" \
    --concurrency 8 --duration 3s --warmup 0s >/dev/null
stop
serve "${RETENTION_MAX_MIB:-1200}"
timeout $(( ${RETENTION_SECONDS:-40} + 120 )) "$BIN/otelsink-loadgen" --protocol grpc --endpoint 127.0.0.1:4317 \
    --rate "${RETENTION_RATE:-20000}" --concurrency 8 --duration "${RETENTION_SECONDS:-40}s" --warmup 0s --server-pid "$SERVER_PID"
echo "run-retention: tables of dropped partitions still being emptied: $(sqlite3 "$WORK/traces.db" \
    "SELECT count(*) FROM sqlite_master WHERE name LIKE 'retired%'")"
stop
grep -h "retention removed" "$WORK/server.log" || echo "run-retention: retention dropped nothing (is max_size_mib below the store's size?)"
