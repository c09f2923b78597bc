#!/usr/bin/env bash
# Builds the release otelsink (pass more `swift build` arguments, e.g. `--scratch-path DIR`).
#
# Three choices beyond `swift build -c release`, measured in docs/performance.md ("Code laid out by use"):
# - the Swift runtime and standard library are linked into the binary (`--static-swift-stdlib`): calls into them
#   are direct, and their code can be placed next to otelsink's own;
# - every function gets its own section (`-function-sections`) and the linker (lld, shipped with the toolchain)
#   places the functions listed in scripts/hot-functions.txt first, in that order: the code requests run sits
#   in the first ~2 MB of the text instead of being spread over all of its ~30 MB, so a server that wakes for
#   each request touches fewer pages and cache lines. Functions the list names but the build lacks are skipped; the list is
#   regenerated from profiles by scripts/hot-functions.sh;
# - dynamic exclusivity checks are left out of the dependencies too (`-enforce-exclusivity=unchecked`, which
#   Package.swift already sets for otelsink's own release code): swift-nio and swift-nio-http2 ran ~15,000
#   `swift_beginAccess` instructions per metrics request. Debug builds, and so every test run, keep the checks.
set -euo pipefail
cd "$(dirname "$0")/.."
# SwiftPM does not relink when only the list changed: remove a binary older than it.
bin="$(swift build -c release "$@" --show-bin-path)/otelsink"
if [ -f "$bin" ] && [ scripts/hot-functions.txt -nt "$bin" ]; then rm -f "$bin"; fi
exec swift build -c release --product otelsink --static-swift-stdlib \
    -Xswiftc -Xfrontend -Xswiftc -function-sections -Xswiftc -use-ld=lld -Xswiftc -enforce-exclusivity=unchecked \
    -Xlinker "--symbol-ordering-file=$PWD/scripts/hot-functions.txt" -Xlinker --no-warn-symbol-ordering "$@"
