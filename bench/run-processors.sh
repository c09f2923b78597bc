#!/usr/bin/env bash
# Processor cost benchmark: builds otelsink-pipeline-bench (release) and feeds the standard workload in process
# through each config in bench/pipelines/, then prints CPU per span net of the baseline (same feeders, a pipeline
# with no processors and the `nop` exporter), throughput, export latency and peak RSS.
#
#   bench/run-processors.sh                 # every scenario
#   bench/run-processors.sh attributes batch # only these (baseline always runs)
#
# Environment:
#   OTELSINK_BENCH_SECONDS   seconds measured per flat-out scenario (default 8)
#   OTELSINK_BENCH_NO_BUILD=1 use the existing release binary
#   OTELSINK_BENCH_SCRATCH   SwiftPM scratch path of the release build (default .build-release)
# Raw JSON lines are saved under bench/results/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${OTELSINK_BENCH_SECONDS:-8}
SCRATCH=${OTELSINK_BENCH_SCRATCH:-.build-release}
BIN=$SCRATCH/release/otelsink-pipeline-bench
if [ "${OTELSINK_BENCH_NO_BUILD:-0}" != 1 ]; then
    OTELSINK_BENCH_SCRATCH=$SCRATCH bash bench/build.sh otelsink-pipeline-bench
fi
mkdir -p bench/results
OUT=bench/results/processors-$(date +%Y%m%d-%H%M%S).jsonl
WORK=$(mktemp -d "${TMPDIR:-/tmp}/otelsink-procbench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

run() { # label config extra-args...
    local label=$1 config=$2; shift 2
    OTELSINK_BENCH_DB=$WORK/$label/traces.db "$BIN" --config "bench/pipelines/$config.yaml" --label "$label" "$@" | tee -a "$OUT"
}

wanted() { [ $# -eq 0 ] && return 0; for w in "${SELECTED[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }
SELECTED=("$@")

# Stateless processors: pre-generated requests (generation would otherwise dominate the measured CPU), one feeder.
# Each send decodes a fresh copy (--decode-each), so the processor owns the request as it does behind a receiver
# and edits it in place; the baseline decodes the same way, so the decode is subtracted.
POOL=(--pregenerate 512 --concurrency 1 --decode-each)
run baseline baseline --seconds "$SECONDS_PER" "${POOL[@]}"
for scenario in memory_limiter attributes attributes_hash resource filter transform routing probabilistic_sampler; do
    if [ ${#SELECTED[@]} -eq 0 ] || wanted "$scenario"; then run "$scenario" "$scenario" --seconds "$SECONDS_PER" "${POOL[@]}"; fi
done
# Scenarios that remember traces or store them need fresh IDs: requests are generated as they are sent, and the
# baseline at the same rate is subtracted.
# batch waits for full batches or its timeout, so it needs many concurrent callers to fill them.
if [ ${#SELECTED[@]} -eq 0 ] || wanted batch; then
    run batch batch --seconds "$SECONDS_PER" --concurrency 128 --pregenerate 512
    run batch-10k-rate batch --seconds "$SECONDS_PER" --concurrency 16 --rate 10000 --pregenerate 512
    run baseline-10k-rate baseline --seconds "$SECONDS_PER" --concurrency 16 --rate 10000 --pregenerate 512
fi
if [ ${#SELECTED[@]} -eq 0 ] || wanted tail_sampling; then
    run tail_sampling-50k tail_sampling --seconds 20 --concurrency 8 --rate 50000
    run baseline-50k baseline --seconds 20 --concurrency 8 --rate 50000
fi
# servicegraph pairs spans by trace ID, so requests need fresh IDs, at a fixed rate like tail_sampling; once fed
# decoded requests (what a pipeline with processors before it gets), once in wire form (what the OTLP receiver hands
# a pipeline of exporters and connectors), each net of a baseline fed the same way whose pipeline fans out to two
# `nop` exporters (a connector always sits beside an exporter: the fan-out is not the connector's cost).
if [ ${#SELECTED[@]} -eq 0 ] || wanted servicegraph; then
    run servicegraph-50k servicegraph --seconds 20 --concurrency 8 --rate 50000
    run servicegraph_default-50k servicegraph_default --seconds 20 --concurrency 8 --rate 50000
    run baseline-50k baseline --seconds 20 --concurrency 8 --rate 50000
    run baseline_fanout-50k baseline_fanout --seconds 20 --concurrency 8 --rate 50000
    run servicegraph-encoded-50k servicegraph --seconds 20 --concurrency 8 --rate 50000 --encoded
    run baseline_fanout-encoded-50k baseline_fanout --seconds 20 --concurrency 8 --rate 50000 --encoded
fi
if [ ${#SELECTED[@]} -eq 0 ] || wanted chain; then
    run chain chain --seconds "$SECONDS_PER" --concurrency 128 --pregenerate 512
    run baseline-flat baseline --seconds "$SECONDS_PER" --concurrency 16
    run sqlite sqlite --seconds "$SECONDS_PER" --concurrency 16
    run chain_sqlite chain_sqlite --seconds "$SECONDS_PER" --concurrency 128
fi

python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
base = {r["label"]: r for r in rows}
def baseline_for(r):
    if r["label"].startswith("servicegraph") and "encoded" in r["label"]: return base.get("baseline_fanout-encoded-50k", base["baseline"])
    if r["label"].startswith("servicegraph"): return base.get("baseline_fanout-50k", base["baseline"])
    if r["offered_rate"] == 50000: return base.get("baseline-50k", base["baseline"])
    if r["offered_rate"] == 10000: return base.get("baseline-10k-rate", base["baseline"])
    if r["label"] in ("sqlite", "chain_sqlite"): return base.get("baseline-flat", base["baseline"])
    return base["baseline"]
print()
print("| scenario | spans/s | CPU ns/span | net of baseline | p50 ms | p99 ms | peak RSS MiB |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    b = baseline_for(r)
    net = r["cpu_ns_per_span"] - b["cpu_ns_per_span"] if not r["label"].startswith("baseline") else 0
    print(f'| {r["label"]} | {r["spans_per_second"]} | {r["cpu_ns_per_span"]} | {net} | {r["latency_p50_ms"]} | {r["latency_p99_ms"]} | {r["peak_rss_mib"]} |')
PY
echo "raw results: $OUT" >&2
