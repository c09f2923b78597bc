#!/usr/bin/env bash
# The one test command, for developers and CI: installs what the tests need, builds, runs the Swift tests, then
# the interop tests (Tests/interop: the built otelsink against the official OpenTelemetry SDK, the Swift one
# (swift-otel, through the client package in Tests/SwiftSDKClient) and raw clients).
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -k bad_input    # extra arguments go to pytest
#
# Needs Swift and Python 3 (Debian); installs missing Debian packages with apt-get (as root, or via sudo) and the
# Python packages pinned in Tests/interop/requirements.txt. Stops at the first failing stage.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1

started=$SECONDS
stage() { printf '\n==== [%4ds] %s ====\n' "$((SECONDS - started))" "$*"; }
trap 'rc=$?; if [ $rc -ne 0 ]; then printf "\n==== FAILED (exit %d) at: %s ====\n" "$rc" "${current:-setup}" >&2; fi' EXIT

# --------------------------------------------------------------------------------------------------------------
current="system packages"
stage "$current"
# sqlite3: the CLI, for looking at stores by hand; libsqlite3-dev, zlib1g-dev and libzstd-dev: linked by the Swift
# build (GRDB, gzip, span body compression); python3-pip / python3-venv: for the interop tests' packages; prometheus: the real server and
# promtool, for the Prometheus endpoint tests (Tests/interop/test_prometheus.py); openssl: certificates for the TLS
# tests (Tests/interop/test_security.py, test_forwarding.py); chromium and chromium-driver: the real browser of the
# CORS test (Tests/interop/test_cors_browser.py) and of the web UI test (Tests/interop/test_web_ui.py).
wanted=(sqlite3 libsqlite3-dev zlib1g-dev libzstd-dev prometheus openssl chromium chromium-driver)
command -v python3 >/dev/null 2>&1 || wanted+=(python3)
python3 -m pip --version >/dev/null 2>&1 || wanted+=(python3-pip)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for pkg in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
else
    echo "not a Debian system: skipping apt (needs ${wanted[*]} or their equivalents)"
fi
apt_install() {
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt_install "${missing[@]}"
else
    echo "already installed: ${wanted[*]}"
fi

# --------------------------------------------------------------------------------------------------------------
current="python packages"
stage "$current"
PYTHON=python3
# A Debian system Python refuses global installs (PEP 668): use a virtualenv in .venv/ there.
if python3 -c 'import os, sys, sysconfig; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)'; then
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || apt_install python3-venv
    [ -x .venv/bin/python ] || python3 -m venv .venv
    PYTHON="$ROOT/.venv/bin/python"
fi
"$PYTHON" -m pip install -q --root-user-action=ignore -r Tests/interop/requirements.txt
"$PYTHON" --version

# --------------------------------------------------------------------------------------------------------------
current="formatting (swift-format, scripts/format.sh --check)"
stage "$current"
bash scripts/format.sh --check

# --------------------------------------------------------------------------------------------------------------
current="swift build"
stage "$current"
swift --version 2>&1 | head -n 1
swift build
BIN_DIR=$(swift build --show-bin-path)
export OTELSINK_BIN="$BIN_DIR/otelsink"
test -x "$OTELSINK_BIN"

# --------------------------------------------------------------------------------------------------------------
current="swift sdk client build (Tests/SwiftSDKClient)"
stage "$current"
# The Swift SDK interop client: its own package (swift-otel and its dependencies), built in its own scratch
# directory (git-ignored) in debug, the quickest to build. Tests/interop/test_swift_sdk.py runs it and fails when
# $SWIFT_SDK_CLIENT_BIN is missing. Cost from a clean state: about 12 CPU-minutes (11 min of wall time on this
# 2-core machine while other builds ran); seconds once built.
client_build=(swift build --package-path Tests/SwiftSDKClient --scratch-path Tests/SwiftSDKClient/.build)
"${client_build[@]}"
export SWIFT_SDK_CLIENT_BIN="$("${client_build[@]}" --show-bin-path)/SwiftSDKClient"
test -x "$SWIFT_SDK_CLIENT_BIN"

# --------------------------------------------------------------------------------------------------------------
current="swift test"
stage "$current"
swift test

# --------------------------------------------------------------------------------------------------------------
current="interop tests (pytest Tests/interop)"
stage "$current"
"$PYTHON" -m pytest -q -p no:cacheprovider Tests/interop "$@"

current=""
stage "all stages passed"
