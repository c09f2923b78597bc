#!/usr/bin/env bash
# Regenerates scripts/hot-functions.txt, the order in which scripts/build-release.sh places functions: perf
# profiles of the release otelsink under the benchmarks' steady workloads (spans over gRPC and OTLP/HTTP into
# SQLite, metrics into the prometheus exporter at 10,000 points/s and flat out), ranked by each function's
# largest share of otelsink's samples in any of them. Startup code (the main thread) is left out.
#
# Needs perf (Debian: linux-perf, installed when missing) and the Python packages of Tests/interop (the .venv
# scripts/test.sh makes, or PYTHON=...). Loopback only; about three minutes. Review the diff, rebuild with
# bench/build.sh otelsink and measure (docs/performance.md, "Code laid out by use") before committing it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >&2; }
PYTHON=${PYTHON:-.venv/bin/python}
bash bench/build.sh otelsink otelsink-loadgen
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

profile() {
    local name=$1
    shift
    echo "profiling $name" >&2
    perf record -q -a -F 2999 -o "$work/$name.data" -- "$@" >"$work/$name.log" 2>&1 || {
        cat "$work/$name.log" >&2
        exit 1
    }
}
export OTELSINK_BENCH_NO_BUILD=1
profile spans-grpc bash bench/run-ingest.sh --protocol grpc --rate 0 --concurrency 8 --duration 10s --warmup 2s
profile spans-http bash bench/run-ingest.sh --protocol http --rate 10000 --concurrency 8 --duration 10s --warmup 2s
profile metrics-grpc "$PYTHON" bench/prometheus_e2e.py --seconds 15
profile metrics-grpc-flat "$PYTHON" bench/prometheus_e2e.py --seconds 5 --rate 0
profile metrics-http-flat "$PYTHON" bench/prometheus_e2e.py --seconds 5 --rate 0 --transport http
python3 scripts/hot-functions.py "$work"/*.data >scripts/hot-functions.txt
echo "scripts/hot-functions.txt: $(wc -l <scripts/hot-functions.txt) functions" >&2
