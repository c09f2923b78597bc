#!/usr/bin/env bash
# Forwarding benchmark (issue 14): an upstream otelsink (bench/forward-upstream.yaml: OTLP/gRPC in, nop out) in a
# separate process, and the edge under test (bench/forward.yaml: OTLP in, otlp exporter out, in-memory queue, no
# processors), measured by bench/run-ingest.sh: CPU per span and RSS are the edge's. Arguments go to the load
# generator, as for run-ingest.sh.
#
#   bench/run-forward.sh --protocol grpc --rate 0 --concurrency 8 --duration 20s --warmup 3s
#   OTELSINK_BENCH_COMPRESSION=gzip bench/run-forward.sh ...     # the exporter's compression (default none)
#   OTELSINK_BENCH_FORWARD_CONFIG=bench/forward-persistent.yaml bench/run-forward.sh ...   # persistent queue
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${OTELSINK_BENCH_BIN:-}" ] && [ -z "${OTELSINK_BENCH_NO_BUILD:-}" ]; then
    bash bench/build.sh otelsink otelsink-loadgen
fi
BIN=${OTELSINK_BENCH_BIN:-$(swift build -c release --scratch-path .build-release --show-bin-path)}
"$BIN/otelsink" serve --config bench/forward-upstream.yaml 2>/tmp/otelsink-forward-upstream.log &
UPSTREAM=$!
trap 'kill -TERM $UPSTREAM 2>/dev/null || true; wait $UPSTREAM 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/14317) 2>/dev/null && break; sleep 0.1; done
upstream_cpu() { awk '{print $14 + $15}' "/proc/$UPSTREAM/stat"; }
before=$(upstream_cpu)
FORWARD_CONFIG=${OTELSINK_BENCH_FORWARD_CONFIG:-bench/forward.yaml}
if grep -q file_storage "$FORWARD_CONFIG"; then
    export OTELSINK_BENCH_QUEUE_DIR=${OTELSINK_BENCH_QUEUE_DIR:-$(mktemp -d /tmp/otelsink-bench-queue.XXXXXX)}
fi
OTELSINK_BENCH_BIN=$BIN OTELSINK_BENCH_CONFIG=$FORWARD_CONFIG bash bench/run-ingest.sh "$@"
after=$(upstream_cpu)
echo "upstream CPU during the run: $(( (after - before) * 10 )) ms (its own process, not counted above)" >&2
