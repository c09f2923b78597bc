#!/usr/bin/env bash
# Builds otelsink's libFuzzer binary (AddressSanitizer, coverage) in .build-fuzz/ and runs each fuzz target for a
# set time, starting from its committed seed corpus (bench/fuzz/corpus/<target>/). Not part of CI: a run of every
# target for 10 minutes takes an hour of one core.
#
#   scripts/fuzz.sh                      # every target, 600 s each
#   scripts/fuzz.sh 60 http query        # the named targets, 60 s each
#   JOBS=2 scripts/fuzz.sh 600           # two targets at a time
#
# Targets: otlp-protobuf, otlp-json, gzip, http, grpc, prometheus, query, config (bench/fuzz/README.md says what each checks).
# New inputs libFuzzer finds go to bench/fuzz/work/<target>/ (not committed); a crash is written to
# bench/fuzz/findings/<target>/ — minimise it (`OTELSINK_FUZZ_TARGET=<t> <bin> -minimize_crash=1 <file>`), fix the
# bug, and commit the input under bench/fuzz/regressions/<target>/, where `swift test` replays it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-600}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(otlp-protobuf otlp-json gzip http grpc prometheus query config)
jobs=${JOBS:-1}

flags=(--scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING)
swift build "${flags[@]}" --product OtelsinkFuzz >&2
bin="$(swift build "${flags[@]}" --show-bin-path)/OtelsinkFuzz"

run_one() {
    local target=$1
    mkdir -p "bench/fuzz/work/$target" "bench/fuzz/findings/$target" bench/fuzz/logs
    local log="bench/fuzz/logs/$target.log"
    set +e
    OTELSINK_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=0 "$bin" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=262144 -print_final_stats=1 \
        -artifact_prefix="bench/fuzz/findings/$target/" \
        "bench/fuzz/work/$target" "bench/fuzz/corpus/$target" >"$log" 2>&1
    local rc=$?
    set -e
    local runs
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    local findings
    findings=$(find "bench/fuzz/findings/$target" -type f | wc -l)
    printf '%-14s exit %-3s executions %-10s findings %s   (log: %s)\n' "$target" "$rc" "$runs" "$findings" "$log"
}

running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
