#!/usr/bin/env bash
# Builds and runs otelsink with its embedded default pipeline (or pass arguments, e.g. `serve --config my.yaml`).
# Installs the C headers it builds against (SQLite, zlib, zstd) with apt when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
[ -f /usr/include/sqlite3.h ] || missing+=(libsqlite3-dev)
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
[ -f /usr/include/zstd.h ] || missing+=(libzstd-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >&2
fi
bash scripts/build-release.sh >&2
exec "$(swift build -c release --show-bin-path)/otelsink" "$@"
