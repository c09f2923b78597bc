"""Ranks the functions of otelsink by their largest share of its samples in any of the given perf profiles
(scripts/hot-functions.sh records them) and prints their linker symbol names, hottest first."""

from __future__ import annotations

import re
import subprocess
import sys

# "  12.34%  NIO-SGLTN-1-#0  otelsink  [.] $s4OTLP..." (comm, shared object, symbol; names not demangled)
LINE = re.compile(r"^\s*([0-9.]+)%\s+(.+?)\s+(\S+)\s+\[\.\]\s+(\S+)\s*$")


def shares(profile: str) -> dict[str, float]:
    report = subprocess.run(
        ["perf", "report", "-i", profile, "--no-demangle", "--no-children", "--sort", "comm,dso,sym",
         "--stdio", "-g", "none"],
        check=True, capture_output=True, text=True).stdout
    counts: dict[str, float] = {}
    for line in report.splitlines():
        m = LINE.match(line)
        # otelsink's own code, not the main thread's (startup), and no unnamed addresses.
        if not m or m.group(3) != "otelsink" or m.group(2) == "otelsink" or m.group(4).startswith("0x"):
            continue
        counts[m.group(4)] = counts.get(m.group(4), 0) + float(m.group(1))
    total = sum(counts.values()) or 1
    return {symbol: share / total for symbol, share in counts.items()}


def main() -> None:
    best: dict[str, float] = {}
    for profile in sys.argv[1:]:
        for symbol, share in shares(profile).items():
            best[symbol] = max(best.get(symbol, 0), share)
    for symbol, _ in sorted(best.items(), key=lambda kv: (-kv[1], kv[0])):
        print(symbol)


if __name__ == "__main__":
    main()
