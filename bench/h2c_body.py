#!/usr/bin/env python3
"""A large OTLP/HTTP body over cleartext HTTP/2 against the same body over HTTP/1.1 (issue 19): how long curl takes
to send a ~15 MB protobuf ExportTraceServiceRequest and get its answer, each protocol --runs times, alternating,
on a fresh connection each time. Prints median and range per protocol and the ratio of the medians (JSON with
--json).

Starts the given otelsink binary on 127.0.0.1 with an ephemeral port and the `nop` exporter (so the figure is the
transport and the decoding, not the store). Needs curl with HTTP/2 (Debian's has it) and the opentelemetry-proto
package (scripts/test.sh installs it). Stops by itself.

    bash bench/build.sh otelsink
    .venv/bin/python bench/h2c_body.py --bin .build-release/release/otelsink --runs 10
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_server

def body(target_bytes: int) -> bytes:
    """An export request of about `target_bytes`: spans of 10 string attributes each, in requests' usual shape."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="h2c-bench")))
    spans = rs.scope_spans.add().spans
    t0 = time.time_ns()
    n = 0
    while True:
        span = Span(trace_id=os.urandom(16), span_id=os.urandom(8), name=f"GET /items/{n % 100}", kind=2,
                    start_time_unix_nano=t0 + n * 1000, end_time_unix_nano=t0 + n * 1000 + 5_000_000)
        for k in range(10):
            span.attributes.append(KeyValue(key=f"attribute.key.{k}", value=AnyValue(string_value=f"value-{n}-{k}-" + "x" * 24)))
        spans.append(span)
        n += 1
        if n % 1000 == 0 and request.ByteSize() >= target_bytes:
            return request.SerializeToString()


def send(url: str, path: str, protocol: str) -> float:
    flag = "--http2-prior-knowledge" if protocol == "h2c" else "--http1.1"
    out = subprocess.run(
        ["curl", "-sS", flag, "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "--max-time", "120",
         "-H", "Content-Type: application/x-protobuf", "--data-binary", f"@{path}", url],
        capture_output=True, text=True, check=True).stdout.split()
    if out[0] != "200":
        sys.exit(f"{protocol}: HTTP {out[0]}")
    return float(out[1]) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--megabytes", type=float, default=15)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="otelsink-h2c-bench-")
    path = os.path.join(work, "body.pb")
    Path(path).write_bytes(body(int(args.megabytes * 1_000_000)))
    proc, http_addr, _ = bench_server.start(args.bin, work, bench_server.config(None, query=False), query=False)
    url = f"http://{http_addr}/v1/traces"
    try:
        send(url, path, "http1")  # warm-up
        send(url, path, "h2c")
        times = {"http1": [], "h2c": []}
        for _ in range(args.runs):
            for protocol in ("http1", "h2c"):
                times[protocol].append(send(url, path, protocol))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    h1, h2 = bench_server.summary(times["http1"]), bench_server.summary(times["h2c"])
    results = {"body bytes": os.path.getsize(path), "HTTP/1.1 (ms)": h1, "h2c (ms)": h2,
               "h2c / HTTP/1.1 (medians)": round(h2["median"] / h1["median"], 2)}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for k, v in results.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
