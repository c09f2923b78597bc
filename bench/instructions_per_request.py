"""Instructions the server executes per OTLP/gRPC metrics request, counted by callgrind: the requests of
bench/prometheus_e2e.py (105 points each), sent one at a time after a warm-up that creates every series, so
the count is the steady state. Unlike CPU time, the count does not change with the machine's load, so two
builds can be compared in any hour (it does not see cache misses, which the time at 10,000 points/s is mostly
made of; see docs/performance.md).

    python3 bench/instructions_per_request.py --bin .build-release/release/otelsink
    python3 bench/instructions_per_request.py --exporter nop        # the transport and indexing alone
    callgrind_annotate --inclusive=yes <the file it names>          # where the instructions go

Needs valgrind (`apt-get install valgrind`). Valgrind 3.19 cannot read the DWARF 5 debug information Swift
writes, so the script runs a copy of the binary without it (symbols stay). Loopback only; the server is stopped
at the end.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prometheus_e2e import METHOD, config, request  # noqa: E402


def totals(path: str) -> int:
    for line in open(path):
        if line.startswith("totals:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=".build-release/release/otelsink")
    ap.add_argument("--exporter", choices=["prometheus", "nop"], default="prometheus")
    ap.add_argument("--warmup", type=int, default=400, help="requests before counting (all 200 bodies twice)")
    ap.add_argument("--requests", type=int, default=200, help="requests counted")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="otelsink-instructions-"))
    binary = work / "otelsink"
    subprocess.run(["objcopy", "--strip-debug", args.bin, str(binary)], check=True)
    (work / "c.yaml").write_text(config("grpc", args.exporter))
    log = open(work / "log", "wb")
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={work}/callgrind.out.%p",
         str(binary), "serve", "--config", str(work / "c.yaml")], stdout=log, stderr=subprocess.STDOUT)
    try:
        address = None
        for _ in range(1200):
            m = re.search(r"address=(\S+) \S+ protocol=grpc\b", (work / "log").read_text())
            if m:
                address = m.group(1)
                break
            time.sleep(0.1)
        assert address, (work / "log").read_text()
        bodies = [request(i) for i in range(200)]
        with grpc.insecure_channel(address) as channel:
            call = channel.unary_unary(METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b)
            for i in range(args.warmup):
                call(bodies[i % len(bodies)], timeout=60)
            time.sleep(2)  # the exporter's pass of the warm-up requests
            subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
            for i in range(args.requests):
                call(bodies[(args.warmup + i) % len(bodies)], timeout=60)
                time.sleep(0.005)
            time.sleep(2.5)  # the exporter's pass of the counted requests (a second after the first arrived)
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    dump = max(glob.glob(f"{work}/callgrind.out.*"), key=totals)
    count = totals(dump)
    print({"requests": args.requests, "instructions": count, "instructions_per_request": count // args.requests,
           "instructions_per_point": round(count / args.requests / 105), "callgrind_file": dump})


if __name__ == "__main__":
    main()
