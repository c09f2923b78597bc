#!/usr/bin/env bash
# Builds release binaries for the benchmarks, all into one directory (.build-release/release):
#   otelsink                  from otelsink's package, as scripts/build-release.sh builds it;
#   otelsink-loadgen, otelsink-pipeline-bench, otelsink-prometheus-bench
#                             from bench/Package.swift (a package of their own, so that building and testing
#                             otelsink does not build them), linked into that directory.
#
#   bench/build.sh otelsink otelsink-loadgen
#
# Environment: OTELSINK_BENCH_SCRATCH   SwiftPM scratch path of otelsink's release build (default .build-release);
#              the benchmark package builds in bench/.build-release.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${OTELSINK_BENCH_SCRATCH:-.build-release}
for product in "$@"; do
    case $product in
        otelsink)
            bash scripts/build-release.sh --scratch-path "$SCRATCH" >&2
            ;;
        otelsink-loadgen | otelsink-pipeline-bench | otelsink-prometheus-bench)
            swift build -c release --package-path bench --scratch-path bench/.build-release --product "$product" >&2
            mkdir -p "$SCRATCH/release"
            ln -sfn "$PWD/bench/.build-release/release/$product" "$SCRATCH/release/$product"
            ;;
        *)
            echo "bench/build.sh: unknown product $product" >&2
            exit 2
            ;;
    esac
done
