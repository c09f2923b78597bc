#!/usr/bin/env bash
# Prometheus path benchmark (in process, release build): metrics ingest CPU per data point (OTLP protobuf decode +
# prometheus exporter, otelcol Metric10kDPS-shaped requests; warm, and with the CPU caches evicted between requests
# as a server idle between requests finds them), /metrics render CPU with 100k series and the longest
# ingest call while renders run, and spanmetrics CPU per span. Prints one JSON line per scenario.
#
#   bench/run-prometheus.sh
#   OTELSINK_BENCH_NO_BUILD=1 bench/run-prometheus.sh   # reuse the existing release binary
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=.build-release
BIN=$SCRATCH/release/otelsink-prometheus-bench
if [ "${OTELSINK_BENCH_NO_BUILD:-0}" != 1 ]; then
    bash bench/build.sh otelsink-prometheus-bench
fi
"$BIN" ingest --iterations 20000
"$BIN" ingest --iterations 800 --cold
"$BIN" render --series 100000 --iterations 20
"$BIN" spanmetrics --iterations 5000
