#!/usr/bin/env bash
# Formats the Swift sources with swift-format (part of the Swift toolchain) and the repository's .swift-format.
#
#   scripts/format.sh          # rewrite every file in place
#   scripts/format.sh --check  # change nothing; fail, naming each place, if a file is not formatted (scripts/test.sh)
#
# Generated code (Sources/*/Generated) is left as the generator wrote it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
files=()
while IFS= read -r -d '' f; do files+=("$f"); done < <(find Sources Tests bench -name '*.swift' -not -path '*/Generated/*' -not -path '*/.build*' -print0 | sort -z)
if [ "${1:-}" = "--check" ]; then
    if ! swift format lint --strict --configuration .swift-format "${files[@]}"; then
        echo "swift-format: the files above are not formatted; run scripts/format.sh and commit the result" >&2
        exit 1
    fi
else
    swift format format -i --configuration .swift-format "${files[@]}"
fi
